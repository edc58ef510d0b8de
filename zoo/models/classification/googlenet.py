"""GoogLeNet / Inception v1 (Szegedy et al. 2015), with the paper's table and aux classifiers.

An inception module runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max-pool side by side and
concatenates them; 1x1 "reduce" convolutions before the 3x3 and 5x5 branches (and after the
pool) keep the cost down. Nine modules (3a-5b) stack into a 22-layer net that ends in global
average pooling, 40 % dropout and one linear layer. Two auxiliary classifiers on 4a and 4d add
gradient signal during training and are dropped for inference.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import LocalResponseNormalization, pool_features
from zoo.models.common import classifier_input
from zoo.registry import register
from zoo.weights import apply_weights

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
INCEPTION_TABLE: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
_CONV = dict(activation="relu", padding="same", kernel_initializer="he_normal")


def inception_module(x, filters: tuple[int, int, int, int, int, int], name: str):
    """One inception module: four parallel branches concatenated on the channel axis.

    Args:
        x: input feature map.
        filters: ``(#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)`` from Table 1.
        name: layer-name prefix, e.g. ``"inception_3a"``.
    """
    n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = filters
    branch1 = layers.Conv2D(n1x1, 1, name=f"{name}_1x1", **_CONV)(x)
    branch3 = layers.Conv2D(n3x3_reduce, 1, name=f"{name}_3x3_reduce", **_CONV)(x)
    branch3 = layers.Conv2D(n3x3, 3, name=f"{name}_3x3", **_CONV)(branch3)
    branch5 = layers.Conv2D(n5x5_reduce, 1, name=f"{name}_5x5_reduce", **_CONV)(x)
    branch5 = layers.Conv2D(n5x5, 5, name=f"{name}_5x5", **_CONV)(branch5)
    branch_pool = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch_pool = layers.Conv2D(pool_proj, 1, name=f"{name}_pool_proj", **_CONV)(branch_pool)
    return layers.Concatenate(name=f"{name}_output")([branch1, branch3, branch5, branch_pool])


def auxiliary_classifier(x, classes: int, classifier_activation, name: str):
    """Section 5: 5x5/3 average pool -> 1x1 conv 128 -> fc 1024 -> dropout 70 % -> classes."""
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = layers.Conv2D(128, 1, name=f"{name}_conv", **_CONV)(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", kernel_initializer="he_normal", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(x)


@register(
    "googlenet",
    task="classification",
    paper="Going Deeper with Convolutions",
    paper_url="https://arxiv.org/abs/1409.4842",
    year=2015,
    params=6_998_552,
    params_source="the paper's Table 1 filter counts with biases, without aux classifiers",
    input_shape=(224, 224, 3),
    min_size=32,
    feature_layers={"P2": "conv2_3x3", "P3": "inception_3b_output",
                    "P4": "inception_4e_output", "P5": "inception_5b_output"},
)
def googlenet(include_top: bool = True, weights: str | None = None, input_tensor=None,
              input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
              classes: int = 1000, classifier_activation: str | None = "softmax",
              aux_classifiers: bool = False, name: str = "googlenet") -> keras.Model:
    """GoogLeNet (Inception v1) with the filter counts of the paper's Table 1.

    Reference: [Going Deeper with Convolutions](https://arxiv.org/abs/1409.4842) (CVPR 2015).

    Deviations from the paper: none in the layout. Table 1's "params" column does not follow
    from its own filter columns (for 4c it says 463K where the filters give 509K, and its
    "ops" column, 100M at 14x14, agrees with 509K); this model follows the filter columns,
    and the tests check each module against them and against the ops column. He
    initialisation; "same"-padded max pools give the table's 112/56/28/14/7 map sizes.

    Args:
        include_top: include global average pooling, 40 % dropout and the classifier.
        weights: None, a weight tag, or a path to a weight file.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(224, 224, 3)`` by default; any size >= 32 (224 with aux classifiers).
        pooling: ``None``, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of output classes.
        classifier_activation: activation of the classifiers (None for logits).
        aux_classifiers: add the two auxiliary classifiers on 4a and 4d for training. The
            model then returns ``{"predictions", "aux1", "aux2"}``; train with loss weights
            ``{"predictions": 1.0, "aux1": 0.3, "aux2": 0.3}`` as the paper does, and use
            `drop_auxiliary_classifiers` for inference.
        name: model name.

    Example:
        >>> model = googlenet(aux_classifiers=True)
        >>> sorted(model.output.keys())
        ['aux1', 'aux2', 'predictions']
    """
    if aux_classifiers and not include_top:
        raise ValueError("googlenet: `aux_classifiers=True` needs include_top=True. "
                         f"Received: include_top={include_top}")
    inputs, x = classifier_input("googlenet", include_top=include_top, weights=weights,
                                 input_tensor=input_tensor, input_shape=input_shape,
                                 pooling=pooling, classes=classes, fixed_size=aux_classifiers,
                                 aux_classifiers=aux_classifiers)

    # --- stem: 224 -> 112 -> 56 -> 28 ---
    x = layers.Conv2D(64, 7, strides=2, name="conv1_7x7", **_CONV)(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = LocalResponseNormalization(name="norm1")(x)
    x = layers.Conv2D(64, 1, name="conv2_3x3_reduce", **_CONV)(x)
    x = layers.Conv2D(192, 3, name="conv2_3x3", **_CONV)(x)
    x = LocalResponseNormalization(name="norm2")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)

    # --- inception 3a-3b (28x28), 4a-4e (14x14), 5a-5b (7x7) ---
    aux_outputs = {}
    for module, filters in INCEPTION_TABLE.items():
        if module in ("4a", "5a"):
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{module[0]}")(x)
        x = inception_module(x, filters, name=f"inception_{module}")
        if aux_classifiers and module in ("4a", "4d"):
            aux = f"aux{len(aux_outputs) + 1}"
            aux_outputs[aux] = auxiliary_classifier(x, classes, classifier_activation, aux)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(0.4, name="dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    outputs = {"predictions": x, **aux_outputs} if aux_classifiers else x
    model = keras.Model(inputs, outputs, name=name)
    return apply_weights(model, "googlenet", weights, include_top=include_top, classes=classes,
                         aux_classifiers=aux_classifiers)


def drop_auxiliary_classifiers(model: keras.Model) -> keras.Model:
    """The inference model of a GoogLeNet trained with aux classifiers (shares its weights)."""
    return keras.Model(model.inputs, model.get_layer("predictions").output, name=model.name)


def module_params(model: keras.Model, module: str) -> int:
    """Number of parameters of inception module ``module`` (``"3a"`` ... ``"5b"``)."""
    prefix = f"inception_{module}_"
    return sum(layer.count_params() for layer in model.layers if layer.name.startswith(prefix))
