"""Pairwise distances between embeddings, in ``keras.ops``, safe to differentiate at zero.

``sqrt`` has an infinite derivative at 0, and every embedding is at distance 0 from itself,
so a plain ``sqrt(squared)`` gives NaN gradients as soon as the diagonal (or two equal
embeddings) enters a loss. `pairwise_distances` takes the square root only of strictly
positive entries and returns exactly 0, with gradient 0, elsewhere (as TF Addons and
pytorch-metric-learning do).

The cosine distance has the same hazard one step earlier: normalising ``x / ||x||`` takes
``sqrt(sum x^2)``, whose derivative is NaN at a zero embedding on JAX (``0 * inf``; a dead
ReLU or an untrained head can output one). `l2_normalize` is written as
``tf.math.l2_normalize`` is, ``x * rsqrt(max(sum x^2, epsilon))``: no square root is ever
differentiated at 0, so the gradient is finite on every backend. A zero embedding
normalises to the zero vector (its cosine distance to anything is 1) and its gradient is
bounded by ``1 / sqrt(epsilon)`` = 1e6 per unit of upstream gradient. (PyTorch's
``F.normalize``, which pytorch-metric-learning uses, floors the norm at 1e-12 instead: the
same values on any embedding with norm above 1e-6, but gradients up to 1e12 at zero.)
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

    ``squared_l2``: ``||x_i - y_j||^2``; ``l2``: its square root; ``cosine``: ``1 - cos``
    of the `l2_normalize`d rows (1 for a zero embedding). Gradients are finite everywhere,
    at coinciding embeddings and zero embeddings included. Memory is O(B^2) (the Gram
    matrix), never O(B^2 D).
    """
    check_distance(distance)
    y = x if y is None else y
    x = ops.cast(x, "float32")
    y = ops.cast(y, "float32")
    if distance == "cosine":
        return 1.0 - ops.matmul(l2_normalize(x), ops.transpose(l2_normalize(y)))
    sq = (ops.sum(ops.square(x), axis=-1)[:, None] - 2.0 * ops.matmul(x, ops.transpose(y))
          + ops.sum(ops.square(y), axis=-1)[None, :])
    sq = ops.maximum(sq, 0.0)  # round-off can make it slightly negative
    if distance == "squared_l2":
        return sq
    return safe_sqrt(sq)


def l2_normalize(x, axis: int = -1, epsilon: float = 1e-12):
    """``x / ||x||`` along ``axis``, with a finite gradient at ``x = 0`` on every backend.

    Computed as ``x * rsqrt(max(sum(x^2), epsilon))`` (``tf.math.l2_normalize``): vectors
    with ``||x|| < sqrt(epsilon)`` (1e-6) are scaled by ``1 / sqrt(epsilon)`` instead of
    normalised, and the zero vector stays zero. Unlike ``x / max(norm(x), eps)`` (NaN
    gradient at 0 on JAX, where the derivative of the norm is ``0 / 0``), the square root
    here is never differentiated at 0.
    """
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * ops.rsqrt(ops.maximum(square_sum, epsilon))


def safe_sqrt(sq):
    """``sqrt`` with value and gradient 0 where ``sq == 0`` (no NaN at coinciding points)."""
    positive = ops.greater(sq, 0.0)
    return ops.where(positive, ops.sqrt(ops.where(positive, sq, 1.0)), 0.0)
