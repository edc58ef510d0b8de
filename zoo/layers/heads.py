"""The input and head plumbing every classifier shares.

keras.applications spreads this over `imagenet_utils.obtain_input_shape` and per-model
checks; here it is one place, so every builder validates its arguments the same way and every
error names the argument, the rule and the value received.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

POOLING_CHOICES = (None, "avg", "max")


def validate_head_args(model_name: str, *, include_top: bool, pooling: str | None,
                       classes: int) -> None:
    """Checks the keras.applications head switches before anything is built.

    Raises:
        ValueError: naming the argument, the accepted values and the value received.
    """
    if not isinstance(include_top, bool):
        raise ValueError(f"{model_name}: `include_top` must be True or False. "
                         f"Received: include_top={include_top!r}")
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"{model_name}: `pooling` must be one of None, 'avg' or 'max'. "
                         f"Received: pooling={pooling!r}")
    if include_top and (isinstance(classes, bool) or not isinstance(classes, int)
                        or classes < 1):  # without a top, `classes` is ignored
        raise ValueError(f"{model_name}: `classes` must be an integer >= 1. "
                         f"Received: classes={classes!r}")


def image_input(input_shape: Sequence[int | None] | None,
                input_tensor,
                *,
                model_name: str,
                default_shape: tuple[int, int, int],
                min_size: int,
                fixed_size: bool = False,
                include_top: bool = True):
    """Creates (or adopts) the image input and checks its shape.

    Args:
        input_shape: ``(height, width, channels)``; ``None`` picks ``default_shape`` when the
            top is included and ``(None, None, channels)`` otherwise.
        input_tensor: optional Keras tensor (e.g. ``keras.Input``) to build on.
        model_name: used in error messages.
        default_shape: the paper's input shape.
        min_size: the smallest height / width the strides allow.
        fixed_size: whether the classifier top needs exactly ``default_shape`` (a top that
            flattens a feature map, as in LeNet, AlexNet and VGG).
        include_top: whether the top is built (``fixed_size`` only applies then).

    Returns:
        ``(model_inputs, image_tensor)``: what to pass to ``keras.Model`` and the tensor the
        network starts from.

    Raises:
        ValueError: when the shape is not 3-D, too small, or differs from the fixed size
            that the classifier top needs.
    """
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        input_shape = default_shape if include_top else (None, None, default_shape[-1])
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"{model_name}: `input_shape` must be (height, width, channels). "
                         f"Received: input_shape={input_shape}")
    height, width, channels = input_shape
    if channels is None or channels < 1:
        raise ValueError(f"{model_name}: `input_shape` needs a known number of channels >= 1. "
                         f"Received: input_shape={input_shape}")
    for size in (height, width):
        if size is not None and size < min_size:
            raise ValueError(f"{model_name}: input height and width must be at least "
                             f"{min_size}x{min_size}. Received: input_shape={input_shape}")
    if fixed_size and include_top and input_shape != tuple(default_shape):
        raise ValueError(
            f"{model_name} with include_top=True needs input_shape={tuple(default_shape)}: its "
            f"fully connected top is sized for that input. Received: input_shape={input_shape}. "
            "Use include_top=False (with pooling='avg' or 'max') for other sizes.")

    if input_tensor is None:
        image = keras.Input(shape=input_shape, name="image")
        return image, image
    if not keras.backend.is_keras_tensor(input_tensor):
        image = keras.Input(tensor=input_tensor, shape=input_shape, name="image")
        return image, image
    return keras.utils.get_source_inputs(input_tensor), input_tensor


def pool_features(x, pooling: str | None, name_prefix: str = ""):
    """Applies the headless model's optional global pooling (``None``, ``"avg"``, ``"max"``)."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name=f"{name_prefix}avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name=f"{name_prefix}max_pool")(x)
    return x
