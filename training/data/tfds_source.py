"""Any image-classification dataset of tensorflow-datasets, by name, as our dict elements.

    ds, info = tfds_dataset("cifar10", "train")   # needs internet the first time

This is the path for users with internet (``tfds.load`` downloads and prepares the data once,
into ``~/tensorflow_datasets``). Offline, an unprepared ``tfds.load`` retries for minutes
before failing, so tests use ``tfds.testing.mock_data`` and never reach it.
"""

from __future__ import annotations

from typing import Any


def tfds_dataset(name: str, split: str = "train", *, data_dir: str | None = None,
                 image_key: str = "image", label_key: str = "label", download: bool = True):
    """``tfds.load(name, split)`` mapped to ``{"image": uint8 (H, W, C), "label": int64}``.

    Returns:
        ``(dataset, info)``; ``info.features[label_key].names`` holds the class names.

    Raises:
        ValueError: the dataset has no ``image_key`` / ``label_key`` feature.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if download:
        _check_can_download(tfds, name, data_dir)
    ds, info = tfds.load(name, split=split, data_dir=data_dir, with_info=True,
                         download=download, try_gcs=False)
    features: Any = info.features
    missing = [k for k in (image_key, label_key) if k not in features]
    if missing:
        raise ValueError(f"tfds dataset {name!r} has no feature(s) {missing}; its features are "
                         f"{sorted(features.keys())}. Pass image_key= / label_key=.")

    def to_dict(example):
        return {"image": example[image_key], "label": tf.cast(example[label_key], tf.int64)}

    return ds.map(to_dict, num_parallel_calls=tf.data.AUTOTUNE), info


PROBE_HOST = ("storage.googleapis.com", 443)  # where tensorflow-datasets downloads from


def _check_can_download(tfds, name: str, data_dir: str | None) -> None:
    """Fails fast, with what to do, when ``name`` is not prepared and there is no network:
    an offline ``tfds.load`` retries for minutes before it gives up."""
    import os
    import socket

    try:
        if tfds.builder(name, data_dir=data_dir).is_prepared():
            return
    except Exception:  # noqa: BLE001 - an unknown name: let tfds.load say so
        return
    if getattr(tfds.core.DatasetBuilder.download_and_prepare, "__name__", "") != \
            "download_and_prepare" or any(os.environ.get(v) for v in
                                          ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return  # tfds.testing.mock_data replaced the download; or a proxy will carry it
    try:
        socket.create_connection(PROBE_HOST, timeout=5).close()
    except OSError as e:
        raise FileNotFoundError(
            f"{name} is not prepared on this machine and tensorflow-datasets cannot download "
            f"it ({PROBE_HOST[0]} unreachable: {e}). Connect once, or pass --data-dir DIR "
            "(or set ZOO_DATA_DIR) to a folder holding the dataset's files.") from e


def tfds_source(name: str, split: str = "train", *, data_dir: str | None = None,
                image_key: str = "image", label_key: str = "label"):
    """A tensorflow-datasets split as an in-memory `LabelledSource` (uint8 arrays).

    The path for named sets (``mnist``, ``cifar10``) when no data folder is given: the first
    call downloads and prepares the set (internet needed), later ones read
    ``~/tensorflow_datasets``. Every image must have one size (true of MNIST and CIFAR-10).

    Raises:
        ValueError: the dataset has no ``image_key`` / ``label_key`` feature, or images of
            several sizes.
    """
    import numpy as np
    import tensorflow_datasets as tfds

    from training.data.sources import LabelledSource

    ds, info = tfds_dataset(name, split, data_dir=data_dir, image_key=image_key,
                            label_key=label_key)
    images, labels = [], []
    for example in tfds.as_numpy(ds):
        images.append(example["image"])
        labels.append(example["label"])
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"tfds:{name} has images of several sizes {sorted(shapes)[:3]}; "
                         "use it through training.data.load_dataset (tf.data) instead.")
    x = np.stack(images) if images else np.zeros((0, 1, 1, 1), np.uint8)
    if x.ndim == 3:
        x = x[..., None]
    return LabelledSource(kind="arrays", items=x.astype(np.uint8),
                          labels=np.asarray(labels, np.int64),
                          class_names=tuple(info.features[label_key].names),
                          name=f"tfds:{name}/{split}")
