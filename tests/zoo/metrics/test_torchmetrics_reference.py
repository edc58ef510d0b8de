"""`per_class_dice` / `mean_dice` / `MeanDice` against torchmetrics (skipped without it).

torchmetrics >= 1.6 has ``torchmetrics.segmentation.DiceScore`` (the older
``torchmetrics.Dice`` is gone). Its conventions, and how the comparison lines them up:

* a class absent from truth and prediction is NaN (``average="none"``) and left out of
  ``average="macro"`` (a ``nanmean``): the same as ours;
* ``aggregation_level="samplewise"`` (its default) scores each image and averages the images;
  ours pools the pixels of every image first, i.e. ``aggregation_level="global"``;
* it has no ``ignore_index``: ignored pixels are given as all-zero one-hot vectors in both
  the prediction and the target, so they count nowhere, as ours skips them.

``MulticlassF1Score`` (Dice = F1) has an ``ignore_index``; with ``average="macro"`` it also
leaves absent classes out, but with ``average="none"`` it reports 0 for them (we report NaN).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")
from torchmetrics.classification import MulticlassF1Score  # noqa: E402

DiceScore = pytest.importorskip("torchmetrics.segmentation").DiceScore

from tests.zoo.metrics.test_dice import DICE, MEAN, P, T, _batches  # noqa: E402
from zoo.metrics import MeanDice, mean_dice, per_class_dice  # noqa: E402


def _one_hot(labels, num_classes, keep):
    """(B, H, W) ids -> (B, C, H, W) one-hot, all zero where ``keep`` is False."""
    ids = torch.as_tensor(np.where(keep, labels, 0), dtype=torch.long)
    out = torch.nn.functional.one_hot(ids, num_classes) * torch.as_tensor(keep)[..., None]
    return out.permute(0, 3, 1, 2)


def _dice_score(batches, num_classes, average, ignore=255):
    metric = DiceScore(num_classes, average=average, aggregation_level="global",
                       input_format="one-hot")
    for t, p in batches:
        keep = t != ignore
        metric.update(_one_hot(p, num_classes, keep), _one_hot(t, num_classes, keep))
    return metric.compute().numpy()


def test_hand_case_equals_torchmetrics_dice_score_and_f1():
    per_class = _dice_score([(T, P)], 5, "none")
    np.testing.assert_allclose(per_class, DICE, rtol=1e-6)                 # NaN for class 4
    np.testing.assert_allclose(per_class_dice(T, P, 5, 255), per_class, rtol=1e-6)
    assert float(_dice_score([(T, P)], 5, "macro")) == pytest.approx(MEAN, rel=1e-6)
    f1 = MulticlassF1Score(5, average="macro", ignore_index=255)
    assert float(f1(torch.as_tensor(P), torch.as_tensor(T))) == pytest.approx(MEAN, rel=1e-6)
    f1_none = MulticlassF1Score(5, average="none", ignore_index=255)
    f1_none = f1_none(torch.as_tensor(P), torch.as_tensor(T)).numpy()
    np.testing.assert_allclose(f1_none, np.nan_to_num(DICE), rtol=1e-6)     # 0, not NaN


def test_streaming_over_batches_equals_torchmetrics(rng):
    batches = _batches(rng)
    ours = MeanDice(5, ignore_index=255)
    label_batches = []
    for y, logits in batches:
        ours.update_state(y, logits)
        label_batches.append((y[..., 0], logits.argmax(-1)))
    y = np.concatenate([t for t, _ in label_batches])
    labels = np.concatenate([p for _, p in label_batches])
    theirs = _dice_score(label_batches, 5, "none")
    assert np.isnan(theirs[4])
    np.testing.assert_allclose(per_class_dice(y, labels, 5, 255), theirs, rtol=1e-6)
    want = float(_dice_score(label_batches, 5, "macro"))
    assert mean_dice(y, labels, 5, 255) == pytest.approx(want, rel=1e-6)
    assert float(ours.result()) == pytest.approx(want, rel=1e-5)
    f1 = MulticlassF1Score(5, average="macro", ignore_index=255)
    for t, p in label_batches:
        f1.update(torch.as_tensor(p), torch.as_tensor(t))
    assert float(f1.compute()) == pytest.approx(want, rel=1e-5)
