"""Data augmentation: the course's image augmentations as named Keras preprocessing layers.

The usual recipes for small-image classification, each as a `keras.layers` preprocessing layer
with a registry name and course defaults:

- ``flip``, ``crop``: random horizontal flip and pad-4-then-random-crop, the CIFAR-10 recipe of
  He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Sec. 4.2 (flips and
  crops go back to Krizhevsky et al., "ImageNet Classification with Deep Convolutional Neural
  Networks", NeurIPS 2012).
- ``zoom`` (random crop-and-resize), ``rotate`` (small rotation, about +-10 degrees).
- ``hue``, ``saturation``, ``contrast``, ``brightness``: photometric (colour) changes.
- ``noise``: additive Gaussian noise.
- ``cutout``: information loss by erasing a random box, DeVries and Taylor, "Improved
  Regularization of Convolutional Neural Networks with Cutout", arXiv:1708.04552, 2017, and
  Zhong et al., "Random Erasing Data Augmentation", AAAI 2020.
- `mixup` / `mixup_map`: convex combinations of image pairs and their labels, Zhang et al.,
  "mixup: Beyond Empirical Risk Minimization", ICLR 2018.

Conventions: images are float32 in [0, 1], channels-last, one image ``(H, W, C)`` or a batch
``(B, H, W, C)``, and every op returns the same shape, dtype and range (colour layers get
``value_range=(0, 1)``; noise is clipped). Geometric ops are label-preserving only for images
where that transformation keeps the class: **do not flip digits or text** (MNIST's "2" mirrored
is not a "2"); ``flip`` is for natural images, and each recipe picks its own ops.

`build_augmenter` returns a ``keras.layers.Pipeline``: call it on NumPy / JAX / TensorFlow
batches (it runs on the GPU under ``KERAS_BACKEND=jax``), put it in front of a model (it is
then active in ``fit`` and off in ``predict``), or map it over a ``tf.data.Dataset`` with
`augment_map`. TensorFlow is imported only where a TensorFlow tensor is already at hand.

Example:
    >>> augmenter = build_augmenter(["flip", "crop", "cutout"], image_size=(32, 32), seed=0)
    >>> ds = ds.batch(128).map(augment_map(augmenter), num_parallel_calls=tf.data.AUTOTUNE)
    >>> ds = ds.map(mixup_map(alpha=0.2, num_classes=10, seed=0))  # then categorical CE

A picture grid of every op on real MNIST digits and a colour test image:

    python -m training.augment --show [--out docs/augmentations.png] [--ops flip,rotate]
                                      [--seed 0] [--images DIR] [--samples 4] [--size 64]
"""

from __future__ import annotations

import argparse
import inspect
import logging
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

logger = logging.getLogger(__name__)

#: The value range of every image entering (and leaving) augmentation.
VALUE_RANGE = (0.0, 1.0)

#: Ops that need RGB images (they convert to HSV).
COLOUR_OPS = ("hue", "saturation")

_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
_FILL_MODES = ("reflect", "wrap", "constant", "nearest")


# === Checks ===

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check(ok: bool, op: str, param: str, value: Any, expected: str) -> None:
    """Raises a ValueError naming the op, the parameter, what it must be, and what it got."""
    if not ok:
        raise ValueError(f"Augmentation {op!r}: `{param}` must be {expected}. "
                         f"Received: {param}={value!r}")


def _check_range(op: str, param: str, value: Any, low: float, high: float,
                 low_open: bool = True) -> float:
    inside = _is_number(value) and (low < value if low_open else low <= value) and value <= high
    _check(inside, op, param, value,
           f"a number in {'(' if low_open else '['}{low}, {high}]")
    return float(value)


def _check_choice(op: str, param: str, value: Any, choices: Sequence[str]) -> str:
    _check(value in choices, op, param, value, f"one of {', '.join(map(repr, choices))}")
    return value


# === Hand-written layer (Keras lacks it) ===

