"""Tiny real-format data laid out as users lay out theirs, and one tiny recipe per task."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from training.recipes import Recipe, load_recipe

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "training" / "data" / "samples" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    """The 40 fixture digits as MNIST's train and test files (the test split = the same)."""
    folder = tmp_path_factory.mktemp("mnist")
    for kind in ("images-idx3", "labels-idx1"):
        src = FIXTURES / f"mnist-tiny-{kind}-ubyte.gz"
        shutil.copy(src, folder / f"train-{kind}-ubyte.gz")
        shutil.copy(src, folder / f"t10k-{kind}-ubyte.gz")
    return folder


@pytest.fixture(scope="session")
def dense_dir(tmp_path_factory) -> Path:
    """The membrane and rgbd fixtures in the layout of their public sources."""
    root = tmp_path_factory.mktemp("datasets")
    (root / "isbi2012_membrane" / "data").mkdir(parents=True)
    os.symlink(FIXTURES / "membrane", root / "isbi2012_membrane" / "data" / "membrane")
    (root / "rgbd_nyu5" / "ch5").mkdir(parents=True)
    os.symlink(FIXTURES / "rgbd", root / "rgbd_nyu5" / "ch5" / "rgbd")
    return root


@pytest.fixture
def small_scenes(monkeypatch):
    """Four validation and four test scenes instead of 200 / 500."""
    from training.tasks import dense

    monkeypatch.setitem(dense.SCENE_SPLITS, "val", 4)
    monkeypatch.setitem(dense.SCENE_SPLITS, "test", 4)


def tiny_recipe(task: str, mnist_dir: Path, dense_dir: Path, **changes) -> Recipe:
    """A seconds-long recipe of each task (two epochs; depth and triplet: two phases)."""
    if task == "classification":
        recipe = Recipe(name="tiny_classification", model="lenet5", dataset="mnist",
                        data_dir=str(mnist_dir), image_size=(32, 32), channels=1, fit="pad",
                        optimizer="adam", lr=3e-3, epochs=2, batch_size=8, val_fraction=0.5)
    elif task == "metric":
        recipe = Recipe(name="tiny_triplet", model="facenet", dataset="mnist",
                        data_dir=str(mnist_dir), objective="triplet",
                        loss_args={"margin": 0.2, "mining": "batch_hard"}, pk=(5, 4),
                        mining_warmup=1, image_size=(28, 28), channels=1, fit="none",
                        builder_args={"backbone": "lenetpp", "backbone_args": {"width": 0.25},
                                      "embedding_dim": 8},
                        val_fraction=0.5, batch_size=8, epochs=2, optimizer="adam", lr=1e-3)
    elif task == "segmentation":
        recipe = load_recipe("unet_membrane").replace(
            data_dir=str(dense_dir), val_fraction=0.34, test_fraction=0.34, epochs=2,
            steps_per_epoch=2, batch_size=2, builder_args={"filters": 4, "depth": 2,
                                                            "num_classes": 2},
            augment={"flip": "horizontal_and_vertical", "rotate90": True, "crop": [16, 16]})
    elif task == "depth":
        recipe = load_recipe("eigen_scenes").replace(
            data_dir=str(dense_dir), image_size=(68, 68), limit=16, epochs=1, fine_epochs=1,
            batch_size=8, builder_args={"width": 0.125, "fc_units": 16})
    elif task == "detection":  # the 3 real BCCD fixture images: train, val and test one each
        recipe = load_recipe("retinanet_bccd").replace(
            data_dir=str(FIXTURES / "detection"), image_size=(64, 96), val_fraction=0.5,
            epochs=2, steps_per_epoch=2, batch_size=2, augment={"flip": True, "zoom": 0.1},
            builder_args={"backbone": "resnet18", "fpn_filters": 8, "head_filters": 8,
                          "head_convs": 1, "max_level": 5, "anchor_size": 2.0})
    else:
        raise ValueError(task)
    return recipe.replace(**changes)


TASKS = ("classification", "metric", "segmentation", "depth", "detection")
