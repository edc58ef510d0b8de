"""SegNet (Badrinarayanan, Kendall and Cipolla, TPAMI 2017): an encoder-decoder whose decoder
upsamples with the encoder's max-pooling indices.

The encoder is VGG-16's 13 convolutions, each with batch norm and ReLU; every 2x2 max pooling
remembers where each maximum was. The decoder mirrors the encoder: each block first
max-unpools with the stored indices (values back at their argmax positions, zeros elsewhere)
and then densifies the sparse map with convolutions. Only the indices are kept, not the
encoder's feature maps (as U-Net keeps), which saves memory at inference. The last 3x3
convolution scores the classes.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers.unpooling import MaxPoolingWithArgmax2D, MaxUnpooling2D
from zoo.models.classification.vgg import preprocess_input, vgg16
from zoo.models.common import dense_input, resolve_classes
from zoo.models.sized import SizeCheckedModel
from zoo.registry import register
from zoo.weights import apply_weights, check_weights_arg, transfer_by_name

__all__ = ["segnet", "preprocess_input"]

# (filters of each convolution) per block; the decoder's last conv of each block already has
# the next block's width, as in the authors' Caffe model (conv4_1_D: 256, conv3_1_D: 128, ...).
ENCODER = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
DECODER = ((512, 512, 512), (512, 512, 256), (256, 256, 128), (128, 64), (64,))


def conv_bn_relu(x, filters: int, name: str):
    """3x3 convolution + batch norm + ReLU, SegNet's unit everywhere."""
    x = layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal", name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


@register(
    "segnet",
    task="segmentation",
    paper="SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image Segmentation",
    paper_url="https://arxiv.org/abs/1511.00561",
    year=2017,
    params=29_460_000,
    params_source="paper Table 6 ('29.46M' trainable parameters; 11 CamVid classes here)",
    input_shape=(360, 480, 3),
    min_size=1,
    preprocessing="caffe",
    feature_layers={"P0": "block1_conv2_relu", "P1": "block2_conv2_relu",
                    "P2": "block3_conv3_relu", "P3": "block4_conv3_relu",
                    "P4": "block5_conv3_relu", "P5": "block5_pool"},
)
def segnet(weights: str | None = None, input_tensor=None,
           input_shape: tuple[int | None, int | None, int] | None = None,
           classes: int = 11, backbone: str = "vgg16", backbone_weights: str | None = None,
           unpool_method: str = "onehot", name: str = "segnet",
           num_classes: int | None = None) -> keras.Model:
    """SegNet: VGG-16 encoder with pooling indices, mirrored decoder with max-unpooling.

    Reference: [SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image
    Segmentation](https://arxiv.org/abs/1511.00561) (TPAMI 2017).

    Deviations from the paper: pooling pads odd sizes ("ceil mode") and unpooling crops back,
    so any input size works (the paper's CamVid frames are 360x480); the weights are not the
    authors' Caffe weights.

    Args:
        weights: None, a weight tag, or a path.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(height, width, 3)``, any size; default ``(None, None, 3)``.
        classes: number of classes (11 for CamVid).
        backbone: ``"vgg16"`` (the encoder's layout).
        backbone_weights: None, ``"imagenet"`` or a path to a VGG-16 weight file, copied into
            the encoder's convolutions by name (the batch norms start fresh). Inputs then
            follow VGG's ``preprocess_input``.
        unpool_method: ``"onehot"`` or ``"scatter"``; see `zoo.layers.unpooling.max_unpool`.
        name: model name.
        num_classes: an alias of ``classes``.

    Returns:
        A ``keras.Model``: images -> ``(batch, height, width, classes)`` logits.

    Example:
        >>> segnet(classes=3, input_shape=(45, 61, 3)).output_shape
        (None, 45, 61, 3)
    """
    classes = resolve_classes(name, classes, num_classes, default=11)
    if backbone != "vgg16":
        raise ValueError(f"{name}: the SegNet encoder is VGG-16's layout, so `backbone` must be "
                         f"'vgg16'. Received: backbone={backbone!r}")
    check_weights_arg(name, weights, classes=classes)
    inputs, x = dense_input(name, input_shape=input_shape, input_tensor=input_tensor,
                            default_shape=(None, None, 3))

    # --- encoder: VGG-16's convolutions with batch norm, pooling that keeps its indices ---
    pooled_from, indices = [], []
    for block, widths in enumerate(ENCODER, start=1):
        for conv, filters in enumerate(widths, start=1):
            x = conv_bn_relu(x, filters, f"block{block}_conv{conv}")
        pooled_from.append(x)
        x, argmax = MaxPoolingWithArgmax2D(name=f"block{block}_pool")(x)
        indices.append(argmax)

    # --- decoder: unpool with the indices of the mirrored encoder block, then convolve ---
    for block, widths in zip(range(5, 0, -1), DECODER):
        x = MaxUnpooling2D(unpool_method, name=f"decoder{block}_unpool")(
            [x, indices[block - 1], pooled_from[block - 1]])
        for conv, filters in enumerate(widths, start=1):
            x = conv_bn_relu(x, filters, f"decoder{block}_conv{conv}")
    outputs = layers.Conv2D(classes, 3, padding="same", name="classifier")(x)
    model = SizeCheckedModel(inputs, outputs, name=name)
    if backbone_weights is not None:
        transfer_by_name(vgg16(include_top=False, weights=backbone_weights), model)
    return apply_weights(model, name, weights, classes=classes)
