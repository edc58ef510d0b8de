"""Model families; importing this package registers every builder."""

from zoo.models import classification, metric  # noqa: F401
