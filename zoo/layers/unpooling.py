"""Max pooling that remembers where each maximum came from, and the unpooling that puts it back.

SegNet (Badrinarayanan, Kendall and Cipolla, TPAMI 2017) stores the argmax of every 2x2
pooling window in the encoder and, in the decoder, writes each value back at that position
with zeros elsewhere ("max-unpooling"), so boundaries come back sharp without learning an
upsampling. TensorFlow has ``tf.nn.max_pool_with_argmax`` but no unpooling, and neither exists
in ``keras.ops``; both are written here by hand, backend-agnostic, for 2x2 windows with
stride 2 (the only case SegNet uses).

Index convention (the same as ``tf.nn.max_pool_with_argmax(..., include_batch_in_index=False)``):
for each pooled value, the flat position ``(h * W + w) * C + c`` of its maximum in the input
of that example, where ``W`` and ``C`` are the input's width and channels.

Odd sizes: pooling pads the bottom / right edge with ``-inf`` ("ceil mode", as Caffe's SegNet
does), so an input of 5 rows pools to 3, and unpooling crops back to the size of a reference
tensor (the encoder's pre-pooling feature map).
"""

from __future__ import annotations

import keras
from keras import ops


def _pad_to_even(x):
    """Pads height and width up to even sizes with -inf (a padded cell never wins a max)."""
    height, width = ops.shape(x)[1], ops.shape(x)[2]
    pad_h, pad_w = height % 2, width % 2
    if isinstance(pad_h, int) and isinstance(pad_w, int) and pad_h == 0 and pad_w == 0:
        return x
    return ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], constant_values=float("-inf"))


