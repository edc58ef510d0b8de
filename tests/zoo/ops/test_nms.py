"""NMS (greedy, per-class, soft) against hand-made cases, ``tf.image.non_max_suppression``
(and ``..._with_scores`` for soft-NMS) and torchvision where it is installed; compiled under
``jax.jit`` / ``tf.function``. Run on TensorFlow and on JAX (``KERAS_BACKEND=jax``)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import to_numpy as np_
from zoo.ops.nms import batched_non_max_suppression, non_max_suppression, \
    soft_non_max_suppression


def random_boxes(rng, n, size=100.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 4, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype("float32")


def kept(indices, count):
    return np_(indices)[: int(np_(count))].tolist()


def tf_nms(boxes, scores, k, iou=0.5, score=float("-inf")):
    yxyx = boxes[:, [1, 0, 3, 2]]
    return tf.image.non_max_suppression(yxyx, scores, k, iou, score).numpy().tolist()


def test_the_course_example_by_hand():
    boxes = np.array([[0, 0, 10, 10],      # 0.9: kept
                      [1, 1, 11, 11],      # 0.8: IoU 81/119 with box 0 -> suppressed
                      [20, 20, 30, 30],    # 0.7: kept
                      [0, 0, 10, 10.5]],   # 0.6: IoU 100/105 with box 0 -> suppressed
                     "float32")
    idx, n = non_max_suppression(boxes, np.array([0.9, 0.8, 0.7, 0.6]), max_output_size=4)
    assert np_(idx).tolist() == [0, 2, -1, -1] and int(np_(n)) == 2
    # a higher threshold keeps box 1 (0.68 < 0.7) but not box 3 (0.95)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert kept(*non_max_suppression(boxes, scores, 0.7, max_output_size=4)) == [0, 1, 2]
    # the score threshold removes boxes first; max_output_size truncates
    assert kept(*non_max_suppression(boxes, np.array([0.9, 0.8, 0.7, 0.6]), score_threshold=0.8,
                                     max_output_size=4)) == [0]
    assert np_(non_max_suppression(boxes, np.array([0.9, 0.8, 0.7, 0.6]), max_output_size=1)[0]
               ).tolist() == [0]


def test_ties_zero_area_all_suppressed_and_no_boxes():
    same = np.array([[0, 0, 10, 10]] * 4, "float32")
    # equal scores: the lowest index wins, as tf.image does; the copies are suppressed
    assert kept(*non_max_suppression(same, np.full(4, 0.5), max_output_size=4)) == [0]
    assert tf_nms(same, np.full(4, 0.5, "float32"), 4) == [0]
    # zero-area boxes overlap nothing, so none suppresses another
    points = np.array([[5, 5, 5, 5]] * 3, "float32")
    idx, n = non_max_suppression(points, np.array([0.3, 0.2, 0.1]), max_output_size=5)
    assert kept(idx, n) == [0, 1, 2]
    # every score below the threshold: nothing kept, all padding
    idx, n = non_max_suppression(same, np.full(4, 0.1), score_threshold=0.5, max_output_size=3)
    assert np_(idx).tolist() == [-1, -1, -1] and int(np_(n)) == 0
    # no boxes at all
    idx, n = non_max_suppression(np.zeros((0, 4), "float32"), np.zeros((0,), "float32"),
                                 max_output_size=3)
    assert np_(idx).tolist() == [-1, -1, -1] and int(np_(n)) == 0
    idx, n = batched_non_max_suppression(np.zeros((0, 4), "float32"), np.zeros((0,)),
                                         np.zeros((0,), "int32"), max_output_size=2)
    assert int(np_(n)) == 0


@pytest.mark.parametrize("n, iou", [(1, 0.5), (5, 0.5), (100, 0.3), (100, 0.5), (100, 0.7),
                                    (1000, 0.5)])
def test_greedy_equals_tf_image_on_random_boxes(rng, n, iou):
    boxes = random_boxes(rng, n)
    scores = rng.uniform(0, 1, n).astype("float32")
    k = min(n, 100)
    assert kept(*non_max_suppression(boxes, scores, iou, max_output_size=k)) == \
        tf_nms(boxes, scores, k, iou)
    assert kept(*non_max_suppression(boxes, scores, iou, 0.4, max_output_size=k)) == \
        tf_nms(boxes, scores, k, iou, 0.4)


def test_batched_images_run_independently(rng):
    boxes = np.stack([random_boxes(rng, 200), random_boxes(rng, 200)])
    scores = rng.uniform(0, 1, (2, 200)).astype("float32")
    idx, n = non_max_suppression(boxes, scores, max_output_size=50)
    for b in range(2):
        assert np_(idx)[b, : np_(n)[b]].tolist() == tf_nms(boxes[b], scores[b], 50)


def test_per_class_nms_equals_nms_class_by_class(rng):
    boxes = random_boxes(rng, 300, size=50)
    scores = rng.uniform(0, 1, 300).astype("float32")
    labels = rng.integers(0, 3, 300).astype("int32")
    idx, n = batched_non_max_suppression(boxes, scores, labels, max_output_size=300)
    ours = set(kept(idx, n))
    expected = set()
    for c in range(3):
        where = np.flatnonzero(labels == c)
        expected |= {int(where[i]) for i in tf_nms(boxes[where], scores[where], 300)}
    assert ours == expected
    # and best first
    assert np.all(np.diff(scores[kept(idx, n)]) <= 0)


def test_matches_torchvision(rng):
    tv = pytest.importorskip("torchvision")
    import torch

    boxes = random_boxes(rng, 500)
    scores = rng.uniform(0, 1, 500).astype("float32")
    labels = rng.integers(0, 4, 500)
    ref = tv.ops.nms(torch.tensor(boxes), torch.tensor(scores), 0.5).numpy().tolist()
    assert kept(*non_max_suppression(boxes, scores, 0.5, max_output_size=500)) == ref
    ref = tv.ops.batched_nms(torch.tensor(boxes), torch.tensor(scores), torch.tensor(labels),
                             0.5).numpy().tolist()
    assert kept(*batched_non_max_suppression(boxes, scores, labels, 0.5, max_output_size=500)) \
        == ref


def test_soft_nms_gaussian_equals_tf_with_scores(rng):
    boxes = random_boxes(rng, 300, size=60)
    scores = rng.uniform(0, 1, 300).astype("float32")
    tf_idx, tf_scores = tf.image.non_max_suppression_with_scores(
        boxes[:, [1, 0, 3, 2]], scores, 100, iou_threshold=1.0, score_threshold=0.05,
        soft_nms_sigma=0.25)
    # TF's Gaussian is exp(-IoU^2 / (2 sigma)): ours with sigma = 2 * 0.25
    idx, out_scores, n = soft_non_max_suppression(boxes, scores, "gaussian", sigma=0.5,
                                                  score_threshold=0.05, max_output_size=100)
    n = int(np_(n))
    assert np_(idx)[:n].tolist() == tf_idx.numpy().tolist()
    np.testing.assert_allclose(np_(out_scores)[:n], tf_scores.numpy(), atol=1e-6)


def test_soft_nms_linear_by_hand():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [50, 50, 60, 60]], "float32")
    # box 1 has IoU 0.5 with box 0: linear decay 0.8 * (1 - 0.5) = 0.4, now below box 2's 0.5
    idx, s, n = soft_non_max_suppression(boxes, np.array([0.9, 0.8, 0.5]), "linear",
                                         iou_threshold=0.3, max_output_size=3)
    assert np_(idx).tolist() == [0, 2, 1] and int(np_(n)) == 3
    np.testing.assert_allclose(np_(s), [0.9, 0.5, 0.4], atol=1e-6)
    # below the IoU threshold nothing decays; greedy NMS at 0.3 would have removed box 1
    idx, s, _ = soft_non_max_suppression(boxes, np.array([0.9, 0.8, 0.5]), "linear",
                                         iou_threshold=0.6, max_output_size=3)
    np.testing.assert_allclose(np_(s), [0.9, 0.8, 0.5], atol=1e-6)
    assert kept(*non_max_suppression(boxes, np.array([0.9, 0.8, 0.5]), 0.3, max_output_size=3)) \
        == [0, 2]


def test_compiles_with_static_padded_outputs(rng):
    boxes = random_boxes(rng, 64)
    scores = rng.uniform(0, 1, 64).astype("float32")
    labels = rng.integers(0, 3, 64).astype("int32")
    expected = np_(batched_non_max_suppression(boxes, scores, labels, max_output_size=20)[0])

    def fn(b, s, lab):
        return batched_non_max_suppression(b, s, lab, max_output_size=20)[0]

    if keras.backend.backend() == "jax":
        import jax

        compiled = jax.jit(fn)(boxes, scores, labels)
    elif keras.backend.backend() == "tensorflow":
        compiled = tf.function(fn, jit_compile=True)(boxes, scores, labels)
    else:
        pytest.skip("compiled on the TensorFlow and JAX backends")
    assert np_(compiled).tolist() == expected.tolist()
    assert np_(compiled).shape == (20,)


def test_bad_arguments_say_what_is_expected():
    boxes = np.zeros((3, 4), "float32")
    with pytest.raises(ValueError, match="scores"):
        non_max_suppression(boxes, np.zeros(4))
    with pytest.raises(ValueError, match="iou_threshold"):
        non_max_suppression(boxes, np.zeros(3), iou_threshold=1.5)
    with pytest.raises(ValueError, match="max_output_size"):
        non_max_suppression(boxes, np.zeros(3), max_output_size=0)
    with pytest.raises(ValueError, match="method"):
        soft_non_max_suppression(boxes, np.zeros(3), method="box")
    with pytest.raises(ValueError, match="labels"):
        batched_non_max_suppression(boxes, np.zeros(3), np.zeros(2))
