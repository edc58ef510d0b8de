"""Losses for monocular depth: Eigen's scale-invariant log loss and a masked squared error.

Reference: [Depth Map Prediction from a Single Image using a Multi-Scale Deep Network](
https://arxiv.org/abs/1406.2283) (Eigen, Puhrsch and Fergus, NIPS 2014), eq. 4.

With ``d_i = log y_i - log y*_i`` over the ``n`` valid pixels of one image:

    L = 1/n sum_i d_i^2 - lam/n^2 (sum_i d_i)^2

``lam = 0`` is the squared log error, ``lam = 1`` is fully scale-invariant (multiplying the
prediction by a constant changes nothing), and the paper trains with ``lam = 0.5``.

``y_true`` and ``y_pred`` are ``(B, H, W)`` or ``(B, H, W, 1)`` depths in metres. A true depth
of 0 or a non-finite one (a hole of the Kinect / LiDAR) is *missing*: it is masked out. Both
losses return one value per image, ``(B,)``, so Keras' ``reduction`` and ``sample_weight``
apply as usual; an image with no valid pixel contributes 0 (no NaN, no NaN gradient).

Example:
    >>> y = np.array([[[1.0, 2.0], [0.0, 4.0]]])        # one 2x2 image, one missing pixel
    >>> round(float(ScaleInvariantLoss(lam=1.0)(y, 3.0 * y)), 6)   # a global scale is free
    0.0
"""

from __future__ import annotations

import keras
from keras import ops


def depth_pair(y_true, y_pred):
    """``(true, pred, valid)`` as ``(B, H, W)`` float32 tensors; ``valid`` is boolean."""
    y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    if len(y_true.shape) == 4 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    if len(y_pred.shape) == 4 and y_pred.shape[-1] == 1:
        y_pred = ops.squeeze(y_pred, axis=-1)
    known = all(a is None or b is None or a == b for a, b in zip(y_true.shape, y_pred.shape))
    if len(y_true.shape) != 3 or len(y_pred.shape) != 3 or not known:
        raise ValueError("`y_true` and `y_pred` must be depth maps of the same shape (B, H, W) "
                         f"or (B, H, W, 1). Received {tuple(y_true.shape)} and "
                         f"{tuple(y_pred.shape)}.")
    valid = ops.logical_and(ops.isfinite(y_true), ops.greater(y_true, 0.0))
    return y_true, y_pred, valid


def _check(lam: float, eps: float):
    if not isinstance(lam, (int, float)) or not 0.0 <= lam <= 1.0:
        raise ValueError(f"`lam` must be a number in [0, 1]. Received: lam={lam!r}")
    if not isinstance(eps, (int, float)) or eps <= 0:
        raise ValueError(f"`eps` must be a number > 0. Received: eps={eps!r}")


def scale_invariant_loss(y_true, y_pred, lam: float = 0.5, eps: float = 1e-6,
                         pred_is_log: bool = False):
    """Eigen et al.'s eq. 4 per image, shape ``(B,)``; 0 for an image with no valid pixel.

    ``y_pred`` is log depth when ``pred_is_log`` (Eigen's networks output log depth), else
    depth in metres, taken as ``log(max(y_pred, eps))``.
    """
    t, p, valid = depth_pair(y_true, y_pred)
    log_t = ops.log(ops.where(valid, t, 1.0))      # 1.0 keeps log (and its gradient) finite
    log_p = p if pred_is_log else ops.log(ops.maximum(p, eps))
    d = ops.where(valid, log_p - log_t, 0.0)
    n = ops.maximum(ops.sum(ops.cast(valid, "float32"), axis=(1, 2)), 1.0)
    return (ops.sum(ops.square(d), axis=(1, 2)) / n
            - lam * ops.square(ops.sum(d, axis=(1, 2))) / ops.square(n))


def masked_mean_squared_error(y_true, y_pred):
    """Mean of ``(y - y*)^2`` in metres over each image's valid pixels, shape ``(B,)``."""
    t, p, valid = depth_pair(y_true, y_pred)
    err = ops.where(valid, p - ops.where(valid, t, 0.0), 0.0)
    n = ops.maximum(ops.sum(ops.cast(valid, "float32"), axis=(1, 2)), 1.0)
    return ops.sum(ops.square(err), axis=(1, 2)) / n


@keras.saving.register_keras_serializable(package="zoo")
class ScaleInvariantLoss(keras.losses.Loss):
    """Scale-invariant log loss (Eigen et al., NIPS 2014, eq. 4), masked for missing depth.

    Args:
        lam: ``lambda`` in [0, 1]: 0 = squared log error, 1 = scale-invariant error, 0.5 =
            the paper's training choice.
        eps: predictions are clipped to ``>= eps`` before the log (unless ``pred_is_log``);
            below it the gradient is 0, so prefer a positive output (softplus, exp) or log depth.
        pred_is_log: ``y_pred`` is already log depth (Eigen's nets predict log depth).

    Deviations from the paper: images without any valid pixel give 0 instead of NaN.
    """

    def __init__(self, lam: float = 0.5, eps: float = 1e-6, pred_is_log: bool = False,
                 name: str = "scale_invariant_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        _check(lam, eps)
        self.lam, self.eps, self.pred_is_log = float(lam), float(eps), bool(pred_is_log)

    def call(self, y_true, y_pred):
        return scale_invariant_loss(y_true, y_pred, self.lam, self.eps, self.pred_is_log)

    def get_config(self):
        return {**super().get_config(), "lam": self.lam, "eps": self.eps,
                "pred_is_log": self.pred_is_log}


@keras.saving.register_keras_serializable(package="zoo")
class MaskedMeanSquaredError(keras.losses.Loss):
    """Squared error in metres over the valid (non-missing) pixels, averaged per image.

    Unlike ``keras.losses.MeanSquaredError``, pixels with a true depth of 0 or NaN (holes)
    are left out of both the sum and the count.
    """

    def __init__(self, name: str = "masked_mean_squared_error", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return masked_mean_squared_error(y_true, y_pred)
