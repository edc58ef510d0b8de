"""Training and evaluation of the dense-prediction models: U-Net and friends on segmentation
masks, Eigen et al.'s network on depth maps.

    python -m training.dense unet_membrane              # train, evaluate on the held-out
                                                       # slices, write the prediction grid
    python -m training.dense eigen_scenes               # coarse, then fine (coarse frozen)
    python -m training.dense unet_membrane --evaluate --weights runs/unet_membrane/best.weights.h5

Datasets (`load_dense`): ``membrane`` (the ISBI 2012 EM stack the U-Net paper used: 30
labelled 512x512 slices, split contiguously into train / validation / test), ``scenes``
(procedural rooms with exact depth, `training.data.scenes`; the depth net's training set,
since no real depth training set ships here) and, for evaluation only, ``rgbd`` (the 5 real
NYU-style Kinect frames in ``rgbd_nyu5``). Real NYU Depth v2 or Oxford pets go through
`training.data.dense.nyu_depth` / `oxford_pets` (tensorflow-datasets) on a machine with
internet.

Batches come from a ``tf.data`` pipeline with `training.augment_dense.JointAugment` on the
TensorFlow backend, and from a `DenseBatches` PyDataset with the same augmentations in NumPy
on JAX / PyTorch (the GPU machine has no TensorFlow).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

import keras

import zoo
from training.augment_dense import JointAugment, augment_numpy
from training.data import data_root
from training.data.dense import MEMBRANE_CLASSES, dense_dataset, membrane, rgbd_frames
from training.data.scenes import generate_scenes
from training.recipes import Recipe, load_recipe
from training.train import _parse_value, finish, make_callbacks, make_optimizer, read_log
from zoo.losses import DiceLoss, ScaleInvariantLoss, SparsePixelCrossEntropy
from zoo.metrics import MeanIoU, PixelAccuracy, depth_metrics, mean_iou, per_class_iou, \
    pixel_accuracy, scale_invariant_error
from zoo.models.depth.eigen import freeze_coarse, output_size
from zoo.weights import transfer_by_name

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


def load_dense(recipe: Recipe, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images, targets)`` of one split: masks ``(N, H, W)`` int32 or depth ``(N, h, w, 1)``
    at the depth net's output grid."""
    root = data_root(recipe.data_dir)
    if recipe.dataset == "membrane":
        images, masks = membrane(root / "isbi2012_membrane" / "data" / "membrane", "train")
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
        images, depth = rgbd_frames(root / "rgbd_nyu5" / "ch5" / "rgbd")
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
# Losses, metrics, models
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


def build_segmentation(recipe: Recipe) -> keras.Model:
    return zoo.build(recipe.model, input_shape=(None, None, recipe.channels),
                     **recipe.builder_args)


def build_depth(recipe: Recipe, output: str) -> keras.Model:
    return zoo.build(recipe.model, input_shape=(*recipe.image_size, 3), output=output,
                     **recipe.builder_args)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

def _fit(recipe: Recipe, model, loss, metrics, train, val, out: Path, epochs: int,
         monitor: str, verbose) -> None:
    steps = len(train) if hasattr(train, "__len__") else recipe.steps_per_epoch
    model.compile(optimizer=make_optimizer(recipe.replace(epochs=epochs), steps), loss=loss,
                  metrics=metrics)
    model.fit(train, validation_data=val, epochs=epochs, verbose=verbose, shuffle=False,
              callbacks=make_callbacks(recipe, out, monitor, tensorboard=False))  # batches
    # come shuffled (and augmented) from `make_batches`


def train_segmentation(recipe: Recipe, out: Path, verbose="auto") -> dict[str, Any]:
    keras.utils.set_random_seed(recipe.seed)
    num_classes = recipe.builder_args.get("num_classes", 2)
    x_train, y_train = load_dense(recipe, "train")
    x_val, y_val = load_dense(recipe, "val")
    log.info("%s: %d train / %d val images", recipe.name, len(x_train), len(x_val))
    model = build_segmentation(recipe)
    loss = segmentation_loss(num_classes, **recipe.loss_args)
    metrics = [PixelAccuracy(num_classes, name="pixel_accuracy"),
               MeanIoU(num_classes, name="mean_iou")]
    start = time.time()
    _fit(recipe, model, loss, metrics, make_batches(recipe, x_train, y_train, training=True),
         make_batches(recipe, x_val, y_val, training=False), out, recipe.epochs,
         recipe.monitor, verbose)
    model.load_weights(out / "best.weights.h5")
    test = evaluate_segmentation(recipe, model)
    return finish(recipe, out, model, time.time() - start,
                  {k: v[-1] for k, v in read_log(out / "log.csv").items() if k.startswith("val")},
                  test=test)


