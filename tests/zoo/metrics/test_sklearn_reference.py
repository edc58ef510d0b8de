"""`zoo.metrics` against scikit-learn (skipped when it is not installed).

How the conventions line up, and where they differ (each difference is asserted below):

* Verification: we accept a pair when ``distance <= threshold``; scikit-learn scores
  similarity, so its ``y_score`` is ``-distance``. ``roc_curve(..., drop_intermediate=False)``
  is ours without our last point (``+inf``, FAR = TAR = 1, which repeats its last one), its
  thresholds negated; tied scores make one point in both, so ``roc_auc_score`` is our
  `roc_auc`, ties included. With one class only we raise a ValueError; scikit-learn warns
  (``UndefinedMetricWarning``) and returns NaN (older releases raise a ValueError too).
* `pairwise_distances` is scikit-learn's ``euclidean`` / ``sqeuclidean`` / ``cosine``, zero
  vectors included (cosine similarity 0 with anything), except one entry: scikit-learn sets
  the self-distance of ``pairwise_distances(X)`` to 0 even for a zero vector; ours is 1.
* Retrieval: ``NearestNeighbors(algorithm="brute").kneighbors()`` (each item's neighbours,
  itself left out) gives Precision@1 and Recall@K (a hit in the K nearest). MAP@R is
  ``average_precision_score`` on a query's R nearest, times ``(hits in them) / R``. Ties:
  we break them by index order; ``average_precision_score`` pools tied scores into one step.
* Segmentation: `confusion_matrix` is ``confusion_matrix(labels=range(C))`` on the valid
  pixels. Per class, an absent class (in neither truth nor prediction) is NaN for us;
  ``jaccard_score`` / ``f1_score`` give 0 with an ``UndefinedMetricWarning`` (``f1_score``
  gives NaN with ``zero_division=np.nan``; ``jaccard_score`` does not accept NaN). Our macro
  means leave absent classes out: that is scikit-learn's ``average="macro"`` without
  ``labels`` (it takes the classes present), or ``f1_score(labels=range(C),
  zero_division=np.nan)``; with ``labels=range(C)`` and the default it averages the 0 in.
  scikit-learn has no ``ignore_index``: ``labels=range(C)`` drops ignored pixels from
  ``confusion_matrix`` but not from ``f1_score`` / ``jaccard_score`` (there an ignored pixel's
  prediction is a false positive), so the valid pixels are selected first.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import metrics as skm  # noqa: E402
from sklearn.exceptions import UndefinedMetricWarning  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

from tests.zoo.metrics.test_dice import DICE, MEAN, P, T, _batches  # noqa: E402
from zoo.metrics import (  # noqa: E402
    MeanDice,
    confusion_matrix,
    map_at_r,
    mean_dice,
    mean_iou,
    pairwise_distances,
    per_class_dice,
    per_class_iou,
    pixel_accuracy,
    precision_at_1,
    recall_at_k,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_accuracy,
)

# ---------------------------------------------------------------------------- verification

HAND_D = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.2, 0.4])     # three pairs tied at 0.4
HAND_S = np.array([1, 0, 1, 0, 1, 0, 0])


def _tied_pairs(rng, n=200):
    """Distances on a 0.05 grid (many ties), labels loosely correlated with them."""
    d = np.round(rng.uniform(0.0, 2.0, size=n) / 0.05) * 0.05
    s = (rng.uniform(0.0, 2.0, size=n) > d).astype(int)
    return d, s


def _sk_roc(d, s):
    return skm.roc_curve(s, -d, drop_intermediate=False)


def test_roc_curve_equals_sklearn_with_ties(rng):
    for d, s in [(HAND_D, HAND_S), _tied_pairs(rng)]:
        far, tar, thresholds = roc_curve(d, s)
        fpr, tpr, thr = _sk_roc(d, s)
        assert len(thr) == len(np.unique(d)) + 1                  # a tie makes one point
        np.testing.assert_allclose(far[:-1], fpr, rtol=0, atol=1e-15)
        np.testing.assert_allclose(tar[:-1], tpr, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(thresholds[:-1], -thr)        # -inf first, as its +inf
        assert (far[-1], tar[-1]) == (1.0, 1.0) == (fpr[-1], tpr[-1])


def test_roc_auc_equals_roc_auc_score_with_ties(rng):
    # by hand: same pairs at 0.1, 0.35, 0.4; different at 0.2, 0.4, 0.4, 0.8 (12 pairs of pairs)
    # wins: 0.1 beats 4, 0.35 beats 3, 0.4 beats 1 and ties 2 -> (4 + 3 + 1 + 0.5 * 2) / 12
    assert roc_auc(HAND_D, HAND_S) == pytest.approx(9 / 12, abs=1e-15)
    assert skm.roc_auc_score(HAND_S, -HAND_D) == pytest.approx(9 / 12, abs=1e-15)
    for _ in range(5):
        d, s = _tied_pairs(rng)
        assert roc_auc(d, s) == pytest.approx(skm.roc_auc_score(s, -d), abs=1e-12)


def test_one_class_auc_raises_where_sklearn_warns_and_returns_nan():
    d, s = np.array([0.1, 0.2, 0.3]), np.ones(3, int)
    for fn in (roc_auc, roc_curve, tar_at_far):
        with pytest.raises(ValueError, match="both same"):
            fn(d, s)
    try:
        with pytest.warns(UndefinedMetricWarning):
            value = skm.roc_auc_score(s, -d)
    except ValueError:          # older scikit-learn raised here too
        pass
    else:
        assert np.isnan(value)
    # accuracy needs no second class: one class is fine in both
    assert verification_accuracy(d, s, threshold=0.15)[0] == skm.accuracy_score(s, d <= 0.15)
    assert verification_accuracy(d, s) == (1.0, 1.3)          # accept everything: max(d) + 1


def test_verification_accuracy_equals_sklearn_accuracy(rng):
    for d, s in [(HAND_D, HAND_S), _tied_pairs(rng)]:
        for t in (0.0, 0.35, 0.4, 1.0):
            acc, used = verification_accuracy(d, s, threshold=t)
            assert used == t
            assert acc == pytest.approx(skm.accuracy_score(s, d <= t), abs=1e-15)
        # the best threshold: the best accuracy over the points of scikit-learn's ROC
        fpr, tpr, _ = _sk_roc(d, s)
        pos, neg = s.sum(), (1 - s).sum()
        best = np.max(tpr * pos + (1 - fpr) * neg) / s.size
        acc, t = verification_accuracy(d, s)
        assert acc == pytest.approx(best, abs=1e-12)
        assert skm.accuracy_score(s, d <= t) == pytest.approx(best, abs=1e-12)


def test_tar_at_far_equals_sklearn_roc(rng):
    for d, s in [(HAND_D, HAND_S), _tied_pairs(rng)]:
        fpr, tpr, thr = _sk_roc(d, s)
        for far in (0.01, 0.1, 0.25, 0.5, 1.0):
            ok = fpr <= far
            want = tpr[ok].max()
            first = np.flatnonzero(ok & (tpr == want))[0]
            assert tar_at_far(d, s, far=far) == (pytest.approx(want, abs=1e-15), -thr[first])
    # by hand: FAR <= 0.25 allows 1 of the 4 different pairs: accept d <= 0.35 -> TAR 2/3
    assert tar_at_far(HAND_D, HAND_S, far=0.25) == (pytest.approx(2 / 3), 0.35)


def test_pairwise_distances_equal_sklearn_and_zero_vector_self_distance(rng):
    a = rng.normal(size=(6, 4))
    a[2] = 0.0                                                # a zero embedding
    b = rng.normal(size=(5, 4))
    for ours, theirs in (("l2", "euclidean"), ("squared_l2", "sqeuclidean"),
                         ("cosine", "cosine")):
        np.testing.assert_allclose(pairwise_distances(a, b, metric=ours),
                                   skm.pairwise_distances(a, b, metric=theirs),
                                   rtol=1e-10, atol=1e-12)
        mine, sk = pairwise_distances(a, metric=ours), skm.pairwise_distances(a, metric=theirs)
        off = ~np.eye(6, dtype=bool)
        np.testing.assert_allclose(mine[off], sk[off], rtol=1e-10, atol=1e-12)
        assert np.all(np.diag(sk) == 0.0)
    # the one difference: cosine self-distance of the zero vector (similarity 0: distance 1)
    mine = pairwise_distances(a, metric="cosine")
    assert mine[2, 2] == 1.0 and skm.pairwise_distances(a, metric="cosine")[2, 2] == 0.0
    np.testing.assert_array_equal(np.delete(np.diag(mine), 2), 0.0)


# ------------------------------------------------------------------------------- retrieval

def _sk_neighbours(x, metric):
    """scikit-learn's leave-one-out ranking: (distances, indices), each ``(N, N - 1)``."""
    nn = NearestNeighbors(n_neighbors=len(x) - 1, algorithm="brute",
                          metric="euclidean" if metric == "l2" else "cosine").fit(x)
    return nn.kneighbors()


