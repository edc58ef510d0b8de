"""Losses of the zoo, in ``keras.ops`` (TensorFlow, JAX and PyTorch backends), serialisable.

Metric learning: `ContrastiveLoss` (pairs), `TripletLoss` with online mining and
`ActiveTripletFraction`, `CenterLoss` (a layer: it holds the class centres).
"""

from zoo.losses.center import CenterLoss
from zoo.losses.contrastive import ContrastiveLoss
from zoo.losses.distances import pairwise_distances
from zoo.losses.triplet import ActiveTripletFraction, TripletLoss, mine_triplets

__all__ = ["ActiveTripletFraction", "CenterLoss", "ContrastiveLoss", "TripletLoss",
           "mine_triplets", "pairwise_distances"]
