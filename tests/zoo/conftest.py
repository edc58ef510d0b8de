"""Fixtures and helpers the weight tests share (test_weights.py, test_downloads.py)."""

import numpy as np
import pytest

from tests.conftest import to_numpy
from zoo import weights as W


@pytest.fixture
def spec_registry():
    """Registers LeNet-5 weight records for one test (``add(tag=..., url=..., ...)``) and
    removes them afterwards."""
    added = []

    def add(**fields):
        spec = W.WeightSpec(arch="lenet5", **fields)
        W.register_weights(spec)
        added.append(spec.key)
        return spec

    yield add
    for key in added:
        W.unregister_weights(key)


def same_weights(a, b, strict: bool = True):
    """Asserts two models hold the same weight arrays, in order; ``strict=False`` compares
    only the shorter list (a headless model against the body of a full one)."""
    for wa, wb in zip(a.weights, b.weights, strict=strict):
        np.testing.assert_array_equal(to_numpy(wa), to_numpy(wb))


def cache_files():
    """The names of the files in the zoo's weight cache."""
    return sorted(p.name for p in W.cache_dir().rglob("*") if p.is_file())