def _sk_retrieval(x, y, ks, metric):
    """(recall@k dict, MAP@R) from scikit-learn's ranking and ``average_precision_score``."""
    dist, idx = _sk_neighbours(x, metric)
    hits, aps = dict.fromkeys(ks, 0), []
    for q in range(len(x)):
        r = int(np.sum(y == y[q])) - 1
        if r == 0:
            continue                                     # lone label: skipped, as ours
        match = y[idx[q]] == y[q]
        for k in ks:
            hits[k] += bool(match[:k].any())
        top = match[:r]
        aps.append(0.0 if not top.any()
                   else skm.average_precision_score(top, -dist[q, :r]) * top.sum() / r)
    return {k: hits[k] / len(aps) for k in ks}, float(np.mean(aps))


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_retrieval_equals_sklearn_neighbours_and_average_precision(metric):
    rng = np.random.default_rng(11)
    ks = (1, 2, 5, 10)
    for _ in range(3):
        y = rng.integers(0, 6, size=40)
        y[0] = 99                                        # a lone label
        x = rng.normal(size=(40, 5)) + 0.8 * y[:, None] % 3
        want_recall, want_map = _sk_retrieval(x, y, ks, metric)
        assert recall_at_k(x, y, k=ks, metric=metric) == pytest.approx(want_recall, abs=1e-12)
        assert precision_at_1(x, y, metric=metric) == pytest.approx(want_recall[1], abs=1e-12)
        assert map_at_r(x, y, metric=metric) == pytest.approx(want_map, abs=1e-12)


