"""Embedding networks for metric learning: FaceNet-style heads on any zoo backbone (Schroff,
Kalenichenko and Philbin, CVPR 2015) and LeNets++, the 2-D feature network of center loss's toy
experiment (Wen, Zhang, Li and Qiao, ECCV 2016).

FaceNet's recipe is backbone -> global pooling -> linear projection to ``d`` dimensions ->
L2 normalisation, so every embedding lies on the unit hypersphere and squared L2 distances
lie in [0, 4]; it is trained with `zoo.losses.TripletLoss`. The original uses Zeiler-Fergus
and Inception backbones; here the backbone is any zoo classifier (``backbone="resnet18"``).
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import pool_features, validate_head_args
from zoo.models.common import embedding_input
from zoo.registry import get_entry, register
from zoo.weights import apply_weights, check_weights_arg


def _backbone_model(backbone, input_shape, backbone_weights, pooling: str,
                    backbone_args: dict | None = None) -> keras.Model:
    if isinstance(backbone, keras.Model):
        if backbone_weights is not None or backbone_args:
            raise ValueError("`backbone_weights` and `backbone_args` apply to a backbone given "
                             "by name; a keras.Model passed as `backbone` is used as it is.")
        return backbone
    if not isinstance(backbone, str):
        raise ValueError(f"`backbone` must be a zoo model name or a keras.Model. "
                         f"Received: {backbone!r}")
    entry = get_entry(backbone)  # unknown names list the close ones
    if entry.task not in ("classification", "metric") or backbone in ("facenet", "siamese_net"):
        raise ValueError(f"`backbone` must be a zoo classifier (e.g. 'resnet18', "
                         f"'mobilenet', 'lenetpp'). Received: {backbone!r} ({entry.task}).")
    return entry.builder(include_top=False, weights=backbone_weights, input_shape=input_shape,
                         pooling=pooling, **(backbone_args or {}))


@register(
    "facenet",
    task="metric",
    paper="FaceNet: A Unified Embedding for Face Recognition and Clustering",
    paper_url="https://arxiv.org/abs/1503.03832",
    year=2015,
    params=11_251_776,
    params_source="the headless resnet18 (torchvision's 11,176,512 trainable less fc, plus "
                  "9,600 batch-norm statistics) + a 512x128 projection",
    input_shape=(224, 224, 3),
    min_size=32,
    preprocessing="caffe",
    feature_layers={},
)
def facenet(weights: str | None = None, input_tensor=None,
            input_shape: tuple[int, int, int] | None = None, backbone="resnet18",
            backbone_weights: str | None = None, backbone_args: dict | None = None,
            embedding_dim: int = 128,
            pooling: str = "avg", dropout: float = 0.0, batch_norm: bool = False,
            include_top: bool = True, name: str = "facenet") -> keras.Model:
    """A FaceNet-style embedding: backbone -> global pooling -> ``embedding_dim`` -> L2 norm.

    Reference: [FaceNet: A Unified Embedding for Face Recognition and Clustering](
    https://arxiv.org/abs/1503.03832) (CVPR 2015), section 3.

    Args:
        weights: None, a weight tag (``"mnist_triplet"``) or a path to a weight file.
        input_tensor: optional Keras tensor to build on (with a backbone given by name).
        input_shape: ``(224, 224, 3)`` by default; any size the backbone accepts.
        backbone: a zoo classifier name (built headless at ``input_shape``) or a
            ``keras.Model`` from images to a feature map or vector (then ``input_shape`` and
            ``input_tensor`` come from it).
        backbone_weights: weights of a named backbone (``"imagenet"``) for transfer learning.
        backbone_args: more arguments of a named backbone's builder (``{"width": 0.5}``).
        embedding_dim: ``d``, the size of the embedding (FaceNet: 128).
        pooling: ``"avg"`` or ``"max"`` global pooling of the backbone's last map.
        dropout: rate before the projection (0: none).
        batch_norm: batch-normalise the projection before the L2 normalisation (the "FC-BN"
            end of ArcFace's "BN-Dropout-FC-BN" embedding, Deng et al. 2019; the projection
            then has no bias). On AT&T faces with a small backbone it was worth
            +0.016 validation ROC AUC (README, "Faces").
        include_top: False returns the pooled backbone features (no projection).
        name: model name.

    Preprocessing is the backbone's (``preprocessing`` in its registry entry; the resnets
    take 0-255 RGB through ``zoo.models.classification.resnet.preprocess_input``).

    Example:
        >>> model = facenet(backbone="resnet18", input_shape=(96, 96, 3))
        >>> model.output_shape
        (None, 128)
    """
    if pooling not in ("avg", "max"):
        raise ValueError(f"facenet: `pooling` must be 'avg' or 'max'. Received: {pooling!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"facenet: `dropout` must be in [0, 1). Received: {dropout!r}")
    validate_head_args("facenet", include_top=include_top, pooling=pooling, classes=1)
    if not isinstance(batch_norm, bool):
        raise ValueError(f"facenet: `batch_norm` must be True or False. "
                         f"Received: batch_norm={batch_norm!r}")
    if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
        raise ValueError(f"facenet: `embedding_dim` must be an integer >= 1. "
                         f"Received: embedding_dim={embedding_dim!r}")
    backbone_name = backbone if isinstance(backbone, str) else backbone.name
    if isinstance(backbone, str):
        if weights is not None:
            check_weights_arg("facenet", weights, backbone=backbone, embedding_dim=embedding_dim,
                              backbone_args=backbone_args, batch_norm=batch_norm)
        shape = input_shape
        if shape is None and input_tensor is not None:
            shape = tuple(input_tensor.shape[1:])
        if shape is None:
            shape = get_entry(backbone).input_shape
    else:
        shape = None
    base = _backbone_model(backbone, shape, backbone_weights, pooling, backbone_args)
    if input_tensor is not None and isinstance(backbone, str):
        inputs, image = (keras.utils.get_source_inputs(input_tensor), input_tensor) \
            if keras.backend.is_keras_tensor(input_tensor) \
            else (keras.Input(tensor=input_tensor, name="image"),) * 2
    else:
        inputs = image = keras.Input(shape=tuple(base.input_shape[1:]), name="image")
    features = base(image)
    x = features
    if len(x.shape) == 4:
        x = pool_features(x, pooling)
    if include_top:
        if dropout:
            x = layers.Dropout(dropout, name="embedding_dropout")(x)
        x = layers.Dense(embedding_dim, use_bias=not batch_norm,
                         name="embedding_projection")(x)
        if batch_norm:
            x = layers.BatchNormalization(name="embedding_bn")(x)
        x = layers.UnitNormalization(name="embedding")(x)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, "facenet", weights, include_top=include_top,
                         backbone=backbone_name, embedding_dim=embedding_dim,
                         backbone_args=backbone_args, batch_norm=batch_norm)


@register(
    "lenetpp",
    task="metric",
    paper="A Discriminative Feature Learning Approach for Deep Face Recognition",
    paper_url="https://doi.org/10.1007/978-3-319-46478-7_31",
    year=2016,
    params=797_604,
    params_source="the paper's LeNets++ layer sizes (Table 1), channel-wise PReLU as in Caffe",
    input_shape=(28, 28, 1),
    min_size=8,
    preprocessing="unit",
    feature_layers={"P1": "conv1_2_prelu", "P2": "conv2_2_prelu", "P3": "conv3_2_prelu"},
)
def lenetpp(include_top: bool = True, weights: str | None = None, input_tensor=None,
            input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
            embedding_dim: int = 2, width: float = 1.0, classes: int | None = None,
            classifier_activation: str | None = "softmax", name: str = "lenetpp") -> keras.Model:
    """LeNets++: three stages of two 5x5 convolutions with PReLU, then a 2-D feature.

    Reference: [A Discriminative Feature Learning Approach for Deep Face Recognition](
    https://doi.org/10.1007/978-3-319-46478-7_31) (Wen et al., ECCV 2016), Table 1: the
    network whose 2-D MNIST features show what softmax alone and softmax + center loss learn.

    (conv 5x5 32, PReLU) x2 -> max-pool 2/2 -> (conv 5x5 64) x2 -> max-pool -> (conv 5x5 128)
    x2 -> max-pool -> FC ``embedding_dim`` + PReLU (the feature, named ``"embedding"``) ->
    optional FC ``classes`` (the softmax the center loss is combined with).

    Args:
        include_top: include the feature FC (and the classifier when ``classes`` is set).
        weights: None, a weight tag (``"mnist_center"``) or a path to a weight file.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(28, 28, 1)`` by default.
        pooling: ``None``, ``"avg"`` or ``"max"`` after the last stage when headless.
        embedding_dim: the feature size (2 in the paper, to plot it).
        width: multiplies the 32/64/128 filters (0.5 trains 4x faster on a CPU).
        classes: when set, a ``classes``-way classifier follows the feature; the model's
            output is then the class scores and the feature is ``get_layer("embedding")``.
        classifier_activation: the classifier's activation (None for logits).
        name: model name.

    Example:
        >>> lenetpp().count_params()
        797604
    """
    inputs, x = embedding_input("lenetpp", include_top=include_top, weights=weights,
                                input_tensor=input_tensor, input_shape=input_shape,
                                pooling=pooling, embedding_dim=embedding_dim,
                                flattening_top=True, width=width, classes=classes)
    if not width > 0:
        raise ValueError(f"lenetpp: `width` must be > 0. Received: width={width!r}")
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int)
                                or classes < 1):
        raise ValueError(f"lenetpp: `classes` must be None or an integer >= 1. "
                         f"Received: classes={classes!r}")
    for stage, filters in enumerate((32, 64, 128), start=1):
        for i in (1, 2):
            x = layers.Conv2D(max(1, int(round(filters * width))), 5, padding="same",
                              kernel_initializer="he_normal", name=f"conv{stage}_{i}")(x)
            x = layers.PReLU(shared_axes=[1, 2], alpha_initializer=keras.initializers.Constant(0.25),
                             name=f"conv{stage}_{i}_prelu")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"pool{stage}")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(embedding_dim, kernel_initializer="he_normal", name="embedding_fc")(x)
        x = layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), name="embedding")(x)
        if classes is not None:
            x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, "lenetpp", weights, include_top=include_top,
                         embedding_dim=embedding_dim, width=width, classes=classes)
