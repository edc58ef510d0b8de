"""Box maths every detector shares, in `keras.ops` (TensorFlow, JAX, PyTorch; jit-compilable).

- ``boxes``: areas, IoU / GIoU matrices (Keras' ``compute_iou`` + the GIoU Keras lacks),
  clipping, `BoxCoder` (anchor deltas with weights and a clamp).
- ``anchors``: `AnchorGenerator` (sizes x aspect ratios x scales per pyramid level).
- ``matching``: `Matcher` (positive / ignore / background, low-quality matches) and
  `assign_targets` (per-anchor class and box targets).
- ``nms``: greedy, per-class (batched) and soft NMS with padded fixed-size outputs.

Boxes are xyxy in pixels. A package of functions, not layers: `zoo.losses` and the detectors
import it, and it imports nothing of the zoo but itself.
"""

from zoo.ops.anchors import AnchorGenerator
from zoo.ops.boxes import (
    BoxCoder,
    box_area,
    clip_boxes,
    elementwise_giou,
    elementwise_iou,
    pairwise_giou,
    pairwise_iou,
)
from zoo.ops.matching import BACKGROUND, IGNORE, Matcher, assign_targets
from zoo.ops.nms import (
    batched_non_max_suppression,
    non_max_suppression,
    soft_non_max_suppression,
)

__all__ = [
    "BACKGROUND",
    "IGNORE",
    "AnchorGenerator",
    "BoxCoder",
    "Matcher",
    "assign_targets",
    "batched_non_max_suppression",
    "box_area",
    "clip_boxes",
    "elementwise_giou",
    "elementwise_iou",
    "non_max_suppression",
    "pairwise_giou",
    "pairwise_iou",
    "soft_non_max_suppression",
]
