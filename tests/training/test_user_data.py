"""A user's own data and backbone, from the command line: class folders in either layout,
hidden entries, transfer learning in two phases, evaluate, publish, zoo.load; and the one-line
errors of a mistaken command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import zoo
from tests.training.conftest import FIXTURES, ROOT
from training.data import folder_layout, folder_splits, load_source
from training.recipes import Recipe
from training.tasks.classification import ClassificationTask
from training.train import main

DIGITS = FIXTURES / "digits"


def _write_classes(root: Path, classes: int, per_class: int = 4, size: int = 32,
                   grey: bool = False) -> Path:
    """A plain ``root/<class>/<image>.png`` tree: class c is a bright square at its own place."""
    rng = np.random.default_rng(classes)
    for c in range(classes):
        folder = root / f"class{c:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
            row, col = divmod(c, 4)
            image[row * 8:row * 8 + 8, col * 8:col * 8 + 8] = 230
            Image.fromarray(image[..., 0] if grey else image).save(folder / f"{i}.png")
    return root


def _plain_digits(root: Path) -> Path:
    """The digits fixture (train + test) as one plain <class>/<image> tree."""
    for split in ("train", "test"):
        for path in (DIGITS / split).rglob("*.jpg"):
            target = root / path.parent.name / f"{split}_{path.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return root


def _cli(*args: str) -> dict:
    return main([*args, "--no-tensorboard", "--verbose", "0"])


def _error(capsys, *args: str, code: int = 2) -> str:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    err = capsys.readouterr().err
    assert stop.value.code == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


# ---------------------------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------------------------

def test_plain_folder_is_split_seeded_and_stratified(tmp_path):
    root = _write_classes(tmp_path / "data", classes=3, per_class=10)
    assert folder_layout(root) == "plain" and folder_layout(DIGITS) == "split"
    parts = folder_splits(root, test_fraction=0.2, seed=0)
    assert sorted(parts) == ["test", "train"]
    assert np.bincount(parts["test"].labels).tolist() == [2, 2, 2]  # stratified
    assert not set(parts["train"].items) & set(parts["test"].items)
    again = folder_splits(root, test_fraction=0.2, seed=0)
    assert again["test"].items.tolist() == parts["test"].items.tolist()  # reproducible
    other = folder_splits(root, test_fraction=0.2, seed=1)
    assert other["test"].items.tolist() != parts["test"].items.tolist()


def test_hidden_entries_are_neither_classes_nor_images(tmp_path):
    root = _write_classes(tmp_path / "data", classes=2)
    (root / ".ipynb_checkpoints").mkdir()
    Image.new("RGB", (32, 32)).save(root / ".ipynb_checkpoints" / "x.png")
    (root / "class00" / "._0.png").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "class01" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    source = load_source(f"folder:{root}", "train", test_fraction=0.25)
    assert source.class_names == ("class00", "class01") and len(source) == 6
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(root).as_posix())
        z.writestr("__MACOSX/class00/._0.png", b"\x00\x05\x16\x07")
    zipped = load_source(f"folder:{archive}", "train", test_fraction=0.25)
    assert zipped.class_names == source.class_names and len(zipped) == 6


def test_split_layout_with_its_own_validation_folder(tmp_path):
    root = tmp_path / "data"
    for split in ("train", "val", "test"):
        _write_classes(root / split, classes=2, per_class=3)
    parts = folder_splits(root)
    assert sorted(parts) == ["test", "train", "val"] and len(parts["val"]) == 6
    task = ClassificationTask(Recipe(name="x", model="lenet5", dataset=f"folder:{root}"))
    train, val = task._train_val()
    assert len(train) == 6 and val.name.endswith("val")


@pytest.mark.parametrize("name", zoo.list_models(task="classification"))
def test_every_classifier_takes_its_head_from_the_data(name):
    recipe = Recipe(name="x", model=name, dataset="folder:unused")
    task = ClassificationTask(recipe)
    assert task.resolve_args(12)["classes"] == 12
    with pytest.raises(ValueError, match="sets classes=10, but folder:unused has 12 classes"):
        ClassificationTask(recipe.replace(builder_args={"classes": 10})).resolve_args(12)


def test_a_folder_of_twelve_or_three_classes_trains_and_evaluates(tmp_path, capsys):
    for classes, model in ((12, "resnet20_cifar"), (3, "lenet5")):
        data = _write_classes(tmp_path / f"c{classes}", classes, grey=model == "lenet5")
        out = tmp_path / f"run{classes}"
        channels = "1" if model == "lenet5" else "3"
        summary = _cli("--model", model, "--dataset", f"folder:{data}", "--image-size", "32",
                       "32", "--channels", channels, "--epochs", "1", "--batch-size", "8",
                       "--optimizer", "adam", "--lr", "1e-3", "--val-fraction", "0.25",
                       "--out", str(out))
        assert summary["status"] == "finished"
        config = json.loads((out / "model.json").read_text())
        assert config["builder_args"]["classes"] == classes
        assert len(config["class_names"]) == classes
        model_ = zoo.build(model, **config["builder_args"])
        model_.load_weights(out / "best.weights.h5")
        assert model_.output_shape[-1] == classes
        from training.evaluate import main as evaluate

        report = evaluate([str(out)])
        assert report["n"] == classes and len(report["per_class"]) == classes
        assert (out / "eval" / "test" / "confusion.png").is_file()


def test_tfds_by_name_when_no_data_folder_is_given(tmp_path):
    """Without --data-dir / $ZOO_DATA_DIR a recipe's MNIST comes from tensorflow-datasets
    (mocked here: tests never use the network)."""
    import tensorflow_datasets as tfds

    from training.recipes import load_recipe
    from training.train import train

    recipe = load_recipe("lenet5_mnist").replace(epochs=1, batch_size=16, augment={})
    with tfds.testing.mock_data(num_examples=48):
        summary = train(recipe, tmp_path / "run", verbose=0, tensorboard=False)
    assert summary["status"] == "finished" and summary["dataset"] == "mnist"
    assert json.loads((tmp_path / "run" / "model.json").read_text())["class_names"] == \
        [str(i) for i in range(10)]


# ---------------------------------------------------------------------------------------------
# Transfer learning, evaluation, publishing
# ---------------------------------------------------------------------------------------------

def _layer_weights(path: Path, arch: str, **args) -> dict[str, list[np.ndarray]]:
    model = zoo.build(arch, **args)
    model.load_weights(path)
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def test_fine_tune_a_shipped_backbone_then_evaluate_publish_and_load(tmp_path, capsys):
    data = _plain_digits(tmp_path / "digits")
    # phase 1 alone: the frozen backbone keeps the shipped CIFAR-10 weights exactly
    frozen = tmp_path / "frozen"
    _cli("--model", "resnet20_cifar", "--dataset", f"folder:{data}", "--weights", "cifar10",
         "--freeze", "backbone", "--epochs", "1", "--batch-size", "4", "--optimizer", "adam",
         "--lr", "1e-2", "--out", str(frozen))
    shipped = zoo.load("resnet20_cifar", weights="cifar10")
    after = _layer_weights(frozen / "best.weights.h5", "resnet20_cifar", classes=3)
    for name, values in after.items():
        if name == "predictions":
            assert values[0].shape == (64, 3)  # a new head for the folder's 3 classes
            continue
        for a, b in zip(values, shipped.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b, err_msg=name)

    # both phases: the backbone moves in phase 2, batch norm stays in inference mode
    out = tmp_path / "finetune"
    summary = _cli("--model", "resnet20_cifar", "--dataset", f"folder:{data}", "--weights",
                   "cifar10", "--freeze", "backbone", "--unfreeze-after", "1", "--epochs", "2",
                   "--batch-size", "4", "--optimizer", "adam", "--lr", "1e-2", "--out", str(out))
    rows = (out / "log.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["head", "finetune"]
    lr = [float(r.split(",")[-1]) for r in rows[1:]]
    assert lr[1] == pytest.approx(lr[0] / 10)  # --finetune-lr defaults to --lr / 10
    tuned = _layer_weights(out / "last.weights.h5", "resnet20_cifar", classes=3)
    conv = shipped.get_layer("conv1_conv").get_weights()[0]
    assert not np.array_equal(tuned["conv1_conv"][0], conv)
    bn = shipped.get_layer("conv1_bn").get_weights()
    for a, b in zip(tuned["conv1_bn"], bn):
        np.testing.assert_array_equal(a, b)
    assert summary["status"] == "finished"

    from training.evaluate import main as evaluate
    from training.publish import main as publish

    evaluate([str(out)])
    users = tmp_path / "my_weights"
    spec = publish(["--run", str(out), "--tag", "digits3", "--out", str(users)])
    assert spec.builder_args == {"classes": 3} and spec.class_names == ("digit0", "digit1",
                                                                        "digit2")
    assert spec.dataset == f"folder:{data}" and spec.metrics[spec.dataset]["acc@1"] >= 0
    # a new process finds the tag in the user's manifest
    code = ("import zoo, numpy as np; m = zoo.load('resnet20_cifar.digits3'); "
            "x = np.random.default_rng(0).random((2, 32, 32, 3), 'float32'); "
            "np.save(%r, np.asarray(m(x)))" % str(tmp_path / "probs.npy"))
    env = dict(os.environ, ZOO_WEIGHTS_DIR=str(users), PYTHONPATH=str(ROOT),
               TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    model = zoo.build("resnet20_cifar", classes=3)
    model.load_weights(out / "best.weights.h5")
    x = np.random.default_rng(0).random((2, 32, 32, 3), "float32")
    np.testing.assert_allclose(np.load(tmp_path / "probs.npy"), np.asarray(model(x)), atol=2e-2)


def test_fine_tune_from_a_weights_file_of_another_head(tmp_path, monkeypatch):
    _plain_digits(tmp_path / "digits")  # passed below as the relative folder:digits
    ten = zoo.load("lenet5", weights="mnist")
    path = tmp_path / "mnist.weights.h5"
    ten.save_weights(path)
    out = tmp_path / "runs" / "run"
    monkeypatch.chdir(tmp_path)  # a relative --out, as users type it
    _cli("--model", "lenet5", "--dataset", "folder:digits", "--channels", "1", "--set",
         'fit="resize"', "--weights", str(path), "--freeze", "f6", "--epochs", "1",
         "--batch-size", "4", "--optimizer", "adam", "--lr", "1e-3", "--out", "runs/run")
    tuned = _layer_weights(out / "best.weights.h5", "lenet5", classes=3)
    for name in ("c1", "c3", "c5", "f6"):  # frozen up to and including f6
        for a, b in zip(tuned[name], ten.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Mistakes: one line, exit 2
# ---------------------------------------------------------------------------------------------

def test_mistakes_are_one_line_and_exit_2(tmp_path, capsys):
    data = _write_classes(tmp_path / "data", classes=3)
    one = _write_classes(tmp_path / "one", classes=1)
    common = ["--epochs", "1", "--out", str(tmp_path / "run")]
    assert "Unknown model 'resnet181'. Did you mean: resnet18" in _error(
        capsys, "--model", "resnet181", "--dataset", f"folder:{data}", *common)
    assert "Unknown recipe 'lenet_mnist'" in _error(capsys, "lenet_mnist", *common)
    assert "`image_size` must be two positive integers" in _error(
        capsys, "lenet5_mnist", "--image-size", "0", "0", *common)
    assert "Image folder not found" in _error(capsys, "--model", "lenet5", "--dataset",
                                              f"folder:{tmp_path / 'nope'}", *common)
    assert "mnist: data folder" in _error(capsys, "lenet5_mnist", "--data-dir",
                                          str(tmp_path / "nope"), *common)
    assert "a classifier needs at least two" in _error(capsys, "--model", "lenet5", "--dataset",
                                                       f"folder:{one}", *common)
    assert "att_faces: no data folder given. Pass --data-dir" in _error(
        capsys, "att_faces_siamese", *common)
    assert "--freeze 'c33': lenet5 has no such layer (close: ['c3'" in _error(
        capsys, "--model", "lenet5", "--dataset", f"folder:{data}", "--channels", "1",
        "--weights", "mnist", "--freeze", "c33", *common)
    assert "invalid choice: 'lbfgs'" in _error(capsys, "lenet5_mnist", "--optimizer", "lbfgs")
    assert "is not a weight file of lenet5" in _error(
        capsys, "--model", "lenet5", "--dataset", f"folder:{data}", "--channels", "1",
        "--weights", str(FIXTURES / "corrupt" / "truncated.png"), *common)


def test_corrupt_images_name_the_file_and_skip_corrupt_drops_them(tmp_path, capsys):
    data = _write_classes(tmp_path / "data", classes=2, per_class=5)
    shutil.copy(FIXTURES / "corrupt" / "truncated.png", data / "class01" / "broken.png")
    args = ["--model", "lenet5", "--dataset", f"folder:{data}", "--channels", "1",
            "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "run")]
    err = _error(capsys, *args)
    assert "broken.png" in err and "--skip-corrupt" in err
    summary = _cli(*args, "--skip-corrupt")
    assert summary["status"] == "finished"


def test_nothing_points_at_the_shared_folder():
    """A user's clone has no ../shared: neither the code nor the README may lean on it."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    found = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".sh", ".toml", ".txt", ".cfg", ".json") or \
                name == "tests/training/test_user_data.py":
            continue
        for number, line in enumerate(path.read_text(errors="ignore").splitlines(), 1):
            if "../shared" in line or "shared/datasets" in line or '"shared"' in line:
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)



def test_a_folder_is_listed_and_decoded_once_for_all_its_splits(tmp_path, monkeypatch):
    from training.data import DatasetSplits, sources

    root = _write_classes(tmp_path / "data", classes=2, per_class=5)
    calls = []
    decode = sources.decode_image_bytes
    monkeypatch.setattr(sources, "decode_image_bytes",
                        lambda data, where: calls.append(where) or decode(data, where))
    splits = DatasetSplits(f"folder:{root}", test_fraction=0.2)
    train, test = splits["train"], splits["test"]
    assert "val" not in splits and len(train) + len(test) == 10
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 10
