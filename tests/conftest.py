"""Shared test set-up: an isolated weight cache, seeded randomness, freed memory."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Every test gets empty zoo and Keras caches and an empty user weights folder, and no data
    folder from the environment, so nothing depends on this machine's files."""
    from zoo import weights

    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(root / "zoo"))
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(root / "user_weights"))
    monkeypatch.setenv("KERAS_HOME", str(root / "keras"))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.delenv("ZOO_MANIFEST", raising=False)
    weights._records.cache_clear()
    keras.utils.set_random_seed(0)
    yield
    weights._records.cache_clear()
    # free_memory=False: a full gc.collect() after every test costs seconds with TF loaded
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def to_numpy(x):
    """A backend tensor (or dict of them) as NumPy."""
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    return keras.ops.convert_to_numpy(x)
