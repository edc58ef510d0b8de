"""Object detection: RetinaNet on Pascal VOC-style data (BCCD, or any ``voc:DIR``).

Data. ``dataset="bccd"`` reads BCCD's VOC folder under the data folder (`bccd_folder`) with
the classes in `training.data.BCCD_CLASSES` order; ``dataset="voc:DIR"`` reads any VOC folder
(``Annotations/``, ``JPEGImages/``, ``ImageSets/Main/<split>.txt``), its classes sorted from the
training split. With ``val_fraction > 0`` the run trains on the ``train`` split and validates on
``val``; with ``val_fraction = 0`` it trains on ``trainval`` (the shipped recipe) and keeps the
weights of its last epoch (the monitor is then the training loss, which falls with the
schedule). ``test`` is only ever evaluated.

Batches (`DetectionBatches`, a ``keras.utils.PyDataset``, so one path serves TensorFlow, JAX
and PyTorch): each image is decoded once, letterboxed to the recipe's ``image_size`` (the
letterbox of `zoo.models.detection.retinanet.letterbox_image`, boxes moved with it) and kept
in memory as uint8; a training batch then goes through `training.augment_boxes.box_augmenter`
(Keras' flips / translation / zoom with boxes, YOLOv5's HSV jitter; the recipe's ``augment``
dict is its keyword arguments) and is scaled to [0, 1]. The targets are the padded
``{"boxes", "labels"}``; `RetinaNetTrainer` assigns anchors inside the train step.

Evaluation (`evaluate`): `predict_boxes` on the split's images at their own size (score
threshold 0.05, as the paper's evaluation), then the VOC table (per-class AP@0.5, all-point
and 11-point, mAP) and COCO's 12 numbers (`zoo.metrics.detection`), the precision / recall
PNG and a grid of images with true (dashed) and predicted boxes.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training.engine import Setup
from training.tasks.base import Task

log = logging.getLogger(__name__)

EVAL_SCORE_THRESHOLD = 0.05    # the paper's (section 5.1): low, so the PR curve is complete
FIGURE_SCORE_THRESHOLD = 0.3   # what the picture of predictions draws
MAX_BOXES = 100                # the padded ground truth per image (BCCD's most: 49)
BCCD_LAYOUTS = ("", "BCCD", "bccd/BCCD")


def bccd_folder(data_dir: str | None) -> Path:
    """BCCD's VOC folder (``Annotations/``, ...) under ``data_dir`` / ``$ZOO_DATA_DIR``."""
    from training.data import require_data_root

    root = require_data_root("bccd", data_dir)
    for sub in BCCD_LAYOUTS:
        if (root / sub / "Annotations").is_dir() and (root / sub / "ImageSets").is_dir():
            return root / sub
    raise FileNotFoundError(
        f"bccd: no Annotations/ and ImageSets/ folders in {root} or in "
        f"{', '.join(str(root / s) for s in BCCD_LAYOUTS[1:])}. Get the BCCD dataset (VOC "
        "layout, https://github.com/Shenggan/BCCD_Dataset, MIT licence) and pass its folder.")


def read_split(recipe, split: str, class_names: tuple[str, ...] | None = None):
    """The recipe's dataset split as a `training.data.DetectionSource`: each image's header
    checked, or, with ``skip_corrupt``, each image decoded and the unreadable ones dropped."""
    from training.data import BCCD_CLASSES, read_voc

    # with skip_corrupt, the readers' header check (which stops at a bad file) is left to
    # `validate`, which decodes every image and drops the bad ones, counted
    check = not recipe.skip_corrupt
    if recipe.dataset == "bccd":
        source = read_voc(bccd_folder(recipe.data_dir), split,
                          class_names=class_names or BCCD_CLASSES, check_images=check)
    elif recipe.dataset.startswith("voc:"):
        folder = Path(recipe.dataset[4:]).expanduser()
        source = read_voc(folder, split, class_names=class_names, check_images=check)
    else:
        raise ValueError(f"Unknown detection dataset {recipe.dataset!r}: expected 'bccd' or "
                         "'voc:DIR' (a Pascal VOC folder).")
    if recipe.skip_corrupt:   # otherwise a bad image stops the run where it is decoded,
        source = source.validate(skip_corrupt=True)   # named: no need to decode it twice
    if not len(source):
        raise ValueError(f"{source.name}: no readable image left "
                         f"({source.report.corrupt_images} corrupt).")
    return source