def test_retrieval_ties_index_order_versus_sklearn_pooled_average_precision():
    # query 0 (x = 0, label 0) has R = 2: x = -1 (label 0) and x = 1 (label 1) tie at distance 1,
    # x = 3 (label 0) is farther. Index order puts the earlier one first:
    #   right one first: AP@R = (1/2) * 1 = 1/2;   wrong one first: (1/2) * (1/2) = 1/4
    # average_precision_score pools the tied pair (precision 1/2 at recall 1) in either order:
    #   AP 1/2 on the R nearest, times 1 hit / R = 1/4.
    # The other queries (x = -1: 1/2, x = 3: 1/4) have no ties; the lone label 1 is skipped.
    right_first = (np.array([[0.0], [-1.0], [1.0], [3.0]]), np.array([0, 0, 1, 0]))
    wrong_first = (np.array([[0.0], [1.0], [-1.0], [3.0]]), np.array([0, 1, 0, 0]))
    assert map_at_r(*right_first) == pytest.approx((1 / 2 + 1 / 2 + 1 / 4) / 3, abs=1e-15)
    assert map_at_r(*wrong_first) == pytest.approx((1 / 4 + 1 / 2 + 1 / 4) / 3, abs=1e-15)
    for x, y in (right_first, wrong_first):
        assert _sk_retrieval(x, y, (1,), "l2")[1] == pytest.approx(1 / 3, abs=1e-15)


# ---------------------------------------------------------------------------- segmentation

def _valid(t, p, ignore=255):
    t, p = np.ravel(t), np.ravel(p)
    keep = t != ignore
    return t[keep], p[keep]


def _random_maps(rng, c=5, ignore=255):
    """(B, H, W) truth and prediction; class c - 1 never occurs, 20% of the pixels ignored."""
    t = rng.integers(0, c - 1, size=(3, 6, 7))
    p = np.where(rng.random(t.shape) < 0.6, t, rng.integers(0, c - 1, size=t.shape))
    t[rng.random(t.shape) < 0.2] = ignore
    return t, p


def test_confusion_matrix_and_pixel_accuracy_equal_sklearn(rng):
    for t, p in [(T, P), _random_maps(rng)]:
        cm = confusion_matrix(t, p, 5, ignore_index=255)
        np.testing.assert_array_equal(cm, skm.confusion_matrix(*_valid(t, p), labels=range(5)))
        # labels= alone drops the ignored pixels from scikit-learn's confusion matrix too
        np.testing.assert_array_equal(cm, skm.confusion_matrix(np.ravel(t), np.ravel(p),
                                                               labels=range(5)))
        assert pixel_accuracy(t, p, 5, 255) == pytest.approx(skm.accuracy_score(*_valid(t, p)))
    # no ignore_index, every class present
    t, p = rng.integers(0, 3, size=(2, 5, 5)), rng.integers(0, 3, size=(2, 5, 5))
    np.testing.assert_array_equal(confusion_matrix(t, p, 3),
                                  skm.confusion_matrix(t.ravel(), p.ravel(), labels=range(3)))


