"""zoo.metrics.segmentation and zoo.metrics.depth: hand-computed cases, NumPy loops, streaming."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from zoo.losses import ScaleInvariantLoss, SparsePixelCrossEntropy
from zoo.metrics import (DepthRMSE, MeanDice, MeanIoU, PixelAccuracy, confusion_matrix,
                         depth_metrics, mean_dice, mean_iou, per_class_iou, pixel_accuracy,
                         scale_invariant_error)

# ------------------------------------------------------------------ segmentation, by hand

# 3x3 map, 3 classes, the corner pixel ignored (255):
#   truth [[0, 0, 1], [1, 2, 2], [2, 2, 255]]   prediction [[0, 1, 1], [1, 2, 0], [2, 2, 1]]
# (true, pred) pairs: (0,0) (0,1) (1,1) (1,1) (2,2) (2,0) (2,2) (2,2); (255,1) is skipped.
T3 = np.array([[[0, 0, 1], [1, 2, 2], [2, 2, 255]]])
P3 = np.array([[[0, 1, 1], [1, 2, 0], [2, 2, 1]]])
CM3 = np.array([[1, 1, 0],
                [0, 2, 0],
                [1, 0, 3]])
# IoU_c = n_cc / (row_c + col_c - n_cc):  1/(2+2-1), 2/(2+3-2), 3/(4+3-3)
IOU3 = [1 / 3, 2 / 3, 3 / 4]


def test_confusion_matrix_iou_and_accuracy_by_hand():
    np.testing.assert_array_equal(confusion_matrix(T3, P3, 3, ignore_index=255), CM3)
    np.testing.assert_allclose(per_class_iou(T3, P3, 3, ignore_index=255), IOU3, rtol=1e-12)
    assert mean_iou(T3, P3, 3, ignore_index=255) == pytest.approx((1 / 3 + 2 / 3 + 3 / 4) / 3)
    assert pixel_accuracy(T3, P3, 3, ignore_index=255) == pytest.approx(6 / 8)
    # (B, H, W, 1) maps give the same matrix
    np.testing.assert_array_equal(confusion_matrix(T3[..., None], P3[..., None], 3, 255), CM3)


def test_absent_class_is_nan_and_left_out_of_the_mean():
    # 2x2: class 0 IoU 1/2 (1 hit, 2 true, 1 pred), class 1 IoU 2/3, class 2 nowhere -> NaN.
    t, p = np.array([[[0, 0], [1, 1]]]), np.array([[[0, 1], [1, 1]]])
    iou = per_class_iou(t, p, num_classes=3)
    np.testing.assert_allclose(iou[:2], [1 / 2, 2 / 3])
    assert math.isnan(iou[2])
    assert mean_iou(t, p, 3) == pytest.approx((1 / 2 + 2 / 3) / 2)
    # keras' MeanIoU leaves absent classes out the same way
    k = keras.metrics.MeanIoU(num_classes=3)
    k.update_state(t, p)
    assert float(k.result()) == pytest.approx((1 / 2 + 2 / 3) / 2, rel=1e-6)


def test_perfect_prediction_iou_one():
    t = np.array([[[0, 1, 2], [2, 1, 0]]])
    assert mean_iou(t, t, 3) == 1.0 and pixel_accuracy(t, t, 3) == 1.0


def np_confusion(t, p, c, ignore=None):
    """One pixel at a time."""
    cm = np.zeros((c, c), int)
    for a, b in zip(np.ravel(t), np.ravel(p)):
        if a != ignore:
            cm[a, b] += 1
    return cm


def test_confusion_matrix_matches_a_loop(rng):
    t = rng.integers(0, 4, size=(3, 5, 6))
    t[rng.random(t.shape) < 0.2] = 255
    p = rng.integers(0, 4, size=t.shape)
    np.testing.assert_array_equal(confusion_matrix(t, p, 4, 255), np_confusion(t, p, 4, 255))


def _batches(rng, c=4, ignore=255):
    out = []
    for b in (2, 3):
        y = rng.integers(0, c, size=(b, 4, 5, 1))
        y[rng.random(y.shape) < 0.2] = ignore
        out.append((y, rng.normal(size=(b, 4, 5, c)).astype("float32")))
    return out


def test_streaming_metrics_over_two_batches_equal_numpy_on_the_concatenation(rng):
    batches = _batches(rng)
    ours = [MeanIoU(4, ignore_index=255), PixelAccuracy(4, ignore_index=255)]
    theirs = keras.metrics.MeanIoU(4, ignore_class=255, sparse_y_pred=False)
    for y, logits in batches:
        for m in ours + [theirs]:
            m.update_state(y, logits)
    y = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches]).argmax(-1)
    assert float(ours[0].result()) == pytest.approx(mean_iou(y, labels, 4, 255), rel=1e-6)
    assert float(ours[0].result()) == pytest.approx(float(theirs.result()), rel=1e-7)
    assert float(ours[1].result()) == pytest.approx(pixel_accuracy(y, labels, 4, 255), rel=1e-6)
    for m in ours:
        m.reset_state()
        assert float(m.result()) == 0.0
    # sparse_y_pred=True: y_pred already holds class ids
    m = MeanIoU(4, ignore_index=255, sparse_y_pred=True)
    m.update_state(y, labels)
    assert float(m.result()) == pytest.approx(mean_iou(y, labels, 4, 255), rel=1e-6)


def test_segmentation_errors():
    t = np.array([[[0, 1], [2, 255]]])
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\) or 255\. Received a value 2"):
        confusion_matrix(t, np.zeros_like(t), 2, ignore_index=255)
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\)\. Received a value 255"):
        mean_iou(t, np.zeros_like(t), 3)
    with pytest.raises(ValueError, match=r"`y_pred_labels` must hold class ids .* value -1"):
        pixel_accuracy(t, -np.ones_like(t), 3, ignore_index=255)
    with pytest.raises(ValueError, match="same shape.*argmax"):
        mean_iou(t, np.zeros((1, 2, 2, 3)), 3, ignore_index=255)    # scores, not labels
    with pytest.raises(ValueError, match="integer class ids"):
        mean_iou(t, np.full(t.shape, 0.5), 3, ignore_index=255)
    with pytest.raises(ValueError, match="no valid pixel"):
        mean_iou(np.full((1, 2, 2), 255), np.zeros((1, 2, 2), int), 3, ignore_index=255)
    with pytest.raises(ValueError, match="no valid pixel"):
        pixel_accuracy(np.full((1, 2, 2), 255), np.zeros((1, 2, 2), int), 3, ignore_index=255)
    with pytest.raises(ValueError, match="`num_classes` must be an integer >= 1"):
        confusion_matrix(t, t, 0)


# ------------------------------------------------------------------ depth, by hand

# truth [[1, 2], [0, 5]] (one missing pixel), prediction [[1.5, 2], [7, 9]]:
# errors 0.5, 0, 4 on the 3 valid pixels; ratios max(y/y*, y*/y) = 1.5, 1, 1.8.
Y_D = np.array([[[1.0, 2.0], [0.0, 5.0]]])
P_D = np.array([[[1.5, 2.0], [7.0, 9.0]]])
HAND = {
    "rmse": math.sqrt((0.25 + 0 + 16) / 3),
    "log_rmse": math.sqrt((math.log(1.5) ** 2 + 0 + math.log(1.8) ** 2) / 3),
    "abs_rel": (0.5 / 1 + 0 / 2 + 4 / 5) / 3,
    "sq_rel": (0.25 / 1 + 0 / 2 + 16 / 5) / 3,
    "log10": (math.log10(1.5) + 0 + math.log10(1.8)) / 3,
    "delta1": 1 / 3,      # only the ratio 1 is < 1.25
    "delta2": 2 / 3,      # 1.5 < 1.5625
    "delta3": 3 / 3,      # 1.8 < 1.953125
}


def test_depth_metrics_by_hand():
    got = depth_metrics(Y_D, P_D)
    assert set(got) == set(HAND)
    for k, v in HAND.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k
    # the prediction at the missing pixel does not matter; nor does a NaN hole or (B,H,W,1)
    holes = np.concatenate([Y_D, [[[np.nan, np.nan]]]], axis=1)[..., None]
    other = np.concatenate([P_D, [[[3.0, 4.0]]]], axis=1)[..., None]
    other[0, 1, 0] = 1e6
    assert depth_metrics(holes, other) == pytest.approx(got, rel=1e-12)


def np_depth(t, p):
    """The formulas, one pixel at a time."""
    n = len(t)
    ratio = [max(a / b, b / a) for a, b in zip(t, p)]
    return {"rmse": math.sqrt(sum((b - a) ** 2 for a, b in zip(t, p)) / n),
            "log_rmse": math.sqrt(sum((math.log(b) - math.log(a)) ** 2
                                      for a, b in zip(t, p)) / n),
            "abs_rel": sum(abs(b - a) / a for a, b in zip(t, p)) / n,
            "sq_rel": sum((b - a) ** 2 / a for a, b in zip(t, p)) / n,
            "log10": sum(abs(math.log10(b) - math.log10(a)) for a, b in zip(t, p)) / n,
            **{f"delta{k}": sum(r < 1.25 ** k for r in ratio) / n for k in (1, 2, 3)}}


def _depth_set(rng):
    y = rng.uniform(0.5, 12.0, size=(3, 4, 5))
    p = y * rng.uniform(0.6, 1.6, size=y.shape)
    y[0, :2] = 0.0            # image 0 has fewer valid pixels than the others
    y[1, 0, 0] = np.nan
    y[2, 3, 4] = 50.0         # beyond max_depth=10 below
    p[2, 0, 0] = 0.0          # clipped up to min_depth
    return y, p


def test_depth_metrics_pooled_and_per_image_match_numpy(rng):
    y, p = _depth_set(rng)
    for max_depth in (None, 10.0):
        hi = math.inf if max_depth is None else max_depth
        keep = np.isfinite(y) & (y >= 1e-3) & (y <= hi)
        pc = np.clip(p, 1e-3, hi)
        want = np_depth(y[keep], pc[keep])
        got = depth_metrics(y, p, max_depth=max_depth)
        for k in want:
            assert got[k] == pytest.approx(want[k], rel=1e-9), (k, max_depth)
        rows = [np_depth(yi[ki], pi[ki]) for yi, pi, ki in zip(y, pc, keep)]
        got = depth_metrics(y, p, max_depth=max_depth, per_image=True)
        for k in want:
            assert got[k] == pytest.approx(np.mean([r[k] for r in rows]), rel=1e-9), k
        # pooling and per-image averaging differ when images have unequal valid counts
        assert got["rmse"] != pytest.approx(depth_metrics(y, p, max_depth=max_depth)["rmse"])


def test_scale_invariant_error(rng):
    # d = (log 2, 0): sqrt(mean d^2 - (mean d)^2) = sqrt(log2^2/2 - log2^2/4) = log(2)/2
    assert scale_invariant_error([[[1.0, 1.0]]], [[[2.0, 1.0]]]) == pytest.approx(math.log(2) / 2)
    y = rng.uniform(0.5, 5.0, size=(2, 3, 3))
    assert scale_invariant_error(y, 3.0 * y) == pytest.approx(0.0, abs=1e-7)
    # per image it is the square root of the scale-invariant loss with lambda = 1
    p = rng.uniform(0.5, 5.0, size=y.shape)
    y[0, 0, 0] = 0.0
    per = [math.sqrt(float(ScaleInvariantLoss(lam=1.0)(y[i:i + 1].astype("float32"),
                                                         p[i:i + 1].astype("float32"))))
           for i in range(2)]
    assert scale_invariant_error(y, p) == pytest.approx(np.mean(per), rel=1e-5)


def test_depth_rmse_streams_over_batches(rng):
    y, p = _depth_set(rng)
    y2, p2 = _depth_set(np.random.default_rng(1))
    for max_depth in (None, 10.0):
        m = DepthRMSE(max_depth=max_depth)
        m.update_state(y[..., None].astype("float32"), p[..., None].astype("float32"))
        m.update_state(y2.astype("float32"), p2.astype("float32"))
        want = depth_metrics(np.concatenate([y, y2]), np.concatenate([p, p2]),
                             max_depth=max_depth)["rmse"]
        assert float(m.result()) == pytest.approx(want, rel=1e-5)
    # a zero per-image sample weight drops that image
    m = DepthRMSE()
    m.update_state(y.astype("float32"), p.astype("float32"), sample_weight=np.array([1, 0, 1]))
    assert float(m.result()) == pytest.approx(depth_metrics(y[[0, 2]], p[[0, 2]])["rmse"],
                                              rel=1e-5)


def test_depth_errors():
    with pytest.raises(ValueError, match=r"same shape \(B, H, W\).*\(1, 2, 2\) and \(1, 2, 3\)"):
        depth_metrics(np.ones((1, 2, 2)), np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="No valid pixel"):
        depth_metrics(np.zeros((1, 2, 2)), np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="No valid pixel"):
        scale_invariant_error(np.full((1, 2, 2), 90.0), np.ones((1, 2, 2)), max_depth=80.0)
    with pytest.raises(ValueError, match="`y_pred` must be finite"):
        depth_metrics(np.ones((1, 2, 2)), np.full((1, 2, 2), np.nan))
    with pytest.raises(ValueError, match="`min_depth` must be a number > 0"):
        DepthRMSE(min_depth=0.0)
    with pytest.raises(ValueError, match="`max_depth` must be None or a number > min_depth"):
        depth_metrics(np.ones((1, 2, 2)), np.ones((1, 2, 2)), min_depth=1.0, max_depth=0.5)


@pytest.mark.parametrize("metric", [MeanIoU(3, ignore_index=255), PixelAccuracy(2),
                                    MeanIoU(3, sparse_y_pred=True),
                                    DepthRMSE(min_depth=0.1, max_depth=10.0), MeanDice(3),
                                    MeanDice(4, ignore_index=255, sparse_y_pred=True,
                                             name="dice")])
def test_metric_config_round_trip(metric):
    again = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == metric.get_config()


# ------------------------------------------------------------------ compile() on this backend

def test_metrics_in_compile_fit_evaluate(rng):
    """Streaming metrics inside a compiled step (tf.function / jax.jit) equal the NumPy ones."""
    x = rng.normal(size=(4, 4, 4, 3)).astype("float32")
    y = rng.integers(0, 3, size=(4, 4, 4, 1))
    y[:, 0, 0] = 255
    inputs = keras.Input((4, 4, 3))
    seg = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    seg.compile(optimizer="sgd", loss=SparsePixelCrossEntropy(ignore_index=255),
                metrics=[MeanIoU(3, ignore_index=255), PixelAccuracy(3, ignore_index=255),
                         MeanDice(3, ignore_index=255)])
    seg.fit(x, y, batch_size=2, epochs=1, verbose=0)
    got = seg.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    labels = np.asarray(seg.predict(x, verbose=0)).argmax(-1)
    assert got["mean_iou"] == pytest.approx(mean_iou(y, labels, 3, 255), rel=1e-5)
    assert got["pixel_accuracy"] == pytest.approx(pixel_accuracy(y, labels, 3, 255), rel=1e-5)
    assert got["mean_dice"] == pytest.approx(mean_dice(y, labels, 3, 255), rel=1e-5)

    d = rng.uniform(0.5, 3.0, size=(4, 4, 4, 1)).astype("float32")
    d[0, :2] = 0.0
    depth = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="softplus")(inputs))
    depth.compile(optimizer="sgd", loss=ScaleInvariantLoss(), metrics=[DepthRMSE()])
    depth.fit(x, d, batch_size=2, epochs=1, verbose=0)
    got = depth.evaluate(x, d, batch_size=2, verbose=0, return_dict=True)
    want = depth_metrics(d, np.asarray(depth.predict(x, verbose=0)))["rmse"]
    assert got["depth_rmse"] == pytest.approx(want, rel=1e-5)
    assert np.isfinite(got["loss"])
