"""Box-aware augmentation for object detection: the boxes move with the pixels.

Detection data are the Keras detection dicts ``{"images": float32 (B, H, W, 3) or (H, W, 3)
in 0..255, "bounding_boxes": {"boxes": (B, M, 4) float32 xyxy pixels, "labels": (B, M) int32}}``
(a single image has ``(M, 4)`` boxes and ``(M,)`` labels). Images with fewer than ``M`` objects
are padded with label ``-1`` and box ``(0, 0, 0, 0)``, the padding of Keras'
``densify_bounding_boxes``.

`box_augmenter` chains, as one ``keras.layers.Pipeline`` (the layer type of
`training.augment.build_augmenter`), a random crop (optional), a horizontal flip, a random
translation, a random zoom in and out, a small rotation (optional), a letterbox resize to the
training size (aspect ratio kept, grey padding), YOLOv5's HSV colour jitter, and a last step
that clips the boxes to the image and turns boxes that lost (almost) all their area into
padding. The geometric recipe follows YOLOv5's ``random_perspective`` + ``letterbox`` (Jocher
et al., ultralytics/yolov5, ``utils/augmentations.py``: translate 0.1, scale 0.5, flip 0.5,
HSV gains 0.015 / 0.7 / 0.4, grey 114 borders); the zoom default here is milder (0.2).

What comes from Keras (checked in the keras 3.15.1 source,
``keras/src/layers/preprocessing/image_preprocessing/``, and by the white-rectangle tests in
``tests/training/test_augment_boxes.py`` under TensorFlow and JAX; every layer gets
``bounding_box_format="xyxy"``):

* ``keras.layers.RandomFlip``, ``RandomTranslation``, ``RandomZoom`` (in and out) and
  ``RandomRotation`` (the box becomes the axis-aligned box of the turned corners, so it
  grows): boxes follow the pixels to within a pixel; used.
  Each draws one transformation per image of a batch. They clip boxes to the image and set
  the label of a box with zero area to -1, but leave its (degenerate) coordinates; `clip_boxes`
  zeroes them at the end.
* ``keras.layers.Resizing(pad_to_aspect_ratio=True)``: boxes land up to one output pixel off
  the pixels (the image is padded in input pixels, the boxes offset in output pixels, each
  rounded down); `Letterbox` subclasses it and places them exactly.
* ``keras.layers.RandomCrop``: written by hand instead (`RandomCropWithBoxes`). In Keras 3.15
  it subtracts the vertical crop offset from the *x* coordinates and the horizontal one from
  *y* (keras-team/keras#23518, fixed by #23519 after 3.15), does not clip boxes to the crop,
  and only draws a random window when *both* image sides exceed the crop (otherwise a fixed
  centre crop).
* HSV jitter: Keras' ``RandomHue`` / ``RandomSaturation`` / ``RandomBrightness`` shift or
  rescale differently from YOLOv5 and have no value (brightness) *gain*; `hsv_jitter` is
  hand-written with ``keras.ops.image.rgb_to_hsv`` (``tf.image`` in a tf.data map under JAX).

* Single images with boxes in a tf.data map under JAX / PyTorch: Keras 3.15's
  ``RandomFlip``, ``RandomTranslation`` and ``RandomZoom`` fail on them (batches work);
  `BoxPipeline`, the pipeline `box_augmenter` returns, runs single examples as batches of one.
* Mosaic (Bochkovskiy et al., "YOLOv4", 2020): Keras has none; `mosaic` / `RandomMosaic`
  tile four images of a batch and cut a random window, YOLOv5's ``load_mosaic``.

Everything runs on NumPy / JAX / TensorFlow batches and inside a ``tf.data`` map under any
backend (Keras' layers switch to TensorFlow there, and so do the hand-written ones), single
images or batches. With ``training=False`` (as in ``model.predict``) only the letterbox resize
and the box clean-up act.

Example:
    >>> augmenter = box_augmenter((320, 320), translate=0.1, zoom=0.2, seed=0)
    >>> ds = ds.map(augmenter, num_parallel_calls=tf.data.AUTOTUNE)  # per image, then batch
    >>> out = augmenter({"images": images, "bounding_boxes": {"boxes": b, "labels": y}})
    >>> ds = ds.batch(16).map(RandomMosaic(seed=0))  # optional: four images in each
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np

from training.augment import (
    _check,
    _check_choice,
    _check_range,
    _derive_seed,
    _is_number,
    _is_tf_tensor,
)

logger = logging.getLogger(__name__)

#: The box format of every box here: corners in pixels.
FORMAT = "xyxy"
#: The value range of detection images (0..255, as they are decoded).
VALUE_RANGE = (0.0, 255.0)
#: YOLOv5's grey for borders brought in by translation, zoom-out, rotation and letterboxing.
FILL_VALUE = 114.0
#: YOLOv5's HSV gains (``hsv_h``, ``hsv_s``, ``hsv_v`` of its ``hyp.scratch-low.yaml``).
DEFAULT_HSV = (0.015, 0.7, 0.4)

_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


# === Which ops: keras.ops, or TensorFlow inside a tf.data map under JAX / PyTorch ===


def _tf_data_under_other_backend(x: Any) -> bool:
    """True for a TensorFlow tensor while Keras runs another backend (a tf.data map)."""
    return _is_tf_tensor(x) and keras.backend.backend() != "tensorflow"


def _ops(x: Any) -> SimpleNamespace:
    """The few array ops this module needs, for the kind of tensor ``x`` is."""
    if _tf_data_under_other_backend(x):
        import tensorflow as tf  # lazy: a TensorFlow tensor is already at hand

        return SimpleNamespace(
            tf=tf,
            convert=tf.convert_to_tensor,
            cast=tf.cast,
            clip=tf.clip_by_value,
            where=tf.where,
            stack=tf.stack,
            mod=tf.math.floormod,
            shape=tf.shape,
            rgb_to_hsv=tf.image.rgb_to_hsv,
            hsv_to_rgb=tf.image.hsv_to_rgb,
        )
    ops = keras.ops
    return SimpleNamespace(
        tf=None,
        convert=ops.convert_to_tensor,
        cast=ops.cast,
        clip=ops.clip,
        where=ops.where,
        stack=ops.stack,
        mod=ops.mod,
        shape=ops.shape,
        rgb_to_hsv=ops.image.rgb_to_hsv,
        hsv_to_rgb=ops.image.hsv_to_rgb,
    )


def _first_leaf(inputs: Any) -> Any:
    return keras.tree.flatten(inputs)[0]


def _uniform(like: Any, shape, low: float, high: float, seed: Any):
    """Uniform float32 draws in ``[low, high)`` with the random ops that suit ``like``.

    ``seed`` as for ``keras.random`` (an integer: the same draw every call; a
    ``keras.random.SeedGenerator``: a new one each call; ``None``), or on TensorFlow tensors
    under JAX / PyTorch an integer, a ``tf.random.Generator`` or ``None``.
    """
    if not _tf_data_under_other_backend(like):
        return keras.random.uniform(shape, low, high, seed=seed)
    import tensorflow as tf  # lazy: a TensorFlow tensor is already at hand

    if isinstance(seed, tf.random.Generator):
        return seed.uniform(shape, low, high)
    if seed is None:
        return tf.random.uniform(shape, low, high)
    return tf.random.stateless_uniform(shape, seed=[int(seed), 0], minval=low, maxval=high)


# === Box clean-up ===


def clip_boxes(
    bounding_boxes: Mapping[str, Any], height: int, width: int, min_size: float = 1.0
) -> dict[str, Any]:
    """Clips xyxy boxes to a ``height x width`` image and turns lost boxes into padding.

    After clipping, a box with zero area or narrower or lower than ``min_size`` pixels (e.g. one
    pushed out of the image by a translation, or cut to a sliver by a crop) gets label -1 and box
    ``(0, 0, 0, 0)``, Keras' padding; so does every box that already had label -1. Keras' own
    layers (``keras.utils.bounding_boxes.clip_to_image_size``) set label -1 only for zero area
    and keep the degenerate coordinates; this zeroes them so padding is always the same.
    YOLOv5 (``box_candidates``) drops boxes under 2 px a side.

    Args:
        bounding_boxes: ``{"boxes": (..., M, 4), "labels": (..., M)}``; other keys pass through.
        height, width: the image size in pixels.
        min_size: the smallest side in pixels a box keeps its label with (>= 0).

    Returns:
        A new dict: boxes float32, labels int32.

    Example:
        >>> out = clip_boxes({"boxes": np.array([[-9., 5, 20, 30], [-9, -9, -1, -1]]),
        ...                   "labels": np.array([3, 4])}, height=24, width=32)
        >>> keras.ops.convert_to_numpy(out["labels"]).tolist()
        [3, -1]
    """
    xp = _ops(bounding_boxes["boxes"])
    boxes = xp.cast(xp.convert(bounding_boxes["boxes"]), "float32")
    labels = xp.cast(xp.convert(bounding_boxes["labels"]), "int32")
    height, width = float(height), float(width)
    x1, x2 = xp.clip(boxes[..., 0], 0.0, width), xp.clip(boxes[..., 2], 0.0, width)
    y1, y2 = xp.clip(boxes[..., 1], 0.0, height), xp.clip(boxes[..., 3], 0.0, height)
    widths, heights = x2 - x1, y2 - y1
    keep = (
        (labels >= 0) & (widths > 0) & (heights > 0) & (widths >= min_size) & (heights >= min_size)
    )
    boxes = xp.where(keep[..., None], xp.stack([x1, y1, x2, y2], axis=-1), 0.0)
    labels = xp.where(keep, labels, xp.cast(-1, "int32"))
    return {**bounding_boxes, "boxes": boxes, "labels": labels}


class _TFDataSafeLayer(keras.layers.Layer):
    """A layer that, given TensorFlow tensors under another backend (a tf.data map under JAX
    or PyTorch), runs its ``call`` on them directly instead of converting them to the
    backend's arrays (which a traced tf.data graph cannot do). Keras' own preprocessing
    layers switch to TensorFlow there the same way."""

    def __call__(self, inputs, *args, **kwargs):
        if _tf_data_under_other_backend(_first_leaf(inputs)):
            return self.call(inputs, *args, **kwargs)
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        return input_shape


class _RandomLayer(_TFDataSafeLayer):
    """A `_TFDataSafeLayer` with a seed: `_seed_for` gives a ``keras.random.SeedGenerator``,
    or in a tf.data map under JAX / PyTorch a ``tf.random.Generator`` made at the first call."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        self._tf_generator = None

    def _seed_for(self, x: Any) -> Any:
        if not _tf_data_under_other_backend(x):
            return self.generator
        if self._tf_generator is None:
            import tensorflow as tf  # lazy: a TensorFlow tensor is already at hand

            self._tf_generator = tf.random.Generator.from_seed(
                0 if self.seed is None else self.seed
            )
        return self._tf_generator


