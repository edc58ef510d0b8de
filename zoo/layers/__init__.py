"""Reusable building blocks shared by the zoo's models.

One concept per module. Layers here are written with `keras.ops` only, so they run on the
TensorFlow, JAX and PyTorch backends, and are registered for serialisation under the
package name ``"zoo"``.
"""

from zoo.layers.anchors import AnchorGenerator
from zoo.layers.boxes import (
    BoxCoder,
    box_area,
    clip_boxes,
    elementwise_giou,
    elementwise_iou,
    pairwise_giou,
    pairwise_iou,
)
from zoo.layers.cosine import CosineClassifier
from zoo.layers.distance import PairDistance, rowwise_distance
from zoo.layers.heads import image_input, pool_features, validate_head_args
from zoo.layers.matching import BACKGROUND, IGNORE, Matcher, assign_targets
from zoo.layers.nms import (
    batched_non_max_suppression,
    non_max_suppression,
    soft_non_max_suppression,
)
from zoo.layers.normalization import LocalResponseNormalization
from zoo.layers.shortcut import PadChannels

__all__ = [
    "BACKGROUND",
    "IGNORE",
    "AnchorGenerator",
    "BoxCoder",
    "CosineClassifier",
    "LocalResponseNormalization",
    "Matcher",
    "PadChannels",
    "PairDistance",
    "assign_targets",
    "batched_non_max_suppression",
    "box_area",
    "clip_boxes",
    "elementwise_giou",
    "elementwise_iou",
    "image_input",
    "non_max_suppression",
    "pairwise_giou",
    "pairwise_iou",
    "pool_features",
    "rowwise_distance",
    "soft_non_max_suppression",
    "validate_head_args",
]
