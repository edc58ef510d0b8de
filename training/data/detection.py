"""Object-detection datasets: Pascal VOC XML, box CSVs, COCO JSON and tensorflow-datasets' VOC,
read into one format, `DetectionSource`, then a `tf.data.Dataset` of the Keras detection dict.

* `read_voc`: Pascal VOC, ``Annotations/<id>.xml``, ``JPEGImages/<id>.jpg`` and
  ``ImageSets/Main/<split>.txt`` (BCCD, VOC 2007 / 2012);
* `read_csv_boxes`: a CSV of one box per row, columns found by name (raccoon's
  ``data/*_labels.csv``, BCCD's ``test.csv``);
* `read_coco`: a COCO ``instances_*.json`` and its image folder;
* `read_tfds_voc`: tensorflow-datasets' ``voc/2007`` (or ``2012``; internet on first use).

The format. A source holds one example per image, a dict (`DetectionExample`) of

* ``"image"``: the image file's path (`read_tfds_voc`: a name, the bytes are held in memory);
* ``"size"``: ``(height, width)`` in pixels, of the file itself (see ``check_images``);
* ``"boxes"``: float32 ``(M, 4)``, ``xyxy`` in pixels, ``(x_min, y_min, x_max, y_max)`` with
  continuous coordinates (the image spans ``[0, width] x [0, height]``, a box's area is
  ``(x_max - x_min) (y_max - y_min)``), the convention of `zoo.metrics.detection`;
* ``"labels"``: int32 ``(M,)``, indices into the source's ``class_names``;
* ``"difficult"``: bool ``(M,)`` (VOC's ``<difficult>`` flag; all False elsewhere);
* ``"iscrowd"``: bool ``(M,)`` (COCO's crowd regions, kept and flagged; all False elsewhere).

so ``source.examples`` is directly the ground truth that `zoo.metrics.detection` evaluates.
`DetectionSource.to_dataset` gives ``{"images": float32 (H, W, 3) in [0, 255],
"bounding_boxes": {"boxes": float32 (max_boxes, 4), "labels": int32 (max_boxes,)}}``, padded
with ``-1`` (labels ``-1`` mark padding), the layout of Keras' bounding-box layers and KerasCV.

Coordinates. VOC numbers pixels from 1 and its ``xmax`` / ``ymax`` are inclusive, so a box
``xmin=1 .. xmax=640`` covers a whole 640-pixel row: `read_voc` subtracts 1 from ``xmin`` and
``ymin`` and keeps ``xmax`` and ``ymax`` (as torchvision's and detectron2's VOC readers do);
``xmin = xmax`` is then a one-pixel box, not an empty one. A CSV's numbers are taken as they
are unless ``one_based=True`` (raccoon's and BCCD's CSVs were written from VOC XML, so pass it
to get `read_voc`'s boxes); COCO's ``[x, y, width, height]`` is already continuous.

Bad annotations, the same in every reader:

* a box reaching outside the image is clipped to it (counted in ``report.clipped_boxes``);
* a box with no area after clipping (or inverted, ``x_max < x_min``; or no wider or taller than
  ``min_size`` pixels) is dropped (``report.dropped_boxes``);
* an image without boxes (none annotated, or all dropped) is kept as a background image
  (``report.background_images``): detectors learn from negatives too;
* a class not in a given ``class_names``, an unparsable file or a malformed field is an
  `AnnotationError` (a ValueError) naming the file (and the class and the known classes);
* an image file that is missing is a FileNotFoundError naming the annotation and the path; one
  whose header cannot be read is a `CorruptImageError`. Images are fully decoded only by
  `DetectionSource.validate` (or `load_image`), not by the readers.

Example:
    >>> train = read_voc("BCCD", "trainval", class_names=BCCD_CLASSES)   # doctest: +SKIP
    >>> print(train.report)                                               # doctest: +SKIP
    292 images, 3943 boxes (0 clipped, 0 dropped), 0 background images
    >>> ds = train.to_dataset(image_size=(480, 640)).batch(8)             # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from training.data.sources import CorruptImageError, decode_errors, decode_image_bytes

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

# BCCD's classes in a fixed label order (by frequency; sorted order would be Platelets, RBC, WBC).
BCCD_CLASSES = ("RBC", "WBC", "Platelets")
# Pascal VOC's 20 classes, in the devkit's (alphabetical) order, as tensorflow-datasets has them.
VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
# Accepted names of a CSV's class column, first match wins (raccoon: class, BCCD: cell_type).
CSV_CLASS_COLUMNS = ("class", "cell_type")
CSV_BOX_COLUMNS = ("xmin", "ymin", "xmax", "ymax")
PAD = -1  # the padding of boxes and labels in `DetectionSource.to_dataset`


class AnnotationError(ValueError):
    """An annotation file that cannot be used: malformed XML / CSV / JSON, a missing field, a
    class not in ``class_names``, or a stated image size that differs from the image's."""


