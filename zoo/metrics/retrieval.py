"""Retrieval metrics for embedding models: Precision@1, Recall@K and MAP@R.

Each of the N items queries all the others (leave-one-out), ranked by distance between the
embeddings; an item is relevant to a query when it has the same label. These are the
measures of the deep metric learning literature: Recall@K as in Song et al., "Deep Metric
Learning via Lifted Structured Feature Embedding" (CVPR 2016), and MAP@R from Musgrave et
al., "A Metric Learning Reality Check" (ECCV 2020), whose pytorch-metric-learning
``AccuracyCalculator`` is the reference implementation.

Conventions (shared by every function here):

- Distances are computed in float64 (``"l2"`` ranks by squared Euclidean distance, the same
  order; ``"cosine"`` by ``1 - cos``). The self-distance is set to ``+inf`` so an item never
  retrieves itself.
- Ties in distance are broken by index order (a stable argsort): of two items at exactly
  the same computed distance, the one earlier in ``embeddings`` ranks first. (Distances
  come from the ``|a|^2 + |b|^2 - 2 a.b`` expansion, exact for small integer coordinates;
  for general floats, equal true distances may differ in the last bit.)
- Queries whose label occurs only once (no other item shares it, R = 0) have nothing to
  retrieve and are skipped by every metric, as pytorch-metric-learning does; if no query
  is left, a ValueError is raised.
- The cost is O(N^2 D) time on the full distance matrix; it is processed in blocks of query
  rows, so memory stays near ``4e6 * 8`` bytes per block plus the inputs. Fine for N up to
  ~20k on a CPU; beyond that use an approximate nearest-neighbour index.

Example:

>>> import numpy as np
>>> from zoo.metrics import map_at_r, precision_at_1, recall_at_k
>>> x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
>>> y = np.array([0, 0, 0, 1, 1, 1])
>>> precision_at_1(x, y), recall_at_k(x, y, k=(1, 2)), map_at_r(x, y)
(1.0, {1: 1.0, 2: 1.0}, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from zoo.metrics.verification import check_embeddings, pairwise_distances, to_numpy

__all__ = ["map_at_r", "precision_at_1", "recall_at_k"]

RETRIEVAL_METRICS = ("l2", "cosine")
_BLOCK_ELEMENTS = 1 << 22      # query rows per block * N stays near this


def _check_inputs(embeddings: Any, labels: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    if metric not in RETRIEVAL_METRICS:
        raise ValueError(f"`metric` must be one of {RETRIEVAL_METRICS}. "
                         f"Received metric={metric!r}")
    e = to_numpy(embeddings)
    y = to_numpy(labels)
    if e.ndim != 2:
        raise ValueError("`embeddings` must be a 2-D (num_items, dim) array. "
                         f"Received shape {e.shape}")
    if y.ndim != 1:
        raise ValueError(f"`labels` must be a 1-D array of class labels. Received shape {y.shape}")
    if e.shape[0] != y.shape[0]:
        raise ValueError("`embeddings` and `labels` must have the same length. "
                         f"Received len(embeddings)={e.shape[0]}, len(labels)={y.shape[0]}")
    if e.shape[0] < 2:
        raise ValueError("Leave-one-out retrieval needs at least 2 items. "
                         f"Received {e.shape[0]}")
    return check_embeddings(e, "embeddings"), y


def _ranked_matches(embeddings: np.ndarray, labels: np.ndarray, metric: str
                    ) -> Iterator[np.ndarray]:
    """Yields blocks of ``(rows, N - 1)`` booleans: ``match[q, r]`` is True when the r-th
    nearest other item of query q (stable order) has q's label. Lone queries are dropped."""
    n = embeddings.shape[0]
    pair_metric = "squared_l2" if metric == "l2" else "cosine"
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    keep = np.flatnonzero(counts[inverse] > 1)
    if keep.size == 0:
        raise ValueError("Every label in `labels` occurs only once, so no query has another "
                         "item of its class to retrieve. Received "
                         f"{n} items with {counts.size} distinct labels")
    rows = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, keep.size, rows):
        q = keep[start:start + rows]
        dist = pairwise_distances(embeddings[q], embeddings, metric=pair_metric)
        dist[np.arange(q.size), q] = np.inf                 # never retrieve yourself
        order = np.argsort(dist, axis=1, kind="stable")[:, :-1]   # self (+inf) is last
        yield labels[order] == labels[q][:, None]


