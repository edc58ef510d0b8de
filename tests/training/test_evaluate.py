"""`training.evaluate`: metrics on hand-made cases, and the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.evaluate import classification_report, confusion_matrix, main

ROOT = Path(__file__).resolve().parents[2]


def test_report_on_a_hand_made_case():
    # 6 images, 3 classes. Predictions (argmax): 0, 0, 1, 2, 2, 1 for labels 0, 0, 1, 1, 2, 2.
    y = [0, 0, 1, 1, 2, 2]
    probs = np.array([[.8, .1, .1], [.5, .3, .2], [.2, .7, .1],
                      [.1, .3, .6], [.2, .1, .7], [.3, .4, .3]])
    r = classification_report(y, probs, ["a", "b", "c"], k=2)
    assert r["acc@1"] == pytest.approx(4 / 6)
    # top-2: image 3 (label 1: 2nd highest .3 vs .1) hit; image 5 (label 2: .3 ties .3 with
    # class 0; stable sort keeps class 0 first, so class 2 is third) miss.
    assert r["acc@2"] == pytest.approx(5 / 6)
    assert r["confusion"] == [[2, 0, 0], [0, 1, 1], [0, 1, 1]]
    a, b, c = (r["per_class"][n] for n in "abc")
    assert (a["precision"], a["recall"], a["support"]) == (1.0, 1.0, 2)
    assert (b["precision"], b["recall"]) == (0.5, 0.5)
    assert c["f1"] == pytest.approx(0.5)
    assert r["macro_recall"] == pytest.approx((1 + .5 + .5) / 3)


def test_never_predicted_class_has_zero_precision():
    r = classification_report([0, 1], np.array([[.9, .1, 0], [.9, .1, 0]]), k=5)
    assert r["per_class"]["2"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert "acc@3" in r  # k capped at the number of classes
    assert confusion_matrix(np.array([0, 1]), np.array([0, 0]), 3).tolist() == \
        [[1, 0, 0], [1, 0, 0], [0, 0, 0]]


def test_bad_shapes_and_labels():
    with pytest.raises(ValueError, match=r"`probs` must be \(N, C\)"):
        classification_report([0, 1, 2], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"Labels must be in \[0, 3\)"):
        classification_report([0, 3], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 class names for 3 model outputs"):
        classification_report([0, 1], np.zeros((2, 3)), ["a", "b"])


def test_cli_on_fixture_folder(tmp_path, capsys):
    import zoo

    recipe = {"name": "digits3", "model": "lenet5", "dataset": f"folder:{ROOT}/tests/fixtures/digits",
              "builder_args": {"classes": 3}, "image_size": [32, 32], "channels": 1,
              "fit": "pad"}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    model = zoo.build("lenet5", classes=3)
    model.save_weights(tmp_path / "w.weights.h5")
    report = main(["--recipe", str(tmp_path / "r.json"), "--weights", str(tmp_path / "w.weights.h5"),
                   "--split", "test", "--out", str(tmp_path / "eval")])
    assert report["n"] == 6 and set(report["per_class"]) == {"digit0", "digit1", "digit2"}
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["acc@1"] == report["acc@1"]
    assert (tmp_path / "eval" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "top-1 accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--model", "lenet5", "--weights", str(tmp_path / "w.weights.h5")])
    assert "pass a run folder, --recipe" in capsys.readouterr().err


def test_shipped_lenet5_mnist_weights_are_accurate():
    """The bundled float16 LeNet-5 weights, on the 500 real test digits of the sample."""
    import zoo
    from training.data import load_source
    from training.recipes import load_recipe

    from training.evaluate import predict_source

    model = zoo.load("lenet5", weights="mnist")
    source = load_source("mnist", "test", ROOT / "training" / "data" / "samples" / "mnist")
    report = classification_report(source.labels,
                                   predict_source(model, source, load_recipe("lenet5_mnist")))
    assert report["acc@1"] >= 0.98  # 99.16 % on the full test set
    record = zoo.describe("lenet5")["weights"]["mnist"]
    assert record["metrics"]["mnist"]["acc@1"] == pytest.approx(0.9916)


def test_raw_pixel_and_random_baselines_of_a_face_recipe(tmp_path, capsys):
    """``--baseline pixels`` scores the recipe's prepared images themselves: the same figures
    as embedding_metrics on the flattened arrays; without weights the network is random."""
    from tests.training.conftest import FIXTURES
    from training.recipes import load_recipe
    from training.tasks import metric as ML

    data_dir = str(FIXTURES / "att_faces")
    sets = ["--set", "train_identities=4", "--set", "val_fraction=0.5"]
    report = main(["--recipe", "att_faces_facenet", "--baseline", "pixels", "--data-dir",
                   data_dir, "--out", str(tmp_path / "pixels"), *sets])
    data = ML.load_arrays(load_recipe("att_faces_facenet").replace(
        data_dir=data_dir, train_identities=4, val_fraction=0.5))
    flat = {k: v[0].reshape(len(v[0]), -1) for k, v in data.items()}
    val = ML.embedding_metrics(flat["val"], data["val"][1])
    want = ML.embedding_metrics(flat["test"], data["test"][1], threshold=val["best_threshold"],
                                balanced_threshold=val["balanced_threshold"])
    for key in ("roc_auc", "verification_acc", "balanced_acc", "precision_at_1", "map_at_r"):
        assert report[key] == pytest.approx(want[key], abs=1e-6), key
    assert report["weights"] == "none (raw pixels)"
    random = main(["--recipe", "att_faces_facenet", "--data-dir", data_dir,
                   "--out", str(tmp_path / "random"), *sets])
    assert random["pairs"] == 15 and random["weights"] == "none (random initialisation)"
    assert random["balanced_threshold"] != report["balanced_threshold"]   # another embedding
    again = main(["--recipe", "att_faces_facenet", "--data-dir", data_dir,
                  "--out", str(tmp_path / "again"), *sets])
    assert again["balanced_threshold"] == random["balanced_threshold"]   # the recipe's seed
    capsys.readouterr()
    for bad in (["--recipe", "lenet5_mnist", "--baseline", "pixels"],
                ["--recipe", "att_faces_facenet", "--baseline", "pixels", "--model", "facenet"]):
        with pytest.raises(SystemExit):
            main([*bad, "--data-dir", data_dir])
        assert "--baseline pixels" in capsys.readouterr().err
