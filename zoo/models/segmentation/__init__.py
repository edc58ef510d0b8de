"""Semantic segmentation: FCN-32s/16s/8s, SegNet and U-Net."""

from zoo.models.segmentation import fcn, segnet, unet  # noqa: F401
