"""Semantic-segmentation metrics: confusion matrix, per-class IoU, mean IoU, pixel accuracy.

As reported by FCN (Long, Shelhamer and Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015) and the PASCAL VOC challenge. With ``n_ij`` the number of pixels of
true class ``i`` predicted as class ``j`` (the confusion matrix, rows = truth):

    IoU_c          = n_cc / (sum_j n_cj + sum_i n_ic - n_cc)
    mean IoU       = mean of IoU_c over the classes present in truth or prediction
    pixel accuracy = sum_c n_cc / sum_ij n_ij

A class absent from both truth and prediction has IoU 0/0: `per_class_iou` returns NaN for it
and `mean_iou` leaves it out of the mean (as ``keras.metrics.MeanIoU`` does). Pixels whose true
label is ``ignore_index`` (e.g. 255) are not counted anywhere.

Two kinds of API:

- NumPy functions over whole label maps (evaluation): ``y_true`` and ``y_pred_labels`` are
  integer maps of the same shape, ``(B, H, W)`` or ``(B, H, W, 1)`` (any shape works as long
  as both match). Labels outside ``[0, num_classes)`` that are not ``ignore_index`` raise.
- Streaming Keras metrics for ``model.compile(metrics=[...])``: `MeanIoU` and
  `PixelAccuracy` accumulate a confusion matrix over batches from ``(B, H, W, C)`` scores.

Example:
    >>> t = np.array([[0, 0], [1, 1]]); p = np.array([[0, 1], [1, 1]])
    >>> per_class_iou(t, p, num_classes=2)      # class 0: 1/2, class 1: 2/3
    array([0.5       , 0.66666667])
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo.metrics.verification import to_numpy

__all__ = ["MeanIoU", "PixelAccuracy", "confusion_matrix", "mean_iou", "per_class_iou",
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
