"""Triplet loss with online mining inside the batch (Schroff et al., FaceNet, CVPR 2015;
Hermans et al., "In Defense of the Triplet Loss", 2017).

For an anchor ``a``, a positive ``p`` (same identity) and a negative ``n`` (another one):
``L = max(0, D(a, p) - D(a, n) + margin)``, or ``softplus(D(a, p) - D(a, n))`` with
``soft_margin=True`` (Hermans et al.). Which triplets enter the loss is the miner's choice,
made from the labels on the B x B distance matrix (as pytorch-metric-learning separates
miners from losses, `mine_triplets` is usable alone):

* ``batch_hard``: per anchor, its farthest positive and nearest negative. O(B^2) memory.
* ``batch_all``: every valid (a, p, n) triplet; the loss is the mean over the triplets with a
  positive loss. Builds a B x B x B tensor: O(B^3) memory (B = 1024 -> 4 GB in float32).
* ``semi_hard``: per (a, p) pair, the nearest negative farther than the positive
  (``D(a, n) > D(a, p)``); where none exists, the farthest negative (FaceNet's rule, as in
  TF Addons' ``TripletSemiHardLoss``). O(B^3) memory.
* ``none``: explicit triplets: ``y_pred`` is ``(B, 3, D)`` = (anchor, positive, negative);
  ``y_true`` is ignored.

A batch needs at least two images of some identity and two identities, or nothing can be
mined: the loss is then 0 (never NaN) and a warning is logged when the labels are concrete.
`ActiveTripletFraction` reports the fraction of anchors (or triplets) with a non-zero loss,
so a user sees when training stalls (every triplet already satisfied).

TF Addons (the tests compare a NumPy port of its 0.23 release): ``semi_hard`` is
``tfa.losses.TripletSemiHardLoss`` and ``batch_hard`` is ``TripletHardLoss`` (``soft_margin``
= its ``soft``), with ``distance`` ``"l2"`` / ``"squared_l2"`` / ``"cosine"`` for its
``distance_metric`` ``"L2"`` (its default) / ``"squared-L2"`` / ``"angular"``; mind that its
default margin is 1.0, ours 0.2. Two conventions differ. An identity with a single image in
the batch: TF Addons' ``batch_hard`` still averages over it, with the anchor itself
(distance 0) as its hardest positive, i.e. it adds ``max(margin - D(a, n), 0)`` for the
nearest negative ``n``; we leave such anchors out (the mean is over the anchors with a
positive and a negative). A batch with nothing to mine: for one identity TF Addons gives
``margin + mean D(a, p)`` (semi-hard) or ``margin`` (hard), and with no two images of one
identity NaN (semi-hard); we give 0.

Example:
    >>> loss = TripletLoss(margin=0.2, distance="l2", mining="batch_hard")
    >>> model.compile(optimizer="adam", loss=loss, metrics=[ActiveTripletFraction(loss)])
    ... # doctest: +SKIP
"""

from __future__ import annotations

import logging

import keras
import numpy as np
from keras import ops

from zoo.losses.distances import check_distance, pairwise_distances

logger = logging.getLogger(__name__)
MINING = ("batch_hard", "batch_all", "semi_hard", "none")


def check_labels(labels, name: str = "y_true"):
    """Integer class labels ``(B,)`` or ``(B, 1)`` -> ``(B,)`` int32; anything else raises."""
    shape = tuple(labels.shape)
    if len(shape) == 2 and shape[1] == 1:
        labels = ops.reshape(labels, (-1,))
    elif len(shape) != 1:
        raise ValueError(f"`{name}` must be integer labels of shape (batch,) or (batch, 1). "
                         f"Received shape {shape}.")
    dtype = keras.backend.standardize_dtype(labels.dtype)
    if "float" in dtype:
        # keras.losses.Loss.__call__ casts y_true to the loss dtype (float32) before `call`, so
        # float labels are accepted when they hold whole numbers (checked when concrete).
        values = _concrete(labels)
        if values is not None and not np.all(np.isfinite(values) & (values == np.round(values))):
            bad = values[~(np.isfinite(values) & (values == np.round(values)))][0]
            raise ValueError(f"`{name}` must hold integer class labels (one identity per "
                             f"image). Received a non-integer value {float(bad)}.")
    elif not ("int" in dtype or dtype == "bool"):
        raise ValueError(f"`{name}` must hold integer class labels (one identity per image). "
                         f"Received dtype {dtype}.")
    return ops.cast(labels, "int32")


def _concrete(x) -> np.ndarray | None:
    """The value of ``x`` when it is concrete (eager), else None (inside a traced function)."""
    try:
        return np.asarray(ops.convert_to_numpy(x))
    except Exception:  # symbolic tensors / tracers cannot be converted: no warning then
        return None


def warn_if_nothing_to_mine(labels) -> None:
    values = _concrete(labels)
    if values is None:
        return
    counts = np.unique(values, return_counts=True)[1]
    if len(counts) < 2:
        logger.warning("Triplet/contrastive batch has a single identity: no negatives, the loss "
                       "is 0. Build P x K batches (training.data.metric.pk_batches).")
    elif counts.max() < 2:
        logger.warning("Triplet batch has no two images of one identity: no positives, the loss "
                       "is 0. Build P x K batches with K >= 2.")


def label_masks(labels):
    """``(positive, negative)`` B x B boolean masks: same label (not self), different label."""
    same = ops.equal(labels[:, None], labels[None, :])
    not_self = ops.logical_not(ops.eye(ops.shape(labels)[0], dtype="bool"))
    return ops.logical_and(same, not_self), ops.logical_not(same)


