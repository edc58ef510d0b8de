"""Dice / F1 segmentation metrics: hand-made maps, a pixel loop, streaming and compile()."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from zoo.metrics import MeanDice, MeanIoU, mean_dice, per_class_dice, per_class_iou

# 2x4 map, 5 classes, one pixel ignored (255, predicted as class 4):
#   truth [[0, 0, 1, 3], [1, 1, 255, 0]]     prediction [[0, 1, 1, 0], [1, 2, 4, 1]]
# (true, pred): (0,0) (0,1) (1,1) (3,0) (1,1) (1,2) (0,1); (255,4) is skipped.
#   class 0: TP 1, in truth 3, predicted 2       -> 2*1 / (3 + 2) = 2/5
#   class 1: TP 2, in truth 3, predicted 4       -> 2*2 / (3 + 4) = 4/7
#   class 2: only predicted (once)               -> 0
#   class 3: only in the truth (once)            -> 0
#   class 4: absent (its one prediction is on the ignored pixel) -> 0/0 = NaN
T = np.array([[[0, 0, 1, 3], [1, 1, 255, 0]]])
P = np.array([[[0, 1, 1, 0], [1, 2, 4, 1]]])
DICE = [2 / 5, 4 / 7, 0.0, 0.0, math.nan]
MEAN = (2 / 5 + 4 / 7 + 0 + 0) / 4     # the absent class is left out of the macro mean


def np_dice(t, p, c, ignore=None):
    """2 TP / (2 TP + FP + FN) per class, one pixel at a time; NaN for an absent class."""
    tp, fp, fn = np.zeros(c), np.zeros(c), np.zeros(c)
    for a, b in zip(np.ravel(t), np.ravel(p)):
        if a == ignore:
            continue
        if a == b:
            tp[a] += 1
        else:
            fn[a] += 1
            fp[b] += 1
    out = np.full(c, np.nan)
    present = 2 * tp + fp + fn > 0
    out[present] = 2 * tp[present] / (2 * tp + fp + fn)[present]
    return out


def test_dice_by_hand_with_absent_only_predicted_and_only_true_classes():
    np.testing.assert_allclose(per_class_dice(T, P, 5, ignore_index=255), DICE, rtol=1e-12)
    np.testing.assert_allclose(np_dice(T, P, 5, 255), DICE, rtol=1e-12)
    assert mean_dice(T, P, 5, ignore_index=255) == pytest.approx(MEAN, rel=1e-12)
    # (B, H, W, 1) maps, and the per-class Dice is F1 = 2 IoU / (1 + IoU), NaN where IoU is
    np.testing.assert_allclose(per_class_dice(T[..., None], P[..., None], 5, 255), DICE)
    iou = per_class_iou(T, P, 5, ignore_index=255)
    np.testing.assert_allclose(per_class_dice(T, P, 5, 255), 2 * iou / (1 + iou), rtol=1e-12)


def test_perfect_and_disjoint_predictions():
    t = np.array([[[0, 1, 2], [2, 1, 0]]])
    assert mean_dice(t, t, 3) == 1.0
    np.testing.assert_array_equal(per_class_dice(t, t, 4), [1.0, 1.0, 1.0, np.nan])
    assert mean_dice(t, (t + 1) % 3, 3) == 0.0          # every pixel wrong: every class 0


def test_dice_matches_a_pixel_loop(rng):
    t = rng.integers(0, 5, size=(3, 6, 7))
    t[rng.random(t.shape) < 0.2] = 255
    t[t == 4] = 0                                       # class 4 only ever predicted
    p = rng.integers(0, 5, size=t.shape)
    p[p == 3] = 1                                       # class 3 only ever in the truth
    want = np_dice(t, p, 6, 255)                        # class 5: absent -> NaN
    np.testing.assert_allclose(per_class_dice(t, p, 6, 255), want, rtol=1e-12)
    assert np.isnan(want[5]) and want[3] == 0.0 and want[4] == 0.0
    assert mean_dice(t, p, 6, 255) == pytest.approx(np.nanmean(want), rel=1e-12)


def test_dice_errors():
    with pytest.raises(ValueError, match="mean Dice is undefined: no valid pixel"):
        mean_dice(np.full((1, 2, 2), 255), np.zeros((1, 2, 2), int), 3, ignore_index=255)
    with pytest.raises(ValueError, match=r"`y_true` must hold class ids in \[0, 4\)\. Received a "
                                         r"value 255"):
        per_class_dice(T, P, 4)                                     # 255 without ignore_index
    with pytest.raises(ValueError, match="same shape.*argmax"):
        mean_dice(T, np.zeros((1, 2, 4, 5)), 5, ignore_index=255)    # scores, not labels
    # every class absent: NaN per class (not an error), as per_class_iou
    assert np.isnan(per_class_dice(np.full((1, 2), 255), np.zeros((1, 2), int), 2, 255)).all()


def _batches(rng, c=5, ignore=255):
    """Three batches of (labels (B, H, W, 1), logits (B, H, W, C)); class c-1 never occurs."""
    out = []
    for b in (2, 1, 2):
        y = rng.integers(0, c - 1, size=(b, 4, 5, 1))
        y[rng.random(y.shape) < 0.2] = ignore
        logits = rng.normal(size=(b, 4, 5, c)).astype("float32")
        logits[..., c - 1] = -10.0                       # never predicted either
        out.append((y, logits))
    return out


def test_streaming_mean_dice_over_batches_equals_numpy_on_the_concatenation(rng):
    batches = _batches(rng)
    metric, iou = MeanDice(5, ignore_index=255), MeanIoU(5, ignore_index=255)
    for y, logits in batches:
        metric.update_state(y, logits)
        iou.update_state(y, logits)
    y = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches]).argmax(-1)
    assert float(metric.result()) == pytest.approx(mean_dice(y, labels, 5, 255), rel=1e-6)
    per_class = keras.ops.convert_to_numpy(metric.per_class_result())
    want = per_class_dice(y, labels, 5, 255)
    assert np.isnan(per_class[4]) and np.isnan(want[4])
    np.testing.assert_allclose(per_class, want, rtol=1e-6)
    # probabilities give the same argmax, hence the same Dice
    again = MeanDice(5, ignore_index=255)
    for y_b, logits in batches:
        again.update_state(y_b, keras.ops.softmax(logits, axis=-1))
    assert float(again.result()) == pytest.approx(float(metric.result()), rel=1e-7)
    # Dice >= IoU class by class, and MeanIoU is left untouched by the subclass
    assert float(metric.result()) > float(iou.result())
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert np.isnan(keras.ops.convert_to_numpy(metric.per_class_result())).all()
    sparse = MeanDice(5, ignore_index=255, sparse_y_pred=True)
    sparse.update_state(y, labels)
    assert float(sparse.result()) == pytest.approx(mean_dice(y, labels, 5, 255), rel=1e-6)