class DetectionExample(TypedDict):
    """One image and its boxes (see the module docstring for the units)."""

    image: str
    size: tuple[int, int]
    boxes: np.ndarray
    labels: np.ndarray
    difficult: np.ndarray
    iscrowd: np.ndarray


@dataclasses.dataclass(frozen=True)
class DetectionReport:
    """What a reader found and what it changed.

    Attributes:
        images: images in the source (background ones included).
        boxes: boxes kept.
        clipped_boxes: kept boxes that reached outside the image and were clipped to it.
        dropped_boxes: boxes dropped for having no area after clipping (or being inverted, or
            no larger than ``min_size``); ``boxes + dropped_boxes`` were annotated.
        background_images: images with no box (none annotated, or all dropped).
        difficult_boxes: kept boxes flagged difficult (VOC).
        crowd_boxes: kept boxes flagged iscrowd (COCO).
        corrupt_images: images dropped by ``validate(skip_corrupt=True)``.
    """

    images: int = 0
    boxes: int = 0
    clipped_boxes: int = 0
    dropped_boxes: int = 0
    background_images: int = 0
    difficult_boxes: int = 0
    crowd_boxes: int = 0
    corrupt_images: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        text = (
            f"{self.images} images, {self.boxes} boxes ({self.clipped_boxes} clipped, "
            f"{self.dropped_boxes} dropped), {self.background_images} background images"
        )
        extras = [
            f"{n} {what}"
            for n, what in (
                (self.difficult_boxes, "difficult"),
                (self.crowd_boxes, "crowd"),
                (self.corrupt_images, "corrupt images dropped"),
            )
            if n
        ]
        return text + (f"; {', '.join(extras)}" if extras else "")


