"""zoo.metrics.verification and zoo.metrics.retrieval: hand-computed cases, brute force, errors."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from zoo.metrics import (
    map_at_r,
    pairwise_distances,
    precision_at_1,
    recall_at_k,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_accuracy,
)

# Six pairs with ties at 0.2 (one same, one different) and 0.5 (one same, one different).
D = [0.2, 0.5, 0.5, 0.9, 0.2, 0.7]
S = [1, 1, 0, 0, 0, 1]


# ------------------------------------------------------------------ verification, by hand

def test_roc_curve_groups_ties_one_point_per_unique_distance():
    far, tar, t = roc_curve(D, S)
    # d <= 0.2 accepts pairs 0 (same) and 4 (diff); <= 0.5 adds 1 (same), 2 (diff);
    # <= 0.7 adds 5 (same); <= 0.9 adds 3 (diff). 3 same, 3 different pairs.
    np.testing.assert_array_equal(t, [-np.inf, 0.2, 0.5, 0.7, 0.9, np.inf])
    np.testing.assert_allclose(far, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(tar, [0, 1 / 3, 2 / 3, 1, 1, 1], rtol=0, atol=1e-15)


def test_roc_auc_hand_value():
    # trapezoids: 1/3 * (0 + 1/3)/2 + 1/3 * (1/3 + 2/3)/2 + 0 + 1/3 * 1 = 10/18;
    # Mann-Whitney: same {.2,.5,.7} vs diff {.5,.9,.2}: 2.5 + 1.5 + 1 = 5 of 9.
    assert roc_auc(D, S) == pytest.approx(5 / 9, abs=1e-12)
    assert roc_auc([0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]) == 0.0
    assert roc_auc([0.3, 0.3, 0.3, 0.3], [1, 0, 1, 0]) == 0.5


def test_roc_auc_equals_brute_force_mann_whitney_with_ties(rng):
    for _ in range(3):
        d = rng.integers(0, 8, size=150).astype(float) / 4     # many ties
        s = rng.integers(0, 2, size=150)
        pos, neg = d[s == 1], d[s == 0]
        wins = 0.0
        for dp in pos:
            for dn in neg:
                wins += 1.0 if dp < dn else (0.5 if dp == dn else 0.0)
        assert roc_auc(d, s) == pytest.approx(wins / (pos.size * neg.size), abs=1e-12)


def test_verification_accuracy_best_threshold_by_hand():
    # correct pairs: accept nothing 3, <=.2 3, <=.5 3, <=.7 4, <=.9 3 -> best is d <= 0.7,
    # reported as the midpoint between 0.7 and 0.9.
    acc, t = verification_accuracy(D, S)
    assert acc == pytest.approx(4 / 6, abs=1e-15)
    assert t == pytest.approx(0.8, abs=1e-15)
    # the chosen threshold reproduces the accuracy
    assert verification_accuracy(D, S, threshold=t)[0] == acc


def test_verification_accuracy_fixed_threshold_by_hand():
    # d <= 0.5 predicts [same, same, same, diff, same, diff] vs [1, 1, 0, 0, 0, 1]
    assert verification_accuracy(D, S, threshold=0.5) == (0.5, 0.5)
    assert verification_accuracy(D, S, threshold=0.0) == (0.5, 0.0)


def test_verification_accuracy_end_candidates_and_tie_rule():
    # accept nothing: 1 right; d <= 1: 0 right; d <= 2: 1 right -> first (smallest) wins: min - 1
    assert verification_accuracy([1.0, 2.0], [0, 1]) == (0.5, 0.0)
    # one class alone is allowed; all same -> accept everything, max + 1
    assert verification_accuracy([1.0, 2.0, 3.0], [1, 1, 1]) == (1.0, 4.0)
    assert verification_accuracy([1.0, 2.0, 3.0], [0, 0, 0]) == (1.0, 0.0)


def test_verification_accuracy_best_matches_brute_force(rng):
    d = rng.integers(0, 20, size=120).astype(float)
    s = (rng.random(120) < 1 / (1 + np.exp(d - 10))).astype(int)   # closer -> more often same
    u = np.unique(d)
    candidates = np.concatenate([[u[0] - 1], (u[:-1] + u[1:]) / 2, [u[-1] + 1]])
    brute = max(np.mean((d <= c) == (s == 1)) for c in candidates)
    acc, t = verification_accuracy(d, s)
    assert acc == pytest.approx(brute, abs=1e-15)
    assert np.mean((d <= t) == (s == 1)) == pytest.approx(acc, abs=1e-15)


def test_tar_at_far_by_hand():
    assert tar_at_far(D, S, far=1 / 3) == (pytest.approx(1 / 3), 0.2)
    assert tar_at_far(D, S, far=0.5) == (pytest.approx(1 / 3), 0.2)
    assert tar_at_far(D, S, far=2 / 3) == (1.0, 0.7)
    assert tar_at_far(D, S, far=1.0) == (1.0, 0.7)       # smallest threshold reaching TAR 1
    # the closest group (0.2) already holds a different pair: nothing can be accepted
    assert tar_at_far(D, S, far=1e-3) == (0.0, -math.inf)
    assert tar_at_far(D, S) == (0.0, -math.inf)          # default far=1e-3


def test_tar_at_far_matches_brute_force(rng):
    d = rng.integers(0, 30, size=300).astype(float)
    s = (rng.random(300) < 1 / (1 + np.exp(d - 12))).astype(int)
    n_pos, n_neg = s.sum(), (1 - s).sum()
    for far in (0.01, 0.1, 0.3, 1.0):
        best = 0.0
        for t in np.unique(d):
            acc = d <= t
            if np.sum(acc & (s == 0)) / n_neg <= far:
                best = max(best, np.sum(acc & (s == 1)) / n_pos)
        tar, t = tar_at_far(d, s, far=far)
        assert tar == pytest.approx(best, abs=1e-15)
        assert np.sum((d <= t) & (s == 0)) / n_neg <= far


def test_pairwise_distances_by_hand():
    a = [[0.0, 0.0], [3.0, 4.0]]
    b = [[0.0, 0.0], [0.0, 1.0], [6.0, 8.0]]
    np.testing.assert_allclose(pairwise_distances(a, b), [[0, 1, 10], [5, math.sqrt(18), 5]],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(pairwise_distances(a, b, "squared_l2"),
                               [[0, 1, 100], [25, 18, 25]], rtol=0, atol=1e-12)
    # a zero vector has cosine similarity 0 (distance 1); (3,4)/5 . (0,1) = 0.8
    np.testing.assert_allclose(pairwise_distances(a, b, "cosine"), [[1, 1, 1], [1, 0.2, 0]],
                               rtol=0, atol=1e-12)
    same = pairwise_distances(a)
    assert same.shape == (2, 2) and same[0, 0] == 0 and same[1, 1] == 0
    assert same[0, 1] == pytest.approx(5.0)


def test_pairwise_distances_match_brute_force(rng):
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    l2 = np.array([[np.linalg.norm(x - y) for y in b] for x in a])
    cos = np.array([[1 - x @ y / np.linalg.norm(x) / np.linalg.norm(y) for y in b] for x in a])
    np.testing.assert_allclose(pairwise_distances(a, b), l2, atol=1e-10)
    np.testing.assert_allclose(pairwise_distances(a, b, "squared_l2"), l2 ** 2, atol=1e-10)
    np.testing.assert_allclose(pairwise_distances(a, b, "cosine"), cos, atol=1e-10)


# ------------------------------------------------------------------ retrieval, by hand

# Six points on a line, x = 0..5, labels 0 0 1 0 1 1. Nearest others (ties -> lower index):
#   q0: 1 2 3 4 5   labels 0 1 0 1 1   R=2 top2 [1,0] AP=.5   first hit at rank 1
#   q1: 0 2 3 4 5   labels 0 1 0 1 1   R=2 top2 [1,0] AP=.5   rank 1 (0 beats 2 on the tie)
#   q2: 1 3 0 4 5   labels 0 0 0 1 1   R=2 top2 [0,0] AP=0    rank 4
#   q3: 2 4 1 5 0   labels 1 1 0 1 0   R=2 top2 [0,0] AP=0    rank 3
#   q4: 3 5 2 1 0   labels 0 1 1 0 0   R=2 top2 [0,1] AP=.25  rank 2
#   q5: 4 3 2 1 0   labels 1 0 1 0 0   R=2 top2 [1,0] AP=.5   rank 1
LINE_X = np.arange(6, dtype=float)[:, None]
LINE_Y = np.array([0, 0, 1, 0, 1, 1])


def test_line_example_by_hand():
    assert precision_at_1(LINE_X, LINE_Y) == 0.5
    assert recall_at_k(LINE_X, LINE_Y, k=(1, 2, 3, 4, 5)) == {
        1: 0.5, 2: pytest.approx(4 / 6), 3: pytest.approx(5 / 6), 4: 1.0, 5: 1.0}
    assert map_at_r(LINE_X, LINE_Y) == pytest.approx(1.75 / 6, abs=1e-15)   # 7/24


def test_lone_labels_are_skipped():
    # a far-away item with its own label changes nothing: it is neither a query nor near
    x = np.concatenate([LINE_X, [[100.0]]])
    y = np.concatenate([LINE_Y, [7]])
    assert precision_at_1(x, y) == 0.5
    assert recall_at_k(x, y, k=2) == {2: pytest.approx(4 / 6)}
    assert map_at_r(x, y) == pytest.approx(7 / 24, abs=1e-15)


def test_map_at_r_full_ranking_and_r_cutoff():
    # query at 0 with R=3 retrieves [same, diff, same | same] -> (1 + 0 + 2/3) / 3;
    # the 4th (same) item lies beyond R and does not count.
    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [50.0], [51.0]])
    y = np.array([0, 0, 1, 0, 0, 1, 1])
    # per query (R: 3 for label 0, 2 for label 1):
    #   q0 x=0: 1(0) 2(1) 3(0)           -> (1 + 2/3) / 3 = 5/9
    #   q1 x=1: 0(0) 2(1) 3(0)           -> (1 + 2/3) / 3 = 5/9
    #   q3 x=3: 2(1) 4(0) 1(0)           -> (1/2 + 2/3) / 3 = 7/18
    #   q4 x=4: 3(0) 2(1) 1(0)           -> (1 + 2/3) / 3 = 5/9
    #   q2 x=2: 1(0) 3(0)                -> 0
    #   q5 x=50: 6(1) 4(0)               -> (1) / 2 = 1/2
    #   q6 x=51: 5(1) 4(0)               -> 1/2
    expected = (5 / 9 + 5 / 9 + 7 / 18 + 5 / 9 + 0 + 0.5 + 0.5) / 7
    assert map_at_r(x, y) == pytest.approx(expected, abs=1e-15)


def test_ties_break_by_index_order():
    # the query at x=1 (index 2) is equally far from index 0 and index 1: index 0 ranks first
    x = [[0.0], [2.0], [1.0]]
    assert precision_at_1(x, [0, 1, 0]) == 1.0    # index 0 has the query's label: hit
    assert precision_at_1(x, [1, 0, 0]) == 0.5    # index 0 has the other label: miss
    assert map_at_r(x, [1, 0, 0]) == 0.5


def test_perfect_clustering_scores_one():
    x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert precision_at_1(x, y) == 1.0
    assert recall_at_k(x, y, k=(1, 2)) == {1: 1.0, 2: 1.0}
    assert map_at_r(x, y) == 1.0


def test_cosine_metric_differs_from_l2_by_hand():
    # same direction per class, different lengths: cosine groups them, l2 does not
    x = np.array([[1.0, 0.0], [5.0, 0.5], [0.0, 1.0], [0.2, 3.0]])
    y = np.array([0, 0, 1, 1])
    assert precision_at_1(x, y, metric="cosine") == 1.0
    assert map_at_r(x, y, metric="cosine") == 1.0
    # l2: (1,0) is nearest (0,1) [miss]; (5,.5) nearest (1,0) [hit];
    #     (0,1) nearest (1,0) [miss]; (.2,3) nearest (0,1) [hit]
    assert precision_at_1(x, y, metric="l2") == 0.5
    assert map_at_r(x, y, metric="l2") == 0.5          # R = 1: AP@R = P@1 per query


def _brute_force_retrieval(x, y, ks):
    n = len(x)
    p1, hits, aps = [], {k: [] for k in ks}, []
    for q in range(n):
        others = [i for i in range(n) if i != q]
        r = sum(y[i] == y[q] for i in others)
        if r == 0:
            continue
        ranked = sorted(others, key=lambda i: (float(np.sum((x[i] - x[q]) ** 2)), i))
        rel = [int(y[i] == y[q]) for i in ranked]
        p1.append(rel[0])
        for k in ks:
            hits[k].append(int(any(rel[:k])))
        aps.append(sum(sum(rel[:i]) / i * rel[i - 1] for i in range(1, r + 1)) / r)
    return np.mean(p1), {k: np.mean(v) for k, v in hits.items()}, np.mean(aps)


def test_retrieval_matches_brute_force_with_ties(rng):
    x = rng.integers(0, 4, size=(60, 2)).astype(float)    # integer grid: many exact ties
    y = rng.integers(0, 5, size=60)
    p1, rk, mapr = _brute_force_retrieval(x, y, (1, 3, 10))
    assert precision_at_1(x, y) == pytest.approx(p1, abs=1e-15)
    got = recall_at_k(x, y, k=(1, 3, 10))
    for k in (1, 3, 10):
        assert got[k] == pytest.approx(rk[k], abs=1e-15)
    assert map_at_r(x, y) == pytest.approx(mapr, abs=1e-12)


def test_retrieval_blocks_give_the_same_answer(rng, monkeypatch):
    import zoo.metrics.retrieval as retrieval
    x = rng.normal(size=(50, 3))
    y = rng.integers(0, 4, size=50)
    whole = (precision_at_1(x, y), recall_at_k(x, y, k=(1, 4)), map_at_r(x, y))
    monkeypatch.setattr(retrieval, "_BLOCK_ELEMENTS", 7 * 50)   # 7 query rows per block
    assert precision_at_1(x, y) == whole[0]
    assert recall_at_k(x, y, k=(1, 4)) == whole[1]
    assert map_at_r(x, y) == pytest.approx(whole[2], abs=1e-12)


# ------------------------------------------------------------------ backend tensors

def test_backend_tensors_are_accepted():
    d = keras.ops.convert_to_tensor(np.array(D, dtype="float32"))
    s = keras.ops.convert_to_tensor(np.array(S, dtype="int32"))
    far, tar, _ = roc_curve(d, s)
    assert tar[3] == 1.0 and far[3] == pytest.approx(2 / 3)
    assert roc_auc(d, s) == pytest.approx(5 / 9, abs=1e-7)
    assert verification_accuracy(d, s)[0] == pytest.approx(4 / 6)
    assert tar_at_far(d, s, far=2 / 3)[0] == 1.0
    x = keras.ops.convert_to_tensor(LINE_X.astype("float32"))
    y = keras.ops.convert_to_tensor(LINE_Y.astype("int32"))
    assert precision_at_1(x, y) == 0.5
    assert recall_at_k(x, y, k=2) == {2: pytest.approx(4 / 6)}
    assert map_at_r(x, y) == pytest.approx(7 / 24, abs=1e-12)
    assert pairwise_distances(x)[0, 5] == pytest.approx(5.0)
    assert verification_accuracy(D, S, threshold=keras.ops.convert_to_tensor(0.5)) == (0.5, 0.5)


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("fn", [roc_curve, roc_auc, tar_at_far, verification_accuracy])
def test_pair_input_errors(fn):
    with pytest.raises(ValueError, match=r"same length.*len\(distances\)=3, len\(is_same\)=2"):
        fn([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match=r"`is_same` must hold only 0 and 1.*2"):
        fn([0.1, 0.2, 0.3], [0, 1, 2])
    with pytest.raises(ValueError, match="`distances` must be finite"):
        fn([0.1, np.nan, 0.3], [0, 1, 1])
    with pytest.raises(ValueError, match="`distances` must be a non-empty 1-D"):
        fn([], [])


@pytest.mark.parametrize("fn", [roc_curve, roc_auc, tar_at_far])
def test_roc_undefined_without_both_classes(fn):
    with pytest.raises(ValueError, match="undefined.*3 same and 0 different"):
        fn([0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match="undefined.*0 same and 2 different"):
        fn([0.1, 0.2], [0, 0])


@pytest.mark.parametrize("far", [0, 0.0, -0.1, 1.5, float("nan"), "x"])
def test_tar_at_far_rejects_far_outside_unit_interval(far):
    with pytest.raises(ValueError, match="`far`.*Received far="):
        tar_at_far(D, S, far=far)


def test_verification_accuracy_rejects_bad_threshold():
    with pytest.raises(ValueError, match="`threshold`.*Received threshold=inf"):
        verification_accuracy(D, S, threshold=float("inf"))


def test_pairwise_distances_errors():
    with pytest.raises(ValueError, match="`metric` must be one of.*Received metric='manhattan'"):
        pairwise_distances([[0.0]], metric="manhattan")
    with pytest.raises(ValueError, match="`embeddings_a` must be a 2-D"):
        pairwise_distances([0.0, 1.0])
    with pytest.raises(ValueError, match="same embedding size"):
        pairwise_distances([[0.0, 1.0]], [[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="`embeddings_b` must be finite"):
        pairwise_distances([[0.0]], [[np.inf]])


@pytest.mark.parametrize("fn", [precision_at_1, recall_at_k, map_at_r])
def test_retrieval_input_errors(fn):
    with pytest.raises(ValueError, match="`metric` must be one of.*Received metric='squared_l2'"):
        fn(LINE_X, LINE_Y, metric="squared_l2")
    with pytest.raises(ValueError, match=r"same length.*len\(embeddings\)=6, len\(labels\)=5"):
        fn(LINE_X, LINE_Y[:5])
    with pytest.raises(ValueError, match="`embeddings` must be a 2-D"):
        fn(np.arange(6.0), LINE_Y)
    with pytest.raises(ValueError, match="at least 2 items"):
        fn([[0.0]], [0])
    with pytest.raises(ValueError, match="occurs only once.*3 items with 3 distinct labels"):
        fn([[0.0], [1.0], [2.0]], [0, 1, 2], **({"k": 1} if fn is recall_at_k else {}))
    with pytest.raises(ValueError, match="`embeddings` must be finite"):
        fn([[0.0], [np.nan]], [0, 0])


@pytest.mark.parametrize("k", [0, 6, (1, 7), 2.5, True, ()])
def test_recall_at_k_rejects_bad_k(k):
    with pytest.raises(ValueError, match="`k`"):
        recall_at_k(LINE_X, LINE_Y, k=k)
