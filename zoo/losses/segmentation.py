"""Losses for semantic segmentation: pixel-wise cross-entropy, soft Dice and soft Jaccard (IoU).

``y_true`` is an integer class-id map ``(B, H, W)`` or ``(B, H, W, 1)``; ``y_pred`` is
``(B, H, W, C)`` logits (``from_logits=True``, the default) or probabilities. With ``C == 1``
the prediction is a sigmoid foreground score (a binary task: labels 0 = background,
1 = foreground). Pixels labelled ``ignore_index`` (e.g. 255, VOC's object boundaries) add
nothing to any loss and are not counted.

* Cross-entropy, as in FCN (Long, Shelhamer and Darrell, "Fully Convolutional Networks for
  Semantic Segmentation", CVPR 2015): ``-log p_y`` averaged over the valid pixels.
* Soft Dice (Milletari, Navab and Ahmadi, "V-Net", 3DV 2016), per class ``c``:
  ``D_c = (2 sum p g + s) / (sum p + sum g + s)``, loss ``1 - mean_c D_c``.
* Soft Jaccard / IoU (Rahman and Wang, "Optimizing Intersection-Over-Union in Deep Neural
  Networks for Image Segmentation", ISVC 2016): ``J_c = (sum p g + s) / (sum p + sum g -
  sum p g + s)``, loss ``1 - mean_c J_c``.

Example:
    >>> y_true = np.array([[[0, 1], [1, 1]]])                  # (1, 2, 2) class ids
    >>> logits = np.random.normal(size=(1, 2, 2, 3)).astype("float32")
    >>> loss = SparsePixelCrossEntropy(ignore_index=255)
    >>> model.compile(optimizer="adam", loss=DiceLoss(), metrics=[zoo.metrics.MeanIoU(3)])
    ... # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

EPS = 1e-7


def _concrete(x) -> np.ndarray | None:
    """The value of ``x`` when it is concrete (eager), else None (inside a traced function)."""
    try:
        return np.asarray(ops.convert_to_numpy(x))
    except Exception:  # symbolic tensors / tracers cannot be converted: no check then
        return None


def labels_and_mask(y_true, y_pred, num_labels: int, ignore_index: int | None):
    """Class ids ``(B, H, W)`` int32 (ignored pixels set to 0) and the valid-pixel mask (float32).

    Labels outside ``[0, num_labels)`` that are not ``ignore_index`` raise a ``ValueError``
    when the labels are concrete (eager); inside a compiled step they cannot be checked.
    """
    if len(y_true.shape) == 4 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    if len(y_pred.shape) != 4 or len(y_true.shape) != 3:
        raise ValueError("Expected `y_true` class ids of shape (B, H, W) or (B, H, W, 1) and "
                         "`y_pred` scores of shape (B, H, W, C). Received y_true shape "
                         f"{tuple(y_true.shape)} and y_pred shape {tuple(y_pred.shape)}.")
    for a, b in zip(y_true.shape, y_pred.shape[:3]):
        if a is not None and b is not None and a != b:
            raise ValueError("`y_true` and `y_pred` must have the same (B, H, W). Received "
                             f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}.")
    values = _concrete(y_true)
    if values is not None:
        ok = (values == np.round(values)) & (values >= 0) & (values < num_labels)
        if ignore_index is not None:
            ok |= values == ignore_index
        if not ok.all():
            raise ValueError(f"`y_true` must hold class ids in [0, {num_labels})"
                             f"{'' if ignore_index is None else f' or {ignore_index}'}. "
                             f"Received a value {values[~ok][0]}.")
    labels = ops.cast(y_true, "int32")
    if ignore_index is None:
        return labels, ops.ones_like(labels, dtype="float32")
    valid = ops.not_equal(labels, ignore_index)
    return ops.where(valid, labels, 0), ops.cast(valid, "float32")


def _check_weights(class_weights, num_classes: int):
    if class_weights is None:
        return None
    if len(class_weights) != num_classes:
        raise ValueError(f"`class_weights` must have one weight per class ({num_classes}). "
                         f"Received {len(class_weights)} weights.")
    return ops.convert_to_tensor(class_weights, dtype="float32")


def _validate_common(from_logits, ignore_index, class_weights):
    if ignore_index is not None and not isinstance(ignore_index, (int, np.integer)):
        raise ValueError(f"`ignore_index` must be an integer or None. Received: {ignore_index!r}")
    if class_weights is not None:
        w = np.asarray(class_weights, dtype="float64")
        if w.ndim != 1 or not np.all(np.isfinite(w) & (w >= 0)) or w.sum() <= 0:
            raise ValueError("`class_weights` must be a list of finite weights >= 0, not all "
                             f"zero. Received: class_weights={class_weights!r}")
        class_weights = [float(v) for v in w]
    return bool(from_logits), None if ignore_index is None else int(ignore_index), class_weights


# ------------------------------------------------------------------------ cross-entropy

def sparse_pixel_crossentropy(y_true, y_pred, from_logits: bool = True,
                              class_weights: Sequence[float] | None = None,
                              ignore_index: int | None = None):
    """Pixel-wise cross-entropy, the weighted mean over the valid pixels of the batch.

    ``L = sum_i w_{y_i} * (-log p_{i, y_i}) / sum_i w_{y_i}`` over the pixels ``i`` whose label
    is not ``ignore_index`` (PyTorch's ``CrossEntropyLoss(weight=..., ignore_index=...)``
    normalisation; ``w = 1`` without weights). With ``C == 1`` the channel is a sigmoid
    foreground score: binary cross-entropy, and ``class_weights`` = (background, foreground).

    Returns:
        A scalar; 0 when every pixel is ignored.
    """
    y_pred = ops.cast(y_pred, "float32")
    if y_pred.shape[-1] == 1:  # binary: sigmoid(z) == softmax([0, z])[1]
        y_pred = ops.concatenate([ops.zeros_like(y_pred), y_pred] if from_logits
                                 else [1.0 - y_pred, y_pred], axis=-1)
    num_classes = y_pred.shape[-1]
    labels, valid = labels_and_mask(y_true, y_pred, num_classes, ignore_index)
    weights = _check_weights(class_weights, num_classes)
    log_p = (ops.log_softmax(y_pred, axis=-1) if from_logits
             else ops.log(ops.clip(y_pred, EPS, 1.0)))
    ce = -ops.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]   # (B, H, W)
    w = valid if weights is None else valid * ops.take(weights, labels)
    return ops.sum(w * ce) / ops.maximum(ops.sum(w), EPS)


@keras.saving.register_keras_serializable(package="zoo")
class SparsePixelCrossEntropy(keras.losses.Loss):
    """Pixel-wise cross-entropy with class weights and an ignored label.

    Written by hand: ``keras.losses.SparseCategoricalCrossentropy(ignore_class=...)`` takes
    no class weights (only per-pixel sample weights, which change the normalisation).

    Args:
        from_logits: ``y_pred`` holds logits (True) or probabilities (False).
        class_weights: one weight ``w_c >= 0`` per class; the loss is the weighted mean
            ``sum w_y ce / sum w_y`` over valid pixels (PyTorch's semantics).
        ignore_index: the label of pixels to leave out (e.g. 255), or None.

    The loss is one scalar per batch (pooled over all valid pixels): ``reduction`` and
    ``sample_weight`` have no effect beyond scaling it.

    Example:
        >>> loss = SparsePixelCrossEntropy(class_weights=[0.5, 2.0], ignore_index=255)
        >>> round(float(loss(np.array([[[0, 255]]]), np.zeros((1, 1, 2, 2), "float32"))), 4)
        0.6931
    """

    def __init__(self, from_logits: bool = True, class_weights: Sequence[float] | None = None,
                 ignore_index: int | None = None, name: str = "sparse_pixel_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits, self.ignore_index, self.class_weights = _validate_common(
            from_logits, ignore_index, class_weights)

    def call(self, y_true, y_pred):
        return sparse_pixel_crossentropy(y_true, y_pred, self.from_logits,
                                         self.class_weights, self.ignore_index)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "class_weights": self.class_weights, "ignore_index": self.ignore_index}


# ------------------------------------------------------------------------ Dice and Jaccard

def soft_overlaps(y_true, y_pred, from_logits: bool = True, ignore_index: int | None = None):
    """Per-class soft ``(sum p g, sum p, sum g)`` over the valid pixels of the whole batch.

    ``p`` is the softmax (``C > 1``) or sigmoid (``C == 1``, foreground only) probability and
    ``g`` the one-hot truth. Returns three ``(C,)`` tensors.
    """
    y_pred = ops.cast(y_pred, "float32")
    c = y_pred.shape[-1]
    labels, valid = labels_and_mask(y_true, y_pred, max(c, 2), ignore_index)
    if c == 1:
        probs = ops.sigmoid(y_pred) if from_logits else y_pred
        truth = ops.cast(ops.equal(labels, 1), "float32")[..., None]
    else:
        probs = ops.softmax(y_pred, axis=-1) if from_logits else y_pred
        truth = ops.one_hot(labels, c)
    probs, truth = probs * valid[..., None], truth * valid[..., None]
    axes = (0, 1, 2)
    return ops.sum(probs * truth, axis=axes), ops.sum(probs, axis=axes), ops.sum(truth, axis=axes)


def _class_mean(per_class, class_weights):
    weights = _check_weights(class_weights, per_class.shape[0])
    if weights is None:
        return ops.mean(per_class)
    return ops.sum(weights * per_class) / ops.sum(weights)


def dice_loss(y_true, y_pred, from_logits: bool = True, smooth: float = 1.0,
              ignore_index: int | None = None, class_weights: Sequence[float] | None = None):
    """``1 - mean_c (2 sum p g + s) / (sum p + sum g + s)``, sums over the batch (a scalar)."""
    inter, pred, true = soft_overlaps(y_true, y_pred, from_logits, ignore_index)
    return 1.0 - _class_mean((2.0 * inter + smooth) / (pred + true + smooth), class_weights)


def jaccard_loss(y_true, y_pred, from_logits: bool = True, smooth: float = 1.0,
                 ignore_index: int | None = None, class_weights: Sequence[float] | None = None):
    """``1 - mean_c (sum p g + s) / (sum p + sum g - sum p g + s)``, sums over the batch."""
    inter, pred, true = soft_overlaps(y_true, y_pred, from_logits, ignore_index)
    return 1.0 - _class_mean((inter + smooth) / (pred + true - inter + smooth), class_weights)


class _OverlapLoss(keras.losses.Loss):
    """Shared arguments of `DiceLoss` and `JaccardLoss` (see their docstrings)."""

    fn = None

    def __init__(self, from_logits: bool = True, smooth: float = 1.0,
                 ignore_index: int | None = None, class_weights: Sequence[float] | None = None,
                 name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(smooth, (int, float)) or smooth < 0:
            raise ValueError(f"`smooth` must be a number >= 0. Received: smooth={smooth!r}")
        self.smooth = float(smooth)
        self.from_logits, self.ignore_index, self.class_weights = _validate_common(
            from_logits, ignore_index, class_weights)

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, self.from_logits, self.smooth, self.ignore_index,
                             self.class_weights)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "smooth": self.smooth,
                "ignore_index": self.ignore_index, "class_weights": self.class_weights}


@keras.saving.register_keras_serializable(package="zoo")
class DiceLoss(_OverlapLoss):
    """Multi-class soft Dice loss ``1 - mean_c (2 sum p g + s) / (sum p + sum g + s)``.

    The sums run over all valid pixels of the **batch** (not per image), which keeps the
    loss stable when a class is missing from one image; the number of classes is ``C`` of
    ``y_pred``. Every class enters the mean (a class absent from truth and prediction scores
    ``s / (sum p + s)``, close to 1); with ``class_weights`` the mean is
    ``sum w_c D_c / sum w_c``. With ``C == 1`` the channel is a sigmoid foreground score and
    only the foreground Dice is used (labels 0/1), as in V-Net.

    Args:
        from_logits: ``y_pred`` holds logits (softmax / sigmoid applied here) or probabilities.
        smooth: ``s >= 0``, added to numerator and denominator (``s = 0`` gives NaN for a
            class with no pixel and no prediction).
        ignore_index: label of pixels left out of every sum, or None.
        class_weights: one weight per channel of ``y_pred``, or None.

    Example:
        >>> float(DiceLoss(from_logits=False)(np.array([[[0, 1]]]), np.eye(2)[None, None]))
        0.0
    """

    fn = staticmethod(dice_loss)

    def __init__(self, from_logits: bool = True, smooth: float = 1.0,
                 ignore_index: int | None = None, class_weights: Sequence[float] | None = None,
                 name: str = "dice_loss", **kwargs):
        super().__init__(from_logits, smooth, ignore_index, class_weights, name=name, **kwargs)


@keras.saving.register_keras_serializable(package="zoo")
class JaccardLoss(_OverlapLoss):
    """Soft Jaccard (IoU) loss ``1 - mean_c (sum p g + s) / (sum p + sum g - sum p g + s)``.

    Same arguments, batch-level sums, class mean and ``C == 1`` binary mode as `DiceLoss`.
    """

    fn = staticmethod(jaccard_loss)

    def __init__(self, from_logits: bool = True, smooth: float = 1.0,
                 ignore_index: int | None = None, class_weights: Sequence[float] | None = None,
                 name: str = "jaccard_loss", **kwargs):
        super().__init__(from_logits, smooth, ignore_index, class_weights, name=name, **kwargs)
