"""Joint augmentation for dense prediction: the image and its mask (or depth map) move together.

For segmentation and depth, every geometric change of the image must be applied to the
target with the same random draw: flips, quarter turns, rotations by any angle, random crops
and the elastic deformation of the U-Net paper (Ronneberger et al., "U-Net: Convolutional
Networks for Biomedical Image Segmentation", MICCAI 2015, Sec. 3.1: random displacement
vectors on a coarse 3x3 grid, drawn from a Gaussian with 10 pixels standard deviation, then
bicubic interpolation to per-pixel displacements). Images are resampled bilinearly; masks
and depth maps with nearest neighbour, so a mask only ever holds valid class ids and a depth
map only measured depths (no averages across an object's edge). Where a rotation brings in
pixels from outside, images get 0, depth maps 0 ("missing") and masks ``ignore_index`` (so
the loss can skip them), or everything is reflected with ``fill_mode="reflect"``.

Two paths with the same options:

* `JointAugment` for ``tf.data`` (``ds.map(JointAugment(rotate=15, seed=0))``), on single
  examples or batches, under any Keras backend.
* `augment_numpy` for NumPy, one example at a time with a ``np.random.Generator``: the JAX /
  PyTorch path (the GPU machine has no TensorFlow).

What comes from Keras (checked in the keras 3.15.1 source,
``keras/src/layers/preprocessing/image_preprocessing/``; the layers take
``{"images", "segmentation_masks"}`` dicts):

* ``keras.layers.RandomFlip``: one draw for image and mask: used. Its
  ``"horizontal_and_vertical"`` mode flips both axes on the *same* draw (identity or a 180
  degree turn only), so two layers, one per axis, give independent flips.
* ``keras.layers.RandomRotation``: one angle for both, masks with nearest interpolation:
  used. Its fill value is shared by images and masks, so class ids are shifted by +1 before
  (0 = outside) and 0 becomes ``ignore_index`` after.
* ``keras.layers.RandomCrop``: written by hand instead. It draws one window per batch and,
  when an image side equals the crop side, falls back to a fixed *centre* crop.
* ``keras.layers.RandomElasticTransform``: written by hand instead. It draws a new random
  field for the masks, different from the images' (its ``_transform_images`` passes the seed
  generator itself, which advances between the two calls), and its field is a
  Gaussian-smoothed noise (Simard et al. 2003), not U-Net's 3x3 grid. `elastic_displacement`
  is one NumPy function; the tf.data path calls it through ``tf.numpy_function``.
* Quarter turns: Keras has no layer; ``tf.image.rot90`` / ``np.rot90``.

Example:
    >>> augment = JointAugment(flip="horizontal_and_vertical", rotate=15, elastic=10.0, seed=0)
    >>> ds = tf.data.Dataset.from_tensor_slices((images, masks)).map(augment).batch(8)
    >>> image, mask = augment_numpy(images[0], masks[0], np.random.default_rng(0), rotate=15)
"""

from __future__ import annotations

from collections.abc import Sequence
import keras
import numpy as np

from training.augment import _check, _check_choice, _derive_seed, _is_number

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
FILL_MODES = ("constant", "reflect")


# === Options ===

def _flip_axes(flip: bool | str | None) -> tuple[str, ...]:
    """``True`` -> ``("horizontal",)``; a mode -> the axes it flips (independently)."""
    if flip is None or flip is False:
        return ()
    mode = "horizontal" if flip is True else _check_choice("joint", "flip", flip, FLIP_MODES)
    return ("horizontal", "vertical") if mode == "horizontal_and_vertical" else (mode,)


def _check_options(flip, rotate, crop, elastic, fill_mode) -> tuple[str, ...]:
    _check(_is_number(rotate) and 0 <= rotate <= 180, "joint", "rotate", rotate,
           "the largest angle in degrees, in [0, 180]")
    _check(crop is None or (isinstance(crop, Sequence) and len(crop) == 2
                            and all(isinstance(s, (int, np.integer)) and s > 0 for s in crop)),
           "joint", "crop", crop, "None or (height, width) of positive integers")
    _check(elastic is None or (_is_number(elastic) and elastic > 0), "joint",
           "elastic", elastic, "None or the displacement standard deviation in pixels (> 0)")
    _check_choice("joint", "fill_mode", fill_mode, FILL_MODES)
    return _flip_axes(flip)