def letterboxed(source, image_size: tuple[int, int], max_boxes: int = MAX_BOXES):
    """Every image of a source letterboxed to ``image_size``: uint8 ``(N, H, W, 3)``, boxes
    ``(N, max_boxes, 4)`` in the letterboxed pixels and labels ``(N, max_boxes)`` (-1 pads)."""
    from zoo.models.detection.retinanet import letterbox_image, letterbox_transform

    images = np.zeros((len(source), *image_size, 3), "uint8")
    boxes, labels = source.padded(max(max_boxes, source.max_boxes))
    for i in range(len(source)):
        image = source.load_image(i)
        images[i] = np.clip(np.rint(letterbox_image(image, image_size)), 0, 255)
        sx, sy, left, top = letterbox_transform(image.shape[:2], image_size)
        real = labels[i] >= 0
        boxes[i, real] = (boxes[i, real] + [left, top, left, top]) * [sx, sy, sx, sy]
    return images, boxes, labels


class DetectionBatches(keras.utils.PyDataset):
    """``(images in [0, 1], {"boxes", "labels"})`` batches from letterboxed arrays.

    Args:
        images, boxes, labels: from `letterboxed`.
        batch_size: images per batch.
        augmenter: a `training.augment_boxes.box_augmenter` (training), or None.
        steps: batches per epoch (default: every image once).
        shuffle: a new order each epoch (training).
        seed: seeds the order.
    """

    def __init__(self, images, boxes, labels, batch_size: int, *, augmenter=None,
                 steps: int | None = None, shuffle: bool = False, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.images, self.boxes, self.labels = images, boxes, labels
        self.batch_size, self.augmenter, self.shuffle = batch_size, augmenter, shuffle
        self.steps = steps or math.ceil(len(images) / batch_size)
        self._rng = np.random.default_rng(seed)
        self._order = self._new_order()

    def _new_order(self) -> np.ndarray:
        need = self.steps * self.batch_size
        reps = math.ceil(need / len(self.images))
        if self.shuffle:
            return np.concatenate([self._rng.permutation(len(self.images))
                                   for _ in range(reps)])[:need]
        return np.arange(len(self.images))

    def __len__(self) -> int:
        return self.steps

    def on_epoch_end(self):
        self._order = self._new_order()

    def __getitem__(self, index: int):
        pick = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        images = self.images[pick].astype("float32")
        boxes, labels = self.boxes[pick], self.labels[pick]
        if self.augmenter is not None:
            out = self.augmenter({"images": images,
                                  "bounding_boxes": {"boxes": boxes, "labels": labels}})
            images = keras.ops.convert_to_numpy(out["images"])
            boxes = keras.ops.convert_to_numpy(out["bounding_boxes"]["boxes"])
            labels = keras.ops.convert_to_numpy(out["bounding_boxes"]["labels"])
            boxes = np.where(labels[..., None] >= 0, boxes, -1.0).astype("float32")
        return images / 255.0, {"boxes": boxes.astype("float32"),
                                "labels": labels.astype("int32")}


class MeanAveragePrecision(keras.callbacks.Callback):
    """Adds ``val_map50`` (VOC all-point mAP@0.5 of the validation images) to each epoch's
    logs, before the engine's checkpoint reads them: the loss ranks epochs poorly."""

    def __init__(self, detector: keras.Model, source):
        super().__init__()
        self.detector, self.source = detector, source
        self._images = [source.load_image(i) for i in range(len(source))]

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_map50"] = detection_scores(self.detector, self.source,
                                                 self._images)["map50"]


