"""One name for the number of classes, and headless models that ignore it (issue 16, items 3-4).

Every builder that makes a classifier or a per-pixel classifier calls the number of classes
``classes``, as keras.applications does; ``num_classes`` (the segmentation builders' earlier
name, torchvision's) stays an alias. ``include_top=False`` ignores ``classes``, as
keras.applications does: ``zoo.load("resnet20_cifar", include_top=False, classes=2)`` used
to fail with "It holds 97 weight arrays, the model has 97".
"""

import inspect

import keras
import numpy as np
import pytest

import zoo
from zoo.registry import get_entry


def test_every_builder_with_a_class_count_calls_it_classes():
    with_classes = []
    for name in zoo.list_models():
        parameters = inspect.signature(get_entry(name).builder).parameters
        if "num_classes" in parameters:  # only as the alias of `classes`
            assert "classes" in parameters, name
            assert parameters["num_classes"].default is None, name
        if "classes" in parameters:
            with_classes.append(name)
    assert {"unet", "segnet", "fcn8s", "fcn16s", "fcn32s", "resnet50", "lenet5"} <= \
        set(with_classes)


@pytest.mark.parametrize("name,kwargs,shape", [
    ("unet", {"filters": 2, "depth": 2}, (16, 16, 1)),
    ("segnet", {}, (16, 16, 3)),
    ("fcn32s", {}, (32, 32, 3)),
])
def test_segmentation_builders_take_classes_and_the_alias(name, kwargs, shape):
    model = zoo.build(name, classes=3, input_shape=shape, **kwargs)
    assert model.output_shape[-1] == 3
    alias = zoo.build(name, num_classes=3, input_shape=shape, **kwargs)
    assert alias.output_shape[-1] == 3
    with pytest.raises(ValueError, match="not both"):
        zoo.build(name, classes=4, num_classes=3, input_shape=shape, **kwargs)
    with pytest.raises(ValueError, match=r"`classes` must be an integer >= 1.*classes=0"):
        zoo.build(name, classes=0, input_shape=shape, **kwargs)


def test_old_records_with_num_classes_still_load():
    spec = zoo.weights.WeightSpec.from_dict(
        {"arch": "unet", "tag": "old", "builder_args": {"num_classes": 3, "filters": 2}})
    assert spec.builder_args == {"classes": 3, "filters": 2}


@pytest.mark.parametrize("name,shape", [("resnet18", (32, 32, 3)), ("lenet5", (32, 32, 1)),
                                        ("mobilenet", (32, 32, 3)),
                                        ("resnet20_cifar", (32, 32, 3))])
def test_include_top_false_ignores_classes(name, shape):
    plain = zoo.build(name, include_top=False, input_shape=shape)
    for classes in (2, 0, "anything"):
        model = zoo.build(name, include_top=False, classes=classes, input_shape=shape)
        assert model.output_shape == plain.output_shape
        assert model.count_params() == plain.count_params()


def test_headless_load_with_classes_equals_headless_load():
    model = zoo.load("resnet20_cifar", include_top=False, classes=2, pooling="avg")
    plain = zoo.load("resnet20_cifar", include_top=False, pooling="avg")
    assert model.output_shape == (None, 64)
    for a, b in zip(model.weights, plain.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