def train_depth(recipe: Recipe, out: Path, verbose="auto") -> dict[str, Any]:
    """The paper's two stages: the coarse network alone, then the fine one on top of it."""
    keras.utils.set_random_seed(recipe.seed)
    x_train, y_train = load_dense(recipe, "train")
    x_val, y_val = load_dense(recipe, "val")
    loss = ScaleInvariantLoss(**{"lam": 0.5, **recipe.loss_args})
    start = time.time()
    coarse = build_depth(recipe, "coarse")
    stage1 = out / "coarse"
    stage1.mkdir(parents=True, exist_ok=True)
    _fit(recipe, coarse, loss, [], make_batches(recipe, x_train, y_train, training=True),
         make_batches(recipe, x_val, y_val, training=False), stage1, recipe.epochs,
         "val_loss", verbose)
    coarse.load_weights(stage1 / "best.weights.h5")
    fine = build_depth(recipe, "fine")
    report = transfer_by_name(coarse, fine)
    log.info("fine network: %d coarse layers copied", len(report.matched))
    freeze_coarse(fine)
    if recipe.fine_epochs:
        _fit(recipe, fine, loss, [], make_batches(recipe, x_train, y_train, training=True),
             make_batches(recipe, x_val, y_val, training=False), out, recipe.fine_epochs,
             "val_loss", verbose)
        fine.load_weights(out / "best.weights.h5")
    else:
        fine.save_weights(out / "best.weights.h5")
    freeze_coarse(fine, frozen=False)
    test = evaluate_depth(recipe, fine, coarse_model=coarse)
    return finish(recipe, out, fine, time.time() - start, {}, test=test)


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------

def predict_masks(model, images: np.ndarray, batch_size: int = 2) -> np.ndarray:
    """Class-id maps ``(N, H, W)`` from a segmentation model's scores."""
    out = [np.asarray(keras.ops.argmax(model(images[i:i + batch_size], training=False), -1))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype("int32")


def evaluate_segmentation(recipe: Recipe, model, split: str = "test") -> dict[str, Any]:
    images, masks = load_dense(recipe, split)
    predicted = predict_masks(model, images)
    num_classes = recipe.builder_args.get("num_classes", 2)
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
        except FileNotFoundError as e:  # the real frames live in ../shared/datasets
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
            images, depth = load_dense(recipe.replace(dataset=dataset), "test")
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


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def train(recipe: Recipe, out: str | Path, verbose="auto") -> dict[str, Any]:
    """Runs a segmentation or depth recipe; writes weights, log, curves and summary.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if recipe.objective == "segmentation":
        return train_segmentation(recipe, out, verbose)
    if recipe.objective == "depth":
        return train_depth(recipe, out, verbose)
    raise ValueError(f"training.dense runs segmentation and depth recipes. Received "
                     f"objective={recipe.objective!r} ({recipe.name}).")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m training.dense", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="a recipe name (training/recipes/) or JSON file")
    parser.add_argument("--out", help="run folder (default runs/<recipe>)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--fine-epochs", type=int)
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--limit", type=int, help="training images / scenes")
    parser.add_argument("--data-dir")
    parser.add_argument("--evaluate", action="store_true",
                        help="only evaluate --weights (or the run's best.weights.h5)")
    parser.add_argument("--weights", help="weights to evaluate / draw")
    parser.add_argument("--figure", help="write the prediction grid PNG here")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                        help='override any recipe field, e.g. --set builder_args=\'{"filters": 64}\'')
    parser.add_argument("--verbose", type=int)
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    changes = {k: v for k, v in (("epochs", args.epochs), ("fine_epochs", args.fine_epochs),
                                 ("steps_per_epoch", args.steps_per_epoch),
                                 ("limit", args.limit), ("data_dir", args.data_dir))
               if v is not None}
    for item in args.set:
        field, _, value = item.partition("=")
        changes[field] = _parse_value(value)
    recipe = recipe.replace(**changes)
    out = Path(args.out or Path("runs") / recipe.name)
    verbose = "auto" if args.verbose is None else args.verbose
    if args.evaluate:
        model = build_segmentation(recipe) if recipe.objective == "segmentation" \
            else build_depth(recipe, "fine")
        model.load_weights(args.weights or out / "best.weights.h5")
        summary = {"test": evaluate_segmentation(recipe, model)
                   if recipe.objective == "segmentation" else evaluate_depth(recipe, model)}
    else:
        summary = train(recipe, out, verbose)
        model = None
    if args.figure:
        if model is None:
            model = build_segmentation(recipe) if recipe.objective == "segmentation" \
                else build_depth(recipe, "fine")
            model.load_weights(args.weights or out / "best.weights.h5")
        prediction_figure(recipe, model, args.figure)
    print(json.dumps(summary.get("test", summary), indent=2))
    return summary


if __name__ == "__main__":
    main()
