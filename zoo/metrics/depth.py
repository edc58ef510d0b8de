"""Monocular-depth error metrics of Eigen, Puhrsch and Fergus (NIPS 2014), section 4.

Reference: [Depth Map Prediction from a Single Image using a Multi-Scale Deep Network](
https://arxiv.org/abs/1406.2283) (Eigen, Puhrsch and Fergus, NIPS 2014). With ``y`` the
prediction and ``y*`` the truth over the set ``T`` of valid pixels:

    rmse     = sqrt(mean (y - y*)^2)              abs_rel = mean |y - y*| / y*
    log_rmse = sqrt(mean (log y - log y*)^2)      sq_rel  = mean (y - y*)^2 / y*
    log10    = mean |log10 y - log10 y*|          (Liu et al., CVPR 2015; not in Eigen 2014)
    delta_k  = fraction of pixels with max(y / y*, y* / y) < 1.25^k,  k = 1, 2, 3

Evaluation protocol (the one of common NYU / KITTI evaluation code): a pixel is valid when
its true depth is finite and in ``[min_depth, max_depth]`` (a true depth of 0 marks a missing
pixel); predictions are clipped to ``[min_depth, max_depth]`` so logs and ratios are defined.
By default the metrics are **pixel-pooled**: means over all valid pixels of the whole set.
``per_image=True`` computes every metric per image and averages over images (the way KITTI
papers report them; images then weigh equally whatever their number of valid pixels).

Example:
    >>> y_true = np.array([[[1.0, 2.0], [0.0, 4.0]]])       # one missing pixel
    >>> depth_metrics(y_true, 2.0 * y_true)["abs_rel"]      # |2y - y| / y = 1 on 3 pixels
    1.0
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.losses.depth import depth_pair
from zoo.metrics.verification import to_numpy

__all__ = ["DepthRMSE", "depth_metrics", "scale_invariant_error"]


def _check_range(min_depth: float, max_depth: float | None) -> None:
    if not isinstance(min_depth, (int, float)) or min_depth <= 0:
        raise ValueError(f"`min_depth` must be a number > 0. Received: min_depth={min_depth!r}")
    if max_depth is not None and (not isinstance(max_depth, (int, float))
                                  or max_depth <= min_depth):
        raise ValueError("`max_depth` must be None or a number > min_depth "
                         f"({min_depth}). Received: max_depth={max_depth!r}")


def _valid_maps(y_true: Any, y_pred: Any, min_depth: float, max_depth: float | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(true, clipped pred, valid)`` as ``(B, H, W)`` float64 / bool arrays."""
    _check_range(min_depth, max_depth)
    t, p = to_numpy(y_true).astype(np.float64), to_numpy(y_pred).astype(np.float64)
    t = t[..., 0] if t.ndim == 4 and t.shape[-1] == 1 else t
    p = p[..., 0] if p.ndim == 4 and p.shape[-1] == 1 else p
    if t.shape != p.shape or t.ndim != 3:
        raise ValueError("`y_true` and `y_pred` must be depth maps of the same shape (B, H, W) "
                         f"or (B, H, W, 1). Received {to_numpy(y_true).shape} and "
                         f"{to_numpy(y_pred).shape}.")
    hi = np.inf if max_depth is None else max_depth
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(t) & (t >= min_depth) & (t <= hi)
    if not valid.any():
        raise ValueError("No valid pixel: every true depth is 0, not finite or outside "
                         f"[min_depth={min_depth}, max_depth={max_depth}].")
    if not np.isfinite(p[valid]).all():
        raise ValueError(f"`y_pred` must be finite at valid pixels. Received "
                         f"{p[valid][~np.isfinite(p[valid])][0]}.")
    return t, np.clip(p, min_depth, hi), valid


