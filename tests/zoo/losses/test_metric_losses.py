"""Metric-learning losses against plain NumPy loops on hand-made and random embeddings."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest

from tests.zoo.losses.autodiff import value_and_grad

from zoo.layers import PairDistance
from zoo.losses import (ActiveTripletFraction, CenterLoss, ContrastiveLoss, TripletLoss,
                        pairwise_distances)


def np_dist(x, distance):
    x = np.asarray(x, np.float64)
    if distance == "cosine":  # a zero embedding normalises to zero: distance 1 to anything
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        n = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
        return 1 - n @ n.T
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    return d if distance == "squared_l2" else np.sqrt(d)


def np_triplet(emb, labels, margin, distance, mining, soft=False):
    """Brute force over every (a, p, n): the definitions, one loop at a time."""
    d = np_dist(emb, distance)
    b = len(labels)
    hinge = (lambda v: np.log1p(np.exp(v))) if soft else (lambda v: max(0.0, v + margin))
    per = []
    for a in range(b):
        pos = [p for p in range(b) if p != a and labels[p] == labels[a]]
        neg = [n for n in range(b) if labels[n] != labels[a]]
        if not pos or not neg:
            continue
        if mining == "batch_hard":
            per.append(hinge(max(d[a, p] for p in pos) - min(d[a, n] for n in neg)))
        elif mining == "batch_all":
            per += [hinge(d[a, p] - d[a, n]) for p in pos for n in neg]
        else:  # semi_hard: nearest negative beyond the positive, else the farthest negative
            for p in pos:
                beyond = [d[a, n] for n in neg if d[a, n] > d[a, p]]
                chosen = min(beyond) if beyond else max(d[a, n] for n in neg)
                per.append(hinge(d[a, p] - chosen))
    per = np.array(per)
    if mining == "batch_all":
        active = per[per > 1e-12]
        return (active.mean() if len(active) else 0.0), (len(active) / max(len(per), 1))
    return (per.mean() if len(per) else 0.0), ((per > 1e-12).mean() if len(per) else 0.0)


HAND = np.array([[0, 0], [0, 1], [3, 0], [3, 1], [1, 0], [0, 0]], np.float32)  # a tie: 0 and 5
HAND_Y = np.array([0, 0, 1, 1, 2, 0])


@pytest.mark.parametrize("mining", ["batch_hard", "batch_all", "semi_hard"])
@pytest.mark.parametrize("distance", ["squared_l2", "l2", "cosine"])
def test_triplet_matches_numpy_on_random_batches(mining, distance):
    rng = np.random.default_rng(hash((mining, distance)) % 2**32)
    emb = rng.normal(size=(12, 5)).astype("float32")
    labels = rng.integers(0, 4, size=12)
    loss = TripletLoss(margin=0.3, distance=distance, mining=mining)
    got, active = (float(v) for v in loss.compute(labels, emb))
    want, want_active = np_triplet(emb, labels, 0.3, distance, mining)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(active, want_active, atol=1e-6)


@pytest.mark.parametrize("mining", ["batch_hard", "batch_all", "semi_hard"])
def test_triplet_hand_made_with_ties_and_soft_margin(mining):
    for soft in (False, True):
        loss = TripletLoss(margin=1.0, distance="l2", mining=mining, soft_margin=soft)
        want, _ = np_triplet(HAND, HAND_Y, 1.0, "l2", mining, soft)
        np.testing.assert_allclose(float(loss(HAND_Y, HAND)), want, rtol=1e-5, atol=1e-6)


def test_batch_hard_by_hand():
    # Anchor 0 at (0,0): positives (0,1) d=1 and (0,0) d=0 -> hardest 1; nearest negative
    # (1,0) d=1 -> loss max(0, 1 - 1 + 0.5) = 0.5. Anchor 1 at (0,1): farthest positive d=1,
    # nearest negative (1,0) d=sqrt2 -> 0.5 + 1 - 1.414 = 0.0858. Anchors 2, 3 (class 1):
    # positive d=1, nearest negative (1,0) d=2 and sqrt5 -> 0. Anchor 4 has no positive.
    # Anchor 5 = anchor 0 -> 0.5. Mean over the 5 valid anchors.
    want = (0.5 + (1.5 - np.sqrt(2)) + 0 + 0 + 0.5) / 5
    got = float(TripletLoss(margin=0.5, distance="l2", mining="batch_hard")(HAND_Y, HAND))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_explicit_triplets():
    a, p, n = np.zeros((2, 2)), np.array([[0, 1], [0, 2]]), np.array([[0, 3], [0, 1]])
    y_pred = np.stack([a, p, n], axis=1).astype("float32")
    got = float(TripletLoss(margin=0.5, distance="l2", mining="none")(np.zeros(2), y_pred))
    np.testing.assert_allclose(got, (0 + (2 - 1 + 0.5)) / 2)


def test_no_nan_gradient_at_zero_distance():
    emb = np.array([[1, 1], [1, 1], [1, 1], [2, 2]], np.float32)  # coinciding embeddings
    labels = np.array([0, 0, 1, 1])
    for distance in ("l2", "squared_l2", "cosine"):
        for mining in ("batch_hard", "batch_all", "semi_hard"):
            loss = TripletLoss(distance=distance, mining=mining)
            value, grad = value_and_grad(lambda e: loss(labels, e), emb)
            assert np.isfinite(np.asarray(value)) and np.isfinite(np.asarray(grad)).all(), \
                (distance, mining)


# A zero embedding (a dead ReLU, an untrained head): cosine normalisation divides by its norm,
# whose derivative is 0/0 there. 1/sqrt(epsilon) = 1e6 bounds the gradient of `l2_normalize`.
GRAD_BOUND = 1e7


@pytest.mark.parametrize("mining", ["batch_hard", "batch_all", "semi_hard"])
@pytest.mark.parametrize("distance", ["cosine", "l2", "squared_l2"])
def test_finite_gradient_with_a_zero_embedding(mining, distance):
    emb = np.random.default_rng(3).normal(size=(8, 4)).astype("float32")
    emb[2] = 0.0
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    loss = TripletLoss(margin=0.3, distance=distance, mining=mining)
    value, grad = value_and_grad(lambda e: loss(labels, e), emb)
    grad = np.asarray(grad)
    assert np.isfinite(grad).all(), (distance, mining, grad)
    assert np.abs(grad).max() < GRAD_BOUND, (distance, mining, np.abs(grad).max())
    assert np.abs(grad[2]).max() > 0  # the zero embedding still gets pushed (not stuck)
    want, _ = np_triplet(emb, labels, 0.3, distance, mining)
    np.testing.assert_allclose(float(value), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("distance", ["cosine", "l2", "squared_l2"])
def test_explicit_triplets_and_pair_distance_finite_gradient_at_zero(distance):
    rng = np.random.default_rng(4)
    triplets = rng.normal(size=(3, 3, 4)).astype("float32")
    triplets[0, 0] = 0.0       # a zero anchor
    triplets[1, 2] = 0.0       # a zero negative
    loss = TripletLoss(margin=0.5, distance=distance, mining="none")
    _, grad = value_and_grad(lambda t: loss(np.zeros(3), t), triplets)
    assert np.isfinite(np.asarray(grad)).all() and np.abs(np.asarray(grad)).max() < GRAD_BOUND
    # a Siamese head: PairDistance -> ContrastiveLoss, one pair with a zero side, one pair equal
    a = rng.normal(size=(3, 4)).astype("float32")
    b = np.stack([np.zeros(4), a[1], rng.normal(size=4)]).astype("float32")
    head, contrastive = PairDistance(distance), ContrastiveLoss(margin=1.0)
    y = np.array([1.0, 1.0, 0.0])
    value, grad = value_and_grad(lambda e: contrastive(y, head([e, b])), a)
    assert np.isfinite(np.asarray(grad)).all() and np.abs(np.asarray(grad)).max() < GRAD_BOUND
    d = np.array([np_dist(np.stack([a[i], b[i]]), distance)[0, 1] for i in range(3)])
    want = np.mean(y / 2 * d ** 2 + (1 - y) / 2 * np.maximum(0, 1 - d) ** 2)
    np.testing.assert_allclose(float(value), want, rtol=1e-5, atol=1e-6)


def test_single_identity_or_no_positives_give_zero_and_warn(caplog):
    emb = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    for labels, message in (([1, 1, 1, 1], "single identity"), ([0, 1, 2, 3], "no two images")):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            for mining in ("batch_hard", "batch_all", "semi_hard"):
                value, active = TripletLoss(mining=mining).compute(np.array(labels), emb)
                assert float(value) == 0.0 and float(active) == 0.0
        assert message in caplog.text


def test_bad_arguments():
    with pytest.raises(ValueError, match="`margin` must be a number >= 0"):
        TripletLoss(margin=-0.1)
    with pytest.raises(ValueError, match="`mining` must be one of"):
        TripletLoss(mining="hardest")
    with pytest.raises(ValueError, match="`distance` must be one of"):
        TripletLoss(distance="l1")
    emb = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="integer class labels.*non-integer value 0.5"):
        TripletLoss()(np.array([0.0, 0.5, 1.0, 1.0]), emb)
    with pytest.raises(ValueError, match=r"shape \(batch,\) or \(batch, 1\)"):
        TripletLoss()(np.zeros((4, 2), np.int32), emb)
    with pytest.raises(ValueError, match=r"\(batch, 3, dim\)"):
        TripletLoss(mining="none")(np.zeros(4), emb)
    with pytest.raises(ValueError, match="`margin` must be a number > 0"):
        ContrastiveLoss(margin=-1)


def test_contrastive_both_conventions_against_numpy():
    d = np.array([0.0, 0.3, 0.9, 1.5, 0.2], np.float32)
    y = np.array([1, 0, 1, 0, 0])
    m = 1.0
    want = np.mean(y / 2 * d ** 2 + (1 - y) / 2 * np.maximum(0, m - d) ** 2)
    np.testing.assert_allclose(float(ContrastiveLoss(m)(y, d)), want, rtol=1e-6)
    np.testing.assert_allclose(float(ContrastiveLoss(m, similar_label=0)(1 - y, d)), want,
                               rtol=1e-6)


def test_pairwise_distances_match_numpy():
    x = np.random.default_rng(1).normal(size=(6, 4)).astype("float32")
    x[2] = 0.0  # a zero embedding: cosine distance 1 to every embedding, itself included
    for distance in ("squared_l2", "l2", "cosine"):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(pairwise_distances(x, distance=distance)),
                                   np_dist(x, distance), atol=2e-5)


def test_center_loss_value_and_update_follow_the_paper():
    layer = CenterLoss(num_classes=3, weight=0.1, alpha=0.5)
    x = np.array([[1, 0], [3, 0], [0, 2]], np.float32)
    y = np.array([0, 0, 2])
    layer.build([(None, 2), (None,)])
    layer.centers.assign(np.array([[1, 1], [5, 5], [0, 0]], np.float32))
    c = layer.centers.numpy().copy()
    want_lc = 0.5 * np.mean([((x[i] - c[y[i]]) ** 2).sum() for i in range(3)])
    np.testing.assert_allclose(float(layer.center_loss(x, y)), want_lc, rtol=1e-6)
    layer([x, y], training=True)
    np.testing.assert_allclose(float(layer.losses[0]), 0.1 * want_lc, rtol=1e-6)
    # eq. 4: delta_j = sum_{y_i = j} (c_j - x_i) / (1 + n_j); c_j -= alpha * delta_j
    expected = c.copy()
    for j in range(3):
        members = [i for i in range(3) if y[i] == j]
        delta = sum((c[j] - x[i] for i in members), np.zeros(2)) / (1 + len(members))
        expected[j] = c[j] - 0.5 * delta
    np.testing.assert_allclose(layer.centers.numpy(), expected, rtol=1e-6)
    layer([x, y], training=False)
    np.testing.assert_allclose(layer.centers.numpy(), expected, rtol=1e-6)  # frozen at inference


def test_losses_serialise_and_active_fraction_metric():
    loss = TripletLoss(margin=0.1, distance="cosine", mining="semi_hard", soft_margin=True)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (again.margin, again.distance, again.mining, again.soft_margin) == \
        (0.1, "cosine", "semi_hard", True)
    metric = ActiveTripletFraction(TripletLoss(margin=10.0))
    metric.update_state(HAND_Y, HAND)
    assert float(metric.result()) == 1.0  # a huge margin: every anchor still violates it
    layer = keras.layers.deserialize(keras.layers.serialize(CenterLoss(4, weight=0.3)))
    assert (layer.num_classes, layer.weight) == (4, 0.3)
