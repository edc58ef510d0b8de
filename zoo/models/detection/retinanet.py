"""RetinaNet (Lin, Goyal, Girshick, He and Dollar, "Focal Loss for Dense Object Detection",
ICCV 2017): a one-stage detector on a feature pyramid, trained with the focal loss.

- **Backbone**: any zoo classifier, tapped at its registry ``feature_layers`` ``C3``-``C5``
  (strides 8-32); the paper's is ResNet-50 / 101.
- **FPN** (Lin et al. 2017a): 1x1 lateral convolutions to ``fpn_filters`` (256), a top-down
  path (nearest 2x upsampling + addition), a 3x3 convolution on each merged map (``P3``-``P5``),
  then ``P6`` = 3x3 stride-2 on ``P5`` and ``P7`` = 3x3 stride-2 on ``ReLU(P6)``. The paper
  computes ``P6`` from ``C5``; torchvision's ``retinanet_resnet50_fpn`` (whose layout the
  parameter count follows) from ``P5``.
- **Heads**, shared by every level: the class subnet (4 x [3x3 conv, ``head_filters``, ReLU]
  then a 3x3 conv to ``A * K`` logits) and the box subnet (the same, to ``A * 4`` deltas), with
  ``A = 9`` anchors a cell. The class logits' bias starts at ``-log((1 - pi) / pi)``, pi = 0.01,
  so every anchor first predicts "background" with confidence 0.99 and the loss of the
  background does not blow up at the first step (section 4, "Initialization"); other head
  convolutions start from N(0, 0.01), as in the paper.

The model returns the **raw head outputs**, ``{"cls_logits": (B, N, K), "bbox_regression":
(B, N, 4)}`` with ``N`` the anchors of `AnchorGenerator` in its order (levels, rows, columns,
ratios, scales), keras-hub's output names. `decode_predictions` turns them into boxes in the
input image's pixels, scores and classes (sigmoid, top candidates, `BoxCoder` decoding,
clipping, per-class NMS), so training and serving share one model.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from zoo.ops.anchors import AnchorGenerator
from zoo.ops.boxes import BoxCoder, clip_boxes
from zoo.ops.nms import batched_non_max_suppression
from zoo.models.common import backbone_features, dense_input, resolve_classes
from zoo.registry import get_entry, register
from zoo.weights import apply_weights, check_weights_arg

PRIOR_PROBABILITY = 0.01


def feature_pyramid(features: dict[int, object], filters: int, max_level: int = 7,
                    name: str = "fpn") -> dict[int, object]:
    """FPN over ``{3: C3, 4: C4, 5: C5}`` -> ``{3: P3, ..., max_level: P_max}``."""
    init = keras.initializers.HeUniform()
    laterals = {level: layers.Conv2D(filters, 1, kernel_initializer=init,
                                     name=f"{name}_lateral_P{level}")(features[level])
                for level in (3, 4, 5)}
    merged = {5: laterals[5]}
    for level in (4, 3):   # top-down: upsample the coarser map and add the lateral
        up = layers.UpSampling2D(2, interpolation="nearest",
                                 name=f"{name}_upsample_P{level + 1}")(merged[level + 1])
        merged[level] = layers.Add(name=f"{name}_merge_P{level}")([laterals[level], up])
    out = {level: layers.Conv2D(filters, 3, padding="same", kernel_initializer=init,
                                name=f"{name}_output_P{level}")(merged[level])
           for level in (3, 4, 5)}
    x = out[5]
    for level in range(6, max_level + 1):
        if level > 6:
            x = layers.ReLU(name=f"{name}_relu_P{level - 1}")(x)
        x = layers.Conv2D(filters, 3, strides=2, padding="same", kernel_initializer=init,
                          name=f"{name}_P{level}")(x)
        out[level] = x
    return out


def _subnet(outputs_per_anchor: int, anchors: int, filters: int, convs: int, bias_init,
            name: str):
    """One head (its layers, to be shared by every level): convs x [3x3, ReLU] + predictor."""
    init = keras.initializers.RandomNormal(stddev=0.01)
    stack = [layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=init,
                           name=f"{name}_conv{i + 1}") for i in range(convs)]
    stack.append(layers.Conv2D(anchors * outputs_per_anchor, 3, padding="same",
                               kernel_initializer=init, bias_initializer=bias_init,
                               name=f"{name}_predict"))
    return stack


@register(
    "retinanet",
    task="detection",
    paper="Focal Loss for Dense Object Detection",
    paper_url="https://arxiv.org/abs/1708.02002",
    year=2017,
    params=33_919_604,
    params_source="the paper's ResNet-50-FPN, 80 COCO classes, in torchvision's "
                  "retinanet_resnet50_fpn layout: its FPN and heads exactly; with its 91 "
                  "classes 34,147,799 vs its 34,014,999 (+0.39 %: its frozen batch norm has no "
                  "parameters and its convolutions no biases; Keras' ResNet-50 has both)",
    input_shape=(640, 640, 3),
    min_size=128,
    preprocessing="caffe",
)
def retinanet(weights: str | None = None, input_tensor=None,
              input_shape: tuple[int | None, int | None, int] | None = None, classes: int = 80,
              backbone: str = "resnet50", backbone_weights: str | None = None,
              freeze_backbone: bool = False, fpn_filters: int = 256, head_filters: int = 256,
              head_convs: int = 4, min_level: int = 3, max_level: int = 7,
              aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0),
              scales: tuple[float, ...] = (1.0, 2 ** (1 / 3), 2 ** (2 / 3)),
              anchor_size: float = 4.0, name: str = "retinanet",
              num_classes: int | None = None) -> keras.Model:
    """RetinaNet: a backbone, a feature pyramid P3-P7 and shared class and box subnets.

    Reference: [Focal Loss for Dense Object Detection](https://arxiv.org/abs/1708.02002)
    (ICCV 2017).

    Args:
        weights: None, a weight tag, or a path.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(height, width, 3)``, sides divisible by 32 (the backbone's C5 stride)
            or None; default ``(None, None, 3)``.
        classes: object classes ``K`` (no background class: each is a sigmoid).
        backbone: a zoo classifier whose ``feature_layers`` have P3, P4 and P5.
        backbone_weights: the backbone's weights (``"imagenet"``, a tag, a path or None).
        freeze_backbone: make the backbone non-trainable.
        fpn_filters, head_filters: widths of the pyramid and the subnets (256 in the paper;
            small values make CPU variants).
        head_convs: convolutions per subnet before the predictor (4).
        min_level, max_level: must be 3 and 3-7 (P3 up to P_max).
        aspect_ratios, scales, anchor_size: the anchors (`AnchorGenerator`).
        name: model name.
        num_classes: an alias of ``classes`` (torchvision's name).

    Returns:
        A ``keras.Model``: images (the backbone's preprocessing) -> ``{"cls_logits": (B, N, K),
        "bbox_regression": (B, N, 4)}``.

    Example:
        >>> model = retinanet(backbone="resnet18", classes=3, fpn_filters=32, head_filters=32,
        ...                   input_shape=(128, 128, 3))
        >>> model(np.zeros((1, 128, 128, 3)))["cls_logits"].shape  # (256 + 64 + 16 + 4 + 1) * 9
        (1, 3069, 3)
    """
    classes = resolve_classes(name, classes, num_classes, default=80)
    if min_level != 3 or not isinstance(max_level, int) or not 5 <= max_level <= 7:
        raise ValueError("retinanet: the pyramid starts at P3 (min_level=3) and ends at P5-P7 "
                         f"(max_level 5, 6 or 7). Received: min_level={min_level!r}, "
                         f"max_level={max_level!r}")
    for arg, value in (("fpn_filters", fpn_filters), ("head_filters", head_filters)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"retinanet: `{arg}` must be an integer >= 1. Received: {value!r}")
    if isinstance(head_convs, bool) or not isinstance(head_convs, int) or head_convs < 0:
        raise ValueError(f"retinanet: `head_convs` must be an integer >= 0. Received: "
                         f"{head_convs!r}")
    taps_needed = {"P3", "P4", "P5"}
    entry = get_entry(backbone) if isinstance(backbone, str) else None
    if entry is not None and not taps_needed <= set(entry.feature_layers):
        raise ValueError(f"retinanet: the backbone must have feature layers P3, P4 and P5 "
                         f"(strides 8-32); {backbone!r} has {sorted(entry.feature_layers)}. "
                         "Use e.g. 'resnet50', 'resnet18' or 'mobilenet'.")
    anchors = AnchorGenerator(min_level, max_level, anchor_size, aspect_ratios, scales)
    check_weights_arg(name, weights, classes=classes, backbone=backbone,
                      fpn_filters=fpn_filters, head_filters=head_filters,
                      head_convs=head_convs, max_level=max_level)
    inputs, image = dense_input(name, input_shape=input_shape, input_tensor=input_tensor,
                                default_shape=(None, None, 3), divisor=32)
    taps, _ = backbone_features(backbone, image, backbone_weights, freeze_backbone)
    pyramid = feature_pyramid(taps, fpn_filters, max_level)
    k = anchors.anchors_per_location
    prior = keras.initializers.Constant(-math.log((1 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY))
    cls_head = _subnet(classes, k, head_filters, head_convs, prior, "cls_subnet")
    box_head = _subnet(4, k, head_filters, head_convs, "zeros", "box_subnet")
    cls_out, box_out = [], []
    for level in range(min_level, max_level + 1):
        c, b = pyramid[level], pyramid[level]
        for layer in cls_head:
            c = layer(c)
        for layer in box_head:
            b = layer(b)
        # (B, H, W, A * K) -> (B, H * W * A, K): the anchors' order
        cls_out.append(layers.Reshape((-1, classes), name=f"cls_flat_P{level}")(c))
        box_out.append(layers.Reshape((-1, 4), name=f"box_flat_P{level}")(b))
    outputs = {"cls_logits": layers.Concatenate(axis=1, name="cls_logits")(cls_out),
               "bbox_regression": layers.Concatenate(axis=1, name="bbox_regression")(box_out)}
    model = keras.Model(inputs, outputs, name=name)
    model.anchor_generator = anchors
    return apply_weights(model, name, weights, classes=classes)


def decode_predictions(outputs, image_size, *, anchor_generator: AnchorGenerator | None = None,
                       score_threshold: float = 0.05, iou_threshold: float = 0.5,
                       max_detections: int = 100, candidates: int = 1000,
                       coder: BoxCoder | None = None):
    """Raw head outputs -> detections in the input image's pixels, per image.

    As the paper's inference (section 5.1) and torchvision's ``postprocess_detections``:
    sigmoid scores, the best ``candidates`` (anchor, class) pairs above ``score_threshold``,
    `BoxCoder` decoding, clipping to the image, per-class NMS at ``iou_threshold``, the best
    ``max_detections`` kept. (torchvision picks the candidates per level; here over all levels.)

    Args:
        outputs: the model's ``{"cls_logits", "bbox_regression"}`` (backend tensors or NumPy).
        image_size: ``(height, width)`` of the model's input.
        anchor_generator: the model's (default: RetinaNet's).

    Returns:
        ``{"boxes": (B, D, 4), "scores": (B, D), "classes": (B, D), "num_detections": (B,)}``
        NumPy, padded to ``D = max_detections`` (score 0, class -1 in the padding).
    """
    anchor_generator = anchor_generator or AnchorGenerator()
    coder = coder or BoxCoder()
    logits = ops.convert_to_tensor(outputs["cls_logits"], "float32")
    deltas = ops.convert_to_tensor(outputs["bbox_regression"], "float32")
    height, width = int(image_size[0]), int(image_size[1])
    anchors = anchor_generator((height, width))
    if ops.shape(logits)[1] != anchors.shape[0]:
        raise ValueError(f"decode_predictions: the outputs have {ops.shape(logits)[1]} anchors, "
                         f"but a {height}x{width} image has {anchors.shape[0]}: pass the "
                         "image_size the model was called with and its anchor_generator.")
    batch, _, num_classes = ops.shape(logits)
    scores = ops.reshape(ops.sigmoid(logits), (batch, -1))          # (B, N * K)
    top = min(int(candidates), int(ops.shape(scores)[1]))
    top_scores, flat = ops.top_k(scores, top)
    anchor_idx, labels = flat // num_classes, flat % num_classes
    boxes = coder.decode(ops.take_along_axis(deltas, anchor_idx[..., None], axis=1),
                         ops.take(ops.convert_to_tensor(anchors), anchor_idx, axis=0))
    boxes = clip_boxes(boxes, height, width)
    keep, count = batched_non_max_suppression(boxes, top_scores, labels, iou_threshold,
                                              score_threshold, max_detections)
    keep_np, count_np = ops.convert_to_numpy(keep), ops.convert_to_numpy(count)
    boxes_np, scores_np = ops.convert_to_numpy(boxes), ops.convert_to_numpy(top_scores)
    labels_np = ops.convert_to_numpy(labels)
    out_boxes = np.zeros((batch, max_detections, 4), "float32")
    out_scores = np.zeros((batch, max_detections), "float32")
    out_classes = -np.ones((batch, max_detections), "int32")
    for b in range(batch):
        idx = keep_np[b, : count_np[b]]
        out_boxes[b, : len(idx)] = boxes_np[b, idx]
        out_scores[b, : len(idx)] = scores_np[b, idx]
        out_classes[b, : len(idx)] = labels_np[b, idx]
    return {"boxes": out_boxes, "scores": out_scores, "classes": out_classes,
            "num_detections": count_np.astype("int32")}
