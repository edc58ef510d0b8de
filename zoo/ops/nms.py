"""Non-maximum suppression: greedy, per-class (batched) and soft-NMS, with fixed-size outputs.

A detector proposes many overlapping boxes for one object; NMS keeps the best of each cluster.
The course's steps, which `non_max_suppression` follows literally:

1. drop the boxes whose score is below ``score_threshold``;
2. pick the box with the highest score and keep it;
3. discard every remaining box whose IoU with it is above ``iou_threshold``;
4. repeat 2-3 until no box is left or ``max_output_size`` are kept.

Each round costs one IoU row (not an ``N x N`` matrix), so memory stays ``O(N)`` for 10k boxes.
Ties pick the lower index, as ``tf.image.non_max_suppression`` does. Soft-NMS (Bodla et al.
2017) replaces step 3 by decaying the scores of overlapping boxes: linearly, ``s * (1 - IoU)``
where IoU > threshold, or with a Gaussian, ``s * exp(-IoU**2 / sigma)`` for every box; the
loop then runs until no score is above ``score_threshold``.

Outputs are padded to ``max_output_size`` (index -1 in the unused slots) with a count of the
valid ones, so every shape is static: the loop is a ``keras.ops.fori_loop`` of
``max_output_size`` rounds and compiles under ``jax.jit`` and ``tf.function`` (keras-hub's
``NonMaxSuppression`` pads the same way). Batched inputs ``(B, N, 4)`` run all images in the
same rounds. Keras has no NMS; TensorFlow's and torchvision's are backend-specific kernels, and
the tests compare with both.
"""

from __future__ import annotations

from keras import ops

from zoo.ops.boxes import box_area

_NEG = float("-inf")   # the argmax never picks a box that has left the pool


def _iou_row(box, boxes, areas):
    """IoU of one box per image ``(B, 4)`` with all boxes ``(B, N, 4)`` -> ``(B, N)``."""
    lt = ops.maximum(box[:, None, :2], boxes[..., :2])
    rb = ops.minimum(box[:, None, 2:], boxes[..., 2:])
    wh = ops.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(box)[:, None] + areas - inter
    return ops.where(union > 0, inter / ops.where(union > 0, union, 1.0), 0.0)


def _check(boxes, scores, iou_threshold, max_output_size):
    boxes, scores = ops.cast(boxes, "float32"), ops.cast(scores, "float32")
    bs, ss = tuple(ops.shape(boxes)), tuple(ops.shape(scores))
    if len(bs) not in (2, 3) or bs[-1] != 4 or ss != bs[:-1]:
        raise ValueError("NMS: `boxes` must be (N, 4) or (B, N, 4) xyxy and `scores` (N,) or "
                         f"(B, N) to match. Received: boxes.shape={bs}, scores.shape={ss}")
    # a tensor threshold (a traced argument of a compiled decoder) is checked by its caller
    if isinstance(iou_threshold, (int, float)) and not 0 <= iou_threshold <= 1:
        raise ValueError(f"NMS: `iou_threshold` must be in [0, 1]. Received: {iou_threshold!r}")
    if isinstance(max_output_size, bool) or not isinstance(max_output_size, int) \
            or max_output_size < 1:
        raise ValueError("NMS: `max_output_size` must be an integer >= 1. "
                         f"Received: {max_output_size!r}")
    unbatched = len(bs) == 2
    if unbatched:
        boxes, scores = boxes[None], scores[None]
    return boxes, scores, unbatched


def _greedy(boxes, scores, iou_threshold, score_threshold, max_output_size, soft=None,
            sigma=0.5):
    boxes, scores, unbatched = _check(boxes, scores, iou_threshold, max_output_size)
    batch, n = ops.shape(scores)
    areas = box_area(boxes)
    arange = ops.arange(n, dtype="int32")[None, :]
    slots = ops.arange(max_output_size, dtype="int32")[None, :]

    def round_(i, state):
        current, alive, picked, picked_scores = state
        # step 2: the best box still in the pool (argmax: ties go to the lowest index)
        best = ops.cast(ops.argmax(ops.where(alive, current, _NEG), axis=1), "int32")
        best_score = ops.take_along_axis(current, best[:, None], axis=1)[:, 0]
        found = ops.any(alive, axis=1)                                          # (B,)
        box = ops.take_along_axis(boxes, best[:, None, None] * ops.ones((1, 1, 4), "int32"),
                                  axis=1)[:, 0]
        iou = _iou_row(box, boxes, areas)
        if soft is None:                                   # step 3: discard the overlaps
            alive = ops.logical_and(alive, iou <= iou_threshold)
        else:                                              # soft-NMS: decay them
            if soft == "linear":
                decay = ops.where(iou > iou_threshold, 1.0 - iou, 1.0)
            else:
                decay = ops.exp(-(iou * iou) / sigma)
            current = current * decay
            alive = ops.logical_and(alive, current > score_threshold)
        alive = ops.logical_and(alive, arange != best[:, None])     # the kept box leaves the pool
        write = ops.logical_and(slots == i, found[:, None])
        picked = ops.where(write, best[:, None], picked)
        picked_scores = ops.where(write, best_score[:, None], picked_scores)
        return current, alive, picked, picked_scores

    init = (scores, scores > score_threshold,                 # step 1: the score threshold
            -ops.ones((batch, max_output_size), "int32"),
            ops.zeros((batch, max_output_size), "float32"))
    if n == 0:
        picked, picked_scores = init[2], init[3]
    else:
        _, _, picked, picked_scores = ops.fori_loop(0, max_output_size, round_, init)
    count = ops.sum(ops.cast(picked >= 0, "int32"), axis=1)
    if unbatched:
        return picked[0], picked_scores[0], count[0]
    return picked, picked_scores, count