@dataclasses.dataclass(frozen=True)
class DetectionSource:
    """The images and boxes of one split of a detection dataset.

    Attributes:
        examples: one `DetectionExample` per image, in the order of the split's listing.
        class_names: one name per label.
        report: the counts of the read (`DetectionReport`).
        name: a short description for messages (``"BCCD/trainval"``).
        encoded: the encoded image bytes, one per example, for sources without image files
            (`read_tfds_voc`); None when ``examples[i]["image"]`` is a path.
    """

    examples: list[DetectionExample]
    class_names: tuple[str, ...]
    report: DetectionReport
    name: str = ""
    encoded: tuple[bytes, ...] | None = None

    def __post_init__(self):
        if self.encoded is not None and len(self.encoded) != len(self.examples):
            raise ValueError(
                f"{self.name}: {len(self.encoded)} encoded images for "
                f"{len(self.examples)} examples."
            )
        for ex in self.examples:
            if len(ex["labels"]) and (
                ex["labels"].min() < 0 or ex["labels"].max() >= len(self.class_names)
            ):
                raise ValueError(
                    f"{self.name}: {ex['image']} has a label outside [0, {len(self.class_names)})."
                )

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def max_boxes(self) -> int:
        """The most boxes in one image (0 for an empty or all-background source)."""
        return max((len(ex["boxes"]) for ex in self.examples), default=0)

    def class_counts(self) -> np.ndarray:
        """Boxes per class, int64 ``(num_classes,)``."""
        labels = [ex["labels"] for ex in self.examples]
        flat = np.concatenate(labels) if labels else np.zeros(0, np.int32)
        return np.bincount(flat, minlength=self.num_classes)

    def read_bytes(self, i: int) -> bytes:
        """The encoded bytes of image ``i``."""
        if self.encoded is not None:
            return self.encoded[i]
        return Path(self.examples[i]["image"]).read_bytes()

    def load_image(self, i: int) -> np.ndarray:
        """Image ``i`` decoded: uint8 ``(H, W, 3)`` RGB (see `load_image`)."""
        return _rgb(decode_image_bytes(self.read_bytes(i), self.examples[i]["image"]))

    def validate(self, skip_corrupt: bool = False, workers: int = 8) -> DetectionSource:
        """Decodes every image once, so a corrupt one fails now with its name rather than as a
        nameless TensorFlow error in the middle of an epoch.

        Returns:
            the source; with ``skip_corrupt``, without the corrupt images (logged, and counted
            in ``report.corrupt_images``; the other counts are recomputed, clipped and dropped
            boxes stay as read).

        Raises:
            CorruptImageError: naming the first corrupt image, unless ``skip_corrupt``.
        """
        errors = decode_errors(len(self), self.load_image, skip_corrupt, workers)
        bad = {i for i, e in enumerate(errors) if e is not None}
        if not bad:
            return self
        first = errors[min(bad)]
        logger.warning(
            "%s: skipped %d corrupt image(s) of %d (skip_corrupt=True), first: %s",
            self.name,
            len(bad),
            len(self),
            first,
        )
        kept = self.subset([i for i in range(len(self)) if i not in bad])
        report = dataclasses.replace(kept.report,
                                     corrupt_images=kept.report.corrupt_images + len(bad))
        return dataclasses.replace(kept, report=report)

    def subset(self, indices: Sequence[int]) -> DetectionSource:
        """The examples at ``indices``, in that order; the report counted again for them
        (clipped, dropped and corrupt counts stay as read)."""
        examples = [self.examples[i] for i in indices]
        report = dataclasses.replace(
            _count(examples, self.report.clipped_boxes, self.report.dropped_boxes),
            corrupt_images=self.report.corrupt_images,
        )
        encoded = tuple(self.encoded[i] for i in indices) if self.encoded is not None else None
        return dataclasses.replace(self, examples=examples, report=report, encoded=encoded)

    def padded(
        self,
        max_boxes: int | None = None,
        *,
        drop_difficult: bool = False,
        drop_crowd: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every example's boxes and labels padded with ``-1``: float32 ``(N, max_boxes, 4)``
        and int32 ``(N, max_boxes)``, the arrays behind `to_dataset`.

        Raises:
            ValueError: an image has more than ``max_boxes`` boxes (the message names it).
        """
        keeps = [
            ~((ex["difficult"] & drop_difficult) | (ex["iscrowd"] & drop_crowd))
            for ex in self.examples
        ]
        counts = [int(k.sum()) for k in keeps]
        most = max(counts, default=0)
        if max_boxes is None:
            max_boxes = max(most, 1)
        elif max_boxes < most:
            worst = self.examples[counts.index(most)]["image"]
            raise ValueError(
                f"{self.name}: {worst} has {most} boxes, more than "
                f"max_boxes={max_boxes}. Pass max_boxes>={most} (or None for the "
                "most in the source)."
            )
        boxes = np.full((len(self), max_boxes, 4), PAD, np.float32)
        labels = np.full((len(self), max_boxes), PAD, np.int32)
        for i, (ex, keep, n) in enumerate(zip(self.examples, keeps, counts)):
            boxes[i, :n] = ex["boxes"][keep]
            labels[i, :n] = ex["labels"][keep]
        return boxes, labels

    def to_dataset(
        self,
        image_size: tuple[int, int] | None = None,
        max_boxes: int | None = None,
        *,
        drop_difficult: bool = False,
        drop_crowd: bool = False,
    ):
        """A `tf.data.Dataset` of the Keras detection dict, one element per image::

            {"images": float32 (H, W, 3) in [0, 255],
             "bounding_boxes": {"boxes": float32 (max_boxes, 4) xyxy pixels,
                                "labels": int32 (max_boxes,)}}

        padded with ``-1`` (boxes and labels) past each image's boxes. Images are read and
        decoded in a parallel map (3 channels: grey ones repeated, alpha dropped).

        Args:
            image_size: ``(height, width)`` to resize every image to (bilinear, not keeping the
                aspect ratio), scaling its boxes to match; ``None`` keeps each image's size
                (then batch with ``ragged_batch`` or resize first).
            max_boxes: the padded length; default: the most boxes in one image (at least 1).
            drop_difficult: leave out VOC's difficult boxes (detectron2 trains without them;
                the VOC metric ignores them).
            drop_crowd: leave out COCO's crowd regions.

        Raises:
            ValueError: an image has more than ``max_boxes`` boxes.
        """
        import tensorflow as tf

        boxes, labels = self.padded(max_boxes, drop_difficult=drop_difficult, drop_crowd=drop_crowd)
        if self.encoded is not None:
            images = tf.constant(list(self.encoded), tf.string)
            read: Callable = tf.identity
        else:
            images = tf.constant([ex["image"] for ex in self.examples], tf.string)
            read = tf.io.read_file
        ds = tf.data.Dataset.from_tensor_slices((images, boxes, labels))
        size = None if image_size is None else (int(image_size[0]), int(image_size[1]))

        def decode(image, boxes, labels):
            image = tf.io.decode_image(read(image), channels=3, expand_animations=False)
            image = tf.cast(image, tf.float32)
            image.set_shape([None, None, 3])
            if size is not None:
                shape = tf.cast(tf.shape(image)[:2], tf.float32)
                scale = tf.stack([size[1] / shape[1], size[0] / shape[0]] * 2)
                boxes = tf.where(labels[:, None] >= 0, boxes * scale, boxes)
                image = tf.image.resize(image, size)
            return {"images": image, "bounding_boxes": {"boxes": boxes, "labels": labels}}

        return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


def load_image(path: PathLike) -> np.ndarray:
    """An image file decoded with Pillow: uint8 ``(H, W, 3)`` RGB (grey repeated, alpha dropped).

    Raises:
        FileNotFoundError: no such file.
        CorruptImageError: naming the file, for truncated or non-image data.
    """
    return _rgb(decode_image_bytes(Path(path).read_bytes(), str(path)))


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


# ---------------------------------------------------------------------------------------------
# What every reader shares: image sizes, clipping, class names, the report
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Raw:
    """One image's annotation as read, before clipping and label lookup."""

    where: str  # the annotation file (and line / id) for messages
    image: Path
    size: tuple[int, int] | None  # (height, width) the annotation states, if any
    names: list[str]
    boxes: np.ndarray  # float64 (M, 4) xyxy
    difficult: np.ndarray | None = None
    iscrowd: np.ndarray | None = None
    labels: np.ndarray | None = None  # given directly (COCO, tfds) instead of names


