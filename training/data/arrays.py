"""The input pipeline without TensorFlow: NumPy arrays through a `keras.utils.PyDataset`.

The lent GPU machine has JAX and PyTorch but no TensorFlow, so ``training.train --backend
jax`` feeds the model from decoded arrays (`LabelledSource.arrays`). It applies the same
preparation as `training.data.pipeline` (uint8 -> [0, 1], pad or resize, channels) once, up
front (decoded by Pillow, whose JPEG rounding differs from TensorFlow's by a few grey levels),
and the same Keras augmentation layers per batch, which then run on the backend's
device (the GPU under JAX). Worker threads prepare the next batches while the model trains.
"""

from __future__ import annotations

import math
from typing import Callable

import keras
import numpy as np


def prepare_arrays(images: np.ndarray, *, image_size: tuple[int, int] | None,
                   channels: int | None, fit: str = "resize") -> np.ndarray:
    """uint8 ``(N, H, W, C)`` -> float32 ``(N, h, w, channels)`` in [0, 1] (NumPy / Keras ops)."""
    x = images.astype("float32") / 255.0
    if channels == 3 and x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif channels == 1 and x.shape[-1] != 1:
        x = x[..., :3].mean(axis=-1, keepdims=True)
    if image_size is not None and tuple(x.shape[1:3]) != tuple(image_size):
        if fit == "pad":
            dh, dw = image_size[0] - x.shape[1], image_size[1] - x.shape[2]
            if dh < 0 or dw < 0:
                raise ValueError(f"fit='pad' needs images no larger than {image_size}; "
                                 f"got {x.shape[1:3]}.")
            x = np.pad(x, ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0)))
        elif fit == "resize":
            x = np.asarray(keras.ops.image.resize(x, image_size, antialias=True))
        else:
            raise ValueError(f"Images are {x.shape[1:3]}, the model needs {image_size}; "
                             "use fit='pad' or 'resize'.")
    return np.ascontiguousarray(x)


class ArrayDataset(keras.utils.PyDataset):
    """Batches ``(x, y)`` of prepared arrays, shuffled per epoch, augmented per batch.

    Args:
        x: float32 images ``(N, H, W, C)`` in [0, 1] (see `prepare_arrays`).
        y: integer labels ``(N,)``.
        batch_size: images per batch.
        training: shuffle every epoch and apply ``augment`` / ``batch_map``.
        augment: Keras layer applied to each image batch (runs on the backend's device).
        batch_map: ``(x, y) -> (x, y)`` after augmentation (mixup).
        normalize: applied last, in training and evaluation.
        seed: shuffle seed.
        drop_remainder: drop the last incomplete batch.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, *, training: bool,
                 augment: Callable | None = None, batch_map: Callable | None = None,
                 normalize: Callable | None = None, seed: int = 0,
                 drop_remainder: bool = False, **kwargs):
        super().__init__(**kwargs)
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} images but y has {len(y)} labels.")
        self.x, self.y, self.batch_size, self.training = x, np.asarray(y), batch_size, training
        self.augment, self.batch_map, self.normalize = augment, batch_map, normalize
        self.drop_remainder = drop_remainder
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(x)) if training else np.arange(len(x))

    def __len__(self) -> int:
        n = len(self.x) / self.batch_size
        return math.floor(n) if self.drop_remainder else math.ceil(n)

    def __getitem__(self, index: int):
        idx = np.sort(self._order[index * self.batch_size:(index + 1) * self.batch_size])
        x, y = self.x[idx], self.y[idx]
        if self.training and self.augment is not None:
            x = self.augment(x)
        if self.training and self.batch_map is not None:
            x, y = self.batch_map(x, y)
        if self.normalize is not None:
            x = self.normalize(x)
        return x, y

    def on_epoch_end(self):
        if self.training:
            self._order = self._rng.permutation(len(self.x))
