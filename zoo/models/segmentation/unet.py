"""U-Net (Ronneberger, Fischer and Brox, MICCAI 2015), as in the paper, small, or on a backbone.

A contracting path (two 3x3 convolutions + ReLU per level, then 2x2 max pooling, doubling the
filters: 64 -> 128 -> 256 -> 512 -> 1024) and a symmetric expanding path (a 2x2
up-convolution halving the filters, concatenation with the encoder map of the same level,
two 3x3 convolutions), then a 1x1 convolution to the classes. The skips carry the fine
localisation the pooling threw away; the paper trains it on 30 electron-microscopy images
with elastic deformations.

The paper uses unpadded convolutions (a 572x572 tile gives a 388x388 map of its centre, and
the encoder maps are cropped before concatenation); ``padding="same"`` (the default here,
as in most modern use) keeps input and output the same size.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers.upsampling import CropAndConcat
from zoo.models.common import backbone_features, dense_input, resolve_classes
from zoo.models.sized import SizeCheckedModel
from zoo.registry import get_entry, register
from zoo.weights import apply_weights, check_weights_arg


def double_conv(x, filters: int, *, padding: str, batch_norm: bool, name: str):
    """Two 3x3 convolutions, each followed by (batch norm and) ReLU: one U-Net level."""
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding=padding, use_bias=not batch_norm,
                          kernel_initializer="he_normal", name=f"{name}_conv{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def up_block(x, skip, filters: int, *, padding: str, batch_norm: bool, name: str):
    """2x2 up-convolution (halving the filters), crop-and-concat the skip, two 3x3 convs."""
    x = layers.Conv2DTranspose(filters, 2, strides=2, kernel_initializer="he_normal",
                               name=f"{name}_upconv")(x)
    if skip is not None:
        x = CropAndConcat(name=f"{name}_concat")([x, skip])
    return double_conv(x, filters, padding=padding, batch_norm=batch_norm, name=name)


@register(
    "unet",
    task="segmentation",
    paper="U-Net: Convolutional Networks for Biomedical Image Segmentation",
    paper_url="https://arxiv.org/abs/1505.04597",
    year=2015,
    params=31_030_658,
    params_source="the paper's Fig. 1 layout (64-1024 filters, 2 classes, 1 input channel, 23 "
                  "convolutional layers); the paper prints no count, 31.0 M is the usual figure",
    input_shape=(572, 572, 1),
    min_size=16,
    preprocessing="unit",
    feature_layers={"P0": "down1_relu2", "P1": "down2_relu2", "P2": "down3_relu2",
                    "P3": "down4_relu2", "P4": "bridge_relu2"},
)
def unet(weights: str | None = None, input_tensor=None,
         input_shape: tuple[int | None, int | None, int] | None = None, classes: int = 2,
         filters: int = 64, depth: int = 4, padding: str = "same", batch_norm: bool = False,
         dropout: float = 0.0, backbone: str | None = None, backbone_weights: str | None = None,
         freeze_backbone: bool = False, decoder_filters: tuple[int, ...] | None = None,
         final_activation: str | None = None, name: str = "unet",
         num_classes: int | None = None) -> keras.Model:
    """U-Net: a contracting and an expanding path joined by skip concatenations.

    Reference: [U-Net: Convolutional Networks for Biomedical Image Segmentation](
    https://arxiv.org/abs/1505.04597) (MICCAI 2015).

    Deviations from the paper: ``padding="same"`` by default (``"valid"`` is the paper's
    variant, output smaller than the input); optional batch norm (not in the paper); the
    paper's "drop-out layers at the end of the contracting path" are ``dropout`` (0 by
    default) before the bottom level's convolutions. With ``backbone=`` the contracting path
    is a zoo classifier (e.g. ResNet-34 for transfer learning, as segmentation_models does)
    tapped at its ``feature_layers``, and the decoder has one up-block per factor of 2.

    Args:
        weights: None, a weight tag (``"membrane"``), or a path.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(height, width, channels)``; default ``(None, None, 1)`` (3 channels
            with a backbone). Sides must be divisible by ``2 ** depth`` (``"same"``) or
            satisfy the paper's tiling rule (``"valid"``: 572, 556, ...).
        classes: output channels (logits; 1 for a single sigmoid map).
        filters: filters of the first level (64 in the paper), doubled at every level.
        depth: number of poolings (4 in the paper).
        padding: ``"same"`` or ``"valid"``.
        batch_norm: batch norm after every convolution.
        dropout: dropout rate at the bottom of the contracting path.
        backbone: a zoo classifier name to use as the encoder, or None.
        backbone_weights: weights of that classifier (``"imagenet"``, a tag or a path).
        freeze_backbone: make the encoder non-trainable (fine-tune the decoder only).
        decoder_filters: filters of the decoder blocks, deepest first (backbone only;
            default ``(256, 128, 64, 32, 16)``, as segmentation_models).
        final_activation: activation of the 1x1 output convolution (None: logits).
        name: model name.
        num_classes: an alias of ``classes``.

    Returns:
        A ``keras.Model`` mapping images to ``(batch, height', width', classes)`` scores.

    Example:
        >>> unet(filters=8, depth=2, input_shape=(32, 32, 1)).output_shape
        (None, 32, 32, 2)
    """
    classes = resolve_classes(name, classes, num_classes, default=2)
    if padding not in ("same", "valid"):
        raise ValueError(f"`padding` must be 'same' or 'valid'. Received: padding={padding!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 6:
        raise ValueError(f"`depth` must be an integer from 1 to 6. Received: depth={depth!r}")
    if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
        raise ValueError(f"`filters` must be an integer >= 1. Received: filters={filters!r}")
    if backbone is not None and padding != "same":
        raise ValueError("A `backbone` encoder needs padding='same'. Received: padding='valid'")
    check_weights_arg(name, weights, classes=classes, filters=filters, depth=depth,
                      padding=padding, batch_norm=batch_norm, backbone=backbone)
    channels = 3 if backbone is not None else 1
    default_shape = (None, None, channels)
    if backbone is not None:
        return _unet_on_backbone(name, weights, input_tensor, input_shape, default_shape,
                                 classes, backbone, backbone_weights, freeze_backbone,
                                 decoder_filters or (256, 128, 64, 32, 16), batch_norm,
                                 final_activation)

    inputs, x = dense_input(name, input_shape=input_shape, input_tensor=input_tensor,
                            default_shape=default_shape, divisor=2 ** depth,
                            unpadded_depth=depth if padding == "valid" else None)
    skips = []
    for level in range(1, depth + 1):  # contracting path
        x = double_conv(x, filters * 2 ** (level - 1), padding=padding, batch_norm=batch_norm,
                        name=f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="bridge_dropout")(x)
    x = double_conv(x, filters * 2 ** depth, padding=padding, batch_norm=batch_norm,
                    name="bridge")
    for level in range(depth, 0, -1):  # expanding path
        x = up_block(x, skips[level - 1], filters * 2 ** (level - 1), padding=padding,
                     batch_norm=batch_norm, name=f"up{level}")
    outputs = layers.Conv2D(classes, 1, activation=final_activation, name="final_conv")(x)
    model = SizeCheckedModel(inputs, outputs, name=name)
    return apply_weights(model, name, weights, classes=classes)


def _unet_on_backbone(name, weights, input_tensor, input_shape, default_shape, classes,
                      backbone, backbone_weights, freeze, decoder_filters, batch_norm,
                      final_activation):
    """U-Net decoder over a classifier's feature taps, one up-block per stride level."""
    taps_probe = get_entry(backbone).feature_layers
    deepest = max(int(level[1:]) for level in taps_probe)
    inputs, image = dense_input(name, input_shape=input_shape, input_tensor=input_tensor,
                                default_shape=default_shape, divisor=2 ** deepest)
    taps, _ = backbone_features(backbone, image, backbone_weights, freeze)
    x = taps[deepest]
    if len(decoder_filters) < deepest:
        raise ValueError(f"`decoder_filters` needs {deepest} entries for {backbone} (one per "
                         f"factor of 2). Received: decoder_filters={decoder_filters}")
    for stage, level in enumerate(range(deepest - 1, -1, -1), start=1):
        x = up_block(x, taps.get(level), decoder_filters[stage - 1], padding="same",
                     batch_norm=batch_norm, name=f"decoder_stage{stage}")
    outputs = layers.Conv2D(classes, 1, activation=final_activation, name="final_conv")(x)
    model = SizeCheckedModel(inputs, outputs, name=name)
    return apply_weights(model, name, weights, classes=classes)
