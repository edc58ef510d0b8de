"""AlexNet (Krizhevsky et al. 2012) and ZFNet (Zeiler & Fergus 2013).

Both are five convolutions with ReLU, local response normalisation and overlapping max
pooling, then two 4096-unit fully connected layers with dropout 0.5 and a softmax. ZFNet is
AlexNet with a smaller, finer first layer (7x7 stride 2 instead of 11x11 stride 4) found by
visualising AlexNet's filters.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import LocalResponseNormalization, pool_features
from zoo.models.common import classifier_input
from zoo.registry import register
from zoo.weights import apply_weights

_CONV = dict(activation="relu", kernel_initializer="he_normal")


def _fully_connected_top(x, classes: int, classifier_activation: str | None):
    """flatten -> fc6 4096 -> dropout -> fc7 4096 -> dropout -> predictions (both papers)."""
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, name="fc6", **_CONV)(x)
    x = layers.Dropout(0.5, name="fc6_dropout")(x)
    x = layers.Dense(4096, name="fc7", **_CONV)(x)
    x = layers.Dropout(0.5, name="fc7_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


@register(
    "alexnet",
    task="classification",
    paper="ImageNet Classification with Deep Convolutional Neural Networks",
    paper_url="https://papers.nips.cc/paper/4824",
    year=2012,
    params=62_378_344,
    params_source="paper's layer sizes, single tower (the two-GPU grouped version has 60,965,224)",
    input_shape=(227, 227, 3),
    min_size=67,
    fixed_size_top=True,
    feature_layers={"P2": "conv1", "P3": "conv2", "P4": "conv5"},
)
def alexnet(include_top: bool = True, weights: str | None = None, input_tensor=None,
            input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
            classes: int = 1000, classifier_activation: str | None = "softmax",
            name: str = "alexnet") -> keras.Model:
    """AlexNet, single-tower, with the paper's layer sizes.

    Reference: [ImageNet Classification with Deep Convolutional Neural Networks](
    https://papers.nips.cc/paper/4824) (NeurIPS 2012).

    conv1 96 11x11/4 -> LRN -> max-pool 3/2 -> conv2 256 5x5 -> LRN -> max-pool 3/2 ->
    conv3 384 3x3 -> conv4 384 3x3 -> conv5 256 3x3 -> max-pool 3/2 -> fc6 4096 -> fc7 4096
    -> fc8 ``classes``; ReLU everywhere, dropout 0.5 on fc6 and fc7.

    Deviations from the paper: one tower instead of two GPU halves (conv2, conv4 and conv5 see
    all channels of the layer below, so 62.4M parameters instead of 61.0M); the input is
    227x227, the size for which the paper's 55x55 first-layer output is exact (the paper
    writes 224); He initialisation (the course's choice for ReLU) instead of N(0, 0.01).

    Args:
        include_top: include fc6-fc8 (then the input must be 227x227x3).
        weights: None, a weight tag, or a path to a weight file.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(227, 227, 3)`` by default; any size >= 67 without the top.
        pooling: ``None``, ``"avg"`` or ``"max"`` after pool5 when ``include_top=False``.
        classes: number of output classes.
        classifier_activation: activation of the output layer (None for logits).
        name: model name.

    Example:
        >>> alexnet().count_params()
        62378344
    """
    inputs, x = classifier_input("alexnet", include_top=include_top, weights=weights,
                                 input_tensor=input_tensor, input_shape=input_shape,
                                 pooling=pooling, classes=classes)

    # --- layer 1: 227x227x3 -> 55x55x96 -> 27x27x96 ---
    x = layers.Conv2D(96, 11, strides=4, padding="valid", name="conv1", **_CONV)(x)
    x = LocalResponseNormalization(name="norm1")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    # --- layer 2: -> 27x27x256 -> 13x13x256 ---
    x = layers.Conv2D(256, 5, padding="same", name="conv2", **_CONV)(x)
    x = LocalResponseNormalization(name="norm2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    # --- layers 3-5: 13x13 -> 6x6x256 ---
    x = layers.Conv2D(384, 3, padding="same", name="conv3", **_CONV)(x)
    x = layers.Conv2D(384, 3, padding="same", name="conv4", **_CONV)(x)
    x = layers.Conv2D(256, 3, padding="same", name="conv5", **_CONV)(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)

    x = _fully_connected_top(x, classes, classifier_activation) if include_top \
        else pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, "alexnet", weights, include_top=include_top, classes=classes)


@register(
    "zfnet",
    task="classification",
    paper="Visualizing and Understanding Convolutional Networks",
    paper_url="https://arxiv.org/abs/1311.2901",
    year=2013,
    params=62_357_608,
    params_source="paper's layer sizes (Figure 3)",
    input_shape=(224, 224, 3),
    min_size=64,
    fixed_size_top=True,
    feature_layers={"P2": "pool1", "P3": "conv2", "P4": "conv5"},
)
def zfnet(include_top: bool = True, weights: str | None = None, input_tensor=None,
          input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
          classes: int = 1000, classifier_activation: str | None = "softmax",
          name: str = "zfnet") -> keras.Model:
    """ZFNet: AlexNet with a 7x7 stride-2 first layer and a stride-2 second layer.

    Reference: [Visualizing and Understanding Convolutional Networks](
    https://arxiv.org/abs/1311.2901) (ECCV 2014), Figure 3.

    conv1 96 7x7/2 (224 -> 110) -> max-pool 3/2 (-> 55) -> norm -> conv2 256 5x5/2 (-> 26) ->
    max-pool 3/2 (-> 13) -> norm -> conv3 384, conv4 384, conv5 256 (3x3) -> max-pool 3/2
    (-> 6) -> fc6 4096 -> fc7 4096 -> ``classes``.

    Deviations from the paper: the paper's "contrast normalisation" is implemented as
    AlexNet's local response normalisation; the first two poolings pad ("same") so that the
    feature-map sizes equal Figure 3's 55 and 13; He initialisation.

    Args: as `alexnet`; the default input is 224x224x3 and headless inputs must be >= 64.

    Example:
        >>> zfnet().count_params()
        62357608
    """
    inputs, x = classifier_input("zfnet", include_top=include_top, weights=weights,
                                 input_tensor=input_tensor, input_shape=input_shape,
                                 pooling=pooling, classes=classes)

    # --- layer 1: 224 -> 110 -> 55 ---
    x = layers.ZeroPadding2D(1, name="conv1_pad")(x)
    x = layers.Conv2D(96, 7, strides=2, padding="valid", name="conv1", **_CONV)(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = LocalResponseNormalization(name="norm1")(x)
    # --- layer 2: 55 -> 26 -> 13 ---
    x = layers.Conv2D(256, 5, strides=2, padding="valid", name="conv2", **_CONV)(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = LocalResponseNormalization(name="norm2")(x)
    # --- layers 3-5: 13 -> 6 ---
    x = layers.Conv2D(384, 3, padding="same", name="conv3", **_CONV)(x)
    x = layers.Conv2D(384, 3, padding="same", name="conv4", **_CONV)(x)
    x = layers.Conv2D(256, 3, padding="same", name="conv5", **_CONV)(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)

    x = _fully_connected_top(x, classes, classifier_activation) if include_top \
        else pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, "zfnet", weights, include_top=include_top, classes=classes)