@keras.saving.register_keras_serializable(package="zoo_training")
class RandomGaussianNoise(keras.layers.Layer):
    """Additive Gaussian noise for augmentation, clipped back to the image range.

    Hand-written as a thin wrapper because Keras lacks it: `keras.layers.GaussianNoise` is a
    regulariser that only acts when called with ``training=True`` (it defaults to
    ``False``) and does not clip. This layer defaults to ``training=True`` like Keras'
    image preprocessing layers (so it acts in `dataset.map` and in ``fit``, not in
    ``predict``), then clips to ``value_range``.

    Inside a ``tf.data`` pipeline under the JAX or PyTorch backend, where Keras cannot run
    its backend ops on TensorFlow graph tensors, it adds the noise with TensorFlow ops
    (``tf.random.normal`` with the op seed ``seed``), as Keras' own image layers switch to
    TensorFlow there.

    Args:
        stddev: standard deviation of the noise, in (0, 1].
        value_range: ``(low, high)`` the output is clipped to.
        seed: integer seed of the noise.

    Example:
        >>> noisy = RandomGaussianNoise(0.1, seed=0)(np.full((4, 32, 32, 3), 0.5, "float32"))
    """

    def __init__(self, stddev: float, value_range: tuple[float, float] = VALUE_RANGE,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = stddev
        self.value_range = tuple(value_range)
        self.seed = seed
        self.noise = keras.layers.GaussianNoise(stddev, seed=seed, name="gaussian_noise")

    def __call__(self, inputs, *args, **kwargs):
        if _is_tf_tensor(inputs) and keras.backend.backend() != "tensorflow":
            import tensorflow as tf  # lazy: a TensorFlow tensor is already at hand

            if tf.inside_function():  # a tf.data map under JAX / PyTorch
                x = tf.cast(inputs, "float32")
                if kwargs.get("training", True) is not False:
                    x = x + tf.random.normal(tf.shape(x), stddev=self.stddev, seed=self.seed)
                return tf.clip_by_value(x, self.value_range[0], self.value_range[1])
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=True):
        outputs = self.noise(inputs, training=training)
        return keras.ops.clip(outputs, self.value_range[0], self.value_range[1])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev,
                "value_range": self.value_range, "seed": self.seed}


# === The ops: factories (image_size, *, seed, **params) -> keras layer ===

def flip(image_size: tuple[int, int], *, mode: str = "horizontal",
         seed: int | None = None) -> keras.layers.Layer:
    """Random mirror image (``keras.layers.RandomFlip``), each image with probability 1/2.

    For natural images only (Krizhevsky et al. 2012; He et al. 2016): never for digits or text.

    Args:
        image_size: ``(H, W)`` (unused; every factory takes it).
        mode: ``"horizontal"`` (left-right, the course default), ``"vertical"`` or
            ``"horizontal_and_vertical"``.
        seed: integer seed.

    Example:
        >>> layer = flip((32, 32), seed=0)
    """
    _check_choice("flip", "mode", mode, _FLIP_MODES)
    return keras.layers.RandomFlip(mode, seed=seed, name="flip")


def rotate(image_size: tuple[int, int], *, factor: float = 10 / 360, fill_mode: str = "reflect",
           seed: int | None = None) -> keras.layers.Layer:
    """Small random rotation (``keras.layers.RandomRotation``, bilinear).

    Args:
        image_size: ``(H, W)`` (unused).
        factor: largest angle as a fraction of a full turn; the default ``10 / 360`` rotates by
            up to +-10 degrees, the course's "small rotation".
        fill_mode: how the corners are filled: ``"reflect"`` (default), ``"wrap"``,
            ``"constant"`` (black) or ``"nearest"``.
        seed: integer seed.

    Example:
        >>> layer = rotate((28, 28), factor=15 / 360, fill_mode="constant", seed=0)
    """
    factor = _check_range("rotate", "factor", factor, 0.0, 0.5)
    _check_choice("rotate", "fill_mode", fill_mode, _FILL_MODES)
    return keras.layers.RandomRotation(factor, fill_mode=fill_mode, interpolation="bilinear",
                                       fill_value=0.0, seed=seed, name="rotate")


