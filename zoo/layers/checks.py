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
    bottom level loses 4 more; each level of the expanding path doubles and loses 4, and must
    keep a pixel. 572 is valid for depth 4 (the paper's tile, whose output is 388).
    """
    for _ in range(depth):
        size -= 4
        if size <= 0 or size % 2:
            return False
        size //= 2
    size -= 4
    for _ in range(depth):
        if size <= 0:
            return False
        size = 2 * size - 4
    return size > 0


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


def unpadded_unet_output_size(size: int, depth: int) -> int:
    """The output side of U-Net without padding for a valid input side (572 -> 388, depth 4)."""
    for _ in range(depth):
        size = (size - 4) // 2
    size -= 4
    for _ in range(depth):
        size = 2 * size - 4
    return size


SIZE_ERROR_MARK = "zoo: the input size check failed"  # how `size_error` finds the graph's assert


@keras.saving.register_keras_serializable(package="zoo")
class InputSizeCheck(keras.layers.Layer):
    """Returns its input unchanged; raises a clear ``ValueError`` for a size the net cannot take.

    The check runs on every call:

    - when the height and width are known as the layer is called (always on JAX and PyTorch;
      on TensorFlow in eager mode and in functions traced with those sizes), it raises the
      ``ValueError`` at once;
    - on TensorFlow, in a function traced with unknown sizes (Keras relaxes the traced shape
      of ``predict`` after a second size, and a ``tf.data`` pipeline of varying sizes has
      none), it adds an in-graph assertion, which fails when the function runs;
      `zoo.models.sized.SizeCheckedModel` turns that failure back into the same
      ``ValueError``.

    Args:
        model_name: used in the message.
        divisor: the product of the network's strides.
        unpadded_depth: for U-Net without padding, its depth (replaces ``divisor``).
    """

    def __init__(self, model_name: str = "model", divisor: int = 1,
                 unpadded_depth: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.model_name, self.divisor, self.unpadded_depth = model_name, divisor, unpadded_depth

    @property
    def rule(self):
        """``(predicate, description)`` of the valid sides (see `size_rule`)."""
        return size_rule(self.divisor, self.unpadded_depth)

    def output_size(self, size: int) -> int:
        """The side of the network's output for a valid input side of ``size``."""
        if self.unpadded_depth is not None:
            return unpadded_unet_output_size(size, self.unpadded_depth)
        return size

    def padded_size(self, size: int) -> int:
        """The smallest valid input side whose output covers ``size`` pixels."""
        valid, _ = self.rule
        candidate = max(size, 1)
        while not (valid(candidate) and self.output_size(candidate) >= size):
            candidate += 1
        return candidate

    def message(self, height: int | None, width: int | None) -> str | None:
        """The error for an image of ``height x width``, or None when both sides are valid."""
        valid, rule = self.rule
        for axis, size in (("height", height), ("width", width)):
            if isinstance(size, int) and not valid(size):
                return (f"{self.model_name}: input {axis} must be {rule}. Received an image of "
                        f"{height}x{width}; the nearest valid {axis}s are "
                        f"{nearest_sizes(size, valid)}. Pad or resize the image (predict(x, "
                        f"pad=True) pads to a valid size and crops the output back).")
        return None

    def check(self, shape) -> None:
        """Raises the ``ValueError`` for a batch ``shape`` ``(batch, height, width, ...)``."""
        height, width = (None if s is None else int(s) for s in tuple(shape)[1:3])
        problem = self.message(height, width)
        if problem:
            raise ValueError(problem)

    def call(self, inputs):
        height, width = inputs.shape[1:3]
        self.check(inputs.shape)
        if (height is None or width is None) and keras.backend.backend() == "tensorflow":
            return self._graph_check(inputs)
        return inputs

    def _graph_check(self, inputs):
        """TensorFlow only, for sides unknown when traced: an assertion run with the graph."""
        import tensorflow as tf  # the backend in use; never imported on JAX or PyTorch

        shape = tf.shape(inputs)
        ok = tf.constant(True)
        for side in (shape[1], shape[2]):
            if self.unpadded_depth is None:
                ok &= (side >= self.divisor) & (side % self.divisor == 0)
            else:  # the arithmetic of `valid_unpadded_unet_size`, in graph ops
                for _ in range(self.unpadded_depth):
                    side -= 4
                    ok &= (side > 0) & (side % 2 == 0)
                    side //= 2
                side -= 4
                for _ in range(self.unpadded_depth):
                    ok &= side > 0
                    side = 2 * side - 4
                ok &= side > 0
        assertion = tf.debugging.Assert(ok, [SIZE_ERROR_MARK, shape[1], shape[2]], summarize=4)
        with tf.control_dependencies([assertion]):
            return tf.identity(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "model_name": self.model_name, "divisor": self.divisor,
                "unpadded_depth": self.unpadded_depth}
