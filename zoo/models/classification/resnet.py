"""Residual networks (He et al. 2016): ResNet-18/34/50/101/152 and the CIFAR ResNet-20/32/56.

A residual block learns F(x) and outputs relu(F(x) + shortcut(x)), so a block that has nothing
to add can learn F = 0 and very deep nets still train. Basic blocks (two 3x3 convs) build
ResNet-18/34, bottleneck blocks (1x1 reduce, 3x3, 1x1 expand x4) build ResNet-50/101/152.
When the shape changes the shortcut is a 1x1 stride-2 projection (option B). The ImageNet
models follow keras.applications' ``resnet.py`` (one stack function per depth, blocks as small
functions) and ResNet-50/101/152 are layer for layer ``keras.applications.ResNet50/101/152``.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import PadChannels, pool_features
from zoo.models.common import classifier_input
from zoo.registry import register
from zoo.weights import apply_weights

BN_EPSILON = 1.001e-5  # keras.applications' value, kept for weight compatibility
_PAPER = dict(
    task="classification",
    paper="Deep Residual Learning for Image Recognition",
    paper_url="https://arxiv.org/abs/1512.03385",
    year=2016,
)


def preprocess_input(x):
    """ImageNet preprocessing of Keras' ResNet weights: RGB 0-255 -> BGR minus the mean pixel."""
    return keras.applications.resnet.preprocess_input(x)


def _conv_bn(x, filters: int, kernel_size: int, strides: int, use_bias: bool, name: str,
             relu: bool = True):
    """conv -> batch norm (-> relu), named ``{name}_conv``, ``{name}_bn``, ``{name}_relu``."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same" if kernel_size > 1
                      else "valid", use_bias=use_bias, kernel_initializer="he_normal",
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def basic_block(x, filters: int, stride: int = 1, shortcut: str = "B", use_bias: bool = False,
                name: str = "block"):
    """Two 3x3 convolutions plus a shortcut (ResNet-18/34, CIFAR ResNets; paper Fig. 2 left).

    Args:
        shortcut: how the shortcut changes shape when ``stride > 1`` or the width grows:
            ``"B"`` a 1x1 projection conv + BN, ``"A"`` parameter-free subsampling and
            zero-padded channels.
    """
    in_filters = x.shape[-1]
    if stride == 1 and in_filters == filters:
        residual = x
    elif shortcut == "A":
        # Identity with stride-2 subsampling (a 1x1 max-pool is x[:, ::2, ::2]) + zero channels.
        residual = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_subsample")(x)
        residual = PadChannels(filters - in_filters, name=f"{name}_0_pad")(residual)
    else:
        residual = _conv_bn(x, filters, 1, stride, use_bias, f"{name}_0", relu=False)
    x = _conv_bn(x, filters, 3, stride, use_bias, f"{name}_1")
    x = _conv_bn(x, filters, 3, 1, use_bias, f"{name}_2", relu=False)
    x = layers.Add(name=f"{name}_add")([residual, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def bottleneck_block(x, filters: int, stride: int = 1, conv_shortcut: bool = True,
                     name: str = "block"):
    """1x1 reduce -> 3x3 -> 1x1 expand (x4) plus a shortcut (ResNet-50+; paper Fig. 5 right).

    Same layers, order and names as keras.applications' ``residual_block_v1`` (the stride sits
    on the first 1x1 conv, as in the paper; torchvision's "v1.5" moves it to the 3x3).
    """
    if conv_shortcut:
        shortcut = _conv_bn(x, 4 * filters, 1, stride, True, f"{name}_0", relu=False)
    else:
        shortcut = x
    x = _conv_bn(x, filters, 1, stride, True, f"{name}_1")
    x = _conv_bn(x, filters, 3, 1, True, f"{name}_2")
    x = _conv_bn(x, 4 * filters, 1, 1, True, f"{name}_3", relu=False)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def residual_stack(x, block: str, filters: int, blocks: int, stride: int, name: str):
    """``blocks`` residual blocks; the first one changes stride / width."""
    for i in range(1, blocks + 1):
        block_name = f"{name}_block{i}"
        first_stride = stride if i == 1 else 1
        if block == "bottleneck":
            x = bottleneck_block(x, filters, first_stride, conv_shortcut=(i == 1),
                                 name=block_name)
        else:
            x = basic_block(x, filters, first_stride, name=block_name)
    return x


def _resnet(name: str, block: str, depths: tuple[int, int, int, int], *, include_top: bool,
            weights, input_tensor, input_shape, pooling, classes: int,
            classifier_activation) -> keras.Model:
    """The ImageNet ResNet: 7x7/2 stem + 3x3/2 max-pool, four stacks, global average pool."""
    inputs, x = classifier_input(name, include_top=include_top, weights=weights,
                                 input_tensor=input_tensor, input_shape=input_shape,
                                 pooling=pooling, classes=classes)
    use_bias = block == "bottleneck"  # Keras' converted weights carry conv biases

    # --- stem: explicit padding + "valid" so every backend pads the same way ---
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, kernel_initializer="he_normal",
                      name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    # --- conv2_x .. conv5_x ---
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), depths), start=2):
        x = residual_stack(x, block, filters, blocks, stride=1 if stage == 2 else 2,
                           name=f"conv{stage}")

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, name, weights, include_top=include_top, classes=classes)


def _features(depths: tuple[int, ...]) -> dict[str, str]:
    stages = {f"P{stage}": f"conv{stage}_block{n}_out" for stage, n in enumerate(depths, start=2)}
    return {"P1": "conv1_relu", **stages}


_IMAGENET = dict(input_shape=(224, 224, 3), min_size=32, preprocessing="caffe")
_SIGNATURE_DOC = """
    Args:
        include_top: include the average pool and the ``classes``-way dense classifier.
        weights: None, a weight tag (see ``zoo.describe``), or a path to a weight file.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(224, 224, 3)`` by default; any size >= 32.
        pooling: ``None``, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of output classes.
        classifier_activation: activation of the output layer (None for logits).
