"""Monocular depth: the multi-scale network of Eigen, Puhrsch and Fergus (2014)."""

from zoo.models.depth import eigen  # noqa: F401