def mine_triplets(dist, labels, mining: str, margin: float):
    """Per-anchor or per-triplet margins ``D(a, p) - D(a, n)`` and a validity mask.

    Returns:
        ``(diff, valid)``: same-shaped tensors; the loss is taken over ``diff[valid]``.
        batch_hard: shape (B,); batch_all: (B, B, B) as [a, p, n]; semi_hard: (B, B) as [a, p].
    """
    pos, neg = label_masks(labels)
    big = ops.max(dist) + 1.0  # larger than every distance: a stand-in for +inf
    if mining == "batch_hard":
        hardest_pos = ops.max(ops.where(pos, dist, 0.0), axis=1)
        hardest_neg = ops.min(ops.where(neg, dist, big), axis=1)
        valid = ops.logical_and(ops.any(pos, axis=1), ops.any(neg, axis=1))
        return hardest_pos - hardest_neg, valid
    if mining == "batch_all":
        diff = dist[:, :, None] - dist[:, None, :]
        valid = ops.logical_and(pos[:, :, None], neg[:, None, :])
        return diff, valid
    if mining == "semi_hard":
        d_ap = dist[:, :, None]                      # [a, p, 1]
        d_an = dist[:, None, :]                      # [a, 1, n]
        neg3 = neg[:, None, :]
        outside = ops.logical_and(neg3, ops.greater(d_an, d_ap))
        nearest_outside = ops.min(ops.where(outside, d_an, big), axis=2)
        farthest_inside = ops.max(ops.where(neg3, d_an, -big), axis=2)
        chosen = ops.where(ops.any(outside, axis=2), nearest_outside, farthest_inside)
        valid = ops.logical_and(pos, ops.any(neg, axis=1)[:, None])
        return dist - chosen, valid
    raise ValueError(f"`mining` must be one of {MINING}. Received: mining={mining!r}")


@keras.saving.register_keras_serializable(package="zoo")
class TripletLoss(keras.losses.Loss):
    """Triplet loss on embeddings with online mining (see the module docstring).

    Args:
        margin: the margin ``m`` (ignored with ``soft_margin``); must be >= 0.
        distance: ``"squared_l2"`` (FaceNet), ``"l2"`` (Hermans et al.) or ``"cosine"``.
        mining: ``"batch_hard"``, ``"batch_all"``, ``"semi_hard"`` or ``"none"``.
        soft_margin: ``softplus(d_ap - d_an)`` instead of the hinge.

    ``y_true``: integer identities ``(B,)``; ``y_pred``: embeddings ``(B, D)`` (or
    ``(B, 3, D)`` triplets for ``mining="none"``).
    """

    def __init__(self, margin: float = 0.2, distance: str = "squared_l2",
                 mining: str = "batch_hard", soft_margin: bool = False,
                 name: str = "triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(margin, (int, float)) or margin < 0:
            raise ValueError(f"`margin` must be a number >= 0. Received: margin={margin!r}")
        if mining not in MINING:
            raise ValueError(f"`mining` must be one of {MINING}. Received: mining={mining!r}")
        self.margin, self.distance = float(margin), check_distance(distance)
        self.mining, self.soft_margin = mining, bool(soft_margin)

    def _hinge(self, diff):
        return ops.softplus(diff) if self.soft_margin else ops.relu(diff + self.margin)

    def compute(self, y_true, y_pred):
        """``(loss, active_fraction)`` for one batch."""
        if self.mining == "none":
            if len(y_pred.shape) != 3 or y_pred.shape[1] != 3:
                raise ValueError("mining='none' expects y_pred of shape (batch, 3, dim) = "
                                 f"(anchor, positive, negative). Received {tuple(y_pred.shape)}.")
            a, p, n = y_pred[:, 0], y_pred[:, 1], y_pred[:, 2]
            d_ap = ops.diagonal(pairwise_distances(a, p, self.distance))
            d_an = ops.diagonal(pairwise_distances(a, n, self.distance))
            per = self._hinge(d_ap - d_an)
            return ops.mean(per), ops.mean(ops.cast(ops.greater(per, 0.0), "float32"))
        if len(y_pred.shape) != 2:
            raise ValueError(f"`y_pred` must be embeddings of shape (batch, dim). "
                             f"Received {tuple(y_pred.shape)}.")
        labels = check_labels(y_true)
        warn_if_nothing_to_mine(labels)
        dist = pairwise_distances(y_pred, distance=self.distance)
        diff, valid = mine_triplets(dist, labels, self.mining, self.margin)
        per = ops.where(valid, self._hinge(diff), 0.0)
        validf = ops.cast(valid, "float32")
        active = ops.cast(ops.greater(per, 1e-12), "float32") * validf
        n_valid, n_active = ops.sum(validf), ops.sum(active)
        if self.mining == "batch_all":  # the mean over the triplets that still contribute
            loss = ops.sum(per) / ops.maximum(n_active, 1.0)
        else:
            loss = ops.sum(per) / ops.maximum(n_valid, 1.0)
        return loss, n_active / ops.maximum(n_valid, 1.0)

    def call(self, y_true, y_pred):
        return self.compute(y_true, y_pred)[0]

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "distance": self.distance,
                "mining": self.mining, "soft_margin": self.soft_margin}


@keras.saving.register_keras_serializable(package="zoo")
class ActiveTripletFraction(keras.metrics.Mean):
    """Mean fraction of mined anchors / triplets with a non-zero loss (0 = training stalls)."""

    def __init__(self, loss: TripletLoss | dict | None = None, name: str = "active_triplets",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(loss, dict):
            loss = keras.saving.deserialize_keras_object(loss)
        self.loss = loss or TripletLoss()

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(self.loss.compute(y_true, y_pred)[1])

    def get_config(self):
        return {**super().get_config(), "loss": keras.saving.serialize_keras_object(self.loss)}