def _header_size(data: bytes | PathLike, where: str) -> tuple[int, int]:
    """``(height, width)`` from an image's header (Pillow reads no pixels)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            width, height = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CorruptImageError(
            f"Cannot read image {where}: {e}. Expected a JPEG/PNG/BMP/GIF file."
        ) from e
    return height, width


def _sizes(raws: list[_Raw], check_images: bool, workers: int = 8) -> list[tuple[int, int]]:
    """Each image's ``(height, width)``: from its file's header (checked against the stated
    size) with ``check_images``, else the stated size (the header where none is stated)."""
    for raw in raws:
        if not raw.image.is_file():
            raise FileNotFoundError(f"{raw.where}: image file {raw.image} not found.")

    def one(raw: _Raw) -> tuple[int, int]:
        if raw.size is not None and not check_images:
            return raw.size
        size = _header_size(raw.image, str(raw.image))
        if raw.size is not None and raw.size != size:
            raise AnnotationError(
                f"{raw.where}: states image size {raw.size[1]}x{raw.size[0]} "
                f"(width x height) but {raw.image} is {size[1]}x{size[0]}. "
                "Fix the annotation, or pass check_images=False to trust it."
            )
        return size

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, raws))


def _clip(
    boxes: np.ndarray, height: int, width: int, min_size: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Clips xyxy ``boxes`` to the image: ``(clipped boxes, keep mask, number clipped)``."""
    limits = np.array([width, height, width, height], np.float64)
    clipped = np.clip(boxes, 0.0, limits)
    keep = (clipped[:, 2] - clipped[:, 0] > min_size) & (clipped[:, 3] - clipped[:, 1] > min_size)
    changed = np.any(clipped != boxes, axis=1) & keep
    return clipped, keep, int(changed.sum())


def _class_names(raws: list[_Raw], class_names: Sequence[str] | None) -> tuple[str, ...]:
    """``class_names``, after checking every name is in it; else the names found, sorted."""
    if class_names is None:
        return tuple(sorted({n for raw in raws for n in raw.names}))
    known = set(class_names)
    if len(known) != len(class_names):
        raise ValueError(f"`class_names` has duplicates: {list(class_names)}")
    for raw in raws:
        for n in raw.names:
            if n not in known:
                raise AnnotationError(
                    f"{raw.where}: class {n!r} is not in class_names {list(class_names)}."
                )
    return tuple(class_names)


