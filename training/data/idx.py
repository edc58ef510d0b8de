"""MNIST's IDX format (LeCun's `*-idx3-ubyte.gz` / `*-idx1-ubyte.gz`), read with NumPy.

Format: a 4-byte magic number (two zero bytes, a type code, 0x08 = uint8, and the number of
dimensions), one big-endian uint32 per dimension, then the data. A file whose magic number or
size disagrees with that is rejected with an error naming the file.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file (gzip or raw) of uint8 data into an array of its declared shape.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: wrong magic number, unsupported type, or a truncated file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file: bad magic number {data[:4].hex()!r} "
                         "(expected 0000 08 0N).")
    if data[2] != 0x08:
        raise ValueError(f"{path}: IDX type code 0x{data[2]:02x} is not supported "
                         "(expected 0x08, unsigned bytes).")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"{path} is truncated or padded: {len(data)} bytes, expected "
                         f"{expected} for shape {shape}.")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(array: np.ndarray, path: str | Path) -> None:
    """Writes a uint8 array as a gzip IDX file (used to cut small samples)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def load_mnist(folder: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` of MNIST's ``train`` or ``t10k`` files."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"`split` must be 'train' or 'test'. Received: split={split!r}")
    folder = Path(folder)
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} {split} images but {len(labels)} labels.")
    if labels.max(initial=0) > 9:
        raise ValueError(f"{folder}: label {labels.max()} out of range 0-9.")
    return images, labels


def mnist(folder: str | Path, split: str = "train") -> "LabelledSource":
    """MNIST's IDX files as a `LabelledSource` of uint8 ``(N, 28, 28, 1)`` digits."""
    from training.data.sources import LabelledSource

    images, labels = load_mnist(folder, split)
    return LabelledSource(kind="arrays", items=images[..., None], labels=labels.astype(np.int64),
                          class_names=tuple(str(d) for d in range(10)),
                          name=f"mnist/{split}")
