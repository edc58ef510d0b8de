"""Object-detection metrics: PASCAL VOC average precision (11-point and all-point) and the COCO
AP / AR summary, in NumPy.

Boxes are ``xyxy`` in pixels, ``(x_min, y_min, x_max, y_max)``, with continuous coordinates:
``area = (x_max - x_min) (y_max - y_min)``, no ``+ 1`` (as COCO; the VOC devkit counts pixels
inclusively, ``(x_max - x_min + 1) (y_max - y_min + 1)``, which changes the IoU of small boxes).
The overlap of a detection ``D`` with a ground-truth box ``G`` is

    IoU(D, G) = area(D & G) / area(D | G) = area(D & G) / (area(D) + area(G) - area(D & G))

Precision and recall (Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge",
IJCV 2010). The detections of a class, from every image, are sorted by score (highest first);
each is a true positive (TP) when it overlaps an unmatched ground-truth box of its class in its
image by more than the threshold, else a false positive (FP). After the ``n`` best ones:

    precision_n = TP_n / (TP_n + FP_n)        recall_n = TP_n / N_pos

with ``N_pos`` the ground-truth boxes of the class. The interpolated precision at recall ``r`` is
``p_interp(r) = max_{n : recall_n >= r} precision_n`` (0 when no ``recall_n >= r``), and:

    VOC2007 11-point AP   = 1/11 sum_{r in 0, 0.1, .., 1} p_interp(r)
                            (Salton and McGill's interpolation, used by VOC 2007)
    VOC2010+ all-point AP = sum_n (recall_n - recall_{n-1}) p_interp(recall_n),  recall_0 = 0
                            (the area under the monotone precision envelope; Everingham et al.,
                            "The PASCAL VOC Challenge: A Retrospective", IJCV 2015)
    mAP                   = the mean of the per-class APs

`voc_ap` is the VOC devkit's ``VOCap.m`` / py-faster-rcnn's ``voc_eval.voc_ap`` (Girshick,
"Fast R-CNN", ICCV 2015), and `precision_recall_curve` its ``voc_eval`` matching.

COCO (Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014; the ``COCOeval`` of
pycocotools). The matching is done per image and per category, and the precision is
interpolated at 101 recalls ``r in 0, 0.01, .., 1``; with ``IoU_t in 0.50, 0.55, .., 0.95``:

    AP  = 1/10 sum_t 1/101 sum_r p_interp_t(r), averaged over the categories with ground truth
    AR  = 1/10 sum_t recall_t (the recall after all the detections), averaged the same way
    AP50, AP75 = AP at IoU 0.50 and 0.75 only;  ARk = AR with at most k detections per image
    APs / APm / APl, ARs / ARm / ARl = small (area <= 32^2), medium (32^2 .. 96^2) and large
    (>= 96^2) objects only

Inputs, one entry per image (lists of dicts of anything ``np.asarray`` takes):

- ground truth ``{"boxes": (M, 4), "labels": (M,) int}``, optionally ``"difficult": (M,) bool``
  (VOC: those are neither TP nor FP, see `precision_recall_curve`) and ``"iscrowd": (M,) bool``
  (COCO: a region of many objects, see `coco_metrics`). Each metric reads only its own flag.
- predictions ``{"boxes": (K, 4), "scores": (K,), "labels": (K,) int}``.

Example:
    >>> gts = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 0]}]
    >>> preds = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 31]],
    ...           "scores": [0.9, 0.8, 0.7], "labels": [0, 0, 0]}]
    >>> precision, recall = precision_recall_curve(gts, preds, class_id=0)  # TP, FP, TP
    >>> precision.round(3), recall
    (array([1.   , 0.5  , 0.667]), array([0.5, 0.5, 1. ]))
    >>> voc_ap(precision, recall, method="all")     # 0.5 * 1 + 0.5 * 2/3
    0.8333333333333333
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["coco_metrics", "plot_precision_recall", "precision_recall_curve", "voc_ap", "voc_map"]

AP_METHODS = ("11point", "all")

# COCOeval's Params.setDetParams: IoU thresholds .50:.05:.95, 101 recall thresholds, the area
# ranges (all, small, medium, large) on the box area, inclusive at both ends.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1)
COCO_AREA_RANGES = (
    ("all", 0.0, 1e5**2),
    ("small", 0.0, 32.0**2),
    ("medium", 32.0**2, 96.0**2),
    ("large", 96.0**2, 1e5**2),
)


# ------------------------------------------------------------------ inputs


def _boxes(x: Any, name: str) -> np.ndarray:
    b = np.asarray(x, dtype=np.float64)
    if b.size == 0:
        return b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(
            f"`{name}` must be an (N, 4) array of xyxy boxes. Received shape {b.shape}."
        )
    if not np.isfinite(b).all():
        raise ValueError(f"`{name}` must hold finite coordinates. Received a NaN or inf.")
    bad = np.flatnonzero((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]))
    if bad.size:
        raise ValueError(
            f"`{name}` must be xyxy boxes (x_min, y_min, x_max, y_max) with "
            f"x_max >= x_min and y_max >= y_min. Box {bad[0]} is "
            f"{b[bad[0]].tolist()} (xywh boxes? use [x, y, x + w, y + h])."
        )
    return b


def _vector(x: Any, n: int, name: str, kind: str) -> np.ndarray:
    a = np.asarray(x)
    if a.size == 0 and n == 0:
        a = a.reshape(0)
    if a.shape != (n,):
        raise ValueError(
            f"`{name}` must be a 1-D array with one entry per box ({n}). Received shape {a.shape}."
        )
    if kind == "labels":
        integer = np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_)
        whole = np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a))
        if not (integer or whole):
            raise ValueError(
                f"`{name}` must hold integer class ids. Received dtype {a.dtype} "
                "with non-integer values."
            )
        return a.astype(np.int64)
    if kind == "scores":
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"`{name}` must hold finite scores. Received a NaN or inf.")
        return a
    return a.astype(bool)


def _image_dicts(items: Any, name: str, keys: tuple[str, ...]) -> list[Mapping]:
    if isinstance(items, Mapping) or not isinstance(items, Sequence) or isinstance(items, str):
        raise TypeError(
            f"`{name}` must be a list with one dict per image. Received {type(items).__name__}."
        )
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise TypeError(
                f"`{name}[{i}]` must be a dict with keys {list(keys)}. Received "
                f"{type(item).__name__}."
            )
        missing = [k for k in keys if k not in item]
        if missing:
            raise ValueError(
                f"`{name}[{i}]` must have the keys {list(keys)}. Missing "
                f"{missing}; it has {sorted(item)}."
            )
    return list(items)


def _parse(gts: Any, preds: Any) -> tuple[list[dict], list[dict]]:
    """Validated float64 / int64 / bool arrays, one dict per image, for both lists."""
    gts = _image_dicts(gts, "gts", ("boxes", "labels"))
    preds = _image_dicts(preds, "preds", ("boxes", "scores", "labels"))
    if len(gts) != len(preds):
        raise ValueError(
            "`gts` and `preds` must have one entry per image each. Received "
            f"{len(gts)} ground truths and {len(preds)} predictions."
        )
    if not gts:
        raise ValueError("`gts` and `preds` are empty: pass one dict per image.")
    out_g, out_p = [], []
    for i, (g, p) in enumerate(zip(gts, preds)):
        boxes = _boxes(g["boxes"], f"gts[{i}]['boxes']")
        m = len(boxes)
        gt = {"boxes": boxes, "labels": _vector(g["labels"], m, f"gts[{i}]['labels']", "labels")}
        for flag in ("difficult", "iscrowd"):
            gt[flag] = (
                np.zeros(m, bool)
                if g.get(flag) is None
                else _vector(g[flag], m, f"gts[{i}]['{flag}']", "flags")
            )
        out_g.append(gt)
        boxes = _boxes(p["boxes"], f"preds[{i}]['boxes']")
        k = len(boxes)
        out_p.append(
            {
                "boxes": boxes,
                "scores": _vector(p["scores"], k, f"preds[{i}]['scores']", "scores"),
                "labels": _vector(p["labels"], k, f"preds[{i}]['labels']", "labels"),
            }
        )
    return out_g, out_p


def _check_iou_threshold(iou_threshold: Any) -> float:
    if not isinstance(iou_threshold, (int, float, np.number)) or not 0 <= iou_threshold <= 1:
        raise ValueError(f"`iou_threshold` must be a number in [0, 1]. Received {iou_threshold!r}")
    return float(iou_threshold)


# ------------------------------------------------------------------ PASCAL VOC


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` IoU of xyxy boxes, continuous coordinates; 0 where the union is empty."""
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(w, 0.0) * np.maximum(h, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _voc_matches(
    gts: list[dict], preds: list[dict], class_id: int, iou_threshold: float, use_difficult: bool
) -> tuple[np.ndarray, int]:
    """``(is_tp, N_pos)``: is_tp (bool) per counted detection of the class, best score first
    (detections on a difficult box are dropped), and the number of counted ground truths."""
    gt_boxes, gt_difficult, det_image, det_index, det_score, det_iou = [], [], [], [], [], []
    n_pos = 0
    for i, (g, p) in enumerate(zip(gts, preds)):
        keep = g["labels"] == class_id
        gt_boxes.append(g["boxes"][keep])
        difficult = np.zeros(keep.sum(), bool) if use_difficult else g["difficult"][keep]
        gt_difficult.append(difficult)
        n_pos += int((~difficult).sum())
        mine = np.flatnonzero(p["labels"] == class_id)
        det_image.append(np.full(mine.size, i))
        det_index.append(np.arange(mine.size))
        det_score.append(p["scores"][mine])
        det_iou.append(_iou(p["boxes"][mine], gt_boxes[-1]))
    scores = np.concatenate(det_score)
    images, rows = np.concatenate(det_image), np.concatenate(det_index)
    detected = [np.zeros(len(b), bool) for b in gt_boxes]
    is_tp = []
    # mergesort: ties keep the image order, then the order within an image (py-faster-rcnn's
    # np.argsort(-confidence) is a quicksort, whose tie order is unspecified)
    for d in np.argsort(-scores, kind="mergesort"):
        i = images[d]
        overlaps = det_iou[i][rows[d]]
        best = int(np.argmax(overlaps)) if overlaps.size else -1
        if best < 0 or overlaps[best] <= iou_threshold:
            is_tp.append(False)
        elif gt_difficult[i][best]:
            continue  # neither TP nor FP
        elif detected[i][best]:
            is_tp.append(False)  # a duplicate detection
        else:
            detected[i][best] = True
            is_tp.append(True)
    return np.array(is_tp, bool), n_pos


def _curve(is_tp: np.ndarray, n_pos: int) -> tuple[np.ndarray, np.ndarray]:
    tp = np.cumsum(is_tp).astype(np.float64)
    fp = np.cumsum(~is_tp).astype(np.float64)
    return tp / np.maximum(tp + fp, np.finfo(np.float64).eps), tp / float(n_pos)


def precision_recall_curve(
    gts: Sequence[Mapping],
    preds: Sequence[Mapping],
    class_id: int,
    iou_threshold: float = 0.5,
    use_difficult: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """VOC precision and recall of one class after each of its detections, best score first.

    The matching of the VOC devkit (``VOCevaldet.m``, py-faster-rcnn's ``voc_eval``): the
    detections of ``class_id`` from all the images are sorted by score, highest first (ties:
    image order, then order within the image); each takes the ground-truth box of its class in
    its image with the highest IoU (the first one on a tie) and is

    - a true positive when that IoU is ``> iou_threshold`` (strictly) and the box was not
      matched before; the box is then matched;
    - a false positive when that IoU is ``<= iou_threshold`` (or the image has no box of the
      class), or when the box was already matched (a duplicate detection, even if another box
      overlaps it enough);
    - ignored, neither TP nor FP, when that box is ``difficult`` (unless ``use_difficult``).
      Difficult boxes do not count in ``N_pos`` either. Ignored detections are left out of the
      curve: it is ``voc_eval``'s without its repeated points, the AP is the same.

    Args:
        gts: one dict per image, ``{"boxes": (M, 4) xyxy, "labels": (M,)}``, optionally
            ``"difficult": (M,) bool``.
        preds: one dict per image, ``{"boxes": (K, 4) xyxy, "scores": (K,), "labels": (K,)}``.
        class_id: the class to evaluate.
        iou_threshold: the overlap a TP needs (strictly more); VOC uses 0.5.
        use_difficult: count difficult boxes as ordinary ones.

    Returns:
        ``(precision, recall)``, float64 arrays of the same length (the counted detections of
        the class, possibly 0), recall non-decreasing.

    Raises:
        ValueError: on malformed arrays, or when the class has no (non-difficult) ground-truth
            box, so that recall is undefined (`voc_map` reports NaN for such a class).
        TypeError: when ``gts`` / ``preds`` are not lists of dicts, or ``class_id`` is no int.
    """
    gts, preds = _parse(gts, preds)
    if not isinstance(class_id, (int, np.integer)) or isinstance(class_id, bool):
        raise TypeError(f"`class_id` must be an integer class id. Received {class_id!r}")
    is_tp, n_pos = _voc_matches(
        gts, preds, int(class_id), _check_iou_threshold(iou_threshold), bool(use_difficult)
    )
    if n_pos == 0:
        which = "ground-truth box" if use_difficult else "non-difficult ground-truth box"
        raise ValueError(f"class {class_id} has no {which}, so its recall is undefined.")
    return _curve(is_tp, n_pos)


def voc_ap(precision: Any, recall: Any, method: str = "all") -> float:
    """Average precision of one precision / recall curve, as the VOC devkit computes it.

    ``method="11point"`` (VOC2007): the mean of the interpolated precision
    ``max(precision[recall >= t])`` (0 if none) at ``t = np.arange(0, 1.1, 0.1)``, exactly
    py-faster-rcnn's ``voc_ap(use_07_metric=True)`` (so the thresholds are NumPy's
    0.30000000000000004, 0.6000000000000001, 0.7000000000000001: a recall of exactly 0.3, 0.6 or
    0.7 falls just short of them).

    ``method="all"`` (VOC2010+): the area under the monotone envelope of the curve; with
    ``r = [0, recall, 1]``, ``p = [0, precision, 0]`` and ``p`` replaced by its running
    maximum from the right, ``sum((r[i+1] - r[i]) p[i+1])`` over the points where the recall
    changes (py-faster-rcnn's ``voc_ap(use_07_metric=False)``).

    Args:
        precision: ``(N,)`` precision after each detection (`precision_recall_curve`).
        recall: ``(N,)`` recall after each detection, non-decreasing.
        method: ``"11point"`` or ``"all"``.

    Returns:
        AP in [0, 1]; 0 for an empty curve (no detection).
    """
    if method not in AP_METHODS:
        raise ValueError(f"`method` must be one of {AP_METHODS}. Received {method!r}")
    prec = np.asarray(precision, dtype=np.float64)
    rec = np.asarray(recall, dtype=np.float64)
    if prec.ndim != 1 or rec.shape != prec.shape:
        raise ValueError(
            "`precision` and `recall` must be 1-D arrays of the same length (one "
            f"point per detection). Received shapes {prec.shape} and {rec.shape}."
        )
    if not (np.isfinite(prec).all() and np.isfinite(rec).all()):
        raise ValueError("`precision` and `recall` must be finite. Received a NaN or inf.")
    if method == "11point":
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            above = rec >= t
            ap += (np.max(prec[above]) if above.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def voc_map(
    gts: Sequence[Mapping],
    preds: Sequence[Mapping],
    num_classes: int | None = None,
    class_ids: Sequence[int] | None = None,
    iou_threshold: float = 0.5,
    method: str = "all",
    use_difficult: bool = False,
) -> dict[str, Any]:
    """PASCAL VOC mean average precision: `voc_ap` of each class's `precision_recall_curve`.

    A class with no (non-difficult) ground-truth box has no recall: its AP is NaN and it is
    left out of the mean (the VOC devkit would divide by zero). A class with ground truth but
    no detection has AP 0 and counts.

    Args:
        gts, preds: one dict per image, as in `precision_recall_curve`.
        num_classes: evaluate the classes ``0 .. num_classes - 1``.
        class_ids: or evaluate these class ids. With neither, the classes are every label found
            in ``gts`` or ``preds``, sorted.
        iou_threshold: the overlap a TP needs (strictly more); VOC uses 0.5.
        method: ``"all"`` (VOC2010+, the default) or ``"11point"`` (VOC2007), see `voc_ap`.
        use_difficult: count difficult boxes as ordinary ones.

    Returns:
        ``{"mAP": float, "AP": {class_id: float}}``; ``mAP`` is the mean over the classes whose
        AP is not NaN, and NaN when there is none.
    """
    if method not in AP_METHODS:
        raise ValueError(f"`method` must be one of {AP_METHODS}. Received {method!r}")
    threshold = _check_iou_threshold(iou_threshold)
    gts, preds = _parse(gts, preds)
    if num_classes is not None and class_ids is not None:
        raise ValueError(
            "Pass `num_classes` or `class_ids`, not both. Received "
            f"num_classes={num_classes!r} and class_ids={class_ids!r}."
        )
    if num_classes is not None:
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"`num_classes` must be an integer >= 1. Received {num_classes!r}")
        classes = list(range(int(num_classes)))
    elif class_ids is not None:
        ids = np.asarray(class_ids)
        if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                "`class_ids` must be a non-empty 1-D sequence of integer class "
                f"ids. Received {class_ids!r}"
            )
        classes = [int(c) for c in ids]
    else:
        labels = [d["labels"] for d in gts + preds]
        classes = [int(c) for c in np.unique(np.concatenate(labels))]
    ap = {}
    for c in classes:
        is_tp, n_pos = _voc_matches(gts, preds, c, threshold, bool(use_difficult))
        ap[c] = float("nan") if n_pos == 0 else voc_ap(*_curve(is_tp, n_pos), method=method)
    defined = [v for v in ap.values() if not np.isnan(v)]
    return {"mAP": float(np.mean(defined)) if defined else float("nan"), "AP": ap}


# ------------------------------------------------------------------ COCO


def _coco_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """``(D, G)`` IoU as pycocotools' ``bbIou``, computed from xywh with the same operations;
    against a crowd box it is ``area(D & G) / area(D)``."""
    dw, dh = dt[:, 2] - dt[:, 0], dt[:, 3] - dt[:, 1]
    gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    w = np.minimum((dt[:, 0] + dw)[:, None], (gt[:, 0] + gw)[None]) - np.maximum(
        dt[:, None, 0], gt[None, :, 0]
    )
    h = np.minimum((dt[:, 1] + dh)[:, None], (gt[:, 1] + gh)[None]) - np.maximum(
        dt[:, None, 1], gt[None, :, 1]
    )
    inter = w * h
    da = (dw * dh)[:, None]
    union = np.where(crowd[None, :], da, da + (gw * gh)[None, :] - inter)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((w > 0) & (h > 0), inter / union, 0.0)


def _coco_match(
    ious: np.ndarray, gt_ignore: np.ndarray, crowd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.evaluateImg's greedy matching of score-sorted detections, at every IoU
    threshold. ``gt_ignore`` and ``crowd`` are sorted with the ignored boxes last, as ``ious``'s
    columns. Returns ``(matched, on_ignored)``, ``(T, D)`` bool each."""
    n_t, (n_d, n_g) = len(COCO_IOU_THRESHOLDS), ious.shape
    matched = np.zeros((n_t, n_d), bool)
    on_ignored = np.zeros((n_t, n_d), bool)
    if n_d == 0 or n_g == 0:
        return matched, on_ignored
    regular = ~gt_ignore
    for t, threshold in enumerate(COCO_IOU_THRESHOLDS):
        taken = np.zeros(n_g, bool)
        limit = min(threshold, 1 - 1e-10)
        for d in range(n_d):
            # a gt already matched is skipped unless it is a crowd; a detection takes the best
            # (last on a tie) IoU >= the threshold among the regular gts, and only when there
            # is none among the ignored ones
            candidate = (~taken | crowd) & (ious[d] >= limit)
            pool = candidate & regular
            if not pool.any():
                pool = candidate
                if not pool.any():
                    continue
            values = np.where(pool, ious[d], -np.inf)
            m = n_g - 1 - int(np.argmax(values[::-1]))
            matched[t, d] = True
            on_ignored[t, d] = gt_ignore[m]
            taken[m] = True
    return matched, on_ignored


def _coco_accumulate(evals: list, n_pos: int, max_det: int) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.accumulate for one category, area range and maxDet: ``(precision (T, R),
    recall (T,))``."""
    scores = np.concatenate([e[0][:max_det] for e in evals])
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([e[1][:, :max_det] for e in evals], axis=1)[:, order]
    ignored = np.concatenate([e[2][:, :max_det] for e in evals], axis=1)[:, order]
    tp = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
    fp = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
    n_t, n_r, n_d = len(COCO_IOU_THRESHOLDS), len(COCO_RECALL_THRESHOLDS), len(scores)
    precision = np.zeros((n_t, n_r))
    recall = np.zeros(n_t)
    if n_d == 0:
        return precision, recall
    rc = tp / n_pos
    pr = tp / (fp + tp + np.spacing(1))
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # the precision envelope
    recall[:] = rc[:, -1]
    for t in range(n_t):
        at = np.searchsorted(rc[t], COCO_RECALL_THRESHOLDS, side="left")
        found = at < n_d
        precision[t, found] = pr[t, at[found]]
    return precision, recall


def coco_metrics(
    gts: Sequence[Mapping], preds: Sequence[Mapping], max_dets: Sequence[int] = (1, 10, 100)
) -> dict[str, float]:
    """The 12 numbers of COCO's bbox evaluation: a NumPy re-implementation of pycocotools'
    ``COCOeval(gt, dt, "bbox")`` ``evaluate()``, ``accumulate()``, ``summarize()``.

    For each category (every label in ``gts``), image, area range and IoU threshold, as
    ``COCOeval.evaluateImg``:

    - the detections of the category in the image are sorted by score (stable) and only the
      first ``max(max_dets)`` are kept: the limit is per image *and per category*, as COCOeval
      (``useCats=1``);
    - a ground-truth box is ignored when it is ``iscrowd`` or its area ``w * h`` (the box area:
      COCO's annotations use the segment's area) is outside the range; ignored boxes are tried
      last;
    - each detection, best score first, takes the unmatched box with the highest IoU
      ``>= threshold`` (the last one on a tie), preferring a regular box to an ignored one; a
      crowd box stays available and its IoU is ``area(D & G) / area(D)``;
    - a detection matched to an ignored box, and an unmatched one whose area is outside the
      range, is ignored (neither TP nor FP).

    Then, as ``accumulate``, the detections of all the images (the first ``k`` of each image
    for ``maxDets=k``) are sorted by score (stable, image order on ties), the precision is made
    monotone and read at the first detection reaching each of the 101 recalls (0 past the
    highest recall), and AP / AR average over the IoU thresholds, the recalls and the
    categories with at least one regular box in the range.

    Args:
        gts: one dict per image, ``{"boxes": (M, 4) xyxy, "labels": (M,)}``, optionally
            ``"iscrowd": (M,) bool``.
        preds: one dict per image, ``{"boxes": (K, 4) xyxy, "scores": (K,), "labels": (K,)}``.
        max_dets: three limits on the detections per image (and category), COCOeval's
            ``params.maxDets``; sorted.

    Returns:
        ``{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm",
        "ARl"}`` (the AR keys are named after ``max_dets``), floats in COCOeval's ``stats``
        order; -1 where undefined (no regular ground-truth box in the range in any category).
        AP.. and ARs/m/l use ``max(max_dets)``. (COCOeval's ``stats[0]`` uses a literal
        ``maxDets=100``, and so is -1 when 100 is not among ``params.maxDets``.)
    """
    md = np.asarray(max_dets)
    if (
        md.shape != (3,)
        or not np.issubdtype(md.dtype, np.integer)
        or (md < 1).any()
        or len(np.unique(md)) != 3
    ):
        raise ValueError(
            "`max_dets` must be three distinct integers >= 1 (detections kept per "
            f"image, e.g. (1, 10, 100)). Received {max_dets!r}"
        )
    limits = [int(m) for m in np.sort(md)]
    gts, preds = _parse(gts, preds)
    categories = np.unique(np.concatenate([g["labels"] for g in gts]))
    n_t, n_r, n_k = len(COCO_IOU_THRESHOLDS), len(COCO_RECALL_THRESHOLDS), len(categories)
    n_a, n_m = len(COCO_AREA_RANGES), len(limits)
    precision = -np.ones((n_t, n_r, n_k, n_a, n_m))
    recall = -np.ones((n_t, n_k, n_a, n_m))
    for k, category in enumerate(categories):
        per_image = []  # (dt boxes, dt scores, gt, crowd, IoU)
        for g, p in zip(gts, preds):
            keep = g["labels"] == category
            mine = np.flatnonzero(p["labels"] == category)
            if not keep.any() and not mine.size:
                continue  # COCOeval's evalImgs entry is None
            mine = mine[np.argsort(-p["scores"][mine], kind="mergesort")][: limits[-1]]
            boxes, crowd = g["boxes"][keep], g["iscrowd"][keep]
            per_image.append(
                (
                    p["boxes"][mine],
                    p["scores"][mine],
                    boxes,
                    crowd,
                    _coco_iou(p["boxes"][mine], boxes, crowd),
                )
            )
        for a, (_, low, high) in enumerate(COCO_AREA_RANGES):
            evals, n_pos = [], 0
            for dt, scores, gt, crowd, ious in per_image:
                gt_area = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
                ignore = crowd | (gt_area < low) | (gt_area > high)
                order = np.argsort(ignore, kind="mergesort")
                matched, on_ignored = _coco_match(ious[:, order], ignore[order], crowd[order])
                dt_area = (dt[:, 2] - dt[:, 0]) * (dt[:, 3] - dt[:, 1])
                outside = (dt_area < low) | (dt_area > high)
                on_ignored |= ~matched & outside[None, :]
                evals.append((scores, matched, on_ignored))
                n_pos += int((~ignore).sum())
            if not evals or n_pos == 0:
                continue
            for m, limit in enumerate(limits):
                precision[:, :, k, a, m], recall[:, k, a, m] = _coco_accumulate(evals, n_pos, limit)

    def mean(s: np.ndarray) -> float:
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0

    t50 = np.flatnonzero(COCO_IOU_THRESHOLDS == 0.5)
    t75 = np.flatnonzero(COCO_IOU_THRESHOLDS == 0.75)
    out = {
        "AP": mean(precision[:, :, :, 0, -1]),
        "AP50": mean(precision[t50][:, :, :, 0, -1]),
        "AP75": mean(precision[t75][:, :, :, 0, -1]),
    }
    for a, size in enumerate("sml", start=1):
        out[f"AP{size}"] = mean(precision[:, :, :, a, -1])
    for m, limit in enumerate(limits):
        out[f"AR{limit}"] = mean(recall[:, :, 0, m])
    for a, size in enumerate("sml", start=1):
        out[f"AR{size}"] = mean(recall[:, :, a, -1])
    return out


# ------------------------------------------------------------------ picture


def plot_precision_recall(
    curves: Mapping[Any, tuple[Any, Any]],
    path: str | os.PathLike,
    method: str = "all",
    title: str | None = None,
) -> Path:
    """Write a PNG of precision / recall curves: one line per class, its AP in the legend.

    Recall on x and precision on y, both 0..1, as in the VOC paper's figures. The lines join
    the points of each curve (a step down after each false positive, a step right-and-up
    after each true positive); the AP in the legend is `voc_ap` with ``method``. Drawn with
    matplotlib's Agg canvas (no display, no pyplot state); ``zoo`` imports matplotlib only
    here.

    Args:
        curves: ``{name: (precision, recall)}``, e.g. from `precision_recall_curve`.
        path: the PNG file to write (its folder must exist).
        method: ``"all"`` or ``"11point"``, for the AP in the legend.
        title: the figure title, or None for ``"Precision / recall"``.

    Returns:
        ``path`` as a ``pathlib.Path``.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(
            "`curves` must be a non-empty dict {name: (precision, recall)}. "
            f"Received {type(curves).__name__} {curves!r:.80}"
        )
    aps = {}
    for name, curve in curves.items():
        if not isinstance(curve, (tuple, list)) or len(curve) != 2:
            raise ValueError(
                f"`curves[{name!r}]` must be a (precision, recall) pair. Received "
                f"{type(curve).__name__}."
            )
        try:
            aps[name] = voc_ap(curve[0], curve[1], method=method)
        except ValueError as e:
            raise ValueError(f"`curves[{name!r}]`: {e}") from None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, (precision, recall) in curves.items():
        ax.plot(
            np.asarray(recall, np.float64),
            np.asarray(precision, np.float64),
            lw=1.5,
            label=f"{name} (AP {aps[name]:.3f})",
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="recall",
        ylabel="precision",
        title="Precision / recall" if title is None else title,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    path = Path(path)
    fig.savefig(path, format="png")
    return path
