"""Center loss (Wen, Zhang, Li and Qiao, "A Discriminative Feature Learning Approach for Deep
Face Recognition", ECCV 2016), used beside softmax: ``L = L_S + lambda * L_C``.

``L_C = 1/2 * mean_i ||x_i - c_{y_i}||^2`` pulls each deep feature to its class centre. The
centres are not trained by the optimiser: after each training batch they move towards their
features with rate ``alpha`` (the paper's eq. 4),

    c_j <- c_j - alpha * sum_{i: y_i = j} (c_j - x_i) / (1 + n_j)

so `CenterLoss` is a layer (it holds state), placed on the feature tensor:

Example:
    >>> features = keras.Input((2,)); labels = keras.Input((), dtype="int32")
    >>> x = CenterLoss(num_classes=10, weight=0.01, alpha=0.5)([features, labels])
    ... # doctest: +SKIP
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class CenterLoss(keras.layers.Layer):
    """Adds ``weight * L_C`` to the model's losses and updates the centres while training.

    Call it on ``[features (B, D), labels (B,)]``; it returns the features unchanged.

    Args:
        num_classes: number of classes (centres).
        weight: ``lambda``, the weight of the center loss against softmax (>= 0).
        alpha: the centres' update rate, in (0, 1].
    """

    def __init__(self, num_classes: int, weight: float = 0.01, alpha: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive integer. Received: {num_classes!r}")
        if weight < 0:
            raise ValueError(f"`weight` (lambda) must be >= 0. Received: weight={weight!r}")
        if not 0 < alpha <= 1:
            raise ValueError(f"`alpha` must be in (0, 1]. Received: alpha={alpha!r}")
        self.num_classes, self.weight, self.alpha = num_classes, float(weight), float(alpha)

    def build(self, input_shape):
        dim = input_shape[0][-1]
        self.centers = self.add_weight(shape=(self.num_classes, dim), initializer="zeros",
                                       trainable=False, name="centers")

    def center_loss(self, features, labels):
        """``1/2 * mean_i ||x_i - c_{y_i}||^2`` (without ``weight``)."""
        c = ops.take(self.centers, labels, axis=0)
        return 0.5 * ops.mean(ops.sum(ops.square(ops.cast(features, "float32") - c), axis=-1))

    def call(self, inputs, training=False):
        features, labels = inputs
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        self.add_loss(self.weight * self.center_loss(features, labels))
        if training:
            onehot = ops.one_hot(labels, self.num_classes)             # (B, C)
            x = ops.stop_gradient(ops.cast(features, "float32"))
            counts = ops.sum(onehot, axis=0)                            # n_j
            sums = ops.matmul(ops.transpose(onehot), x)                 # sum of x_i per class
            delta = (counts[:, None] * self.centers - sums) / (1.0 + counts[:, None])
            self.centers.assign(self.centers - self.alpha * delta)
        return features

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "weight": self.weight,
                "alpha": self.alpha}
