"""ImageNet class names shipped in the package, `zoo.decode_predictions`, and the weight records
that carry the names: all offline."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo import imagenet
from zoo import weights as W


# ---------------------------------------------------------------------------------------------
# The names file
# ---------------------------------------------------------------------------------------------

def test_names_file_is_keras_own():
    data = imagenet.CLASS_INDEX_PATH.read_bytes()
    # Keras checks its download of imagenet_class_index.json against this md5
    keras_source = Path(keras.src.applications.imagenet_utils.__file__).read_text()
    assert f'file_hash="{hashlib.md5(data).hexdigest()}"' in keras_source
    assert hashlib.md5(data).hexdigest() == imagenet.CLASS_INDEX_MD5
    assert hashlib.sha256(data).hexdigest() == imagenet.CLASS_INDEX_SHA256


def test_names_file_integrity():
    index = imagenet.class_index()
    wnids = [wnid for wnid, _ in index]
    assert len(index) == 1000 and len(set(wnids)) == 1000
    assert all(len(w) == 9 and w[0] == "n" and w[1:].isdigit() for w in wnids)
    assert wnids == sorted(wnids)  # the ILSVRC-2012 order: by wnid
    assert index[0] == ("n01440764", "tench")
    assert index[1] == ("n01443537", "goldfish")
    assert index[2] == ("n01484850", "great_white_shark")
    assert index[207] == ("n02099601", "golden_retriever")
    assert index[999] == ("n15075141", "toilet_tissue")
    raw = json.loads(imagenet.CLASS_INDEX_PATH.read_text())
    assert list(raw) == [str(i) for i in range(1000)]


def test_names_follow_tensorflow_datasets_label_order():
    import importlib.resources

    labels = importlib.resources.files("tensorflow_datasets") / "datasets/imagenet2012/labels.txt"
    if not labels.is_file():
        pytest.skip("this tensorflow_datasets has no imagenet2012/labels.txt")
    assert labels.read_text().split() == [w for w, _ in imagenet.class_index()]


def test_readable_names():
    names = imagenet.class_names()
    assert len(names) == 1000 and names[2] == "great white shark" and names[999] == "toilet tissue"
    assert "_" not in "".join(names)
    # ImageNet's own duplicates, kept so that output i is name i
    assert names[134] == names[517] == "crane" and names[638] == names[639] == "maillot"


# ---------------------------------------------------------------------------------------------
# decode_predictions
# ---------------------------------------------------------------------------------------------

def _reference(preds, top, ids, names):
    """Plain NumPy: per row, the classes by decreasing score, ties by increasing index."""
    out = []
    for row in np.asarray(preds, np.float64):
        order = sorted(range(row.size), key=lambda i: (-row[i], i))[:top]
        out.append([(ids[i], names[i], row[i]) for i in order])
    return out


def _assert_same(got, want):
    assert len(got) == len(want)
    for g_row, w_row in zip(got, want):
        assert [(i, n) for i, n, _ in g_row] == [(i, n) for i, n, _ in w_row]
        np.testing.assert_allclose([s for *_, s in g_row], [s for *_, s in w_row], rtol=1e-6)
        assert all(isinstance(s, float) for *_, s in g_row)


def test_decode_imagenet_matches_a_numpy_reference(rng):
    preds = rng.dirichlet(np.ones(1000), size=4).astype("float32")
    index = imagenet.class_index()
    for top in (1, 5, 1000):
        _assert_same(zoo.decode_predictions(preds, top=top),
                     _reference(preds, top, [w for w, _ in index], [n for _, n in index]))


def test_decode_hand_made_cases():
    preds = np.zeros((2, 1000), "float32")
    preds[0, [1, 0, 999]] = [0.5, 0.3, 0.2]
    preds[1, [3, 7]] = [0.9, 0.1]
    got = zoo.decode_predictions(preds, top=3)
    assert [(i, n) for i, n, _ in got[0]] == [("n01443537", "goldfish"), ("n01440764", "tench"),
                                              ("n15075141", "toilet_tissue")]
    assert [s for *_, s in got[0]] == pytest.approx([0.5, 0.3, 0.2])
    # ties (the zeros) keep the class order: 3, 7, then class 0
    assert [i for i, _, _ in got[1]] == ["n01491361", "n01514668", "n01440764"]


def test_decode_agrees_with_keras_applications(rng, monkeypatch):
    from keras.src.applications import imagenet_utils

    # Keras' own function, given our file instead of its download
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX",
                        json.loads(imagenet.CLASS_INDEX_PATH.read_text()))
    preds = rng.random((3, 1000)).astype("float32")
    theirs = imagenet_utils.decode_predictions(preds, top=5)
    ours = zoo.decode_predictions(preds, top=5)
    assert [[(i, n) for i, n, _ in row] for row in ours] == \
           [[(i, n) for i, n, _ in row] for row in theirs]
    np.testing.assert_allclose([[s for *_, s in r] for r in ours],
                               [[s for *_, s in r] for r in theirs])


def test_decode_backend_tensor(rng):
    preds = rng.random((2, 1000)).astype("float32")
    _assert_same(zoo.decode_predictions(keras.ops.convert_to_tensor(preds)),
                 zoo.decode_predictions(preds))


def test_decode_with_other_class_names():
    preds = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    got = zoo.decode_predictions(preds, top=2, class_names=["cat", "dog", "bird"])
    assert got == [[(1, "dog", 0.7), (2, "bird", 0.2)], [(0, "cat", 0.6), (1, "dog", 0.3)]]
    # top above the number of classes returns them all
    assert len(zoo.decode_predictions(preds, top=5, class_names=["a", "b", "c"])[0]) == 3


def test_decode_with_a_weight_record_or_a_loaded_model():
    preds = np.eye(10)[[3]] * 0.9
    spec = W.get_weight_spec("lenet5", "mnist")
    assert zoo.decode_predictions(preds, top=1, class_names=spec) == [[(3, "3", 0.9)]]
    model = zoo.load("lenet5")                  # bundled: model.zoo_weights is its record
    assert zoo.decode_predictions(preds, top=1, class_names=model) == [[(3, "3", 0.9)]]
    vgg = W.get_weight_spec("vgg16", "imagenet")  # an ImageNet record decodes as ImageNet
    preds = np.eye(1000)[[207]]
    assert zoo.decode_predictions(preds, top=1, class_names=vgg) == \
        [[("n02099601", "golden_retriever", 1.0)]]
    with pytest.raises(ValueError, match="carries no class names"):
        zoo.decode_predictions(np.ones((1, 10)), class_names=zoo.build("lenet5"))


@pytest.mark.parametrize("preds,kwargs,match", [
    (np.ones(1000), {}, r"must be 2-D, \(batch, classes\). Received: preds of shape \(1000,\). "
                        r"For one sample, pass preds\[None\]"),
    (np.ones((1, 2, 1000)), {}, r"must be 2-D.*\(1, 2, 1000\)"),
    (np.ones((2, 10)), {}, r"`preds` has 10 columns but ImageNet has 1000 classes"),
    (np.ones((2, 3)), {"class_names": ["a", "b"]}, r"3 columns but `class_names` has 2"),
    (np.ones((1, 1000)), {"top": 0}, r"`top` must be a positive integer. Received: top=0"),
    (np.ones((1, 1000)), {"top": -2}, r"top=-2"),
    (np.ones((1, 1000)), {"top": 2.5}, r"top=2.5"),
    (np.ones((1, 1000)), {"top": True}, r"top=True"),
    (np.ones((1, 1000)), {"class_names": "cifar10"}, r"None or 'imagenet'.*class_names='cifar10'"),
    (np.ones((1, 2)), {"class_names": []}, r"`class_names` is empty"),
    (np.array([[0.1, np.nan]]), {"class_names": ["a", "b"]}, r"holds NaN \(rows \[0\]\)"),
    (np.array([["a", "b"]]), {"class_names": ["a", "b"]}, r"must hold numbers"),
])
def test_decode_errors(preds, kwargs, match):
    with pytest.raises(ValueError, match=match):
        zoo.decode_predictions(preds, **kwargs)


# ---------------------------------------------------------------------------------------------
# The weight records carry the names
# ---------------------------------------------------------------------------------------------

def test_imagenet_records_expose_the_names_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("no download allowed")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(keras.utils, "get_file", no_network)
    spec = W.get_weight_spec("vgg16", "imagenet")
    assert spec.class_names == imagenet.class_names() and len(spec.class_names) == 1000
    assert spec.class_names[0] == "tench"
    assert not list(W.cache_dir().rglob("*")) and not list(W._keras_cache_dir().rglob("*"))


def test_every_imagenet_record_has_the_names_by_reference():
    raw = json.loads(W.MANIFEST_PATH.read_text())
    imagenet_keys = [k for k in raw if k.split(".", 1)[1].startswith("imagenet")]
    assert len(imagenet_keys) == 9
    for key in imagenet_keys:
        assert raw[key]["class_names"] == "imagenet", key          # not 1000 names again
        spec = W.get_weight_spec(*key.split("."))
        assert spec.class_names == imagenet.class_names(), key
        assert spec.builder_args["classes"] == 1000, key
    # the other records keep their own lists
    assert W.get_weight_spec("resnet20_cifar", "cifar10").class_names[:2] == ("airplane",
                                                                              "automobile")


def test_label_set_reference_round_trips():
    spec = W.WeightSpec.from_dict({"arch": "resnet50", "tag": "mine", "class_names": "imagenet"})
    assert spec.class_names == imagenet.class_names()
    assert spec.to_dict()["class_names"] == "imagenet"
    listed = W.WeightSpec(arch="resnet50", tag="listed", class_names=list(imagenet.class_names()))
    assert listed.to_dict()["class_names"] == "imagenet" and listed == spec.__class__(
        arch="resnet50", tag="listed", class_names="imagenet")
    other = W.WeightSpec(arch="lenet5", tag="x", class_names=["a", "b"])
    assert other.class_names == ("a", "b") and list(other.to_dict()["class_names"]) == ["a", "b"]
    with pytest.raises(W.WeightsError, match=r"label set \('imagenet'\). Received: "
                                             r"class_names='imagenet21k'"):
        W.WeightSpec(arch="lenet5", tag="y", class_names="imagenet21k")
