"""Semantic segmentation: U-Net, SegNet, FCN on image / mask pairs; pixel cross-entropy (+ Dice).

Training sees the recipe's joint augmentations (flips, quarter turns, crops, elastic
deformation: `training.augment_dense`); evaluation runs on the whole held-out images and
reports pixel accuracy, mean IoU and each class's IoU (``metrics.json``), with a grid of
predictions (``predictions.png``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from training.engine import Setup
from training.tasks.base import Task
from training.tasks.dense import (evaluate_segmentation, load_dense, make_batches,
                                  prediction_figure, segmentation_loss)


class SegmentationTask(Task):
    name = "segmentation"

    @property
    def num_classes(self) -> int:
        args = self.builder_args or self.recipe.builder_args
        return int(args.get("classes", args.get("num_classes", 2)))  # num_classes: old alias

    def default_builder_args(self) -> dict[str, Any]:
        # fully convolutional: any size the network's strides allow
        return {"input_shape": (None, None, self.recipe.channels), **self.recipe.builder_args}

    def prepare(self) -> None:
        from zoo.registry import get_entry

        r = self.recipe
        entry = get_entry(r.model)
        if entry.task != "segmentation":
            raise ValueError(f"{r.model} is a {entry.task} model; the segmentation task trains "
                             "zoo.list_models(task='segmentation').")
        self.builder_args = self.default_builder_args()
        x, y = load_dense(r, "train")
        xv, yv = load_dense(r, "val")
        self._train = make_batches(r, x, y, training=True)
        self._val = make_batches(r, xv, yv, training=False)
        self.steps = r.steps_per_epoch or max(1, -(-len(x) // r.batch_size))

    def phases(self):
        from zoo.metrics import MeanIoU, PixelAccuracy

        r = self.recipe

        def setup(prev: Setup | None) -> Setup:
            model = self.build()
            n = self.num_classes
            return Setup(model, model, segmentation_loss(n, **r.loss_args),
                         [PixelAccuracy(n, name="pixel_accuracy"), MeanIoU(n, name="mean_iou")],
                         self._train, self._val, steps_per_epoch=self.steps)
        return self.single_phase(setup)

    def curve_metrics(self) -> list[str]:
        return ["mean_iou", "pixel_accuracy"]

    def after_fit(self, setup: Setup, out: Path) -> dict[str, Any]:
        return {**super().after_fit(setup, out),
                "test": self.evaluate(setup.export, "test", out / "eval" / "test")}

    def evaluate(self, model: keras.Model, split: str = "test",
                 out: Path | None = None) -> dict[str, Any]:
        report = evaluate_segmentation(self.recipe, model, split, num_classes=self.num_classes)
        return self.save_report(report, model, split, out, "predictions.png")

    def figure(self, model: keras.Model, path: Path) -> Path:
        return prediction_figure(self.recipe, model, path)

    def summary_line(self, summary: dict[str, Any], out: Path) -> str:
        t = summary.get("test", {})
        return (f"{summary['recipe']}: {summary['epochs_run']} epochs in "
                f"{summary['seconds']:.0f} s; test pixel accuracy {t.get('pixel_acc', 0):.4f}, "
                f"mIoU {t.get('miou', 0):.4f}; outputs in {out}/")
