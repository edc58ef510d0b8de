"""Readers for dense prediction: segmentation masks and depth maps, from files or tfds.

The data of the segmentation nets (FCN, SegNet, U-Net) and of the Eigen depth net:

* `read_mask_pairs` / `membrane`: image and mask PNGs paired by file stem, the layout of the
  ISBI 2012 EM segmentation challenge that the U-Net paper trained on (Ronneberger et al.,
  "U-Net: Convolutional Networks for Biomedical Image Segmentation", MICCAI 2015; data:
  Cardona et al., PLoS Biology 2010). Masks become int32 class ids.
* `read_depth_pgm` / `rgbd_frames`: Kinect frames, an RGB PNG and a 16-bit PGM depth map in
  millimetres (0 = no reading), as in NYU Depth v2 (Silberman et al., ECCV 2012), the data of
  Eigen et al., "Depth Map Prediction from a Single Image using a Multi-Scale Deep Network",
  NeurIPS 2014. Depth becomes float32 metres; 0 stays 0 and means "missing".
* `oxford_pets` / `nyu_depth`: the same two tasks from tensorflow-datasets (internet on first
  use), as ``tf.data`` datasets of ``{"image", "mask"}`` / ``{"image", "depth"}`` dicts.
* `dense_dataset`: arrays -> shuffled, jointly augmented ``(image, target)`` batches.

Conventions: images float32 in [0, 1], ``(H, W, C)``; masks int32 ``(H, W)``; depth float32
``(H, W)`` in metres. Bad files fail when read, naming the file (`CorruptImageError` for an
undecodable image, ValueError for wrong values or sizes), never in the middle of an epoch.

Example:
    >>> images, masks = membrane("isbi2012_membrane/data/membrane", "train")  # doctest: +SKIP
    >>> images.shape, masks.shape, MEMBRANE_CLASSES                          # doctest: +SKIP
    ((30, 512, 512, 1), (30, 512, 512), ('membrane', 'cell'))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from training.data.pgm import read_pgm
from training.data.sources import IMAGE_EXTENSIONS, CorruptImageError, decode_image_bytes
from zoo.registry import natural_key

#: ISBI 2012 membrane masks: pixel 0 = membrane (class 0), 255 = cell interior (class 1).
#: (The 30 training masks of ``isbi2012_membrane`` hold only these two values: checked.)
MEMBRANE_CLASSES = ("membrane", "cell")
MEMBRANE_VALUES = {0: 0, 255: 1}

#: Oxford-IIIT Pet trimap classes after `oxford_pets` maps tfds' 1, 2, 3 to 0, 1, 2.
PET_CLASSES = ("pet", "background", "border")


# === Files ===

def _natural_key(path: Path) -> list:
    """Sorts ``2.png`` before ``10.png`` (the registry's natural sort, on the stem)."""
    return natural_key(path.stem)


def _list_images(folder: Path) -> dict[str, Path]:
    """``{stem: path}`` of the image files in ``folder``, in natural order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"Folder not found: {folder}")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS),
                   key=_natural_key)
    by_stem: dict[str, Path] = {}
    for path in files:
        if path.stem in by_stem:
            raise ValueError(f"Two files with the stem {path.stem!r} in {folder}: "
                             f"{by_stem[path.stem].name} and {path.name}.")
        by_stem[path.stem] = path
    if not by_stem:
        raise ValueError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}.")
    return by_stem


def _read_image(path: Path) -> np.ndarray:
    """float32 ``(H, W, C)`` in [0, 1]; `CorruptImageError` naming the file."""
    return decode_image_bytes(path.read_bytes(), str(path)).astype(np.float32) / 255.0


def _read_mask(path: Path) -> np.ndarray:
    """The stored values of a single-channel mask PNG, ``(H, W)`` (palette images: indices)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            mask = np.asarray(im.convert("L") if mode == "1" else im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CorruptImageError(f"Cannot decode mask {path}: {e}. Expected a complete "
                                "single-channel PNG.") from e
    if mask.ndim != 2:
        raise ValueError(f"Mask {path} has colour mode {mode!r}; expected a single-channel "
                         "(L, P, I or I;16) image of class values.")
    return mask


def _to_class_ids(mask: np.ndarray, mask_values: Mapping[int, int] | None,
                  path: Path) -> np.ndarray:
    """Maps stored mask values to class ids; a value not in ``mask_values`` is an error."""
    if mask_values is None:
        return mask.astype(np.int32)
    found = np.unique(mask)
    bad = [int(v) for v in found if int(v) not in mask_values]
    if bad:
        raise ValueError(
            f"Mask {path} holds value(s) {bad[:10]}{' ...' if len(bad) > 10 else ''} that are "
            f"not class values; expected only {sorted(mask_values)} (mapped to class ids "
            f"{[mask_values[k] for k in sorted(mask_values)]}). A mask resized with bilinear "
            "interpolation has such in-between values: resize masks with nearest neighbour.")
    keys = np.array(sorted(mask_values))
    ids = np.array([mask_values[k] for k in keys], np.int32)
    return ids[np.searchsorted(keys, mask)]


def _stack(arrays: list[np.ndarray], paths: list[Path], what: str) -> np.ndarray:
    """Stacks arrays of one shape, or names the first file whose shape differs."""
    for array, path in zip(arrays, paths):
        if array.shape != arrays[0].shape:
            raise ValueError(f"{what} have several shapes: {paths[0]} is {arrays[0].shape}, "
                             f"{path} is {array.shape}. Resize them to one size first.")
    return np.stack(arrays)


def _pair_stems(first: dict[str, Path], second: dict[str, Path], names: tuple[str, str]
                ) -> list[str]:
    """The common stems of two folders; an unpaired file on either side is an error."""
    for a, b, (na, nb) in ((first, second, names), (second, first, names[::-1])):
        alone = [s for s in a if s not in b]
        if alone:
            folder = next(iter(a.values())).parent
            other = next(iter(b.values())).parent
            raise ValueError(f"{len(alone)} {na}(s) in {folder} without a {nb} in {other}, "
                             f"e.g. {[a[s].name for s in alone[:5]]}. Every {na} needs a "
                             f"{nb} with the same file stem.")
    return list(first)


def _check_same_size(image: np.ndarray, image_path: Path, other: np.ndarray, other_path: Path,
                     what: str) -> None:
    if image.shape[:2] != other.shape[:2]:
        (h, w), (h2, w2) = image.shape[:2], other.shape[:2]
        raise ValueError(f"Image {image_path} is {w}x{h} (WxH) but its {what} {other_path} is "
                         f"{w2}x{h2}; an image and its {what} must have the same size.")


# === Segmentation masks ===

def read_images(folder: str | Path) -> np.ndarray:
    """All images of ``folder`` (natural order of their names): float32 ``(N, H, W, C)`` in [0, 1].

    For unlabelled splits such as ISBI's ``test/``.

    Raises:
        FileNotFoundError: no such folder.
        ValueError: no images, or images of several sizes.
        CorruptImageError: an undecodable image (named).
    """
    paths = list(_list_images(Path(folder)).values())
    return _stack([_read_image(p) for p in paths], paths, "Images")


def read_mask_pairs(root: str | Path, image_dir: str = "image", mask_dir: str = "label",
                    mask_values: Mapping[int, int] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Reads ``root/image_dir/<stem>.*`` and ``root/mask_dir/<stem>.*`` pairs.

    Args:
        root: the folder holding ``image_dir`` and ``mask_dir``.
        image_dir: sub-folder of the images (grey or RGB, any format Pillow reads).
        mask_dir: sub-folder of the masks: single-channel PNGs (palette PNGs give their
            palette indices).
        mask_values: ``{stored pixel value: class id}``, e.g. ``{0: 0, 255: 1}``; any other
            value in a mask is an error. ``None``: the stored values are the class ids.

    Returns:
        ``(images, masks)``: float32 ``(N, H, W, C)`` in [0, 1] and int32 ``(N, H, W)``, in the
        natural order of the file stems (``2`` before ``10``).

    Raises:
        FileNotFoundError: a missing folder.
        ValueError: an image without a mask (or a mask without an image), an image and mask
            of different sizes (both files and sizes named), a mask value not in
            ``mask_values`` (the bad and the expected values listed), or several image sizes.
        CorruptImageError: an undecodable image or mask, named.

    Example:
        >>> x, y = read_mask_pairs("membrane/train", mask_values={0: 0, 255: 1})  # doctest: +SKIP
    """
    root = Path(root)
    images, masks = _list_images(root / image_dir), _list_images(root / mask_dir)
    stems = _pair_stems(images, masks, ("image", "mask"))
    xs, ys = [], []
    for stem in stems:
        image, mask = _read_image(images[stem]), _read_mask(masks[stem])
        _check_same_size(image, images[stem], mask, masks[stem], "mask")
        xs.append(image)
        ys.append(_to_class_ids(mask, mask_values, masks[stem]))
    paths = [images[s] for s in stems]
    return _stack(xs, paths, "Images"), np.stack(ys)


def membrane(root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray | None]:
    """The ISBI 2012 EM membrane data of the U-Net paper: 30 labelled + 30 unlabelled images.

    Layout (``root`` = ``.../isbi2012_membrane/data/membrane``): ``train/image/N.png``,
    ``train/label/N.png`` (255 = cell interior, 0 = membrane) and ``test/N.png``. Classes
    `MEMBRANE_CLASSES` = ``("membrane", "cell")``: pixel 0 -> 0, 255 -> 1. The masks are
    read strictly: any other value (e.g. from a bilinear resize) is an error, not thresholded;
    the shipped masks hold only 0 and 255.

    Args:
        root: the ``membrane`` folder.
        split: ``"train"`` (images and masks) or ``"test"`` (images only, masks ``None``).

    Returns:
        ``(images float32 (N, 512, 512, 1) in [0, 1], masks int32 (N, 512, 512) or None)``.

    Example:
        >>> x, y = membrane("/data/isbi2012_membrane/data/membrane")  # doctest: +SKIP
    """
    root = Path(root)
    if split == "train":
        return read_mask_pairs(root / "train", "image", "label", MEMBRANE_VALUES)
    if split == "test":
        return read_images(root / "test"), None
    raise ValueError(f"`split` must be 'train' or 'test'. Received: split={split!r}")


# === Depth ===

def read_depth_pgm(path: str | Path) -> np.ndarray:
    """A Kinect depth map: 16-bit PGM in millimetres -> float32 ``(H, W)`` metres (0 = missing).

    Raises:
        FileNotFoundError, ValueError: as `training.data.pgm.read_pgm` (not a PGM, truncated);
            ValueError also for an 8-bit PGM, which cannot hold millimetre depths.

    Example:
        >>> depth = read_depth_pgm("rgbd/depth/1.pgm")  # doctest: +SKIP
    """
    raw = read_pgm(path)
    if raw.dtype != np.uint16:
        raise ValueError(f"{path} is an 8-bit PGM (largest value {int(raw.max())}); expected a "
                         "16-bit millimetre depth map (maxval > 255, e.g. 65535).")
    return raw.astype(np.float32) / 1000.0


def rgbd_frames(root: str | Path, color_dir: str = "color",
                depth_dir: str = "depth") -> tuple[np.ndarray, np.ndarray]:
    """RGB-D frames ``root/color/<stem>.png`` + ``root/depth/<stem>.pgm`` (the rgbd_nyu5 layout).

    Returns:
        ``(images, depth)``: float32 ``(N, H, W, 3)`` in [0, 1] and float32 ``(N, H, W)`` in
        metres, 0 where the sensor had no reading.

    Raises:
        ValueError: a frame without its depth map (or the reverse), or a size mismatch.

    Example:
        >>> images, depth = rgbd_frames("rgbd_nyu5/ch5/rgbd")  # doctest: +SKIP
    """
    root = Path(root)
    colors = _list_images(root / color_dir)
    depths = {p.stem: p for p in sorted((root / depth_dir).glob("*.pgm"), key=_natural_key)}
    if not depths:
        raise ValueError(f"No .pgm depth maps in {root / depth_dir}.")
    stems = _pair_stems(colors, depths, ("colour frame", "depth map"))
    images, maps = [], []
    for stem in stems:
        image = decode_image_bytes(colors[stem].read_bytes(), str(colors[stem]))
        if image.shape[-1] != 3:
            raise ValueError(f"{colors[stem]} has {image.shape[-1]} channel(s); expected RGB.")
        depth = read_depth_pgm(depths[stem])
        _check_same_size(image, colors[stem], depth, depths[stem], "depth map")
        images.append(image.astype(np.float32) / 255.0)
        maps.append(depth)
    paths = [colors[s] for s in stems]
    return _stack(images, paths, "Frames"), np.stack(maps)


# === tensorflow-datasets ===

def _check_size(image_size: Any) -> tuple[int, int]:
    size = tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise ValueError("`image_size` must be (height, width) of positive integers. "
                         f"Received: image_size={image_size!r}")
    return int(size[0]), int(size[1])


def _resize_image(image, size):
    """uint8 ``(H, W, C)`` -> float32 in [0, 1] at ``size`` (bilinear, antialiased)."""
    import tensorflow as tf

    image = tf.image.convert_image_dtype(image, tf.float32)
    return tf.clip_by_value(tf.image.resize(image, size, antialias=True), 0.0, 1.0)


def _resize_nearest(target, size):
    """``(H, W)`` -> ``(h, w)``, nearest neighbour (class ids and depths are not averaged)."""
    import tensorflow as tf

    return tf.image.resize(target[..., None], size, method="nearest")[..., 0]


def oxford_pets(split: str = "train", image_size: tuple[int, int] = (128, 128), *,
                data_dir: str | None = None, download: bool = True):
    """Oxford-IIIT Pet trimaps (tfds ``oxford_iiit_pet``) as ``{"image", "mask"}`` dicts.

    Parkhi et al., "Cats and Dogs", CVPR 2012. tfds stores the trimap as 1 = pet, 2 =
    background, 3 = border (the uncertain outline); the mask here is that minus one, classes
    `PET_CLASSES` = ``("pet", "background", "border")``. (Many tutorials then ignore or merge
    "border"; this reader keeps all three.) A mask value outside 1..3 stops the pipeline with
    an InvalidArgumentError.

    Args:
        split: a tfds split (``"train"``, ``"test"``, ``"train[:80%]"``).
        image_size: ``(height, width)`` of the output: images bilinear, masks nearest.
        data_dir: tfds data folder (default ``~/tensorflow_datasets``).
        download: let tfds download and prepare the data if absent (needs internet).

    Returns:
        A ``tf.data.Dataset`` of ``{"image": float32 (h, w, 3) in [0, 1], "mask": int32
        (h, w)}``.

    Example:
        >>> ds = oxford_pets("train", (128, 128)).map(lambda e: (e["image"], e["mask"]))
        >>> ds = ds.map(JointAugment(rotate=10, seed=0)).batch(16)  # doctest: +SKIP
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    size = _check_size(image_size)
    ds = tfds.load("oxford_iiit_pet", split=split, data_dir=data_dir, download=download,
                   try_gcs=False)

    def to_dense(example):
        mask = tf.cast(example["segmentation_mask"][..., 0], tf.int32) - 1
        check = tf.debugging.assert_less(
            tf.cast(mask, tf.uint32), tf.constant(3, tf.uint32),  # negative -> huge -> fails
            message="oxford_iiit_pet: segmentation_mask values must be 1, 2 or 3")
        with tf.control_dependencies([check]):
            mask = _resize_nearest(mask, size)
        return {"image": _resize_image(example["image"], size), "mask": mask}

    return ds.map(to_dense, num_parallel_calls=tf.data.AUTOTUNE)


def nyu_depth(split: str = "train", image_size: tuple[int, int] = (240, 320), *,
              data_dir: str | None = None, download: bool = True):
    """NYU Depth v2 (tfds ``nyu_depth_v2``) as ``{"image", "depth"}`` dicts.

    Silberman et al., "Indoor Segmentation and Support Inference from RGBD Images", ECCV
    2012; the training data of Eigen et al. (NeurIPS 2014). tfds gives 480x640 uint8 frames
    and float depth in metres (its splits are ``"train"`` and ``"validation"``; the tfds
    build is about 32 GB).

    Args:
        split: a tfds split.
        image_size: ``(height, width)``: images bilinear, depth nearest neighbour.
        data_dir: tfds data folder.
        download: let tfds download and prepare the data if absent (needs internet).

    Returns:
        A ``tf.data.Dataset`` of ``{"image": float32 (h, w, 3) in [0, 1], "depth": float32
        (h, w) metres}``.

    Example:
        >>> ds = nyu_depth("train", (60, 80))  # doctest: +SKIP
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    size = _check_size(image_size)
    ds = tfds.load("nyu_depth_v2", split=split, data_dir=data_dir, download=download,
                   try_gcs=False)

    def to_dense(example):
        depth = tf.cast(example["depth"], tf.float32)
        return {"image": _resize_image(example["image"], size),
                "depth": _resize_nearest(depth, size)}

    return ds.map(to_dense, num_parallel_calls=tf.data.AUTOTUNE)


# === tf.data pipeline ===

def dense_dataset(images: np.ndarray, targets: np.ndarray, batch_size: int,
                  augment: Callable[[Any, Any], tuple[Any, Any]] | None = None,
                  shuffle: bool = True, seed: int = 0, per_example: bool = True):
    """Arrays -> a ``tf.data.Dataset`` of ``(image, target)`` batches, jointly augmented.

    Args:
        images: float32 ``(N, H, W, C)`` in [0, 1].
        targets: int ``(N, H, W)`` class ids or float32 ``(N, H, W)`` depth.
        batch_size: examples per batch (the last batch may be smaller).
        augment: ``fn(image, target) -> (image, target)``, e.g.
            `training.augment_dense.JointAugment`; ``None`` for evaluation.
        shuffle: a new order every epoch, from ``seed``.
        seed: the shuffle seed.
        per_example: apply ``augment`` to each example before batching (every random draw
            per example), or, with ``False``, to whole batches (faster; JointAugment then
            crops and turns all images of a batch alike, flips and rotates each one).

    The augmentation map runs sequentially (not ``AUTOTUNE``): the augmenters keep their
    random state, and a parallel map would draw in a different order each run, so a seed
    would no longer fix the augmentations.

    Example:
        >>> ds = dense_dataset(x, y, 8, augment=JointAugment(rotate=15, seed=0))  # doctest: +SKIP
    """
    import tensorflow as tf

    if len(images) != len(targets):
        raise ValueError(f"{len(images)} images but {len(targets)} targets.")
    if np.ndim(images) != 4 or np.shape(targets)[:3] != np.shape(images)[:3]:
        raise ValueError("Expected images (N, H, W, C) and targets (N, H, W) of the same N, H "
                         f"and W. Received: images {np.shape(images)}, targets "
                         f"{np.shape(targets)}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
    ds = tf.data.Dataset.from_tensor_slices((images, targets))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if augment is not None and per_example:
        ds = ds.map(augment)
    ds = ds.batch(batch_size)
    if augment is not None and not per_example:
        ds = ds.map(augment)
    return ds.prefetch(tf.data.AUTOTUNE)
