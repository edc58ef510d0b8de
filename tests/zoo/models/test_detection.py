"""RetinaNet: the paper's parameter count (torchvision's layout), output layout = anchor order,
the prior-probability initialisation, decoding to pixels, bad arguments."""

import numpy as np
import pytest

import zoo
from zoo.models.detection.retinanet import PRIOR_PROBABILITY, decode_predictions
from zoo.ops import AnchorGenerator

TORCHVISION_RETINANET_R50_FPN = 34_014_999   # retinanet_resnet50_fpn, 91 classes
TORCHVISION_FPN_AND_HEADS = 10_560_087       # the same minus its ResNet-50 body (no BN params)


def small(**kwargs):
    args = dict(backbone="resnet18", classes=3, fpn_filters=8, head_filters=8, head_convs=1,
                input_shape=(128, 128, 3))
    return zoo.build("retinanet", **{**args, **kwargs})


def test_parameter_count_matches_torchvision_layout():
    model = zoo.build("retinanet", num_classes=91)
    body = zoo.build("resnet50", include_top=False, input_shape=(None, None, 3)).count_params()
    # FPN + class and box subnets: exactly torchvision's
    assert model.count_params() - body == TORCHVISION_FPN_AND_HEADS
    # the whole: within 1 % (the backbone's conv biases and batch norm: +0.39 %)
    assert abs(model.count_params() / TORCHVISION_RETINANET_R50_FPN - 1) < 0.01
    assert zoo.build("retinanet").count_params() == zoo.describe("retinanet")["params"]


def test_outputs_follow_the_anchor_order_and_start_at_the_prior():
    model = small()
    n = AnchorGenerator()((128, 128)).shape[0]
    out = model(np.random.default_rng(0).uniform(0, 1, (2, 128, 128, 3)), training=False)
    assert tuple(out["cls_logits"].shape) == (2, n, 3)
    assert tuple(out["bbox_regression"].shape) == (2, n, 4)
    bias = np.asarray(model.get_layer("cls_subnet_predict").bias)
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), PRIOR_PROBABILITY, rtol=1e-5)
    p = 1 / (1 + np.exp(-np.asarray(out["cls_logits"])))
    np.testing.assert_allclose(np.median(p), PRIOR_PROBABILITY, rtol=0.5)
    # any size divisible by 32 with the default (None, None, 3) input
    free = small(input_shape=None)
    out = free(np.zeros((1, 96, 160, 3)), training=False)
    assert out["cls_logits"].shape[1] == AnchorGenerator()((96, 160)).shape[0]


def test_decode_predictions_returns_pixels_scores_and_classes():
    anchors = AnchorGenerator()((128, 128))
    logits = np.full((1, len(anchors), 3), -10.0, "float32")
    deltas = np.zeros((1, len(anchors), 4), "float32")
    logits[0, 100, 2] = 5.0      # one confident anchor, class 2
    logits[0, 101, 2] = 4.0      # its neighbour (same cell, larger scale): suppressed or not
    logits[0, 2000, 0] = 3.0     # another class elsewhere
    out = decode_predictions({"cls_logits": logits, "bbox_regression": deltas}, (128, 128),
                             score_threshold=0.5, iou_threshold=0.5, max_detections=10)
    n = out["num_detections"][0]
    assert out["boxes"].shape == (1, 10, 4) and out["classes"][0, n:].tolist() == [-1] * (10 - n)
    np.testing.assert_allclose(out["scores"][0, 0], 1 / (1 + np.exp(-5.0)), rtol=1e-6)
    assert out["classes"][0, 0] == 2
    np.testing.assert_allclose(out["boxes"][0, 0], np.clip(anchors[100], 0, 128), atol=1e-4)
    assert 0 in out["classes"][0, :n].tolist()
    assert (out["boxes"] >= 0).all() and (out["boxes"] <= 128).all()
    with pytest.raises(ValueError, match="image_size"):
        decode_predictions({"cls_logits": logits, "bbox_regression": deltas}, (256, 256))


def test_bad_arguments_say_what_is_expected():
    with pytest.raises(ValueError, match="P3, P4 and P5"):
        zoo.build("retinanet", backbone="lenet5")
    with pytest.raises(ValueError, match="max_level"):
        small(max_level=8)
    with pytest.raises(ValueError, match="divisible by 32"):
        small(input_shape=(100, 128, 3))
    with pytest.raises(ValueError, match="head_filters"):
        small(head_filters=0)
