"""zoo.metrics.detection: VOC AP by hand and against a loop, COCO against pycocotools, the plot."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest

from zoo.metrics import coco_metrics, plot_precision_recall, precision_recall_curve, voc_ap, voc_map

COCO_KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def gt(boxes, labels, **flags):
    return {
        "boxes": np.asarray(boxes, float).reshape(-1, 4),
        "labels": np.asarray(labels, int),
        **{k: np.asarray(v, bool) for k, v in flags.items()},
    }


def pred(boxes, scores, labels):
    return {
        "boxes": np.asarray(boxes, float).reshape(-1, 4),
        "scores": np.asarray(scores, float),
        "labels": np.asarray(labels, int),
    }


# ------------------------------------------------------------------ VOC, by hand

# One image, two boxes of class 0, three detections:
#   .9 on box A (IoU 1)                          -> TP
#   .8 far from both                             -> FP
#   .7 on box B, [20,20,30,31]: IoU 100/110      -> TP
# N_pos = 2: precision 1/1, 1/2, 2/3; recall 1/2, 1/2, 1.
A, B = [0, 0, 10, 10], [20, 20, 30, 30]
GT1 = gt([A, B], [0, 0])
P1 = pred([A, [50, 50, 60, 60], [20, 20, 30, 31]], [0.9, 0.8, 0.7], [0, 0, 0])
# all-point: envelope 1 on recall (0, 1/2], 2/3 on (1/2, 1]  -> 1/2 * 1 + 1/2 * 2/3 = 5/6
# 11-point: t = 0 .. .5 (6 thresholds) see max precision 1, t = .6 .. 1 (5) see 2/3
#           -> (6 * 1 + 5 * 2/3) / 11 = 28/33
AP1_ALL, AP1_11 = 5 / 6, 28 / 33


def test_precision_recall_curve_by_hand():
    precision, recall = precision_recall_curve([GT1], [P1], class_id=0)
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3], rtol=1e-12)
    np.testing.assert_allclose(recall, [1 / 2, 1 / 2, 1], rtol=1e-12)
    assert voc_ap(precision, recall, method="all") == pytest.approx(AP1_ALL, rel=1e-12)
    assert voc_ap(precision, recall, method="11point") == pytest.approx(AP1_11, rel=1e-12)
    # the order of the detections in the input does not matter, only their scores
    shuffled = pred(P1["boxes"][::-1], P1["scores"][::-1], [0, 0, 0])
    np.testing.assert_allclose(precision_recall_curve([GT1], [shuffled], 0)[0], precision)


def test_duplicate_detection_is_a_false_positive():
    # a .95 detection on A comes first, so the .9 one on A is a duplicate:
    # TP, FP (dup), FP, TP -> precision 1, 1/2, 1/3, 1/2; recall 1/2, 1/2, 1/2, 1
    # all-point: 1/2 * 1 + 1/2 * 1/2 = 3/4; 11-point: (6 * 1 + 5 * 1/2) / 11 = 8.5/11
    p = pred([[0, 0, 10, 10.5], *P1["boxes"]], [0.95, *P1["scores"]], [0] * 4)
    precision, recall = precision_recall_curve([GT1], [p], 0)
    np.testing.assert_allclose(precision, [1, 1 / 2, 1 / 3, 1 / 2], rtol=1e-12)
    np.testing.assert_allclose(recall, [1 / 2, 1 / 2, 1 / 2, 1], rtol=1e-12)
    assert voc_ap(precision, recall, "all") == pytest.approx(3 / 4, rel=1e-12)
    assert voc_ap(precision, recall, "11point") == pytest.approx(8.5 / 11, rel=1e-12)


def test_difficult_boxes_are_ignored_unless_use_difficult():
    # a third, difficult, box C and a .85 detection on it
    c = [40, 0, 50, 10]
    g = gt([A, B, c], [0, 0, 0], difficult=[False, False, True])
    p = pred([*P1["boxes"], c], [*P1["scores"], 0.85], [0] * 4)
    # ignored: the same curve as without C and its detection
    precision, recall = precision_recall_curve([g], [p], 0)
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3], rtol=1e-12)
    np.testing.assert_allclose(recall, [1 / 2, 1 / 2, 1], rtol=1e-12)
    assert voc_map([g], [p])["AP"][0] == pytest.approx(AP1_ALL, rel=1e-12)
    # counted: N_pos = 3, TP (.9), TP (.85), FP (.8), TP (.7)
    # precision 1, 1, 2/3, 3/4; recall 1/3, 2/3, 2/3, 1 -> all-point 2/3 * 1 + 1/3 * 3/4 = 11/12
    precision, recall = precision_recall_curve([g], [p], 0, use_difficult=True)
    np.testing.assert_allclose(precision, [1, 1, 2 / 3, 3 / 4], rtol=1e-12)
    np.testing.assert_allclose(recall, [1 / 3, 2 / 3, 2 / 3, 1], rtol=1e-12)
    assert voc_map([g], [p], use_difficult=True)["AP"][0] == pytest.approx(11 / 12, rel=1e-12)
    # a class whose only box is difficult has no recall
    only = gt([c], [0], difficult=[True])
    with pytest.raises(ValueError, match="no non-difficult ground-truth box"):
        precision_recall_curve([only], [p], 0)
    assert math.isnan(voc_map([only], [p])["AP"][0])


def test_iou_must_exceed_the_threshold_strictly():
    # [0,0,10,5] on [0,0,10,10]: IoU exactly 50/100 = 0.5, not > 0.5 -> FP (VOC's ovmax > 0.5)
    g, p = gt([A], [0]), pred([[0, 0, 10, 5]], [0.9], [0])
    assert voc_map([g], [p])["AP"][0] == 0.0
    assert voc_map([g], [p], iou_threshold=0.49)["AP"][0] == pytest.approx(1.0)
    # a detection takes its best box even if that one is matched already and another is free
    g2 = gt([A, [0, 0, 10, 9]], [0, 0])
    p2 = pred([A, A], [0.9, 0.8], [0, 0])  # IoUs (1, .9) both times: TP, then FP (dup)
    np.testing.assert_allclose(precision_recall_curve([g2], [p2], 0)[0], [1, 1 / 2])


def test_voc_map_classes_and_images_without_boxes():
    images_gt = [
        gt([A, B, [0, 0, 50, 50]], [0, 0, 1]),  # class 1: one box, found
        gt([], []),  # no box at all, a .75 FP of class 0
        gt([[5, 5, 20, 20]], [3]),  # class 3: a box never detected -> AP 0
        gt(np.zeros((0, 4)), np.zeros(0, int)),  # nothing, no detection
    ]
    images_pred = [
        pred(
            [*P1["boxes"], [0, 0, 50, 50], [1, 1, 9, 9]], [*P1["scores"], 0.6, 0.5], [0, 0, 0, 1, 2]
        ),  # class 2: only a detection -> NaN
        pred([[100, 100, 120, 120]], [0.75], [0]),
        pred([], [], []),
        pred(np.zeros((0, 4)), [], []),
    ]
    # class 0: TP (.9), FP (.8), FP (.75, image 2), TP (.7): precision 1, 1/2, 1/3, 1/2,
    # recall 1/2, 1/2, 1/2, 1 -> all-point 3/4, 11-point 8.5/11
    out = voc_map(images_gt, images_pred)
    assert sorted(out["AP"]) == [0, 1, 2, 3]
    assert out["AP"][0] == pytest.approx(3 / 4, rel=1e-12)
    assert out["AP"][1] == pytest.approx(1.0) and out["AP"][3] == 0.0
    assert math.isnan(out["AP"][2])
    assert out["mAP"] == pytest.approx((3 / 4 + 1 + 0) / 3, rel=1e-12)  # NaN left out
    out11 = voc_map(images_gt, images_pred, method="11point")
    assert out11["AP"][0] == pytest.approx(8.5 / 11, rel=1e-12)
    assert out11["mAP"] == pytest.approx((8.5 / 11 + 1 + 0) / 3, rel=1e-12)
    # num_classes / class_ids choose the classes; a class nowhere is NaN too
    assert sorted(voc_map(images_gt, images_pred, num_classes=5)["AP"]) == [0, 1, 2, 3, 4]
    assert math.isnan(voc_map(images_gt, images_pred, num_classes=5)["AP"][4])
    assert list(voc_map(images_gt, images_pred, class_ids=[1])["AP"]) == [1]
    # no detection of a class that has boxes: empty curve, AP 0
    precision, recall = precision_recall_curve(images_gt, images_pred, class_id=3)
    assert precision.shape == recall.shape == (0,) and voc_ap(precision, recall) == 0.0
    # nothing to average
    assert math.isnan(voc_map([gt([], [])], [pred([], [], [])])["mAP"])


def test_voc_ap_11point_thresholds_are_numpys_arange():
    # recall exactly 0.3 falls short of np.arange(0, 1.1, .1)[3] = 0.30000000000000004, as in
    # py-faster-rcnn: the precision 1 at recall .3 counts for t = 0, .1, .2 only
    assert voc_ap([1.0], [0.3], "11point") == pytest.approx(3 / 11, rel=1e-12)
    assert voc_ap([1.0], [0.4], "11point") == pytest.approx(5 / 11, rel=1e-12)
    assert voc_ap([1.0, 1.0], [0.5, 1.0], "11point") == pytest.approx(1.0)
    assert voc_ap([], [], "11point") == 0.0 and voc_ap([], [], "all") == 0.0


def ref_voc_ap(rec, prec, use_07_metric=False):
    """py-faster-rcnn's lib/datasets/voc_eval.py voc_ap, as written there."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.0
    else:
        mrec = np.concatenate(([0.0], rec, [1.0]))
        mpre = np.concatenate(([0.0], prec, [0.0]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return ap


def ref_voc_eval(gts, preds, class_id, ovthresh=0.5, use_07_metric=False):
    """py-faster-rcnn's voc_eval loop on our dicts (no difficult boxes, no +1 in the areas,
    a stable sort); one detection at a time."""
    recs = [{"bbox": g["boxes"][g["labels"] == class_id]} for g in gts]
    for r in recs:
        r["det"] = [False] * len(r["bbox"])
    npos = sum(len(r["bbox"]) for r in recs)
    dets = [
        (i, s, b)
        for i, p in enumerate(preds)
        for b, s, lab in zip(p["boxes"], p["scores"], p["labels"])
        if lab == class_id
    ]
    dets.sort(key=lambda d: -d[1])
    tp, fp = np.zeros(len(dets)), np.zeros(len(dets))
    for d, (i, _, bb) in enumerate(dets):
        bbgt = recs[i]["bbox"]
        ovmax = -np.inf
        if bbgt.size > 0:
            iw = np.maximum(np.minimum(bbgt[:, 2], bb[2]) - np.maximum(bbgt[:, 0], bb[0]), 0.0)
            ih = np.maximum(np.minimum(bbgt[:, 3], bb[3]) - np.maximum(bbgt[:, 1], bb[1]), 0.0)
            inters = iw * ih
            uni = (
                (bb[2] - bb[0]) * (bb[3] - bb[1])
                + (bbgt[:, 2] - bbgt[:, 0]) * (bbgt[:, 3] - bbgt[:, 1])
                - inters
            )
            overlaps = inters / uni
            ovmax, jmax = np.max(overlaps), np.argmax(overlaps)
        if ovmax > ovthresh and not recs[i]["det"][jmax]:
            tp[d] = 1.0
            recs[i]["det"][jmax] = True
        else:
            fp[d] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return ref_voc_ap(rec, prec, use_07_metric)


def random_scene(rng, n_images=20, n_classes=3, p_detect=0.8, n_false=2.0, jitter=0.1, crowd=0.0):
    """Random xyxy boxes of 4..200 px (small, medium and large), noisy detections of most of
    them with a few wrong labels, and random false positives. Images 0 and 1 have no ground
    truth, images 2 and 3 no predictions."""
    gts, preds = [], []
    for i in range(n_images):
        m = 0 if i < 2 else int(rng.integers(1, 7))
        xy, wh = rng.uniform(0, 400, (m, 2)), rng.uniform(4, 200, (m, 2))
        labels = rng.integers(1, n_classes + 1, m)
        gts.append(gt(np.hstack([xy, xy + wh]), labels, iscrowd=rng.random(m) < crowd))
        if i in (2, 3):
            preds.append(pred([], [], []))
            continue
        hit = rng.random(m) < p_detect
        centre = xy[hit] + wh[hit] / 2 + rng.normal(0, jitter, (hit.sum(), 2)) * wh[hit]
        size = wh[hit] * np.exp(rng.normal(0, jitter, (hit.sum(), 2)))
        k = int(rng.poisson(n_false))
        fxy, fwh = rng.uniform(0, 400, (k, 2)), rng.uniform(4, 200, (k, 2))
        boxes = np.vstack(
            [np.hstack([centre - size / 2, centre + size / 2]), np.hstack([fxy, fxy + fwh])]
        )
        plabels = np.concatenate([labels[hit], rng.integers(1, n_classes + 1, k)])
        flip = rng.random(len(plabels)) < 0.1
        plabels[flip] = rng.integers(1, n_classes + 1, flip.sum())
        preds.append(pred(boxes, rng.random(len(boxes)), plabels))
    return gts, preds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_voc_map_equals_the_py_faster_rcnn_loop(seed):
    gts, preds = random_scene(np.random.default_rng(seed), jitter=0.15)
    for method, use_07 in (("all", False), ("11point", True)):
        out = voc_map(gts, preds, class_ids=[1, 2, 3], method=method)
        ref = {c: ref_voc_eval(gts, preds, c, use_07_metric=use_07) for c in (1, 2, 3)}
        for c in (1, 2, 3):
            assert out["AP"][c] == pytest.approx(ref[c], abs=1e-12)
        assert out["mAP"] == pytest.approx(np.mean(list(ref.values())), abs=1e-12)
        assert 0 < out["mAP"] < 1


# ------------------------------------------------------------------ COCO vs pycocotools


def pycocotools_stats(gts, preds, categories, max_dets=(1, 10, 100)):
    """COCOeval(..., "bbox") stats on in-memory COCO objects (image ids 1.., xywh boxes,
    gt area = w * h so that it is our box area)."""
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    annotations, results = [], []
    for i, (g, p) in enumerate(zip(gts, preds)):
        crowd = g.get("iscrowd", np.zeros(len(g["labels"]), bool))
        for (x1, y1, x2, y2), label, c in zip(g["boxes"].tolist(), g["labels"], crowd):
            w, h = x2 - x1, y2 - y1
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(label),
                    "bbox": [x1, y1, w, h],
                    "area": w * h,
                    "iscrowd": int(c),
                }
            )
        for (x1, y1, x2, y2), score, label in zip(p["boxes"].tolist(), p["scores"], p["labels"]):
            results.append(
                {
                    "image_id": i + 1,
                    "category_id": int(label),
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(score),
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        coco = coco_mod.COCO()
        coco.dataset = {
            "images": [{"id": i + 1} for i in range(len(gts))],
            "annotations": annotations,
            "categories": [{"id": int(c), "name": str(c)} for c in categories],
        }
        coco.createIndex()
        evaluator = cocoeval.COCOeval(coco, coco.loadRes(results), "bbox")
        evaluator.params.maxDets = list(max_dets)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats)


def assert_matches_pycocotools(gts, preds, categories, max_dets=(1, 10, 100)):
    ref = pycocotools_stats(gts, preds, categories, max_dets)
    out = coco_metrics(gts, preds, max_dets=max_dets)
    keys = COCO_KEYS[:6] + [f"AR{m}" for m in max_dets] + COCO_KEYS[9:]
    assert list(out) == keys
    np.testing.assert_allclose(
        [out[k] for k in keys], ref, rtol=0, atol=1e-6, err_msg=str(dict(zip(keys, ref)))
    )
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_coco_random_scene_with_a_class_without_ground_truth(seed):
    rng = np.random.default_rng(seed)
    gts, preds = random_scene(rng)
    # class 4 is a category with detections but no ground truth (-1 -> left out)
    extra = rng.uniform(0, 300, (3, 2))
    preds[5] = pred(
        np.vstack([preds[5]["boxes"], np.hstack([extra, extra + 50])]),
        np.concatenate([preds[5]["scores"], [0.99, 0.5, 0.2]]),
        np.concatenate([preds[5]["labels"], [4, 4, 4]]),
    )
    out = assert_matches_pycocotools(gts, preds, [1, 2, 3, 4])
    assert all(0 < out[k] < 1 for k in ("AP", "AP50", "AR100", "APs", "APm", "APl"))
    assert out["AP50"] > out["AP"] > out["AP75"] - 1e-12


def test_coco_ties_in_scores_and_custom_max_dets():
    gts, preds = random_scene(np.random.default_rng(3), n_false=4.0)
    for p in preds:
        p["scores"] = np.round(p["scores"], 1)  # many equal scores, in and across images
    assert_matches_pycocotools(gts, preds, [1, 2, 3])
    assert_matches_pycocotools(gts, preds, [1, 2, 3], max_dets=(1, 3, 100))


def test_coco_crowded_duplicates_and_max_dets():
    # 150 detections of class 1 around 2 boxes of one image: beyond maxDets 100, many
    # duplicates (FP); 5 low-score detections of class 2 in the same image still count (the
    # limit is per image and per category)
    rng = np.random.default_rng(4)
    g = gt([[10, 10, 60, 90], [100, 100, 300, 260], [400, 0, 440, 30]], [1, 1, 2])
    boxes = np.vstack(
        [g["boxes"][i % 2] + rng.normal(0, 4, 4) for i in range(150)]
        + [g["boxes"][2] + rng.normal(0, 2, 4) for _ in range(5)]
    )
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    labels = np.r_[np.ones(150, int), np.full(5, 2)]
    gts = [g, gt([[0, 0, 20, 20]], [2])]
    preds = [
        pred(boxes, np.r_[rng.uniform(0.2, 1, 150), rng.uniform(0, 0.1, 5)], labels),
        pred([[1, 1, 20, 21]], [0.3], [2]),
    ]
    out = assert_matches_pycocotools(gts, preds, [1, 2])
    assert out["AR1"] < out["AR10"]


def test_coco_equal_ious_take_the_last_box():
    # d1 (score .9) has IoU 90/110 = .818 with both boxes: a tie, COCOeval keeps the last one,
    # box 2; d2 (.8) has IoU 1 with box 1 and 80/120 with box 2, so it takes box 1.
    #   IoU .50 .. .80 (7 thresholds): TP, TP -> precision 1 at every recall
    #   IoU .85 .. .95 (3): d1 FP, d2 TP -> precision 1/2 up to recall 1/2 (51 of the 101
    #   recalls), 0 above -> 25.5 / 101
    # AP = (7 + 3 * 25.5/101) / 10, AR = (7 * 1 + 3 * 1/2) / 10. Taking box 1 on the tie would
    # leave d2 box 2 (IoU .667): TP, FP at .70 .. .80, so AP = (4 + 3 * 51/101 + 3 * 25.5/101) / 10
    gts = [gt([[0, 0, 10, 10], [2, 0, 12, 10]], [1, 1])]
    preds = [pred([[1, 0, 11, 10], [0, 0, 10, 10]], [0.9, 0.8], [1, 1])]
    out = assert_matches_pycocotools(gts, preds, [1])
    assert out["AP"] == pytest.approx((7 + 3 * 25.5 / 101) / 10, rel=1e-12)
    assert out["AR100"] == pytest.approx(0.85, rel=1e-12)


def test_coco_iscrowd_boxes():
    gts, preds = random_scene(np.random.default_rng(5), crowd=0.3)
    # a large crowd box with several detections inside it: matched to it, neither TP nor FP
    # and a regular box inside the crowd: its detection [200, 200, 230, 231] has IoU 1 with
    # the crowd (intersection / its own area) but takes the regular box (IoU 900/930)
    gts[4] = gt(
        [[0, 0, 300, 300], [350, 350, 400, 400], [200, 200, 230, 230]],
        [1, 1, 1],
        iscrowd=[True, False, False],
    )
    preds[4] = pred(
        [
            [10, 10, 50, 50],
            [100, 100, 160, 150],
            [0, 0, 290, 310],
            [350, 352, 400, 400],
            [200, 200, 230, 231],
        ],
        [0.9, 0.8, 0.7, 0.6, 0.5],
        [1, 1, 1, 1, 1],
    )
    assert_matches_pycocotools(gts, preds, [1, 2, 3])
    # the crowd detections do not lower the precision: the same AP as without them
    only = coco_metrics(
        gts[4:5], [pred([[350, 352, 400, 400], [200, 200, 230, 231]], [0.6, 0.5], [1, 1])]
    )
    with_crowd = coco_metrics(gts[4:5], preds[4:5])
    assert with_crowd["AP"] == pytest.approx(only["AP"])
    assert with_crowd["AP50"] == pytest.approx(1.0)


def test_coco_exact_boundaries_on_integer_boxes():
    # IoU exactly .5 and .75 (matched at >=), areas exactly 32^2 and 96^2 (in both ranges)
    gts = [
        gt([[0, 0, 10, 10], [0, 20, 32, 52], [100, 100, 196, 196]], [1, 1, 1]),
        gt([[0, 0, 40, 40]], [2]),
    ]
    preds = [
        pred([[0, 0, 10, 5], [0, 20, 32, 44], [100, 100, 196, 196]], [0.5, 0.9, 0.7], [1, 1, 1]),
        pred([[0, 0, 40, 30], [0, 0, 40, 40]], [0.9, 0.9], [2, 2]),
    ]
    out = assert_matches_pycocotools(gts, preds, [1, 2])
    assert out["AP50"] == pytest.approx(1.0)


def test_coco_undefined_is_minus_one_and_no_predictions_is_zero():
    gts = [gt([[0, 0, 200, 200]], [1]), gt([], [])]  # one large box only
    out = coco_metrics(gts, [pred([], [], []), pred([], [], [])])
    assert out["AP"] == 0.0 and out["AR100"] == 0.0 and out["APl"] == 0.0
    assert out["APs"] == out["APm"] == out["ARs"] == out["ARm"] == -1.0
    perfect = coco_metrics(gts, [pred([[0, 0, 200, 200]], [1.0], [1]), pred([], [], [])])
    assert perfect["AP"] == pytest.approx(1.0) and perfect["AR1"] == 1.0
    assert all(v == -1.0 for v in coco_metrics([gt([], [])], [pred([], [], [])]).values())


# ------------------------------------------------------------------ errors, picture


def test_bad_inputs_raise_with_a_clear_message():
    with pytest.raises(ValueError, match="one entry per image"):
        voc_map([GT1, GT1], [P1])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        voc_map([gt(A, [0])], [{"boxes": [[1, 2, 3]], "scores": [0.5], "labels": [0]}])
    with pytest.raises(ValueError, match="xywh"):
        coco_metrics([gt([[50, 50, 10, 10]], [0])], [P1])  # x_max < x_min
    with pytest.raises(ValueError, match="one entry per box"):
        voc_map([gt([A, B], [0])], [P1])
    with pytest.raises(TypeError, match="one dict per image"):
        voc_map(GT1, P1)  # a dict, not a list of dicts
    with pytest.raises(ValueError, match="keys"):
        voc_map([GT1], [{"boxes": [A], "labels": [0]}])
    with pytest.raises(ValueError, match="method"):
        voc_ap([1.0], [1.0], method="101point")
    with pytest.raises(ValueError, match="same length"):
        voc_ap([1.0, 0.5], [1.0])
    with pytest.raises(ValueError, match="max_dets"):
        coco_metrics([GT1], [P1], max_dets=(10, 100))
    with pytest.raises(ValueError, match="not both"):
        voc_map([GT1], [P1], num_classes=2, class_ids=[0])


def test_plot_precision_recall_writes_a_png(tmp_path):
    image = pytest.importorskip("PIL.Image")
    p2 = pred([A, A], [0.9, 0.8], [0, 0])
    curves = {
        "class 0": precision_recall_curve([GT1], [P1], 0),
        "class 0, duplicates": precision_recall_curve([GT1], [p2], 0),
        "empty": (np.zeros(0), np.zeros(0)),
    }
    path = plot_precision_recall(curves, tmp_path / "pr.png")
    assert path == tmp_path / "pr.png" and path.stat().st_size > 1000
    with image.open(path) as im:
        assert im.format == "PNG" and im.size == (600, 500)
        im.verify()
    with pytest.raises(ValueError, match="precision, recall"):
        plot_precision_recall({"a": [1.0]}, tmp_path / "bad.png")
