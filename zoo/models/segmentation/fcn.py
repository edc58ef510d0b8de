"""Fully convolutional networks FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer and Darrell,
CVPR 2015) on a VGG-16 backbone.

VGG-16's fully connected layers become convolutions ("convolutionalization": fc6 is a 7x7
convolution with 4096 filters, fc7 a 1x1), so the classifier slides over an image of any size
and returns a coarse map of class scores at stride 32. A 1x1 convolution scores the classes and
a transposed convolution, initialised to bilinear interpolation, upsamples them back to the
input. FCN-16s adds scores from pool4 (stride 16) and FCN-8s also from pool3 (stride 8)
before the last upsampling: the skips bring back the detail the deep layers lost.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import layers

from zoo.layers.upsampling import upsample_conv
from zoo.models.classification.vgg import preprocess_input, vgg16
from zoo.models.common import dense_input, resolve_classes
from zoo.models.sized import SizeCheckedModel
from zoo.registry import register
from zoo.weights import apply_weights, check_weights_arg, transfer_by_name

__all__ = ["fcn32s", "fcn16s", "fcn8s", "convolutionalize_vgg16", "preprocess_input"]

_PAPER = dict(
    task="segmentation",
    paper="Fully Convolutional Networks for Semantic Segmentation",
    paper_url="https://arxiv.org/abs/1411.4038",
    year=2015,
    params_source="paper Table 1 (FCN-VGG16: 134M) plus the upsampling filters, here for "
                  "PASCAL VOC's 21 classes",
    input_shape=(512, 512, 3),
    min_size=32,
    preprocessing="caffe",
    feature_layers={"P3": "block3_pool", "P4": "block4_pool", "P5": "block5_pool"},
)


def convolutionalize_vgg16(vgg: keras.Model, fcn: keras.Model) -> None:
    """Copies a full VGG-16 classifier into an FCN: the convolutions by name, and fc1 / fc2
    reshaped into the 7x7 and 1x1 convolutions fc6 / fc7 (the paper's sec. 3.1)."""
    report = transfer_by_name(vgg, fcn)
    if len(report.matched) < 13:
        raise ValueError(f"Expected VGG-16's 13 convolutions in the backbone, matched "
                         f"{len(report.matched)}: {report.matched}")
    for dense_name, conv_name in (("fc1", "fc6"), ("fc2", "fc7")):
        kernel, bias = vgg.get_layer(dense_name).get_weights()
        conv = fcn.get_layer(conv_name)
        conv.set_weights([np.reshape(kernel, conv.kernel.shape), bias])


def _fcn(name: str, stride: int, *, weights, input_tensor, input_shape, classes: int,
         backbone: str, backbone_weights, dropout: float, train_final_upsampling: bool):
    if backbone != "vgg16":
        raise ValueError(f"{name}: FCN converts VGG-16's fully connected layers, so `backbone` "
                         f"must be 'vgg16'. Received: backbone={backbone!r}")
    check_weights_arg(name, weights, classes=classes)
    inputs, image = dense_input(name, input_shape=input_shape, input_tensor=input_tensor,
                                default_shape=(None, None, 3), divisor=32)
    encoder = vgg16(include_top=False, weights=None, input_tensor=image)  # block1 ... block5
    pool3 = encoder.get_layer("block3_pool").output
    pool4 = encoder.get_layer("block4_pool").output
    x = encoder.output

    # --- the classifier, convolutionalized ---
    x = layers.Conv2D(4096, 7, padding="same", activation="relu", name="fc6")(x)
    x = layers.Dropout(dropout, name="drop6")(x)
    x = layers.Conv2D(4096, 1, activation="relu", name="fc7")(x)
    x = layers.Dropout(dropout, name="drop7")(x)
    x = layers.Conv2D(classes, 1, kernel_initializer="zeros", name="score_fr")(x)

    # --- skip fusion (FCN-16s: pool4; FCN-8s: pool4 and pool3), then upsampling ---
    if stride <= 16:
        x = upsample_conv(x, classes, 2, name="upscore2")
        score = layers.Conv2D(classes, 1, kernel_initializer="zeros",
                              name="score_pool4")(pool4)
        x = layers.Add(name="fuse_pool4")([x, score])
    if stride == 8:
        x = upsample_conv(x, classes, 2, name="upscore_pool4")
        score = layers.Conv2D(classes, 1, kernel_initializer="zeros",
                              name="score_pool3")(pool3)
        x = layers.Add(name="fuse_pool3")([x, score])
    outputs = upsample_conv(x, classes, stride, trainable=train_final_upsampling,
                            name=f"upscore{stride}")
    model = SizeCheckedModel(inputs, outputs, name=name)
    if backbone_weights is not None:
        full = vgg16(include_top=True, weights=backbone_weights)
        convolutionalize_vgg16(full, model)
    return apply_weights(model, name, weights, classes=classes)


_DOC = """{summary}

    Reference: [Fully Convolutional Networks for Semantic Segmentation](
    https://arxiv.org/abs/1411.4038) (CVPR 2015).

    Deviations from the paper: ``"same"`` padding everywhere (fc6 included) and inputs whose
    sides are divisible by 32, instead of the paper's 100-pixel padding of conv1 and crop
    layers; so the output has the input's size with no cropping. Score layers start at zero
    and the upsampling layers at bilinear interpolation, as in the paper; the final
    upsampling is frozen (``train_final_upsampling=False``) as the paper's.

    Args:
        weights: None, a weight tag, or a path.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(height, width, 3)``, sides divisible by 32; default ``(None, None, 3)``.
        classes: number of classes (21 for PASCAL VOC with background).
        backbone: ``"vgg16"`` (the only backbone FCN's conversion applies to).
        backbone_weights: None, ``"imagenet"`` (Keras' VGG-16 weights, fc1 / fc2 reshaped into
            fc6 / fc7) or a path to a full VGG-16 weight file. Inputs then follow VGG's
            ``preprocess_input`` (caffe: BGR 0-255 minus the mean pixel).
        dropout: rate of drop6 / drop7 (0.5 in the paper).
        train_final_upsampling: learn the last upsampling filters too.
        num_classes: an alias of ``classes``.

    Returns:
        A ``keras.Model``: images -> ``(batch, height, width, classes)`` logits.

    Example:
        >>> {name}(classes=3, input_shape=(64, 64, 3)).output_shape
        (None, 64, 64, 3)
"""


def _variant(stride: int, params: int, summary: str):
    name = f"fcn{stride}s"

    def builder(weights: str | None = None, input_tensor=None,
                input_shape: tuple[int | None, int | None, int] | None = None,
                classes: int = 21, backbone: str = "vgg16",
                backbone_weights: str | None = None, dropout: float = 0.5,
                train_final_upsampling: bool = False,
                num_classes: int | None = None) -> keras.Model:
        classes = resolve_classes(name, classes, num_classes, default=21)
        return _fcn(name, stride, weights=weights, input_tensor=input_tensor,
                    input_shape=input_shape, classes=classes, backbone=backbone,
                    backbone_weights=backbone_weights, dropout=dropout,
                    train_final_upsampling=train_final_upsampling)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = _DOC.format(summary=summary, name=name)
    return register(name, params=params, **_PAPER)(builder)


fcn32s = _variant(32, 136_152_917, "FCN-32s: VGG-16 as a convolution, scores upsampled 32x in one step.")
fcn16s = _variant(16, 134_815_994, "FCN-16s: FCN-32s plus scores from pool4, upsampled 16x.")
fcn8s = _variant(8, 134_489_759, "FCN-8s: FCN-16s plus scores from pool3, upsampled 8x.")
