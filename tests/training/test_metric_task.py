"""The metric-learning task on tiny real fixtures: samplers, the three objectives, evaluation."""

import json

import keras
import numpy as np
import pytest

import zoo
from tests.training.conftest import FIXTURES
from training.data.metric import pair_indices, pk_indices
from training.recipes import Recipe, load_recipe
from training.tasks import metric as ML
from training.tasks.metric import MetricTask
from training.train import train


def test_pair_indices_are_balanced_and_labelled_right():
    labels = np.repeat(np.arange(5), [2, 3, 4, 5, 1])  # identity 4 has a single image
    pairs, same = pair_indices(labels, 2000, seed=0)
    assert pairs.shape == (2000, 2) and same.shape == (2000,)
    np.testing.assert_array_equal(labels[pairs[:, 0]] == labels[pairs[:, 1]], same == 1)
    assert np.all(pairs[:, 0] != pairs[:, 1])
    assert 0.45 < same.mean() < 0.55
    assert np.array_equal(pair_indices(labels, 50, seed=3)[0], pair_indices(labels, 50, seed=3)[0])
    with pytest.raises(ValueError, match="two identities"):
        pair_indices(np.zeros(5), 10)
    with pytest.raises(ValueError, match="positive_fraction"):
        pair_indices(labels, 10, positive_fraction=1.5)


def test_pk_batches_sequence_has_p_identities_k_each():
    y = np.repeat(np.arange(10), 4)
    x = np.arange(40, dtype="float32").reshape(40, 1, 1, 1)
    batches = ML.PKBatches(x, y, p=3, k=4, steps=5, seed=0)
    first = [batches[i][1] for i in range(len(batches))]
    for labels in first:
        ids, counts = np.unique(labels, return_counts=True)
        assert len(ids) == 3 and np.all(counts == 4)
    batches.on_epoch_end()  # a new epoch draws new batches
    assert any(not np.array_equal(a, batches[i][1]) for i, a in enumerate(first))


def test_identity_split_never_shares_a_person():
    recipe = load_recipe("att_faces_siamese").replace(data_dir=str(FIXTURES / "att_faces"),
                                                     train_identities=4, val_fraction=0.5)
    data = ML.load_arrays(recipe)
    ids = {k: set(np.unique(v[1])) for k, v in data.items()}
    assert ids == {"train": {0, 1}, "val": {2, 3}, "test": {4, 5}}
    # float32 in [0, 1], the models' "unit" preprocessing (what zoo.embeddings.verify feeds)
    assert data["train"][0].shape == (6, 112, 92, 1) and data["train"][0].dtype == "float32"
    assert 0.0 <= data["train"][0].min() and 0.5 < data["train"][0].max() <= 1.0
    with pytest.raises(ValueError, match="train_identities"):
        ML.load_arrays(recipe.replace(train_identities=5))


def test_embedding_metrics_on_a_hand_made_set():
    e = np.array([[0, 0], [0, 0.1], [5, 5], [5, 5.1]], dtype="float32")
    y = np.array([0, 0, 1, 1])
    m = ML.embedding_metrics(e, y, threshold=1.0)
    assert m["precision_at_1"] == 1.0 and m["map_at_r"] == 1.0 and m["roc_auc"] == 1.0
    assert m["verification_acc"] == 1.0 and m["pairs"] == 6 and m["same_pairs"] == 2
    # the balanced threshold accepts both same pairs (0.1) and no different pair (>= 7)
    assert 0.1 <= m["balanced_threshold"] < 7.0
    again = ML.embedding_metrics(e, y, balanced_threshold=0.05)  # accepts no pair
    assert again["balanced_acc"] == 0.5 and again["balanced_threshold"] == 0.05
    swapped = ML.embedding_metrics(e, np.array([0, 1, 0, 1]), threshold=1.0)
    # same pairs at ~7.07; different ones at 0.1, 0.1, 7.0 and 7.14: 2 of 8 orderings right
    assert swapped["precision_at_1"] == 0.0 and swapped["roc_auc"] == pytest.approx(0.25)


def _mean(values):
    return float(np.mean(values))


def test_triplet_training_lowers_the_loss_on_real_digits(mnist_dir):
    from training.data import load_source

    x, y = load_source("mnist", "train", mnist_dir).arrays()
    x = x.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    keras.utils.set_random_seed(0)
    model = zoo.build("facenet", backbone="lenetpp", backbone_args={"width": 0.25},
                      embedding_dim=16)
    model.compile(keras.optimizers.Adam(3e-3),
                  loss=zoo.losses.TripletLoss(margin=0.2, mining="batch_all"))
    idx = pk_indices(y, 5, 4, 40, seed=0)
    losses = [float(model.train_on_batch(x[b], y[b])) for b in idx]
    assert np.all(np.isfinite(losses))
    assert _mean(losses[-8:]) < 0.7 * _mean(losses[:8]), losses


