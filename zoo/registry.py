"""The model registry: architecture name -> builder + what a user needs to know about it.

Follows timm's decorator registry (a variant is registered where it is defined) and
torchvision's rule that a duplicate name is an error, not a silent overwrite. Weight records
live apart from the code, in ``zoo/weights/manifest.json`` (see `zoo.weights`).

The registry is a leaf, as timm's is: it imports nothing from ``zoo``. The model modules import
it and register themselves; ``zoo/__init__.py`` imports ``zoo.models``, so every builder is
registered before any ``zoo.*`` import returns. Which models have weights is `zoo.weights`'
knowledge: ``zoo.list_models(pretrained=...)`` filters on it.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import inspect
import re
from collections.abc import Callable
from typing import Any

TASKS = ("classification", "segmentation", "depth", "detection", "metric")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one architecture.

    Attributes:
        name: the registry name, lower case (``"resnet50"``).
        builder: the function that builds a ``keras.Model``.
        task: one of `TASKS`.
        paper: title of the paper that defines the architecture.
        paper_url: where to read it.
        year: publication year.
        params: parameter count with the default arguments, as the source states it.
        params_source: where ``params`` comes from (the paper, keras.applications, ...).
        input_shape: the paper's input ``(height, width, channels)``.
        min_size: the smallest height / width the strides allow.
        fixed_size_top: whether ``include_top=True`` requires exactly ``input_shape``.
        preprocessing: what the model expects at its input: ``"unit"`` (float in [0, 1]),
            ``"caffe"`` or ``"tf"`` (keras.applications' modes, on 0-255 RGB; see the
            family's ``preprocess_input``).
        feature_layers: stride level -> layer name (``{"P2": "conv2_block3_out"}``) for
            decoders and detectors that tap the backbone.
    """

    name: str
    builder: Callable[..., Any]
    task: str
    paper: str
    paper_url: str
    year: int
    params: int | None = None
    params_source: str = "paper"
    input_shape: tuple[int, int, int] = (224, 224, 3)
    min_size: int = 32
    fixed_size_top: bool = False
    preprocessing: str = "unit"
    feature_layers: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The first line of the builder's docstring."""
        doc = inspect.getdoc(self.builder) or ""
        return doc.splitlines()[0] if doc else ""


_REGISTRY: dict[str, ModelEntry] = {}


def register(name: str, **metadata: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a builder under ``name`` (a decorator).

    Args:
        name: registry name, lower case letters, digits and ``_``.
        **metadata: the other `ModelEntry` fields (``task``, ``paper``, ``params``, ...).

    Raises:
        ValueError: if the name is malformed, already registered, or the task is unknown.

    Example:
        >>> @register("tiny", task="classification", paper="A paper", paper_url="", year=2024)
        ... def tiny(**kwargs): ...
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"Model names are lower case letters, digits and '_'. Received: {name!r}")
    if metadata.get("task") not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}. Received: task={metadata.get('task')!r}")

    def decorator(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ValueError(f"A model named {name!r} is already registered "
                             f"(by {_REGISTRY[name].builder.__module__}).")
        _REGISTRY[name] = ModelEntry(name=name, builder=builder, **metadata)
        return builder

    return decorator


def natural_key(name: str) -> list[Any]:
    """Sorts ``resnet18`` before ``resnet101`` (numbers compared as numbers)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def entries() -> dict[str, ModelEntry]:
    """All registered entries, keyed by name."""
    return dict(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    """Returns the entry for ``name``.

    Raises:
        ValueError: for an unknown name, listing the closest registered names.
    """
    if not isinstance(name, str):
        raise ValueError(f"A model name must be a string. Received: {name!r}")
    key = name.lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    close = difflib.get_close_matches(key, list(_REGISTRY), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"Unknown model {name!r}.{hint} zoo.list_models() lists all "
                     f"{len(_REGISTRY)} models.")


def list_models(task: str | None = None, *, pattern: str | None = None) -> list[str]:
    """Lists registered model names, naturally sorted.

    ``zoo.list_models`` adds the ``pretrained`` filter (the weight manifest's knowledge).

    Args:
        task: keep only this task (``"classification"``, ``"segmentation"``, ...).
        pattern: an fnmatch wildcard such as ``"resnet*"``.

    Example:
        >>> list_models(pattern="vgg*")
        ['vgg16', 'vgg19']
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS} or None. Received: task={task!r}")
    names = [name for name, entry in _REGISTRY.items()
             if (task is None or entry.task == task)
             and (pattern is None or fnmatch.fnmatch(name, pattern.lower()))]
    return sorted(names, key=natural_key)
