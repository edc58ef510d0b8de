"""Detection losses: the focal loss (Lin et al. 2017) and RetinaNet's anchor-level objective.

Focal loss, for a sigmoid probability ``p`` of a binary target ``t`` (one per anchor and class):

    p_t     = p if t = 1 else 1 - p
    alpha_t = alpha if t = 1 else 1 - alpha
    FL(p_t) = -alpha_t (1 - p_t)**gamma log(p_t)

``gamma`` > 0 shrinks the loss of the ~100k easy background anchors so that the few positives
are not drowned; ``alpha`` balances the two kinds (the paper: alpha 0.25, gamma 2;
``gamma = 0`` and ``alpha = 0.5`` are half the binary cross-entropy). It is computed from the
logits with the numerically stable ``BCE-with-logits`` term, as torchvision's
``ops.sigmoid_focal_loss`` does.

`retinanet_loss` turns per-anchor targets (`zoo.layers.assign_targets`: a class index,
`BACKGROUND` or `IGNORE` per anchor, and box deltas) into the paper's objective: the focal loss
summed over every non-ignored anchor and class, plus a box loss summed over the positive
anchors (smooth L1 on the deltas, the paper's; or ``1 - GIoU`` on the decoded boxes), each
divided by the number of positive anchors in the batch ("normalized by the number of anchors
assigned to a ground-truth box", section 4; at least 1, for images with no objects).

Keras' ``BinaryFocalCrossentropy(apply_class_balancing=True)`` is the same element-wise term
but averages over the last axis; it cannot sum and normalise by positives, or skip ignored
anchors, so the term is written here (the tests check the two agree where they overlap).
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.ops.boxes import BoxCoder, elementwise_giou
from zoo.ops.matching import IGNORE

BOX_LOSSES = ("smooth_l1", "giou")


def sigmoid_focal_loss(targets, logits, alpha: float = 0.25, gamma: float = 2.0):
    """Element-wise focal loss of binary ``targets`` and ``logits`` (same shape, any rank).

    ``alpha < 0`` turns the balancing off (torchvision's convention).
    """
    targets = ops.cast(targets, "float32")
    logits = ops.cast(logits, "float32")
    # log(1 + exp(-|x|)) + max(x, 0) - x t: BCE with logits without overflow
    ce = ops.maximum(logits, 0.0) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
    p = ops.sigmoid(logits)
    p_t = p * targets + (1.0 - p) * (1.0 - targets)
    loss = ce * ops.power(1.0 - p_t, gamma)
    if alpha >= 0:
        loss = loss * (alpha * targets + (1.0 - alpha) * (1.0 - targets))
    return loss


@keras.saving.register_keras_serializable(package="zoo")
class FocalLoss(keras.losses.Loss):
    """The sigmoid focal loss, summed over the classes (last axis) of each anchor.

    Args:
        alpha: the weight of positives (0.25); < 0: no balancing.
        gamma: the focusing exponent (2).
        from_logits: must be True (the loss is computed from logits, for stability).

    Example:
        >>> loss = FocalLoss()(np.eye(3)[[0, 2]], np.zeros((2, 3)))  # doctest: +SKIP
    """

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = True,
                 reduction="sum_over_batch_size", name: str = "focal_loss", dtype=None):
        if not from_logits:
            raise ValueError("FocalLoss works on logits (from_logits=True): pass the head's "
                             "raw outputs, not sigmoid probabilities.")
        if gamma < 0:
            raise ValueError(f"FocalLoss: `gamma` must be >= 0. Received: gamma={gamma!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.gamma, self.from_logits = float(alpha), float(gamma), True

    def call(self, y_true, y_pred):
        return ops.sum(sigmoid_focal_loss(y_true, y_pred, self.alpha, self.gamma), axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma,
                "from_logits": self.from_logits}


def smooth_l1(x, beta: float = 1.0 / 9):
    """Huber-style smooth L1 of a difference: ``0.5 x**2 / beta`` below ``beta``, else
    ``|x| - 0.5 beta`` (Fast R-CNN; Detectron's RetinaNet uses beta = 1/9); beta 0 is L1."""
    ax = ops.abs(x)
    if beta <= 0:
        return ax
    return ops.where(ax < beta, 0.5 * ax * ax / beta, ax - 0.5 * beta)


def retinanet_loss(class_targets, box_targets, cls_logits, box_deltas, *, anchors=None,
                   alpha: float = 0.25, gamma: float = 2.0, box_loss: str = "smooth_l1",
                   smooth_l1_beta: float = 1.0 / 9, coder: BoxCoder | None = None):
    """RetinaNet's loss for a batch: ``(classification, box)`` scalars, both / positives.

    Args:
        class_targets: ``(B, N)`` int: the class of each anchor, `BACKGROUND` or `IGNORE`.
        box_targets: ``(B, N, 4)`` deltas (`BoxCoder.encode` of the matched boxes).
        cls_logits: ``(B, N, K)`` raw class scores.
        box_deltas: ``(B, N, 4)`` predicted deltas.
        anchors: ``(N, 4)`` xyxy, needed by ``box_loss="giou"`` (boxes are decoded).
        box_loss: ``"smooth_l1"`` (on deltas) or ``"giou"`` (``1 - GIoU`` of decoded boxes).

    Returns:
        ``(classification_loss, box_loss)``.
    """
    if box_loss not in BOX_LOSSES:
        raise ValueError(f"`box_loss` must be one of {BOX_LOSSES}. Received: {box_loss!r}")
    if box_loss == "giou" and anchors is None:
        raise ValueError("box_loss='giou' decodes the boxes: pass `anchors`.")
    class_targets = ops.cast(class_targets, "int32")
    num_classes = ops.shape(cls_logits)[-1]
    positive = ops.cast(class_targets >= 0, "float32")
    valid = ops.cast(class_targets != IGNORE, "float32")
    normaliser = ops.maximum(ops.sum(positive), 1.0)
    one_hot = ops.one_hot(ops.maximum(class_targets, 0), num_classes) * positive[..., None]
    focal = sigmoid_focal_loss(one_hot, cls_logits, alpha, gamma) * valid[..., None]
    cls = ops.sum(focal) / normaliser
    if box_loss == "smooth_l1":
        per_anchor = ops.sum(smooth_l1(ops.cast(box_deltas, "float32")
                                       - ops.cast(box_targets, "float32"), smooth_l1_beta), -1)
    else:
        coder = coder or BoxCoder()
        predicted = coder.decode(box_deltas, anchors)
        target = coder.decode(box_targets, anchors)
        per_anchor = 1.0 - elementwise_giou(predicted, target)
    box = ops.sum(per_anchor * positive) / normaliser
    return cls, box