@pytest.mark.parametrize("objective,extra", [
    ("center", {"loss_args": {"weight": 0.1, "alpha": 0.5}, "builder_args":
                {"embedding_dim": 2, "width": 0.25}, "model": "lenetpp"}),
    ("triplet", {"loss_args": {"margin": 0.2, "mining": "batch_hard"}, "pk": (5, 4),
                 "mining_warmup": 1, "model": "facenet",
                 "builder_args": {"backbone": "lenetpp", "backbone_args": {"width": 0.25},
                                  "embedding_dim": 8}}),
    ("contrastive", {"loss_args": {"margin": 1.0}, "model": "facenet",
                     "builder_args": {"backbone": "lenetpp", "backbone_args": {"width": 0.25},
                                      "embedding_dim": 8}}),
])
def test_each_objective_runs_end_to_end(tmp_path, mnist_dir, objective, extra):
    recipe = Recipe(name=f"tiny_{objective}", dataset="mnist", data_dir=str(mnist_dir),
                    objective=objective, image_size=(28, 28), channels=1, fit="none",
                    val_fraction=0.5, batch_size=8, epochs=2, optimizer="adam", lr=1e-3,
                    **extra)
    summary = train(recipe, tmp_path, verbose=0, tensorboard=False)
    assert summary["epochs_run"] == 2
    for split in ("val", "test"):
        for key in ("precision_at_1", "map_at_r", "roc_auc", "verification_acc_best"):
            assert 0.0 <= summary[split][key] <= 1.0, (split, key)
    assert "verification_acc" in summary["test"]  # at the validation threshold
    if objective == "center":
        assert 0.0 <= summary["test"]["acc@1"] <= 1.0
    metrics = json.loads((tmp_path / "eval" / "test" / "metrics.json").read_text())
    assert {k: metrics[k] for k in summary["test"]} == summary["test"]
    from training.publish import read_metrics_json

    numbers, context = read_metrics_json(tmp_path / "eval" / "test" / "metrics.json")
    assert context == {"model": recipe.model, "dataset": "mnist", "split": "test"}
    assert numbers["roc_auc"] == summary["test"]["roc_auc"] and "pairs" not in numbers
    # what ships is the embedding network: it loads into zoo.build of model.json, and
    # measuring the run folder again gives the same figures
    config = json.loads((tmp_path / "model.json").read_text())
    model = zoo.build(config["model"], **config["builder_args"])
    model.load_weights(tmp_path / "best.weights.h5")
    from training.evaluate import main

    again = main([str(tmp_path)])
    for key in ("precision_at_1", "map_at_r", "roc_auc", "balanced_acc"):
        assert again[key] == pytest.approx(summary["test"][key], abs=1e-6), key


def test_faces_contrastive_run_and_scatter_figure(tmp_path):
    recipe = load_recipe("att_faces_siamese").replace(
        data_dir=str(FIXTURES / "att_faces"), train_identities=4, val_fraction=0.5, epochs=1,
        batch_size=4, builder_args={"filters": [8, 8, 8], "units": 16, "embedding_dim": 8},
        augment=[])
    summary = train(recipe, tmp_path / "faces", verbose=0, tensorboard=False)
    assert summary["test"]["pairs"] == 15 and summary["test"]["same_pairs"] == 6
    # the recipe selects on the validation people's ROC AUC, logged every epoch
    assert recipe.monitor == "val_roc_auc"
    header = (tmp_path / "faces" / "log.csv").read_text().splitlines()[0].split(",")
    assert {"val_roc_auc", "val_map_at_r", "val_precision_at_1"} <= set(header)
    from PIL import Image  # curves.png: the loss and the monitored ROC AUC, side by side

    assert Image.open(tmp_path / "faces" / "curves.png").size[0] == 2 * 5 * 110
    rng = np.random.default_rng(0)
    panels = [(f"run {i}", rng.normal(size=(50, 2)), rng.integers(0, 10, 50)) for i in range(2)]
    path = ML.plot_embeddings_2d(panels, tmp_path / "fig.png")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="2-D"):
        ML.plot_embeddings_2d([("x", rng.normal(size=(5, 3)), np.zeros(5))], tmp_path / "f.png")


def test_cli_rejects_bad_options(capsys):
    from training.train import main

    with pytest.raises(SystemExit) as stop:
        main(["mnist_center", "--sweep-figure", "x.png"])
    assert stop.value.code == 2 and "--sweep-figure needs --sweep" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["mnist_center", "--set", "loss_args.weight"])
    assert "--set expects FIELD=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["no_such_recipe"])
    assert "Unknown recipe 'no_such_recipe'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="objective"):
        Recipe(name="x", model="lenetpp", dataset="mnist", objective="arcface")
    with pytest.raises(ValueError, match="triplet objective needs pk"):
        MetricTask(Recipe(name="x", model="facenet", dataset="mnist", objective="triplet")
                   ).prepare()


