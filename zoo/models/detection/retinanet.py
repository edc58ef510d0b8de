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

from zoo.losses.detection import BOX_LOSSES, retinanet_loss
from zoo.ops.anchors import AnchorGenerator
from zoo.ops.boxes import BoxCoder, clip_boxes
from zoo.ops.matching import Matcher, assign_targets
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


def anchor_generator_of(model: keras.Model) -> AnchorGenerator | None:
    """The `AnchorGenerator` a detector was built with (``model.anchor_generator``, set by the
    builder), or None: a model reloaded with ``keras.saving.load_model`` has lost it (its
    layers are kept, a Python attribute is not), and its anchors must then be passed."""
    return getattr(model, "anchor_generator", None)


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
              freeze_backbone: bool = False, backbone_args: dict | None = None,
              fpn_filters: int = 256, head_filters: int = 256, head_convs: int = 4,
              min_level: int = 3, max_level: int = 7,
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
        backbone_args: more arguments of the backbone's builder (``{"alpha": 0.5}``: a
            MobileNet at half width).
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
                      head_convs=head_convs, max_level=max_level,
                      backbone_args=backbone_args or {})
    inputs, image = dense_input(name, input_shape=input_shape, input_tensor=input_tensor,
                                default_shape=(None, None, 3), divisor=32)
    taps, _ = backbone_features(backbone, image, backbone_weights, freeze_backbone,
                                backbone_args)
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


LETTERBOX_FILL = 114.0   # YOLOv5's grey border, as `training.augment_boxes.Letterbox`


def _decode_core(logits, deltas, anchors, score_threshold, iou_threshold, *, candidates: int,
                 max_detections: int, coder: BoxCoder, height: int, width: int):
    """The tensor part of `decode_predictions` (compiled by `_compiled_decoder`)."""
    batch, _, num_classes = ops.shape(logits)
    scores = ops.reshape(ops.sigmoid(logits), (batch, -1))          # (B, N * K)
    top = min(int(candidates), int(ops.shape(scores)[1]))
    top_scores, flat = ops.top_k(scores, top)
    anchor_idx, labels = flat // num_classes, flat % num_classes
    boxes = coder.decode(ops.take_along_axis(deltas, anchor_idx[..., None], axis=1),
                         ops.take(anchors, anchor_idx, axis=0))
    boxes = clip_boxes(boxes, height, width)
    keep, count = batched_non_max_suppression(boxes, top_scores, labels, iou_threshold,
                                              score_threshold, max_detections)
    return keep, count, boxes, top_scores, labels


_DECODERS: dict = {}


def _compiled_decoder(**static):
    """`_decode_core` compiled once per backend and static settings: ``jax.jit`` on JAX, a
    ``tf.function`` graph on TensorFlow, eager on PyTorch. The thresholds are
    traced arguments, so a demo's sliders re-run it without recompiling. (Eager NMS is a Python
    loop of ``max_detections`` rounds, ~25 ms each on TensorFlow: 2.5 s an image.)"""
    backend = keras.backend.backend()
    # a coder by its settings, not its identity: a new BoxCoder() must not compile again
    key = (backend, tuple(sorted((k, repr(v.get_config() if hasattr(v, "get_config") else v))
                                 for k, v in static.items())))
    if key not in _DECODERS:
        def fn(logits, deltas, anchors, score_threshold, iou_threshold):
            return _decode_core(logits, deltas, anchors, score_threshold, iou_threshold,
                                **static)
        if backend == "jax":
            import jax

            fn = jax.jit(fn)
        elif backend == "tensorflow":
            import tensorflow as tf

            # one trace per input shape (reduce_retracing would make the sizes unknown, and
            # top_k needs them); a graph, not XLA: XLA's CPU top_k over the paper model's
            # 1.5M-6M scores took 0.3-1.1 s, TensorFlow's kernel 11-32 ms (the 3-class model:
            # 3-5 ms either way). The loops are keras.ops loops: no AutoGraph.
            fn = tf.function(fn, autograph=False)
        _DECODERS[key] = fn
    return _DECODERS[key]