def _check_shapes(image_shape, target_shape, crop, rotate90) -> None:
    """Target = image without channels; crop fits; quarter turns need square images."""
    image_shape, target_shape = tuple(image_shape), tuple(target_shape)
    if len(image_shape) not in (3, 4) or target_shape != image_shape[:-1]:
        raise ValueError("Expected an image (H, W, C) or (B, H, W, C) and a target of the same "
                         f"shape without channels. Received: image {image_shape}, target "
                         f"{target_shape}.")
    height, width = image_shape[-3:-1]
    if height is None or width is None:
        raise ValueError(f"Joint augmentation needs a known height and width. Received: image "
                         f"{image_shape}; resize the images to one size first.")
    if crop is not None and (crop[0] > height or crop[1] > width):
        raise ValueError(f"`crop` {tuple(crop)} is larger than the image ({height}, {width}).")
    if rotate90 and height != width:
        raise ValueError(f"`rotate90` needs square images (a quarter turn swaps height and "
                         f"width). Received: {height}x{width}; crop to a square first.")


# === NumPy: sampling and the U-Net elastic field ===

def _cubic_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` matrix of bicubic interpolation (Keys, a = -0.5, half-pixel centres).

    Equal to ``jax.image.resize(..., "bicubic")``: taps past the ends are dropped and the rest
    renormalised (TensorFlow's bicubic resize uses the same kernel but differs by ~1e-3 at
    the borders). Written as a matrix so that NumPy needs no SciPy and upsampling a grid is
    two matrix products.
    """
    x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    t = np.abs(x[:, None] - np.arange(n_in)[None, :])
    a = -0.5
    w = np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                 np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))
    return w / w.sum(axis=1, keepdims=True)


def elastic_displacement(height: int, width: int, rng: np.random.Generator,
                         sigma: float = 10.0, grid: int = 3) -> np.ndarray:
    """U-Net's random elastic deformation field: float32 ``(2, height, width)`` pixels.

    Ronneberger et al. (2015, Sec. 3.1): displacement vectors on a coarse ``grid x grid``
    grid, each component ~ N(0, sigma^2) (sigma = 10 px in the paper), bicubically
    interpolated to one (row, column) displacement per pixel. The grid nodes sit at the
    centres of the ``grid x grid`` cells of the image, where the field equals the drawn vector.

    Example:
        >>> elastic_displacement(64, 64, np.random.default_rng(0)).shape
        (2, 64, 64)
    """
    coarse = rng.normal(0.0, sigma, size=(2, grid, grid))
    rows, cols = _cubic_weights(grid, height), _cubic_weights(grid, width)
    return np.einsum("hi,kij,wj->khw", rows, coarse, cols).astype(np.float32)


def _reflect(x: np.ndarray, n: int) -> np.ndarray:
    """Coordinates folded back into ``[0, n - 1]`` by mirroring (``d c b a | a b c d``)."""
    x = np.mod(x + 0.5, 2 * n)
    return np.clip(np.where(x >= n, 2 * n - x, x) - 0.5, 0, n - 1)


def _gather(array: np.ndarray, r: np.ndarray, c: np.ndarray, fill: float) -> np.ndarray:
    height, width = array.shape[:2]
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    values = array[np.clip(r, 0, height - 1), np.clip(c, 0, width - 1)]
    return np.where(inside[..., None], values, np.asarray(fill, array.dtype))


def _sample(array: np.ndarray, rows: np.ndarray, cols: np.ndarray, order: int,
            fill_mode: str, fill: float) -> np.ndarray:
    """``array`` ``(H, W, C)`` sampled at float ``(rows, cols)``: order 0 nearest, 1 bilinear."""
    if fill_mode == "reflect":
        rows, cols = _reflect(rows, array.shape[0]), _reflect(cols, array.shape[1])
    if order == 0:
        return _gather(array, np.floor(rows + 0.5).astype(int), np.floor(cols + 0.5).astype(int),
                       fill)
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = (rows - r0)[..., None], (cols - c0)[..., None]
    r0, c0 = r0.astype(int), c0.astype(int)
    top = _gather(array, r0, c0, fill) * (1 - fc) + _gather(array, r0, c0 + 1, fill) * fc
    bottom = _gather(array, r0 + 1, c0, fill) * (1 - fc) + _gather(array, r0 + 1, c0 + 1, fill) * fc
    return (top * (1 - fr) + bottom * fr).astype(array.dtype)


def _rotation_coords(height: int, width: int, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each output pixel comes from when turning the image by ``degrees`` about its centre."""
    theta = np.deg2rad(degrees)
    r, c = np.mgrid[0:height, 0:width].astype(np.float64)
    dr, dc = r - (height - 1) / 2, c - (width - 1) / 2
    return ((height - 1) / 2 + np.cos(theta) * dr + np.sin(theta) * dc,
            (width - 1) / 2 - np.sin(theta) * dr + np.cos(theta) * dc)


def _warp_pair(image, target, rows, cols, fill_mode, target_fill):
    """Image bilinear with fill 0, target (``(H, W, 1)``) nearest with ``target_fill``."""
    return (_sample(image, rows, cols, 1, fill_mode, 0.0),
            _sample(target, rows, cols, 0, fill_mode, target_fill))


def _elastic_pair(image, target, rng, sigma):
    """U-Net elastic deformation of one ``(H, W, C)`` image and ``(H, W, 1)`` target."""
    height, width = image.shape[:2]
    dr, dc = elastic_displacement(height, width, rng, sigma)
    r, c = np.mgrid[0:height, 0:width]
    return _warp_pair(image, target, r + dr, c + dc, "reflect", 0)


def augment_numpy(image: np.ndarray, target: np.ndarray, rng: np.random.Generator, *,
                  flip: bool | str = True, rotate90: bool = False, rotate: float = 0.0,
                  crop: Sequence[int] | None = None, elastic: float | None = None,
                  fill_mode: str = "constant", ignore_index: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One random joint augmentation of an image and its mask or depth map, in NumPy.

    Applied in this order, each with its own draw from ``rng``: flips (each axis with
    probability 1/2), a quarter turn (k * 90 degrees, k uniform in 0..3), a rotation by a
    uniform angle in ``[-rotate, rotate]`` degrees, a random crop, the U-Net elastic
    deformation (edges reflected).

    Args:
        image: float ``(H, W, C)``.
        target: ``(H, W)``: an integer array is a mask of class ids (nearest neighbour,
            outside -> ``ignore_index``), a floating one a depth map (nearest, outside -> 0).
        rng: the random generator (e.g. ``np.random.default_rng(seed)``).
        flip: ``True`` / ``"horizontal"`` (left-right; the only flip that keeps a depth scene
            upright), ``"vertical"``, ``"horizontal_and_vertical"`` (independent), or
            ``False``.
        rotate90: random quarter turns (square images only), e.g. for EM or aerial images.
        rotate: largest rotation angle in degrees (0 = off).
        crop: ``(height, width)`` of a random crop, or ``None``.
        elastic: standard deviation in pixels of the U-Net displacement grid (the paper: 10),
            or ``None``.
        fill_mode: for the rotation: ``"constant"`` (image 0, depth 0, mask ``ignore_index``)
            or ``"reflect"``.
        ignore_index: class id for pixels from outside the image (default 0, a real class).

    Returns:
        ``(image float32 (h, w, C), target int32 or float32 (h, w))``.

    Example:
        >>> x, y = np.zeros((8, 8, 1), "float32"), np.zeros((8, 8), "int32")
        >>> augment_numpy(x, y, np.random.default_rng(0), rotate=10, crop=(4, 4))[1].shape
        (4, 4)
    """
    axes = _check_options(flip, rotate, crop, elastic, fill_mode)
    image, target = np.asarray(image, np.float32), np.asarray(target)
    _check_shapes(image.shape, target.shape, crop, rotate90)
    is_mask = np.issubdtype(target.dtype, np.integer)
    fill = (0 if ignore_index is None else ignore_index) if is_mask else 0.0
    target = target.astype(np.int32 if is_mask else np.float32)[..., None]
    for axis in axes:
        if rng.random() < 0.5:
            dim = 1 if axis == "horizontal" else 0
            image, target = np.flip(image, dim), np.flip(target, dim)
    if rotate90:
        k = int(rng.integers(4))
        image, target = np.rot90(image, k), np.rot90(target, k)
    if rotate:
        rows, cols = _rotation_coords(*image.shape[:2], rng.uniform(-rotate, rotate))
        image, target = _warp_pair(image, target, rows, cols, fill_mode, fill)
    if crop is not None:
        top = int(rng.integers(image.shape[0] - crop[0] + 1))
        left = int(rng.integers(image.shape[1] - crop[1] + 1))
        window = (slice(top, top + crop[0]), slice(left, left + crop[1]))
        image, target = image[window], target[window]
    if elastic:
        image, target = _elastic_pair(image, target, rng, elastic)
    return np.ascontiguousarray(image), np.ascontiguousarray(target[..., 0])


# === tf.data ===

class JointAugment:
    """Joint random augmentation of ``(image, target)`` for ``tf.data`` (see `augment_numpy`).

    The same options and order as `augment_numpy`. Flips and rotations are Keras layers
    (``RandomFlip``, ``RandomRotation``, each image of a batch drawn separately); quarter
    turns and crops are TensorFlow ops drawn once per call (per example before batching,
    per batch after it); the elastic deformation is `elastic_displacement` in NumPy via
    ``tf.numpy_function``, one field per image. All draws follow ``seed``: a new
    ``JointAugment`` with the same seed repeats the same sequence (in a sequential map;
    see `training.data.dense.dense_dataset`), and every epoch gets new draws.

    Call it on TensorFlow tensors in a ``tf.data`` map, under any Keras backend (Keras'
    preprocessing layers switch to TensorFlow there). For NumPy / JAX use `augment_numpy`.

    Args:
        flip, rotate90, rotate, crop, elastic, fill_mode, ignore_index: as `augment_numpy`.
        seed: integer seed of all the draws.

    Returns (when called):
        ``(image float32, target)``: the target int32 for an integer mask, float32 for depth.

    Example:
        >>> augment = JointAugment(flip="horizontal_and_vertical", rotate90=True, seed=0)
        >>> ds = tf.data.Dataset.from_tensor_slices((x, y)).map(augment).batch(4)
    """

    def __init__(self, flip: bool | str = True, rotate90: bool = False, rotate: float = 0.0,
                 crop: Sequence[int] | None = None, elastic: float | None = None, *,
                 fill_mode: str = "constant", ignore_index: int | None = None, seed: int = 0):
        axes = _check_options(flip, rotate, crop, elastic, fill_mode)
        self.rotate90, self.crop, self.elastic = rotate90, crop, elastic
        self.ignore_index, self.seed = ignore_index, seed
        self._flips = [keras.layers.RandomFlip(axis, seed=_derive_seed(seed, i, axis))
                       for i, axis in enumerate(axes)]
        self._rotation = None
        if rotate:
            self._rotation = keras.layers.RandomRotation(
                rotate / 360.0, fill_mode=fill_mode, interpolation="bilinear", fill_value=0.0,
                seed=_derive_seed(seed, 2, "rotate"))
        self._generator = None  # tf.random.Generator for quarter turns and crops, made lazily
        self._rng = np.random.default_rng(_derive_seed(seed, 3, "elastic"))

    def __call__(self, image, target):
        import tensorflow as tf

        image, target = tf.cast(image, tf.float32), tf.convert_to_tensor(target)
        _check_shapes(image.shape, target.shape, self.crop, self.rotate90)
        is_mask = target.dtype.is_integer
        # Targets travel as float (H, W, 1) "segmentation_masks"; class ids shifted by +1 so
        # that the rotation's fill value 0 marks the pixels that came from outside.
        stored = tf.cast(target, tf.float32)[..., None] + (1.0 if is_mask else 0.0)
        data = {"images": image, "segmentation_masks": stored}
        for layer in self._flips:
            data = layer(data)
        if self.rotate90:
            data = self._turn(data)
        if self._rotation is not None:
            data = self._rotation(data)
        if self.crop is not None:
            data = self._crop(data)
        if self.elastic:
            data = self._elastic(data)
        return data["images"], self._restore(data["segmentation_masks"][..., 0], is_mask)

    def _restore(self, stored, is_mask: bool):
        import tensorflow as tf

        if not is_mask:
            return stored
        ids = tf.cast(tf.round(stored), tf.int32)
        fill = 0 if self.ignore_index is None else self.ignore_index
        return tf.where(ids == 0, fill, ids - 1)

    def _draw(self, high):
        """A uniform integer in ``[0, high)`` from the seeded ``tf.random.Generator``."""
        import tensorflow as tf

        if self._generator is None:
            self._generator = tf.random.Generator.from_seed(_derive_seed(self.seed, 4, "tf"))
        return self._generator.uniform((), 0, high, dtype=tf.int32)

    def _turn(self, data):
        import tensorflow as tf

        k = self._draw(4)
        return {key: tf.image.rot90(value, k) for key, value in data.items()}

    def _crop(self, data):
        import tensorflow as tf

        height, width = data["images"].shape[-3:-1]
        top, left = self._draw(height - self.crop[0] + 1), self._draw(width - self.crop[1] + 1)
        batch = data["images"].shape.rank == 4
        begin = [0, top, left, 0] if batch else [top, left, 0]
        size = ([-1] if batch else []) + [self.crop[0], self.crop[1], -1]
        return {key: tf.slice(value, begin, size) for key, value in data.items()}

    def _elastic(self, data):
        import tensorflow as tf

        def warp(images, targets):  # NumPy, one field per image
            batch = images.ndim == 4
            pairs = [_elastic_pair(x, t, self._rng, self.elastic)
                     for x, t in zip(*((images, targets) if batch else ([images], [targets])))]
            out = [np.stack(p) if batch else p[0] for p in zip(*pairs)]
            return out[0].astype(np.float32), out[1].astype(np.float32)

        images, targets = tf.numpy_function(
            warp, [data["images"], data["segmentation_masks"]], [tf.float32, tf.float32],
            stateful=True)
        images.set_shape(data["images"].shape)
        targets.set_shape(data["segmentation_masks"].shape)
        return {"images": images, "segmentation_masks": targets}