@keras.saving.register_keras_serializable(package="zoo_training")
class ClipBoxes(_TFDataSafeLayer):
    """`clip_boxes` as a layer on detection dicts: the last step of `box_augmenter`.

    Reads the image size from ``data["images"]`` (static height and width needed), clips the
    boxes, turns boxes under ``min_size`` pixels a side into padding (label -1, box 0) and
    returns labels as int32. Acts with ``training=False`` too. A plain image tensor passes
    through.

    Example:
        >>> out = ClipBoxes(min_size=2.0)({"images": images, "bounding_boxes": boxes})
    """

    def __init__(self, min_size: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        _check(
            _is_number(min_size) and min_size >= 0,
            "clip_boxes",
            "min_size",
            min_size,
            "a number >= 0 (pixels)",
        )
        self.min_size = float(min_size)

    def call(self, inputs, training=None):
        if not isinstance(inputs, Mapping) or "bounding_boxes" not in inputs:
            return inputs
        height, width = _static_size(inputs["images"], "ClipBoxes")
        return {
            **inputs,
            "bounding_boxes": clip_boxes(inputs["bounding_boxes"], height, width, self.min_size),
        }

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "min_size": self.min_size}


def _static_size(images, who: str) -> tuple[int, int]:
    height, width = tuple(images.shape)[-3:-1]
    if height is None or width is None:
        raise ValueError(
            f"{who} needs images of known height and width. Received: "
            f"images.shape={tuple(images.shape)}"
        )
    return int(height), int(width)


