"""The custom layers against plain NumPy references on hand-made inputs."""

import keras
import numpy as np
import pytest

from tests.conftest import to_numpy
from zoo.layers import CosineClassifier, LocalResponseNormalization, PadChannels


def lrn_reference(a, size=5, k=2.0, alpha=1e-4, beta=0.75):
    """Krizhevsky et al. 2012, eq. in section 3.3, written as a loop over channels."""
    out = np.empty_like(a)
    n_channels = a.shape[-1]
    for i in range(n_channels):
        lo, hi = max(0, i - size // 2), min(n_channels - 1, i + size // 2)
        energy = np.sum(a[..., lo:hi + 1] ** 2, axis=-1)
        out[..., i] = a[..., i] / (k + alpha * energy) ** beta
    return out


@pytest.mark.parametrize("size,alpha", [(5, 1e-4), (3, 0.5), (1, 1.0)])
def test_lrn_matches_numpy(rng, size, alpha):
    x = rng.normal(0, 30, (2, 3, 4, 7)).astype("float32")  # large values: the term matters
    got = to_numpy(LocalResponseNormalization(size=size, alpha=alpha)(x))
    np.testing.assert_allclose(got, lrn_reference(x, size=size, alpha=alpha), rtol=1e-5)


def test_lrn_hand_case():
    # One pixel, channels [1, 2, 3], n=3, k=1, alpha=1, beta=1: b_i = a_i / (1 + sum a_j^2).
    x = np.array([[[[1.0, 2.0, 3.0]]]], dtype="float32")
    got = to_numpy(LocalResponseNormalization(size=3, bias=1.0, alpha=1.0, beta=1.0)(x))
    np.testing.assert_allclose(got.ravel(), [1 / 6, 2 / 15, 3 / 14], rtol=1e-6)


def test_lrn_equals_tensorflow():
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is the reference implementation")
    x = np.random.default_rng(1).normal(0, 20, (2, 5, 5, 16)).astype("float32")
    want = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(to_numpy(LocalResponseNormalization()(x)), want.numpy(), rtol=1e-5)


def test_lrn_rejects_even_size():
    with pytest.raises(ValueError, match="size"):
        LocalResponseNormalization(size=4)


def test_pad_channels():
    x = np.arange(2 * 2 * 2 * 3, dtype="float32").reshape(2, 2, 2, 3)
    got = to_numpy(PadChannels(2)(x))
    assert got.shape == (2, 2, 2, 5)
    np.testing.assert_array_equal(got[..., :3], x)
    np.testing.assert_array_equal(got[..., 3:], 0)
    with pytest.raises(ValueError, match="pad"):
        PadChannels(-1)


def test_cosine_classifier_hand_case():
    # features (3, 4) and (0, 2); class weights (1, 0) and (0, 5): the cosines are
    # (0.6, 0.8) and (0, 1), whatever the norms; scale 10 multiplies them
    layer = CosineClassifier(2, scale=10.0)
    layer.build((None, 2))
    layer.kernel.assign(np.array([[1.0, 0.0], [0.0, 5.0]], "float32"))
    got = to_numpy(layer(np.array([[3.0, 4.0], [0.0, 2.0]], "float32")))
    np.testing.assert_allclose(got, [[6.0, 8.0], [0.0, 10.0]], rtol=1e-6)


def test_cosine_classifier_matches_numpy(rng):
    x = rng.normal(size=(5, 7)).astype("float32")
    layer = CosineClassifier(3, scale=16.0)
    got = to_numpy(layer(x))
    w = to_numpy(layer.kernel)
    want = 16.0 * (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape((5, 7)) == (5, 3) and not layer.weights[1:]  # no bias
    # a zero feature gives zero logits, not NaN (the safe normalisation)
    np.testing.assert_array_equal(to_numpy(layer(np.zeros((1, 7), "float32"))), 0.0)
    for bad in ({"units": 0}, {"units": 2, "scale": 0}, {"units": 2.5}):
        with pytest.raises(ValueError, match="units|scale"):
            CosineClassifier(**bad)


@pytest.mark.parametrize("layer", [LocalResponseNormalization(size=3, alpha=0.1), PadChannels(4),
                                   CosineClassifier(5, scale=12.0)])
def test_layers_serialise(layer):
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert clone.get_config() == layer.get_config()
