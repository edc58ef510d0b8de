"""Readers for real dataset formats, each returning a `LabelledSource` (then tf.data or NumPy).

=============  ===========================================  ==================================
name           format                                       reader
=============  ===========================================  ==================================
``mnist``      IDX ``*-idx3-ubyte.gz`` (LeCun)              `training.data.idx.mnist`
``cifar10``    zip or folder of ``train|test/<class>/*.jpg``  `training.data.folders.image_folder`
``att_faces``  ``sN/M.pgm`` (AT&T / ORL faces)              `training.data.pgm.pgm_faces`
``folder:P``   ``P/<class>/<image>`` or ``P/<split>/<class>/<image>``, folder or zip
                                                            `training.data.folders.folder_splits`
``tfds:NAME``  tensorflow-datasets (internet on first use)  `training.data.tfds_source`
=============  ===========================================  ==================================

`load_source(name, split)` finds the files under ``data_dir`` (or ``$ZOO_DATA_DIR``). Without
either, ``mnist`` and ``cifar10`` load through tensorflow-datasets by name, which downloads
them once on a connected machine (into ``~/tensorflow_datasets``); the other named sets have no
tensorflow-datasets twin, so the error says where to get them (the README lists every source).
"""

from __future__ import annotations

import os
from pathlib import Path

from training.data.detection import (
    BCCD_CLASSES,
    VOC_CLASSES,
    AnnotationError,
    DetectionExample,
    DetectionReport,
    DetectionSource,
    load_image,
    read_coco,
    read_csv_boxes,
    read_tfds_voc,
    read_voc,
)
from training.data.folders import folder_layout, folder_splits, image_folder
from training.data.idx import mnist
from training.data.pgm import pgm_faces, read_pgm
from training.data.sources import CorruptImageError, LabelledSource, validate
from training.data.splits import balanced_dataset, kfold, split

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
DATASETS = ("mnist", "cifar10", "att_faces", "folder:<path>", "tfds:<name>")
# Named sets that tensorflow-datasets also has, with its name for them.
TFDS_NAMES = {"mnist": "mnist", "cifar10": "cifar10"}
WHERE_TO_GET = {
    "mnist": "the four IDX files from https://yann.lecun.com/exdb/mnist/",
    "cifar10": "a zip or folder of train/<class>/*.jpg and test/<class>/*.jpg (e.g. from "
               "https://www.cs.toronto.edu/~kriz/cifar.html, written out as images)",
    "att_faces": "the AT&T / ORL faces (s1/ ... s40/ of PGM files) from "
                 "https://cam-orl.co.uk/facedatabase.html",
}

__all__ = ["BCCD_CLASSES", "VOC_CLASSES", "AnnotationError", "CorruptImageError",
           "DatasetSplits", "DetectionExample", "DetectionReport", "DetectionSource",
           "LabelledSource", "balanced_dataset", "data_root",
           "folder_layout", "folder_splits", "image_folder", "kfold", "load_dataset",
           "load_image", "load_source", "mnist", "pgm_faces", "read_coco", "read_csv_boxes",
           "read_pgm", "read_tfds_voc", "read_voc", "split", "validate"]