# === Random crop (Keras' moves boxes along swapped axes) ===


def _clip_to_output(bounding_boxes, boxes, height: int, width: int, bounding_box_format: str):
    """xyxy ``boxes`` moved into a ``height x width`` output: clipped to it (Keras' clip, which
    marks emptied boxes -1) and returned in the layer's ``bounding_box_format``; the crop's and
    the letterbox's last step."""
    out = keras.utils.bounding_boxes.clip_to_image_size(
        {**bounding_boxes, "boxes": boxes}, height=height, width=width,
        bounding_box_format=FORMAT)
    out["boxes"] = keras.utils.bounding_boxes.convert_format(
        out["boxes"], source=FORMAT, target=bounding_box_format, height=height, width=width)
    return out


@keras.saving.register_keras_serializable(package="zoo_training")
class RandomCropWithBoxes(keras.layers.RandomCrop):
    """Random ``height x width`` crop that moves the boxes correctly.

    Why it exists: ``keras.layers.RandomCrop`` of Keras 3.15 shifts boxes along swapped axes
    (``x - h_start``, ``y - w_start``; keras-team/keras#23518, fixed upstream by #23519 after
    3.15), does not clip them to the crop, and draws a random window only when both image
    sides exceed the crop (an image exactly as high as the crop always gets the same centre
    crop). ``test_keras_random_crop_still_swaps_axes`` says when Keras' own can be used again.

    What it keeps from Keras' layer: image slicing, one window per call (per image before
    batching, per batch after it), tf.data safety under every backend, dicts with
    ``"images"``, ``"bounding_boxes"``, ``"segmentation_masks"``. What differs: the window's
    top-left corner is uniform over all positions (rows ``0..H-height``, columns
    ``0..W-width``, drawn separately), boxes are shifted by ``(-left, -top)``, clipped to the
    crop, and a box left with zero area gets label -1 as in Keras' other layers
    (``keras.utils.bounding_boxes.clip_to_image_size``). With ``training=False`` images and
    boxes pass through uncropped (Keras' layer also passes images through). Images smaller
    than the crop are an error (Keras' layer would stretch them).

    Args:
        height, width: the crop size in pixels.
        seed: integer seed.
        bounding_box_format: the boxes' format (default ``"xyxy"``).

    Example:
        >>> crop = RandomCropWithBoxes(256, 256, seed=0)
        >>> out = crop({"images": images, "bounding_boxes": {"boxes": b, "labels": y}})
    """

    def __init__(
        self,
        height: int,
        width: int,
        seed: int | None = None,
        bounding_box_format: str = FORMAT,
        **kwargs,
    ):
        for name, value in (("height", height), ("width", width)):
            _check(
                isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0,
                "crop",
                name,
                value,
                "a positive integer (pixels)",
            )
        super().__init__(
            int(height), int(width), seed=seed, bounding_box_format=bounding_box_format, **kwargs
        )

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        shape = self.backend.shape(images)
        height, width = shape[self.height_axis], shape[self.width_axis]
        static = isinstance(height, int) and isinstance(width, int)  # not a tf.data tensor
        if not static:
            raise ValueError(
                "RandomCropWithBoxes needs images of known height and width. "
                f"Received: images.shape={tuple(images.shape)}"
            )
        if height < self.height or width < self.width:
            raise ValueError(
                f"RandomCropWithBoxes: the crop {self.height}x{self.width} is "
                f"larger than the images ({height}x{width})."
            )
        if seed is None:
            seed = self._get_seed_generator(self.backend._backend)
        random = self.backend.random
        top = random.uniform((), 0.0, float(height - self.height + 1), seed=seed)
        left = random.uniform((), 0.0, float(width - self.width + 1), seed=seed)
        # floor of a uniform in [0, n + 1): every offset 0..n equally likely (min: float
        # rounding can reach n + 1)
        top = self.backend.numpy.minimum(self.backend.cast(top, "int32"), height - self.height)
        left = self.backend.numpy.minimum(self.backend.cast(left, "int32"), width - self.width)
        return {"top": top, "left": left, "input_height": height, "input_width": width}

    def transform_images(self, images, transformation, training=True):
        if transformation is None or not training:
            return self.backend.cast(images, self.compute_dtype)
        return super().transform_images(
            images, (transformation["top"], transformation["left"]), training=True
        )

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return self.transform_images(segmentation_masks, transformation, training=training)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        if transformation is None or not training:
            return bounding_boxes
        ops = self.backend
        boxes = keras.utils.bounding_boxes.convert_format(
            bounding_boxes["boxes"],
            source=self.bounding_box_format,
            target=FORMAT,
            height=transformation["input_height"],
            width=transformation["input_width"],
        )
        top = ops.cast(transformation["top"], boxes.dtype)
        left = ops.cast(transformation["left"], boxes.dtype)
        boxes = ops.numpy.stack(
            [boxes[..., 0] - left, boxes[..., 1] - top, boxes[..., 2] - left, boxes[..., 3] - top],
            axis=-1,
        )
        return _clip_to_output(bounding_boxes, boxes, self.height, self.width,
                               self.bounding_box_format)