def test_training_train_runs_metric_recipes_with_a_sweep(tmp_path, mnist_dir, capsys):
    from training.train import main

    summary = main(["mnist_center", "--data-dir", str(mnist_dir), "--epochs", "1",
                    "--set", "val_fraction=0.5", "--set", "batch_size=8",
                    "--out", str(tmp_path / "one"), "--verbose", "0"])
    assert summary["task"] == "metric" and summary["epochs_run"] == 1
    assert "mnist_center: 1 epochs" in capsys.readouterr().out
    swept = main(["mnist_center", "--data-dir", str(mnist_dir), "--epochs", "1",
                  "--set", "val_fraction=0.5", "--set", "batch_size=8",
                  "--sweep", "loss_args.weight=0,0.1", "--sweep-figure",
                  str(tmp_path / "sweep.png"), "--out", str(tmp_path / "sweep"),
                  "--verbose", "0"])
    assert set(swept["runs"]) == {"0", "0.1"} and (tmp_path / "sweep.png").stat().st_size > 1000
    assert (tmp_path / "sweep" / "mnist_center_weight0.1" / "best.weights.h5").exists()


def test_faces_facenet_recipe_end_to_end(tmp_path, monkeypatch):
    """The shipped face recipe on the fixture faces: train (a softmax over the training
    people on a training-only head), evaluate, publish, then zoo.load and verify, as a user
    would."""
    from training import publish as P
    from training.evaluate import main as evaluate
    from zoo import weights as W

    recipe = load_recipe("att_faces_facenet").replace(
        data_dir=str(FIXTURES / "att_faces"), train_identities=4, val_fraction=0.5, epochs=2,
        batch_size=4, steps_per_epoch=3)
    out = tmp_path / "run"
    summary = train(recipe, out, verbose=0, tensorboard=False)
    assert summary["epochs_run"] == 2 and summary["test"]["pairs"] == 15
    # the validation people have no class: the run monitors their ROC AUC, not a loss
    header = (out / "log.csv").read_text().splitlines()[0].split(",")
    assert "val_roc_auc" in header and "val_loss" not in header
    # what ships is the embedding alone: 64-d, unit norm, no classifier head
    config = json.loads((out / "model.json").read_text())
    assert config["builder_args"]["batch_norm"] is True
    model = zoo.build(config["model"], **config["builder_args"])
    model.load_weights(out / "best.weights.h5")
    assert model.output_shape == (None, 64) and model.input_shape == (None, 56, 46, 1)
    assert not any("classifier" in layer.name for layer in model.layers)
    again = evaluate([str(out)])
    assert again["roc_auc"] == pytest.approx(summary["test"]["roc_auc"], abs=1e-6)

    manifest = tmp_path / "manifest.json"
    monkeypatch.setenv("ZOO_MANIFEST", str(manifest))
    P.main(["--run", str(out), "--tag", "faces_e2e", "--out", str(tmp_path / "weights"),
            "--manifest", str(manifest), "--license", "CC0-1.0"])
    W._records.cache_clear()
    loaded = zoo.load("facenet", weights="faces_e2e")
    face = FIXTURES / "att_faces"
    result = zoo.embeddings.verify(loaded, face / "s5" / "1.pgm", face / "s5" / "2.pgm")
    assert 0.0 <= result.distance <= 2.0 and isinstance(result.same, bool)
    assert result.threshold == pytest.approx(W.get_weight_spec("facenet", "faces_e2e")
                                                .metrics["att_faces"]["balanced_threshold"])


def test_center_loss_model_heads(tmp_path):
    embedding = zoo.build("facenet", backbone="lenetpp", backbone_args={"width": 0.25},
                          input_shape=(28, 28, 1), embedding_dim=8, batch_norm=True)
    x, labels = np.random.default_rng(0).random((2, 28, 28, 1), "float32"), np.zeros(2, "int32")
    # default: a softmax on the feature before the L2 normalisation (the BN output)
    linear = ML.center_loss_model(embedding, 5, weight=0.0)
    assert linear.output_shape == (None, 5) and linear.layers[-1].name == "linear_classifier"
    feature = keras.Model(embedding.input, embedding.get_layer("embedding_bn").output)
    head = linear.layers[-1]
    want = keras.ops.convert_to_numpy(head(feature(x)))
    got = keras.ops.convert_to_numpy(linear.predict([x, labels], verbose=0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    cosine = ML.center_loss_model(embedding, 5, weight=0.0, classifier="cosine")
    logits = keras.ops.convert_to_numpy(cosine.predict([x, labels], verbose=0))
    assert np.all(np.abs(logits) <= 16.0 + 1e-4)    # scale * cosine of the unit embedding
    assert isinstance(cosine.layers[-1], zoo.layers.CosineClassifier)
    with pytest.raises(ValueError, match="'linear' or 'cosine'"):
        ML.center_loss_model(embedding, 5, weight=0.0, classifier="arcface")
    lenet = zoo.build("lenetpp", classes=5, classifier_activation=None, width=0.25)
    with pytest.raises(ValueError, match="own 'predictions'"):
        ML.center_loss_model(lenet, 5, weight=0.1, classifier="cosine")
    with pytest.raises(ValueError, match="no validation loss"):
        MetricTask(load_recipe("att_faces_facenet").replace(
            data_dir=str(FIXTURES / "att_faces"), monitor="val_loss")).prepare()
