"""The detection task adapter: data, batches, scoring against hand-made cases, evaluation files,
the printed tables, bad recipes. (Training, resuming and NaN stops: test_engine.py, every task.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.training.conftest import FIXTURES, tiny_recipe
from training.tasks import make_task, task_class
from training.tasks.detection import (DetectionBatches, detection_scores, format_report,
                                      letterboxed, read_split)


@pytest.fixture
def recipe(mnist_dir, dense_dir):
    return tiny_recipe("detection", mnist_dir, dense_dir)


def test_batches_are_letterboxed_unit_images_with_padded_boxes(recipe):
    task = make_task(recipe)
    task.prepare()
    assert task.class_names == ("RBC", "WBC", "Platelets")
    assert task.builder_args["classes"] == 3 and task.builder_args["input_shape"] == (64, 96, 3)
    x, y = task._train[0]
    assert x.shape == (2, 64, 96, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y["boxes"].shape[:2] == y["labels"].shape and y["boxes"].shape[-1] == 4
    real = y["labels"] >= 0
    assert real.any() and (y["boxes"][~real] == -1).all()
    b = y["boxes"][real]
    assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
    assert (b >= 0).all() and (b[:, 0::2] <= 96).all() and (b[:, 1::2] <= 64).all()


def test_letterboxed_boxes_follow_the_image():
    """BCCD's 640x480 image at 64x96 (wider): padded to 720x480 (40 grey columns each side),
    then scaled by 96 / 720."""
    recipe = tiny_recipe("detection", None, None)
    source = read_split(recipe, "test")
    images, boxes, labels = letterboxed(source, (64, 96))
    first = source.examples[0]["boxes"]
    s = 96 / 720
    np.testing.assert_allclose(boxes[0, :len(first)], (first + [40, 0, 40, 0]) * s, atol=1e-4)
    assert (labels[0, len(first):] == -1).all()
    assert np.allclose(images[0, :, :4], 114, atol=1) and np.allclose(images[0, :, -4:], 114,
                                                                      atol=1)


def test_batches_draw_every_image_once_per_epoch_when_shuffled():
    images = np.arange(5)[:, None, None, None] * np.ones((5, 32, 32, 3), "uint8")
    boxes = np.full((5, 1, 4), -1, "float32")
    labels = np.full((5, 1), -1, "int32")
    batches = DetectionBatches(images, boxes, labels, 2, shuffle=True, steps=5, seed=0)
    seen = np.concatenate([batches[i][0][:, 0, 0, 0] * 255 for i in range(len(batches))])
    assert len(seen) == 10 and sorted(np.rint(seen[:5]).astype(int)) == [0, 1, 2, 3, 4]


def test_scores_are_one_for_perfect_predictions_and_fall_with_misses(recipe):
    source = read_split(recipe, "test")
    perfect = [{"boxes": ex["boxes"], "labels": ex["labels"],
                "scores": np.linspace(1, 0.5, len(ex["boxes"]))} for ex in source.examples]
    found = detection_scores(None, source, predictions=perfect)
    assert found["map50"] == pytest.approx(1.0) and found["coco_AP"] == pytest.approx(1.0)
    assert set(found["ap50"]) == {"RBC", "WBC", "Platelets"}
    # every WBC box shifted by its own width: WBC AP 0, the others still 1
    wbc = source.class_names.index("WBC")
    shifted = []
    for p in perfect:
        boxes = p["boxes"].copy()
        moved = p["labels"] == wbc
        width = boxes[moved, 2] - boxes[moved, 0]
        boxes[moved, 0::2] += width[:, None]
        shifted.append({**p, "boxes": boxes})
    found = detection_scores(None, source, predictions=shifted)
    assert found["ap50"]["WBC"] == 0.0 and found["ap50"]["RBC"] == pytest.approx(1.0)
    assert found["map50"] == pytest.approx(2 / 3)
    text = format_report(found)
    assert "WBC" in text and "0.6667" in text and "AP50" in text


def test_evaluate_writes_metrics_pr_curves_and_box_grid(recipe, tmp_path):
    import zoo

    task = task_class("detection").load(recipe)
    model = zoo.build("retinanet", **task.builder_args)
    report = task.evaluate(model, "test", tmp_path)
    for key in ("metrics", "figure", "precision_recall"):
        assert (tmp_path / report["files"][key].split("/")[-1]).stat().st_size > 0, key
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["split"] == "test" and 0 <= saved["map50"] <= 1 and "coco_AP" in saved
    assert saved["class_names"] == ["RBC", "WBC", "Platelets"]


@pytest.mark.parametrize("change, message", [
    ({"dataset": "coco"}, "bccd' or 'voc:DIR"),
    ({"image_size": (60, 96)}, "multiples of 32"),
    ({"model": "unet"}, "detection task trains"),
    ({"builder_args": {"backbone": "resnet18", "classes": 5}}, "3 classes"),
])
def test_bad_recipes_say_what_is_expected(recipe, change, message):
    with pytest.raises(ValueError, match=message):
        make_task(recipe.replace(**change)).prepare()


def test_a_missing_data_folder_says_where_to_get_bccd(recipe, tmp_path):
    with pytest.raises(FileNotFoundError, match="BCCD"):
        make_task(recipe.replace(data_dir=str(tmp_path))).prepare()


def test_any_voc_folder_trains_with_its_own_classes(recipe):
    task = make_task(recipe.replace(dataset=f"voc:{FIXTURES / 'detection' / 'bccd' / 'BCCD'}"))
    task.prepare()
    assert task.class_names == ("Platelets", "RBC", "WBC")   # sorted, from the train split


def test_a_corrupt_image_is_named_or_skipped(recipe, tmp_path):
    import shutil

    voc = tmp_path / "voc"
    shutil.copytree(FIXTURES / "detection" / "bccd" / "BCCD", voc)
    bad = voc / "JPEGImages" / "BloodImage_00000.jpg"
    bad.write_bytes(bad.read_bytes()[:500])                    # a truncated JPEG
    broken = recipe.replace(dataset=f"voc:{voc}")
    with pytest.raises(ValueError, match="BloodImage_00000.jpg"):
        read_split(broken, "trainval")
    kept = read_split(broken.replace(skip_corrupt=True), "trainval")
    assert len(kept) == 1 and kept.report.corrupt_images == 1
    with pytest.raises(ValueError, match="no readable image left"):
        read_split(broken.replace(skip_corrupt=True), "val")    # val is that image alone
