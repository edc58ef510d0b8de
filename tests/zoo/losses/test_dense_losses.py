"""Segmentation and depth losses against plain NumPy references on hand-made and random maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.zoo.losses.autodiff import value_and_grad

from zoo.losses import (DiceLoss, JaccardLoss, MaskedMeanSquaredError, ScaleInvariantLoss,
                        SparsePixelCrossEntropy, dice_loss, jaccard_loss,
                        scale_invariant_loss, sparse_pixel_crossentropy)

LOG2 = np.log(2.0)


# ------------------------------------------------------------------ NumPy references

def np_log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def np_ce(y, logits, weights=None, ignore=None):
    """sum w_y * (-log p_y) / sum w_y over the pixels not labelled ``ignore``: one loop."""
    y, log_p = np.asarray(y).reshape(-1), np_log_softmax(logits).reshape(len(np.ravel(y)), -1)
    num, den = 0.0, 0.0
    for label, lp in zip(y, log_p):
        if label == ignore:
            continue
        w = 1.0 if weights is None else weights[label]
        num, den = num + w * -lp[label], den + w
    return num / den


def np_overlap(y, probs, kind, smooth=1.0, ignore=None, weights=None):
    """Soft Dice / Jaccard loss with per-class sums over the batch (the definitions)."""
    y, probs = np.asarray(y), np.asarray(probs, np.float64)
    valid = (y != ignore)[..., None] if ignore is not None else np.ones(y.shape + (1,), bool)
    c = probs.shape[-1]
    truth = (y == 1)[..., None] if c == 1 else np.eye(c)[np.where(valid[..., 0], y, 0)]
    p, g = probs * valid, truth * valid
    inter, sp, sg = [(a).sum(axis=(0, 1, 2)) for a in (p * g, p, g)]
    if kind == "dice":
        score = (2 * inter + smooth) / (sp + sg + smooth)
    else:
        score = (inter + smooth) / (sp + sg - inter + smooth)
    w = np.ones(c) if weights is None else np.asarray(weights, np.float64)
    return 1 - (w * score).sum() / w.sum()


def np_si(y_true, y_pred, lam, pred_is_log=False, eps=1e-6):
    """Eigen et al. eq. 4 per image over the valid pixels; 0 for an empty image."""
    out = []
    for t, p in zip(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)):
        t, p = t.reshape(-1), p.reshape(-1)
        ok = np.isfinite(t) & (t > 0)
        if not ok.any():
            out.append(0.0)
            continue
        lp = p[ok] if pred_is_log else np.log(np.maximum(p[ok], eps))
        d = lp - np.log(t[ok])
        n = ok.sum()
        out.append((d ** 2).sum() / n - lam * d.sum() ** 2 / n ** 2)
    return np.array(out)


def softmax(z):
    return np.exp(np_log_softmax(z))


def random_seg(rng, b=2, h=3, w=4, c=3, ignore=None):
    y = rng.integers(0, c, size=(b, h, w))
    if ignore is not None:
        y[rng.random(y.shape) < 0.25] = ignore
    return y, rng.normal(size=(b, h, w, c)).astype("float32") * 2


# ------------------------------------------------------------------ cross-entropy

def test_crossentropy_by_hand_weights_and_ignore():
    # Pixel A: label 0, logits (0, 0) -> p = 1/2, ce = log 2.
    # Pixel B: label 1, logits (0, log 3) -> p = 3/4, ce = log(4/3).
    y = np.array([[[0, 1]]])
    logits = np.array([[[[0.0, 0.0], [0.0, np.log(3.0)]]]], np.float32)
    ce_b = np.log(4 / 3)
    cases = [({}, (LOG2 + ce_b) / 2),
             ({"class_weights": [1.0, 3.0]}, (1 * LOG2 + 3 * ce_b) / (1 + 3)),
             ({"ignore_index": 1}, LOG2)]
    for kwargs, want in cases:
        got = float(SparsePixelCrossEntropy(**kwargs)(y, logits))
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=str(kwargs))
    probs = softmax(logits).astype("float32")
    got = float(SparsePixelCrossEntropy(from_logits=False)(y, probs))
    np.testing.assert_allclose(got, (LOG2 + ce_b) / 2, rtol=1e-6)


@pytest.mark.parametrize("weights", [None, [0.2, 1.0, 3.0]])
@pytest.mark.parametrize("ignore", [None, 255, -1])
def test_crossentropy_matches_numpy_on_random_maps(rng, weights, ignore):
    y, logits = random_seg(rng, ignore=ignore)
    got = float(sparse_pixel_crossentropy(y, logits, class_weights=weights, ignore_index=ignore))
    np.testing.assert_allclose(got, np_ce(y, logits, weights, ignore), rtol=1e-5)
    # (B, H, W, 1) labels give the same value
    got4 = SparsePixelCrossEntropy(class_weights=weights, ignore_index=ignore)(y[..., None],
                                                                              logits)
    np.testing.assert_allclose(float(got4), got, rtol=1e-6)


def test_crossentropy_equals_keras_where_both_apply(rng):
    y, logits = random_seg(rng, b=3, ignore=255)
    ours = float(SparsePixelCrossEntropy(ignore_index=255)(y, logits))
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    np.testing.assert_allclose(ours, float(theirs(y, logits)), rtol=1e-5)


def test_crossentropy_binary_sigmoid_channel(rng):
    y = rng.integers(0, 2, size=(2, 3, 3))
    z = rng.normal(size=(2, 3, 3, 1)).astype("float32")
    s = 1 / (1 + np.exp(-z[..., 0].astype(np.float64)))
    want = np.mean(-(y * np.log(s) + (1 - y) * np.log(1 - s)))
    np.testing.assert_allclose(float(SparsePixelCrossEntropy()(y, z)), want, rtol=1e-5)
    got = float(SparsePixelCrossEntropy(from_logits=False)(y, s[..., None].astype("float32")))
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_crossentropy_all_ignored_is_zero_not_nan():
    y = np.full((1, 2, 2), 255)
    assert float(SparsePixelCrossEntropy(ignore_index=255)(y, np.ones((1, 2, 2, 3)))) == 0.0


# ------------------------------------------------------------------ Dice and Jaccard

# One 2x2 image, C = 2, probabilities (from_logits=False):
#   y = [[0, 1], [1, 1]],  p(class 1) = [[0, 1], [1/2, 1]],  p(class 0) = 1 - p(class 1).
# Class 1: sum pg = 0 + 1 + 1/2 + 1 = 5/2, sum p = 5/2, sum g = 3.
# Class 0: sum pg = 1,                       sum p = 3/2, sum g = 1.
Y_HAND = np.array([[[0, 1], [1, 1]]])
P1 = np.array([[[0.0, 1.0], [0.5, 1.0]]])
P_HAND = np.stack([1 - P1, P1], axis=-1).astype("float32")
DICE = {0: 2 * 1 / (3 / 2 + 1), 1: 2 * (5 / 2) / (5 / 2 + 3)}           # 4/5 and 10/11
JACCARD = {0: 1 / (3 / 2 + 1 - 1), 1: (5 / 2) / (5 / 2 + 3 - 5 / 2)}    # 2/3 and 5/6


def test_dice_and_jaccard_by_hand():
    np.testing.assert_allclose([DICE[0], DICE[1], JACCARD[0], JACCARD[1]],
                               [4 / 5, 10 / 11, 2 / 3, 5 / 6])
    kw = {"from_logits": False, "smooth": 0.0}
    np.testing.assert_allclose(float(DiceLoss(**kw)(Y_HAND, P_HAND)),
                               1 - (4 / 5 + 10 / 11) / 2, rtol=1e-6)
    np.testing.assert_allclose(float(JaccardLoss(**kw)(Y_HAND, P_HAND)),
                               1 - (2 / 3 + 5 / 6) / 2, rtol=1e-6)
    np.testing.assert_allclose(float(DiceLoss(class_weights=[1, 3], **kw)(Y_HAND, P_HAND)),
                               1 - (1 * 4 / 5 + 3 * 10 / 11) / 4, rtol=1e-6)
    # binary: one sigmoid foreground channel -> only the foreground (class 1) score
    np.testing.assert_allclose(float(DiceLoss(**kw)(Y_HAND, P1[..., None].astype("float32"))),
                               1 - 10 / 11, rtol=1e-6)
    np.testing.assert_allclose(
        float(JaccardLoss(**kw)(Y_HAND, P1[..., None].astype("float32"))), 1 - 5 / 6, rtol=1e-6)


def test_ignored_pixels_change_nothing():
    # a third column labelled 255 with a confident wrong prediction
    y = np.concatenate([Y_HAND, np.full((1, 2, 1), 255)], axis=2)
    p = np.concatenate([P_HAND, np.tile([[[[0.0, 1.0]]]], (1, 2, 1, 1))], axis=2)
    p = p.astype("float32")
    for cls, ref in ((DiceLoss, 1 - (4 / 5 + 10 / 11) / 2), (JaccardLoss, 1 - 3 / 4)):
        got = float(cls(from_logits=False, smooth=0.0, ignore_index=255)(y, p))
        np.testing.assert_allclose(got, ref, rtol=1e-6)
    np.testing.assert_allclose(
        float(SparsePixelCrossEntropy(from_logits=False, ignore_index=255)(y, p)),
        float(SparsePixelCrossEntropy(from_logits=False)(Y_HAND, P_HAND)), rtol=1e-6)


def test_perfect_prediction_gives_zero():
    y = np.array([[[0, 1, 2], [2, 2, 1]]])
    onehot = np.eye(3, dtype="float32")[y]
    for cls in (DiceLoss, JaccardLoss):
        assert abs(float(cls(from_logits=False)(y, onehot))) < 1e-6
        assert abs(float(cls()(y, 30.0 * onehot))) < 1e-6           # confident logits
    assert float(SparsePixelCrossEntropy()(y, 30.0 * onehot)) < 1e-6


@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("c", [1, 3])
def test_overlap_losses_match_numpy_on_random_maps(rng, kind, c):
    for ignore, weights, smooth in ((None, None, 1.0), (255, None, 0.5), (255, [1.0] * c, 1.0),
                                    (None, list(range(1, c + 1)), 0.0)):
        y, logits = random_seg(rng, c=max(c, 2), ignore=ignore)
        if c == 1:
            y = np.where(y == 255, 255, y % 2)
            logits = logits[..., :1]
            probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
        else:
            probs = softmax(logits)
        fn = dice_loss if kind == "dice" else jaccard_loss
        got = float(fn(y, logits, smooth=smooth, ignore_index=ignore, class_weights=weights))
        want = np_overlap(y, probs, kind, smooth, ignore, weights)
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=str((ignore, weights, smooth)))


def test_segmentation_gradients_are_finite(rng):
    y, logits = random_seg(rng, ignore=255)
    for loss in (SparsePixelCrossEntropy(ignore_index=255, class_weights=[1, 2, 3]),
                 DiceLoss(ignore_index=255), JaccardLoss(ignore_index=255)):
        value, grad = value_and_grad(lambda z, loss=loss: loss(y, z), logits)
        grad = np.asarray(grad)
        assert np.isfinite(float(value)) and np.isfinite(grad).all(), loss.name
        assert np.abs(grad[y == 255]).max() == 0.0, loss.name    # ignored pixels: no gradient


# ------------------------------------------------------------------ depth

def test_scale_invariant_by_hand():
    # truth (1, e), prediction (e, e): d = (1, 0), n = 2:
    # L = (1 + 0)/2 - lam (1 + 0)^2 / 4  ->  lam = 0.5: 1/2 - 1/8 = 3/8; lam = 1: 1/4.
    y = np.array([[[1.0, np.e]]], np.float32)
    p = np.array([[[np.e, np.e]]], np.float32)
    for lam, want in ((0.5, 3 / 8), (1.0, 1 / 4), (0.0, 1 / 2)):
        np.testing.assert_allclose(float(ScaleInvariantLoss(lam=lam)(y, p)), want, rtol=1e-6)
    # Eigen's nets predict log depth: pass log(p) with pred_is_log=True -> the same value
    got = float(ScaleInvariantLoss(pred_is_log=True)(y, np.log(p)))
    np.testing.assert_allclose(got, 3 / 8, rtol=1e-6)


def test_scale_invariance_with_lambda_one_only(rng):
    y = rng.uniform(0.5, 10.0, size=(2, 4, 5)).astype("float32")
    assert abs(float(ScaleInvariantLoss(lam=1.0)(y, 2.5 * y))) < 1e-6
    np.testing.assert_allclose(float(ScaleInvariantLoss(lam=0.0)(y, 2.5 * y)), np.log(2.5) ** 2,
                               rtol=1e-5)
    np.testing.assert_allclose(float(ScaleInvariantLoss(lam=0.5)(y, 2.5 * y)),
                               0.5 * np.log(2.5) ** 2, rtol=1e-5)


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("pred_is_log", [False, True])
def test_scale_invariant_matches_numpy_with_missing_depth(rng, lam, pred_is_log):
    y = rng.uniform(0.5, 10.0, size=(3, 4, 4)).astype("float32")
    y[0, 0, :2] = 0.0          # missing (0) pixels
    y[1, 2, 3] = np.nan        # a non-finite hole
    y[2] = 0.0                 # an image with no valid pixel at all
    p = rng.uniform(0.5, 10.0, size=y.shape).astype("float32")
    if pred_is_log:
        p = np.log(p)
    got = np.asarray(scale_invariant_loss(y, p, lam=lam, pred_is_log=pred_is_log))
    np.testing.assert_allclose(got, np_si(y, p, lam, pred_is_log), rtol=1e-5, atol=1e-7)
    assert got[2] == 0.0
    # the loss object averages the per-image values (the empty image counts as 0)
    loss = ScaleInvariantLoss(lam=lam, pred_is_log=pred_is_log)
    np.testing.assert_allclose(float(loss(y[..., None], p[..., None])), got.mean(), rtol=1e-5)


def test_missing_depth_does_not_change_the_value(rng):
    y = rng.uniform(1.0, 5.0, size=(1, 3, 3)).astype("float32")
    p = rng.uniform(1.0, 5.0, size=(1, 3, 3)).astype("float32")
    for loss in (ScaleInvariantLoss(), MaskedMeanSquaredError()):
        holes = y.copy()
        holes[0, 1, 1] = 0.0
        other = p.copy()
        other[0, 1, 1] = 1e4       # whatever is predicted at a hole is ignored
        ref = float(loss(holes, p))
        assert float(loss(holes, other)) == pytest.approx(ref, rel=1e-6)
        assert ref != pytest.approx(float(loss(y, p)), rel=1e-3)   # the hole was used before


def test_masked_mse_by_hand():
    # image 1: errors (1, 2) on valid pixels, a hole -> (1 + 4)/2; image 2: error 3 -> 9.
    y = np.array([[[1.0, 2.0, 0.0]], [[2.0, np.nan, 0.0]]], np.float32)
    p = np.array([[[2.0, 4.0, 9.0]], [[5.0, 1.0, 1.0]]], np.float32)
    np.testing.assert_allclose(float(MaskedMeanSquaredError()(y, p)), (5 / 2 + 9) / 2)


def test_depth_gradients_finite_at_zero_difference_and_holes():
    y = np.array([[[1.0, 2.0], [0.0, np.nan]], [[0.0, 0.0], [0.0, 0.0]]], np.float32)
    p = np.array([[[1.0, 2.0], [0.0, 3.0]], [[1.0, 1.0], [1.0, 1.0]]], np.float32)  # exact
    for loss in (ScaleInvariantLoss(), ScaleInvariantLoss(lam=1.0, pred_is_log=True),
                 MaskedMeanSquaredError()):
        value, grad = value_and_grad(lambda x, loss=loss: loss(y, x), p)
        grad = np.asarray(grad)
        assert np.isfinite(float(value)) and np.isfinite(grad).all(), loss.get_config()
        valid = np.isfinite(y) & (y > 0)
        assert np.abs(grad[~valid]).max() == 0.0


# ------------------------------------------------------------------ config and errors

@pytest.mark.parametrize("loss", [
    SparsePixelCrossEntropy(from_logits=False, class_weights=[1.0, 2.0], ignore_index=255),
    DiceLoss(smooth=0.5, ignore_index=-1, class_weights=[1.0, 2.0]),
    JaccardLoss(from_logits=False, smooth=2.0),
    ScaleInvariantLoss(lam=1.0, eps=1e-4, pred_is_log=True),
    MaskedMeanSquaredError(),
])
def test_get_config_round_trip(loss):
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    if isinstance(loss, (ScaleInvariantLoss, MaskedMeanSquaredError)):
        y = np.array([[[1.0, 2.0], [0.0, 3.0]]], np.float32)
        args = (y, y + 0.5)
    else:
        args = (np.array([[[0, 1], [1, 255 if loss.ignore_index == 255 else 0]]]),
                np.full((1, 2, 2, 2), 0.3, np.float32))
    assert float(again(*args)) == pytest.approx(float(loss(*args)))


def test_bad_arguments_and_inputs():
    logits = np.zeros((1, 2, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"one weight per class \(3\)\. Received 2 weights"):
        SparsePixelCrossEntropy(class_weights=[1.0, 2.0])(np.zeros((1, 2, 2)), logits)
    with pytest.raises(ValueError, match=r"one weight per class \(3\)\. Received 2 weights"):
        DiceLoss(class_weights=[1.0, 2.0])(np.zeros((1, 2, 2)), logits)
    with pytest.raises(ValueError, match="finite weights >= 0"):
        DiceLoss(class_weights=[1.0, -2.0])
    with pytest.raises(ValueError, match="`smooth` must be a number >= 0"):
        JaccardLoss(smooth=-1)
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\) or 255\. Received a value 3"):
        SparsePixelCrossEntropy(ignore_index=255)(np.array([[[0, 3], [255, 1]]]), logits)
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\)\. Received a value 2"):
        DiceLoss()(np.array([[[0, 2], [1, 1]]]), logits[..., :1])        # binary: 0/1 only
    with pytest.raises(ValueError, match=r"same \(B, H, W\)"):
        DiceLoss()(np.zeros((1, 3, 2)), logits)
    with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
        SparsePixelCrossEntropy()(np.zeros((1, 2, 2)), np.zeros((1, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"`lam` must be a number in \[0, 1\]"):
        ScaleInvariantLoss(lam=1.5)
    with pytest.raises(ValueError, match="`eps` must be a number > 0"):
        ScaleInvariantLoss(eps=0)
    with pytest.raises(ValueError, match="same shape"):
        ScaleInvariantLoss()(np.ones((1, 2, 2)), np.ones((1, 2, 3)))