def test_iou_equals_jaccard_score_with_the_absent_class_convention(rng):
    for t, p in [(T, P), _random_maps(rng)]:
        tv, pv = _valid(t, p)
        ours = per_class_iou(t, p, 5, ignore_index=255)
        assert np.isnan(ours[4]) and not np.isnan(ours[:4]).any()
        with pytest.warns(UndefinedMetricWarning, match="ill-defined"):
            theirs = skm.jaccard_score(tv, pv, labels=range(5), average=None)
        assert theirs[4] == 0.0                                  # scikit-learn: 0, with a warning
        np.testing.assert_allclose(ours[:4], theirs[:4], rtol=1e-12)
        # macro: scikit-learn without labels= averages the classes present, as we do
        assert mean_iou(t, p, 5, 255) == pytest.approx(skm.jaccard_score(tv, pv, average="macro"))
        with pytest.warns(UndefinedMetricWarning):
            all_five = skm.jaccard_score(tv, pv, labels=range(5), average="macro")
        assert all_five == pytest.approx(mean_iou(t, p, 5, 255) * 4 / 5)     # the 0 averaged in
    # by hand (T, P): class 0 1/4, class 1 2/5 (test_dice.py's map), classes 2, 3 only on one side
    np.testing.assert_allclose(per_class_iou(T, P, 5, 255), [1 / 4, 2 / 5, 0, 0, np.nan])


def test_dice_equals_f1_score_with_the_absent_class_convention(rng):
    for t, p in [(T, P), _random_maps(rng)]:
        tv, pv = _valid(t, p)
        ours = per_class_dice(t, p, 5, ignore_index=255)
        with warnings.catch_warnings():
            warnings.simplefilter("error")                       # zero_division=nan: no warning
            nan_f1 = skm.f1_score(tv, pv, labels=range(5), average=None, zero_division=np.nan)
            nan_macro = skm.f1_score(tv, pv, labels=range(5), average="macro",
                                     zero_division=np.nan)
        np.testing.assert_allclose(ours, nan_f1, rtol=1e-12)      # NaN for class 4 in both
        assert mean_dice(t, p, 5, 255) == pytest.approx(nan_macro, rel=1e-12)
        assert mean_dice(t, p, 5, 255) == pytest.approx(skm.f1_score(tv, pv, average="macro"))
        with pytest.warns(UndefinedMetricWarning, match="ill-defined"):
            zero_f1 = skm.f1_score(tv, pv, labels=range(5), average=None)
        np.testing.assert_allclose(zero_f1, np.nan_to_num(ours), rtol=1e-12)   # 0, not NaN
    np.testing.assert_allclose(per_class_dice(T, P, 5, 255), DICE, rtol=1e-12)
    assert skm.f1_score(*_valid(T, P), average="macro") == pytest.approx(MEAN, rel=1e-12)


def test_sklearn_labels_alone_is_not_ignore_index():
    # The ignored pixel of T (255) is predicted as class 4. f1_score(labels=range(5)) counts that
    # prediction as a false positive of class 4 (Dice 0); we skip the pixel (class 4 absent: NaN)
    f1 = skm.f1_score(np.ravel(T), np.ravel(P), labels=range(5), average=None,
                      zero_division=np.nan)
    assert f1[4] == 0.0 and np.isnan(per_class_dice(T, P, 5, ignore_index=255)[4])
    np.testing.assert_allclose(f1[:4], DICE[:4], rtol=1e-12)


def test_streaming_mean_dice_equals_f1_score_on_the_concatenation(rng):
    batches = _batches(rng)
    metric = MeanDice(5, ignore_index=255)
    ts, ps = [], []
    for y, logits in batches:
        metric.update_state(y, logits)
        ts.append(y[..., 0])
        ps.append(logits.argmax(-1))
    tv, pv = _valid(np.concatenate([t.ravel() for t in ts]),
                    np.concatenate([p.ravel() for p in ps]))
    want = skm.f1_score(tv, pv, labels=range(5), average="macro", zero_division=np.nan)
    assert float(metric.result()) == pytest.approx(want, rel=1e-5)
    np.testing.assert_allclose(np.asarray(metric.per_class_result()),
                               skm.f1_score(tv, pv, labels=range(5), average=None,
                                            zero_division=np.nan), rtol=1e-5)