# === Letterbox (Keras' Resizing puts the boxes up to a pixel off) ===


@keras.saving.register_keras_serializable(package="zoo_training")
class Letterbox(keras.layers.Resizing):
    """Resize to ``height x width`` keeping the aspect ratio, padding with ``fill_value``.

    ``keras.layers.Resizing(pad_to_aspect_ratio=True)`` with the boxes placed exactly where
    its image op puts the pixels. Why it exists: Keras 3.15 pads the *image* in input pixels
    (``pad = int((int(W * height / width) - H) / 2)`` rows above and below, then resizes the
    padded image), but offsets the *boxes* by ``(height - H * scale) // 2`` output pixels, i.e.
    it floors in the other space: up to one output pixel off (2/3 px for 64x96 -> 64x64), and
    the scale ignores the rounding of the padding. Boxes here are ``(x + pad_left) * sx``,
    ``(y + pad_top) * sy`` with ``sx, sy`` the padded image's real scale factors. Padding boxes
    (all 0 or all -1) stay 0 as in Keras. Dynamic image sizes (a tf.data map of decoded JPEGs)
    work too. ``test_keras_resizing_pad_offsets_boxes`` says when Keras' own is exact.

    Args:
        height, width: the output size.
        fill_value: the padding value (YOLOv5's grey 114 by default).
        interpolation: as ``keras.layers.Resizing`` (default ``"bilinear"``).

    Example:
        >>> out = Letterbox(640, 640)({"images": images, "bounding_boxes": boxes})
    """

    def __init__(
        self,
        height: int,
        width: int,
        fill_value: float = FILL_VALUE,
        bounding_box_format: str = FORMAT,
        **kwargs,
    ):
        kwargs.pop("pad_to_aspect_ratio", None)
        super().__init__(
            height,
            width,
            pad_to_aspect_ratio=True,
            fill_value=fill_value,
            bounding_box_format=bounding_box_format,
            **kwargs,
        )

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        ops = self.backend
        input_height, input_width = transformation
        boxes = bounding_boxes["boxes"]
        padding = ops.numpy.logical_or(
            ops.numpy.all(boxes == -1, axis=-1), ops.numpy.all(boxes == 0, axis=-1)
        )
        boxes = keras.utils.bounding_boxes.convert_format(
            boxes,
            source=self.bounding_box_format,
            target=FORMAT,
            height=input_height,
            width=input_width,
        )
        in_h = ops.cast(input_height, "float32")
        in_w = ops.cast(input_width, "float32")
        # the image op's padding (keras/src/backend/*/image.py, resize): whole input pixels
        pad_h = ops.numpy.maximum(in_h, ops.numpy.floor(in_w * self.height / self.width))
        pad_w = ops.numpy.maximum(in_w, ops.numpy.floor(in_h * self.width / self.height))
        top = ops.numpy.floor((pad_h - in_h) / 2)
        left = ops.numpy.floor((pad_w - in_w) / 2)
        sy = self.height / (in_h + 2 * top)
        sx = self.width / (in_w + 2 * left)
        boxes = ops.numpy.stack(
            [
                (boxes[..., 0] + left) * sx,
                (boxes[..., 1] + top) * sy,
                (boxes[..., 2] + left) * sx,
                (boxes[..., 3] + top) * sy,
            ],
            axis=-1,
        )
        boxes = ops.numpy.where(padding[..., None], ops.numpy.zeros_like(boxes), boxes)
        return _clip_to_output(bounding_boxes, boxes, self.height, self.width,
                               self.bounding_box_format)


