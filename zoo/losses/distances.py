"""Pairwise distances between embeddings, in ``keras.ops``, safe to differentiate at zero.

``sqrt`` has an infinite derivative at 0, and every embedding is at distance 0 from itself,
so a plain ``sqrt(squared)`` gives NaN gradients as soon as the diagonal (or two equal
embeddings) enters a loss. `pairwise_distances` takes the square root only of strictly
positive entries and returns exactly 0, with gradient 0, elsewhere (as TF Addons and
pytorch-metric-learning do).
"""

from __future__ import annotations

from keras import ops

DISTANCES = ("squared_l2", "l2", "cosine")


def check_distance(distance: str) -> str:
    if distance not in DISTANCES:
        raise ValueError(f"`distance` must be one of {DISTANCES}. Received: distance={distance!r}")
    return distance


def pairwise_distances(x, y=None, distance: str = "squared_l2"):
    """``D[i, j]`` between rows of ``x`` (B, D) and ``y`` (default ``x``).

    ``squared_l2``: ``||x_i - y_j||^2``; ``l2``: its square root; ``cosine``: ``1 - cos``.
    Memory is O(B^2) (the Gram matrix), never O(B^2 D).
    """
    check_distance(distance)
    y = x if y is None else y
    x = ops.cast(x, "float32")
    y = ops.cast(y, "float32")
    if distance == "cosine":
        xn = x / ops.maximum(ops.norm(x, axis=-1, keepdims=True), 1e-12)
        yn = y / ops.maximum(ops.norm(y, axis=-1, keepdims=True), 1e-12)
        return 1.0 - ops.matmul(xn, ops.transpose(yn))
    sq = (ops.sum(ops.square(x), axis=-1)[:, None] - 2.0 * ops.matmul(x, ops.transpose(y))
          + ops.sum(ops.square(y), axis=-1)[None, :])
    sq = ops.maximum(sq, 0.0)  # round-off can make it slightly negative
    if distance == "squared_l2":
        return sq
    return safe_sqrt(sq)


def safe_sqrt(sq):
    """``sqrt`` with value and gradient 0 where ``sq == 0`` (no NaN at coinciding points)."""
    positive = ops.greater(sq, 0.0)
    return ops.where(positive, ops.sqrt(ops.where(positive, sq, 1.0)), 0.0)