def non_max_suppression(boxes, scores, iou_threshold: float = 0.5,
                        score_threshold: float = float("-inf"), max_output_size: int = 100):
    """Greedy NMS. Returns ``(indices, num_valid)``.

    Args:
        boxes: ``(N, 4)`` or ``(B, N, 4)`` xyxy (any consistent unit; zero-area boxes overlap
            nothing).
        scores: ``(N,)`` or ``(B, N)``.
        iou_threshold: a box whose IoU with a kept box is *above* this is suppressed.
        score_threshold: boxes scoring at or below this are never kept.
        max_output_size: the most boxes kept (the padded output length).

    Returns:
        ``indices`` ``(max_output_size,)`` / ``(B, max_output_size)`` int32 into ``boxes``, best
        first, ``-1`` after the last kept box; ``num_valid`` ``()`` / ``(B,)`` int32.

    Example:
        >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], "float32")
        >>> idx, n = non_max_suppression(boxes, np.array([0.9, 0.8, 0.7]), max_output_size=3)
        ... # idx = [0, 2, -1], n = 2  # doctest: +SKIP
    """
    idx, _, count = _greedy(boxes, scores, iou_threshold, score_threshold, max_output_size)
    return idx, count


def soft_non_max_suppression(boxes, scores, method: str = "gaussian", sigma: float = 0.5,
                             iou_threshold: float = 0.3, score_threshold: float = 0.001,
                             max_output_size: int = 100):
    """Soft-NMS (Bodla et al. 2017): overlapping boxes lose score instead of being removed.

    Args:
        method: ``"linear"`` (``s * (1 - IoU)`` where IoU > ``iou_threshold``) or
            ``"gaussian"`` (``s * exp(-IoU**2 / sigma)`` for every box; ``iou_threshold``
            unused). The paper's defaults: Gaussian with ``sigma = 0.5``; linear with 0.3.
        score_threshold: boxes whose (decayed) score falls to or below this are dropped
            (the paper's 0.001).
        Others as in `non_max_suppression`.

    Returns:
        ``(indices, scores, num_valid)``: the kept boxes best first and their decayed scores
        at the time they were picked (0 in the padding).

    ``tf.image.non_max_suppression_with_scores(soft_nms_sigma=s)`` computes the Gaussian with
    ``exp(-IoU**2 / (2 s))`` and also removes boxes above its ``iou_threshold``: it equals
    ``method="gaussian", sigma=2 s`` with its threshold at 1.
    """
    if method not in ("linear", "gaussian"):
        raise ValueError("soft_non_max_suppression: `method` must be 'linear' or 'gaussian'. "
                         f"Received: method={method!r}")
    if not sigma > 0:
        raise ValueError(f"soft_non_max_suppression: `sigma` must be > 0. Received: {sigma!r}")
    return _greedy(boxes, scores, iou_threshold, score_threshold, max_output_size,
                   soft=method, sigma=float(sigma))


def batched_non_max_suppression(boxes, scores, labels, iou_threshold: float = 0.5,
                                score_threshold: float = float("-inf"),
                                max_output_size: int = 100):
    """Per-class NMS: boxes of different ``labels`` never suppress each other.

    torchvision's ``batched_nms`` trick: each box is shifted by ``label * (max coordinate +
    1)``, so boxes of different classes cannot overlap, then one greedy NMS runs. ``labels``
    are ``(N,)`` / ``(B, N)`` integers; the rest as in `non_max_suppression`.
    """
    boxes = ops.cast(boxes, "float32")
    labels = ops.cast(labels, "float32")
    if tuple(ops.shape(labels)) != tuple(ops.shape(boxes))[:-1]:
        raise ValueError("batched_non_max_suppression: `labels` must have one entry per box. "
                         f"Received: labels.shape={tuple(ops.shape(labels))}, "
                         f"boxes.shape={tuple(ops.shape(boxes))}")
    if ops.shape(boxes)[-2] == 0:
        return non_max_suppression(boxes, scores, iou_threshold, score_threshold,
                                   max_output_size)
    span = ops.max(boxes) - ops.min(boxes) + 1.0
    shifted = boxes - ops.min(boxes) + (labels * span)[..., None]
    return non_max_suppression(shifted, scores, iou_threshold, score_threshold, max_output_size)
