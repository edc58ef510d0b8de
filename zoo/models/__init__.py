"""Model families; importing this package registers every builder."""

from zoo.models import classification, depth, detection, metric, segmentation  # noqa: F401
