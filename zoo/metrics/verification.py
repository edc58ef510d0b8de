"""Verification metrics for embedding models: ROC, AUC, best-threshold accuracy, TAR@FAR.

A verification benchmark (LFW, as used by FaceNet; Schroff et al., "FaceNet: A Unified
Embedding for Face Recognition and Clustering", CVPR 2015) is a list of pairs, each with a
distance ``d_i`` between the two embeddings and a label ``is_same_i`` in {0, 1}. A pair is
predicted "same" when ``d_i <= threshold``; a smaller distance means more similar.

- TAR (true accept rate) = accepted same pairs / same pairs.
- FAR (false accept rate) = accepted different pairs / different pairs.

These are plain NumPy functions for evaluation, not training: inputs may be NumPy arrays,
lists or tensors of any Keras backend (they go through ``keras.ops.convert_to_numpy``), and
results are Python floats or NumPy arrays.

Example:

>>> import numpy as np
>>> from zoo.metrics import pairwise_distances, roc_auc, tar_at_far
>>> a = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
>>> b = np.array([[0.0, 1.0], [1.0, 0.5], [0.0, 0.0]])
>>> d = np.diag(pairwise_distances(a, b))       # distances of the pairs (a[i], b[i])
>>> roc_auc(d, [1, 1, 0])
1.0
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

__all__ = ["pairwise_distances", "roc_auc", "roc_curve", "tar_at_far", "verification_accuracy"]

PAIRWISE_METRICS = ("l2", "squared_l2", "cosine")


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy array from a NumPy array, a list or a tensor of any Keras backend."""
    if isinstance(x, (np.ndarray, list, tuple, int, float, np.generic)):
        return np.asarray(x)
    return np.asarray(keras.ops.convert_to_numpy(x))


