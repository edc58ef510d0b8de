"""`PairDistance`: the distance head of a Siamese network (Bromley et al. 1993; Chopra, Hadsell
and LeCun 2005), row by row between two batches of embeddings.

Keras has no such layer (``keras.layers.Dot(normalize=True)`` gives a cosine similarity, not
a distance, and nothing gives an L2 distance with a finite gradient at zero), so it is written
here with `keras.ops`, on the same safe square root and normalisation as the losses (finite
gradients where two embeddings coincide, and at a zero embedding for the cosine).
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.losses.distances import check_distance, l2_normalize, safe_sqrt


def rowwise_distance(a, b, distance: str = "l2"):
    """``D(a_i, b_i)`` for each row ``i``: ``"l2"``, ``"squared_l2"`` or ``"cosine"`` (1 - cos).

    As `zoo.losses.pairwise_distances`: finite gradients where ``a_i == b_i`` and where a row
    is zero (its cosine distance is then 1).
    """
    check_distance(distance)
    a, b = ops.cast(a, "float32"), ops.cast(b, "float32")
    if distance == "cosine":
        return 1.0 - ops.sum(l2_normalize(a) * l2_normalize(b), axis=-1)
    sq = ops.sum(ops.square(a - b), axis=-1)
    return sq if distance == "squared_l2" else safe_sqrt(sq)


@keras.saving.register_keras_serializable(package="zoo")
class PairDistance(keras.layers.Layer):
    """Maps ``[embeddings_a (B, D), embeddings_b (B, D)]`` to their distances ``(B,)``.

    Args:
        distance: ``"l2"`` (default, what `zoo.losses.ContrastiveLoss` expects),
            ``"squared_l2"`` or ``"cosine"``.

    Example:
        >>> PairDistance()([np.zeros((1, 2)), np.array([[3.0, 4.0]])])   # -> [5.]
        ... # doctest: +SKIP
    """

    def __init__(self, distance: str = "l2", **kwargs):
        super().__init__(**kwargs)
        self.distance = check_distance(distance)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("PairDistance takes a list of two embedding tensors [a, b].")
        return rowwise_distance(inputs[0], inputs[1], self.distance)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)

    def get_config(self):
        return {**super().get_config(), "distance": self.distance}
