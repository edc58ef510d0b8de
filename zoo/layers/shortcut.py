"""Parameter-free residual shortcut pieces (He et al. 2016, option A).

Keras has no layer that zero-pads the channel axis, which the CIFAR ResNets' "option A"
identity shortcut needs, so it is written here with `keras.ops`.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class PadChannels(keras.layers.Layer):
    """Appends ``pad`` all-zero channels to a channels-last tensor.

    Reference: [Deep Residual Learning for Image Recognition](https://arxiv.org/abs/1512.03385)
    (CVPR 2016), section 3.3, option (A): "the shortcut still performs identity mapping,
    with extra zero entries padded for increasing dimensions". It adds no parameters.

    Args:
        pad: number of zero channels to append, >= 0.

    Example:
        >>> PadChannels(16)(keras.ops.ones((2, 8, 8, 16))).shape
        (2, 8, 8, 32)
    """

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        if pad < 0:
            raise ValueError(f"PadChannels `pad` must be >= 0. Received: pad={pad}")
        self.pad = int(pad)

    def call(self, x):
        return ops.pad(x, [[0, 0]] * (len(x.shape) - 1) + [[0, self.pad]])

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] + self.pad
        return (*input_shape[:-1], channels)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}
