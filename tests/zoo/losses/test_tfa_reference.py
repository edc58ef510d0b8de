"""`TripletLoss` and `ContrastiveLoss` against TensorFlow Addons, ported to NumPy.

TF Addons cannot be installed next to TensorFlow 2.21 (its last release, 0.23.0, supports
TF <= 2.15), so ``triplet_semihard_loss``, ``triplet_hard_loss`` and ``contrastive_loss``
are ported below, line for line (the same tiles, masks and ``_masked_minimum`` /
``_masked_maximum`` tricks), from tensorflow/addons v0.23.0,
``tensorflow_addons/losses/triplet.py``, ``contrastive.py`` and ``metric_learning.py``
(Apache 2.0). The port reproduces the examples of TF Addons' own docstrings.

What lines up (value for value):

* distances: our ``"l2"`` = TFA's ``"L2"`` (its default), ``"squared_l2"`` = ``"squared-L2"``,
  ``"cosine"`` = ``"angular"`` (``1 - cos``; TFA clips it at 0, which only touches a
  distance that is 0 up to round-off);
* ``mining="semi_hard"`` = ``triplet_semihard_loss``: per (anchor, positive) pair the nearest
  negative with ``D(a, n) > D(a, p)`` (strictly), else the *farthest* negative (the largest
  ``D(a, n)``; not the hardest one), the mean over all (a, p) pairs;
* ``mining="batch_hard"`` = ``triplet_hard_loss`` (``soft_margin`` = its ``soft``) when every
  identity in the batch has at least two images;
* ``ContrastiveLoss`` = ``contrastive_loss / 2``: both take pair distances, ``y_true = 1``
  for a similar pair and the margin on the (unsquared) distance, but TFA has no 1/2.

Documented differences, asserted here: with a lone identity in the batch (one image),
``triplet_hard_loss`` still averages over every anchor, taking the anchor itself (distance
0) as its hardest positive, so it adds ``max(margin - D(a, n_hardest), 0)``; we leave such
anchors out. With one identity only, TFA's "negative" is the row minimum (0, the anchor
itself): semi-hard gives ``margin + mean D(a, p)``, hard gives ``margin``; with no positive
pair at all semi-hard is 0/0 = NaN. Ours is 0 in those batches (nothing to mine).
"""

from __future__ import annotations

import numpy as np
import pytest

from zoo.losses import ContrastiveLoss, TripletLoss

DISTANCES = {"l2": "L2", "squared_l2": "squared-L2", "cosine": "angular"}


# ------------------------------------------------------------------- the NumPy port of TFA
# tensorflow_addons/losses/metric_learning.py


def tfa_pairwise_distance(feature, squared=False):
    """Port of ``metric_learning.pairwise_distance``."""
    pairwise_distances_squared = (
        np.sum(np.square(feature), axis=1, keepdims=True)
        + np.sum(np.square(feature.T), axis=0, keepdims=True)
        - 2.0 * feature @ feature.T)
    pairwise_distances_squared = np.maximum(pairwise_distances_squared, 0.0)
    error_mask = pairwise_distances_squared <= 0.0
    if squared:
        pairwise_distances = pairwise_distances_squared
    else:
        pairwise_distances = np.sqrt(pairwise_distances_squared
                                     + error_mask.astype(feature.dtype) * 1e-16)
    pairwise_distances = pairwise_distances * np.logical_not(error_mask).astype(feature.dtype)
    num_data = feature.shape[0]
    mask_offdiagonals = np.ones_like(pairwise_distances) - np.eye(num_data, dtype=feature.dtype)
    return pairwise_distances * mask_offdiagonals


def tfa_angular_distance(feature):
    """Port of ``metric_learning.angular_distance`` (with ``tf.math.l2_normalize``)."""
    square_sum = np.sum(np.square(feature), axis=1, keepdims=True)
    feature = feature / np.sqrt(np.maximum(square_sum, 1e-12)).astype(feature.dtype)
    angular_distances = 1 - feature @ feature.T
    return np.maximum(angular_distances, 0.0)


