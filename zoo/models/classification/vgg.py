"""VGG-16 and VGG-19 (Simonyan & Zisserman 2015), layer for layer as keras.applications.

Stacks of 3x3 convolutions (two 3x3 layers see as far as one 5x5, three as one 7x7, with
fewer parameters and more non-linearities), 2x2 max pooling after each block, then the
4096-4096-classes fully connected top. The layer names and order equal
``keras.applications.VGG16/VGG19``, so Keras' published ImageNet weights load unchanged.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import pool_features
from zoo.models.common import classifier_input
from zoo.registry import register
from zoo.weights import apply_weights

_PAPER = dict(
    task="classification",
    paper="Very Deep Convolutional Networks for Large-Scale Image Recognition",
    paper_url="https://arxiv.org/abs/1409.1556",
    year=2015,
    params_source="keras.applications (paper Table 2: 138M / 144M)",
    input_shape=(224, 224, 3),
    min_size=32,
    fixed_size_top=True,
    preprocessing="caffe",
)


def preprocess_input(x):
    """ImageNet preprocessing of Keras' VGG weights: RGB 0-255 -> BGR minus the mean pixel."""
    return keras.applications.vgg16.preprocess_input(x)


def _vgg(name: str, block_convs: tuple[int, ...], include_top: bool, weights, input_tensor,
         input_shape, pooling, classes: int, classifier_activation) -> keras.Model:
    """The VGG family: ``block_convs[b]`` 3x3 convolutions in block ``b + 1``."""
    inputs, x = classifier_input(name, include_top=include_top, weights=weights,
                                 input_tensor=input_tensor, input_shape=input_shape,
                                 pooling=pooling, classes=classes)
    filters = (64, 128, 256, 512, 512)
    for block, (n_convs, n_filters) in enumerate(zip(block_convs, filters), start=1):
        for conv in range(1, n_convs + 1):
            x = layers.Conv2D(n_filters, 3, padding="same", activation="relu",
                              kernel_initializer="he_normal",
                              name=f"block{block}_conv{conv}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)

    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", kernel_initializer="he_normal", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", kernel_initializer="he_normal", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, name, weights, include_top=include_top, classes=classes)


# Pn: the deepest layer at stride 2**n (block{n+1}_conv* run at stride 2**n).
_FEATURES = {"P0": "block1_conv2", "P1": "block2_conv2", "P2": "block3_conv3",
             "P3": "block4_conv3", "P4": "block5_conv3", "P5": "block5_pool"}


@register("vgg16", params=138_357_544, feature_layers=_FEATURES, **_PAPER)
def vgg16(include_top: bool = True, weights: str | None = None, input_tensor=None,
          input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
          classes: int = 1000, classifier_activation: str | None = "softmax") -> keras.Model:
    """VGG-16 (configuration D): 13 conv layers in blocks of 2-2-3-3-3, then 3 dense layers.

    Reference: [Very Deep Convolutional Networks for Large-Scale Image Recognition](
    https://arxiv.org/abs/1409.1556) (ICLR 2015).

    Deviations from the paper: none in the layout (it equals keras.applications.VGG16). The
    fully connected top has no dropout layers, as in Keras; add them for training from
    scratch. He initialisation (the paper initialised deeper nets from shallower ones).

    Args:
        include_top: include fc1, fc2 and the classifier (then the input must be 224x224x3).
        weights: None, ``"imagenet"`` (Keras' published weights), or a path.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(224, 224, 3)`` by default; any size >= 32 without the top.
        pooling: ``None``, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of output classes.
        classifier_activation: activation of the output layer (None for logits).

    Example:
        >>> vgg16(include_top=False, input_shape=(64, 64, 3)).output_shape
        (None, 2, 2, 512)
    """
    return _vgg("vgg16", (2, 2, 3, 3, 3), include_top, weights, input_tensor, input_shape,
                pooling, classes, classifier_activation)


@register("vgg19", params=143_667_240, feature_layers={**_FEATURES, "P2": "block3_conv4",
                                                       "P3": "block4_conv4",
                                                       "P4": "block5_conv4"}, **_PAPER)
def vgg19(include_top: bool = True, weights: str | None = None, input_tensor=None,
          input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
          classes: int = 1000, classifier_activation: str | None = "softmax") -> keras.Model:
    """VGG-19 (configuration E): 16 conv layers in blocks of 2-2-4-4-4, then 3 dense layers.

    Reference: [Very Deep Convolutional Networks for Large-Scale Image Recognition](
    https://arxiv.org/abs/1409.1556) (ICLR 2015). Arguments and deviations as `vgg16`.

    Example:
        >>> vgg19().count_params()
        143667240
    """
    return _vgg("vgg19", (2, 2, 4, 4, 4), include_top, weights, input_tensor, input_shape,
                pooling, classes, classifier_activation)