"""


def _variant(name: str, block: str, depths: tuple[int, int, int, int], params: int,
             params_source: str, summary: str):
    """Makes and registers one ImageNet ResNet variant (a 3-line public builder)."""

    def builder(include_top: bool = True, weights: str | None = None, input_tensor=None,
                input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
                classes: int = 1000,
                classifier_activation: str | None = "softmax") -> keras.Model:
        return _resnet(name, block, depths, include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (
        f"{summary}\n\n    Reference: [Deep Residual Learning for Image Recognition]("
        "https://arxiv.org/abs/1512.03385) (CVPR 2016), Table 1.\n" + _SIGNATURE_DOC +
        f"\n    Example:\n        >>> zoo.build({name!r}).count_params()\n        {params}\n")
    return register(name, params=params, params_source=params_source,
                    feature_layers=_features(depths), **_IMAGENET, **_PAPER)(builder)


resnet18 = _variant(
    "resnet18", "basic", (2, 2, 2, 2), 11_699_112,
    "11,689,512 trainable as torchvision's resnet18 (paper Table 1 layout) + 9,600 BN statistics",
    "ResNet-18: basic blocks [2, 2, 2, 2], convolutions without bias (BN follows).")
resnet34 = _variant(
    "resnet34", "basic", (3, 4, 6, 3), 21_814_696,
    "21,797,672 trainable as torchvision's resnet34 (paper Table 1 layout) + 17,024 BN statistics",
    "ResNet-34: basic blocks [3, 4, 6, 3], convolutions without bias (BN follows).")
resnet50 = _variant(
    "resnet50", "bottleneck", (3, 4, 6, 3), 25_636_712, "keras.applications.ResNet50",
    "ResNet-50: bottleneck blocks [3, 4, 6, 3], layer for layer keras.applications.ResNet50.")
resnet101 = _variant(
    "resnet101", "bottleneck", (3, 4, 23, 3), 44_707_176, "keras.applications.ResNet101",
    "ResNet-101: bottleneck blocks [3, 4, 23, 3], layer for layer keras.applications.ResNet101.")
resnet152 = _variant(
    "resnet152", "bottleneck", (3, 8, 36, 3), 60_419_944, "keras.applications.ResNet152",
    "ResNet-152: bottleneck blocks [3, 8, 36, 3], layer for layer keras.applications.ResNet152.")


# ---------------------------------------------------------------------------------------------
# CIFAR ResNets (section 4.2): 6n + 2 layers on 32x32 images
# ---------------------------------------------------------------------------------------------

def _cifar_resnet(name: str, depth: int, *, shortcut: str, include_top: bool, weights,
                  input_tensor, input_shape, pooling, classes: int,
                  classifier_activation, dropout: float = 0.0,
                  spatial_dropout: float = 0.0) -> keras.Model:
    """3x3 conv 16 -> three stacks of n basic blocks (16, 32, 64 filters) -> GAP -> dense."""
    for arg, rate in (("dropout", dropout), ("spatial_dropout", spatial_dropout)):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"{name}: `{arg}` must be a rate in [0, 1). Received: {arg}={rate!r}")
    if shortcut not in ("A", "B"):
        raise ValueError(f"{name}: `shortcut` must be 'A' (zero-padding identity, the paper's "
                         f"CIFAR choice) or 'B' (1x1 projection). Received: shortcut={shortcut!r}")
    inputs, x = classifier_input(name, include_top=include_top, weights=weights,
                                 input_tensor=input_tensor, input_shape=input_shape,
                                 pooling=pooling, classes=classes, shortcut=shortcut)
    n = (depth - 2) // 6
    x = _conv_bn(x, 16, 3, 1, False, "conv1")
    for stage, filters in enumerate((16, 32, 64), start=2):
        for i in range(1, n + 1):
            stride = 2 if (i == 1 and stage > 2) else 1
            x = basic_block(x, filters, stride, shortcut=shortcut, name=f"conv{stage}_block{i}")
        if spatial_dropout:  # drops whole feature maps (Tompson et al. 2015); no weights
            x = layers.SpatialDropout2D(spatial_dropout, name=f"conv{stage}_spatial_dropout")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation,
                         kernel_initializer="he_normal", name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, name, weights, include_top=include_top, classes=classes,
                         shortcut=shortcut)


def _cifar_variant(depth: int, params: int, paper_params: str):
    name = f"resnet{depth}_cifar"
    n = (depth - 2) // 6

    def builder(include_top: bool = True, weights: str | None = None, input_tensor=None,
                input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
                classes: int = 10, classifier_activation: str | None = "softmax",
                shortcut: str = "A", dropout: float = 0.0,
                spatial_dropout: float = 0.0) -> keras.Model:
        return _cifar_resnet(name, depth, shortcut=shortcut, include_top=include_top,
                             weights=weights, input_tensor=input_tensor,
                             input_shape=input_shape, pooling=pooling, classes=classes,
                             classifier_activation=classifier_activation, dropout=dropout,
                             spatial_dropout=spatial_dropout)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (
        f"ResNet-{depth} for CIFAR-10 (6n+2 layers, n={n}): 32x32 input, 16/32/64 filters.\n\n"
        "    Reference: [Deep Residual Learning for Image Recognition]("
        "https://arxiv.org/abs/1512.03385) (CVPR 2016), section 4.2.\n\n"
        "    The first layer is a 3x3 conv with 16 filters, then three stacks of n basic blocks\n"
        "    on 32x32, 16x16 and 8x8 maps (16, 32, 64 filters), global average pooling and a\n"
        "    dense softmax. As in the paper the shortcuts are identities, with zero-padded\n"
        "    channels where the width doubles (option A, no extra parameters);\n"
        "    ``shortcut='B'`` uses 1x1 projections instead.\n" +
        _SIGNATURE_DOC.replace("(224, 224, 3)", "(32, 32, 3)").replace(">= 32", ">= 8") +
        "        shortcut: ``'A'`` (paper) or ``'B'``.\n"
        "        dropout: dropout rate before the classifier (0: none, the paper).\n"
        "        spatial_dropout: SpatialDropout2D rate after each stack (0: none).\n")
    return register(name, params=params, params_source=f"paper Table 6: {paper_params}",
                    input_shape=(32, 32, 3), min_size=8, preprocessing="unit",
                    feature_layers={"P0": f"conv2_block{n}_out", "P1": f"conv3_block{n}_out",
                                    "P2": f"conv4_block{n}_out"},
                    **_PAPER)(builder)


resnet20_cifar = _cifar_variant(20, 271_098, "0.27M")
resnet32_cifar = _cifar_variant(32, 466_426, "0.46M")
resnet56_cifar = _cifar_variant(56, 857_082, "0.85M")
