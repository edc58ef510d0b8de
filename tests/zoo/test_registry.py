"""The public API: list_models, describe, build, load, register."""

import pytest

import zoo
from zoo.registry import TASKS, entries, register

CLASSIFIERS = ["alexnet", "googlenet", "lenet5", "mobilenet", "resnet18", "resnet20_cifar",
               "resnet32_cifar", "resnet34", "resnet50", "resnet56_cifar", "resnet101",
               "resnet152", "supervised_autoencoder", "vgg16", "vgg19", "zfnet"]


def test_list_models_sorted_and_filtered():
    assert zoo.list_models(task="classification") == CLASSIFIERS
    assert zoo.list_models(pattern="resnet1*") == ["resnet18", "resnet101", "resnet152"]
    assert zoo.list_models(pattern="VGG*") == ["vgg16", "vgg19"]
    assert zoo.list_models(task="segmentation") == ["fcn8s", "fcn16s", "fcn32s", "segnet",
                                                    "unet"]
    pretrained = zoo.list_models(pretrained=True)
    assert pretrained == ["eigen_depth", "facenet", "lenet5", "lenetpp", "mobilenet",
                          "resnet20_cifar", "resnet50", "resnet101", "resnet152", "retinanet",
                          "siamese_net", "unet", "vgg16", "vgg19"]
    assert set(zoo.list_models(pretrained=False)) == set(zoo.list_models()) - set(pretrained)
    assert zoo.list_models(task="metric") == ["facenet", "lenetpp", "siamese_net"]
    assert zoo.list_models(task="detection", pretrained=True) == ["retinanet"]
    with pytest.raises(ValueError, match="task"):
        zoo.list_models(task="classify")


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_describe_fields_are_filled(name):
    card = zoo.describe(name)
    for field in ("name", "summary", "task", "paper", "paper_url", "year", "params",
                  "input_shape", "preprocessing"):
        assert card[field], f"{name}: describe()[{field!r}] is empty"
    assert card["task"] in TASKS
    assert 1989 <= card["year"] <= 2026
    assert len(card["input_shape"]) == 3
    assert card["feature_layers"], f"{name} declares no feature_layers"


def test_describe_lists_weight_tags_with_metrics():
    card = zoo.describe("mobilenet")
    assert list(card["weights"]) == ["imagenet", "imagenet_a025", "imagenet_a050", "imagenet_a075"]
    assert card["weights"]["imagenet"]["metrics"]["ImageNet-1k"]["acc@1"] == pytest.approx(0.704)


def test_unknown_name_lists_close_names():
    with pytest.raises(ValueError, match=r"Unknown model 'resnet5'.*resnet50"):
        zoo.build("resnet5")
    with pytest.raises(ValueError, match=r"vgg16"):
        zoo.load("vgg61")
    with pytest.raises(ValueError, match="Unknown model"):
        zoo.describe("no_such_thing_at_all")


def test_duplicate_and_malformed_registration_raise():
    with pytest.raises(ValueError, match="already registered"):
        register("vgg16", task="classification", paper="", paper_url="", year=2015)(lambda: 0)
    with pytest.raises(ValueError, match="lower case"):
        register("VGG-x", task="classification", paper="", paper_url="", year=2015)
    with pytest.raises(ValueError, match="task"):
        register("newnet", task="classify", paper="", paper_url="", year=2015)


def test_register_decorator_adds_a_model():
    import keras

    @register("tiny_test_net", task="classification", paper="Test", paper_url="", year=2024,
              input_shape=(8, 8, 1))
    def tiny_test_net(classes=2, **kwargs):
        """A tiny test network."""
        inputs = keras.Input((8, 8, 1))
        return keras.Model(inputs, keras.layers.Dense(classes)(keras.layers.Flatten()(inputs)))

    try:
        assert "tiny_test_net" in zoo.list_models()
        assert zoo.build("tiny_test_net", classes=3).output_shape == (None, 3)
        assert zoo.describe("tiny_test_net")["summary"] == "A tiny test network."
    finally:
        from zoo import registry
        registry._REGISTRY.pop("tiny_test_net")


def test_build_rejects_a_tag_and_load_needs_weights():
    with pytest.raises(ValueError, match="zoo.load"):
        zoo.build("vgg16.imagenet")
    with pytest.raises(ValueError, match="alexnet has no pretrained weights"):
        zoo.load("alexnet")


def test_every_entry_has_a_registered_builder_module():
    for name, entry in entries().items():
        assert entry.builder.__module__.startswith("zoo.models"), name
