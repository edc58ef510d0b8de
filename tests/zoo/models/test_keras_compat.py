"""Weight compatibility with keras.applications, checked offline.

Each test builds the keras.applications model with random weights, moves its weights into
ours, and asserts equal logits. Two routes are checked: ``set_weights`` (same order and
shapes of every variable) and a legacy ``.h5`` file, the format of Keras' published ImageNet
files, which Keras loads by the order of the weighted layers.
"""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest

import zoo
from tests.conftest import to_numpy

# keras.applications has no public writer for the legacy .h5 weight format that its
# ImageNet files use; the test writes one with Keras' own (internal) function.
from keras.src.legacy.saving import legacy_h5_format

CASES = [
    ("vgg16", keras.applications.VGG16, {}),
    ("vgg19", keras.applications.VGG19, {}),
    ("resnet50", keras.applications.ResNet50, {}),
    ("mobilenet", keras.applications.MobileNet, {}),
    ("mobilenet", keras.applications.MobileNet, {"alpha": 0.5}),
    pytest.param("resnet101", keras.applications.ResNet101, {}, marks=pytest.mark.slow),
    pytest.param("resnet152", keras.applications.ResNet152, {}, marks=pytest.mark.slow),
]


def _write_legacy_h5(model: keras.Model, path):
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


@pytest.mark.parametrize("name,keras_builder,kwargs", CASES)
def test_transplanted_weights_give_equal_outputs(tmp_path, name, keras_builder, kwargs):
    x = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    reference = keras_builder(weights=None, classifier_activation=None, **kwargs)
    ours = zoo.build(name, classifier_activation=None, **kwargs)
    assert ours.count_params() == reference.count_params()
    ours.set_weights(reference.get_weights())
    want = to_numpy(reference(x, training=False))
    np.testing.assert_allclose(to_numpy(ours(x, training=False)), want, atol=1e-5, rtol=1e-5)

    # the published-file route: legacy .h5 loaded by layer order
    path = tmp_path / f"{name}_weights_tf_dim_ordering_tf_kernels.h5"
    _write_legacy_h5(reference, path)
    from_file = zoo.build(name, classifier_activation=None, weights=str(path), **kwargs)
    np.testing.assert_allclose(to_numpy(from_file(x, training=False)), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,keras_builder", [("vgg16", keras.applications.VGG16),
                                                ("resnet50", keras.applications.ResNet50),
                                                ("mobilenet", keras.applications.MobileNet)])
def test_headless_files_load_at_other_sizes(tmp_path, name, keras_builder):
    x = np.random.default_rng(1).uniform(0, 255, (1, 96, 128, 3)).astype("float32")
    reference = keras_builder(weights=None, include_top=False, input_shape=(96, 128, 3),
                              pooling="avg")
    path = tmp_path / f"{name}_notop.h5"
    _write_legacy_h5(reference, path)
    ours = zoo.build(name, include_top=False, input_shape=(96, 128, 3), pooling="avg",
                     weights=str(path))
    np.testing.assert_allclose(to_numpy(ours(x, training=False)),
                               to_numpy(reference(x, training=False)), atol=1e-5, rtol=1e-5)


def test_layer_names_match_keras():
    ours = zoo.build("resnet50")
    reference = keras.applications.ResNet50(weights=None)
    assert [layer.name for layer in ours.layers if layer.weights] == \
        [layer.name for layer in reference.layers if layer.weights]
