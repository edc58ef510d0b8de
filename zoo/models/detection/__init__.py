"""Detectors: RetinaNet (one stage, focal loss). Raw head outputs; `decode_predictions` decodes."""

from zoo.models.detection import retinanet  # noqa: F401
