"""The opening every classifier builder shares: validate, check ``weights``, make the input.

The input facts (default shape, minimum size, whether the top needs a fixed size) are read
from the model's registry entry, so they are written once, in the ``@register`` call.
"""

from __future__ import annotations

from typing import Any

from zoo.layers import image_input, validate_head_args
from zoo.layers.checks import InputSizeCheck, nearest_sizes, size_rule
from zoo.registry import get_entry
from zoo.weights import check_weights_arg


def classifier_input(name: str, *, include_top: bool, weights: Any, input_tensor: Any,
                     input_shape: Any, pooling: str | None, classes: int,
                     fixed_size: bool | None = None, **weight_args: Any):
    """Validates a classifier's arguments and returns ``(model_inputs, image_tensor)``.

    Args:
        name: the registry name; its entry gives ``input_shape``, ``min_size`` and
            ``fixed_size_top``.
        include_top, weights, input_tensor, input_shape, pooling, classes: the builder's
            keras.applications arguments.
        fixed_size: overrides the entry's ``fixed_size_top`` (GoogLeNet's aux classifiers).
        **weight_args: other builder arguments a weight tag may pin (``alpha``, ...).

    Raises:
        ValueError: naming the argument, what is accepted and the value received.
    """
    entry = get_entry(name)
    validate_head_args(name, include_top=include_top, pooling=pooling, classes=classes)
    check_weights_arg(name, weights, include_top=include_top, classes=classes, **weight_args)
    return image_input(input_shape, input_tensor, model_name=name,
                       default_shape=entry.input_shape, min_size=entry.min_size,
                       fixed_size=entry.fixed_size_top if fixed_size is None else fixed_size,
                       include_top=include_top)


def embedding_input(name: str, *, include_top: bool, weights: Any, input_tensor: Any,
                    input_shape: Any, pooling: str | None, embedding_dim: int,
                    flattening_top: bool = False, **weight_args: Any):
    """`classifier_input` for embedding networks: the head is an ``embedding_dim`` vector.

    ``flattening_top``: the head flattens a feature map (its size follows the input), so the
    input height and width must be known when ``include_top=True``.

    Raises:
        ValueError: naming the argument, what is accepted and the value received.
    """
    if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
        raise ValueError(f"{name}: `embedding_dim` must be an integer >= 1. "
                         f"Received: embedding_dim={embedding_dim!r}")
    entry = get_entry(name)
    validate_head_args(name, include_top=include_top, pooling=pooling, classes=1)
    if input_shape is not None:  # a record may pin it (a flattening top is sized by it)
        weight_args["input_shape"] = tuple(input_shape)
    check_weights_arg(name, weights, include_top=include_top, embedding_dim=embedding_dim,
                      **weight_args)
    if flattening_top and include_top and input_shape is not None \
            and None in tuple(input_shape)[:2]:
        raise ValueError(f"{name} with include_top=True flattens its last feature map, so it "
                         f"needs a known input height and width. Received: "
                         f"input_shape={tuple(input_shape)}")
    return image_input(input_shape, input_tensor, model_name=name,
                       default_shape=entry.input_shape, min_size=entry.min_size,
                       fixed_size=False, include_top=include_top)


def dense_input(name: str, *, input_shape: Any, input_tensor: Any, default_shape: tuple,
                divisor: int = 1, unpadded_depth: int | None = None):
    """Validates the input of a fully convolutional network and returns ``(inputs, image)``.

    A dense-prediction net accepts any height / width its strides divide (``divisor``);
    U-Net without padding has its own arithmetic (``unpadded_depth``). A size fixed in
    ``input_shape`` is checked here; ``image`` passes through `InputSizeCheck`, which checks
    the sizes a ``(None, None, C)`` model is later called with.

    Raises:
        ValueError: for a size the network cannot take, naming the nearest valid sizes.
    """
    valid, rule = size_rule(divisor, unpadded_depth)
    if input_shape is None and input_tensor is None:
        input_shape = default_shape
    if input_shape is not None:
        shape = tuple(input_shape)
        for axis, size in zip(("height", "width"), shape[:2]):
            if size is not None and not valid(size):
                raise ValueError(
                    f"{name}: input {axis} must be {rule}. Received: input_shape={shape}; "
                    f"the nearest valid {axis}s are {nearest_sizes(size, valid)}. Pad or "
                    f"resize the image, or build with input_shape=(None, None, "
                    f"{shape[-1]}) and feed valid sizes.")
    inputs, image = image_input(input_shape, input_tensor, model_name=name,
                                default_shape=default_shape, min_size=1, fixed_size=False,
                                include_top=False)
    image = InputSizeCheck(name, divisor, unpadded_depth, name="input_size_check")(image)
    return inputs, image


def resolve_classes(name: str, classes: Any, num_classes: Any = None, *,
                    default: int) -> int:
    """The number of classes a dense-prediction builder makes, from ``classes`` or its alias.

    Every builder calls it ``classes``, as keras.applications does; ``num_classes`` (the
    segmentation builders' earlier name, and torchvision's) is accepted as an alias.

    Raises:
        ValueError: for a value that is not an integer >= 1 (1: a single sigmoid / binary map),
            or for both names given with different values.
    """
    if num_classes is not None:
        if classes not in (default, num_classes):
            raise ValueError(f"{name}: give `classes` (or its alias `num_classes`), not both. "
                             f"Received: classes={classes!r}, num_classes={num_classes!r}")
        classes = num_classes
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"{name}: `classes` must be an integer >= 1. "
                         f"Received: classes={classes!r}")
    return classes


def backbone_features(backbone, image, backbone_weights, freeze: bool,
                      backbone_args: dict | None = None):
    """Runs a zoo classifier (headless) on ``image``; returns its ``{level: tensor}`` taps
    (the registry's ``feature_layers``, ``"P3"`` -> 3) and the encoder. U-Net's and the
    detectors' encoders."""
    if not isinstance(backbone, str):
        raise ValueError(f"`backbone` must be the name of a zoo classifier with feature "
                         f"layers, e.g. 'resnet34' or 'vgg16'. Received: {backbone!r}")
    entry = get_entry(backbone)
    if entry.task != "classification" or not entry.feature_layers:
        raise ValueError(f"`backbone` must be a zoo classifier with feature layers (e.g. "
                         f"'resnet34', 'vgg16', 'mobilenet'). Received: {backbone!r}")
    try:
        encoder = entry.builder(include_top=False, weights=backbone_weights, input_tensor=image,
                                **(backbone_args or {}))
    except TypeError as e:   # an argument the backbone's builder does not take
        raise ValueError(f"`backbone_args` {backbone_args!r} do not fit {backbone!r}: {e}") \
            from e
    encoder.trainable = not freeze
    taps = {int(level[1:]): encoder.get_layer(layer).output
            for level, layer in entry.feature_layers.items()}
    return taps, encoder
