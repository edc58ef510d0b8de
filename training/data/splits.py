"""Reproducible splits of a `LabelledSource`: train / validation / test, K-fold, and
class-balanced sampling.

Splits are stratified by default (each class keeps its share in every part) and depend only
on ``seed``, so the same seed gives the same split on any machine and backend.

Example:
    >>> train, val = split(source, (0.9, 0.1), seed=0)              # doctest: +SKIP
    >>> for fold_train, fold_val in kfold(source, k=5, seed=0): ...   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from training.data.sources import LabelledSource


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or len(f) < 2 or (f <= 0).any() or abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"`fractions` must be two or more positive numbers summing to 1, e.g. "
                         f"(0.8, 0.1, 0.1). Received: fractions={tuple(fractions)}")
    return f


def split_indices(labels: np.ndarray, fractions: Sequence[float], seed: int = 0,
                  stratify: bool = True) -> list[np.ndarray]:
    """Index arrays, one per fraction, that partition ``range(len(labels))``."""
    f = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratify \
        else [np.arange(len(labels))]
    parts: list[list[np.ndarray]] = [[] for _ in f]
    for idx in groups:
        idx = rng.permutation(idx)
        cuts = np.round(np.cumsum(f)[:-1] * len(idx)).astype(int)
        for part, chunk in zip(parts, np.split(idx, cuts)):
            part.append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def split(source: LabelledSource, fractions: Sequence[float] = (0.9, 0.1), seed: int = 0,
          stratify: bool = True, names: Sequence[str] | None = None) -> list[LabelledSource]:
    """Splits a source into parts of the given ``fractions`` (e.g. train / val / test)."""
    names = names or (["train", "val", "test"][:len(fractions)] if len(fractions) <= 3
                      else [f"part{i}" for i in range(len(fractions))])
    return [source.subset(idx, name=f"{source.name}[{n}]")
            for idx, n in zip(split_indices(source.labels, fractions, seed, stratify), names)]


def kfold_indices(labels: np.ndarray, k: int, seed: int = 0,
                  stratify: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, validation) index pairs; each item is in exactly one validation fold."""
    if not isinstance(k, int) or k < 2 or k > len(labels):
        raise ValueError(f"`k` must be an integer in [2, {len(labels)}] (the number of items). "
                         f"Received: k={k!r}")
    folds = split_indices(labels, [1.0 / k] * k, seed, stratify)
    everything = np.arange(len(labels))
    return [(np.setdiff1d(everything, val), val) for val in folds]


def kfold(source: LabelledSource, k: int = 5, seed: int = 0,
          stratify: bool = True) -> list[tuple[LabelledSource, LabelledSource]]:
    """K-fold cross-validation: ``k`` (train, validation) pairs of sources."""
    return [(source.subset(t, name=f"{source.name}[fold{i}-train]"),
             source.subset(v, name=f"{source.name}[fold{i}-val]"))
            for i, (t, v) in enumerate(kfold_indices(source.labels, k, seed, stratify))]


def balanced_dataset(source: LabelledSource, seed: int = 0, channels: int | None = None):
    """An endless `tf.data.Dataset` that draws every class equally often.

    One repeated, shuffled stream per class, mixed with equal weights
    (`tf.data.Dataset.sample_from_datasets`). Use ``steps_per_epoch`` to bound an epoch.
    """
    import tensorflow as tf

    counts = source.class_counts()
    present = np.flatnonzero(counts)
    if len(present) == 0:
        raise ValueError(f"{source.name} is empty: nothing to sample.")
    streams = [source.subset(np.flatnonzero(source.labels == c)).dataset(channels)
               .shuffle(int(counts[c]), seed=seed + int(c), reshuffle_each_iteration=True).repeat()
               for c in present]
    weights = [1.0 / len(present)] * len(present)
    return tf.data.Dataset.sample_from_datasets(streams, weights=weights, seed=seed)
