"""What the dense-prediction tasks share: their data, batches, losses and evaluation.

Datasets (`load_dense`): ``membrane`` (the ISBI 2012 EM stack the U-Net paper used: 30
labelled 512x512 slices, split contiguously into train / validation / test), ``scenes``
(procedural rooms with exact depth, `training.data.scenes`; the depth net's training set,
since no real depth training set ships here) and, for evaluation only, ``rgbd`` (the 5 real
NYU-style Kinect frames of ``rgbd_nyu5``). Real NYU Depth v2 or Oxford pets go through
`training.data.dense.nyu_depth` / `oxford_pets` (tensorflow-datasets) on a machine with
internet.

Batches come from a ``tf.data`` pipeline with `training.augment_dense.JointAugment` on the
TensorFlow backend, and from a `DenseBatches` PyDataset with the same augmentations in NumPy
on JAX / PyTorch (the GPU machine has no TensorFlow).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training.augment_dense import JointAugment, augment_numpy
from training.data import require_data_root
from training.data.dense import MEMBRANE_CLASSES, dense_dataset, membrane, rgbd_frames
from training.data.scenes import generate_scenes
from training.recipes import Recipe
from zoo.losses import DiceLoss, SparsePixelCrossEntropy
from zoo.metrics import depth_metrics, mean_iou, per_class_iou, pixel_accuracy, \
    scale_invariant_error
from zoo.models.depth.eigen import output_size

log = logging.getLogger(__name__)

SCENE_SPLITS = {"val": 200, "test": 500}  # scene counts; train: the recipe's ``limit``
SCENE_SEEDS = {"train": 0, "val": 1, "test": 2}


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def contiguous_split(n: int, val_fraction: float, test_fraction: float) -> dict[str, slice]:
    """Train / val / test index ranges in file order: test last, validation before it."""
    n_test = round(n * test_fraction)
    n_val = round(n * val_fraction)
    if n - n_test - n_val < 1:
        raise ValueError(f"No training images left: {n} images, val_fraction={val_fraction}, "
                         f"test_fraction={test_fraction}.")
    return {"train": slice(0, n - n_test - n_val), "val": slice(n - n_test - n_val, n - n_test),
            "test": slice(n - n_test, n)}


def depth_targets(depth: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Depth maps ``(N, H, W)`` sampled at the network's output grid by nearest neighbour
    (a missing 0 stays 0 instead of being averaged with its neighbours)."""
    rows = np.minimum(((np.arange(grid[0]) + 0.5) * depth.shape[1] / grid[0]).astype(int),
                      depth.shape[1] - 1)
    cols = np.minimum(((np.arange(grid[1]) + 0.5) * depth.shape[2] / grid[1]).astype(int),
                      depth.shape[2] - 1)
    return depth[:, rows][:, :, cols][..., None].astype("float32")


def _resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if images.shape[1:3] == tuple(size):
        return images
    return np.asarray(keras.ops.image.resize(images, size, interpolation="bilinear",
                                             antialias=True)).clip(0, 1).astype("float32")


WHERE_TO_GET = {
    "membrane": "the ISBI 2012 membranes as train/image/N.png + train/label/N.png (the "
                "data/membrane folder of https://github.com/zhixuhao/unet)",
    "rgbd": "color/N.png + depth/N.pgm Kinect frames (the ch5/rgbd folder of "
            "https://github.com/gaoxiang12/slambook)",
}
# Where each set may sit under the data folder (the first is the data folder itself).
LAYOUTS = {"membrane": ("", "membrane", "isbi2012_membrane/data/membrane"),
           "rgbd": ("", "rgbd", "rgbd_nyu5/ch5/rgbd")}
MARKERS = {"membrane": "train/image", "rgbd": "color"}


def dense_folder(name: str, data_dir: str | None) -> Path:
    """The folder of a dense dataset under ``data_dir`` / ``$ZOO_DATA_DIR``.

    Raises:
        FileNotFoundError: saying where it looked and where to get the data.
    """
    if name not in LAYOUTS:
        raise ValueError(f"Unknown dense dataset {name!r}: expected 'membrane', 'scenes' or "
                         "'rgbd'.")
    root = require_data_root(name, data_dir)
    for sub in LAYOUTS[name]:
        if (root / sub / MARKERS[name]).is_dir():
            return root / sub
    raise FileNotFoundError(f"{name}: no {MARKERS[name]}/ folder in {root} or in "
                            f"{', '.join(str(root / s) for s in LAYOUTS[name][1:])}. Get "
                            f"{WHERE_TO_GET[name]}.")


