"""Learned upsampling for dense prediction: bilinear-initialised transposed convolutions
(FCN, Long, Shelhamer and Darrell, CVPR 2015) and the crop-and-concatenate of U-Net's skips
(Ronneberger, Fischer and Brox, MICCAI 2015).

FCN upsamples class scores by a factor ``f`` with a transposed convolution of kernel ``2f``,
stride ``f`` and padding ``f / 2``, whose kernel starts as bilinear interpolation (one filter
per channel, channels not mixed) and may then be learned. Away from the image border that
initial layer equals bilinear resizing with half-pixel centres (``keras.ops.image.resize``);
at the border it differs because a transposed convolution sees zeros beyond the edge.
Keras has the layer (``Conv2DTranspose``) but no bilinear initialiser, hence the one here.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import layers, ops


def bilinear_kernel(size: int) -> np.ndarray:
    """The ``size x size`` bilinear interpolation filter (FCN's ``upsample_filt``)."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    grid = np.arange(size, dtype="float64")
    profile = 1 - np.abs(grid - center) / factor
    return np.outer(profile, profile).astype("float32")


@keras.saving.register_keras_serializable(package="zoo")
class BilinearUpsampling(keras.initializers.Initializer):
    """Initialises a ``Conv2DTranspose`` kernel to per-channel bilinear interpolation.

    The kernel has shape ``(k, k, out_channels, in_channels)``; channel ``i`` is upsampled
    from input channel ``i`` only, so ``out_channels`` should equal ``in_channels``.

    Example:
        >>> up = keras.layers.Conv2DTranspose(21, 4, strides=2, padding="same", use_bias=False,
        ...                                   kernel_initializer=BilinearUpsampling())
    """

    def __call__(self, shape, dtype=None):
        kh, kw, out_channels, in_channels = shape
        if kh != kw:
            raise ValueError(f"A bilinear kernel must be square. Received kernel shape {shape}.")
        kernel = np.zeros(shape, dtype="float32")
        filt = bilinear_kernel(kh)
        for channel in range(min(out_channels, in_channels)):
            kernel[:, :, channel, channel] = filt
        return ops.convert_to_tensor(kernel, dtype=dtype or "float32")


def upsample_conv(x, channels: int, factor: int, *, trainable: bool = True,
                  name: str | None = None):
    """FCN's learned ``factor``-times upsampling: kernel ``2 * factor``, stride ``factor``.

    Args:
        x: ``(batch, h, w, channels)``.
        channels: output channels (FCN: the number of classes, equal to the input's).
        factor: upsampling factor (2, 8, 16, 32).
        trainable: FCN learns the 2x layers and freezes the final bilinear one.
        name: layer name.

    Returns:
        ``(batch, factor * h, factor * w, channels)``.
    """
    return layers.Conv2DTranspose(channels, 2 * factor, strides=factor, padding="same",
                                  use_bias=False, kernel_initializer=BilinearUpsampling(),
                                  trainable=trainable, name=name)(x)


def center_crop(skip, reference):
    """Crops ``skip`` (``(B, H, W, C)``) around its centre to ``reference``'s height and width."""
    height, width = ops.shape(skip)[1], ops.shape(skip)[2]
    target_h, target_w = ops.shape(reference)[1], ops.shape(reference)[2]
    top, left = (height - target_h) // 2, (width - target_w) // 2
    return ops.slice(skip, (0, top, left, 0),
                     (ops.shape(skip)[0], target_h, target_w, ops.shape(skip)[3]))


@keras.saving.register_keras_serializable(package="zoo")
class CropAndConcat(layers.Layer):
    """U-Net's skip connection: crop the encoder map to the decoder map, then concatenate.

    Called on ``[decoder, skip]``; returns ``concat([decoder, crop(skip)], axis=-1)``. With
    ``padding="same"`` convolutions the sizes already agree and the crop does nothing; with the
    paper's unpadded convolutions the encoder map is larger ("cropping is necessary due to the
    loss of border pixels in every convolution", sec. 2). Keras' ``Cropping2D`` needs the
    margins when the layer is built, which an input of unknown size does not give, hence this.

    Example:
        >>> up, skip = keras.Input((56, 56, 512)), keras.Input((64, 64, 512))
        >>> tuple(CropAndConcat()([up, skip]).shape)
        (None, 56, 56, 1024)
    """

    def call(self, inputs):
        decoder, skip = inputs
        return ops.concatenate([decoder, center_crop(skip, decoder)], axis=-1)

    def compute_output_shape(self, input_shapes):
        decoder, skip = input_shapes
        channels = None if decoder[-1] is None or skip[-1] is None else decoder[-1] + skip[-1]
        return (*decoder[:-1], channels)
