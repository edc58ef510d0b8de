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


# --- decoding is compiled once; thresholds are arguments -------------------------------------

def test_decode_thresholds_do_not_recompile_and_are_checked():
    from zoo.models.detection import retinanet as R

    anchors = AnchorGenerator()((128, 128))
    logits = np.full((1, len(anchors), 3), -10.0, "float32")
    logits[0, 100, 2], logits[0, 101, 2] = 5.0, 4.0   # same cell: IoU of the two anchors < 1
    outputs = {"cls_logits": logits, "bbox_regression": np.zeros((1, len(anchors), 4), "float32")}
    iou = float(zoo.ops.pairwise_iou(anchors[100:101], anchors[101:102])[0, 0])
    before = len(R._DECODERS)
    loose = decode_predictions(outputs, (128, 128), iou_threshold=min(1.0, iou + 0.05),
                               score_threshold=0.5, max_detections=7)
    strict = decode_predictions(outputs, (128, 128), iou_threshold=max(0.0, iou - 0.05),
                                score_threshold=0.5, max_detections=7)
    assert loose["num_detections"][0] == 2 and strict["num_detections"][0] == 1
    assert len(R._DECODERS) - before <= 1          # one compiled decoder for both calls
    for bad in (dict(score_threshold=1.5), dict(iou_threshold=float("nan")),
                dict(max_detections=0)):
        with pytest.raises(ValueError, match="score_threshold|iou_threshold|max_detections"):
            decode_predictions(outputs, (128, 128), **bad)


# --- the letterbox: the training layer's pixels and boxes, and its inverse ---------------------

@pytest.mark.parametrize("shape", [(480, 640), (100, 60), (97, 131)])
def test_letterbox_matches_training_layer_and_inverts(shape):
    """A white rectangle letterboxed by `letterbox_image` lands where the training pipeline's
    `Letterbox` puts it and its box; `boxes_to_image` brings the box back."""
    from training.augment_boxes import Letterbox
    from zoo.models.detection.retinanet import (boxes_to_image, letterbox_image,
                                                letterbox_transform)

    h, w = shape
    image = np.zeros((h, w, 3), "float32")
    box = np.array([w * 0.2, h * 0.3, w * 0.6, h * 0.9], "float32").round()
    image[int(box[1]):int(box[3]), int(box[0]):int(box[2])] = 255.0
    ours = letterbox_image(image, (64, 96))
    layer = Letterbox(64, 96)({"images": image[None], "bounding_boxes": {
        "boxes": box[None, None], "labels": np.zeros((1, 1), "int32")}})
    np.testing.assert_allclose(ours, np.asarray(layer["images"])[0], atol=1e-3)
    sx, sy, left, top = letterbox_transform((h, w), (64, 96))
    moved = (box + [left, top, left, top]) * [sx, sy, sx, sy]
    np.testing.assert_allclose(moved, np.asarray(layer["bounding_boxes"]["boxes"])[0, 0],
                               atol=1e-3)
    np.testing.assert_allclose(boxes_to_image(moved, (sx, sy, left, top)), box, atol=1e-3)
    # the white pixels sit inside the moved box (one pixel of bilinear blur allowed)
    ys, xs = np.nonzero(ours[..., 0] > 128)
    assert xs.min() >= moved[0] - 1 and xs.max() <= moved[2] and ys.min() >= moved[1] - 1 \
        and ys.max() <= moved[3]


def test_predict_boxes_needs_a_known_input_size():
    from zoo.models.detection.retinanet import model_input_size, predict_boxes

    with pytest.raises(ValueError, match="input_size"):
        predict_boxes(small(input_shape=None), [np.zeros((50, 50, 3))])
    with pytest.raises(ValueError, match="multiples of 32"):
        model_input_size(small(input_shape=None), (100, 128))
    with pytest.raises(ValueError, match="RGB image"):
        predict_boxes(small(), [np.zeros((50, 50))])
    found = predict_boxes(small(), [np.zeros((50, 70, 3), "uint8")], score_threshold=0.0,
                          max_detections=5)
    assert found[0]["boxes"].shape == (5, 4)                 # in the 50x70 image's pixels
    assert (found[0]["boxes"][:, 0::2] <= 70).all() and (found[0]["boxes"][:, 1::2] <= 50).all()


# --- training: targets assigned inside the step -----------------------------------------------

def _squares(n=4, size=64, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, size, size, 3), "float32")
    boxes, labels = -np.ones((n, 2, 4), "float32"), -np.ones((n, 2), "int32")
    for i in range(n):
        x0, y0 = rng.integers(0, size - 24, 2)
        s = int(rng.integers(12, 24))
        x[i, y0:y0 + s, x0:x0 + s, i % 2] = 1.0
        boxes[i, 0], labels[i, 0] = [x0, y0, x0 + s, y0 + s], i % 2
    return x, {"boxes": boxes, "labels": labels}


def test_trainer_loss_is_retinanet_loss_of_assigned_targets():
    import keras

    from zoo.losses import retinanet_loss
    from zoo.models.detection.retinanet import RetinaNetTrainer
    from zoo.ops import assign_targets

    detector = small(classes=2, input_shape=(64, 64, 3), max_level=5, anchor_size=2.0)
    trainer = RetinaNetTrainer(detector, box_weight=2.0)
    x, y = _squares()
    pred = detector(x, training=False)
    anchors = detector.anchor_generator((64, 64))
    cls_t, box_t, _ = assign_targets(anchors, y["boxes"], y["labels"])
    cls, box = retinanet_loss(cls_t, box_t, pred["cls_logits"], pred["bbox_regression"])
    ours = trainer.compute_loss(x, y, pred)
    np.testing.assert_allclose(float(ours), float(cls) + 2.0 * float(box), rtol=1e-5)
    assert float(box) > 0   # the squares matched anchors
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = trainer.fit(x, y, epochs=8, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    assert trainer.trainable_weights and len(trainer.weights) == len(detector.weights)
    with pytest.raises(ValueError, match="boxes"):
        trainer.compute_loss(x, y["boxes"], pred)
    with pytest.raises(ValueError, match="box_loss"):
        RetinaNetTrainer(detector, box_loss="l2")


def test_backbone_args_reach_the_backbone():
    half = small(backbone="mobilenet", backbone_args={"alpha": 0.5})
    full = small(backbone="mobilenet")
    assert half.count_params() < full.count_params()
    with pytest.raises(ValueError, match="backbone_args"):
        small(backbone_args={"alpha": 0.5})      # ResNet-18 has no width multiplier


def test_a_reloaded_detector_needs_its_anchors_passed(tmp_path):
    """A .keras reload keeps the layers, not the builder's `anchor_generator` attribute:
    predict_boxes says so instead of decoding with the default anchors."""
    import keras

    from zoo.models.detection.retinanet import anchor_generator_of, predict_boxes

    model = small(max_level=6, anchor_size=2.0)
    model.save(tmp_path / "d.keras")
    again = keras.saving.load_model(tmp_path / "d.keras")
    assert anchor_generator_of(again) is None
    image = np.random.default_rng(0).uniform(0, 255, (100, 120, 3))
    with pytest.raises(ValueError, match="anchor_generator"):
        predict_boxes(again, [image])
    mine = predict_boxes(model, [image], score_threshold=0.0, max_detections=5)[0]
    theirs = predict_boxes(again, [image], score_threshold=0.0, max_detections=5,
                           anchor_generator=AnchorGenerator(3, 6, base_size=2.0))[0]
    np.testing.assert_allclose(theirs["boxes"], mine["boxes"], atol=1e-3)
