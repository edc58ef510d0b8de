"""Metrics computed from model outputs, as NumPy functions usable on any Keras backend.

- ``verification``: pair distances + same/different labels -> ROC, AUC, best-threshold
  accuracy, TAR@FAR (face verification, siamese networks).
- ``retrieval``: embeddings + class labels -> Precision@1, Recall@K, MAP@R (metric learning).
"""

from zoo.metrics.retrieval import map_at_r, precision_at_1, recall_at_k
from zoo.metrics.verification import (
    pairwise_distances,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_accuracy,
)

__all__ = [
    "map_at_r",
    "pairwise_distances",
    "precision_at_1",
    "recall_at_k",
    "roc_auc",
    "roc_curve",
    "tar_at_far",
    "verification_accuracy",
]