# tensorflow_addons/losses/triplet.py


def _masked_maximum(data, mask, dim=1):
    axis_minimums = np.min(data, dim, keepdims=True)
    return np.max((data - axis_minimums) * mask, dim, keepdims=True) + axis_minimums


def _masked_minimum(data, mask, dim=1):
    axis_maximums = np.max(data, dim, keepdims=True)
    return np.min((data - axis_maximums) * mask, dim, keepdims=True) + axis_maximums


def _tfa_distance(embeddings, distance_metric):
    if distance_metric == "L2":
        return tfa_pairwise_distance(embeddings, squared=False)
    if distance_metric == "squared-L2":
        return tfa_pairwise_distance(embeddings, squared=True)
    if distance_metric == "angular":
        return tfa_angular_distance(embeddings)
    return distance_metric(embeddings)


def tfa_triplet_semihard_loss(y_true, y_pred, margin=1.0, distance_metric="L2"):
    """Port of ``triplet_semihard_loss``."""
    labels, embeddings = np.asarray(y_true), np.asarray(y_pred)
    f = embeddings.dtype
    labels = np.reshape(labels, [labels.shape[0], 1])
    pdist_matrix = _tfa_distance(embeddings, distance_metric)
    adjacency = np.equal(labels, labels.T)
    adjacency_not = np.logical_not(adjacency)
    batch_size = labels.size
    pdist_matrix_tile = np.tile(pdist_matrix, [batch_size, 1])
    mask = np.logical_and(np.tile(adjacency_not, [batch_size, 1]),
                          np.greater(pdist_matrix_tile, np.reshape(pdist_matrix.T, [-1, 1])))
    mask_final = np.reshape(np.greater(np.sum(mask.astype(np.float32), 1, keepdims=True), 0.0),
                            [batch_size, batch_size])
    mask_final = mask_final.T
    adjacency_not = adjacency_not.astype(f)
    mask = mask.astype(f)
    # negatives_outside: smallest D_an where D_an > D_ap.
    negatives_outside = np.reshape(_masked_minimum(pdist_matrix_tile, mask),
                                   [batch_size, batch_size]).T
    # negatives_inside: largest D_an.
    negatives_inside = np.tile(_masked_maximum(pdist_matrix, adjacency_not), [1, batch_size])
    semi_hard_negatives = np.where(mask_final, negatives_outside, negatives_inside)
    loss_mat = margin + pdist_matrix - semi_hard_negatives
    mask_positives = adjacency.astype(f) - np.eye(batch_size, dtype=f)
    num_positives = np.sum(mask_positives)
    with np.errstate(invalid="ignore"):           # 0 / 0 when there is no positive pair
        return np.sum(np.maximum(loss_mat * mask_positives, 0.0)) / num_positives


def tfa_triplet_hard_per_anchor(y_true, y_pred, margin=1.0, soft=False, distance_metric="L2"):
    """Port of ``triplet_hard_loss`` before its final ``reduce_mean``: one loss per anchor."""
    labels, embeddings = np.asarray(y_true), np.asarray(y_pred)
    f = embeddings.dtype
    labels = np.reshape(labels, [labels.shape[0], 1])
    pdist_matrix = _tfa_distance(embeddings, distance_metric)
    adjacency = np.equal(labels, labels.T)
    adjacency_not = np.logical_not(adjacency).astype(f)
    hard_negatives = _masked_minimum(pdist_matrix, adjacency_not)
    batch_size = labels.size
    mask_positives = adjacency.astype(f) - np.eye(batch_size, dtype=f)
    hard_positives = _masked_maximum(pdist_matrix, mask_positives)
    if soft:
        triplet_loss = np.log1p(np.exp(hard_positives - hard_negatives))
    else:
        triplet_loss = np.maximum(hard_positives - hard_negatives + margin, 0.0)
    return triplet_loss[:, 0]


