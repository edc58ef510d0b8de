"""Local response normalisation (Krizhevsky et al. 2012, section 3.3).

Keras has no LRN layer (TensorFlow's `tf.nn.local_response_normalization` is TF-only), so it
is written here with `keras.ops`, which makes AlexNet, ZFNet and GoogLeNet run on every
Keras backend.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class LocalResponseNormalization(keras.layers.Layer):
    r"""Normalises each activation by the energy of its neighbouring channels.

    Reference: [ImageNet Classification with Deep Convolutional Neural Networks](
    https://papers.nips.cc/paper/4824) (NeurIPS 2012), section 3.3.

    .. math:: b^i_{x,y} = a^i_{x,y} \Big/ \Big(k + \alpha
              \sum_{j=\max(0, i-n/2)}^{\min(N-1, i+n/2)} (a^j_{x,y})^2\Big)^\beta

    The paper's constants are the defaults: ``k=2, n=5, alpha=1e-4, beta=0.75``. ``n`` is
    the window size, so ``depth_radius = n // 2``. This is the same formula as
    ``tf.nn.local_response_normalization(depth_radius, bias=k, alpha, beta)``; note that
    Caffe divides ``alpha`` by ``n`` and this layer does not (it follows the paper).

    Args:
        size: window size ``n`` across channels, an odd integer >= 1.
        bias: ``k``.
        alpha: ``alpha`` (not divided by ``size``).
        beta: ``beta``.

    Example:
        >>> x = keras.ops.ones((1, 4, 4, 8))
        >>> LocalResponseNormalization()(x).shape
        (1, 4, 4, 8)
    """

    def __init__(self, size: int = 5, bias: float = 2.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        if size < 1 or size % 2 == 0:
            raise ValueError(
                f"LocalResponseNormalization `size` must be an odd integer >= 1. Received: size={size}"
            )
        self.size = int(size)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, x):
        radius = self.size // 2
        channels = x.shape[-1]
        squared = ops.square(x)
        padded = ops.pad(squared, [[0, 0]] * (len(x.shape) - 1) + [[radius, radius]])
        # Sum over the window by adding `size` shifted slices: cheap for n = 5 and static.
        window_sum = padded[..., 0:channels]
        for offset in range(1, self.size):
            window_sum = window_sum + padded[..., offset:offset + channels]
        return x / ops.power(self.bias + self.alpha * window_sum, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}