def load_dense(recipe: Recipe, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images, targets)`` of one split: masks ``(N, H, W)`` int32 or depth ``(N, h, w, 1)``
    at the depth net's output grid."""
    if recipe.dataset == "membrane":
        images, masks = membrane(dense_folder("membrane", recipe.data_dir), "train")
        part = contiguous_split(len(images), recipe.val_fraction, recipe.test_fraction)[split]
        images, masks = images[part], masks[part]
        if recipe.limit and split == "train":
            images, masks = images[:recipe.limit], masks[:recipe.limit]
        return images, masks
    height, width = recipe.image_size
    grid = output_size(height, width)
    if recipe.dataset == "scenes":
        n = (recipe.limit or 4000) if split == "train" else SCENE_SPLITS[split]
        images, depth = generate_scenes(n, height, width, seed=SCENE_SEEDS[split])
        return images, depth_targets(depth, grid)
    if recipe.dataset == "rgbd":
        images, depth = rgbd_frames(dense_folder("rgbd", recipe.data_dir))
        return _resize_images(images, (height, width)), depth_targets(depth, grid)
    raise ValueError(f"Unknown dense dataset {recipe.dataset!r}: expected 'membrane', "
                     f"'scenes' or 'rgbd'.")


class DenseBatches(keras.utils.PyDataset):
    """``(image, target)`` batches from arrays, jointly augmented in NumPy (any backend).

    Args:
        x, y: images ``(N, H, W, C)`` and masks ``(N, H, W)`` / depth ``(N, h, w, 1)``.
        batch_size: images per batch.
        augment: `training.augment_dense.augment_numpy` keyword arguments, or None.
        steps: batches per epoch (default: every image once).
        seed: seeds the order and the augmentations.
    """

    def __init__(self, x, y, batch_size: int, *, augment: dict | None = None,
                 steps: int | None = None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.augment = x, y, batch_size, augment
        self.steps = steps or math.ceil(len(x) / batch_size)
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        if self.augment is None and self.steps * self.batch_size <= len(self.x):
            pick = np.arange(index * self.batch_size,
                             min(len(self.x), (index + 1) * self.batch_size))
        else:
            pick = self._rng.integers(0, len(self.x), self.batch_size)
        if not self.augment:
            return self.x[pick], self.y[pick]
        pairs = [augment_numpy(self.x[i], self.y[i], self._rng, **self.augment) for i in pick]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def make_batches(recipe: Recipe, x, y, *, training: bool):
    """tf.data + `JointAugment` on TensorFlow, else `DenseBatches` (NumPy augmentation)."""
    augment = dict(recipe.augment) if training and recipe.augment else None
    steps = recipe.steps_per_epoch if training else None
    if keras.backend.backend() == "tensorflow" and y.ndim == 3:  # masks (H, W)
        ds = dense_dataset(x, y, recipe.batch_size, shuffle=training, seed=recipe.seed,
                           augment=JointAugment(**augment, seed=recipe.seed) if augment else None)
        if training and steps:
            ds = ds.repeat().take(steps)
        return ds
    return DenseBatches(x, y, recipe.batch_size, augment=augment, steps=steps, seed=recipe.seed)



# ---------------------------------------------------------------------------------------------
# Losses and evaluation
# ---------------------------------------------------------------------------------------------

def segmentation_loss(num_classes: int, dice: float = 0.0, class_weights=None,
                      ignore_index: int | None = None):
    """Pixel-wise cross-entropy, plus ``dice`` x the Dice loss when ``dice > 0``."""
    ce = SparsePixelCrossEntropy(class_weights=class_weights, ignore_index=ignore_index)
    if not dice:
        return ce
    dice_loss = DiceLoss(ignore_index=ignore_index)

    def loss(y_true, y_pred):
        return ce(y_true, y_pred) + dice * dice_loss(y_true, y_pred)

    return loss


def predict_masks(model, images: np.ndarray, batch_size: int = 2) -> np.ndarray:
    """Class-id maps ``(N, H, W)`` from a segmentation model's scores."""
    out = [np.asarray(keras.ops.argmax(model(images[i:i + batch_size], training=False), -1))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype("int32")


def evaluate_segmentation(recipe: Recipe, model, split: str = "test",
                          num_classes: int | None = None) -> dict[str, Any]:
    images, masks = load_dense(recipe, split)
    predicted = predict_masks(model, images)
    args = recipe.builder_args
    num_classes = num_classes or args.get("classes", args.get("num_classes", 2))
    ious = per_class_iou(masks, predicted, num_classes)
    names = MEMBRANE_CLASSES if recipe.dataset == "membrane" else range(num_classes)
    return {"pixel_acc": float(pixel_accuracy(masks, predicted, num_classes)),
            "miou": float(mean_iou(masks, predicted, num_classes)),
            **{f"iou_{name}": float(v) for name, v in zip(names, ious)},
            "images": len(images)}


def _depth_summary(y_true, y_pred) -> dict[str, float]:
    metrics = depth_metrics(y_true, y_pred)
    metrics["si_error"] = float(scale_invariant_error(y_true, y_pred))
    return {k: round(float(v), 4) for k, v in metrics.items()}


def evaluate_depth(recipe: Recipe, model, coarse_model=None) -> dict[str, Any]:
    """RMSE and friends on the held-out scenes and on the 5 real rgbd frames."""
    results = {}
    for name, dataset in (("scenes", recipe.replace(dataset="scenes")),
                          ("rgbd", recipe.replace(dataset="rgbd"))):
        try:
            images, depth = load_dense(dataset, "test")
        except FileNotFoundError as e:  # the 5 real frames need --data-dir
            log.warning("skipping %s: %s", name, e)
            continue
        predicted = np.asarray(model.predict(images, batch_size=32, verbose=0))
        results[name] = _depth_summary(depth, predicted)
        if coarse_model is not None:
            coarse = np.asarray(coarse_model.predict(images, batch_size=32, verbose=0))
            results[f"{name}_coarse"] = _depth_summary(depth, coarse)
        # the trivial baseline: every pixel at the training set's mean depth
        results[f"{name}_mean_baseline"] = _depth_summary(
            depth, np.full_like(depth, float(np.mean(depth[depth > 0]))))
    return results


def prediction_figure(recipe: Recipe, model, path: str | Path, count: int = 3,
                      crop: int = 224) -> Path:
    """A PNG grid of held-out predictions: image | truth | prediction (overlays or depth).

    Segmentation predicts on the whole test images and shows their top-left ``crop`` pixels
    at full resolution (thin membranes vanish when a 512x512 slice is shrunk)."""
    from zoo.visualize import colorize_depth, depth_range, overlay_mask, prediction_grid

    rows = []
    if recipe.objective == "segmentation":
        images, masks = load_dense(recipe, "test")
        predicted = predict_masks(model, images[:count])
        # membranes in red over the image; the cell interiors (class 1) left as they are
        colors = np.array([[255, 32, 32], [0, 0, 0]], dtype="uint8")
        for image, mask, pred in zip(images, masks, predicted):
            image, mask, pred = image[:crop, :crop], mask[:crop, :crop], pred[:crop, :crop]
            rows.append([image, overlay_mask(image, mask, 0.5, colors, background=1),
                         overlay_mask(image, pred, 0.5, colors, background=1)])
        titles = ["image", "ground truth", f"{recipe.model} prediction"]
    else:
        for dataset in ("scenes", "rgbd"):
            try:
                images, depth = load_dense(recipe.replace(dataset=dataset), "test")
            except FileNotFoundError as e:  # the real frames need --data-dir
                log.warning("figure: skipping %s: %s", dataset, e)
                continue
            predicted = np.asarray(model.predict(images[:count], verbose=0))
            for image, true, pred in zip(images[:count], depth, predicted):
                vmin, vmax = depth_range(true[..., 0])
                rows.append([image, _upscale(colorize_depth(true[..., 0], vmin, vmax), image),
                             _upscale(colorize_depth(pred[..., 0], vmin, vmax), image)])
        titles = ["image", "true depth", "predicted depth (same colour scale)"]
    prediction_grid(rows, titles, path)
    return Path(path)


def _upscale(picture: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Nearest-neighbour upscaling of a small map to an image's size, for the figure."""
    from PIL import Image

    size = (like.shape[1], like.shape[0])
    return np.asarray(Image.fromarray(picture).resize(size, Image.NEAREST))


