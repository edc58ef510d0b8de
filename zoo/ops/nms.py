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
valid ones, so every shape is static and everything compiles under ``jax.jit`` and
``tf.function`` (keras-hub's ``NonMaxSuppression`` pads the same way).

How greedy NMS runs (`non_max_suppression`): the steps above, literally, cost
``max_output_size`` rounds over all ``N`` boxes, 5-10x ``tf.image``'s kernel at 1k-10k boxes.
So, as TensorFlow's ``non_max_suppression_padded`` does, the boxes are sorted by score once
(ties: lower index first) and taken in tiles of `TILE` (128): a tile's boxes are first
suppressed by the boxes already kept (``TILE x max_output_size`` IoUs), then among themselves,
by repeating "a box stays unless a higher-ranked box of the tile that stays overlaps it"
until nothing changes (the fixed point is exactly greedy NMS's choice: the k-th box's fate is
settled after k repeats); the loop over tiles stops once ``max_output_size`` boxes are kept
or no box above the score threshold is left. The result equals the literal loop's (the tests
compare with ``tf.image.non_max_suppression`` and torchvision). Soft-NMS changes scores as it
goes, so it keeps the literal ``fori_loop`` of ``max_output_size`` rounds. Batched inputs
``(B, N, 4)`` run all images in the same rounds. Keras has no NMS; TensorFlow's and
torchvision's are backend-specific kernels, and the tests compare with both.
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.ops.boxes import box_area

_NEG = float("-inf")   # the argmax never picks a box that has left the pool
TILE = 128             # boxes per tile of the greedy NMS


def _pairwise_iou(a, b, b_area=None):
    """IoU of ``(B, P, 4)`` with ``(B, Q, 4)`` -> ``(B, P, Q)`` (0 where the union is 0);
    ``b_area``: ``box_area(b)`` when a loop has it already.

    Exact division, as ``tf.image.non_max_suppression``; `zoo.ops.pairwise_iou` (Keras'
    ``compute_iou``) divides by ``union + 1e-7``, which moves ties at the threshold."""
    lt = ops.maximum(a[:, :, None, :2], b[:, None, :, :2])
    rb = ops.minimum(a[:, :, None, 2:], b[:, None, :, 2:])
    wh = ops.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    b_area = box_area(b) if b_area is None else b_area
    union = box_area(a)[:, :, None] + b_area[:, None, :] - inter
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


def _soft(boxes, scores, iou_threshold, score_threshold, max_output_size, soft: str,
          sigma=0.5):
    """Soft-NMS, round by round (the literal loop: each round keeps the best box left)."""
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
        iou = _pairwise_iou(box[:, None, :], boxes, areas)[:, 0]
        # soft-NMS: decay the overlaps instead of discarding them (step 3)
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


