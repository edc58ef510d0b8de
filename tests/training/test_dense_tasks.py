"""training.dense end to end on tiny real-format fixtures: U-Net on membrane PNG pairs, the
Eigen net's two stages on generated scenes, evaluation on 16-bit PGM depth frames."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import keras
from training import dense
from training.recipes import load_recipe

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def data_dir(tmp_path):
    """The fixtures laid out as ../shared/datasets lays out the real data."""
    root = tmp_path / "datasets"
    (root / "isbi2012_membrane" / "data").mkdir(parents=True)
    os.symlink(FIXTURES / "membrane", root / "isbi2012_membrane" / "data" / "membrane")
    (root / "rgbd_nyu5" / "ch5").mkdir(parents=True)
    os.symlink(FIXTURES / "rgbd", root / "rgbd_nyu5" / "ch5" / "rgbd")
    return root


def test_contiguous_split_keeps_file_order():
    parts = dense.contiguous_split(30, 0.1, 0.2)
    assert parts == {"train": slice(0, 21), "val": slice(21, 24), "test": slice(24, 30)}
    with pytest.raises(ValueError, match="No training images"):
        dense.contiguous_split(3, 0.5, 0.5)


def test_depth_targets_sample_without_blending_missing_pixels():
    depth = np.arange(16, dtype="float32").reshape(1, 4, 4)
    depth[0, 1, 1] = 0  # missing
    out = dense.depth_targets(depth, (2, 2))
    assert out.shape == (1, 2, 2, 1)
    # the centres of the 2x2 cells: rows / cols 1 and 3; the missing 0 at (1, 1) stays 0
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 7], [13, 15]])


def test_unet_recipe_end_to_end(data_dir, tmp_path):
    recipe = load_recipe("unet_membrane").replace(
        data_dir=str(data_dir), val_fraction=0.34, test_fraction=0.34, epochs=2,
        steps_per_epoch=2, batch_size=2, builder_args={"filters": 4, "depth": 2,
                                                        "num_classes": 2},
        augment={"flip": "horizontal_and_vertical", "rotate90": True, "elastic": 3.0})
    out = tmp_path / "run"
    summary = dense.train(recipe, out, verbose=0)
    assert (out / "best.weights.h5").exists() and (out / "log.csv").exists()
    test = summary["test"]
    assert test["images"] == 1 and 0 <= test["miou"] <= 1 and 0 <= test["pixel_acc"] <= 1
    assert set(json.loads((out / "summary.json").read_text())["test"]) >= {"miou", "pixel_acc"}
    model = dense.build_segmentation(recipe)
    model.load_weights(out / "best.weights.h5")
    figure = dense.prediction_figure(recipe, model, tmp_path / "grid.png")
    assert figure.stat().st_size > 1000


def test_depth_recipe_two_stages(data_dir, tmp_path):
    recipe = load_recipe("eigen_scenes").replace(
        data_dir=str(data_dir), image_size=(68, 68), limit=16, epochs=1, fine_epochs=1,
        batch_size=8, builder_args={"width": 0.125, "fc_units": 16})
    dense.SCENE_SPLITS.update(val=4, test=4)
    try:
        summary = dense.train(recipe, tmp_path / "run", verbose=0)
    finally:
        dense.SCENE_SPLITS.update(val=200, test=500)
    test = summary["test"]
    for part in ("scenes", "scenes_coarse", "rgbd", "rgbd_mean_baseline"):
        assert test[part]["rmse"] > 0 and 0 <= test[part]["delta1"] <= 1, part
    assert (tmp_path / "run" / "coarse" / "best.weights.h5").exists()
    # stage 2 kept the coarse weights it was given
    model = dense.build_depth(recipe, "both")
    model.load_weights(tmp_path / "run" / "best.weights.h5")
    coarse = dense.build_depth(recipe, "coarse")
    coarse.load_weights(tmp_path / "run" / "coarse" / "best.weights.h5")
    np.testing.assert_allclose(model.get_layer("coarse_fc7").get_weights()[0],
                               coarse.get_layer("coarse_fc7").get_weights()[0])


def test_numpy_batches_match_shapes_for_any_backend():
    x = np.random.default_rng(0).uniform(size=(5, 16, 16, 1)).astype("float32")
    y = (x[..., 0] > 0.5).astype("int32")
    batches = dense.DenseBatches(x, y, 2, augment={"flip": True, "crop": [8, 8]}, steps=3)
    assert len(batches) == 3
    xb, yb = batches[0]
    assert xb.shape == (2, 8, 8, 1) and yb.shape == (2, 8, 8) and yb.dtype == np.int32
    # the joint augmentation kept image and mask aligned
    np.testing.assert_array_equal((xb[..., 0] > 0.5).astype("int32"), yb)


def test_cli_evaluates_shipped_weights_with_overrides(data_dir, tmp_path, capsys):
    weights = Path(__file__).resolve().parents[2] / "zoo" / "weights" / "unet_membrane.weights.h5"
    summary = dense.main(["unet_membrane", "--evaluate", "--weights", str(weights),
                          "--data-dir", str(data_dir), "--set", "val_fraction=0.34",
                          "--set", "test_fraction=0.34", "--figure", str(tmp_path / "g.png")])
    assert summary["test"]["images"] == 1 and 0 <= summary["test"]["miou"] <= 1
    assert '"pixel_acc"' in capsys.readouterr().out and (tmp_path / "g.png").exists()
