"""P x K batches for metric learning (Hermans et al. 2017): P identities, K images each.

Online triplet mining needs positives and negatives inside every batch; a plain shuffled
batch of a dataset with many identities often holds no two images of one person. A P x K
batch always holds ``K - 1`` positives and ``(P - 1) K`` negatives per anchor.

Example:
    >>> ds = pk_batches(source, p=8, k=4, seed=0)     # batches of 32: 8 identities x 4
    ... # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from training.data.sources import LabelledSource


def pk_indices(labels: np.ndarray, p: int, k: int, batches: int, seed: int = 0) -> np.ndarray:
    """``(batches, p * k)`` item indices: each row draws ``p`` distinct identities and ``k``
    items of each (without replacement when an identity has ``k`` or more, else with)."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if not isinstance(p, int) or p < 2:
        raise ValueError(f"`p` (identities per batch) must be an integer >= 2, or there are no "
                         f"negatives. Received: p={p!r}")
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"`k` (images per identity) must be an integer >= 2, or there are no "
                         f"positives. Received: k={k!r}")
    if p > len(classes):
        raise ValueError(f"`p`={p} identities per batch, but the data has only {len(classes)}.")
    rng = np.random.default_rng(seed)
    members = {c: np.flatnonzero(labels == c) for c in classes}
    out = np.empty((batches, p * k), dtype=np.int64)
    for b in range(batches):
        for j, c in enumerate(rng.choice(classes, size=p, replace=False)):
            pool = members[c]
            out[b, j * k:(j + 1) * k] = rng.choice(pool, size=k, replace=len(pool) < k)
    return out


def pk_batches(source: LabelledSource, p: int, k: int, *, batches: int | None = None,
               seed: int = 0, channels: int | None = None):
    """A `tf.data.Dataset` of P x K batches of ``{"image", "label"}`` (decoded, uint8).

    ``batches`` defaults to one epoch's worth (``len(source) // (p * k)``); each call of the
    iterator draws new batches only if the dataset is rebuilt, so use ``.repeat()`` with a new
    ``seed`` per epoch, or a large ``batches``.
    """
    import tensorflow as tf

    batches = batches or max(1, len(source) // (p * k))
    order = pk_indices(source.labels, p, k, batches, seed).reshape(-1)
    ds = source.subset(order).dataset(channels)
    return ds.batch(p * k, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def pair_indices(labels: np.ndarray, n: int, seed: int = 0,
                 positive_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random pairs ``(n, 2)`` of item indices and their labels ``(n,)`` (1 = same).

    ``positive_fraction`` of the pairs are two different items of one identity (identity
    drawn uniformly, so rare identities are not starved), the rest two items of different
    identities: the balanced pairs a Siamese network with contrastive loss trains on.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    members = {c: np.flatnonzero(labels == c) for c in classes}
    usable = [c for c in classes if len(members[c]) >= 2]
    if len(classes) < 2 or not usable:
        raise ValueError(f"Pairs need at least two identities and one with two or more items; "
                         f"the labels hold {len(classes)} identities, "
                         f"{len(usable)} with two or more items.")
    if not 0 <= positive_fraction <= 1:
        raise ValueError(f"`positive_fraction` must be in [0, 1]. Received: {positive_fraction}")
    rng = np.random.default_rng(seed)
    same = (rng.random(n) < positive_fraction).astype("int8")
    pairs = np.empty((n, 2), dtype=np.int64)
    for i in range(n):
        if same[i]:
            pairs[i] = rng.choice(members[usable[rng.integers(len(usable))]], 2, replace=False)
        else:
            a, b = rng.choice(classes, 2, replace=False)
            pairs[i] = rng.choice(members[a]), rng.choice(members[b])
    return pairs, same