# === YOLOv5's HSV jitter ===


def apply_hsv_gains(images, gains, value_range: Sequence[float] = VALUE_RANGE):
    """Multiplies hue, saturation and value of RGB ``images`` by ``gains``, YOLOv5's way.

    ``h' = (h * g_h) mod 1``, ``s' = clip(s * g_s, 0, 1)``, ``v' = clip(v * g_v, 0, 1)``, in
    HSV with all three in [0, 1] (YOLOv5's ``augment_hsv`` does the same on OpenCV's uint8
    HSV with look-up tables: hue ``(x * g_h) % 180``). The hue is *multiplied*, not shifted,
    so hues near red (0) barely move and violet ones move most, as in YOLOv5.

    Args:
        images: float RGB ``(..., H, W, 3)`` in ``value_range``.
        gains: ``(..., 1, 1, 3)`` (one ``(g_h, g_s, g_v)`` per image) or ``(3,)``.
        value_range: ``(low, high)`` of the images.

    Returns:
        float32 images of the same shape, in ``value_range``.
    """
    xp = _ops(images)
    low, high = float(value_range[0]), float(value_range[1])
    scale = high - low
    x = xp.clip((xp.cast(images, "float32") - low) / scale, 0.0, 1.0)
    gains = xp.cast(gains, "float32")
    hsv = xp.rgb_to_hsv(x)
    hue = xp.mod(hsv[..., 0] * gains[..., 0], 1.0)
    saturation = xp.clip(hsv[..., 1] * gains[..., 1], 0.0, 1.0)
    value = xp.clip(hsv[..., 2] * gains[..., 2], 0.0, 1.0)
    rgb = xp.hsv_to_rgb(xp.stack([hue, saturation, value], axis=-1))
    return xp.clip(rgb * scale + low, low, high)


def _gain_shape(images) -> tuple:
    """``(B, 1, 1, 3)`` for a batch, ``(1, 1, 3)`` for one image (B may be a tensor)."""
    rank = len(images.shape)
    if rank == 3:
        return (1, 1, 3)
    if rank != 4:
        raise ValueError(
            f"Expected images (H, W, 3) or (B, H, W, 3). Received: "
            f"images.shape={tuple(images.shape)}"
        )
    batch = images.shape[0]
    if batch is None:
        batch = _ops(images).shape(images)[0]
    return (batch, 1, 1, 3)


def _check_hsv(hue, saturation, value) -> tuple[float, float, float]:
    gains = []
    for name, gain in (("hue", hue), ("saturation", saturation), ("value", value)):
        gains.append(_check_range("hsv", name, gain, 0.0, 1.0, low_open=False))
    return tuple(gains)


def hsv_jitter(
    images,
    hue: float = DEFAULT_HSV[0],
    saturation: float = DEFAULT_HSV[1],
    value: float = DEFAULT_HSV[2],
    seed: Any = None,
    value_range: Sequence[float] = VALUE_RANGE,
):
    """YOLOv5's colour augmentation: random HSV gains, one triple per image.

    Each image gets gains ``g_h, g_s, g_v`` uniform in ``[1 - hue, 1 + hue]``,
    ``[1 - saturation, 1 + saturation]``, ``[1 - value, 1 + value]`` (YOLOv5:
    ``r = uniform(-1, 1, 3) * [hgain, sgain, vgain] + 1``), applied by `apply_hsv_gains`. Boxes
    are not touched (colour does not move objects). Grey pixels keep their hue and
    saturation (0), so only the value gain changes them.

    Args:
        images: float RGB ``(H, W, 3)`` or ``(B, H, W, 3)`` in ``value_range``.
        hue, saturation, value: the largest relative gains, each in [0, 1]
            (YOLOv5: 0.015, 0.7, 0.4).
        seed: as for ``keras.random``: an integer (the same draw every call), a
            ``keras.random.SeedGenerator`` (a new draw each call) or ``None``. On TensorFlow
            tensors under JAX / PyTorch (a tf.data map): an integer, a ``tf.random.Generator``
            or ``None``.
        value_range: ``(low, high)`` of the images.

    Returns:
        float32 images, same shape, in ``value_range``.

    Example:
        >>> out = hsv_jitter(images, 0.015, 0.7, 0.4, seed=0)
    """
    limits = _check_hsv(hue, saturation, value)
    xp = _ops(images)
    u = _uniform(images, _gain_shape(images), -1.0, 1.0, seed)
    gains = 1.0 + u * xp.convert(np.asarray(limits, "float32"))
    return apply_hsv_gains(images, gains, value_range)


