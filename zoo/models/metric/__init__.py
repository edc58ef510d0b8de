"""Metric learning: embedding networks and the pair / triplet wrappers that train them."""

from zoo.models.metric import facenet, siamese  # noqa: F401  (imports register the builders)
from zoo.models.metric.siamese import siamese_pair, triplet_network

__all__ = ["siamese_pair", "triplet_network"]
