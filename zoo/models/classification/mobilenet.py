"""MobileNet v1 (Howard et al. 2017): depthwise-separable convolutions with a width multiplier.

A standard KxK convolution from M to N channels costs K*K*M*N per pixel; the depthwise-
separable block splits it into a KxK depthwise convolution (one filter per input channel,
K*K*M) and a 1x1 pointwise convolution (M*N), about 8-9 times cheaper for 3x3 kernels. The
width multiplier ``alpha`` thins every layer; the resolution multiplier is the input size.
Layer for layer ``keras.applications.MobileNet``, so Keras' ImageNet weights load unchanged.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import pool_features
from zoo.models.common import classifier_input
from zoo.registry import register
from zoo.weights import apply_weights

# (pointwise filters, stride) of the 13 depthwise-separable blocks, paper Table 1.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def preprocess_input(x):
    """ImageNet preprocessing of Keras' MobileNet weights: RGB 0-255 -> [-1, 1]."""
    return keras.applications.mobilenet.preprocess_input(x)


def depthwise_separable_block(x, pointwise_filters: int, alpha: float, depth_multiplier: int,
                              stride: int, block_id: int):
    """3x3 depthwise conv -> BN -> ReLU6 -> 1x1 pointwise conv -> BN -> ReLU6 (paper Fig. 3).

    A stride-2 block pads bottom/right by one and convolves "valid", as Keras does, so the
    published weights give the same outputs on every backend.
    """
    if stride == 2:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D(3, padding="same" if stride == 1 else "valid",
                               depth_multiplier=depth_multiplier, strides=stride,
                               use_bias=False, name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(int(pointwise_filters * alpha), 1, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


@register(
    "mobilenet",
    task="classification",
    paper="MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
    paper_url="https://arxiv.org/abs/1704.04861",
    year=2017,
    params=4_253_864,
    params_source="keras.applications.MobileNet, alpha=1.0 (paper Table 8: 4.2M)",
    input_shape=(224, 224, 3),
    min_size=32,
    preprocessing="tf",
    feature_layers={"P1": "conv_pw_1_relu", "P2": "conv_pw_3_relu", "P3": "conv_pw_5_relu",
                    "P4": "conv_pw_11_relu", "P5": "conv_pw_13_relu"},
)
def mobilenet(include_top: bool = True, weights: str | None = None, input_tensor=None,
              input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
              classes: int = 1000, classifier_activation: str | None = "softmax",
              alpha: float = 1.0, depth_multiplier: int = 1, dropout: float = 1e-3,
              name: str = "mobilenet") -> keras.Model:
    """MobileNet v1: a 3x3/2 conv and 13 depthwise-separable blocks, width ``alpha``.

    Reference: [MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
    Applications](https://arxiv.org/abs/1704.04861) (2017).

    Deviations from the paper: ReLU6 instead of ReLU and a 1x1-conv classifier after global
    pooling, both as keras.applications (whose ImageNet weights were trained that way).

    Args:
        include_top: include pooling, dropout and the 1x1-conv classifier.
        weights: None, ``"imagenet"`` (alpha 1.0) / ``"imagenet_a075"`` / ``"imagenet_a050"``
            / ``"imagenet_a025"``, or a path.
        input_tensor: optional Keras tensor to build on.
        input_shape: the resolution multiplier: ``(224, 224, 3)`` by default, any size >= 32.
        pooling: ``None``, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of output classes.
        classifier_activation: activation of the output (None for logits).
        alpha: width multiplier (> 0); 1.0, 0.75, 0.5 and 0.25 have ImageNet weights.
        depth_multiplier: channel multiplier of the depthwise convolutions.
        dropout: dropout rate before the classifier.
        name: model name.

    Example:
        >>> mobilenet().count_params()
        4253864
    """
    if not alpha > 0:
        raise ValueError(f"mobilenet: `alpha` must be > 0. Received: alpha={alpha}")
    if not (isinstance(depth_multiplier, int) and depth_multiplier >= 1):
        raise ValueError("mobilenet: `depth_multiplier` must be an integer >= 1. "
                         f"Received: depth_multiplier={depth_multiplier}")
    inputs, x = classifier_input("mobilenet", include_top=include_top, weights=weights,
                                 input_tensor=input_tensor, input_shape=input_shape,
                                 pooling=pooling, classes=classes, alpha=alpha,
                                 depth_multiplier=depth_multiplier)

    x = layers.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name="conv1")(x)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, stride) in enumerate(BLOCKS, start=1):
        x = depthwise_separable_block(x, filters, alpha, depth_multiplier, stride, block_id)

    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        x = layers.Activation(classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, "mobilenet", weights, include_top=include_top, classes=classes,
                         alpha=alpha, depth_multiplier=depth_multiplier)
