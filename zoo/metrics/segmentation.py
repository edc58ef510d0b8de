"""Semantic-segmentation metrics: confusion matrix, per-class / mean IoU and Dice (F1), pixel
accuracy.

As reported by FCN (Long, Shelhamer and Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015), the PASCAL VOC challenge and, for Dice, medical imaging (Dice
1945; Milletari et al., V-Net 2016). With ``n_ij`` the number of pixels of true class ``i``
predicted as class ``j`` (the confusion matrix, rows = truth), ``TP_c = n_cc``,
``FP_c = sum_i n_ic - n_cc`` and ``FN_c = sum_j n_cj - n_cc``:

    IoU_c          = TP_c / (TP_c + FP_c + FN_c)
    Dice_c         = 2 TP_c / (2 TP_c + FP_c + FN_c)    (= F1_c = 2 IoU_c / (1 + IoU_c))
    mean IoU, mean Dice = the mean over the classes present in truth or prediction
    pixel accuracy = sum_c n_cc / sum_ij n_ij

Absent classes: a class absent from both truth and prediction has IoU and Dice 0/0:
`per_class_iou` and `per_class_dice` return NaN for it and `mean_iou` / `mean_dice` leave it
out of the (macro) mean, as ``keras.metrics.MeanIoU`` and torchmetrics'
``DiceScore(average="macro")`` do. A class only predicted, or only in the truth, is present:
its IoU and Dice are 0 and it counts in the mean. Pixels whose true label is
``ignore_index`` (e.g. 255) are not counted anywhere.

The counts are pooled over the whole data set (every image, then one score per class),
like ``MeanIoU``; torchmetrics' ``DiceScore`` does that with ``aggregation_level="global"``
(its default, ``"samplewise"``, scores each image and then averages the images).

Two kinds of API:

- NumPy functions over whole label maps (evaluation): ``y_true`` and ``y_pred_labels`` are
  integer maps of the same shape, ``(B, H, W)`` or ``(B, H, W, 1)`` (any shape works as long
  as both match). Labels outside ``[0, num_classes)`` that are not ``ignore_index`` raise.
- Streaming Keras metrics for ``model.compile(metrics=[...])``: `MeanIoU`, `MeanDice` and
  `PixelAccuracy` accumulate a confusion matrix over batches from ``(B, H, W, C)`` scores.

Example:
    >>> t = np.array([[0, 0], [1, 1]]); p = np.array([[0, 1], [1, 1]])
    >>> per_class_iou(t, p, num_classes=2)      # class 0: 1/2, class 1: 2/3
    array([0.5       , 0.66666667])
    >>> per_class_dice(t, p, num_classes=2)     # class 0: 2/(2+0+1), class 1: 4/(4+1+0)
    array([0.66666667, 0.8       ])
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo.metrics.verification import to_numpy

__all__ = ["MeanDice", "MeanIoU", "PixelAccuracy", "confusion_matrix", "dice_from_confusion",
           "iou_from_confusion", "mean_dice", "mean_iou", "per_class_dice", "per_class_iou",
           "pixel_accuracy"]


def _integer_map(x: Any, name: str) -> np.ndarray:
    a = to_numpy(x)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_)):
        if not np.issubdtype(a.dtype, np.floating) or not np.all(a == np.round(a)):
            raise ValueError(f"`{name}` must hold integer class ids (take np.argmax(scores, -1)"
                             f" of logits first). Received dtype {a.dtype} with non-integer "
                             "values.")
    return a.astype(np.int64)


def confusion_matrix(y_true: Any, y_pred_labels: Any, num_classes: int,
                     ignore_index: int | None = None) -> np.ndarray:
    """``(C, C)`` int64 pixel counts ``n[i, j]`` = true class ``i`` predicted as ``j``.

    Args:
        y_true: integer class ids, e.g. ``(B, H, W)`` or ``(B, H, W, 1)``.
        y_pred_labels: predicted class ids of the same shape (``argmax`` of the scores).
        num_classes: ``C``; valid ids are ``0 .. C-1``.
        ignore_index: true label of pixels to skip, or None.
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"`num_classes` must be an integer >= 1. Received: {num_classes!r}")
    t, p = _integer_map(y_true, "y_true"), _integer_map(y_pred_labels, "y_pred_labels")
    if t.shape != p.shape:
        raise ValueError("`y_true` and `y_pred_labels` must be label maps of the same shape. "
                         f"Received {t.shape} and {p.shape} (pass argmax(scores, -1), not "
                         "the scores).")
    keep = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    t, p = t[keep], p[keep]
    for name, a in (("y_true", t), ("y_pred_labels", p)):
        bad = a[(a < 0) | (a >= num_classes)]
        if bad.size:
            extra = "" if ignore_index is None or name != "y_true" else f" or {ignore_index}"
            raise ValueError(f"`{name}` must hold class ids in [0, {num_classes}){extra}. "
                             f"Received a value {bad[0]}.")
    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class IoU ``(C,)`` from a confusion matrix; NaN where the class never occurs."""
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def per_class_iou(y_true: Any, y_pred_labels: Any, num_classes: int,
                  ignore_index: int | None = None) -> np.ndarray:
    """IoU of each class, ``(C,)`` float64; NaN for a class absent from truth and prediction."""
    return iou_from_confusion(confusion_matrix(y_true, y_pred_labels, num_classes, ignore_index))


def mean_iou(y_true: Any, y_pred_labels: Any, num_classes: int,
             ignore_index: int | None = None) -> float:
    """Mean IoU over the classes present in truth or prediction (NaN classes left out)."""
    iou = per_class_iou(y_true, y_pred_labels, num_classes, ignore_index)
    if np.isnan(iou).all():
        raise ValueError("mean IoU is undefined: no valid pixel (every label is ignore_index).")
    return float(np.nanmean(iou))


def dice_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class Dice (F1) ``2 TP / (2 TP + FP + FN)``, ``(C,)``; NaN where the class never occurs.

    ``2 TP + FP + FN`` is the row sum plus the column sum of the confusion matrix: the pixels
    of the class in the truth plus those in the prediction.
    """
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    total = cm.sum(axis=0) + cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * tp / total, np.nan)