def crop(image_size: tuple[int, int], *, padding: int = 4, fill_mode: str = "constant",
         seed: int | None = None) -> keras.layers.Layer:
    """Pad-then-random-crop (the CIFAR recipe), as a random shift of up to ``padding`` pixels.

    He et al. (2016, Sec. 4.2) pad 32x32 images by 4 zero pixels per side and take a random
    32x32 crop. That is the same as shifting the image by a random whole number of pixels in
    [-4, 4] along each axis with zeros coming in, which is what this layer does with
    ``keras.layers.RandomTranslation(padding / H, padding / W, fill_mode="constant",
    interpolation="nearest")``: pixels are copied, not interpolated, and the output has the
    input's size. It is used instead of ``ZeroPadding2D`` + ``keras.layers.RandomCrop`` because
    RandomCrop draws one crop position per *batch*, while this draws one per image. (The shift is
    drawn uniformly in [-padding, padding] and rounded, so the two extreme shifts are half as
    likely as the others.)

    Args:
        image_size: ``(H, W)`` of the images, to turn ``padding`` pixels into a fraction.
        padding: largest shift in pixels, a positive integer smaller than ``H`` and ``W``.
        fill_mode: ``"constant"`` (zero padding, default) or ``"reflect"``, ``"wrap"``,
            ``"nearest"``.
        seed: integer seed.

    Example:
        >>> layer = crop((32, 32), padding=4, seed=0)
    """
    height, width = image_size[:2]
    _check(isinstance(padding, (int, np.integer)) and not isinstance(padding, bool)
           and 0 < padding < min(height, width), "crop", "padding", padding,
           f"a positive integer smaller than the image size {height}x{width}")
    _check_choice("crop", "fill_mode", fill_mode, _FILL_MODES)
    return keras.layers.RandomTranslation(padding / height, padding / width, fill_mode=fill_mode,
                                          interpolation="nearest", fill_value=0.0, seed=seed,
                                          name="crop")


def zoom(image_size: tuple[int, int], *, factor: float = 0.2,
         seed: int | None = None) -> keras.layers.Layer:
    """Random crop-and-resize: zoom in by up to ``factor`` (``keras.layers.RandomZoom``).

    A random window with sides ``(1 - f) * H`` by ``(1 - f) * W``, ``f`` uniform in
    ``[0, factor]``, is cut and resized back to ``H x W`` (bilinear), the scale augmentation
    of Krizhevsky et al. (2012) in a mild form. It only zooms in, so no border is invented.

    Args:
        image_size: ``(H, W)`` (unused).
        factor: largest relative zoom, in (0, 1).
        seed: integer seed.

    Example:
        >>> layer = zoom((64, 64), factor=0.3, seed=0)
    """
    factor = _check_range("zoom", "factor", factor, 0.0, 1.0)
    _check(factor < 1.0, "zoom", "factor", factor, "below 1")
    return keras.layers.RandomZoom((-factor, 0.0), None, fill_mode="reflect",
                                   interpolation="bilinear", seed=seed, name="zoom")


def hue(image_size: tuple[int, int], *, delta: float = 0.05,
        seed: int | None = None) -> keras.layers.Layer:
    """Random hue shift of up to ``delta`` of the colour wheel (``keras.layers.RandomHue``).

    RGB images only. ``delta=0.05`` turns hues by up to +-18 degrees. (Keras' ``factor`` is
    ``2 * delta``: RandomHue shifts by up to half its factor.)

    Args:
        image_size: ``(H, W)`` (unused).
        delta: largest shift as a fraction of the hue circle, in (0, 0.5].
        seed: integer seed.

    Example:
        >>> layer = hue((32, 32), delta=0.1, seed=0)
    """
    delta = _check_range("hue", "delta", delta, 0.0, 0.5)
    return keras.layers.RandomHue(2.0 * delta, value_range=VALUE_RANGE, seed=seed, name="hue")


def saturation(image_size: tuple[int, int], *, delta: float = 0.3,
               seed: int | None = None) -> keras.layers.Layer:
    """Random saturation change by a factor in ``[1 - delta, 1 + delta]`` (RGB images only).

    Uses ``keras.layers.RandomSaturation``, whose own ``factor`` ``f`` multiplies saturation
    by ``f / (1 - f)`` (0.5 is a no-op); the range is converted here.

    Args:
        image_size: ``(H, W)`` (unused).
        delta: largest relative change of saturation, in (0, 1).
        seed: integer seed.

    Example:
        >>> layer = saturation((32, 32), delta=0.5, seed=0)
    """
    delta = _check_range("saturation", "delta", delta, 0.0, 1.0)
    _check(delta < 1.0, "saturation", "delta", delta, "below 1")
    low, high = 1.0 - delta, 1.0 + delta
    return keras.layers.RandomSaturation((low / (1.0 + low), high / (1.0 + high)),
                                         value_range=VALUE_RANGE, seed=seed, name="saturation")