@keras.saving.register_keras_serializable(package="zoo_training")
class RandomHSV(_RandomLayer):
    """`hsv_jitter` as a layer: a new draw every call, boxes and other keys pass through.

    Takes images or detection dicts. Active by default and with ``training=True`` (in
    ``dataset.map`` and ``fit``), off with ``training=False``. In a tf.data map under JAX /
    PyTorch it draws from a ``tf.random.Generator`` seeded with ``seed``, otherwise from a
    ``keras.random.SeedGenerator``.

    Args:
        hue, saturation, value: the largest relative gains, each in [0, 1].
        value_range: ``(low, high)`` of the images (default 0..255).
        seed: integer seed.

    Example:
        >>> out = RandomHSV(0.015, 0.7, 0.4, seed=0)({"images": images, "bounding_boxes": b})
    """

    def __init__(
        self,
        hue: float = DEFAULT_HSV[0],
        saturation: float = DEFAULT_HSV[1],
        value: float = DEFAULT_HSV[2],
        value_range: Sequence[float] = VALUE_RANGE,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        self.hue, self.saturation, self.value = _check_hsv(hue, saturation, value)
        self.value_range = tuple(float(v) for v in value_range)

    def call(self, inputs, training=True):
        if training is False:
            return inputs
        images = inputs["images"] if isinstance(inputs, Mapping) else inputs
        out = hsv_jitter(
            images,
            self.hue,
            self.saturation,
            self.value,
            seed=self._seed_for(images),
            value_range=self.value_range,
        )
        return {**inputs, "images": out} if isinstance(inputs, Mapping) else out

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "hue": self.hue,
            "saturation": self.saturation,
            "value": self.value,
            "value_range": self.value_range,
            "seed": self.seed,
        }


# === Mosaic (YOLOv4) ===


def mosaic(data: Mapping[str, Any], seed: Any = None, min_size: float = 1.0) -> dict[str, Any]:
    """YOLOv4's mosaic: each image of a batch becomes four images of the batch in one.

    Output image ``i`` tiles images ``i, i+1, i+2, i+3`` (mod B) of the batch as the top-left,
    top-right, bottom-left and bottom-right quarters of a ``2H x 2W`` canvas and cuts a random
    ``H x W`` window from it, its top-left corner uniform over ``[0, H] x [0, W]`` (drawn per
    image). That is YOLOv5's ``load_mosaic``: the four images meet at a centre uniform in
    ``[H/2, 3H/2] x [W/2, 3W/2]`` of the canvas, each showing the part next to the centre
    (Bochkovskiy et al., "YOLOv4: Optimal Speed and Accuracy of Object Detection",
    arXiv:2004.10934, 2020). Boxes move with their tile and the window, are clipped, and
    boxes under ``min_size`` px a side become padding (`clip_boxes`).

    Use it on batches of one image size, e.g. after `box_augmenter` and ``batch``:
    ``ds.map(augmenter).batch(16).map(RandomMosaic(seed=0))``.

    Args:
        data: a batched detection dict: images ``(B, H, W, C)``, boxes ``(B, M, 4)`` xyxy,
            labels ``(B, M)``.
        seed: as for `hsv_jitter`.
        min_size: boxes with a side below this (pixels) are dropped.

    Returns:
        A detection dict with images ``(B, H, W, C)`` and ``4 * M`` box slots (the four
        images' boxes, in tile order); other keys pass through (from image ``i``).

    Example:
        >>> out = mosaic({"images": images, "bounding_boxes": boxes}, seed=0)
    """
    images = data["images"]
    if len(images.shape) != 4:
        raise ValueError(
            f"mosaic needs a batch of images (B, H, W, C). Received: images.shape="
            f"{tuple(images.shape)}"
        )
    height, width = _static_size(images, "mosaic")
    xp = _ops(images)
    tf = xp.tf
    ops = keras.ops
    roll = tf.roll if tf is not None else ops.roll
    concat = tf.concat if tf is not None else ops.concatenate
    images = xp.cast(xp.convert(images), "float32")
    boxes = xp.cast(xp.convert(data["bounding_boxes"]["boxes"]), "float32")
    labels = xp.cast(xp.convert(data["bounding_boxes"]["labels"]), "int32")

    tiles = [roll(images, -k, axis=0) for k in range(4)]  # tile k of output i: image i + k
    canvas = concat(
        [concat(tiles[:2], axis=2), concat(tiles[2:], axis=2)], axis=1
    )  # (B, 2H, 2W, C)
    offsets = [(0, 0), (width, 0), (0, height), (width, height)]
    boxes = concat(
        [
            roll(boxes, -k, axis=0) + np.array([dx, dy, dx, dy], "float32")
            for k, (dx, dy) in enumerate(offsets)
        ],
        axis=1,
    )
    labels = concat([roll(labels, -k, axis=0) for k in range(4)], axis=1)

    batch = xp.shape(images)[0]
    corner = _uniform(images, (batch, 2), 0.0, 1.0, seed) * np.array(
        [height + 1, width + 1], "float32"
    )
    corner = xp.cast(corner, "int32")  # floor: every offset 0..H (0..W) equally likely
    top = xp.clip(corner[:, 0], 0, height)
    left = xp.clip(corner[:, 1], 0, width)
    rows = top[:, None] + np.arange(height, dtype="int32")  # (B, H)
    cols = left[:, None] + np.arange(width, dtype="int32")  # (B, W)
    if tf is not None:
        window = tf.gather(canvas, rows, axis=1, batch_dims=1)
        window = tf.gather(window, cols, axis=2, batch_dims=1)
    else:
        channels = canvas.shape[-1]
        rows = ops.broadcast_to(rows[:, :, None, None], (batch, height, 2 * width, channels))
        window = ops.take_along_axis(canvas, rows, axis=1)
        cols = ops.broadcast_to(cols[:, None, :, None], (batch, height, width, channels))
        window = ops.take_along_axis(window, cols, axis=2)
    shift = xp.cast(xp.stack([left, top, left, top], axis=-1), "float32")[:, None, :]
    out_boxes = {**data["bounding_boxes"], "boxes": boxes - shift, "labels": labels}
    return {
        **data,
        "images": window,
        "bounding_boxes": clip_boxes(out_boxes, height, width, min_size),
    }


