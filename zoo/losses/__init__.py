"""Losses of the zoo, in ``keras.ops`` (TensorFlow, JAX and PyTorch backends), serialisable.

Metric learning: `ContrastiveLoss` (pairs), `TripletLoss` with online mining and
`ActiveTripletFraction`, `CenterLoss` (a layer: it holds the class centres), on
`pairwise_distances` and `l2_normalize` (finite gradients at coinciding and zero embeddings).
Segmentation: `SparsePixelCrossEntropy` (class weights, ignored label), `DiceLoss`,
`JaccardLoss`. Monocular depth: `ScaleInvariantLoss` (Eigen et al. 2014),
`MaskedMeanSquaredError`; missing depth (0 / NaN) is masked out. Detection: `FocalLoss` and
`sigmoid_focal_loss` (Lin et al. 2017), `retinanet_loss` (focal + smooth-L1 or GIoU boxes,
normalised by the positive anchors), `smooth_l1`.
"""

from zoo.losses.center import CenterLoss
from zoo.losses.contrastive import ContrastiveLoss
from zoo.losses.depth import (MaskedMeanSquaredError, ScaleInvariantLoss,
                              masked_mean_squared_error, scale_invariant_loss)
from zoo.losses.detection import FocalLoss, retinanet_loss, sigmoid_focal_loss, smooth_l1
from zoo.losses.distances import l2_normalize, pairwise_distances
from zoo.losses.segmentation import (DiceLoss, JaccardLoss, SparsePixelCrossEntropy, dice_loss,
                                     jaccard_loss, sparse_pixel_crossentropy)
from zoo.losses.triplet import ActiveTripletFraction, TripletLoss, mine_triplets

__all__ = ["ActiveTripletFraction", "CenterLoss", "ContrastiveLoss", "DiceLoss", "FocalLoss",
           "JaccardLoss", "MaskedMeanSquaredError", "ScaleInvariantLoss", "SparsePixelCrossEntropy",
           "TripletLoss", "dice_loss", "jaccard_loss", "l2_normalize",
           "masked_mean_squared_error", "mine_triplets", "pairwise_distances",
           "retinanet_loss", "scale_invariant_loss", "sigmoid_focal_loss", "smooth_l1",
           "sparse_pixel_crossentropy"]