def contrast(image_size: tuple[int, int], *, factor: float = 0.2,
             seed: int | None = None) -> keras.layers.Layer:
    """Random contrast: scale each image's deviation from its mean by ``[1 - f, 1 + f]``.

    ``keras.layers.RandomContrast`` with ``value_range=(0, 1)`` (it clips).

    Args:
        image_size: ``(H, W)`` (unused).
        factor: ``f`` in (0, 1].
        seed: integer seed.

    Example:
        >>> layer = contrast((32, 32), factor=0.4, seed=0)
    """
    factor = _check_range("contrast", "factor", factor, 0.0, 1.0)
    return keras.layers.RandomContrast(factor, value_range=VALUE_RANGE, seed=seed, name="contrast")


def brightness(image_size: tuple[int, int], *, factor: float = 0.2,
               seed: int | None = None) -> keras.layers.Layer:
    """Random brightness: add a value in ``[-f, f]`` to each image, clipped to [0, 1].

    ``keras.layers.RandomBrightness`` with ``value_range=(0, 1)``.

    Args:
        image_size: ``(H, W)`` (unused).
        factor: ``f`` in (0, 1].
        seed: integer seed.

    Example:
        >>> layer = brightness((32, 32), factor=0.1, seed=0)
    """
    factor = _check_range("brightness", "factor", factor, 0.0, 1.0)
    return keras.layers.RandomBrightness(factor, value_range=VALUE_RANGE, seed=seed,
                                         name="brightness")


def noise(image_size: tuple[int, int], *, stddev: float = 0.05,
          seed: int | None = None) -> keras.layers.Layer:
    """Additive Gaussian noise of standard deviation ``stddev``, clipped to [0, 1].

    See `RandomGaussianNoise` (a wrapper of ``keras.layers.GaussianNoise`` that acts by
    default, not only with ``training=True``).

    Args:
        image_size: ``(H, W)`` (unused).
        stddev: in (0, 1]; 0.05 is about 13 grey levels out of 255.
        seed: integer seed.

    Example:
        >>> layer = noise((32, 32), stddev=0.1, seed=0)
    """
    stddev = _check_range("noise", "stddev", stddev, 0.0, 1.0)
    return RandomGaussianNoise(stddev, value_range=VALUE_RANGE, seed=seed, name="noise")


def cutout(image_size: tuple[int, int], *, probability: float = 0.5,
           scale: tuple[float, float] = (0.02, 0.33), fill_value: float | None = 0.0,
           seed: int | None = None) -> keras.layers.Layer:
    """Information loss: erase one random box per image (``keras.layers.RandomErasing``).

    With ``fill_value=0.0`` this is Cutout (DeVries and Taylor 2017); with ``fill_value=None``
    the box gets random values as in Random Erasing (Zhong et al. 2020; Keras draws them from
    a normal distribution, clipped to [0, 1]). Each side of the box is ``sqrt(u)`` times the
    image side, ``u`` uniform in ``scale``, drawn separately for height and width.

    Args:
        image_size: ``(H, W)`` (unused).
        probability: chance that an image gets a box, in [0, 1].
        scale: ``(low, high)``, ``0 < low <= high <= 1``.
        fill_value: the box's value in [0, 1], or ``None`` for random values.
        seed: integer seed.

    Example:
        >>> layer = cutout((32, 32), probability=1.0, scale=(0.25, 0.25), seed=0)
    """
    probability = _check_range("cutout", "probability", probability, 0.0, 1.0, low_open=False)
    _check(isinstance(scale, (tuple, list)) and len(scale) == 2
           and all(_is_number(s) for s in scale) and 0 < scale[0] <= scale[1] <= 1,
           "cutout", "scale", scale, "a pair (low, high) with 0 < low <= high <= 1")
    if fill_value is not None:
        fill_value = _check_range("cutout", "fill_value", fill_value, 0.0, 1.0, low_open=False)
    return keras.layers.RandomErasing(factor=(probability, probability),
                                      scale=(float(scale[0]), float(scale[1])),
                                      fill_value=fill_value, value_range=VALUE_RANGE, seed=seed,
                                      name="cutout")