def _check_pairs(distances: Any, is_same: Any, *, need_both: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(distances float64 (P,), is_same bool (P,))``."""
    d = to_numpy(distances)
    s = to_numpy(is_same)
    if d.ndim != 1 or d.size == 0:
        raise ValueError("`distances` must be a non-empty 1-D array of pair distances. "
                         f"Received shape {d.shape}")
    if s.ndim != 1:
        raise ValueError(f"`is_same` must be a 1-D array of 0/1 labels. Received shape {s.shape}")
    if d.shape[0] != s.shape[0]:
        raise ValueError("`distances` and `is_same` must have the same length. "
                         f"Received len(distances)={d.shape[0]}, len(is_same)={s.shape[0]}")
    if not np.issubdtype(d.dtype, np.number) or np.issubdtype(d.dtype, np.complexfloating):
        raise ValueError(f"`distances` must be real numbers. Received dtype {d.dtype}")
    d = d.astype(np.float64)
    if not np.all(np.isfinite(d)):
        bad = d[~np.isfinite(d)][0]
        raise ValueError(f"`distances` must be finite. Received a value {bad}")
    if s.dtype != bool:
        if not np.issubdtype(s.dtype, np.number):
            raise ValueError(f"`is_same` must hold 0/1 (or booleans). Received dtype {s.dtype}")
        bad = s[(s != 0) & (s != 1)]
        if bad.size:
            raise ValueError(f"`is_same` must hold only 0 and 1. Received a value {bad[0]!r}")
    s = s.astype(bool)
    if need_both and (s.all() or not s.any()):
        raise ValueError("The ROC curve is undefined without both same (is_same=1) and "
                         f"different (is_same=0) pairs. Received {int(s.sum())} same and "
                         f"{int((~s).sum())} different pairs")
    return d, s


def _cumulative_counts(d: np.ndarray, s: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(unique sorted distances u, tp, fp)`` with tp[j] / fp[j] = same / different pairs
    with ``d <= u[j]``; equal distances form one group."""
    order = np.argsort(d, kind="stable")
    d_sorted, s_sorted = d[order], s[order]
    u, first = np.unique(d_sorted, return_index=True)
    last = np.append(first[1:], d.size) - 1              # last index of each tie group
    tp = np.cumsum(s_sorted)[last]
    fp = np.cumsum(~s_sorted)[last]
    return u, tp, fp


def roc_curve(distances: Any, is_same: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve of a distance-based verifier: FAR and TAR at every distinct threshold.

    Pairs with ``distance <= threshold`` are predicted "same". The thresholds are
    ``-inf`` (accept nothing: FAR = TAR = 0), every unique distance in increasing order
    (pairs with equal distances are accepted together, so a tie adds one point), and
    ``+inf`` (accept everything: FAR = TAR = 1). FAR and TAR are non-decreasing along the
    curve.

    Args:
        distances: ``(P,)`` pair distances; smaller means more similar.
        is_same: ``(P,)`` labels, 1 (or True) for a same pair, 0 for a different pair.

    Returns:
        ``(far, tar, thresholds)``, three float64 arrays of length ``len(unique(d)) + 2``.

    Raises:
        ValueError: on mismatched lengths, labels other than 0/1, non-finite distances, or
            when there are no same pairs or no different pairs (the ROC is undefined).

    Example:

    >>> far, tar, t = roc_curve([0.1, 0.4, 0.35, 0.8], [1, 0, 1, 0])
    >>> t.tolist()
    [-inf, 0.1, 0.35, 0.4, 0.8, inf]
    >>> far.tolist(), tar.tolist()
    ([0.0, 0.0, 0.0, 0.5, 1.0, 1.0], [0.0, 0.5, 1.0, 1.0, 1.0, 1.0])
    """
    d, s = _check_pairs(distances, is_same)
    u, tp, fp = _cumulative_counts(d, s)
    n_pos, n_neg = int(s.sum()), int((~s).sum())
    thresholds = np.concatenate([[-np.inf], u, [np.inf]])
    tar = np.concatenate([[0.0], tp / n_pos, [1.0]])
    far = np.concatenate([[0.0], fp / n_neg, [1.0]])
    return far, tar, thresholds


def roc_auc(distances: Any, is_same: Any) -> float:
    """The area under the ROC curve (trapezoidal rule over :func:`roc_curve`).

    Because tied distances form one ROC point, the area equals the Mann-Whitney statistic
    ``P(d_same < d_diff) + 0.5 * P(d_same == d_diff)`` over all (same, different) pairs of
    pairs: 1.0 means every same pair is closer than every different pair, 0.5 is chance.

    Args:
        distances: ``(P,)`` pair distances; smaller means more similar.
        is_same: ``(P,)`` labels in {0, 1}.

    Returns:
        The AUC as a float in [0, 1].

    Raises:
        ValueError: as :func:`roc_curve`.

    Example:

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [1, 0, 1, 0])
    1.0
    """
    far, tar, _ = roc_curve(distances, is_same)
    return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2.0))


def verification_accuracy(distances: Any, is_same: Any, threshold: float | None = None
                          ) -> tuple[float, float]:
    """Pair-classification accuracy at a threshold, or at the best threshold.

    With ``threshold=None`` (the LFW protocol's "best threshold", as in FaceNet), every
    candidate threshold is tried: the midpoints between consecutive unique sorted distances,
    ``min(d) - 1`` (accept nothing) and ``max(d) + 1`` (accept everything); the one with the
    highest accuracy is used, the smallest such candidate on a tie. Note that choosing the
    threshold on the evaluation pairs is optimistic; for an honest number pick it on a
    separate split and pass it here.

    Args:
        distances: ``(P,)`` pair distances; pairs with ``d <= threshold`` are "same".
        is_same: ``(P,)`` labels in {0, 1}. One class alone is allowed here.
        threshold: the distance threshold, or None to choose the best.

    Returns:
        ``(accuracy, threshold)``: the fraction of correctly classified pairs and the
        threshold used.

    Raises:
        ValueError: on mismatched lengths, labels other than 0/1, non-finite distances, or a
            non-finite ``threshold``.

    Example:

    >>> verification_accuracy([0.1, 0.4, 0.35, 0.8], [1, 0, 1, 0])
    (1.0, 0.375)
    >>> verification_accuracy([0.1, 0.4, 0.35, 0.8], [1, 0, 1, 0], threshold=0.5)
    (0.75, 0.5)
    """
    d, s = _check_pairs(distances, is_same, need_both=False)
    if threshold is not None:
        try:
            t = float(to_numpy(threshold))
        except (TypeError, ValueError) as e:
            raise ValueError("`threshold` must be a finite number or None. "
                             f"Received threshold={threshold!r}") from e
        if not np.isfinite(t):
            raise ValueError("`threshold` must be a finite number or None. "
                             f"Received threshold={threshold!r}")
        return float(np.mean((d <= t) == s)), t
    u, tp, fp = _cumulative_counts(d, s)
    n_neg = int((~s).sum())
    # correct[j] = pairs classified right when accepting d <= u[j-1] (j = 0: accept nothing)
    correct = np.concatenate([[n_neg], tp + (n_neg - fp)])
    lo = u[0] - 1.0 if u[0] - 1.0 < u[0] else np.nextafter(u[0], -np.inf)
    hi = u[-1] + 1.0 if u[-1] + 1.0 > u[-1] else np.nextafter(u[-1], np.inf)
    candidates = np.concatenate([[lo], (u[:-1] + u[1:]) / 2.0, [hi]])
    best = int(np.argmax(correct))                        # first maximum: smallest threshold
    return float(correct[best] / d.size), float(candidates[best])


def tar_at_far(distances: Any, is_same: Any, far: float = 1e-3) -> tuple[float, float]:
    """The true accept rate at a false accept rate, e.g. TAR@FAR=1e-3 (the IJB/MegaFace style).

    Returns the largest TAR over the points of :func:`roc_curve` whose FAR is at most
    ``far``, with the smallest threshold that reaches it. With few different pairs the achievable FARs are coarse (multiples of
    ``1 / n_different``), so the FAR actually reached may be below ``far``.

    Args:
        distances: ``(P,)`` pair distances; smaller means more similar.
        is_same: ``(P,)`` labels in {0, 1}.
        far: the allowed false accept rate, in (0, 1].

    Returns:
        ``(tar, threshold)``: the TAR and the threshold reaching it (accept ``d <= threshold``);
        the threshold is one of the distances, or ``-inf`` when even the closest group of
        pairs holds too many different pairs (then TAR is 0).

    Raises:
        ValueError: as :func:`roc_curve`, or when ``far`` is not in (0, 1].

    Example:

    >>> tar_at_far([0.1, 0.4, 0.35, 0.8], [1, 0, 1, 0], far=0.5)
    (1.0, 0.35)
    """
    try:
        far_value = float(far)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`far` must be a number in (0, 1]. Received far={far!r}") from e
    if not 0.0 < far_value <= 1.0:
        raise ValueError(f"`far` must be in (0, 1]. Received far={far!r}")
    fars, tars, thresholds = roc_curve(distances, is_same)
    ok = np.flatnonzero(fars[:-1] <= far_value)           # the +inf end repeats the last point
    best_tar = tars[ok[-1]]                               # TAR and FAR grow together
    j = int(ok[np.argmax(tars[ok] == best_tar)])          # the smallest threshold reaching it
    return float(best_tar), float(thresholds[j])


def pairwise_distances(embeddings_a: Any, embeddings_b: Any = None, metric: str = "l2"
                       ) -> np.ndarray:
    """All distances between two sets of embeddings, as a NumPy float64 matrix.

    ``"l2"`` is the Euclidean distance, ``"squared_l2"`` its square, ``"cosine"`` is
    ``1 - cos(a, b)`` (in [0, 2]; a zero vector has cosine similarity 0 with everything, itself
    included, so distance 1, as the losses' `zoo.losses.l2_normalize` gives; scikit-learn's
    ``pairwise_distances(X)`` agrees except that it sets that self-distance to 0). Computed
    with the ``|a|^2 + |b|^2 - 2 a.b`` expansion (clipped at 0) in float64; when
    ``embeddings_b`` is None the diagonal is exactly 0 (1 for a zero vector's cosine).

    Args:
        embeddings_a: ``(N, D)`` embeddings.
        embeddings_b: ``(M, D)`` embeddings, or None for ``embeddings_a`` against itself.
        metric: ``"l2"``, ``"squared_l2"`` or ``"cosine"``.

    Returns:
        An ``(N, M)`` float64 array.

    Raises:
        ValueError: on an unknown ``metric``, inputs that are not 2-D, mismatched embedding
            sizes, or non-finite values.

    Example:

    >>> pairwise_distances([[0.0, 0.0], [3.0, 4.0]]).tolist()
    [[0.0, 5.0], [5.0, 0.0]]
    """
    if metric not in PAIRWISE_METRICS:
        raise ValueError(f"`metric` must be one of {PAIRWISE_METRICS}. Received metric={metric!r}")
    a = check_embeddings(embeddings_a, "embeddings_a")
    b = a if embeddings_b is None else check_embeddings(embeddings_b, "embeddings_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError("`embeddings_a` and `embeddings_b` must have the same embedding size. "
                         f"Received shapes {a.shape} and {b.shape}")
    if metric == "cosine":
        na = np.linalg.norm(a, axis=1, keepdims=True)
        nb = np.linalg.norm(b, axis=1, keepdims=True)
        a = a / np.where(na == 0.0, 1.0, na)
        b = b / np.where(nb == 0.0, 1.0, nb)
        out = 1.0 - a @ b.T
        out = np.clip(out, 0.0, 2.0)
    else:
        out = (np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :]
               - 2.0 * (a @ b.T))
        out = np.maximum(out, 0.0)
        if metric == "l2":
            out = np.sqrt(out)
    if embeddings_b is None and metric != "cosine":
        np.fill_diagonal(out, 0.0)
    elif embeddings_b is None:
        zero = np.linalg.norm(a, axis=1) == 0.0
        np.fill_diagonal(out, np.where(zero, 1.0, 0.0))
    return out


def check_embeddings(x: Any, name: str) -> np.ndarray:
    """A validated float64 ``(N, D)`` array; errors name the argument ``name``."""
    e = to_numpy(x)
    if e.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D (num_items, dim) array. Received shape {e.shape}")
    if not np.issubdtype(e.dtype, np.number) or np.issubdtype(e.dtype, np.complexfloating):
        raise ValueError(f"`{name}` must be real numbers. Received dtype {e.dtype}")
    e = e.astype(np.float64)
    if not np.all(np.isfinite(e)):
        raise ValueError(f"`{name}` must be finite. Received a NaN or inf")
    return e
