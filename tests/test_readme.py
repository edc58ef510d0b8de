"""The README's Python examples run as written (ImageNet downloads swapped for random weights,
since tests never use the network)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    text = README.read_text()
    return {m.group(1): m.group(2) for m in re.finditer(
        r"### ([^\n]+)\n(?:(?!###).)*?```python\n(.*?)```", text, flags=re.S)}


def test_readme_has_the_examples():
    assert {"Transfer learning", "GoogLeNet's auxiliary classifiers",
            "Supervised autoencoder", "Data pipelines",
            "Embedding models and verification",
            "Segmentation and depth in code",
            "Boxes, anchors and NMS in code", "Detecting cells in code"} <= set(_blocks())


@pytest.mark.parametrize("heading", ["Transfer learning", "GoogLeNet's auxiliary classifiers",
                                     "Supervised autoencoder", "Data pipelines",
                                     "Embedding models and verification",
                                     "Segmentation and depth in code",
                                     "Boxes, anchors and NMS in code",
                                     "Detecting cells in code"])
def test_readme_example_runs(heading, monkeypatch):
    code = _blocks()[heading].replace('weights="imagenet"', "weights=None")
    code = code.replace("epochs=2", "epochs=1")
    namespace = {}
    monkeypatch.chdir(README.parent)  # the examples use repository-relative paths
    exec(compile(code, f"README.md: {heading}", "exec"), namespace)  # noqa: S102
    if heading == "Embedding models and verification":
        # the shipped weights tell the same person from another one (fixture faces)
        assert namespace["result"].same and not namespace["other"].same
        assert namespace["embeddings"].shape == (2, 64)   # facenet.att_faces
    if heading == "Segmentation and depth in code":
        assert namespace["masks"].shape == (3, 32, 32) and namespace["picture"].dtype.name == "uint8"
        assert abs(sum(namespace["areas"].values()) - 1) < 1e-6
        assert tuple(namespace["predicted"].shape) == (2, 19, 26)
        assert namespace["coloured"].shape == (19, 26, 3)
    if heading == "Boxes, anchors and NMS in code":
        import numpy as np

        assert namespace["anchors"].shape == (57600, 4)
        classes = np.asarray(namespace["classes"])[0]
        decoded = np.asarray(namespace["decoded"])[0]
        assert (classes == 1).sum() > 0 and set(np.unique(classes)) <= {-2, -1, 1}
        np.testing.assert_allclose(decoded[classes == 1], [[100, 120, 180, 200]] * int(
            (classes == 1).sum()), atol=1e-2)
    if heading == "Detecting cells in code":   # the shipped weights find the example's cells
        found, names = namespace["found"], namespace["names"]
        assert list(names) == ["RBC", "WBC", "Platelets"]
        assert names.index("WBC") in found["labels"].tolist() and len(found["boxes"]) >= 5
        assert namespace["picture"].shape == namespace["image"].shape
    if heading == "Transfer learning":
        model = namespace["model"]
        trainable = {w.path.split("/")[-2] for w in model.trainable_weights}
        assert any(name.startswith("conv5_") for name in trainable)
        assert not any(name.startswith("conv4_") for name in trainable)