def decode_predictions(outputs, image_size, *, anchor_generator: AnchorGenerator | None = None,
                       score_threshold: float = 0.05, iou_threshold: float = 0.5,
                       max_detections: int = 100, candidates: int = 1000,
                       coder: BoxCoder | None = None):
    """Raw head outputs -> detections in the input image's pixels, per image.

    As the paper's inference (section 5.1) and torchvision's ``postprocess_detections``:
    sigmoid scores, the best ``candidates`` (anchor, class) pairs above ``score_threshold``,
    `BoxCoder` decoding, clipping to the image, per-class NMS at ``iou_threshold``, the best
    ``max_detections`` kept. (torchvision picks the candidates per level; here over all levels.)
    The work runs compiled (`_compiled_decoder`); the thresholds do not trigger a recompile.

    Args:
        outputs: the model's ``{"cls_logits", "bbox_regression"}`` (backend tensors or NumPy).
        image_size: ``(height, width)`` of the model's input.
        anchor_generator: the model's (``model.anchor_generator``; default: RetinaNet's).

    Returns:
        ``{"boxes": (B, D, 4), "scores": (B, D), "classes": (B, D), "num_detections": (B,)}``
        NumPy, padded to ``D = max_detections`` (score 0, class -1 in the padding).
    """
    for name, value in (("score_threshold", score_threshold), ("iou_threshold", iou_threshold)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value <= 1:
            raise ValueError(f"decode_predictions: `{name}` must be a number in [0, 1]. "
                             f"Received: {value!r}")
    if isinstance(max_detections, bool) or not isinstance(max_detections, int) \
            or max_detections < 1:
        raise ValueError("decode_predictions: `max_detections` must be an integer >= 1. "
                         f"Received: {max_detections!r}")
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
    batch = int(ops.shape(logits)[0])
    decoder = _compiled_decoder(candidates=int(candidates), max_detections=max_detections,
                                coder=coder, height=height, width=width)
    keep, count, boxes, top_scores, labels = decoder(
        logits, deltas, ops.convert_to_tensor(anchors, "float32"),
        ops.convert_to_tensor(float(score_threshold), "float32"),
        ops.convert_to_tensor(float(iou_threshold), "float32"))
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


# ---------------------------------------------------------------------------------------------
# Images in, boxes out: the letterbox the shipped weights were trained with
# ---------------------------------------------------------------------------------------------

def letterbox_transform(image_size, input_size) -> tuple[float, float, float, float]:
    """``(sx, sy, left, top)`` of the letterbox from an image to the model input: a pixel
    ``(x, y)`` lands at ``((x + left) sx, (y + top) sy)``. The image is padded to the input's
    aspect ratio in whole pixels (centred, the extra row or column at the end), then resized:
    Keras' ``ops.image.resize(pad_to_aspect_ratio=True)``, the resize of the training letterbox
    (`training.augment_boxes.Letterbox`)."""
    in_h, in_w = float(image_size[0]), float(image_size[1])
    height, width = float(input_size[0]), float(input_size[1])
    pad_h = max(in_h, math.floor(in_w * height / width))
    pad_w = max(in_w, math.floor(in_h * width / height))
    top, left = math.floor((pad_h - in_h) / 2), math.floor((pad_w - in_w) / 2)
    return width / (in_w + 2 * left), height / (in_h + 2 * top), float(left), float(top)


def letterbox_image(image, input_size, fill_value: float = LETTERBOX_FILL) -> np.ndarray:
    """One ``(H, W, 3)`` image (0..255) -> float32 ``input_size + (3,)`` in 0..255, letterboxed
    as `letterbox_transform` says (bilinear)."""
    image = np.asarray(image, "float32")
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"Expected an RGB image (height, width, 3). Received shape "
                         f"{image.shape}.")
    out = ops.image.resize(image, tuple(int(s) for s in input_size), interpolation="bilinear",
                           pad_to_aspect_ratio=True, fill_mode="constant",
                           fill_value=fill_value)
    return np.asarray(ops.convert_to_numpy(out), "float32")