def tfa_triplet_hard_loss(y_true, y_pred, margin=1.0, soft=False, distance_metric="L2"):
    """Port of ``triplet_hard_loss``."""
    return np.mean(tfa_triplet_hard_per_anchor(y_true, y_pred, margin, soft, distance_metric))


# tensorflow_addons/losses/contrastive.py


def tfa_contrastive_loss(y_true, y_pred, margin=1.0):
    """Port of ``contrastive_loss`` (per pair; ``ContrastiveLoss`` averages it)."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).astype(y_pred.dtype)
    return y_true * np.square(y_pred) + (1.0 - y_true) * np.square(np.maximum(margin - y_pred, 0.0))


# ------------------------------------------------------------------------------- the tests

def test_port_reproduces_the_tfa_docstring_examples():
    y_true = np.array([0, 0])
    y_pred = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    dot = lambda x: x @ x.T  # noqa: E731  (TFA's "callable distance_metric" example)
    assert tfa_triplet_semihard_loss(y_true, y_pred, distance_metric="L2") == pytest.approx(
        2.4142137, rel=1e-6)
    assert tfa_triplet_semihard_loss(y_true, y_pred, distance_metric=dot) == pytest.approx(1.0)
    assert tfa_triplet_hard_loss(y_true, y_pred, distance_metric="L2") == pytest.approx(1.0)
    assert tfa_triplet_hard_loss(y_true, y_pred, distance_metric=dot) == pytest.approx(0.0)


def _identities(rng, n_ids=4, per_id=3):
    """Labels with every identity ``per_id`` times, shuffled (no lone identity)."""
    return rng.permutation(np.repeat(np.arange(n_ids), per_id))


@pytest.mark.parametrize("distance", list(DISTANCES))
def test_semi_hard_equals_tfa_triplet_semihard_loss(distance):
    rng = np.random.default_rng(3)
    for trial in range(4):
        emb = rng.normal(size=(12, 5)).astype("float32")
        labels = rng.integers(0, 4, size=12)
        labels[0] = 9          # a lone identity: it has no positive pair in either loss
        margin = (0.2, 0.5, 1.0, 2.0)[trial]
        want = tfa_triplet_semihard_loss(labels, emb, margin, DISTANCES[distance])
        got = TripletLoss(margin=margin, distance=distance, mining="semi_hard")(labels, emb)
        np.testing.assert_allclose(float(got), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("distance", list(DISTANCES))
def test_batch_hard_equals_tfa_triplet_hard_loss(distance, soft):
    rng = np.random.default_rng(4)
    for margin in (0.3, 1.0):
        emb = rng.normal(size=(12, 5)).astype("float32")
        labels = _identities(rng)
        want = tfa_triplet_hard_loss(labels, emb, margin, soft, DISTANCES[distance])
        got = TripletLoss(margin=margin, distance=distance, mining="batch_hard",
                          soft_margin=soft)(labels, emb)
        np.testing.assert_allclose(float(got), want, rtol=1e-5, atol=1e-6)


def test_semi_hard_without_a_semi_hard_negative_takes_the_farthest_negative():
    # 1-D points, identity 0 at x = 0, 3 and identity 1 at x = 1, 2 (L2 distances):
    #   anchor 0: D_ap = 3, negatives at 1 and 2: none farther -> the farthest, 2: 3 - 2 + m
    #   anchor 3: D_ap = 3, negatives at 2 and 1: the same                         3 - 2 + m
    #   anchor 1: D_ap = 1, negatives at 1 (a tie: not farther) and 2 -> 2:        1 - 2 + m
    #   anchor 2: D_ap = 1, negatives at 2 and 1 (a tie) -> 2:                     1 - 2 + m
    # m = 0.5: (1.5 + 1.5 + 0 + 0) / 4 positive pairs = 0.75
    emb = np.array([[0.0], [3.0], [1.0], [2.0]], np.float32)
    labels = np.array([0, 0, 1, 1])
    assert tfa_triplet_semihard_loss(labels, emb, 0.5, "L2") == pytest.approx(0.75)
    ours = TripletLoss(margin=0.5, distance="l2", mining="semi_hard")(labels, emb)
    assert float(ours) == pytest.approx(0.75, rel=1e-6)
    # the hardest negative (D = 1) instead would give (2.5 + 2.5 + 0.5 + 0.5) / 4 = 1.5
    assert float(ours) != pytest.approx(1.5)


def test_batch_hard_with_a_lone_identity_differs_from_tfa_as_documented():
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(10, 4)).astype("float32")
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 7, 8])        # 7 and 8 occur once
    per_anchor = tfa_triplet_hard_per_anchor(labels, emb, 5.0, False, "L2")
    # TFA: the anchor itself (distance 0) is a lone anchor's "hardest positive"
    d = tfa_pairwise_distance(emb)
    for i in (8, 9):
        np.testing.assert_allclose(per_anchor[i], 5.0 - d[i, labels != labels[i]].min(),
                                   rtol=1e-6)
    ours = float(TripletLoss(margin=5.0, distance="l2", mining="batch_hard")(labels, emb))
    np.testing.assert_allclose(ours, per_anchor[:8].mean(), rtol=1e-5)   # lone anchors left out
    assert abs(ours - per_anchor.mean()) > 0.1                           # TFA's mean differs


def test_degenerate_batches_tfa_values_versus_our_zero():
    emb = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
    one_id = np.array([4, 4, 4])
    d = tfa_pairwise_distance(emb)
    mean_d_ap = d[~np.eye(3, dtype=bool)].mean()
    assert tfa_triplet_semihard_loss(one_id, emb, 1.0, "L2") == pytest.approx(1.0 + mean_d_ap)
    assert tfa_triplet_hard_loss(one_id, emb, 1.0, False, "L2") == pytest.approx(1.0)
    no_pair = np.array([0, 1, 2])
    assert np.isnan(tfa_triplet_semihard_loss(no_pair, emb, 1.0, "L2"))
    assert tfa_triplet_hard_loss(no_pair, emb, 1.0, False, "L2") == pytest.approx(
        np.mean(np.maximum(1.0 - np.where(np.eye(3, dtype=bool), np.inf, d).min(1), 0.0)))
    for labels in (one_id, no_pair):
        for mining in ("semi_hard", "batch_hard"):
            assert float(TripletLoss(margin=1.0, distance="l2", mining=mining)(labels, emb)) == 0.0


def test_contrastive_is_half_of_tfa_contrastive_loss(rng):
    d = rng.uniform(0.0, 2.0, size=32).astype("float32")
    y = rng.integers(0, 2, size=32)
    for margin in (0.5, 1.0, 1.5):
        want = tfa_contrastive_loss(y, d, margin)
        per_pair = ContrastiveLoss(margin=margin, reduction=None)(y, d)
        np.testing.assert_allclose(2.0 * np.asarray(per_pair), want, rtol=1e-6, atol=1e-7)
        mean = ContrastiveLoss(margin=margin)(y, d)                     # TFA's default reduction:
        np.testing.assert_allclose(2.0 * float(mean), want.mean(), rtol=1e-5)  # the batch mean
        flipped = ContrastiveLoss(margin=margin, similar_label=0)(1 - y, d)
        np.testing.assert_allclose(2.0 * float(flipped), want.mean(), rtol=1e-5)


def test_contrastive_by_hand_against_tfa():
    # y = 1 (similar) at D = 0.5: TFA 0.25, ours 0.125; y = 0 at D = 0.5, m = 1: TFA 0.25, ours
    # 0.125; y = 0 beyond the margin: 0 in both
    d = np.array([0.5, 0.5, 1.5], np.float32)
    y = np.array([1, 0, 0])
    np.testing.assert_allclose(tfa_contrastive_loss(y, d, 1.0), [0.25, 0.25, 0.0])
    np.testing.assert_allclose(np.asarray(ContrastiveLoss(margin=1.0, reduction=None)(y, d)),
                               [0.125, 0.125, 0.0])
