"""Reusable building blocks shared by the zoo's models.

One concept per module. Layers here are written with `keras.ops` only, so they run on the
TensorFlow, JAX and PyTorch backends, and are registered for serialisation under the
package name ``"zoo"``.
"""

from zoo.layers.cosine import CosineClassifier
from zoo.layers.distance import PairDistance, rowwise_distance
from zoo.layers.heads import image_input, pool_features, validate_head_args
from zoo.layers.normalization import LocalResponseNormalization
from zoo.layers.shortcut import PadChannels

__all__ = [
    "CosineClassifier",
    "LocalResponseNormalization",
    "PadChannels",
    "PairDistance",
    "image_input",
    "pool_features",
    "rowwise_distance",
    "validate_head_args",
]