def _windows(x):
    """(B, 2h, 2w, C) -> (B, h, w, C, 4): the four values of each 2x2 window, row-major."""
    batch, height, width, channels = ops.shape(x)
    x = ops.reshape(x, (batch, height // 2, 2, width // 2, 2, channels))
    x = ops.transpose(x, (0, 1, 3, 5, 2, 4))
    return ops.reshape(x, (batch, height // 2, width // 2, channels, 4))


def max_pool_with_argmax(x):
    """2x2 / stride 2 max pooling returning ``(pooled, argmax)``; see the module docstring.

    Args:
        x: ``(batch, height, width, channels)`` float tensor; any height / width >= 1.

    Returns:
        ``pooled`` of shape ``(batch, ceil(h / 2), ceil(w / 2), channels)`` and int32
        ``argmax`` of the same shape holding flat per-example indices into ``x``.
    """
    _, height, width, channels = ops.shape(x)
    windows = _windows(_pad_to_even(x))
    local = ops.argmax(windows, axis=-1)  # 0..3: (dh, dw) = divmod(local, 2)
    pooled = ops.max(windows, axis=-1)
    rows = ops.arange(ops.shape(pooled)[1], dtype="int32")[None, :, None, None] * 2
    cols = ops.arange(ops.shape(pooled)[2], dtype="int32")[None, None, :, None] * 2
    chans = ops.arange(channels, dtype="int32")[None, None, None, :]
    local = ops.cast(local, "int32")
    h = rows + local // 2
    w = cols + local % 2
    return pooled, (h * width + w) * channels + chans


def max_unpool(x, argmax, output_size=None, method: str = "onehot"):
    """Writes each value of ``x`` back at its ``argmax`` position, zeros elsewhere.

    Args:
        x: pooled values ``(batch, h, w, channels)``.
        argmax: int indices from `max_pool_with_argmax`, same shape as ``x``.
        output_size: ``(height, width)`` of the tensor that was pooled; default
            ``(2h, 2w)``. Needed for odd sizes.
        method: ``"onehot"`` (a one-hot of the position inside each 2x2 window times the
            value, then a reshape: dense ops only, no scatter; fast on GPUs and XLA) or
            ``"scatter"`` (``keras.ops.scatter`` of the values into a flat zero tensor, the
            textbook formulation). Both give the same result; ``training.bench`` times them.

    Returns:
        ``(batch, height, width, channels)``.
    """
    batch, pooled_h, pooled_w, channels = ops.shape(x)
    height, width = output_size if output_size is not None else (2 * pooled_h, 2 * pooled_w)
    argmax = ops.cast(argmax, "int32")
    if method == "scatter":
        per_example = height * width * channels
        offsets = ops.arange(batch, dtype="int32")[:, None, None, None] * per_example
        flat_index = ops.reshape(argmax + offsets, (-1, 1))
        flat = ops.scatter(flat_index, ops.reshape(x, (-1,)), (batch * per_example,))
        return ops.reshape(flat, (batch, height, width, channels))
    if method != "onehot":
        raise ValueError(f"`method` must be 'onehot' or 'scatter'. Received: method={method!r}")
    h = argmax // (width * channels)
    w = (argmax // channels) % width
    local = (h % 2) * 2 + (w % 2)
    spread = ops.one_hot(local, 4, dtype=x.dtype) * x[..., None]  # (B, h, w, C, 4)
    spread = ops.reshape(spread, (batch, pooled_h, pooled_w, channels, 2, 2))
    spread = ops.transpose(spread, (0, 1, 4, 2, 5, 3))
    full = ops.reshape(spread, (batch, 2 * pooled_h, 2 * pooled_w, channels))
    return full[:, :height, :width, :]


@keras.saving.register_keras_serializable(package="zoo")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """2x2 max pooling, stride 2, that also returns the argmax indices (SegNet's encoder).

    Example:
        >>> x = keras.Input((5, 7, 3))
        >>> pooled, argmax = MaxPoolingWithArgmax2D()(x)
        >>> tuple(pooled.shape), argmax.dtype
        ((None, 3, 4, 3), 'int32')
    """

    def call(self, inputs):
        return max_pool_with_argmax(inputs)

    def compute_output_spec(self, inputs):
        batch, height, width, channels = inputs.shape
        shape = (batch, None if height is None else -(-height // 2),
                 None if width is None else -(-width // 2), channels)
        return (keras.KerasTensor(shape, dtype=inputs.dtype),
                keras.KerasTensor(shape, dtype="int32"))


@keras.saving.register_keras_serializable(package="zoo")
class MaxUnpooling2D(keras.layers.Layer):
    """SegNet's decoder upsampling: the inverse placement of `MaxPoolingWithArgmax2D`.

    Called on ``[x, argmax]`` (output ``2h x 2w``) or ``[x, argmax, reference]``, where only the
    height and width of ``reference`` (the encoder tensor that was pooled) are used, so odd
    sizes come back exactly.

    Args:
        method: ``"onehot"`` (default) or ``"scatter"``; see `max_unpool`.

    Example:
        >>> x = keras.Input((5, 7, 3))
        >>> pooled, argmax = MaxPoolingWithArgmax2D()(x)
        >>> tuple(MaxUnpooling2D()([pooled, argmax, x]).shape)
        (None, 5, 7, 3)
    """

    def __init__(self, method: str = "onehot", **kwargs):
        super().__init__(**kwargs)
        if method not in ("onehot", "scatter"):
            raise ValueError(f"`method` must be 'onehot' or 'scatter'. Received: method={method!r}")
        self.method = method

    def call(self, inputs):
        x, argmax, *reference = inputs
        size = ops.shape(reference[0])[1:3] if reference else None
        return max_unpool(x, argmax, size, method=self.method)

    def compute_output_shape(self, input_shapes):
        (batch, height, width, channels), *rest = input_shapes
        if len(rest) == 2:
            return (batch, *rest[1][1:3], channels)
        return (batch, None if height is None else 2 * height,
                None if width is None else 2 * width, channels)

    def get_config(self):
        return {**super().get_config(), "method": self.method}