def boxes_to_image(boxes, transform, image_size=None) -> np.ndarray:
    """Boxes in model-input pixels -> the original image's pixels (inverse letterbox), clipped
    to the image when its ``(height, width)`` is given (a box reaching into the border)."""
    sx, sy, left, top = transform
    boxes = np.asarray(boxes, "float32").copy()
    boxes[..., 0::2] = boxes[..., 0::2] / sx - left
    boxes[..., 1::2] = boxes[..., 1::2] / sy - top
    if image_size is not None:
        boxes[..., 0::2] = boxes[..., 0::2].clip(0, image_size[1])
        boxes[..., 1::2] = boxes[..., 1::2].clip(0, image_size[0])
    return boxes


def model_input_size(model: keras.Model, input_size=None) -> tuple[int, int]:
    """The ``(height, width)`` a detector runs at: ``input_size`` or its static input shape."""
    if input_size is None:
        shape = model.input_shape
        if isinstance(shape, list):
            shape = shape[0]
        if shape[1] is None or shape[2] is None:
            raise ValueError(f"{model.name} has no fixed input size: pass input_size=(height, "
                             "width), both divisible by 32.")
        input_size = shape[1:3]
    height, width = int(input_size[0]), int(input_size[1])
    if height % 32 or width % 32 or height < 32 or width < 32:
        raise ValueError(f"input_size must be (height, width), both multiples of 32 (the C5 "
                         f"stride). Received: {input_size!r}")
    return height, width


def predict_boxes(model: keras.Model, images, *, input_size=None,
                  score_threshold: float = 0.05, iou_threshold: float = 0.5,
                  max_detections: int = 100, batch_size: int = 8,
                  anchor_generator: AnchorGenerator | None = None) -> list[dict[str, np.ndarray]]:
    """Detections for images of any size, in each image's own pixels.

    Each image (``(H, W, 3)`` RGB, 0..255) is letterboxed to the model's input size, scaled to
    [0, 1] (the ``"unit"`` preprocessing of the zoo's detection weights), run through the
    network, decoded (`decode_predictions`) and its boxes mapped back (`boxes_to_image`).

    Args:
        model: a RetinaNet (raw outputs), e.g. ``zoo.load("retinanet", weights="bccd")``.
        images: a list of arrays (sizes may differ) or one ``(N, H, W, 3)`` array.
        input_size: the model's ``(height, width)``; default its static input shape.
        anchor_generator: default the model's own (`anchor_generator_of`).

    Returns:
        One dict per image: ``{"boxes": (D, 4) xyxy, "scores": (D,), "labels": (D,) int32}``,
        best first, only the ``D`` kept detections.

    Example:
        >>> model = zoo.load("retinanet", weights="bccd")             # doctest: +SKIP
        >>> found = predict_boxes(model, [image], score_threshold=0.3)  # doctest: +SKIP
        >>> found[0]["boxes"].shape                                      # doctest: +SKIP
        (27, 4)
    """
    height, width = model_input_size(model, input_size)
    anchor_generator = anchor_generator or anchor_generator_of(model)
    if anchor_generator is None:
        raise ValueError(f"{model.name} has no anchor_generator (a model reloaded from a .keras "
                         "file loses it): pass anchor_generator=AnchorGenerator(...) with the "
                         "builder's settings (its max_level, anchor_size as base_size, "
                         "aspect_ratios, scales), or build it with zoo.build / zoo.load.")
    images = list(images)
    results = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        x = np.stack([letterbox_image(im, (height, width)) for im in chunk]) / 255.0
        outputs = model(x, training=False)
        found = decode_predictions(outputs, (height, width), anchor_generator=anchor_generator,
                                   score_threshold=score_threshold, iou_threshold=iou_threshold,
                                   max_detections=max_detections)
        for b, image in enumerate(chunk):
            n = int(found["num_detections"][b])
            hw = np.shape(image)[:2]
            boxes = boxes_to_image(found["boxes"][b, :n], letterbox_transform(hw, (height, width)),
                                   hw)
            results.append({"boxes": boxes, "scores": found["scores"][b, :n],
                            "labels": found["classes"][b, :n]})
    return results


# ---------------------------------------------------------------------------------------------
# Training: targets are assigned inside the train step
# ---------------------------------------------------------------------------------------------

