"""Readers for real dataset formats, each returning a `LabelledSource` (then tf.data or NumPy).

=============  ===========================================  ==================================
name           format                                       reader
=============  ===========================================  ==================================
``mnist``      IDX ``*-idx3-ubyte.gz`` (LeCun)              `training.data.idx.mnist`
``cifar10``    zip or folder of ``train|test/<class>/*.jpg``  `training.data.folders.image_folder`
``att_faces``  ``sN/M.pgm`` (AT&T / ORL faces)              `training.data.pgm.pgm_faces`
``folder:P``   any ``P[/split]/<class>/<image>`` tree/zip   `training.data.folders.image_folder`
``tfds:NAME``  tensorflow-datasets (internet on first use)  `training.data.tfds_source`
=============  ===========================================  ==================================

`load_source(name, split)` finds the files under ``data_dir`` (default ``$ZOO_DATA_DIR``, else
``../shared/datasets`` beside the repository). ``tfds:`` names return a `tf.data.Dataset`
directly (see `load_dataset`).
"""

from __future__ import annotations

import os
from pathlib import Path

from training.data.folders import image_folder
from training.data.idx import mnist
from training.data.pgm import pgm_faces, read_pgm
from training.data.sources import CorruptImageError, LabelledSource, validate
from training.data.splits import balanced_dataset, kfold, split

REPO_ROOT = Path(__file__).resolve().parents[2]
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
DATASETS = ("mnist", "cifar10", "att_faces", "folder:<path>", "tfds:<name>")

__all__ = ["CorruptImageError", "LabelledSource", "balanced_dataset", "data_root", "image_folder",
           "kfold", "load_dataset", "load_source", "mnist", "pgm_faces", "read_pgm", "split",
           "validate"]


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """Where named datasets live: ``data_dir``, ``$ZOO_DATA_DIR`` or ``../shared/datasets``."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get("ZOO_DATA_DIR"):
        return Path(os.environ["ZOO_DATA_DIR"])
    return REPO_ROOT.parent / "shared" / "datasets"


def load_source(name: str, split: str = "train", data_dir: str | os.PathLike | None = None, *,
                skip_corrupt: bool = False) -> LabelledSource:
    """A named dataset's split (``"train"`` or ``"test"``) as a `LabelledSource`.

    ``data_dir`` may point at the dataset itself (the folder with MNIST's IDX files, the
    CIFAR-10 zip or folder) or at a root holding ``mnist/``, ``cifar10/``, ``att_faces/``.

    Raises:
        ValueError: an unknown dataset name (the message lists the known ones).
        FileNotFoundError: the files are not where expected (the message says where it looked).
    """
    root = data_root(data_dir)
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
    if name == "att_faces":
        for c in (root, root / "att_faces", root / "att_faces" / "att_faces"):
            if (c / "s1").is_dir():
                return pgm_faces(c)
        raise FileNotFoundError(f"AT&T faces not found: no s1/ folder under {root}.")
    if name.startswith("folder:"):
        return image_folder(name.split(":", 1)[1], split or None, skip_corrupt=skip_corrupt)
    raise ValueError(f"Unknown dataset {name!r}. Known: {', '.join(DATASETS)}.")


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