@keras.saving.register_keras_serializable(package="zoo_training")
class RandomMosaic(_RandomLayer):
    """`mosaic` as a layer on batched detection dicts (a new draw each call).

    Active by default and with ``training=True``, off with ``training=False``.

    Args:
        min_size: boxes with a side below this (pixels) are dropped.
        seed: integer seed.

    Example:
        >>> ds = ds.map(box_augmenter((320, 320), seed=0)).batch(16).map(RandomMosaic(seed=1))
    """

    def __init__(self, min_size: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.min_size = float(min_size)

    def call(self, inputs, training=True):
        if training is False:
            return inputs
        return mosaic(inputs, seed=self._seed_for(inputs["images"]), min_size=self.min_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "min_size": self.min_size, "seed": self.seed}


# === The pipeline ===


def _check_size(image_size: Any, name: str) -> tuple[int, int]:
    size = tuple(image_size) if isinstance(image_size, Sequence) else ()
    _check(
        len(size) in (2, 3)
        and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in size
        ),
        "box_augmenter",
        name,
        image_size,
        "(height, width) of positive integers",
    )
    return int(size[0]), int(size[1])


def box_augmenter(
    image_size: Sequence[int],
    flip: bool | str = True,
    translate: float = 0.1,
    zoom: float = 0.2,
    rotation: float = 0.0,
    hsv: Sequence[float] | None = DEFAULT_HSV,
    crop: Sequence[int] | None | bool = None,
    seed: int | None = None,
    *,
    fill_value: float = FILL_VALUE,
    min_size: float = 1.0,
) -> BoxPipeline:
    """Box-aware augmentation of detection dicts, ending in a letterbox to ``image_size``.

    The layers, in order (each left out when off; every random one draws per image):

    1. ``crop=(h, w)``: `RandomCropWithBoxes`, a random ``h x w`` window (images must be at
       least that large).
    2. ``flip``: ``keras.layers.RandomFlip`` (``True`` = ``"horizontal"``, probability 1/2;
       ``"horizontal_and_vertical"`` uses one layer per axis, so the two flips are
       independent).
    3. ``translate=t``: ``keras.layers.RandomTranslation`` by up to ``t`` of the height and
       the width, independently.
    4. ``zoom=z``: ``keras.layers.RandomZoom`` by a factor drawn in ``[-z, z]`` (zoom in and
       out, aspect ratio kept).
    5. ``rotation=d``: ``keras.layers.RandomRotation`` by up to ``d`` degrees. The box of a
       turned object is the box of its turned box, which is larger than the object.
    6. `Letterbox` (``keras.layers.Resizing(*image_size, pad_to_aspect_ratio=True)`` with
       exact boxes): always, also with ``training=False``.
    7. ``hsv=(h, s, v)``: `RandomHSV`, YOLOv5's colour gains.
    8. `ClipBoxes`: boxes clipped to the image; boxes under ``min_size`` px a side become
       padding (label -1, box 0); labels int32 (always).

    Borders from translation, zoom-out, rotation and letterboxing are ``fill_value`` (YOLOv5's
    grey 114). Each random layer's seed is derived from ``seed`` (``None``: unseeded).

    Args:
        image_size: ``(height, width)`` of the output.
        flip: ``True`` / ``"horizontal"``, ``"vertical"``, ``"horizontal_and_vertical"`` or
            ``False``.
        translate: largest shift as a fraction of the image side, in [0, 1).
        zoom: largest relative zoom in or out, in [0, 1).
        rotation: largest angle in degrees, in [0, 180].
        hsv: ``(hue, saturation, value)`` gains, each in [0, 1], or ``None``.
        crop: ``(height, width)`` of a random crop taken first, or ``None`` / ``False``.
        seed: integer seed of the whole pipeline.
        fill_value: value of the borders brought in, in 0..255.
        min_size: boxes with a side below this (pixels) after augmentation are dropped.

    Returns:
        A `BoxPipeline` (a ``keras.layers.Pipeline``) named ``"augment_boxes"`` mapping a
        detection dict to a detection dict with images ``image_size`` (float32, 0..255),
        boxes float32 xyxy and labels int32. Other keys pass through.

    Raises:
        ValueError: a parameter out of range (the message names it).

    Example:
        >>> augmenter = box_augmenter((64, 64), rotation=5, crop=(96, 96), seed=0)
        >>> out = augmenter({"images": np.zeros((2, 100, 120, 3), "float32"),
        ...                  "bounding_boxes": {"boxes": np.zeros((2, 5, 4), "float32"),
        ...                                     "labels": np.full((2, 5), -1, "int32")}})
        >>> tuple(out["images"].shape)
        (2, 64, 64, 3)
    """
    height, width = _check_size(image_size, "image_size")
    if flip is True:
        flip = "horizontal"
    if flip not in (False, None):
        _check_choice("box_augmenter", "flip", flip, _FLIP_MODES)
    translate = _check_range("box_augmenter", "translate", translate, 0.0, 1.0, low_open=False)
    zoom = _check_range("box_augmenter", "zoom", zoom, 0.0, 1.0, low_open=False)
    _check(
        translate < 1 and zoom < 1,
        "box_augmenter",
        "translate / zoom",
        (translate, zoom),
        "below 1",
    )
    rotation = _check_range("box_augmenter", "rotation", rotation, 0.0, 180.0, low_open=False)
    _check(
        _is_number(fill_value) and 0 <= fill_value <= 255,
        "box_augmenter",
        "fill_value",
        fill_value,
        "a number in [0, 255]",
    )
    if crop is True:
        crop = (height, width)
    if crop not in (False, None):
        crop = _check_size(crop, "crop")
    if hsv is not None and hsv is not False:
        _check(
            isinstance(hsv, Sequence) and len(hsv) == 3,
            "box_augmenter",
            "hsv",
            hsv,
            "None or (hue, saturation, value)",
        )

    layers: list[keras.layers.Layer] = []

    def layer_seed(name: str) -> int | None:
        return None if seed is None else _derive_seed(seed, len(layers), name)

    box = {"bounding_box_format": FORMAT}
    fill = {"fill_mode": "constant", "fill_value": float(fill_value)}
    if crop not in (False, None):
        layers.append(RandomCropWithBoxes(*crop, seed=layer_seed("crop"), name="crop"))
    if flip not in (False, None):
        modes = ("horizontal", "vertical") if flip == "horizontal_and_vertical" else (flip,)
        for mode in modes:
            layers.append(
                keras.layers.RandomFlip(mode, seed=layer_seed(mode), name=f"flip_{mode}", **box)
            )
    if translate:
        layers.append(
            keras.layers.RandomTranslation(
                (-translate, translate),
                (-translate, translate),
                seed=layer_seed("translate"),
                name="translate",
                **fill,
                **box,
            )
        )
    if zoom:
        layers.append(
            keras.layers.RandomZoom(
                (-zoom, zoom), None, seed=layer_seed("zoom"), name="zoom", **fill, **box
            )
        )
    if rotation:
        layers.append(
            keras.layers.RandomRotation(
                rotation / 360.0, seed=layer_seed("rotation"), name="rotation", **fill, **box
            )
        )
    layers.append(Letterbox(height, width, fill_value=float(fill_value), name="letterbox"))
    if hsv is not None and hsv is not False:
        layers.append(RandomHSV(*hsv, seed=layer_seed("hsv"), name="hsv"))
    layers.append(ClipBoxes(min_size, name="clip_boxes"))
    logger.debug("box augmenter: %s", ", ".join(layer.name for layer in layers))
    return BoxPipeline(layers, name="augment_boxes")


