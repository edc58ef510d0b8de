"""The segmentation and depth tasks on tiny real-format fixtures: U-Net on membrane PNG pairs,
the Eigen net's two phases on generated scenes, evaluation on 16-bit PGM depth frames."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import tiny_recipe
from training.tasks import dense
from training.tasks.depth import DepthTask
from training.tasks.segmentation import SegmentationTask
from training.train import train

WEIGHTS = Path(__file__).resolve().parents[2] / "zoo" / "weights"


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


def test_unet_recipe_end_to_end(tmp_path, mnist_dir, dense_dir):
    recipe = tiny_recipe("segmentation", mnist_dir, dense_dir).replace(
        augment={"flip": "horizontal_and_vertical", "rotate90": True, "elastic": 3.0})
    out = tmp_path / "run"
    summary = train(recipe, out, verbose=0, tensorboard=False)
    test = summary["test"]
    assert test["images"] == 1 and 0 <= test["miou"] <= 1 and 0 <= test["pixel_acc"] <= 1
    assert set(json.loads((out / "summary.json").read_text())["test"]) >= {"miou", "pixel_acc"}
    assert {"loss", "mean_iou", "pixel_accuracy"} <= set(summary["val"])
    assert (out / "eval" / "test" / "predictions.png").stat().st_size > 1000
    metrics = json.loads((out / "eval" / "test" / "metrics.json").read_text())
    assert metrics["miou"] == test["miou"] and metrics["split"] == "test"


def test_depth_recipe_two_phases(tmp_path, mnist_dir, dense_dir, small_scenes):
    recipe = tiny_recipe("depth", mnist_dir, dense_dir)
    summary = train(recipe, tmp_path / "run", verbose=0, tensorboard=False)
    test = summary["test"]
    for part in ("scenes", "scenes_coarse", "rgbd", "rgbd_mean_baseline"):
        assert test[part]["rmse"] > 0 and 0 <= test[part]["delta1"] <= 1, part
    assert (tmp_path / "run" / "coarse" / "best.weights.h5").exists()
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["coarse", "fine"]
    # phase 2 kept the coarse weights it was given (the coarse stack is frozen in it)
    task = DepthTask.load(recipe)
    model = task.build_stage("both")
    model.load_weights(tmp_path / "run" / "best.weights.h5")
    coarse = task.build_stage("coarse")
    coarse.load_weights(tmp_path / "run" / "coarse" / "best.weights.h5")
    np.testing.assert_allclose(model.get_layer("coarse_fc7").get_weights()[0],
                               coarse.get_layer("coarse_fc7").get_weights()[0])


def test_depth_needs_a_fine_phase(mnist_dir, dense_dir):
    task = DepthTask(tiny_recipe("depth", mnist_dir, dense_dir, fine_epochs=0))
    with pytest.raises(ValueError, match="fine_epochs` must be >= 1"):
        task.prepare()


def test_numpy_batches_match_shapes_for_any_backend():
    x = np.random.default_rng(0).uniform(size=(5, 16, 16, 1)).astype("float32")
    y = (x[..., 0] > 0.5).astype("int32")
    batches = dense.DenseBatches(x, y, 2, augment={"flip": True, "crop": [8, 8]}, steps=3)
    assert len(batches) == 3
    xb, yb = batches[0]
    assert xb.shape == (2, 8, 8, 1) and yb.shape == (2, 8, 8) and yb.dtype == np.int32
    # the joint augmentation kept image and mask aligned
    np.testing.assert_array_equal((xb[..., 0] > 0.5).astype("int32"), yb)


def test_evaluate_cli_on_the_shipped_unet_with_overrides(dense_dir, tmp_path, capsys):
    from training.evaluate import main

    report = main(["--recipe", "unet_membrane", "--weights",
                   str(WEIGHTS / "unet_membrane.weights.h5"), "--data-dir", str(dense_dir),
                   "--set", "val_fraction=0.34", "--set", "test_fraction=0.34",
                   "--out", str(tmp_path / "eval")])
    assert report["images"] == 1 and 0 <= report["miou"] <= 1
    assert '"pixel_acc"' in capsys.readouterr().out
    assert (tmp_path / "eval" / "predictions.png").exists()


def test_dense_data_needs_a_data_folder(mnist_dir, dense_dir, tmp_path):
    recipe = tiny_recipe("segmentation", mnist_dir, dense_dir, data_dir=None)
    with pytest.raises(FileNotFoundError, match="membrane: no data folder given.*--data-dir"):
        SegmentationTask(recipe).prepare()
    with pytest.raises(FileNotFoundError, match="zhixuhao/unet"):
        SegmentationTask(recipe.replace(data_dir=str(tmp_path))).prepare()