#: Registry of named ops: name -> factory ``(image_size, *, seed, **params) -> keras layer``,
#: in a sensible application order (geometry, colour, noise, information loss).
AUGMENTATIONS: dict[str, Callable[..., keras.layers.Layer]] = {
    "flip": flip,
    "crop": crop,
    "zoom": zoom,
    "rotate": rotate,
    "hue": hue,
    "saturation": saturation,
    "contrast": contrast,
    "brightness": brightness,
    "noise": noise,
    "cutout": cutout,
}


def default_params(name: str) -> dict[str, Any]:
    """The course defaults of op ``name``, e.g. ``{"padding": 4, "fill_mode": "constant"}``.

    Example:
        >>> default_params("rotate")["factor"] * 360
        10.0
    """
    factory = _factory(name)
    return {p.name: p.default for p in inspect.signature(factory).parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name != "seed"}


def _factory(name: Any) -> Callable[..., keras.layers.Layer]:
    if name not in AUGMENTATIONS:
        raise ValueError(f"Unknown augmentation {name!r}. Known augmentations: "
                         f"{', '.join(AUGMENTATIONS)}.")
    return AUGMENTATIONS[name]


def _derive_seed(seed: int, index: int, name: str) -> int:
    """A stable 31-bit seed for op number ``index`` named ``name`` of a run seeded ``seed``."""
    return zlib.crc32(f"{seed}/{index}/{name}".encode()) & 0x7FFFFFFF


def build_augmenter(ops: str | Sequence[str] | Mapping[str, Mapping[str, Any] | None],
                    image_size: Sequence[int], seed: int = 0) -> keras.layers.Pipeline:
    """Chains named augmentations into one layer, applied in the order given.

    Returns a ``keras.layers.Pipeline`` (a plain layer, not a ``keras.Sequential``: a Sequential
    fixes its input shape, batch size included, at the first call, and converts tf.data
    tensors to the backend's, while a Pipeline takes single images and batches of any size and
    stays tf.data-safe). Each random layer gets its own seed derived from ``seed``, so the
    same seed gives the same augmentations.

    Args:
        ops: names, e.g. ``["flip", "rotate", "crop"]`` (course defaults), or a dict of
            name -> parameters, e.g. ``{"rotate": {"factor": 0.05}, "crop": {"padding": 4}}``
            (missing parameters keep their defaults; see `default_params`). Known names are the
            keys of `AUGMENTATIONS`.
        image_size: ``(H, W)`` or ``(H, W, C)`` of the images; with ``C`` given, colour ops on
            non-RGB images are rejected here rather than at the first batch.
        seed: the run's seed.

    Returns:
        A layer named ``"augment"`` mapping float32 images in [0, 1] (``(H, W, C)`` or
        ``(B, H, W, C)``) to the same shape, dtype and range. Active by default and with
        ``training=True``; ``training=False`` (as in ``model.predict``) passes images through.

    Raises:
        ValueError: an unknown op name (the message lists the known ones), an unknown or
            out-of-range parameter (the message names it), or a bad ``image_size``.

    Example:
        >>> augmenter = build_augmenter({"flip": None, "crop": {"padding": 4}}, (32, 32), seed=1)
        >>> tuple(augmenter(np.random.rand(8, 32, 32, 3).astype("float32")).shape)
        (8, 32, 32, 3)
    """
    size = tuple(image_size)
    if (len(size) not in (2, 3)
            or not all(isinstance(d, (int, np.integer)) and d > 0 for d in size)):
        raise ValueError("`image_size` must be (height, width) or (height, width, channels) of "
                         f"positive integers. Received: image_size={image_size!r}")
    if isinstance(ops, str):
        ops = [ops]
    if isinstance(ops, Mapping):
        items = list(ops.items())
    else:
        items = [(name, None) for name in ops]

    layers, used = [], {}
    for index, (name, params) in enumerate(items):
        factory = _factory(name)
        if params is not None and not isinstance(params, Mapping):
            raise ValueError(f"The parameters of augmentation {name!r} must be a dict (or None). "
                             f"Received: {params!r}")
        params = dict(params or {})
        known = default_params(name)
        for key in params:
            if key not in known:
                raise ValueError(f"Augmentation {name!r} has no parameter `{key}`. Its "
                                 f"parameters (with defaults): {known}.")
        if name in COLOUR_OPS and len(size) == 3 and size[2] != 3:
            raise ValueError(f"Augmentation {name!r} needs RGB images (3 channels). Received: "
                             f"image_size={size} ({size[2]} channel(s)).")
        layer = factory(size[:2], seed=_derive_seed(seed, index, name), **params)
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:  # keep layer names unique when an op appears twice
            layer.name = f"{name}_{used[name]}"
        layers.append(layer)
    logger.debug("augmenter: %s", ", ".join(layer.name for layer in layers) or "(identity)")
    return keras.layers.Pipeline(layers, name="augment")


