"""`CosineClassifier`: the normalised softmax classifier of NormFace (Wang et al. 2017).

Reference: [NormFace: L2 Hypersphere Embedding for Face Verification](
https://arxiv.org/abs/1704.06369) (ACM MM 2017), section 3.3: the logit of class ``j`` is
``s * cos(theta_j) = s * <x / ||x||, w_j / ||w_j||>``, with no bias. A softmax on these
logits trains the same unit-norm features that verification compares with the cosine (or,
equivalently, L2) distance, so there is no gap between the feature the classifier sees and
the one the distance sees; ``s`` (the scale) lets the softmax saturate although every logit
lies in ``[-s, s]`` (NormFace's Proposition 2: a lower bound on the loss for a given ``s``).

Keras has no such layer (``keras.layers.Dense`` has unnormalised weights and a bias), so it is
written here with `keras.ops`, on the same safe normalisation as the losses.
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.losses.distances import l2_normalize


@keras.saving.register_keras_serializable(package="zoo")
class CosineClassifier(keras.layers.Layer):
    """Maps features ``(B, D)`` to logits ``(B, units)``: ``scale * cos(feature, w_j)``.

    Args:
        units: the number of classes.
        scale: ``s``, the logits' range ``[-s, s]`` (NormFace uses 16-32 for a few thousand
            identities; with 25 the softmax saturates well below 16).
        kernel_initializer: of the ``(D, units)`` class weights (their norms do not matter).

    Example:
        >>> layer = CosineClassifier(3, scale=10.0)
        >>> logits = layer(np.eye(4, dtype="float32")[:2])   # each row in [-10, 10]
        ... # doctest: +SKIP
    """

    def __init__(self, units: int, scale: float = 16.0,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"CosineClassifier: `units` must be an integer >= 1. "
                             f"Received: units={units!r}")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"CosineClassifier: `scale` must be a number > 0. "
                             f"Received: scale={scale!r}")
        self.units, self.scale = units, float(scale)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer, name="kernel")

    def call(self, inputs):
        x = l2_normalize(ops.cast(inputs, "float32"))
        w = l2_normalize(ops.cast(self.kernel, "float32"), axis=0)
        return ops.cast(self.scale * ops.matmul(x, w), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
