"""A pass-through layer that checks the image size a fully convolutional network receives.

A network built for ``(None, None, C)`` inputs accepts any size until a skip connection meets a
feature map of another size, deep inside, with an error about a concatenation. This layer sits
after the input and says instead which sizes work and the nearest ones to what was given
(segmentation_models_pytorch's ``check_input_shape`` does the same).

The size arithmetic (`size_rule`, `nearest_sizes`) lives here too, below the model builders
that check a fixed ``input_shape`` with it (`zoo.models.common.dense_input`, ``eigen_depth``).
"""

from __future__ import annotations

import keras


def valid_unpadded_unet_size(size: int, depth: int) -> bool:
    """Whether U-Net without padding (the paper's variant) can take a side of ``size`` pixels.

    Each level loses 4 pixels to two 3x3 convolutions and must then be even to pool; the
    bottom level loses 4 more. 572 is valid for depth 4 (the paper's tile).
    """
    for _ in range(depth):
        size -= 4
        if size <= 0 or size % 2:
            return False
        size //= 2
    return size - 4 > 0


def nearest_sizes(size: int, valid, count: int = 2) -> list[int]:
    """The valid sizes closest to ``size`` (one below and one above when they exist)."""
    below = [s for s in range(size, 0, -1) if valid(s)][:1]
    above = [s for s in range(size + 1, size + 4096) if valid(s)][:count - len(below)]
    return below + above


def size_rule(divisor: int = 1, unpadded_depth: int | None = None):
    """``(predicate, description)`` of the valid side lengths."""
    if unpadded_depth is not None:
        return (lambda s: valid_unpadded_unet_size(s, unpadded_depth),
                f"a size U-Net without padding at depth {unpadded_depth} can tile "
                f"(each level: minus 4, then even)")
    return (lambda s: s >= divisor and s % divisor == 0), f"divisible by {divisor}"


@keras.saving.register_keras_serializable(package="zoo")
class InputSizeCheck(keras.layers.Layer):
    """Returns its input unchanged; raises a clear ``ValueError`` for a size the net cannot take.

    The check runs whenever the height and width are known when the layer is called (always on
    JAX; on TensorFlow in eager mode and in traced functions with static shapes).

    Args:
        model_name: used in the message.
        divisor: the product of the network's strides.
        unpadded_depth: for U-Net without padding, its depth (replaces ``divisor``).
    """

    def __init__(self, model_name: str = "model", divisor: int = 1,
                 unpadded_depth: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.model_name, self.divisor, self.unpadded_depth = model_name, divisor, unpadded_depth

    def call(self, inputs):
        valid, rule = size_rule(self.divisor, self.unpadded_depth)
        for axis, size in zip(("height", "width"), inputs.shape[1:3]):
            if isinstance(size, int) and not valid(size):
                raise ValueError(
                    f"{self.model_name}: input {axis} must be {rule}. Received an image of "
                    f"{inputs.shape[1]}x{inputs.shape[2]}; the nearest valid {axis}s are "
                    f"{nearest_sizes(size, valid)}. Pad or resize the image.")
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "model_name": self.model_name, "divisor": self.divisor,
                "unpadded_depth": self.unpadded_depth}
