"""Supervised autoencoder (Le, Patterson & White 2018): reconstruction as a regulariser.

encoder -> code -> decoder reconstructs the image, and a classifier reads the same code. The
loss is a weighted sum ``w_rec * reconstruction + w_cls * cross-entropy``: the reconstruction
term makes the code keep what describes the image, not only what separates the training
labels, which the paper shows improves generalisation.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from zoo.layers import image_input, validate_head_args
from zoo.registry import register
from zoo.weights import apply_weights, check_weights_arg


def compile_args(reconstruction_weight: float = 1.0,
                 classification_weight: float = 1.0) -> dict[str, Any]:
    """``loss`` and ``loss_weights`` for ``model.compile``: the weighted sum of both losses.

    The total loss is ``reconstruction_weight * MSE(x, x_hat) + classification_weight *
    sparse categorical cross-entropy(y, p)``. Train with ``y={"reconstruction": x,
    "predictions": labels}``.

    Example:
        >>> model.compile(optimizer="adam", **compile_args(reconstruction_weight=0.5))
    """
    if reconstruction_weight < 0 or classification_weight < 0:
        raise ValueError("Loss weights must be >= 0. Received: "
                         f"reconstruction_weight={reconstruction_weight}, "
                         f"classification_weight={classification_weight}")
    return {
        "loss": {"reconstruction": "mse", "predictions": "sparse_categorical_crossentropy"},
        "loss_weights": {"reconstruction": reconstruction_weight,
                         "predictions": classification_weight},
        "metrics": {"predictions": ["accuracy"]},
    }


@register(
    "supervised_autoencoder",
    task="classification",
    paper="Supervised autoencoders: Improving generalization performance with unsupervised "
          "regularizers",
    paper_url="https://papers.nips.cc/paper/7296",
    year=2018,
    params=278_699,
    params_source="computed from the layer sizes below (the paper's method fits any encoder)",
    input_shape=(28, 28, 1),
    min_size=8,
    fixed_size_top=True,
    feature_layers={"P1": "encoder_conv1", "P2": "encoder_conv2"},
)
def supervised_autoencoder(include_top: bool = True, weights: str | None = None,
                           input_tensor=None, input_shape: tuple[int, int, int] | None = None,
                           pooling: str | None = None, classes: int = 10,
                           classifier_activation: str | None = "softmax", code_dim: int = 32,
                           filters: tuple[int, int] = (32, 64),
                           name: str = "supervised_autoencoder") -> keras.Model:
    """A convolutional supervised autoencoder with a classifier on the code.

    Reference: [Supervised autoencoders: Improving generalization performance with
    unsupervised regularizers](https://papers.nips.cc/paper/7296) (NeurIPS 2018).

    encoder: conv 3x3/2 ``filters[0]`` -> conv 3x3/2 ``filters[1]`` -> dense ``code_dim``
    (``"code"``); decoder: dense -> reshape -> two 3x3/2 transposed convs -> 3x3 conv with a
    sigmoid (``"reconstruction"``, images in [0, 1]); classifier: dense ``classes`` on the code
    (``"predictions"``). Compile with `compile_args`.

    Args:
        include_top: with the decoder and classifier (outputs ``{"reconstruction",
            "predictions"}``); False returns the encoder, whose output is the code.
        weights: None, a weight tag, or a path to a weight file.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(28, 28, 1)`` by default; height and width divisible by 4.
        pooling: must be None (the code is already a vector).
        classes: number of classes.
        classifier_activation: activation of the classifier (None for logits).
        code_dim: size of the code.
        filters: widths of the two encoder convolutions (mirrored in the decoder).
        name: model name.

    Example:
        >>> model = supervised_autoencoder()
        >>> {k: v.shape for k, v in model.output.items()}["reconstruction"]
        (None, 28, 28, 1)
    """
    validate_head_args(name, include_top=include_top, pooling=pooling, classes=classes)
    if pooling is not None:
        raise ValueError(f"{name}: `pooling` must be None; the code is already a vector. "
                         f"Received: pooling={pooling!r}")
    if code_dim < 1:
        raise ValueError(f"{name}: `code_dim` must be >= 1. Received: code_dim={code_dim}")
    check_weights_arg("supervised_autoencoder", weights, include_top=include_top,
                      classes=classes, code_dim=code_dim, filters=tuple(filters))
    inputs, x = image_input(input_shape, input_tensor, model_name=name,
                            default_shape=(28, 28, 1), min_size=8, include_top=True)
    height, width, channels = x.shape[1:]
    if height is None or width is None or height % 4 or width % 4:
        raise ValueError(f"{name}: height and width must be known and divisible by 4 (two "
                         f"stride-2 layers, then a dense code). Received: input_shape="
                         f"{tuple(x.shape[1:])}")

    # --- encoder ---
    conv = dict(kernel_size=3, strides=2, padding="same", activation="relu",
                kernel_initializer="he_normal")
    x = layers.Conv2D(filters[0], name="encoder_conv1", **conv)(x)
    x = layers.Conv2D(filters[1], name="encoder_conv2", **conv)(x)
    x = layers.Flatten(name="encoder_flatten")(x)
    code = layers.Dense(code_dim, name="code")(x)
    if not include_top:
        model = keras.Model(inputs, code, name=f"{name}_encoder")
        return apply_weights(model, "supervised_autoencoder", weights, include_top=False)

    # --- decoder ---
    y = layers.Dense((height // 4) * (width // 4) * filters[1], activation="relu",
                     kernel_initializer="he_normal", name="decoder_dense")(code)
    y = layers.Reshape((height // 4, width // 4, filters[1]), name="decoder_reshape")(y)
    y = layers.Conv2DTranspose(filters[1], name="decoder_up1", **conv)(y)
    y = layers.Conv2DTranspose(filters[0], name="decoder_up2", **conv)(y)
    reconstruction = layers.Conv2D(channels, 3, padding="same", activation="sigmoid",
                                   name="reconstruction")(y)

    # --- classifier on the code ---
    predictions = layers.Dense(classes, activation=classifier_activation,
                               name="predictions")(code)
    model = keras.Model(inputs, {"reconstruction": reconstruction, "predictions": predictions},
                        name=name)
    return apply_weights(model, "supervised_autoencoder", weights, include_top=True,
                         classes=classes, code_dim=code_dim, filters=tuple(filters))