def _build(
    raws: list[_Raw],
    class_names: Sequence[str] | None,
    name: str,
    *,
    check_images: bool,
    min_size: float,
    sizes: list[tuple[int, int]] | None = None,
) -> DetectionSource:
    """Clips, drops and labels the raw annotations into a `DetectionSource`."""
    names = _class_names(raws, class_names)
    index = {n: i for i, n in enumerate(names)}
    if sizes is None:
        sizes = _sizes(raws, check_images)
    examples: list[DetectionExample] = []
    clipped_total = dropped_total = 0
    for raw, (height, width) in zip(raws, sizes):
        m = len(raw.boxes)
        boxes, keep, clipped = _clip(raw.boxes.reshape(m, 4), height, width, min_size)
        labels = (
            raw.labels
            if raw.labels is not None
            else np.array([index[n] for n in raw.names], np.int32).reshape(m)
        )
        flags = [
            np.zeros(m, bool) if f is None else np.asarray(f, bool)
            for f in (raw.difficult, raw.iscrowd)
        ]
        clipped_total += clipped
        dropped_total += int(m - keep.sum())
        examples.append(
            DetectionExample(
                image=str(raw.image),
                size=(int(height), int(width)),
                boxes=boxes[keep].astype(np.float32),
                labels=labels[keep].astype(np.int32),
                difficult=flags[0][keep],
                iscrowd=flags[1][keep],
            )
        )
    report = _count(examples, clipped_total, dropped_total)
    logger.info("%s: %s", name, report)
    return DetectionSource(examples=examples, class_names=names, report=report, name=name)


def _count(examples: list[DetectionExample], clipped: int, dropped: int) -> DetectionReport:
    return DetectionReport(
        images=len(examples),
        boxes=sum(len(ex["boxes"]) for ex in examples),
        clipped_boxes=clipped,
        dropped_boxes=dropped,
        background_images=sum(1 for ex in examples if not len(ex["boxes"])),
        difficult_boxes=sum(int(ex["difficult"].sum()) for ex in examples),
        crowd_boxes=sum(int(ex["iscrowd"].sum()) for ex in examples),
    )


def _number(text: str | None, where: str, field: str) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: {field} is {text!r}, not a number.") from None


# ---------------------------------------------------------------------------------------------
# Pascal VOC XML
# ---------------------------------------------------------------------------------------------


def read_voc(
    root: PathLike,
    split: str = "trainval",
    class_names: Sequence[str] | None = None,
    *,
    check_images: bool = True,
    min_size: float = 0.0,
) -> DetectionSource:
    """A Pascal VOC split: the ids in ``root/ImageSets/Main/<split>.txt``, each
    ``root/Annotations/<id>.xml`` and its image ``root/JPEGImages/<id>.jpg`` (else the XML's
    ``<filename>``).

    Boxes become continuous ``xyxy`` pixels: ``(xmin - 1, ymin - 1, xmax, ymax)`` of VOC's
    1-based inclusive numbers (see the module docstring); ``difficult`` is the ``<difficult>``
    tag (absent: False).

    Args:
        root: the folder holding ``Annotations/``, ``JPEGImages/`` and ``ImageSets/``.
        split: ``train``, ``val``, ``trainval``, ``test`` or any ``<split>.txt`` there.
        class_names: the classes in label order (e.g. `BCCD_CLASSES`, `VOC_CLASSES`); a class
            not in them is an error. Default: the names in this split, sorted, so pass them to
            get one label order across splits.
        check_images: read each image's size from its header and check the XML's ``<size>``
            against it (cheap: no pixels are decoded); False trusts the XML.
        min_size: drop boxes no wider or taller than this many pixels (0: only empty ones).

    Raises:
        FileNotFoundError: ``root``, the split file, an XML or an image is missing (the message
            names the split file or XML and the missing path).
        AnnotationError: malformed XML or a missing tag (naming the XML), or a class not in
            ``class_names`` (naming the XML, the class and the known classes).
        CorruptImageError: an image whose header cannot be read.
    """
    root = Path(root)
    listing = root / "ImageSets" / "Main" / f"{split}.txt"
    if not root.is_dir():
        raise FileNotFoundError(f"VOC folder not found: {root}")
    if not listing.is_file():
        there = (
            sorted(p.stem for p in listing.parent.glob("*.txt") if "_" not in p.stem)
            if listing.parent.is_dir()
            else []
        )
        raise FileNotFoundError(
            f"VOC split file {listing} not found; the splits there are "
            f"{there}. Expected ImageSets/Main/<split>.txt of image ids."
        )
    ids = [line.split()[0] for line in listing.read_text().splitlines() if line.strip()]
    raws = []
    for image_id in ids:
        xml = root / "Annotations" / f"{image_id}.xml"
        if not xml.is_file():
            raise FileNotFoundError(
                f"{listing}: lists {image_id!r} but its annotation {xml} is not there."
            )
        raws.append(_parse_voc_xml(xml, root / "JPEGImages", image_id))
    return _build(
        raws, class_names, f"{root.name}/{split}", check_images=check_images, min_size=min_size
    )