def detection_scores(model, source, images=None, score_threshold=EVAL_SCORE_THRESHOLD,
                     predictions=None) -> dict[str, Any]:
    """VOC (all-point and 11-point, per class) and COCO figures of a model on a source."""
    from zoo.metrics.detection import coco_metrics, voc_map
    from zoo.models.detection.retinanet import predict_boxes

    if predictions is None:
        if images is None:
            images = [source.load_image(i) for i in range(len(source))]
        predictions = predict_boxes(model, images, score_threshold=score_threshold)
    gts = source.examples
    k = source.num_classes
    voc = voc_map(gts, predictions, num_classes=k)
    voc07 = voc_map(gts, predictions, num_classes=k, method="11point")
    coco = coco_metrics(gts, predictions)
    names = source.class_names
    # flat numbers first (what `training.publish --metrics-json` records), the tables after
    return {"map50": voc["mAP"], "map50_11point": voc07["mAP"],
            **{f"ap50_{names[c]}": voc["AP"][c] for c in range(k)},
            **{f"coco_{key}": coco[key] for key in ("AP", "AP50", "AP75", "AR100")},
            "ap50": {names[c]: voc["AP"][c] for c in range(k)},
            "ap50_11point": {names[c]: voc07["AP"][c] for c in range(k)},
            "coco": coco, "images": len(source),
            "boxes": int(sum(len(g["boxes"]) for g in gts)),
            "detections": int(sum(len(p["boxes"]) for p in predictions))}


class DetectionTask(Task):
    name = "detection"

    def default_builder_args(self) -> dict[str, Any]:
        return {"input_shape": (*self.recipe.image_size, 3), **self.recipe.builder_args}

    def settle_args(self) -> None:
        from training.data import BCCD_CLASSES

        self.builder_args = self.default_builder_args()
        if self.recipe.dataset == "bccd":
            self.builder_args.setdefault("classes", len(BCCD_CLASSES))
            self.class_names = self.class_names or BCCD_CLASSES

    def _check(self) -> None:
        from zoo.registry import get_entry

        r = self.recipe
        if get_entry(r.model).task != "detection":
            raise ValueError(f"{r.model} is a {get_entry(r.model).task} model; the detection "
                             "task trains zoo.list_models(task='detection').")
        height, width = r.image_size
        if height % 32 or width % 32:
            raise ValueError(f"Recipe {r.name!r}: a detector's image_size must be multiples of "
                             f"32 (the C5 stride). Received: {r.image_size}")

    def prepare(self) -> None:
        from training.augment_boxes import box_augmenter

        r = self.recipe
        self._check()
        train_split = "train" if r.val_fraction > 0 else "trainval"
        train = read_split(r, train_split)
        if r.limit:
            train = train.subset(range(min(r.limit, len(train))))
        self.class_names = train.class_names
        self.builder_args = self.default_builder_args()
        classes = self.builder_args.setdefault("classes", train.num_classes)
        if classes != train.num_classes:
            raise ValueError(f"Recipe {r.name!r}: builder_args classes={classes}, but "
                             f"{r.dataset} has {train.num_classes} classes {train.class_names}.")
        log.info("%s/%s: %s", r.dataset, train_split, train.report)
        images, boxes, labels = letterboxed(train, r.image_size)
        augment = dict(r.augment) if r.augment else {}
        augmenter = box_augmenter(r.image_size, seed=r.seed, **augment) if augment else None
        self._train = DetectionBatches(images, boxes, labels, r.batch_size, augmenter=augmenter,
                                       steps=r.steps_per_epoch, shuffle=True, seed=r.seed)
        self._val_source = read_split(r, "val", self.class_names) if r.val_fraction > 0 \
            else None
        self._val = None
        if self._val_source is not None:
            self._val = DetectionBatches(*letterboxed(self._val_source, r.image_size),
                                         r.batch_size)

    def phases(self):
        from zoo.models.detection.retinanet import RetinaNetTrainer

        r = self.recipe

        def setup(prev: Setup | None) -> Setup:
            detector = self.build()
            trainer = RetinaNetTrainer(detector, **r.loss_args)
            callbacks = ([MeanAveragePrecision(detector, self._val_source)]
                         if self._val_source is not None else [])
            return Setup(trainer, detector, None, None, self._train, self._val,
                         steps_per_epoch=len(self._train), callbacks=callbacks)
        return self.single_phase(setup)

    def monitor(self, setup: Setup) -> str:
        # without validation images the training loss ranks epochs (the last, with a schedule
        # that decays to 0, is about the best)
        return self.recipe.monitor if setup.val is not None else "loss"

    def curve_metrics(self) -> list[str]:
        return ["map50"] if self.recipe.val_fraction > 0 else []

    def after_fit(self, setup: Setup, out: Path) -> dict[str, Any]:
        found = {}
        if setup.val is not None:
            found["val"] = {"loss": float(setup.model.evaluate(setup.val, verbose=0)),
                            "map50": detection_scores(setup.export, self._val_source)["map50"]}
        return {**found, "test": self.evaluate(setup.export, "test", out / "eval" / "test")}

    def evaluate(self, model: keras.Model, split: str = "test",
                 out: Path | None = None) -> dict[str, Any]:
        from zoo.metrics.detection import plot_precision_recall, precision_recall_curve
        from zoo.models.detection.retinanet import predict_boxes

        self._check()
        source = read_split(self.recipe, split, self.class_names)
        images = [source.load_image(i) for i in range(len(source))]
        predictions = predict_boxes(model, images, score_threshold=EVAL_SCORE_THRESHOLD)
        report = detection_scores(model, source, predictions=predictions)
        report["class_names"] = list(source.class_names)
        if out is None:
            return report
        out.mkdir(parents=True, exist_ok=True)
        curves = {name: precision_recall_curve(source.examples, predictions, class_id=c)
                  for c, name in enumerate(source.class_names)}
        pr = plot_precision_recall(curves, out / "precision_recall.png",
                                   title=f"{self.recipe.model} on {self.recipe.dataset} {split}: "
                                         f"mAP@0.5 {report['map50']:.3f}")
        report = self.save_report(
            report, model, split, out, "predictions.png",
            draw=lambda path: boxes_figure(source, images, predictions, path, self.recipe.model))
        report["files"]["precision_recall"] = str(pr)
        return report

    def figure(self, model: keras.Model, path: Path, count: int = 4) -> Path:
        """The first ``count`` test images with their true and predicted boxes
        (`boxes_figure`)."""
        from zoo.models.detection.retinanet import predict_boxes

        source = read_split(self.recipe, "test", self.class_names)
        images = [source.load_image(i) for i in range(min(count, len(source)))]
        return boxes_figure(source, images, predict_boxes(model, images), path,
                            self.recipe.model, count)

    def format(self, report: dict[str, Any]) -> str:
        return format_report(report)

    def summary_line(self, summary: dict[str, Any], out: Path) -> str:
        t = summary.get("test", {})
        return (f"{summary['recipe']}: {summary['epochs_run']} epochs in "
                f"{summary['seconds']:.0f} s; test mAP@0.5 {t.get('map50', 0):.4f}, COCO AP "
                f"{t.get('coco', {}).get('AP', 0):.4f}; outputs in {out}/")