def _errors(t: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The metrics over 1-D arrays of valid true and predicted depths."""
    ratio = np.maximum(t / p, p / t)
    out = {"rmse": np.sqrt(np.mean((p - t) ** 2)),
           "log_rmse": np.sqrt(np.mean((np.log(p) - np.log(t)) ** 2)),
           "abs_rel": np.mean(np.abs(p - t) / t),
           "sq_rel": np.mean((p - t) ** 2 / t),
           "log10": np.mean(np.abs(np.log10(p) - np.log10(t)))}
    for k in (1, 2, 3):
        out[f"delta{k}"] = np.mean(ratio < 1.25 ** k)
    return {k: float(v) for k, v in out.items()}


def depth_metrics(y_true: Any, y_pred: Any, min_depth: float = 1e-3,
                  max_depth: float | None = None, per_image: bool = False) -> dict[str, float]:
    """Eigen et al.'s depth errors: rmse, log_rmse, abs_rel, sq_rel, log10, delta1..3.

    Args:
        y_true: true depths in metres, ``(B, H, W)`` or ``(B, H, W, 1)``; 0 / NaN = missing.
        y_pred: predicted depths in metres, same shape.
        min_depth: smallest valid true depth (> 0); predictions are clipped up to it.
        max_depth: largest valid true depth (e.g. 10 for NYU, 80 for KITTI), or None.
        per_image: average per-image metrics over images (images without a valid pixel are
            skipped) instead of pooling all valid pixels.

    Returns:
        A dict of Python floats.

    Raises:
        ValueError: shapes differ, or no pixel is valid.
    """
    t, p, valid = _valid_maps(y_true, y_pred, min_depth, max_depth)
    if not per_image:
        return _errors(t[valid], p[valid])
    rows = [_errors(ti[vi], pi[vi]) for ti, pi, vi in zip(t, p, valid) if vi.any()]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def scale_invariant_error(y_true: Any, y_pred: Any, min_depth: float = 1e-3,
                          max_depth: float | None = None) -> float:
    """Eigen et al.'s "RMSE (log, scale invariant)": ``sqrt(mean d^2 - (mean d)^2)`` per image.

    ``d = log y - log y*`` over the valid pixels of one image (eq. 4 with ``lambda = 1``, the
    square root as in the paper's tables). Computed per image, since each image may have its
    own scale, and averaged over the images that have a valid pixel.
    """
    t, p, valid = _valid_maps(y_true, y_pred, min_depth, max_depth)
    errs = []
    for ti, pi, vi in zip(t, p, valid):
        if vi.any():
            d = np.log(pi[vi]) - np.log(ti[vi])
            errs.append(np.sqrt(max(np.mean(d ** 2) - np.mean(d) ** 2, 0.0)))
    return float(np.mean(errs))


@keras.saving.register_keras_serializable(package="zoo")
class DepthRMSE(keras.metrics.RootMeanSquaredError):
    """Streaming RMSE in metres over the valid pixels of all batches seen (pixel-pooled).

    ``keras.metrics.RootMeanSquaredError`` does the accumulation; this subclass masks missing
    / out-of-range true depths through ``sample_weight`` and clips predictions to
    ``[min_depth, max_depth]``, so it equals ``depth_metrics(...)["rmse"]`` on the
    concatenated batches. ``sample_weight``, if given, is one weight per image ``(B,)`` or
    per pixel.

    Args:
        min_depth: smallest valid true depth (> 0).
        max_depth: largest valid true depth, or None.
    """

    def __init__(self, min_depth: float = 1e-3, max_depth: float | None = None,
                 name: str = "depth_rmse", dtype=None):
        super().__init__(name=name, dtype=dtype)
        _check_range(min_depth, max_depth)
        self.min_depth = float(min_depth)
        self.max_depth = None if max_depth is None else float(max_depth)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p, valid = depth_pair(y_true, y_pred)
        valid = ops.logical_and(valid, ops.greater_equal(t, self.min_depth))
        p = ops.maximum(p, self.min_depth)
        if self.max_depth is not None:
            valid = ops.logical_and(valid, ops.less_equal(t, self.max_depth))
            p = ops.minimum(p, self.max_depth)
        w = ops.cast(valid, "float32")
        if sample_weight is not None:
            sw = ops.cast(sample_weight, "float32")
            per_image = len(sw.shape) < 2 or (len(sw.shape) == 2 and sw.shape[-1] == 1)
            sw = ops.reshape(sw, (-1, 1, 1) if per_image else ops.shape(t))
            w = w * sw
        # 1-D inputs: Keras' Mean then sums w * error^2 and w over pixels, not per-image means
        return super().update_state(ops.reshape(ops.where(valid, t, 0.0), (-1,)),
                                    ops.reshape(ops.where(valid, p, 0.0), (-1,)),
                                    sample_weight=ops.reshape(w, (-1,)))

    def get_config(self):
        return {**super().get_config(), "min_depth": self.min_depth, "max_depth": self.max_depth}
