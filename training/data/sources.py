"""Labelled image sources: what a reader found, before it becomes a `tf.data.Dataset`.

A reader (MNIST IDX, an image folder or a zip of one, PGM faces) returns a `LabelledSource`:
the list of items (decoded arrays, or file paths / zip members still to decode) with their
integer labels and class names. Splits, K-fold and class-balanced sampling work on sources by
index, so nothing is decoded twice and every split is reproducible from a seed. A source then
becomes

* a `tf.data.Dataset` of ``{"image": uint8 (H, W, C), "label": int64}`` dicts
  (`LabelledSource.dataset`, decoding in a parallel map), the TensorFlow path; or
* NumPy arrays (`LabelledSource.arrays`), for the JAX / PyTorch path where TensorFlow is
  absent (see `training.data.arrays`).

Corrupt files are found when the source is made (`validate=True`), never mid-epoch: the error
names the file; with ``skip_corrupt=True`` they are dropped and the count is logged.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".pgm", ".ppm")


class CorruptImageError(ValueError):
    """An image file that cannot be decoded (truncated, not an image, unsupported)."""


@dataclasses.dataclass(frozen=True)
class LabelledSource:
    """Items and labels of one split of a dataset.

    Attributes:
        kind: ``"arrays"`` (``items`` is a uint8 array ``(N, H, W, C)``), ``"files"``
            (paths) or ``"zip"`` (member names of ``archive``).
        items: the images or where to read them.
        labels: int64 array ``(N,)``, values in ``[0, len(class_names))``.
        class_names: one name per label.
        archive: the zip file for ``kind="zip"``.
        name: a short description for messages (``"mnist/train"``).
    """

    kind: str
    items: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    archive: str | None = None
    name: str = ""

    def __post_init__(self):
        if self.kind not in ("arrays", "files", "zip"):
            raise ValueError(f"`kind` must be 'arrays', 'files' or 'zip'. Received: {self.kind!r}")
        if len(self.items) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.items)} items but {len(self.labels)} labels.")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            bad = self.labels[(self.labels < 0) | (self.labels >= len(self.class_names))][0]
            raise ValueError(f"{self.name}: label {bad} out of range [0, {len(self.class_names)}) "
                             f"for classes {list(self.class_names)[:10]}.")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> "LabelledSource":
        """The items at ``indices`` (in that order)."""
        indices = np.asarray(indices, dtype=np.int64)
        return dataclasses.replace(self, items=self.items[indices], labels=self.labels[indices],
                                   name=name or self.name)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.num_classes)

    # -- NumPy -------------------------------------------------------------------------------

    def read_bytes(self, i: int) -> bytes:
        """The encoded bytes of item ``i`` (files and zips only)."""
        if self.kind == "files":
            return Path(self.items[i]).read_bytes()
        if self.kind == "zip":
            with zipfile.ZipFile(self.archive) as z:
                return z.read(self.items[i])
        raise TypeError("read_bytes() needs a file or zip source.")

    def arrays(self, workers: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Decodes every item: images uint8 ``(N, H, W, C)`` and labels ``(N,)``.

        Needs all images to have one size (true of MNIST, CIFAR-10, AT&T faces).
        """
        if self.kind == "arrays":
            return self.items, self.labels
        images = _decode_all(self, workers)
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise ValueError(f"{self.name}: images have several sizes {sorted(shapes)[:4]}; "
                             "arrays() needs one size. Use dataset() with a resize instead.")
        return np.stack(images) if images else np.zeros((0, 1, 1, 1), np.uint8), self.labels

    # -- tf.data -----------------------------------------------------------------------------

    def dataset(self, channels: int | None = None):
        """A `tf.data.Dataset` of ``{"image": uint8 (H, W, C), "label": int64}``.

        Files are read and decoded in a parallel map (``num_parallel_calls=AUTOTUNE``);
        ``channels`` forces 1 or 3 channels for files (default: as stored).
        """
        import tensorflow as tf

        labels = tf.constant(self.labels, tf.int64)
        if self.kind == "arrays":
            return tf.data.Dataset.from_tensor_slices({"image": self.items, "label": labels})
        if self.kind == "files":
            ds = tf.data.Dataset.from_tensor_slices(
                {"image": tf.constant([str(p) for p in self.items], tf.string), "label": labels})
            read = tf.io.read_file
        else:
            # tf.data cannot read zip members: hold the encoded bytes (CIFAR-10: 60 MB).
            with zipfile.ZipFile(self.archive) as z:
                blobs = [z.read(m) for m in self.items]
            ds = tf.data.Dataset.from_tensor_slices({"image": tf.constant(blobs, tf.string),
                                                    "label": labels})
            read = tf.identity

        def decode(example):
            image = tf.io.decode_image(read(example["image"]), channels=channels or 0,
                                       expand_animations=False)
            return {"image": image, "label": example["label"]}

        return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------------
