"""Focal loss and RetinaNet's loss against plain NumPy on hand-made cases, and against
``keras.losses.BinaryFocalCrossentropy`` where they overlap."""

import keras
import numpy as np
import pytest

from tests.conftest import to_numpy as np_
from zoo.ops.boxes import BoxCoder
from zoo.ops.matching import BACKGROUND, IGNORE
from zoo.losses.detection import FocalLoss, retinanet_loss, sigmoid_focal_loss, smooth_l1


def np_focal(t, x, alpha=0.25, gamma=2.0):
    x = np.asarray(x, "float64")
    p = 1 / (1 + np.exp(-x))
    p_t = np.where(t == 1, p, 1 - p)
    a_t = np.where(t == 1, alpha, 1 - alpha)
    return -a_t * (1 - p_t) ** gamma * np.log(p_t)


def test_focal_loss_by_hand():
    # logit 0: p = 0.5, so FL = alpha_t * 0.25 * log 2
    np.testing.assert_allclose(np_(sigmoid_focal_loss(np.array([1.0, 0.0]), np.zeros(2))),
                               [0.25 * 0.25 * np.log(2), 0.75 * 0.25 * np.log(2)], rtol=1e-6)
    # an easy negative (p = 0.01) costs 1e4 times less than with cross-entropy x (1 - alpha)
    x = np.log(0.01 / 0.99)
    easy = float(np_(sigmoid_focal_loss(np.array([0.0]), np.array([x])))[0])
    np.testing.assert_allclose(easy, 0.75 * 0.01 ** 2 * -np.log(0.99), rtol=1e-5)
    # gamma 0, alpha < 0: plain binary cross-entropy
    np.testing.assert_allclose(np_(sigmoid_focal_loss(np.array([1.0]), np.array([x]), -1, 0)),
                               [-np.log(0.01)], rtol=1e-5)


def test_focal_loss_matches_numpy_and_is_stable(rng):
    t = (rng.uniform(size=(4, 50, 3)) < 0.1).astype("float32")
    x = rng.normal(0, 4, size=(4, 50, 3)).astype("float32")
    for alpha, gamma in ((0.25, 2.0), (0.5, 0.0), (0.75, 1.0)):
        np.testing.assert_allclose(np_(sigmoid_focal_loss(t, x, alpha, gamma)),
                                   np_focal(t, x, alpha, gamma), rtol=1e-4, atol=1e-7)
    # huge logits: no inf or NaN (the naive log(sigmoid) gives -inf at -100)
    big = np_(sigmoid_focal_loss(np.array([1.0, 0.0]), np.array([-100.0, 100.0])))
    assert np.isfinite(big).all() and big[0] > 10


def test_focal_loss_matches_keras_binary_focal_crossentropy(rng):
    t = (rng.uniform(size=(8, 6)) < 0.3).astype("float32")
    x = rng.normal(0, 2, size=(8, 6)).astype("float32")
    ref = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=2.0,
                                               from_logits=True, reduction=None)(t, x)
    # Keras averages over the last axis; ours sums it
    np.testing.assert_allclose(np_(FocalLoss(reduction=None)(t, x)) / 6, np_(ref), rtol=1e-4)
    np.testing.assert_allclose(float(np_(FocalLoss()(t, x))) / 6,
                               float(np_(keras.losses.BinaryFocalCrossentropy(
                                   apply_class_balancing=True, from_logits=True)(t, x))),
                               rtol=1e-4)
    config = FocalLoss(alpha=0.3, gamma=1.5).get_config()
    assert FocalLoss.from_config(config).gamma == 1.5
    with pytest.raises(ValueError, match="logits"):
        FocalLoss(from_logits=False)


def test_retinanet_loss_by_hand():
    # 1 image, 4 anchors, 2 classes: anchor 0 positive (class 1), 1 background, 2 ignored,
    # 3 positive (class 0)
    class_targets = np.array([[1, BACKGROUND, IGNORE, 0]])
    logits = np.array([[[0.5, -1.0], [2.0, 0.0], [9.0, 9.0], [-3.0, 1.0]]], "float32")
    box_targets = np.array([[[0.1, 0, 0, 0], [5, 5, 5, 5], [5, 5, 5, 5], [0, 0.5, 0, 0]]],
                           "float32")
    deltas = np.zeros((1, 4, 4), "float32")
    cls, box = retinanet_loss(class_targets, box_targets, logits, deltas)
    one_hot = np.array([[0, 1], [0, 0], [0, 0], [1, 0]], "float32")
    focal = np_focal(one_hot, logits[0])
    expected_cls = (focal[0].sum() + focal[1].sum() + focal[3].sum()) / 2   # 2 positives
    np.testing.assert_allclose(float(np_(cls)), expected_cls, rtol=1e-5)
    # smooth L1 (beta 1/9) on the positives only: 0.1 < 1/9 -> 0.5 * 0.01 * 9; 0.5 -> 0.5 - 1/18
    np.testing.assert_allclose(float(np_(box)), (0.5 * 0.01 * 9 + 0.5 - 1 / 18) / 2, rtol=1e-5)


def test_retinanet_loss_no_objects_and_giou():
    # no positives: the focal sum over background, divided by 1; box loss 0
    logits = np.zeros((2, 3, 2), "float32")
    cls, box = retinanet_loss(np.full((2, 3), BACKGROUND), np.zeros((2, 3, 4)), logits,
                              np.ones((2, 3, 4)))
    np.testing.assert_allclose(float(np_(cls)), 12 * 0.75 * 0.25 * np.log(2), rtol=1e-5)
    assert float(np_(box)) == 0.0
    # GIoU loss: 0 for exact deltas, > 0 otherwise
    anchors = np.array([[0, 0, 10, 10], [20, 20, 40, 40]], "float32")
    boxes = np.array([[[1, 1, 11, 11], [18, 22, 38, 44]]], "float32")
    targets = np_(BoxCoder().encode(boxes, anchors))
    _, exact = retinanet_loss(np.array([[0, 0]]), targets, np.zeros((1, 2, 1)), targets,
                              anchors=anchors, box_loss="giou")
    _, off = retinanet_loss(np.array([[0, 0]]), targets, np.zeros((1, 2, 1)),
                            np.zeros((1, 2, 4)), anchors=anchors, box_loss="giou")
    assert abs(float(np_(exact))) < 1e-5 and float(np_(off)) > 0.1
    with pytest.raises(ValueError, match="anchors"):
        retinanet_loss(np.array([[0, 0]]), targets, np.zeros((1, 2, 1)), targets,
                       box_loss="giou")
    with pytest.raises(ValueError, match="box_loss"):
        retinanet_loss(np.array([[0, 0]]), targets, np.zeros((1, 2, 1)), targets, box_loss="l2")


def test_smooth_l1():
    np.testing.assert_allclose(np_(smooth_l1(np.array([0.05, -0.5, 2.0]), beta=0.1)),
                               [0.5 * 0.0025 / 0.1, 0.45, 1.95], rtol=1e-6)
    np.testing.assert_allclose(np_(smooth_l1(np.array([-0.3]), beta=0)), [0.3], rtol=1e-6)
