"""Siamese networks (Bromley et al. 1993; Chopra, Hadsell and LeCun 2005): one embedding
network applied to both images of a pair, with shared weights, and a distance between them.

`siamese_net` is the course's embedding network for faces (AT&T / ORL, where Chopra et al.
first trained a Siamese net): 11x11 conv + ReLU + LRN, 3x3/2 max pool, 5x5 conv + ReLU + LRN,
2x2 max pool, dropout, 3x3 conv + ReLU, FC + ReLU + dropout, FC. `siamese_pair` wraps any
embedding model into the two-input network trained with `zoo.losses.ContrastiveLoss`, and
`triplet_network` into the three-input one for explicit (anchor, positive, negative) triplets.
Online-mined triplet loss trains the embedding model itself, on P x K batches.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import LocalResponseNormalization, PairDistance, pool_features
from zoo.models.common import embedding_input
from zoo.registry import register
from zoo.weights import apply_weights

_RELU = dict(activation="relu", kernel_initializer="he_normal")


@register(
    "siamese_net",
    task="metric",
    paper="Learning a Similarity Metric Discriminatively, with Application to Face Verification",
    paper_url="https://doi.org/10.1109/CVPR.2005.202",
    year=2005,
    params=2_036_928,
    params_source="the course's layer sizes at its 105x105 grey input (conv 96/256/384, "
                  "FC 1024, 128-d embedding)",
    input_shape=(105, 105, 1),
    min_size=91,
    preprocessing="unit",
    feature_layers={"P3": "conv1_lrn", "P4": "conv2_lrn", "P5": "conv3"},
)
def siamese_net(include_top: bool = True, weights: str | None = None, input_tensor=None,
                input_shape: tuple[int, int, int] | None = None, pooling: str | None = None,
                embedding_dim: int = 128, filters: tuple[int, int, int] = (96, 256, 384),
                units: int = 1024, dropout: tuple[float, float] = (0.3, 0.5),
                name: str = "siamese_net") -> keras.Model:
    """The course's Siamese embedding network: three convolutions with LRN, two FC layers.

    Reference: [Learning a Similarity Metric Discriminatively, with Application to Face
    Verification](https://doi.org/10.1109/CVPR.2005.202) (Chopra, Hadsell and LeCun, CVPR
    2005) for the method; the layer sizes are the course's.

    conv1 96 11x11/4 + ReLU + LRN -> max-pool 3/2 -> conv2 256 5x5 + ReLU + LRN -> max-pool
    2/2 -> dropout 0.3 -> conv3 384 3x3 + ReLU -> flatten -> fc1 1024 + ReLU -> dropout 0.5
    -> embedding ``embedding_dim`` (linear). All convolutions are "valid"; at 105x105 the
    last map is 1x1x384 (2,036,928 parameters). LRN has AlexNet's constants (n=5, k=2,
    alpha=1e-4, beta=0.75).

    The fully connected head flattens the last map, so its size follows the input: the
    AT&T weights (``weights="att_faces"``) take the faces' own 112x92 (2x1x384 -> 768).

    Args:
        include_top: include fc1 and the embedding layer; else the conv3 map (or its pooling).
        weights: None, a weight tag (``"att_faces"``) or a path to a weight file.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(105, 105, 1)`` by default; any size >= 91.
        pooling: ``None``, ``"avg"`` or ``"max"`` after conv3 when ``include_top=False``.
        embedding_dim: size of the output embedding.
        filters: the three convolutions' widths.
        units: width of fc1.
        dropout: the rates after the second pooling and after fc1.
        name: model name.

    Example:
        >>> siamese_net().count_params()
        2036928
    """
    inputs, x = embedding_input("siamese_net", include_top=include_top, weights=weights,
                                input_tensor=input_tensor, input_shape=input_shape,
                                pooling=pooling, embedding_dim=embedding_dim,
                                flattening_top=True, filters=tuple(filters), units=units)
    f1, f2, f3 = filters
    x = layers.Conv2D(f1, 11, strides=4, name="conv1", **_RELU)(x)
    x = LocalResponseNormalization(name="conv1_lrn")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = layers.Conv2D(f2, 5, name="conv2", **_RELU)(x)
    x = LocalResponseNormalization(name="conv2_lrn")(x)
    x = layers.MaxPooling2D(2, strides=2, name="pool2")(x)
    x = layers.Dropout(dropout[0], name="pool2_dropout")(x)
    x = layers.Conv2D(f3, 3, name="conv3", **_RELU)(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(units, name="fc1", **_RELU)(x)
        x = layers.Dropout(dropout[1], name="fc1_dropout")(x)
        x = layers.Dense(embedding_dim, name="embedding")(x)
    else:
        x = pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return apply_weights(model, "siamese_net", weights, include_top=include_top,
                         embedding_dim=embedding_dim, filters=tuple(filters), units=units)


def _image_input_like(embedding: keras.Model, name: str):
    return keras.Input(shape=tuple(embedding.input_shape[1:]), name=name)


def siamese_pair(embedding: keras.Model, distance: str = "l2",
                 name: str | None = None) -> keras.Model:
    """Two images in, one distance out: ``D(f(a), f(b))`` with one shared ``f``.

    The embedding model is called twice, so both branches share every weight (there is one
    set, as in Bromley et al.); train the pair model with `zoo.losses.ContrastiveLoss` on
    ``(image_a, image_b) -> same (1) / different (0)`` and keep ``embedding`` for inference.

    Args:
        embedding: a model from images to embeddings (e.g. ``zoo.build("siamese_net")``).
        distance: ``"l2"`` (contrastive loss's D), ``"squared_l2"`` or ``"cosine"``.
        name: model name (default ``"<embedding>_pair"``).

    Example:
        >>> pair = siamese_pair(zoo.build("siamese_net"))
        >>> pair.compile("adam", loss=zoo.losses.ContrastiveLoss(margin=1.0))
        ... # doctest: +SKIP
    """
    if not isinstance(embedding, keras.Model):
        raise ValueError(f"`embedding` must be a keras.Model. Received: {type(embedding)}")
    if len(embedding.outputs) != 1 or len(embedding.outputs[0].shape) != 2:
        raise ValueError("`embedding` must map images to one (batch, dim) embedding. Its output "
                         f"shapes are {[tuple(o.shape) for o in embedding.outputs]}.")
    a = _image_input_like(embedding, "image_a")
    b = _image_input_like(embedding, "image_b")
    d = PairDistance(distance, name="distance")([embedding(a), embedding(b)])
    return keras.Model([a, b], d, name=name or f"{embedding.name}_pair")


def triplet_network(embedding: keras.Model, name: str | None = None) -> keras.Model:
    """Three images in (anchor, positive, negative), their embeddings out as ``(B, 3, D)``,
    the input of ``TripletLoss(mining="none")``; one shared embedding model.
    """
    if not isinstance(embedding, keras.Model):
        raise ValueError(f"`embedding` must be a keras.Model. Received: {type(embedding)}")
    images = [_image_input_like(embedding, n) for n in ("anchor", "positive", "negative")]
    stacked = layers.Concatenate(axis=1, name="triplet")(
        [layers.Reshape((1, -1), name=f"{t.name}_embedding")(embedding(t)) for t in images])
    return keras.Model(images, stacked, name=name or f"{embedding.name}_triplet")
