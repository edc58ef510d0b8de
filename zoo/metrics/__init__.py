"""Metrics computed from model outputs, as NumPy functions usable on any Keras backend.

- ``verification``: pair distances + same/different labels -> ROC, AUC, best-threshold
  accuracy, TAR@FAR (face verification, siamese networks).
- ``retrieval``: embeddings + class labels -> Precision@1, Recall@K, MAP@R (metric learning).
- ``segmentation``: label maps -> confusion matrix, per-class / mean IoU, per-class / mean
  Dice (F1), pixel accuracy; and the streaming Keras metrics ``MeanIoU``, ``MeanDice``,
  ``PixelAccuracy`` for ``compile``.
- ``depth``: depth maps -> Eigen et al.'s rmse, log_rmse, abs_rel, sq_rel, log10, delta1..3,
  the scale-invariant error; and the streaming Keras metric ``DepthRMSE``.
- ``detection``: boxes + labels (+ scores) -> PASCAL VOC precision / recall curves, 11-point
  and all-point AP, mAP; the COCO AP / AR summary (pycocotools' COCOeval in NumPy); a
  precision / recall plot.
"""

from zoo.metrics.depth import DepthRMSE, depth_metrics, scale_invariant_error
from zoo.metrics.detection import (
    coco_metrics,
    plot_precision_recall,
    precision_recall_curve,
    voc_ap,
    voc_map,
)
from zoo.metrics.retrieval import map_at_r, precision_at_1, recall_at_k
from zoo.metrics.segmentation import (
    MeanDice,
    MeanIoU,
    PixelAccuracy,
    confusion_matrix,
    mean_dice,
    mean_iou,
    per_class_dice,
    per_class_iou,
    pixel_accuracy,
)
from zoo.metrics.verification import (
    pairwise_distances,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_accuracy,
)

__all__ = [
    "DepthRMSE",
    "MeanDice",
    "MeanIoU",
    "PixelAccuracy",
    "coco_metrics",
    "confusion_matrix",
    "depth_metrics",
    "map_at_r",
    "mean_dice",
    "mean_iou",
    "pairwise_distances",
    "per_class_dice",
    "per_class_iou",
    "pixel_accuracy",
    "plot_precision_recall",
    "precision_at_1",
    "precision_recall_curve",
    "recall_at_k",
    "roc_auc",
    "roc_curve",
    "scale_invariant_error",
    "tar_at_far",
    "verification_accuracy",
    "voc_ap",
    "voc_map",
]
