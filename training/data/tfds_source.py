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