# Decoding and validation (Pillow; the same checks for folders and zips)
# ---------------------------------------------------------------------------------------------

def decode_image_bytes(data: bytes, where: str) -> np.ndarray:
    """Decodes an image fully with Pillow: uint8 ``(H, W, C)``.

    Raises:
        CorruptImageError: naming ``where``, for truncated or non-image data.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # a full decode: Image.verify() misses truncated JPEGs
            if im.mode.startswith("I"):  # 16 / 32-bit grey: scale to 8 bits, do not clip
                wide = np.asarray(im, dtype=np.float64)
                top = 65535.0 if im.mode.startswith("I;16") or wide.max() <= 65535 else wide.max()
                array = np.round(np.clip(wide, 0, None) * 255.0 / top).astype(np.uint8)
            else:
                if im.mode not in ("L", "RGB"):
                    im = im.convert("RGB" if "A" in im.mode or im.mode in ("P", "CMYK")
                                    else "L")
                array = np.asarray(im)
    except Image.DecompressionBombError as e:
        raise CorruptImageError(f"Image {where} is too large to decode safely ({e}); resize it "
                                "or pass --skip-corrupt (skip_corrupt=True) to drop it.") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CorruptImageError(f"Cannot decode image {where}: {e}. Expected a complete "
                                "JPEG/PNG/BMP/GIF/PGM file; pass --skip-corrupt (skip_corrupt=True) "
                                "to drop unreadable files (they are counted in the log).") from e
    return array[..., None] if array.ndim == 2 else array


def _decode_all(source: LabelledSource, workers: int) -> list[np.ndarray]:
    def one(i: int) -> np.ndarray:
        return decode_image_bytes(source.read_bytes(i), _where(source, i))

    if source.kind == "zip":  # one open archive, read sequentially; decode in threads
        with zipfile.ZipFile(source.archive) as z:
            blobs = [z.read(m) for m in source.items]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda ib: decode_image_bytes(ib[1], _where(source, ib[0])),
                                 enumerate(blobs)))
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(len(source))))


def _where(source: LabelledSource, i: int) -> str:
    return f"{source.archive}:{source.items[i]}" if source.kind == "zip" else str(source.items[i])


def decode_errors(count: int, decode, skip_corrupt: bool, workers: int = 8) -> list[str | None]:
    """Runs ``decode(i)`` for every item on ``workers`` threads: the error text of each corrupt
    item (None for the good ones), or, unless ``skip_corrupt``, a `CorruptImageError` at the
    first. The image sources' and the detection sources' ``validate`` share it."""

    def check(i: int) -> str | None:
        try:
            decode(i)
        except (CorruptImageError, OSError) as e:
            if not skip_corrupt:
                raise CorruptImageError(str(e)) from e
            return str(e)
        return None

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(check, range(count)))


def validate(source: LabelledSource, skip_corrupt: bool = False, workers: int = 8) -> LabelledSource:
    """Decodes every file once; raises on the first corrupt one, or drops them all and logs.

    Returns the source (without the corrupt items when ``skip_corrupt``).
    """
    if source.kind == "arrays":
        return source
    blobs: list[bytes] | None = None
    if source.kind == "zip":
        with zipfile.ZipFile(source.archive) as z:
            blobs = [z.read(m) for m in source.items]

    def decode(i: int) -> None:
        data = blobs[i] if blobs is not None else source.read_bytes(i)
        decode_image_bytes(data, _where(source, i))

    errors = decode_errors(len(source), decode, skip_corrupt, workers)
    bad = [i for i, e in enumerate(errors) if e is not None]
    if not bad:
        return source
    logger.warning("%s: skipped %d corrupt image(s) of %d (skip_corrupt=True), first: %s",
                   source.name, len(bad), len(source), errors[bad[0]])
    keep = np.setdiff1d(np.arange(len(source)), bad)
    return source.subset(keep)