def precision_at_1(embeddings: Any, labels: Any, metric: str = "l2") -> float:
    """The fraction of queries whose nearest other item has the same label.

    Args:
        embeddings: ``(N, D)`` embeddings (NumPy array or backend tensor).
        labels: ``(N,)`` class labels (any type NumPy can compare).
        metric: ``"l2"`` or ``"cosine"``.

    Returns:
        Precision@1 in [0, 1], over the queries whose label occurs at least twice.

    Raises:
        ValueError: on an unknown ``metric``, bad shapes, fewer than 2 items, non-finite
            embeddings, or when every label occurs only once.

    Example:

    >>> precision_at_1([[0.0], [1.0], [3.0]], [0, 1, 1])
    0.5
    """
    return recall_at_k(embeddings, labels, k=1, metric=metric)[1]


def recall_at_k(embeddings: Any, labels: Any, k: int | Sequence[int] = (1, 5),
                metric: str = "l2") -> dict[int, float]:
    """Recall@K: the fraction of queries with at least one same-label item among their
    k nearest other items.

    This is the "Recall@K" of the deep metric learning literature (Song et al., CVPR 2016;
    used on CUB-200, Cars196, Stanford Online Products), which is a hit rate, not the
    information-retrieval recall (found relevant / all relevant). Recall@1 equals
    Precision@1.

    Args:
        embeddings: ``(N, D)`` embeddings.
        labels: ``(N,)`` class labels.
        k: one K or a sequence of them, each in [1, N - 1].
        metric: ``"l2"`` or ``"cosine"``.

    Returns:
        ``{K: recall}`` for every requested K, over the queries whose label occurs at least
        twice.

    Raises:
        ValueError: as :func:`precision_at_1`, or when a K is not an integer in [1, N - 1].

    Example:

    >>> recall_at_k([[0.0], [1.0], [3.0]], [0, 1, 1], k=(1, 2))
    {1: 0.5, 2: 1.0}
    """
    e, y = _check_inputs(embeddings, labels, metric)
    n = e.shape[0]
    ks = [k] if isinstance(k, (int, np.integer)) and not isinstance(k, bool) else k
    try:
        ks = list(ks)
    except TypeError as err:
        raise ValueError("`k` must be an integer or a sequence of integers. "
                         f"Received k={k!r}") from err
    if not ks:
        raise ValueError(f"`k` must name at least one K. Received k={k!r}")
    for kk in ks:
        if isinstance(kk, bool) or not isinstance(kk, (int, np.integer)) or not 1 <= kk <= n - 1:
            raise ValueError(f"Each K in `k` must be an integer in [1, N - 1] = [1, {n - 1}] "
                             f"for N={n} items. Received k={k!r}")
    ks = [int(kk) for kk in ks]
    hits = dict.fromkeys(ks, 0)
    total = 0
    for match in _ranked_matches(e, y, metric):
        first_hit = np.where(match.any(axis=1), np.argmax(match, axis=1), n)   # 0-based rank
        for kk in ks:
            hits[kk] += int(np.sum(first_hit < kk))
        total += match.shape[0]
    return {kk: hits[kk] / total for kk in ks}


def map_at_r(embeddings: Any, labels: Any, metric: str = "l2") -> float:
    """MAP@R, the mean average precision at R of Musgrave et al. (ECCV 2020).

    For a query with R other items of its label, rank the others by distance and take the
    R nearest: ``AP@R = (1/R) * sum_{i=1..R} P(i) * rel(i)``, where ``rel(i)`` is 1 when the
    i-th nearest has the query's label and ``P(i)`` is the precision of the first i. MAP@R
    is the mean over queries with R >= 1. Unlike Recall@K it rewards putting *all* of a
    class near the query, and it is 1 only when every class is retrieved before any other.

    Args:
        embeddings: ``(N, D)`` embeddings.
        labels: ``(N,)`` class labels.
        metric: ``"l2"`` or ``"cosine"``.

    Returns:
        MAP@R in [0, 1].

    Raises:
        ValueError: as :func:`precision_at_1` (including when every query has R = 0).

    Example:

    Points 0, 1, 3, 4 on a line with labels 0, 1, 0, 0: the query at 0 (R = 2) ranks
    [1 (wrong), 3 (right)] -> AP@R = (1/2) * (1/2) = 0.25; the queries at 3 and 4 rank
    [right, wrong] -> 0.5 each; the lone label-1 item is skipped. MAP@R = 1.25 / 3:

    >>> round(map_at_r([[0.0], [1.0], [3.0], [4.0]], [0, 1, 0, 0]), 4)
    0.4167
    """
    e, y = _check_inputs(embeddings, labels, metric)
    aps = []
    for match in _ranked_matches(e, y, metric):
        r = match.sum(axis=1)                                # every other same-label item
        ranks = np.arange(1, match.shape[1] + 1)
        precision = np.cumsum(match, axis=1) / ranks
        within_r = ranks[None, :] <= r[:, None]
        aps.append(np.sum(precision * match * within_r, axis=1) / r)
    return float(np.mean(np.concatenate(aps)))