def _tiled_greedy_sorted(sorted_scores, order, boxes, iou_threshold, score_threshold,
                         max_output_size):
    """Greedy NMS over candidates already sorted best first (``order``: their indices)."""
    batch, n = ops.shape(sorted_scores)
    tile = min(TILE, n)
    tiles = -(-n // tile)
    pad = tiles * tile - n
    order = ops.cast(order, "int32")
    sorted_boxes = ops.take_along_axis(boxes, order[..., None] * ops.ones((1, 1, 4), "int32"),
                                       axis=1)
    candidate = sorted_scores > score_threshold
    if pad:
        sorted_boxes = ops.pad(sorted_boxes, ((0, 0), (0, pad), (0, 0)))
        candidate = ops.pad(candidate, ((0, 0), (0, pad)), constant_values=False)
        order = ops.pad(order, ((0, 0), (0, pad)), constant_values=-1)
    slots = ops.arange(max_output_size, dtype="int32")
    earlier = ops.arange(tile)[:, None] < ops.arange(tile)[None, :]     # [j, k]: j before k

    def settle(alive0, iou_in_tile):
        """Within one tile: repeat until no box changes (greedy NMS's fixed point)."""
        overlaps = ops.logical_and(earlier[None], iou_in_tile > iou_threshold)

        def cond(alive, changed):
            return changed

        def body(alive, changed):
            suppressed = ops.any(ops.logical_and(overlaps, alive[:, :, None]), axis=1)
            new = ops.logical_and(alive0, ops.logical_not(suppressed))
            return new, ops.any(new != alive)

        alive, _ = ops.while_loop(cond, body, (alive0, ops.convert_to_tensor(True)))
        return alive

    def cond(t, kept_boxes, kept, count):
        # candidates are a prefix of the sorted boxes: a tile starting with a box at or below
        # the score threshold, and every tile after it, holds none
        first = ops.take(candidate, ops.minimum(t, tiles - 1) * tile, axis=1)
        return ops.logical_and(ops.logical_and(t < tiles, ops.any(count < max_output_size)),
                               ops.any(first))

    def body(t, kept_boxes, kept, count):
        start = t * tile
        tile_boxes = ops.slice(sorted_boxes, (0, start, 0), (batch, tile, 4))
        alive = ops.slice(candidate, (0, start), (batch, tile))
        # suppressed by a box kept from an earlier tile
        by_kept = ops.logical_and(_pairwise_iou(tile_boxes, kept_boxes) > iou_threshold,
                                  (slots[None, :] < count[:, None])[:, None, :])
        alive = ops.logical_and(alive, ops.logical_not(ops.any(by_kept, axis=2)))
        alive = settle(alive, _pairwise_iou(tile_boxes, tile_boxes))
        # append the tile's survivors, in order, after the `count` kept so far
        position = count[:, None] + ops.cumsum(ops.cast(alive, "int32"), axis=1) - 1
        write = ops.logical_and(alive[:, :, None], position[:, :, None] == slots[None, None, :])
        write_f = ops.cast(write, "float32")
        kept_boxes = kept_boxes + ops.sum(write_f[..., None] * tile_boxes[:, :, None, :], axis=1)
        rank = start + ops.arange(tile, dtype="int32")                    # sorted positions
        kept = ops.where(ops.any(write, axis=1),
                         ops.sum(ops.cast(write, "int32") * rank[None, :, None], axis=1), kept)
        count = ops.minimum(count + ops.sum(ops.cast(alive, "int32"), axis=1), max_output_size)
        return t + 1, kept_boxes, kept, count

    init = (ops.convert_to_tensor(0, "int32"), ops.zeros((batch, max_output_size, 4), "float32"),
            -ops.ones((batch, max_output_size), "int32"), ops.zeros((batch,), "int32"))
    _, _, kept, count = ops.while_loop(cond, body, init)
    indices = ops.where(kept >= 0, ops.take_along_axis(order, ops.maximum(kept, 0), axis=1), -1)
    return indices, count


def _tiled_greedy(boxes, scores, iou_threshold, score_threshold, max_output_size):
    """Greedy NMS by sorted tiles (the module docstring): the literal loop's result, faster."""
    boxes, scores, unbatched = _check(boxes, scores, iou_threshold, max_output_size)
    batch, n = ops.shape(scores)
    if n == 0:
        idx, count = -ops.ones((batch, max_output_size), "int32"), ops.zeros((batch,), "int32")
    else:
        # best first; top_k puts the lower index first on ties, as the greedy argmax picks.
        # (Sorting only the best few first and the rest when needed did not pay: XLA hoisted
        # the full sort out of the conditional.)
        if keras.backend.backend() == "torch":   # torch.topk leaves ties in any order
            order = ops.argsort(-scores, axis=-1)   # a stable sort (Keras asks torch for one)
            sorted_scores = ops.take_along_axis(scores, order, axis=-1)
        else:
            sorted_scores, order = ops.top_k(scores, n)
        idx, count = _tiled_greedy_sorted(sorted_scores, order, boxes, iou_threshold,
                                          score_threshold, max_output_size)
    if unbatched:
        return idx[0], count[0]
    return idx, count


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
    return _tiled_greedy(boxes, scores, iou_threshold, score_threshold, max_output_size)


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
    return _soft(boxes, scores, iou_threshold, score_threshold, max_output_size,
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
