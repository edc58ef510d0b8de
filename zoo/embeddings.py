"""Using an embedding model: embed images, compare two, decide "same" or "different".

``verify`` is what a face-verification demo calls: it prepares both images the way the model
was trained (size, channels, scaling), embeds them with one forward pass and thresholds their
distance. The threshold comes from the weight record (chosen on validation pairs when the
weights were published) or from the caller.

Example:
    >>> model = zoo.load("siamese_net", weights="att_faces")
    >>> result = zoo.embeddings.verify(model, "s1/1.pgm", "s1/2.pgm")
    >>> result.distance, result.same                                 # doctest: +SKIP
    (0.41, True)
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import keras
import numpy as np

from zoo.layers.distance import rowwise_distance


@dataclasses.dataclass(frozen=True)
class Verification:
    """The outcome of `verify`: the distance, the threshold used and the decision."""

    distance: float
    threshold: float
    same: bool


def embedding_model(model: keras.Model) -> keras.Model:
    """The part of ``model`` that outputs the embedding.

    A Siamese pair model (two inputs) gives its shared embedding network; a model whose output
    is a classifier above a layer named ``"embedding"`` (LeNets++ with ``classes``) is cut at
    that layer; any other one-input model is returned as it is.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: {type(model)}")
    if len(model.inputs) > 1:  # a pair / triplet wrapper: find the shared embedding network
        inner = [layer for layer in model.layers if isinstance(layer, keras.Model)]
        if len(inner) != 1:
            raise ValueError(f"{model.name} has {len(model.inputs)} inputs but no single shared "
                             "embedding network inside; pass the embedding model itself.")
        return embedding_model(inner[0])
    names = {layer.name for layer in model.layers}
    if "embedding" in names and model.layers[-1].name != "embedding":
        return keras.Model(model.inputs, model.get_layer("embedding").output,
                           name=f"{model.name}_embedding")
    return model


def _as_array(image: Any) -> np.ndarray:
    """A path, PIL image or array -> a numpy array (H, W) or (H, W, C)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (str, os.PathLike)):
        try:
            with Image.open(image) as im:
                im.load()
                return np.asarray(im)
        except FileNotFoundError:
            raise ValueError(f"Image file not found: {str(image)!r}") from None
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"Could not read {str(image)!r} as an image ({err}).") from None
    if isinstance(image, Image.Image):
        return np.asarray(image)
    array = np.asarray(image)
    if array.dtype == object or array.ndim not in (2, 3) or (array.ndim == 3
                                                              and array.shape[-1] not in (1, 3, 4)):
        raise ValueError("An image must be a path, a PIL image or an array of shape (H, W), "
                         f"(H, W, 1), (H, W, 3) or (H, W, 4). Received shape {array.shape}.")
    return array


def prepare_images(images: Any, input_shape: tuple, preprocessing: str = "unit") -> np.ndarray:
    """Images (paths, PIL images or arrays; uint8 0-255 or float 0-1) -> a model batch.

    Each is converted to the model's channels (grey <-> RGB), resized to its height and width
    (bilinear) when those are fixed, and scaled as ``preprocessing`` says: ``"unit"`` (0-1),
    or keras.applications' ``"caffe"`` / ``"tf"`` modes on 0-255 RGB.
    """
    from PIL import Image

    height, width, channels = input_shape
    batch = []
    for image in images:
        array = _as_array(image)
        if array.dtype != np.uint8:  # floats: 0-1 (or 0-255 when larger than 1)
            array = np.asarray(array, dtype="float32")
            if not np.all(np.isfinite(array)):
                raise ValueError("The image holds NaN or infinite values.")
            scale = 1.0 if array.max(initial=0.0) > 1.0 else 255.0
            array = np.clip(array * scale, 0, 255).astype(np.uint8)
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        im = Image.fromarray(array)
        im = im.convert("L" if channels == 1 else "RGB")
        if height is not None and width is not None and im.size != (width, height):
            im = im.resize((width, height), Image.BILINEAR)
        x = np.asarray(im, dtype="float32")
        batch.append(x[..., None] if channels == 1 else x)
    x = np.stack(batch)
    if preprocessing == "unit":
        return x / 255.0
    if preprocessing in ("caffe", "tf", "torch"):
        from keras.applications import imagenet_utils

        return imagenet_utils.preprocess_input(x, mode=preprocessing)
    raise ValueError(f"`preprocessing` must be 'unit', 'caffe', 'tf' or 'torch'. "
                     f"Received: {preprocessing!r}")


def _record(model: keras.Model):
    return getattr(model, "zoo_weights", None)


def embed(model: keras.Model, images: Any, preprocessing: str | None = None,
          batch_size: int = 64) -> np.ndarray:
    """Embeddings ``(N, D)`` of a list of images (paths, PIL images or arrays)."""
    record = _record(model)
    net = embedding_model(model)
    if preprocessing is None:
        preprocessing = record.preprocessing if record is not None else "unit"
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)
    x = prepare_images(list(images), tuple(net.input_shape[1:]), preprocessing)
    return np.asarray(keras.ops.convert_to_numpy(net.predict(x, batch_size=batch_size,
                                                             verbose=0)))


def default_threshold(model: keras.Model) -> float | None:
    """The verification threshold stored in the model's weight record, if any.

    ``balanced_threshold`` (best balanced accuracy on the validation identities: same-pair
    and different-pair errors weigh equally) is preferred to ``threshold`` (best plain
    accuracy, which with many more different pairs than same ones leans to "different").
    """
    record = _record(model)
    if record is None:
        return None
    for key in ("balanced_threshold", "threshold"):
        for values in record.metrics.values():
            if isinstance(values, dict) and key in values:
                return float(values[key])
    return None


def verify(model: keras.Model, image_a: Any, image_b: Any, threshold: float | None = None,
           distance: str = "l2", preprocessing: str | None = None) -> Verification:
    """Are two images the same identity? Returns their distance and the decision.

    Args:
        model: an embedding model, a `siamese_pair` model or a classifier with an
            ``"embedding"`` layer (see `embedding_model`), e.g. ``zoo.load("siamese_net")``.
        image_a, image_b: paths, PIL images or arrays (grey or RGB, uint8 or float in 0-1).
        threshold: "same" when the distance is at most this; default: the weight record's
            (chosen on validation pairs when the weights were published).
        distance: ``"l2"`` (default), ``"squared_l2"`` or ``"cosine"``.
        preprocessing: override the record's input scaling (``"unit"``, ``"caffe"``, ...).

    Raises:
        ValueError: when no threshold is given and the model's record has none, or an image
            cannot be read.
    """
    if threshold is None:
        threshold = default_threshold(model)
        if threshold is None:
            raise ValueError(
                f"{model.name} carries no verification threshold (it was not loaded from a "
                "zoo weight tag that has one). Pass threshold=..., chosen on validation pairs, "
                "e.g. with zoo.metrics.verification_accuracy(distances, is_same).")
    e = embed(model, [image_a, image_b], preprocessing)
    d = float(keras.ops.convert_to_numpy(rowwise_distance(e[:1], e[1:], distance))[0])
    return Verification(distance=d, threshold=float(threshold), same=bool(d <= threshold))