def _parse_voc_xml(xml: Path, images: Path, image_id: str) -> _Raw:
    try:
        annotation = ET.parse(xml).getroot()
    except ET.ParseError as e:
        raise AnnotationError(f"{xml}: malformed XML ({e}).") from e

    def text(node: ET.Element, tag: str, where: str) -> str:
        found = node.find(tag)
        if found is None or found.text is None or not found.text.strip():
            raise AnnotationError(f"{where}: no <{tag}> in the annotation.")
        return found.text.strip()

    image = images / f"{image_id}.jpg"
    filename = annotation.findtext("filename", "").strip()
    if not image.is_file() and filename:
        image = images / filename
    size = None
    if annotation.find("size") is not None:
        width = _number(annotation.findtext("size/width"), str(xml), "<size><width>")
        height = _number(annotation.findtext("size/height"), str(xml), "<size><height>")
        size = (int(height), int(width)) if width > 0 and height > 0 else None
    names, boxes, difficult = [], [], []
    for k, obj in enumerate(annotation.findall("object")):
        where = f"{xml} (object {k + 1})"
        names.append(text(obj, "name", where))
        box = obj.find("bndbox")
        if box is None:
            raise AnnotationError(f"{where}: no <bndbox> in the annotation.")
        x0, y0, x1, y1 = (
            _number(text(box, tag, where), where, f"<{tag}>") for tag in CSV_BOX_COLUMNS
        )
        boxes.append((x0 - 1.0, y0 - 1.0, x1, y1))
        difficult.append(obj.findtext("difficult", "0").strip() in ("1", "true", "True"))
    return _Raw(
        str(xml),
        image,
        size,
        names,
        np.array(boxes, np.float64).reshape(-1, 4),
        difficult=np.array(difficult, bool),
    )


# ---------------------------------------------------------------------------------------------
# CSV, one row per box
# ---------------------------------------------------------------------------------------------


