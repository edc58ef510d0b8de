"""zoo: a Keras 3 model zoo for computer vision.

The public API follows keras.applications and timm::

    import zoo
    zoo.list_models(task="classification", pretrained=True)
    zoo.describe("resnet50")
    model = zoo.build("resnet18", input_shape=(32, 32, 3), classes=10)   # random init
    model = zoo.load("vgg16", weights="imagenet")                        # pretrained
    backbone = zoo.load("resnet50", include_top=False, pooling="avg")    # transfer learning

``import zoo`` imports Keras but never gradio, tensorflow-datasets or the ``training`` package.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo import embeddings, losses, metrics, visualize
from zoo import models  # noqa: F401  (importing the model package registers every builder)
from zoo import registry as _registry, weights as _weights
from zoo.imagenet import decode_predictions
from zoo.registry import get_entry, register
from zoo.weights import transfer_by_name

__version__ = "0.1.0"
__all__ = ["build", "decode_predictions", "describe", "embeddings", "list_models", "load",
           "losses", "metrics", "register", "transfer_by_name", "visualize"]


def __getattr__(name: str) -> Any:
    """``zoo.metric``, the old name of `zoo.embeddings`, imported (with a warning) on first use."""
    if name == "metric":
        import importlib
        return importlib.import_module("zoo.metric")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def list_models(task: str | None = None, pretrained: bool | None = None,
                pattern: str | None = None) -> list[str]:
    """Lists registered model names, naturally sorted.

    Args:
        task: keep only this task (``"classification"``, ``"segmentation"``, ...).
        pretrained: ``True`` keeps models with at least one weight tag, ``False`` those
            without, ``None`` keeps all.
        pattern: an fnmatch wildcard such as ``"resnet*"``.

    Example:
        >>> zoo.list_models(pattern="vgg*")
        ['vgg16', 'vgg19']
    """
    names = _registry.list_models(task, pattern=pattern)
    if pretrained is None:
        return names
    return [name for name in names if bool(_weights.weight_tags(name)) == pretrained]


def _split_name(name: str) -> tuple[str, str | None]:
    """``"resnet50.imagenet"`` -> ``("resnet50", "imagenet")`` (timm's ``arch.tag`` grammar)."""
    if not isinstance(name, str):
        raise ValueError(f"A model name must be a string. Received: {name!r}")
    arch, _, tag = name.partition(".")
    return arch, (tag or None)


def build(name: str, **kwargs: Any) -> keras.Model:
    """Builds a registered model with random weights (or ``weights=`` if given).

    Args:
        name: a registry name, see `list_models`.
        **kwargs: the builder's keyword arguments (``input_shape``, ``classes``,
            ``include_top``, ``pooling``, ...).

    Example:
        >>> model = zoo.build("lenet5")
        >>> model.count_params()
        61706
    """
    arch, tag = _split_name(name)
    if tag is not None:
        raise ValueError(f"zoo.build takes an architecture name; use zoo.load({name!r}) to load "
                         f"the {tag!r} weights.")
    return get_entry(arch).builder(**kwargs)


def load(name: str, weights: str | None = "default", **kwargs: Any) -> keras.Model:
    """Builds a model and loads pretrained weights.

    The weight tag's record fixes the builder arguments the weights need (for example
    ``classes=1000`` for ImageNet); other keywords pass through, and one that contradicts the
    record raises a ValueError.

    Args:
        name: ``"arch"`` or ``"arch.tag"``.
        weights: a tag of this model (see `describe`), ``"default"`` for its default tag, a path
            to a ``.weights.h5`` / ``.h5`` / ``.keras`` file, or None for random weights.
        **kwargs: builder keyword arguments.

    Example:
        >>> backbone = zoo.load("resnet50", include_top=False, pooling="avg")  # ImageNet
    """
    arch, tag = _split_name(name)
    entry = get_entry(arch)
    if tag is not None:
        if weights not in ("default", None, tag):
            raise ValueError(f"Two weight tags given: {name!r} and weights={weights!r}.")
        weights = tag
    if weights is None or _weights._is_path(weights):
        return entry.builder(weights=weights, **kwargs)
    spec = _weights.get_weight_spec(arch, weights)
    # The builder checks that no keyword contradicts the record (check_weights_arg).
    args = {**spec.builder_args, **kwargs}
    return entry.builder(weights=spec.tag, **args)


def describe(name: str) -> dict[str, Any]:
    """What the zoo knows about a model: paper, year, parameters, input, weight tags.

    Example:
        >>> zoo.describe("vgg16")["params"]
        138357544
    """
    arch, _ = _split_name(name)
    entry = get_entry(arch)
    return {
        "name": entry.name,
        "summary": entry.summary,
        "task": entry.task,
        "paper": entry.paper,
        "paper_url": entry.paper_url,
        "year": entry.year,
        "params": entry.params,
        "params_source": entry.params_source,
        "input_shape": entry.input_shape,
        "min_size": entry.min_size,
        "fixed_size_top": entry.fixed_size_top,
        "preprocessing": entry.preprocessing,
        "feature_layers": dict(entry.feature_layers),
        "weights": {tag: _weights.get_weight_spec(arch, tag).to_dict()
                    for tag in _weights.weight_tags(arch)},
    }