def per_class_dice(y_true: Any, y_pred_labels: Any, num_classes: int,
                   ignore_index: int | None = None) -> np.ndarray:
    """Dice (= F1) of each class, ``(C,)`` float64, over all the pixels given.

    A class absent from both truth and prediction is NaN (0/0); a class only predicted or
    only in the truth is 0. Same arguments as `confusion_matrix`.
    """
    return dice_from_confusion(confusion_matrix(y_true, y_pred_labels, num_classes,
                                                ignore_index))


def mean_dice(y_true: Any, y_pred_labels: Any, num_classes: int,
              ignore_index: int | None = None) -> float:
    """Macro Dice (macro F1): the mean of `per_class_dice` over the classes present.

    Classes absent from both truth and prediction (NaN) are left out of the mean, as in
    `mean_iou` and torchmetrics' ``DiceScore(average="macro", aggregation_level="global")``
    (not counted as 1, as the smoothed `zoo.losses.DiceLoss` would count them).

    Raises:
        ValueError: when no pixel is valid (every true label is ``ignore_index``).
    """
    dice = per_class_dice(y_true, y_pred_labels, num_classes, ignore_index)
    if np.isnan(dice).all():
        raise ValueError("mean Dice is undefined: no valid pixel (every label is ignore_index).")
    return float(np.nanmean(dice))


def pixel_accuracy(y_true: Any, y_pred_labels: Any, num_classes: int,
                   ignore_index: int | None = None) -> float:
    """Fraction of the valid pixels whose predicted class is the true class."""
    cm = confusion_matrix(y_true, y_pred_labels, num_classes, ignore_index)
    if cm.sum() == 0:
        raise ValueError("pixel accuracy is undefined: no valid pixel (every label is "
                         "ignore_index).")
    return float(np.trace(cm) / cm.sum())


# ------------------------------------------------------------------ streaming Keras metrics

