"""The opening every classifier builder shares: validate, check ``weights``, make the input.

The input facts (default shape, minimum size, whether the top needs a fixed size) are read
from the model's registry entry, so they are written once, in the ``@register`` call.
"""

from __future__ import annotations

from typing import Any

from zoo.layers import image_input, validate_head_args
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
