"""Bounding-box maths every detector shares: areas, IoU and GIoU matrices, box coding.

Boxes are ``[..., 4]`` tensors; the zoo's own format is **xyxy in pixels** (``x1, y1, x2,
y2``, the corners; torchvision's convention), and everything here takes and returns it unless
a ``bounding_box_format`` argument says otherwise.

What Keras already has is used, not rewritten: ``keras.utils.bounding_boxes`` converts between
formats (``convert_format``: xyxy, xywh, center_xywh, center_yxhw, yxyx, rel_*), computes IoU
(``compute_iou``), encodes and decodes anchor deltas (``encode_box_to_deltas`` /
``decode_deltas_to_boxes``) and clips (``clip_to_image_size``). Written here, because Keras
lacks them: the **GIoU** matrix and element-wise IoU / GIoU (Rezatofighi et al. 2019, for the
GIoU box loss), and `BoxCoder`, which wraps Keras' delta coding with the two things detectors
need on top: per-coordinate weights (the "variances") and a clamp on ``dw, dh`` before the
``exp``, so one wild regression cannot overflow to ``inf`` (torchvision's ``BoxCoder`` does the
same, with the same default ``log(1000 / 16)``).

All in `keras.ops`: TensorFlow, JAX and PyTorch, inside ``jit`` / ``tf.function``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

FORMAT = "xyxy"
# torchvision's `bbox_xform_clip`: exp(4.135) = 62.5, the largest growth of a box side
DEFAULT_DELTA_CLIP = math.log(1000.0 / 16)


def _check_boxes(boxes, name: str):
    shape = ops.shape(boxes)
    if len(shape) < 1 or shape[-1] != 4:
        raise ValueError(f"`{name}` must have shape (..., 4): one box per row as x1, y1, x2, y2. "
                         f"Received: {name}.shape={tuple(shape)}")


def box_area(boxes):
    """Areas of xyxy boxes ``(..., 4) -> (...)``; an inverted box (x2 < x1) has area 0."""
    _check_boxes(boxes, "boxes")
    boxes = ops.cast(boxes, "float32")
    w = ops.maximum(boxes[..., 2] - boxes[..., 0], 0.0)
    h = ops.maximum(boxes[..., 3] - boxes[..., 1], 0.0)
    return w * h


def _intersection_and_union(a, b):
    """a ``(..., N, 1, 4)``-broadcastable against b ``(..., 1, M, 4)``."""
    lt = ops.maximum(a[..., :2], b[..., :2])
    rb = ops.minimum(a[..., 2:], b[..., 2:])
    wh = ops.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a) + box_area(b) - inter
    return inter, union


def _ratio(num, den):
    """``num / den``, 0 where ``den`` is 0 (two zero-area boxes overlap by nothing)."""
    safe = ops.where(den > 0, den, 1.0)
    return ops.where(den > 0, num / safe, 0.0)


def pairwise_iou(boxes1, boxes2, bounding_box_format: str = FORMAT):
    """IoU matrix: ``(N, 4), (M, 4) -> (N, M)``, or batched ``(B, N, 4), (B, M, 4) -> (B, N, M)``.

    Wraps ``keras.utils.bounding_boxes.compute_iou`` (which divides by ``union + 1e-7``); the
    IoU of two zero-area boxes is 0.

    Example:
        >>> pairwise_iou([[0., 0., 2., 2.]], [[1., 1., 3., 3.], [4., 4., 5., 5.]])
        ... # [[1/7, 0]]  # doctest: +SKIP
    """
    boxes1, boxes2 = ops.cast(boxes1, "float32"), ops.cast(boxes2, "float32")
    _check_boxes(boxes1, "boxes1"), _check_boxes(boxes2, "boxes2")
    return keras.utils.bounding_boxes.compute_iou(boxes1, boxes2, bounding_box_format)


def pairwise_giou(boxes1, boxes2):
    """Generalised IoU matrix of xyxy boxes (Rezatofighi et al. 2019), in ``[-1, 1]``.

    ``GIoU = IoU - (|C| - |A u B|) / |C|`` with ``C`` the smallest box enclosing both; unlike
    IoU it still ranks boxes that do not overlap (further apart = lower). Same shapes as
    `pairwise_iou`. Keras has ``compute_ciou`` (element-wise CIoU) but no GIoU matrix.
    """
    boxes1, boxes2 = ops.cast(boxes1, "float32"), ops.cast(boxes2, "float32")
    _check_boxes(boxes1, "boxes1"), _check_boxes(boxes2, "boxes2")
    return _giou(ops.expand_dims(boxes1, -2), ops.expand_dims(boxes2, -3))


def _giou(a, b):
    inter, union = _intersection_and_union(a, b)
    iou = _ratio(inter, union)
    lt = ops.minimum(a[..., :2], b[..., :2])
    rb = ops.maximum(a[..., 2:], b[..., 2:])
    wh = ops.maximum(rb - lt, 0.0)
    hull = wh[..., 0] * wh[..., 1]
    return iou - _ratio(hull - union, hull)


def elementwise_iou(boxes1, boxes2):
    """IoU of matching rows: ``(..., 4), (..., 4) -> (...)`` (xyxy)."""
    boxes1, boxes2 = ops.cast(boxes1, "float32"), ops.cast(boxes2, "float32")
    inter, union = _intersection_and_union(boxes1, boxes2)
    return _ratio(inter, union)


def elementwise_giou(boxes1, boxes2):
    """GIoU of matching rows: ``(..., 4), (..., 4) -> (...)`` (xyxy); ``1 - GIoU`` is the loss."""
    return _giou(ops.cast(boxes1, "float32"), ops.cast(boxes2, "float32"))


def clip_boxes(boxes, height, width):
    """Clips xyxy boxes to the image ``[0, width] x [0, height]`` (a box may become empty)."""
    boxes = ops.cast(boxes, "float32")
    x = ops.clip(boxes[..., 0::2], 0.0, float(width))
    y = ops.clip(boxes[..., 1::2], 0.0, float(height))
    return ops.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1)


class BoxCoder:
    """Boxes <-> regression targets relative to anchors (Girshick et al. 2014, R-CNN's eq. 1-4).

    For an anchor with centre ``(xa, ya)`` and size ``(wa, ha)`` and a box ``(x, y, w, h)``:
    ``t = (wx (x - xa) / wa, wy (y - ya) / ha, ww log(w / wa), wh log(h / ha))``. The weights
    ``(wx, wy, ww, wh)`` scale the targets to about unit variance: Faster R-CNN's heads use
    ``(10, 10, 5, 5)``, RetinaNet ``(1, 1, 1, 1)`` (torchvision's defaults); SSD's "variances"
    ``(0.1, 0.1, 0.2, 0.2)`` are their inverses.

    Coding is Keras' ``encode_box_to_deltas`` / ``decode_deltas_to_boxes`` in ``center_xywh``
    order (so the deltas read ``dx, dy, dw, dh``, as in the papers and torchvision); decoding
    first clamps ``dw, dh`` to ``delta_clip``, which Keras does not.

    Args:
        weights: ``(wx, wy, ww, wh)``, each > 0.
        delta_clip: the largest ``dw, dh`` after dividing by the weights (default
            ``log(1000 / 16)``, torchvision's).

    Example:
        >>> coder = BoxCoder()
        >>> anchors = np.array([[0., 0., 10., 10.]], "float32")
        >>> deltas = coder.encode(np.array([[1., 1., 11., 11.]], "float32"), anchors)  # .1 .1 0 0
        >>> boxes = coder.decode(deltas, anchors)                          # back to the box
        ... # doctest: +SKIP
    """

    def __init__(self, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
                 delta_clip: float = DEFAULT_DELTA_CLIP):
        weights = tuple(float(w) for w in weights)
        if len(weights) != 4 or not all(w > 0 for w in weights):
            raise ValueError("BoxCoder: `weights` must be 4 numbers > 0 (wx, wy, ww, wh). "
                             f"Received: weights={weights!r}")
        if not delta_clip > 0:
            raise ValueError(f"BoxCoder: `delta_clip` must be > 0. Received: {delta_clip!r}")
        self.weights, self.delta_clip = weights, float(delta_clip)
        self._variance = [1.0 / w for w in weights]

    def encode(self, boxes, anchors):
        """xyxy ``boxes`` and ``anchors`` ``(..., N, 4)`` -> deltas ``(..., N, 4)``."""
        return keras.utils.bounding_boxes.encode_box_to_deltas(
            ops.cast(anchors, "float32"), ops.cast(boxes, "float32"), anchor_format=FORMAT,
            box_format=FORMAT, encoding_format="center_xywh", variance=self._variance)

    def decode(self, deltas, anchors):
        """Deltas ``(..., N, 4)`` and xyxy ``anchors`` ``(N, 4)`` -> xyxy boxes ``(..., N, 4)``."""
        deltas = ops.cast(deltas, "float32")
        limit = [math.inf, math.inf, self.delta_clip * self.weights[2],
                 self.delta_clip * self.weights[3]]
        limit = ops.convert_to_tensor(limit, "float32")
        deltas = ops.minimum(deltas, limit)   # only the growth is clamped, as torchvision does
        return keras.utils.bounding_boxes.decode_deltas_to_boxes(
            ops.cast(anchors, "float32"), deltas, anchor_format=FORMAT, box_format=FORMAT,
            encoded_format="center_xywh", variance=self._variance)

    def get_config(self) -> dict:
        return {"weights": list(self.weights), "delta_clip": self.delta_clip}