# === tf.data / array helpers ===

def _is_tf_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("tensorflow")


def _image_key(element: Mapping[str, Any]) -> str:
    for key in ("image", "images"):
        if key in element:
            return key
    raise ValueError("A dict element needs an 'image' (or 'images') key. "
                     f"Received keys: {sorted(element)}")


def _label_key(element: Mapping[str, Any]) -> str:
    for key in ("label", "labels"):
        if key in element:
            return key
    raise ValueError("A dict element needs a 'label' (or 'labels') key. "
                     f"Received keys: {sorted(element)}")


def augment_map(augmenter: Callable[..., Any], training: bool = True) -> Callable[..., Any]:
    """A function for ``dataset.map`` that augments the images and leaves labels untouched.

    The returned function accepts ``(images, labels)`` (tuple elements), a dict with an
    ``"image"`` key (other keys, e.g. ``"label"``, pass through unchanged), or images alone,
    single or batched, and calls the augmenter with ``training`` (default ``True``, so
    training-only layers such as noise act).

    Args:
        augmenter: the layer from `build_augmenter` (or any callable layer).
        training: passed to the augmenter.

    Returns:
        ``fn(images, labels) -> (augmented, labels)``, ``fn(dict) -> dict`` or
        ``fn(images) -> augmented``.

    Example:
        >>> fn = augment_map(build_augmenter(["flip", "crop"], (32, 32)))
        >>> ds = ds.batch(64).map(fn, num_parallel_calls=tf.data.AUTOTUNE)
    """
    def augment(*element):
        if len(element) == 1 and isinstance(element[0], Mapping):
            out = dict(element[0])
            key = _image_key(out)
            out[key] = augmenter(out[key], training=training)
            return out
        if len(element) == 1:
            return augmenter(element[0], training=training)
        images, *rest = element
        return (augmenter(images, training=training), *rest)

    return augment


def mixup(alpha: float = 0.2, seed: int | None = 0) -> Callable[[Any, Any], tuple[Any, Any]]:
    """Mixup (Zhang et al., ICLR 2018) of a batch of images and one-hot labels.

    Each image ``i`` becomes ``w_i * x_i + (1 - w_i) * x_p(i)`` with ``w_i ~ Beta(alpha,
    alpha)`` and ``p`` a random permutation of the batch, and its label the same combination
    of the one-hot labels, so labels become soft and sum to 1. Train with
    ``keras.losses.CategoricalCrossentropy`` (soft labels), not the sparse loss. Wraps
    ``keras.layers.MixUp`` (which works on ``{"images", "labels"}`` dicts).

    Args:
        alpha: Beta parameter, > 0; small values (0.1 to 0.4) mix mildly.
        seed: integer seed.

    Returns:
        ``fn(images, one_hot_labels) -> (mixed_images, mixed_labels)`` for batches
        ``(B, H, W, C)`` and ``(B, K)`` float; ``fn.layer`` is the Keras layer.

    Example:
        >>> images, labels = mixup(alpha=0.2, seed=0)(images, keras.ops.one_hot(y, 10))
    """
    _check(_is_number(alpha) and 0 < alpha < math.inf, "mixup", "alpha", alpha, "a number > 0")
    layer = keras.layers.MixUp(alpha=float(alpha), seed=seed, name="mixup")

    def mix(images, one_hot_labels):
        out = layer({"images": images, "labels": one_hot_labels})
        return out["images"], out["labels"]

    mix.layer = layer
    return mix


def _one_hot(labels: Any, num_classes: int) -> Any:
    """Integer labels ``(B,)`` or ``(B, 1)`` as float32 one-hot; ``(B, K)`` float passes through."""
    if _is_tf_tensor(labels):
        import tensorflow as tf  # lazy: only reached with TensorFlow tensors in hand

        if labels.shape.rank == 2 and labels.shape[-1] == num_classes and num_classes > 1:
            return tf.cast(labels, "float32")
        return tf.one_hot(tf.reshape(tf.cast(labels, "int32"), [-1]), num_classes,
                          dtype="float32")
    ops = keras.ops
    shape = ops.shape(labels)
    if len(shape) == 2 and shape[-1] == num_classes and num_classes > 1:
        return ops.cast(labels, "float32")
    return ops.one_hot(ops.reshape(ops.cast(labels, "int32"), (-1,)), num_classes,
                       dtype="float32")