def read_csv_boxes(
    csv_path: PathLike,
    images_dir: PathLike,
    class_names: Sequence[str] | None = None,
    *,
    one_based: bool = False,
    check_images: bool = True,
    min_size: float = 0.0,
) -> DetectionSource:
    """A CSV of one box per row, found by column name (any order, any extra columns):
    ``filename``, a class column (``class`` or ``cell_type``), ``xmin``, ``ymin``, ``xmax``,
    ``ymax``, optionally ``width`` and ``height`` (checked against the image).

    Raccoon's ``data/{train,test}_labels.csv`` (``filename,width,height,class,xmin,ymin,xmax,
    ymax``) and BCCD's ``test.csv`` (``filename,cell_type,xmin,xmax,ymin,ymax``, which holds
    all 364 BCCD images, not the test split) both read as they are. A row with the box fields
    (and class) empty lists a background image. Images come in the order of their first row.

    Args:
        csv_path: the CSV file.
        images_dir: the folder the ``filename`` column is relative to.
        class_names: the classes in label order; default: the names found, sorted.
        one_based: the numbers are VOC's 1-based inclusive pixels (true of CSVs written from
            VOC XML, as raccoon's and BCCD's): subtract 1 from ``xmin`` and ``ymin``, as
            `read_voc` does. False takes them as continuous coordinates.
        check_images: read each image's size from its header (checked against ``width`` /
            ``height`` when the CSV has them); False trusts the CSV's.
        min_size: drop boxes no wider or taller than this many pixels (0: only empty ones).

    Raises:
        FileNotFoundError: the CSV or an image is missing (naming the CSV line and the path).
        AnnotationError: a missing column, a malformed row (naming the CSV and line), or a class
            not in ``class_names`` (naming the CSV line, the class and the known classes).
    """
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise AnnotationError(f"{csv_path} is empty; expected a header row.")
    header = [c.strip().lower() for c in rows[0]]
    column = {c: i for i, c in reversed(list(enumerate(header)))}
    class_col = next((c for c in CSV_CLASS_COLUMNS if c in column), None)
    missing = [c for c in ("filename", *CSV_BOX_COLUMNS) if c not in column]
    if missing or class_col is None:
        need = missing + ([] if class_col else [" or ".join(CSV_CLASS_COLUMNS)])
        raise AnnotationError(
            f"{csv_path}: no column(s) {need}; its columns are {rows[0]}. "
            "Expected filename, class (or cell_type), xmin, ymin, xmax, ymax."
        )
    offset = 1.0 if one_based else 0.0
    by_file: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{csv_path}:{line}"
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in column.items()}
        if not cells["filename"]:
            raise AnnotationError(f"{where}: empty filename.")
        entry = by_file.setdefault(
            cells["filename"], {"where": where, "names": [], "boxes": [], "lines": [], "size": None}
        )
        if "width" in column and "height" in column and cells["width"] and cells["height"]:
            size = (
                int(_number(cells["height"], where, "height")),
                int(_number(cells["width"], where, "width")),
            )
            if entry["size"] not in (None, size):
                raise AnnotationError(
                    f"{where}: {cells['filename']} is {size[1]}x{size[0]} "
                    f"here but {entry['size'][1]}x{entry['size'][0]} in an "
                    "earlier row."
                )
            entry["size"] = size
        given = [bool(cells[c]) for c in CSV_BOX_COLUMNS]
        if not any(given):
            continue  # a background image
        if not all(given) or not cells[class_col]:
            raise AnnotationError(
                f"{where}: some of {class_col}, xmin, ymin, xmax, ymax are "
                "empty; leave all of them empty for an image with no boxes."
            )
        x0, y0, x1, y1 = (_number(cells[c], where, c) for c in CSV_BOX_COLUMNS)
        entry["names"].append(cells[class_col])
        entry["boxes"].append((x0 - offset, y0 - offset, x1, y1))
        entry["lines"].append(line)
    raws = [
        _Raw(
            e["where"],
            images_dir / filename,
            e["size"],
            e["names"],
            np.array(e["boxes"], np.float64).reshape(-1, 4),
        )
        for filename, e in by_file.items()
    ]
    if class_names is not None:  # name the line of an unknown class, not the file's first
        for e in by_file.values():
            for n, line in zip(e["names"], e["lines"]):
                if n not in class_names:
                    raise AnnotationError(
                        f"{csv_path}:{line}: class {n!r} is not in class_names {list(class_names)}."
                    )
    return _build(raws, class_names, csv_path.name, check_images=check_images, min_size=min_size)


# ---------------------------------------------------------------------------------------------
# COCO JSON
# ---------------------------------------------------------------------------------------------


def read_coco(
    json_path: PathLike, images_dir: PathLike, *, check_images: bool = True, min_size: float = 0.0
) -> DetectionSource:
    """A COCO instances file (``instances_val2017.json``) and its image folder.

    ``bbox`` ``[x, y, width, height]`` becomes ``xyxy`` ``[x, y, x + width, y + height]``.
    Category ids map to contiguous labels in order of id (COCO's 80 ids 1..90 become 0..79) and
    ``class_names`` are the categories' names in that order. Crowd regions (``iscrowd=1``) are
    kept and flagged in ``"iscrowd"`` (the COCO metric ignores detections on them; pass
    ``drop_crowd=True`` to `DetectionSource.to_dataset` to train without them). Images with no
    annotations are background images; images come in the file's order.

    Raises:
        FileNotFoundError: the JSON or an image is missing.
        AnnotationError: invalid JSON, a missing key, a malformed ``bbox``, or an annotation of
            an unknown image or category (naming the file and the annotation id).
    """
    json_path, images_dir = Path(json_path), Path(images_dir)
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{json_path}: not valid JSON ({e}).") from e
    if not isinstance(data, dict) or "images" not in data or "categories" not in data:
        raise AnnotationError(
            f"{json_path}: expected a COCO instances file, a JSON object "
            "with 'images', 'annotations' and 'categories'."
        )
    try:
        categories = sorted(data["categories"], key=lambda c: c["id"])
        label_of = {c["id"]: i for i, c in enumerate(categories)}
        names = tuple(str(c["name"]) for c in categories)
        images = {im["id"]: im for im in data["images"]}
    except (KeyError, TypeError) as e:
        raise AnnotationError(f"{json_path}: a category or image entry lacks {e}.") from e
    per_image: dict[Any, list[dict]] = {i: [] for i in images}
    for ann in data.get("annotations", []):
        where = f"{json_path} (annotation id {ann.get('id')})"
        if ann.get("image_id") not in per_image:
            raise AnnotationError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'.")
        if ann.get("category_id") not in label_of:
            known = {c["id"]: c["name"] for c in categories}
            raise AnnotationError(
                f"{where}: category_id {ann.get('category_id')!r} is not in 'categories' {known}."
            )
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise AnnotationError(f"{where}: bbox {bbox!r} is not [x, y, width, height].")
        per_image[ann["image_id"]].append(ann)
    raws = []
    for image_id, im in images.items():
        anns = per_image[image_id]
        where = f"{json_path} (image id {image_id})"
        xywh = np.array(
            [[_number(v, where, "bbox") for v in a["bbox"]] for a in anns], np.float64
        ).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        width, height = im.get("width"), im.get("height")
        raws.append(
            _Raw(
                where,
                images_dir / im["file_name"],
                (int(height), int(width)) if width and height else None,
                [],
                boxes,
                iscrowd=np.array([bool(a.get("iscrowd", 0)) for a in anns], bool),
                labels=np.array([label_of[a["category_id"]] for a in anns], np.int32),
            )
        )
    return _build(raws, names, json_path.name, check_images=check_images, min_size=min_size)


