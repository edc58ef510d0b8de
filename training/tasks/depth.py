"""Monocular depth: Eigen et al.'s coarse + fine network, the scale-invariant loss, RMSE.

The paper's two stages are two phases of one run: the coarse network alone (its best weights
in ``coarse/best.weights.h5``), then the fine network on top of it with the coarse layers
frozen. Evaluation: RMSE, log RMSE, abs / squared relative error, log10, delta < 1.25^k and
the scale-invariant error on the held-out scenes and, with a data folder, on the 5 real rgbd
frames, beside the coarse network alone and the mean-depth baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from training.engine import Phase, Setup
from training.tasks.base import Task, build_model
from training.tasks.dense import evaluate_depth, load_dense, make_batches, prediction_figure

COARSE_BEST = "coarse/best.weights.h5"


class DepthTask(Task):
    name = "depth"

    def default_builder_args(self) -> dict[str, Any]:
        return {"input_shape": (*self.recipe.image_size, 3), **self.recipe.builder_args}

    def prepare(self) -> None:
        r = self.recipe
        if r.fine_epochs < 1:
            raise ValueError(f"Recipe {r.name!r}: the depth task trains the fine network after "
                             f"the coarse one: `fine_epochs` must be >= 1. Received: "
                             f"{r.fine_epochs}")
        self.builder_args = self.default_builder_args()
        x, y = load_dense(r, "train")
        xv, yv = load_dense(r, "val")
        self._train = make_batches(r, x, y, training=True)
        self._val = make_batches(r, xv, yv, training=False)

    def build_stage(self, output: str) -> keras.Model:
        return build_model(self.recipe.model, output=output, **self.builder_args)

    def _loss(self):
        from zoo.losses import ScaleInvariantLoss

        return ScaleInvariantLoss(**{"lam": 0.5, **self.recipe.loss_args})

    def phases(self) -> list[Phase]:
        from zoo.models.depth.eigen import freeze_coarse
        from zoo.weights import transfer_by_name

        r = self.recipe

        def coarse(prev: Setup | None) -> Setup:
            model = self.build_stage("coarse")
            return Setup(model, model, self._loss(), [], self._train, self._val)

        def fine(prev: Setup | None) -> Setup:
            model = self.build_stage("fine")
            if prev is not None:
                transfer_by_name(prev.export, model)  # the coarse stack, at its best epoch
            freeze_coarse(model)
            return Setup(model, model, self._loss(), [], self._train, self._val)

        return [Phase("coarse", r.epochs, coarse, best=COARSE_BEST, restore_best=True,
                      monitor="val_loss"),
                Phase("fine", r.fine_epochs, fine, monitor="val_loss")]

    def monitor(self, setup: Setup) -> str:
        return "val_loss"

    def curve_metrics(self) -> list[str]:
        return []

    def after_fit(self, setup: Setup, out: Path) -> dict[str, Any]:
        from zoo.models.depth.eigen import freeze_coarse

        freeze_coarse(setup.export, frozen=False)
        coarse = self.build_stage("coarse")
        coarse.load_weights(out / COARSE_BEST)
        return {"test": self.evaluate(setup.export, "test", out / "eval" / "test",
                                      coarse_model=coarse)}

    def evaluate(self, model: keras.Model, split: str = "test", out: Path | None = None,
                 coarse_model: keras.Model | None = None) -> dict[str, Any]:
        if split != "test":
            raise ValueError(f"The depth task evaluates the held-out 'test' scenes (and rgbd "
                             f"frames). Received: split={split!r}")
        report = evaluate_depth(self.recipe, model, coarse_model=coarse_model)
        return self.save_report(report, model, split, out, "predictions.png")

    def figure(self, model: keras.Model, path: Path) -> Path:
        return prediction_figure(self.recipe, model, path)

    def summary_line(self, summary: dict[str, Any], out: Path) -> str:
        t = summary.get("test", {}).get("scenes", {})
        return (f"{summary['recipe']}: {summary['epochs_run']} epochs in "
                f"{summary['seconds']:.0f} s; test scenes RMSE {t.get('rmse', float('nan')):.3f} "
                f"m, delta1 {t.get('delta1', float('nan')):.3f}; outputs in {out}/")