def data_root(data_dir: str | os.PathLike | None = None) -> Path | None:
    """Where named datasets live: ``data_dir``, else ``$ZOO_DATA_DIR``, else None."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get("ZOO_DATA_DIR"):
        return Path(os.environ["ZOO_DATA_DIR"])
    return None


def require_data_root(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """`data_root`, or a FileNotFoundError saying how to give it and where to get ``name``."""
    root = data_root(data_dir)
    if root is None:
        where = WHERE_TO_GET.get(name, "the dataset's files (see the README's Datasets table)")
        raise FileNotFoundError(f"{name}: no data folder given. Pass --data-dir DIR (or set "
                                f"ZOO_DATA_DIR) to a folder holding {where}.")
    if not root.exists():
        raise FileNotFoundError(f"{name}: data folder {root} does not exist.")
    return root


def load_source(name: str, split: str = "train", data_dir: str | os.PathLike | None = None, *,
                skip_corrupt: bool = False, test_fraction: float = 0.2,
                seed: int = 0) -> LabelledSource:
    """A named dataset's split (``"train"`` or ``"test"``; ``"val"`` for folders that have
    one) as a `LabelledSource`.

    ``data_dir`` may point at the dataset itself (the folder with MNIST's IDX files, the
    CIFAR-10 zip or folder) or at a root holding ``mnist/``, ``cifar10/``, ``att_faces/``.
    Without ``data_dir`` and ``$ZOO_DATA_DIR``, ``mnist`` and ``cifar10`` come from
    tensorflow-datasets. ``test_fraction`` and ``seed`` cut the test split off a plain
    ``folder:`` tree (see `folder_splits`).

    Raises:
        ValueError: an unknown dataset name (the message lists the known ones).
        FileNotFoundError: the files are not where expected (the message says where it looked
            and where to get them).
    """
    if name.startswith("tfds:"):
        from training.data.tfds_source import tfds_source

        return tfds_source(name.split(":", 1)[1], split,
                           data_dir=str(data_dir) if data_dir else None)
    if name.startswith("folder:"):
        return DatasetSplits(name, skip_corrupt=skip_corrupt, test_fraction=test_fraction,
                             seed=seed)[split]
    if name not in ("mnist", "cifar10", "att_faces"):
        raise ValueError(f"Unknown dataset {name!r}. Known: {', '.join(DATASETS)}.")
    if data_root(data_dir) is None and name in TFDS_NAMES:
        from training.data.tfds_source import tfds_source

        return tfds_source(TFDS_NAMES[name], split)
    root = require_data_root(name, data_dir)
    if name == "mnist":
        folder = root if (root / "train-images-idx3-ubyte.gz").exists() else root / "mnist"
        return mnist(folder, split)
    if name == "cifar10":
        candidates = [root, root / "cifar10_jpg.zip", root / "cifar10" / "cifar10_jpg.zip",
                      root / "cifar10"]
        for c in candidates:
            if c.is_file() or (c.is_dir() and (c / split).is_dir()):
                return image_folder(c, split, class_names=CIFAR10_CLASSES,
                                    skip_corrupt=skip_corrupt)
        raise FileNotFoundError(f"CIFAR-10 not found: looked for cifar10_jpg.zip or a "
                                f"'{split}/<class>/' folder in {[str(c) for c in candidates]}.")
    for c in (root, root / "att_faces", root / "att_faces" / "att_faces"):
        if (c / "s1").is_dir():
            return pgm_faces(c)
    raise FileNotFoundError(f"AT&T faces not found: no s1/ folder under {root}. Get "
                            f"{WHERE_TO_GET['att_faces']}.")


class DatasetSplits:
    """The splits of one dataset, each read once: what a task keeps while it trains and
    evaluates. A ``folder:`` dataset's splits all come from one listing and one decode of
    every image (`folder_splits`); the other names load a split on first use (`load_source`).

    Example:
        >>> splits = DatasetSplits("folder:my_photos", seed=0)       # doctest: +SKIP
        >>> train = splits["train"]; "val" in splits                 # doctest: +SKIP
    """

    def __init__(self, name: str, data_dir: str | os.PathLike | None = None, *,
                 skip_corrupt: bool = False, test_fraction: float = 0.2, seed: int = 0):
        self.name, self.data_dir, self.skip_corrupt = name, data_dir, skip_corrupt
        self.test_fraction, self.seed = test_fraction, seed
        self._loaded: dict[str, LabelledSource] = {}

    def _folder(self) -> dict[str, LabelledSource]:
        if not self._loaded:
            self._loaded = folder_splits(self.name.split(":", 1)[1],
                                         test_fraction=self.test_fraction, seed=self.seed,
                                         skip_corrupt=self.skip_corrupt)
        return self._loaded

    def __contains__(self, split: str) -> bool:
        if self.name.startswith("folder:"):
            return split in self._folder()
        return split in ("train", "test")

    def __getitem__(self, split: str) -> LabelledSource:
        if self.name.startswith("folder:"):
            parts = self._folder()
            if split not in parts:
                raise FileNotFoundError(f"{self.name} has no {split!r} split (it has "
                                        f"{sorted(parts)}); add a {split}/<class>/ folder.")
            return parts[split]
        if split not in self._loaded:
            self._loaded[split] = load_source(self.name, split, self.data_dir,
                                              skip_corrupt=self.skip_corrupt,
                                              test_fraction=self.test_fraction, seed=self.seed)
        return self._loaded[split]


def load_dataset(name: str, split: str = "train", data_dir: str | os.PathLike | None = None, *,
                 skip_corrupt: bool = False):
    """``(tf.data.Dataset of {"image", "label"}, class_names)`` for any name, ``tfds:`` too."""
    if name.startswith("tfds:"):
        from training.data.tfds_source import tfds_dataset

        ds, info = tfds_dataset(name.split(":", 1)[1], split,
                                data_dir=str(data_dir) if data_dir else None)
        return ds, tuple(info.features["label"].names)
    source = load_source(name, split, data_dir, skip_corrupt=skip_corrupt)
    return source.dataset(), source.class_names
