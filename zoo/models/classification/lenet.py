"""LeNet-5 (LeCun et al. 1998), exactly as the course draws it.

32x32x1 input -> C1 conv 5x5 x6 tanh -> S2 avg-pool 2/2 -> C3 conv 5x5 x16 tanh -> S4 avg-pool
2/2 -> C5 conv 5x5 x120 tanh -> F6 dense 84 tanh -> output dense 10 softmax: 61,706 parameters.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import pool_features
from zoo.models.common import classifier_input
from zoo.registry import register
from zoo.weights import apply_weights


@register(
    "lenet5",
    task="classification",
    paper="Gradient-Based Learning Applied to Document Recognition",
    paper_url="http://yann.lecun.com/exdb/publis/pdf/lecun-01a.pdf",
    year=1998,
    params=61_706,
    params_source="course figure (layer sizes of the paper, subsampling without weights)",
    input_shape=(32, 32, 1),
    min_size=32,
    fixed_size_top=True,
    preprocessing="unit",
    feature_layers={"P1": "c1_tanh", "P2": "c3_tanh"},
)
def lenet5(include_top: bool = True, weights: str | None = None, input_tensor=None,
           input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
           classes: int = 10, classifier_activation: str | None = "softmax",
           name: str = "lenet5") -> keras.Model:
    """LeNet-5: two tanh conv + average-pool stages, a 120-map conv and two dense layers.

    Reference: [Gradient-Based Learning Applied to Document Recognition](
    http://yann.lecun.com/exdb/publis/pdf/lecun-01a.pdf) (Proc. IEEE 1998).

    Deviations from the paper: the course's simplified form. S2/S4 are plain average pooling
    (the paper's subsampling has a trainable coefficient and bias per map), C3 connects to all
    six S2 maps (the paper uses a sparse connection table) and the output is a softmax dense
    layer (the paper uses Euclidean RBF units). Weights use Glorot (Xavier) initialisation,
    the right one for tanh units. MNIST's 28x28 digits are padded to 32x32, as in the paper.

    Args:
        include_top: include F6 and the output layer (then the input must be 32x32).
        weights: None, a weight tag, or a path to a weight file.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(32, 32, 1)`` by default; any size >= 32 without the top.
        pooling: ``None``, ``"avg"`` or ``"max"`` on the C5 maps when ``include_top=False``.
        classes: number of output classes.
        classifier_activation: activation of the output layer (None for logits).
        name: model name.

    Returns:
        A ``keras.Model``; with the top its output is ``(batch, classes)``.

    Example:
        >>> lenet5().count_params()
        61706
    """
    inputs, x = classifier_input("lenet5", include_top=include_top, weights=weights,
                                 input_tensor=input_tensor, input_shape=input_shape,
                                 pooling=pooling, classes=classes)
    conv = dict(kernel_size=5, padding="valid", kernel_initializer="glorot_uniform")

    # --- C1, S2: 32x32x1 -> 28x28x6 -> 14x14x6 ---
    x = layers.Conv2D(6, name="c1", **conv)(x)
    x = layers.Activation("tanh", name="c1_tanh")(x)
    x = layers.AveragePooling2D(2, strides=2, name="s2")(x)
    # --- C3, S4: -> 10x10x16 -> 5x5x16 ---
    x = layers.Conv2D(16, name="c3", **conv)(x)
    x = layers.Activation("tanh", name="c3_tanh")(x)
    x = layers.AveragePooling2D(2, strides=2, name="s4")(x)
    # --- C5: -> 1x1x120 ---
    x = layers.Conv2D(120, name="c5", **conv)(x)
    x = layers.Activation("tanh", name="c5_tanh")(x)

    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(84, activation="tanh", kernel_initializer="glorot_uniform", name="f6")(x)
        x = layers.Dense(classes, activation=classifier_activation,
                         kernel_initializer="glorot_uniform", name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, "lenet5", weights, include_top=include_top, classes=classes)