@keras.saving.register_keras_serializable(package="zoo_training")
class BoxPipeline(keras.layers.Pipeline):
    """A ``keras.layers.Pipeline`` that runs single detection examples as batches of one.

    Why: in a tf.data map under JAX / PyTorch, Keras 3.15's ``RandomFlip``,
    ``RandomTranslation`` and ``RandomZoom`` fail on a *single* image with boxes (their
    ``transform_bounding_boxes`` ends with ``self.backend.reset()``, which switches the layer
    back from TensorFlow to the JAX backend before the base layer squeezes the batch axis
    off the boxes, so JAX is handed a symbolic tf.Tensor); batches work. An unbatched dict
    (images ``(H, W, C)``, boxes ``(M, 4)``, labels ``(M,)``) gets a batch axis here before
    the layers and loses it after. Batches and plain image tensors pass straight through.
    NumPy values of the dict (e.g. an ``"id"``) are made tensors first, so that Keras does not
    find tensors and arrays mixed in one call.
    """

    def call(self, inputs, training=True, mask=None):
        if not isinstance(inputs, Mapping) or "images" not in inputs:
            return super().call(inputs, training=training, mask=mask)
        xp = _ops(_first_leaf(inputs))
        # NumPy leaves become tensors, or the second layer would see tensors and arrays mixed
        inputs = keras.tree.map_structure(
            lambda x: xp.convert(x) if isinstance(x, (np.ndarray, np.generic)) else x, inputs
        )
        if len(inputs["images"].shape) != 3:
            return super().call(inputs, training=training, mask=mask)
        expand = xp.tf.expand_dims if xp.tf is not None else keras.ops.expand_dims
        squeeze = xp.tf.squeeze if xp.tf is not None else keras.ops.squeeze
        batch = {**inputs, "images": expand(inputs["images"], 0)}
        if "bounding_boxes" in inputs:
            batch["bounding_boxes"] = {k: expand(v, 0) for k, v in inputs["bounding_boxes"].items()}
        out = super().call(batch, training=training, mask=mask)
        out = {**out, "images": squeeze(out["images"], 0)}
        if "bounding_boxes" in out:
            out["bounding_boxes"] = {k: squeeze(v, 0) for k, v in out["bounding_boxes"].items()}
        return out