@keras.saving.register_keras_serializable(package="zoo")
class MeanIoU(keras.metrics.MeanIoU):
    """Streaming mean IoU for ``compile``: ``keras.metrics.MeanIoU`` with segmentation defaults.

    ``keras.metrics.MeanIoU`` already does the job (it argmaxes ``(B, H, W, C)`` scores with
    ``sparse_y_pred=False``, skips ``ignore_class`` and leaves absent classes out of the
    mean), so this subclass only changes the defaults: ``y_pred`` is scores (logits or
    probabilities; the argmax is the same), and the ignored label is named ``ignore_index``
    as in the losses. Out-of-range labels cannot raise inside a compiled step: Keras drops
    them silently; check data with the NumPy `confusion_matrix`.

    Args:
        num_classes: ``C``.
        ignore_index: true label of pixels to skip, or None.
        sparse_y_pred: ``y_pred`` is already class ids (True) or scores ``(B, H, W, C)``.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None,
                 sparse_y_pred: bool = False, name: str = "mean_iou", dtype=None):
        super().__init__(num_classes=num_classes, name=name, dtype=dtype,
                         ignore_class=ignore_index, sparse_y_pred=sparse_y_pred)
        self.ignore_index = ignore_index

    def get_config(self):
        return {"num_classes": self.num_classes, "ignore_index": self.ignore_index,
                "sparse_y_pred": self.sparse_y_pred, "name": self.name, "dtype": self._dtype}


@keras.saving.register_keras_serializable(package="zoo")
class PixelAccuracy(MeanIoU):
    """Streaming pixel accuracy ``trace(cm) / sum(cm)`` with an ignored label.

    Keras' ``SparseCategoricalAccuracy`` has no ignored label, so this reuses `MeanIoU`'s
    confusion-matrix accumulation and only changes ``result``. Same arguments as `MeanIoU`.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None,
                 sparse_y_pred: bool = False, name: str = "pixel_accuracy", dtype=None):
        super().__init__(num_classes, ignore_index, sparse_y_pred, name=name, dtype=dtype)

    def result(self):
        cm = keras.ops.cast(self.total_cm, "float32")
        return keras.ops.divide_no_nan(keras.ops.trace(cm), keras.ops.sum(cm))


@keras.saving.register_keras_serializable(package="zoo")
class MeanDice(MeanIoU):
    """Streaming macro Dice (macro F1) for ``compile``, from a confusion matrix over batches.

    The same accumulation as `MeanIoU` (``y_pred`` is ``(B, H, W, C)`` logits or probabilities,
    argmaxed; or class ids with ``sparse_y_pred=True``; true labels ``ignore_index`` are
    skipped), so after any number of batches `result` equals `mean_dice` on their
    concatenation. ``result()`` is the mean of ``2 TP / (2 TP + FP + FN)`` over the classes
    present in the truth or the prediction seen so far (absent classes are left out; 0
    before any valid pixel, as `MeanIoU`); `per_class_result` gives every class, NaN for an
    absent one. Out-of-range labels are dropped silently inside a compiled step, as in
    `MeanIoU`.

    Args:
        num_classes: ``C``.
        ignore_index: true label of pixels to skip, or None.
        sparse_y_pred: ``y_pred`` is already class ids (True) or scores ``(B, H, W, C)``.

    Example:
        >>> model.compile(optimizer="adam", loss=DiceLoss(),
        ...               metrics=[MeanIoU(21, ignore_index=255), MeanDice(21, ignore_index=255)])
        ... # doctest: +SKIP
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None,
                 sparse_y_pred: bool = False, name: str = "mean_dice", dtype=None):
        super().__init__(num_classes, ignore_index, sparse_y_pred, name=name, dtype=dtype)

    def _dice_terms(self):
        cm = keras.ops.cast(self.total_cm, "float32")
        return 2.0 * keras.ops.diagonal(cm), keras.ops.sum(cm, axis=0) + keras.ops.sum(cm, axis=1)

    def per_class_result(self):
        """Dice of each class so far, ``(C,)`` float32; NaN for a class not seen at all."""
        numerator, total = self._dice_terms()
        present = keras.ops.greater(total, 0.0)
        return keras.ops.where(present, numerator / keras.ops.maximum(total, 1.0), float("nan"))

    def result(self):
        numerator, total = self._dice_terms()
        present = keras.ops.cast(keras.ops.greater(total, 0.0), "float32")
        dice = keras.ops.divide_no_nan(numerator, total)
        return keras.ops.divide_no_nan(keras.ops.sum(dice * present), keras.ops.sum(present))