def mixup_map(alpha: float = 0.2, num_classes: int = 10,
              seed: int | None = 0) -> Callable[..., Any]:
    """A function for ``dataset.map`` that turns integer-labelled batches into mixed ones.

    ``(images, int labels)`` -> ``(mixed images, mixed one-hot labels)``, or a dict with
    ``"image"`` / ``"label"`` keys -> the same dict with both replaced. Apply it after
    ``batch`` (mixup mixes within a batch); the loss must then be categorical cross-entropy on
    soft labels (``keras.losses.CategoricalCrossentropy``), not the sparse one. Works on tf.data
    tensors (TensorFlow is imported lazily) and on NumPy / JAX arrays.

    Args:
        alpha: Beta parameter of `mixup`, > 0.
        num_classes: number of classes for the one-hot encoding.
        seed: integer seed.

    Example:
        >>> ds = ds.batch(128).map(mixup_map(0.2, num_classes=10, seed=0))
        >>> model.compile(loss="categorical_crossentropy", ...)
    """
    _check(isinstance(num_classes, (int, np.integer)) and not isinstance(num_classes, bool)
           and num_classes >= 2, "mixup", "num_classes", num_classes, "an integer >= 2")
    mix = mixup(alpha, seed)

    def mix_batch(*element):
        if len(element) == 1 and isinstance(element[0], Mapping):
            out = dict(element[0])
            image_key, label_key = _image_key(out), _label_key(out)
            out[image_key], out[label_key] = mix(out[image_key],
                                                 _one_hot(out[label_key], num_classes))
            return out
        if len(element) != 2:
            raise ValueError("mixup_map expects (images, labels) or a dict with 'image' and "
                             f"'label'. Received {len(element)} values.")
        images, labels = element
        return mix(images, _one_hot(labels, num_classes))

    mix_batch.layer = mix.layer
    return mix_batch


# === Picture grid (python -m training.augment --show) ===

def colour_test_image(size: int = 64) -> np.ndarray:
    """A synthetic, colourful and asymmetric test picture, float32 ``(size, size, 3)`` in [0, 1].

    A hue gradient with a red disc (upper left), a green square (lower right) and a white bar
    near the top, so flips, shifts, rotations and colour changes are all visible.

    Example:
        >>> colour_test_image(32).shape
        (32, 32, 3)
    """
    y, x = np.mgrid[0:size, 0:size].astype("float32") / max(size - 1, 1)
    image = np.stack([x, 0.5 * (1.0 - y) + 0.25, 1.0 - 0.6 * x], axis=-1)
    disc = (x - 0.3) ** 2 + (y - 0.35) ** 2 < 0.15 ** 2
    image[disc] = (0.9, 0.1, 0.1)
    image[(x > 0.6) & (x < 0.85) & (y > 0.6) & (y < 0.85)] = (0.1, 0.8, 0.2)
    image[(y > 0.08) & (y < 0.16) & (x > 0.1) & (x < 0.7)] = (1.0, 1.0, 1.0)
    return image.astype("float32")


