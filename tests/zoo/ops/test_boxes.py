"""Box maths (IoU, GIoU, coding), anchors and anchor matching, against hand-made cases and
NumPy / torchvision references. Run on TensorFlow and on JAX (``KERAS_BACKEND=jax``)."""

import math

import keras
import numpy as np
import pytest

from tests.conftest import to_numpy as np_
from zoo.ops.anchors import AnchorGenerator
from zoo.ops.boxes import BoxCoder, box_area, clip_boxes, elementwise_giou, elementwise_iou, \
    pairwise_giou, pairwise_iou
from zoo.ops.matching import BACKGROUND, IGNORE, Matcher, assign_targets


def random_boxes(rng, n, size=100.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(0, size / 4, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype("float32")


def np_iou_giou(a, b):
    """Plain NumPy, one pair at a time: the reference."""
    iou = np.zeros((len(a), len(b)))
    giou = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            hull = (max(p[2], q[2]) - min(p[0], q[0])) * (max(p[3], q[3]) - min(p[1], q[1]))
            iou[i, j] = inter / union if union > 0 else 0.0
            giou[i, j] = iou[i, j] - ((hull - union) / hull if hull > 0 else 0.0)
    return iou, giou


def test_iou_and_giou_by_hand():
    a = np.array([[0, 0, 2, 2]], "float32")
    b = np.array([[1, 1, 3, 3],      # overlap 1, union 7, hull 9
                  [4, 0, 6, 2],      # apart: IoU 0, hull 6x2 = 12, union 8
                  [0, 0, 2, 2],      # itself
                  [1, 1, 1, 1]],     # zero area inside a
                 "float32")
    np.testing.assert_allclose(np_(pairwise_iou(a, b)), [[1 / 7, 0, 1, 0]], atol=1e-6)
    np.testing.assert_allclose(np_(pairwise_giou(a, b)),
                               [[1 / 7 - 2 / 9, -4 / 12, 1, 0 - (4 - 4) / 4]], atol=1e-6)
    assert np_(box_area(b)).tolist() == [4, 4, 4, 0]
    # two zero-area boxes: 0, not NaN
    z = np.array([[1, 1, 1, 1]], "float32")
    assert np_(pairwise_iou(z, z)).tolist() == [[0.0]]
    assert np_(elementwise_iou(z, z)).tolist() == [0.0]
    assert np.isfinite(np_(pairwise_giou(z, z))).all()


def test_iou_matrices_match_numpy_on_random_boxes(rng):
    a, b = random_boxes(rng, 30), random_boxes(rng, 20)
    iou, giou = np_iou_giou(a.astype("float64"), b.astype("float64"))
    np.testing.assert_allclose(np_(pairwise_iou(a, b)), iou, atol=1e-5)
    np.testing.assert_allclose(np_(pairwise_giou(a, b)), giou, atol=1e-5)
    # element-wise = the diagonal; batched = per image
    np.testing.assert_allclose(np_(elementwise_iou(a[:20], b)), np.diag(iou[:20]), atol=1e-5)
    np.testing.assert_allclose(np_(elementwise_giou(a[:20], b)), np.diag(giou[:20]), atol=1e-5)
    batched = np_(pairwise_giou(np.stack([a, a[::-1]]), np.stack([b, b])))
    np.testing.assert_allclose(batched[1], giou[::-1], atol=1e-5)
    assert (np_(pairwise_giou(a, b)) >= -1 - 1e-6).all()


def test_iou_matches_torchvision(rng):
    tv = pytest.importorskip("torchvision")
    import torch

    a, b = random_boxes(rng, 25), random_boxes(rng, 15)
    np.testing.assert_allclose(np_(pairwise_iou(a, b)),
                               tv.ops.box_iou(torch.tensor(a), torch.tensor(b)).numpy(), atol=1e-5)
    np.testing.assert_allclose(
        np_(pairwise_giou(a, b)),
        tv.ops.generalized_box_iou(torch.tensor(a), torch.tensor(b)).numpy(), atol=1e-5)


def test_bad_box_shapes_say_what_is_expected():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        pairwise_iou(np.zeros((3, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="weights"):
        BoxCoder(weights=(1, 1, 0, 1))
    with pytest.raises(ValueError, match="weights"):
        BoxCoder(weights=(1, 1, 1))


def test_clip_boxes():
    boxes = np.array([[-5, -5, 10, 10], [90, 40, 120, 70]], "float32")
    assert np_(clip_boxes(boxes, height=50, width=100)).tolist() == [[0, 0, 10, 10],
                                                                   [90, 40, 100, 50]]


def test_box_coder_by_hand_and_round_trip(rng):
    anchor = np.array([[0, 0, 10, 20]], "float32")          # centre (5, 10), w 10, h 20
    box = np.array([[2, 0, 12, 10]], "float32")             # centre (7, 5), w 10, h 10
    # (dx, dy, dw, dh) = ((7-5)/10, (5-10)/20, log(10/10), log(10/20))
    np.testing.assert_allclose(np_(BoxCoder().encode(box, anchor)),
                               [[0.2, -0.25, 0.0, math.log(0.5)]], atol=1e-6)
    # Faster R-CNN's weights (10, 10, 5, 5) multiply them
    np.testing.assert_allclose(np_(BoxCoder((10, 10, 5, 5)).encode(box, anchor)),
                               [[2.0, -2.5, 0.0, 5 * math.log(0.5)]], atol=1e-5)
    anchors, boxes = random_boxes(rng, 50) + [0, 0, 1, 1], random_boxes(rng, 50) + [0, 0, 1, 1]
    for coder in (BoxCoder(), BoxCoder((10, 10, 5, 5))):
        back = coder.decode(coder.encode(boxes, anchors), anchors)
        np.testing.assert_allclose(np_(back), boxes, atol=1e-3)


def test_box_coder_matches_torchvision(rng):
    pytest.importorskip("torchvision")
    import torch
    from torchvision.models.detection._utils import BoxCoder as TorchBoxCoder

    anchors, boxes = random_boxes(rng, 40) + [0, 0, 1, 1], random_boxes(rng, 40) + [0, 0, 1, 1]
    ref = TorchBoxCoder((10.0, 10.0, 5.0, 5.0)).encode_single(torch.tensor(boxes),
                                                               torch.tensor(anchors))
    np.testing.assert_allclose(np_(BoxCoder((10, 10, 5, 5)).encode(boxes, anchors)), ref.numpy(),
                               atol=1e-4)


def test_box_coder_clamps_the_growth_before_exp():
    anchor = np.array([[0, 0, 16, 16]], "float32")
    wild = np.array([[0, 0, 1e4, 1e4]], "float32")
    out = np_(BoxCoder().decode(wild, anchor))
    assert np.isfinite(out).all()
    # w = 16 * exp(log(1000/16)) = 1000 around the centre (8, 8)
    np.testing.assert_allclose(out[0, 2] - out[0, 0], 1000.0, rtol=1e-4)


# ----------------------------------------------------------------------------------------- anchors
def test_anchor_counts_sizes_and_centres():
    gen = AnchorGenerator(3, 4)
    assert gen.anchors_per_location == 9
    anchors = gen((64, 64))
    assert anchors.shape == ((8 * 8 + 4 * 4) * 9, 4)
    # RetinaNet at 640x480: P3..P7 grids 60x80, 30x40, 15x20, 8x10, 4x5 -> 6395 cells x 9
    assert AnchorGenerator()((480, 640)).shape == ((4800 + 1200 + 300 + 80 + 20) * 9, 4)
    first = anchors[:9]
    # the first cell's centre is the middle of the cell: (4, 4) at stride 8
    np.testing.assert_allclose((first[:, :2] + first[:, 2:]) / 2, 4.0)
    # ratio 1, scale 1 at P3: 32 x 32 (base_size 4 x stride 8); each ratio keeps the area
    w, h = first[:, 2] - first[:, 0], first[:, 3] - first[:, 1]
    np.testing.assert_allclose(w[3], 32.0)
    np.testing.assert_allclose(h / w, np.repeat([0.5, 1.0, 2.0], 3), rtol=1e-6)
    np.testing.assert_allclose(w * h, np.tile(32.0 ** 2 * np.array(
        [1, 2 ** (2 / 3), 2 ** (4 / 3)]), 3), rtol=1e-5)
    # order: rows, then columns: anchor 9 is cell (0, 1), centre x = 12
    np.testing.assert_allclose((anchors[9, 0] + anchors[9, 2]) / 2, 12.0)
    np.testing.assert_allclose((anchors[8 * 9, 1] + anchors[8 * 9, 3]) / 2, 12.0)
    levels = gen.per_level((64, 64))
    assert list(levels) == ["P3", "P4"] and levels["P4"].shape == (16 * 9, 4)
    # an odd size: ceil(image / stride) cells, as "same"-padded stride-2 layers give
    assert gen.grid_size((65, 63), 3) == (9, 8)


def test_anchors_match_torchvision_up_to_the_documented_offset():
    pytest.importorskip("torchvision")
    import torch
    from torchvision.models.detection.anchor_utils import AnchorGenerator as TorchAnchors
    from torchvision.models.detection.image_list import ImageList

    sizes = tuple((32 * 2 ** (i / 3),) for i in range(3))
    torch_gen = TorchAnchors(sizes=(tuple(s[0] for s in sizes),), aspect_ratios=((0.5, 1.0, 2.0),))
    images = ImageList(torch.zeros(1, 3, 64, 64), [(64, 64)])
    ref = torch_gen(images, [torch.zeros(1, 8, 8, 8)])[0].numpy()
    ours = AnchorGenerator(3, 3, offset=0.0)((64, 64))
    # torchvision rounds the base anchors and orders scales before ratios within a cell
    ours = ours.reshape(-1, 3, 3, 4).transpose(0, 2, 1, 3).reshape(-1, 4)
    np.testing.assert_allclose(ours, ref, atol=1.0)


def test_anchor_generator_rejects_nonsense():
    with pytest.raises(ValueError, match="min_level"):
        AnchorGenerator(5, 3)
    with pytest.raises(ValueError, match="aspect_ratios"):
        AnchorGenerator(aspect_ratios=())
    with pytest.raises(ValueError, match="height, width"):
        AnchorGenerator()((0, 64))


# ---------------------------------------------------------------------------------------- matching
def test_matcher_thresholds_and_low_quality_matches():
    # 4 anchors x 2 boxes
    iou = np.array([[0.7, 0.1],     # positive -> 0
                    [0.45, 0.2],    # between 0.4 and 0.5 -> ignore
                    [0.1, 0.3],     # background, but box 1's best anchor
                    [0.0, 0.0]],    # background
                   "float32")
    assert np_(Matcher(0.5, 0.4)(iou)).tolist() == [0, IGNORE, BACKGROUND, BACKGROUND]
    assert np_(Matcher(0.5, 0.4, True)(iou)).tolist() == [0, IGNORE, 1, BACKGROUND]
    # ties: every anchor that shares a box's best IoU is claimed
    tie = np.array([[0.3], [0.3], [0.1]], "float32")
    assert np_(Matcher(0.5, 0.4, True)(tie)).tolist() == [0, 0, BACKGROUND]
    # a padding column never matches, and a box nothing overlaps claims nothing
    masked = Matcher(0.5, 0.4, True)(iou[None], np.array([[False, True]]))
    assert np_(masked).tolist() == [[BACKGROUND, BACKGROUND, 1, BACKGROUND]]
    with pytest.raises(ValueError, match="thresholds"):
        Matcher(0.4, 0.5)


def test_matcher_matches_torchvision(rng):
    pytest.importorskip("torchvision")
    import torch
    from torchvision.models.detection._utils import Matcher as TorchMatcher

    iou = rng.uniform(0, 1, (5, 60)).astype("float32") ** 3   # torchvision: (gt, anchors)
    for low_quality in (False, True):
        ref = TorchMatcher(0.5, 0.4, low_quality)(torch.tensor(iou)).numpy()
        ours = np_(Matcher(0.5, 0.4, low_quality)(iou.T))
        assert ours.tolist() == ref.tolist()


def test_assign_targets_padding_and_empty_images():
    anchors = np.array([[0, 0, 10, 10], [10, 0, 20, 10], [0, 10, 10, 20], [30, 30, 40, 40]],
                       "float32")
    gt = np.array([[[0, 0, 10, 10], [11, 0, 21, 10], [0, 0, 0, 0]],
                   [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]], "float32")
    labels = np.array([[2, 5, -1], [-1, -1, -1]], "int32")
    cls, box, matches = assign_targets(anchors, gt, labels)
    # image 0: anchor 0 -> label 2 (IoU 1), anchor 1 -> label 5 (IoU 9/11), rest background
    assert np_(cls).tolist() == [[2, 5, BACKGROUND, BACKGROUND], [BACKGROUND] * 4]
    assert np_(matches)[0].tolist() == [0, 1, BACKGROUND, BACKGROUND]
    np.testing.assert_allclose(np_(box)[0, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(np_(box)[0, 1], [0.1, 0, 0, 0], atol=1e-6)
    # no ground-truth rows at all
    cls, box, _ = assign_targets(anchors, np.zeros((2, 0, 4), "float32"), np.zeros((2, 0), "int32"))
    assert np_(cls).tolist() == [[BACKGROUND] * 4] * 2 and np_(box).shape == (2, 4, 4)
    with pytest.raises(ValueError, match="batch, boxes, 4"):
        assign_targets(anchors, gt[0], labels[0])


def test_assign_targets_compiles():
    anchors = AnchorGenerator(3, 3)((32, 32))
    gt = np.array([[[0, 0, 20, 20], [5, 5, 30, 25]]], "float32")
    labels = np.array([[0, 1]], "int32")
    eager = np_(assign_targets(anchors, gt, labels)[0])
    if keras.backend.backend() == "jax":
        import jax

        compiled = jax.jit(lambda g, lab: assign_targets(anchors, g, lab)[0])(gt, labels)
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(lambda g, lab: assign_targets(anchors, g, lab)[0],
                               jit_compile=True)(gt, labels)
    else:
        pytest.skip("compiled on the TensorFlow and JAX backends")
    assert np_(compiled).tolist() == eager.tolist()
    assert (eager >= 0).sum() >= 2    # both boxes got anchors