# ---------------------------------------------------------------------------------------------
# tensorflow-datasets' Pascal VOC
# ---------------------------------------------------------------------------------------------


def read_tfds_voc(
    split: str = "train",
    data_dir: str | None = None,
    *,
    year: str = "2007",
    one_based: bool = True,
    min_size: float = 0.0,
    download: bool = True,
) -> DetectionSource:
    """tensorflow-datasets' ``voc/<year>`` split as a `DetectionSource` (the first call
    downloads and prepares it, about 900 MB for 2007: internet needed).

    tfds stores VOC's boxes as ``[ymin, xmin, ymax, xmax]`` divided by the image size, from the
    XML's numbers without the 1-based shift; with ``one_based`` (default) this reader multiplies
    back and subtracts 1 from ``xmin`` and ``ymin`` as `read_voc` does, so both give the same
    boxes for the same XML (rounded to 1/1000 pixel to undo tfds' float32). The encoded JPEGs are
    held in memory (``source.encoded``; VOC 2007 test: about 450 MB); ``"image"`` is a name,
    ``tfds:voc/2007/<split>/<filename>``. ``class_names`` is `VOC_CLASSES`.

    Raises:
        FileNotFoundError: the set is not prepared and cannot be downloaded (no network).
        AnnotationError: an example whose objects' fields disagree in length.
    """
    import tensorflow_datasets as tfds

    from training.data.tfds_source import _check_can_download

    name = f"voc/{year}"
    if download:
        _check_can_download(tfds, name, data_dir)
    ds, info = tfds.load(
        name,
        split=split,
        data_dir=data_dir,
        with_info=True,
        shuffle_files=False,
        download=download,
        try_gcs=False,
        decoders={"image": tfds.decode.SkipDecoding()},
    )
    class_names = tuple(info.features["objects"]["label"].names)
    offset = 1.0 if one_based else 0.0
    raws, sizes, blobs = [], [], []
    for example in tfds.as_numpy(ds):
        filename = example["image/filename"]
        filename = filename.decode() if isinstance(filename, bytes) else str(filename)
        where = f"tfds:{name}/{split}/{filename}"
        data = bytes(example["image"])
        height, width = _header_size(data, where)
        objects = example["objects"]
        rel = np.asarray(objects["bbox"], np.float64).reshape(-1, 4)
        labels = np.asarray(objects["label"], np.int32).reshape(-1)
        difficult = np.asarray(objects["is_difficult"], bool).reshape(-1)
        if not len(rel) == len(labels) == len(difficult):
            raise AnnotationError(
                f"{where}: {len(rel)} boxes, {len(labels)} labels and "
                f"{len(difficult)} difficult flags; expected one of each "
                "per object."
            )
        boxes = np.stack(
            [
                rel[:, 1] * width - offset,
                rel[:, 0] * height - offset,
                rel[:, 3] * width,
                rel[:, 2] * height,
            ],
            axis=1,
        ).round(3)
        raws.append(_Raw(where, Path(where), None, [], boxes, difficult=difficult, labels=labels))
        sizes.append((height, width))
        blobs.append(data)
    source = _build(
        raws,
        class_names,
        f"tfds:{name}/{split}",
        check_images=False,
        min_size=min_size,
        sizes=sizes,
    )
    examples = [dict(ex, image=raw.where) for ex, raw in zip(source.examples, raws)]
    return dataclasses.replace(source, examples=examples, encoded=tuple(blobs))