def sample_images(images_dir: str | Path | None = None, size: int = 64,
                  count: int = 3) -> np.ndarray:
    """Pictures for the grid as float32 ``(N, size, size, 3)`` in [0, 1].

    Without ``images_dir``: `colour_test_image` and ``count - 1`` real MNIST digits from the
    bundled sample (grey, repeated to RGB, nearest-upscaled). With it: the first ``count``
    images of that folder (jpg / png / bmp / ppm / pgm), centre-cropped to squares and resized.
    """
    if images_dir is None:
        from training.data.idx import load_mnist

        digits, labels = load_mnist(Path(__file__).resolve().parent / "data" / "samples" / "mnist",
                                    "train")
        # one image each of the first distinct classes, so the row shows different digits
        _, first = np.unique(labels, return_index=True)
        picked = [digits[i] for i in sorted(first)[:max(count - 1, 0)]]
        out = [colour_test_image(size)]
        for digit in picked:
            grey = np.asarray(digit, "float32") / 255.0
            rows = (np.arange(size) * grey.shape[0] // size)
            cols = (np.arange(size) * grey.shape[1] // size)
            out.append(np.repeat(grey[rows][:, cols][..., None], 3, axis=-1))
        return np.stack(out[:count]).astype("float32")

    from PIL import Image  # lazy: only the --images option needs Pillow

    folder = Path(images_dir)
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm"})
    if not files:
        raise ValueError(f"No images (jpg, png, bmp, ppm, pgm) found in {folder}.")
    out = []
    for path in files[:count]:
        with Image.open(path) as im:
            im = im.convert("RGB")
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((size, size),
                                                                      Image.BILINEAR)
            out.append(np.asarray(im, "float32") / 255.0)
    return np.stack(out)


def augmentation_grid(images: np.ndarray, ops: Sequence[str], seed: int = 0,
                      samples: int = 4) -> tuple[list[str], np.ndarray]:
    """Augmented samples of ``images`` for each op alone and all ops together.

    Args:
        images: ``(N, H, W, 3)`` float32 in [0, 1].
        ops: op names (keys of `AUGMENTATIONS`).
        seed: the run's seed.
        samples: augmented draws per image.

    Returns:
        ``(row_names, grid)``: rows ``["original", *ops, "all"]`` ("all" only with two ops or
        more) and ``grid`` of shape ``(rows, N * samples, H, W, 3)``; the "original" row holds
        each image ``samples`` times.
    """
    images = np.asarray(images, "float32")
    batch = np.repeat(images, samples, axis=0)  # image-major: [img0 x samples, img1 x samples]
    names = ["original", *ops] + (["all"] if len(ops) > 1 else [])
    rows = [batch]
    for name in names[1:]:
        chosen = list(ops) if name == "all" else [name]
        augmenter = build_augmenter(chosen, images.shape[1:], seed=seed)
        rows.append(keras.ops.convert_to_numpy(augmenter(batch, training=True)))
    return names, np.stack(rows)


def save_grid(path: str | Path, names: Sequence[str], grid: np.ndarray, samples: int) -> Path:
    """Writes ``grid`` from `augmentation_grid` as a PNG picture with a label per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = grid.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 0.9, 1.1 * rows),
                             squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and c % samples:  # the original once per image
                ax.axis("off")
                continue
            ax.imshow(np.clip(grid[r, c], 0.0, 1.0), interpolation="nearest")
        axes[r][0].set_ylabel(names[r], rotation=0, ha="right", va="center", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> Path | None:
    """``python -m training.augment``: list the ops, or write a picture grid with ``--show``.

    Returns the path of the written PNG (``None`` when only listing).
    """
    parser = argparse.ArgumentParser(description="The course's augmentations as Keras layers.")
    parser.add_argument("--show", action="store_true",
                        help="write a PNG grid of augmented samples")
    parser.add_argument("--out", default="docs/augmentations.png", help="PNG to write")
    parser.add_argument("--ops", nargs="+", default=None,
                        help="ops to show, e.g. 'flip rotate' or 'flip,rotate' (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", default=None,
                        help="folder of images to use instead of MNIST + a colour test image")
    parser.add_argument("--samples", type=int, default=4, help="augmented draws per image")
    parser.add_argument("--size", type=int, default=64, help="side of the shown images")
    parser.add_argument("--count", type=int, default=3, help="number of source images")
    args = parser.parse_args(argv)

    ops = list(AUGMENTATIONS)
    if args.ops:
        ops = [name for item in args.ops for name in item.split(",") if name]
        for name in ops:
            _factory(name)  # unknown names fail before any work
    if not args.show:
        for name in AUGMENTATIONS:
            logger.info("%-11s %s", name, default_params(name))
        logger.info("Write a picture grid with --show [--out PATH].")
        return None
    if args.samples < 1 or args.size < 8 or args.count < 1:
        parser.error("--samples and --count must be >= 1 and --size >= 8")

    keras.utils.set_random_seed(args.seed)
    images = sample_images(args.images, size=args.size, count=args.count)
    names, grid = augmentation_grid(images, ops, seed=args.seed, samples=args.samples)
    path = save_grid(args.out, names, grid, args.samples)
    logger.info("wrote %s (%d ops x %d images x %d samples)", path, len(ops), len(images),
                args.samples)
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
