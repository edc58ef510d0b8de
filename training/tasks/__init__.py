"""Task adapters: one per task, each supplying what differs (data, model, loss and metrics,
evaluation, figure) to the one engine, `training.engine.fit`.

=================  =========================================  ===========================
recipe ``task``    adapter                                    models
=================  =========================================  ===========================
``classification``  `training.tasks.classification.ClassificationTask`  zoo classifiers
``metric``          `training.tasks.metric.MetricTask`          Siamese / FaceNet / LeNets++
``segmentation``    `training.tasks.segmentation.SegmentationTask`  U-Net, SegNet, FCN
``depth``           `training.tasks.depth.DepthTask`            Eigen et al.
``detection``       `training.tasks.detection.DetectionTask`    RetinaNet
=================  =========================================  ===========================

A new task is one module with a `Task` subclass and one line in `TASKS`.
"""

from __future__ import annotations

import importlib

from training.tasks.base import Task

TASKS = {
    "classification": "training.tasks.classification:ClassificationTask",
    "metric": "training.tasks.metric:MetricTask",
    "segmentation": "training.tasks.segmentation:SegmentationTask",
    "depth": "training.tasks.depth:DepthTask",
    "detection": "training.tasks.detection:DetectionTask",
}

__all__ = ["TASKS", "Task", "task_class", "make_task"]


def task_class(name: str) -> type[Task]:
    """The adapter class of a task name (imported on first use)."""
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}. Known: {', '.join(TASKS)}.")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_task(recipe, **kwargs) -> Task:
    """The adapter for a recipe (its ``task`` field)."""
    return task_class(recipe.task)(recipe, **kwargs)
