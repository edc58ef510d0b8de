"""Anchor <-> ground-truth matching and the training targets it gives.

`Matcher` is torchvision's ``Matcher`` (``models/detection/_utils.py``) in `keras.ops`, on the
layout keras-hub's ``BoxMatcher`` uses (anchors first, then ground truth; batched): an anchor
whose best IoU with any ground-truth box is ``>= high_threshold`` is matched to that box, one
below ``low_threshold`` is background, one in between is ignored (no loss: it overlaps an
object too much to be background and too little to be it). With
``allow_low_quality_matches``, each ground-truth box also claims the anchor(s) it overlaps most,
ties included, even below ``high_threshold``, so no object goes without an anchor (RetinaNet
and Faster R-CNN's RPN do this; Lin et al. 2017 section 4: IoU 0.5 / 0.4).

`assign_targets` turns a match into what the losses read: one class target per anchor
(the label, `BACKGROUND` or `IGNORE`) and encoded box targets (`BoxCoder`).

Ground truth arrives padded: ``(B, M, 4)`` boxes and ``(B, M)`` labels, where a label ``< 0``
marks a padding row (the convention of the zoo's box augmentation and of Keras' preprocessing
layers). An image with no boxes is all background. Shapes are static, so all of it compiles
under ``jax.jit`` and ``tf.function``.
"""

from __future__ import annotations

from keras import ops

from zoo.ops.boxes import BoxCoder, pairwise_iou

BACKGROUND = -1   # torchvision's BELOW_LOW_THRESHOLD
IGNORE = -2       # torchvision's BETWEEN_THRESHOLDS


class Matcher:
    """Matches each anchor to a ground-truth index, `BACKGROUND` or `IGNORE`.

    Args:
        high_threshold: IoU at or above which an anchor is matched (positive).
        low_threshold: IoU below which an anchor is background; in between: ignored.
        allow_low_quality_matches: also match each ground-truth box to its best anchor(s).

    Example:
        >>> matcher = Matcher(0.5, 0.4, allow_low_quality_matches=True)
        >>> matches = matcher(iou)          # iou: (B, anchors, M) -> (B, anchors) int32
        ... # doctest: +SKIP
    """

    def __init__(self, high_threshold: float = 0.5, low_threshold: float = 0.4,
                 allow_low_quality_matches: bool = False):
        if not 0 <= low_threshold <= high_threshold <= 1:
            raise ValueError("Matcher: thresholds must satisfy 0 <= low_threshold <= "
                             f"high_threshold <= 1. Received: low_threshold={low_threshold!r}, "
                             f"high_threshold={high_threshold!r}")
        self.high_threshold, self.low_threshold = float(high_threshold), float(low_threshold)
        self.allow_low_quality_matches = bool(allow_low_quality_matches)

    def __call__(self, iou, gt_valid=None):
        """``iou`` ``(B, N, M)`` or ``(N, M)``, ``gt_valid`` ``(B, M)`` bool -> ``(B, N)`` int32."""
        iou = ops.cast(iou, "float32")
        unbatched = len(ops.shape(iou)) == 2
        if unbatched:
            iou = iou[None]
            gt_valid = None if gt_valid is None else ops.convert_to_tensor(gt_valid)[None]
        batch, anchors = ops.shape(iou)[0], ops.shape(iou)[1]
        if gt_valid is not None:
            iou = ops.where(ops.cast(gt_valid, "bool")[:, None, :], iou, -1.0)
        # a column of -1 keeps max / argmax defined for an image with no boxes (keras-hub's
        # BoxMatcher does the same), and never wins: IoU is >= 0
        iou = ops.concatenate([iou, -ops.ones((batch, anchors, 1), "float32")], axis=-1)
        best = ops.max(iou, axis=-1)
        matches = ops.cast(ops.argmax(iou, axis=-1), "int32")
        result = ops.where(best >= self.high_threshold, matches,
                           ops.where(best < self.low_threshold, BACKGROUND, IGNORE))
        if self.allow_low_quality_matches:
            best_per_gt = ops.max(iou, axis=1, keepdims=True)            # (B, 1, M + 1)
            claimed = ops.logical_and(iou == best_per_gt, best_per_gt > 0)
            claimed = ops.any(claimed, axis=-1)                            # (B, N)
            result = ops.where(claimed, matches, result)
        result = ops.cast(result, "int32")
        return result[0] if unbatched else result

    def get_config(self) -> dict:
        return {"high_threshold": self.high_threshold, "low_threshold": self.low_threshold,
                "allow_low_quality_matches": self.allow_low_quality_matches}


def assign_targets(anchors, gt_boxes, gt_labels, matcher: Matcher | None = None,
                   coder: BoxCoder | None = None):
    """Per-anchor class and box targets for a batch of padded ground truth.

    Args:
        anchors: ``(N, 4)`` xyxy pixels (`AnchorGenerator`).
        gt_boxes: ``(B, M, 4)`` xyxy pixels; ``M`` may be 0.
        gt_labels: ``(B, M)`` integer labels, ``< 0`` for padding rows.
        matcher: default RetinaNet's, ``Matcher(0.5, 0.4, allow_low_quality_matches=True)``.
        coder: default ``BoxCoder()`` (weights 1).

    Returns:
        ``class_targets`` ``(B, N)`` int32: the matched label, `BACKGROUND` (-1) or `IGNORE`
        (-2); ``box_targets`` ``(B, N, 4)`` float32 deltas (meaningful where the class target
        is >= 0; the box of ground-truth row 0 elsewhere, for a fixed shape); and
        ``matches`` ``(B, N)``: the ground-truth row of each anchor or the negative code.
    """
    matcher = matcher or Matcher(0.5, 0.4, allow_low_quality_matches=True)
    coder = coder or BoxCoder()
    anchors = ops.cast(anchors, "float32")
    gt_boxes, gt_labels = ops.cast(gt_boxes, "float32"), ops.cast(gt_labels, "int32")
    if len(ops.shape(gt_boxes)) != 3 or ops.shape(gt_boxes)[-1] != 4:
        raise ValueError("assign_targets: `gt_boxes` must be (batch, boxes, 4), padded. "
                         f"Received: shape={tuple(ops.shape(gt_boxes))}")
    batch, num_gt = ops.shape(gt_boxes)[0], ops.shape(gt_boxes)[1]
    num_anchors = ops.shape(anchors)[0]
    if num_gt == 0:   # no row to gather from: every anchor is background
        return (-ops.ones((batch, num_anchors), "int32"),
                ops.zeros((batch, num_anchors, 4), "float32"),
                -ops.ones((batch, num_anchors), "int32"))
    valid = gt_labels >= 0
    iou = pairwise_iou(ops.broadcast_to(anchors[None], (batch, num_anchors, 4)), gt_boxes)
    matches = matcher(iou, valid)
    row = ops.maximum(matches, 0)
    matched_boxes = ops.take_along_axis(gt_boxes, row[..., None], axis=1)
    matched_labels = ops.take_along_axis(gt_labels, row, axis=1)
    class_targets = ops.where(matches >= 0, matched_labels, matches)
    return class_targets, coder.encode(matched_boxes, anchors), matches