def boxes_figure(source, images, predictions, path: Path, model_name: str,
                 count: int = 4) -> Path:
    """A PNG grid of the first ``count`` images: true boxes (dashed) | predicted boxes scoring
    at least `FIGURE_SCORE_THRESHOLD` (class colours, scores)."""
    from zoo.visualize import draw_boxes, prediction_grid

    rows = []
    for i in range(min(count, len(images))):
        truth, pred = source.examples[i], predictions[i]
        keep = pred["scores"] >= FIGURE_SCORE_THRESHOLD
        rows.append([draw_boxes(images[i], truth["boxes"], truth["labels"],
                                class_names=source.class_names, dashed=True),
                     draw_boxes(images[i], pred["boxes"][keep], pred["labels"][keep],
                                pred["scores"][keep], class_names=source.class_names)])
    prediction_grid(rows, ["ground truth", f"{model_name} (score >= "
                                           f"{FIGURE_SCORE_THRESHOLD})"], path)
    return Path(path)


def format_report(report: dict[str, Any]) -> str:
    """The VOC table (per-class AP@0.5, all-point and 11-point) and COCO's summary."""
    lines = [f"{report['images']} images, {report['boxes']} boxes, "
             f"{report['detections']} detections (score >= {EVAL_SCORE_THRESHOLD})", "",
             f"{'class':<12} {'AP@0.5':>8} {'AP@0.5 (11-pt)':>15}"]
    for name, ap in report["ap50"].items():
        lines.append(f"{name:<12} {ap:>8.4f} {report['ap50_11point'][name]:>15.4f}")
    lines.append(f"{'mAP':<12} {report['map50']:>8.4f} {report['map50_11point']:>15.4f}")
    lines += ["", "COCO (pycocotools' summary):"]
    for key, value in report["coco"].items():
        lines.append(f"  {key:<6} {value:.4f}")
    files = report.get("files", {})
    if "precision_recall" in files:
        lines += ["", f"precision / recall: {files['precision_recall']}"]
    return "\n".join(lines)
