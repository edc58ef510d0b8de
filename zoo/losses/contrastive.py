"""Contrastive loss on pairs (Hadsell, Chopra and LeCun, CVPR 2006), the Siamese network's loss.

With ``D`` the distance between the two embeddings of a pair and ``y`` its label:

    L = y/2 * D^2 + (1 - y)/2 * max(0, m - D)^2          (similar_label=1, the default)

so similar pairs are pulled together and dissimilar ones pushed at least ``m`` apart. The two
formulas of the course use opposite conventions: this one (``y = 1`` means "same") and
Hadsell et al.'s (``Y = 0`` means "same"); pass ``similar_label=0`` for the latter.

``tfa.losses.contrastive_loss`` (TF Addons) takes the same inputs (pair distances, ``y = 1``
for a similar pair, the margin on the unsquared distance) but drops the 1/2: its values and
gradients are twice ours (the same minimiser; with SGD, TF Addons at half the learning rate
takes the same steps as ours).

Example:
    >>> loss = ContrastiveLoss(margin=1.0)
    >>> float(loss(np.array([1.0, 0.0]), np.array([0.5, 0.5])))   # mean of 0.125 and 0.125
    0.125
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class ContrastiveLoss(keras.losses.Loss):
    """Contrastive loss; ``y_pred`` is the pair distance ``D >= 0``, ``y_true`` the pair label.

    Args:
        margin: ``m``, how far apart dissimilar pairs must be (> 0).
        similar_label: the ``y_true`` value that marks a similar pair: 1 (default) or 0.
    """

    def __init__(self, margin: float = 1.0, similar_label: int = 1,
                 name: str = "contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(margin, (int, float)) or margin <= 0:
            raise ValueError(f"`margin` must be a number > 0. Received: margin={margin!r}")
        if similar_label not in (0, 1):
            raise ValueError(f"`similar_label` must be 0 or 1. Received: {similar_label!r}")
        self.margin, self.similar_label = float(margin), int(similar_label)

    def call(self, y_true, y_pred):
        d = ops.reshape(ops.cast(y_pred, "float32"), (-1,))
        y = ops.reshape(ops.cast(y_true, "float32"), (-1,))
        if self.similar_label == 0:
            y = 1.0 - y
        return 0.5 * y * ops.square(d) + 0.5 * (1.0 - y) * ops.square(ops.relu(self.margin - d))

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "similar_label": self.similar_label}