class RetinaNetTrainer(keras.Model):
    """A RetinaNet wrapped for ``fit`` on images and padded ground-truth boxes.

    ``fit(x, y)`` with ``x`` images ``(B, H, W, 3)`` as the detector takes them and ``y`` =
    ``{"boxes": (B, M, 4) xyxy pixels of x, "labels": (B, M) int, -1 = padding}`` (the Keras
    detection dict's ``bounding_boxes``). The train step matches anchors to boxes
    (`assign_targets`: IoU >= 0.5 positive, < 0.4 background, between ignored, each box's best
    anchor kept), then applies `retinanet_loss` (focal loss over the non-ignored anchors + the
    box loss over the positives, both divided by the positive count). Matching runs in
    ``keras.ops`` inside the compiled step, on every backend, so a NumPy ``PyDataset`` feeds it
    as well as ``tf.data`` (keras-hub's RetinaNet does the same in ``compute_loss``).

    The trainer holds no variables of its own: the detector's weights are its weights, and
    ``trainer.detector`` is what ships.

    Args:
        detector: a `retinanet` model (raw outputs).
        anchor_generator: default ``detector.anchor_generator``.
        alpha, gamma: the focal loss's (0.25, 2).
        box_loss: ``"smooth_l1"`` (on deltas, beta 1/9) or ``"giou"``.
        box_weight: the box loss's weight in the sum (1).
        matcher: default ``Matcher(0.5, 0.4, allow_low_quality_matches=True)``.

    Example:
        >>> detector = retinanet(backbone="resnet18", classes=3, input_shape=(128, 128, 3))
        >>> trainer = RetinaNetTrainer(detector)
        >>> trainer.compile(optimizer="adam")
        >>> trainer.fit(images, {"boxes": boxes, "labels": labels})   # doctest: +SKIP
    """

    def __init__(self, detector: keras.Model, anchor_generator: AnchorGenerator | None = None, *,
                 alpha: float = 0.25, gamma: float = 2.0, box_loss: str = "smooth_l1",
                 box_weight: float = 1.0, matcher: Matcher | None = None, **kwargs):
        super().__init__(name=kwargs.pop("name", f"{detector.name}_trainer"), **kwargs)
        if box_loss not in BOX_LOSSES:
            raise ValueError(f"`box_loss` must be one of {BOX_LOSSES}. Received: {box_loss!r}")
        self.detector = detector
        self.anchor_generator = (anchor_generator or anchor_generator_of(detector)
                                 or AnchorGenerator())
        self.alpha, self.gamma, self.box_loss = float(alpha), float(gamma), box_loss
        self.box_weight = float(box_weight)
        self.matcher = matcher or Matcher(0.5, 0.4, allow_low_quality_matches=True)
        self.coder = BoxCoder()
        self._anchors: dict[tuple[int, int], np.ndarray] = {}
        self.built = detector.built   # its variables are the detector's (a functional model)

    def call(self, images, training=None):
        return self.detector(images, training=training)

    def anchors(self, image_size) -> np.ndarray:
        """The ``(N, 4)`` anchors of an input size (cached)."""
        key = (int(image_size[0]), int(image_size[1]))
        if key not in self._anchors:
            self._anchors[key] = self.anchor_generator(key).astype("float32")
        return self._anchors[key]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y, dict) or "boxes" not in y or "labels" not in y:
            raise ValueError("RetinaNetTrainer: the targets must be {'boxes': (B, M, 4), "
                             f"'labels': (B, M)}} padded with label -1. Received: {type(y)}")
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        if height is None or width is None:
            raise ValueError("RetinaNetTrainer: the image size must be static (batches of "
                             "one size) to place the anchors.")
        anchors = ops.convert_to_tensor(self.anchors((height, width)))
        class_targets, box_targets, _ = assign_targets(anchors, y["boxes"], y["labels"],
                                                       self.matcher, self.coder)
        cls, box = retinanet_loss(class_targets, box_targets,
                                  ops.cast(y_pred["cls_logits"], "float32"),
                                  ops.cast(y_pred["bbox_regression"], "float32"),
                                  anchors=anchors, alpha=self.alpha, gamma=self.gamma,
                                  box_loss=self.box_loss, coder=self.coder)
        return cls + self.box_weight * box
