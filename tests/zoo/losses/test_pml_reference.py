"""`TripletLoss` against pytorch-metric-learning (skipped when it is not installed).

The two conventions that line up, value and gradient:

* ``batch_all`` = ``TripletMarginLoss`` without a miner: every valid triplet, averaged over
  the triplets with a positive loss (PML's default ``AvgNonZeroReducer``);
* ``batch_hard`` = ``BatchHardMiner`` + ``TripletMarginLoss(reducer=MeanReducer())``: the
  mean over the anchors that have a positive and a negative (PML's default reducer would
  average only the anchors with a positive loss).

Distances: ``squared_l2`` / ``l2`` = ``LpDistance(normalize_embeddings=False, power=2 / 1)``;
``cosine`` = ``CosineSimilarity()`` (PML's margin on similarities, ``s_an - s_ap + m``, is
ours on ``1 - s``). ``semi_hard`` is FaceNet's / TF Addons' rule, which PML's
``TripletMarginMiner(type_of_triplets="semihard")`` is not (it keeps every semi-hard triplet):
it is checked against the NumPy loop in test_metric_losses.py only. At a zero embedding PML
normalises with ``F.normalize`` (gradients up to 1e12), we as ``tf.math.l2_normalize`` (at
most 1e6): the values agree, the gradients there do not, so the embeddings here are non-zero.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml = pytest.importorskip("pytorch_metric_learning")
from pytorch_metric_learning import distances, losses, miners, reducers  # noqa: E402

from tests.zoo.losses.autodiff import value_and_grad  # noqa: E402
from zoo.losses import TripletLoss  # noqa: E402


def _pml_distance(name):
    if name == "cosine":
        return distances.CosineSimilarity()
    return distances.LpDistance(normalize_embeddings=False, power=2 if name == "squared_l2" else 1)


def _pml_loss(emb, labels, name, mining, margin):
    e = torch.tensor(emb, dtype=torch.float64, requires_grad=True)
    y = torch.as_tensor(labels)
    dist = _pml_distance(name)
    if mining == "batch_all":
        value = losses.TripletMarginLoss(margin=margin, distance=dist)(e, y)
    else:
        mined = miners.BatchHardMiner(distance=dist)(e, y)
        value = losses.TripletMarginLoss(margin=margin, distance=dist,
                                         reducer=reducers.MeanReducer())(e, y, mined)
    value.backward()
    return float(value.detach()), e.grad.numpy()


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard"])
@pytest.mark.parametrize("distance", ["squared_l2", "l2", "cosine"])
def test_triplet_value_and_gradient_equal_pytorch_metric_learning(mining, distance):
    rng = np.random.default_rng(7)
    emb = rng.normal(size=(12, 5)).astype("float32")
    labels = rng.integers(0, 4, size=12)
    labels[0] = 9                                   # a lone identity: no positive, no triplet
    loss = TripletLoss(margin=0.3, distance=distance, mining=mining)
    value, grad = value_and_grad(lambda e: loss(labels, e), emb)
    want, want_grad = _pml_loss(emb, labels, distance, mining, 0.3)
    np.testing.assert_allclose(float(value), want, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=1e-3, atol=1e-5)
