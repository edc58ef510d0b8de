"""The task adapter: what one task supplies to the engine, and nothing the engine does.

A task turns a recipe into data, a model, its loss and metrics (one `training.engine.Phase` or
several), an evaluation and a figure. Hooks a task must supply raise ``NotImplementedError``
(as Ultralytics' ``BaseTrainer`` does); the rest have defaults. The engine
(`training.engine.fit`) calls, in order: ``prepare()``, ``model_config()``, ``phases()`` (and
each phase's ``setup``), ``monitor()``, ``after_fit()``; ``python -m training.evaluate`` calls
``evaluate()`` and ``figure()`` on a model built by ``load()``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import keras

from training.engine import Phase, Setup
from training.recipes import Recipe


class Task:
    """Base class of the task adapters.

    Args:
        recipe: what to train.
        pipeline: ``"tfdata"`` or ``"arrays"`` (default: tf.data on TensorFlow, a
            ``keras.utils.PyDataset`` of NumPy arrays elsewhere); tasks with one input path
            ignore it.
        drop_remainder: static batch shapes (data-parallel and multi-worker runs).
    """

    name: ClassVar[str] = ""

    def __init__(self, recipe: Recipe, *, pipeline: str | None = None,
                 drop_remainder: bool = False):
        self.recipe = recipe
        self.pipeline = pipeline or ("tfdata" if keras.backend.backend() == "tensorflow"
                                     else "arrays")
        if self.pipeline not in ("tfdata", "arrays"):
            raise ValueError(f"`pipeline` must be 'tfdata' or 'arrays'. Received: {pipeline!r}")
        if self.pipeline == "tfdata" and keras.backend.backend() != "tensorflow":
            raise ValueError(f"--pipeline tfdata feeds the TensorFlow backend; on "
                             f"{keras.backend.backend()} use --pipeline arrays.")
        self.drop_remainder = drop_remainder
        self.builder_args: dict[str, Any] | None = None
        self.class_names: tuple[str, ...] | None = None

    # -- what a task must supply --------------------------------------------------------

    def prepare(self) -> None:
        """Loads the training and validation data and settles the builder arguments."""
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        """The run's phases (most tasks: one, `single_phase`)."""
        raise NotImplementedError

    def evaluate(self, model: keras.Model, split: str = "test",
                 out: Path | None = None) -> dict[str, Any]:
        """The task's figures of merit on a split; files (metrics.json, ...) go to ``out``."""
        raise NotImplementedError

    # -- defaults -----------------------------------------------------------------------

    def model_config(self) -> dict[str, Any]:
        """What loads the shipped weights: ``zoo.build(model, **builder_args)``, written to the
        run's ``model.json`` (read by ``training.evaluate`` and ``training.publish``)."""
        return {"task": self.name, "model": self.recipe.model,
                "builder_args": dict(self.builder_args or {}),
                "input_shape": [*self.recipe.image_size, self.recipe.channels],
                "class_names": list(self.class_names) if self.class_names else None}

    def build(self) -> keras.Model:
        """The shipped network with random weights, from the settled builder arguments."""
        return build_model(self.recipe.model, **(self.builder_args or {}))

    def monitor(self, setup: Setup) -> str:
        """The logged value that ranks epochs (the recipe's; without validation data the
        training value of the same name)."""
        monitor = self.recipe.monitor
        return monitor if setup.val is not None else monitor.removeprefix("val_")

    def curve_metrics(self) -> list[str]:
        """Metrics drawn in ``curves.png`` beside the loss."""
        return [self.recipe.monitor.removeprefix("val_")]

    def after_fit(self, setup: Setup, out: Path) -> dict[str, Any]:
        """Measures the trained network (best weights loaded); the result joins the summary."""
        if setup.val is None:
            return {}
        found = setup.model.evaluate(setup.val, verbose=0, return_dict=True)
        return {"val": {k: float(v) for k, v in found.items()}}

    def figure(self, model: keras.Model, path: Path) -> Path | None:
        """A picture of the task's predictions (None: the task has none)."""
        return None

    def save_report(self, report: dict[str, Any], model: keras.Model, split: str,
                    out: Path | None, figure: str,
                    draw: Callable[[Path], Any] | None = None) -> dict[str, Any]:
        """Writes ``out/metrics.json`` (with the model, dataset and split it measures) and the
        task's figure ``out/<figure>`` (``draw(path)``, for a task that has the predictions at
        hand already; default ``figure(model, path)``); returns the report with their paths as
        ``files``."""
        if out is None:
            return report
        write_metrics(out, "metrics.json", {"model": self.recipe.model,
                                            "dataset": self.recipe.dataset, "split": split,
                                            **report})
        if draw is not None:
            draw(out / figure)
        else:
            self.figure(model, out / figure)
        return {**report, "files": {"metrics": str(out / "metrics.json"),
                                    "figure": str(out / figure)}}

    def format(self, report: dict[str, Any]) -> str:
        """The report as ``python -m training.evaluate`` prints it."""
        return json.dumps({k: v for k, v in report.items() if k != "files"}, indent=2)

    def summary_line(self, summary: dict[str, Any], out: Path) -> str:
        val = ", ".join(f"{k} {v:.4f}" for k, v in (summary.get("val") or {}).items()
                        if isinstance(v, (int, float)))
        return (f"{summary['recipe']}: {summary['epochs_run']} epochs in "
                f"{summary['seconds']:.0f} s; best validation: {val or 'n/a'}; outputs in "
                f"{out}/")

    @classmethod
    def load(cls, recipe: Recipe, config: dict[str, Any] | None = None) -> "Task":
        """A task ready to evaluate: builder arguments from a run's ``model.json`` (or the
        recipe), without loading any training data."""
        task = cls(recipe)
        config = config or {}
        if config.get("builder_args") is not None:
            task.builder_args = dict(config["builder_args"])
        else:
            task.settle_args()
        if config.get("class_names"):
            task.class_names = tuple(config["class_names"])
        return task

    def settle_args(self) -> None:
        """The builder arguments without a run's ``model.json``: the recipe's (tasks whose
        arguments follow the data, such as ``classes``, read it)."""
        self.builder_args = self.default_builder_args()

    def default_builder_args(self) -> dict[str, Any]:
        args = dict(self.recipe.builder_args)
        if "input_shape" in self.accepted_args():
            args.setdefault("input_shape", (*self.recipe.image_size, self.recipe.channels))
        return args

    def accepted_args(self) -> set[str]:
        from zoo.registry import get_entry

        return set(inspect.signature(get_entry(self.recipe.model).builder).parameters)

    def single_phase(self, setup) -> list[Phase]:
        return [Phase("train", self.recipe.epochs, setup)]


def dataset_splits(recipe: Recipe):
    """The recipe's dataset as a `training.data.DatasetSplits` (each split read once; a plain
    folder's test share cut with the recipe's seed and ``test_fraction``, default 0.2)."""
    from training.data import DatasetSplits

    return DatasetSplits(recipe.dataset, recipe.data_dir, skip_corrupt=recipe.skip_corrupt,
                         test_fraction=recipe.test_fraction or 0.2, seed=recipe.seed)


def build_model(name: str, **args: Any) -> keras.Model:
    """``zoo.build``, with a builder argument it does not take reported as a ValueError."""
    import zoo

    try:
        return zoo.build(name, **args)
    except TypeError as e:
        raise ValueError(f"zoo.build({name!r}) does not take these arguments "
                         f"({', '.join(sorted(args))}): {e}") from e


def write_metrics(out: Path | None, name: str, report: dict[str, Any]) -> Path | None:
    """``out/name`` as JSON (the `training.publish --metrics-json` format)."""
    if out is None:
        return None
    from training.checkpoints import write_json

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / name, report)
    return out / name


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
