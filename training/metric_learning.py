"""Metric-learning runs: center loss, triplet loss and contrastive loss recipes.

``python -m training.metric_learning mnist_center_0.01`` (or ``python -m training.train`` with
the same recipe name) trains the recipe's embedding network with its objective, then measures
the embedding on the held-out split:

* retrieval: Precision@1, Recall@k and MAP@R over the test images (Musgrave et al. 2020);
* verification: every pair of test images, same identity or not: ROC AUC, TAR@FAR, accuracy
  at the threshold chosen on the validation identities, and at the best threshold (optimistic,
  reported as the LFW protocol does).

Everything runs on NumPy arrays and a `keras.utils.PyDataset`, so the same code trains on the
TensorFlow, JAX (the GPU machine) and PyTorch backends.

Objectives (the recipe's ``objective``):

* ``center``: the model's softmax classifier plus ``lambda * L_C`` from a `zoo.losses.CenterLoss`
  layer on the ``"embedding"`` feature (``lambda = 0``: softmax alone);
* ``triplet``: `zoo.losses.TripletLoss` on P x K batches (`training.data.metric.pk_indices`),
  with the active-triplet fraction as a metric;
* ``contrastive``: `zoo.losses.ContrastiveLoss` on a `zoo.models.metric.siamese_pair` of the
  model, fed balanced same / different pairs.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

import zoo
from training.data import load_source
from training.data.arrays import prepare_arrays
from training.data.metric import pk_indices, pair_indices
from training.data.splits import split_indices
from training.recipes import Recipe, load_recipe
from zoo import metrics as M
from zoo.losses import ActiveTripletFraction, CenterLoss, ContrastiveLoss, TripletLoss
from zoo.metric import embedding_model
from zoo.models.metric import siamese_pair

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------

class _Augmented(keras.utils.PyDataset):
    def __init__(self, augment=None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.augment, self.rng, self.epoch = augment, np.random.default_rng(seed), 0

    def _aug(self, x):
        return np.asarray(keras.ops.convert_to_numpy(self.augment(x))) if self.augment else x

    def on_epoch_end(self):
        self.epoch += 1


class PKBatches(_Augmented):
    """P x K batches ``(images, identities)`` drawn afresh each epoch (Hermans et al. 2017)."""

    def __init__(self, x, y, p: int, k: int, steps: int, seed: int = 0, augment=None, **kwargs):
        super().__init__(augment, seed, **kwargs)
        self.x, self.y, self.p, self.k, self.steps, self.seed = x, y, p, k, steps, seed
        self._draw()

    def _draw(self):
        self.index = pk_indices(self.y, self.p, self.k, self.steps, seed=self.seed + self.epoch)

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        idx = self.index[i]
        return self._aug(self.x[idx]), self.y[idx].astype("int32")

    def on_epoch_end(self):
        super().on_epoch_end()
        self._draw()


class PairBatches(_Augmented):
    """Batches ``((images_a, images_b), same)`` of balanced same / different pairs."""

    def __init__(self, x, y, batch_size: int, steps: int, seed: int = 0, augment=None, **kwargs):
        super().__init__(augment, seed, **kwargs)
        self.x, self.y, self.batch_size, self.steps, self.seed = x, y, batch_size, steps, seed
        self._draw()

    def _draw(self):
        self.pairs, self.same = pair_indices(self.y, self.batch_size * self.steps,
                                             seed=self.seed + self.epoch)

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        a, b = self.pairs[s, 0], self.pairs[s, 1]
        return (self._aug(self.x[a]), self._aug(self.x[b])), self.same[s].astype("float32")

    def on_epoch_end(self):
        super().on_epoch_end()
        self._draw()


class ShuffledBatches(_Augmented):
    """Shuffled ``((images, labels), labels)`` batches: center loss needs the labels as input."""

    def __init__(self, x, y, batch_size: int, seed: int = 0, augment=None, **kwargs):
        super().__init__(augment, seed, **kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, i):
        idx = np.sort(self.order[i * self.batch_size:(i + 1) * self.batch_size])
        y = self.y[idx].astype("int32")
        return (self._aug(self.x[idx]), y), y

    def on_epoch_end(self):
        super().on_epoch_end()
        self.order = self.rng.permutation(len(self.x))


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def load_arrays(recipe: Recipe) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train", "val", "test"}`` -> ``(images float32 0-1, labels)``.

    With ``train_identities`` (faces) the identities are split, never the images: the first
    ``train_identities`` identities (the last ``val_fraction`` of them validate) and the rest
    for the test; otherwise the dataset's own train / test split, with a stratified seeded
    validation share of the training split.
    """
    def prepared(source):
        x, y = source.arrays()
        return prepare_arrays(x, image_size=recipe.image_size, channels=recipe.channels,
                              fit=recipe.fit), np.asarray(y)  # float32 in [0, 1]

    if recipe.train_identities:
        x, y = prepared(load_source(recipe.dataset, "train", recipe.data_dir))
        ids = np.unique(y)
        if not 2 < recipe.train_identities < len(ids) - 1:
            raise ValueError(f"`train_identities` must leave at least two identities on each "
                             f"side; the data has {len(ids)}. Received: "
                             f"{recipe.train_identities}")
        n_val = max(2, round(recipe.val_fraction * recipe.train_identities))
        train_ids = ids[:recipe.train_identities - n_val]
        val_ids = ids[recipe.train_identities - n_val:recipe.train_identities]
        test_ids = ids[recipe.train_identities:]
        pick = {name: np.isin(y, group) for name, group in
                (("train", train_ids), ("val", val_ids), ("test", test_ids))}
        return {name: (x[mask], y[mask]) for name, mask in pick.items()}
    train_src = load_source(recipe.dataset, "train", recipe.data_dir)
    if recipe.limit and recipe.limit < len(train_src):
        keep = split_indices(train_src.labels, (recipe.limit / len(train_src),
                                                1 - recipe.limit / len(train_src)),
                             seed=recipe.seed)[0]
        train_src = train_src.subset(keep)
    x, y = prepared(train_src)
    tr, va = split_indices(y, (1 - recipe.val_fraction, recipe.val_fraction), seed=recipe.seed)
    test = prepared(load_source(recipe.dataset, "test", recipe.data_dir))
    if recipe.limit:
        t = split_indices(test[1], (min(1.0, recipe.limit / len(test[1])),
                                    max(0.0, 1 - recipe.limit / len(test[1]))),
                          seed=recipe.seed)[0] if recipe.limit < len(test[1]) else slice(None)
        test = (test[0][t], test[1][t])
    return {"train": (x[tr], y[tr]), "val": (x[va], y[va]), "test": test}


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

def center_loss_model(model: keras.Model, num_classes: int, weight: float,
                      alpha: float = 0.5) -> keras.Model:
    """``[images, labels] -> class logits`` with `CenterLoss` on the ``"embedding"`` feature.

    Shares every layer with ``model`` (a classifier with an ``"embedding"`` layer, such as
    ``lenetpp(classes=10)``), so training this trains ``model``. Its losses are softmax
    cross-entropy (compiled) + ``weight * L_C`` (added by the layer).
    """
    features_net = embedding_model(model)
    head = model.get_layer("predictions")
    image = keras.Input(tuple(model.input_shape[1:]), name="image")
    label = keras.Input((), dtype="int32", name="label")
    center = CenterLoss(num_classes, weight=weight, alpha=alpha, name="center_loss")
    features = center([features_net(image), label])
    return keras.Model([image, label], head(features), name=f"{model.name}_center")


def build(recipe: Recipe, num_classes: int) -> keras.Model:
    args = dict(recipe.builder_args)
    args.setdefault("input_shape", (*recipe.image_size, recipe.channels))
    if recipe.objective == "center":
        args.update(classes=num_classes, classifier_activation=None)
    return zoo.build(recipe.model, **args)


def optimizer(recipe: Recipe, steps: int) -> keras.optimizers.Optimizer:
    from training.train import make_optimizer

    return make_optimizer(recipe, steps)


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------

def all_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every unordered pair ``(i < j)`` of a set and whether it is the same identity."""
    i, j = np.triu_indices(len(labels), k=1)
    return i, j, (labels[i] == labels[j]).astype("int8")


def embedding_metrics(embeddings: np.ndarray, labels: np.ndarray,
                      threshold: float | None = None, distance: str = "l2",
                      max_pairs: int = 2_000_000,
                      balanced_threshold: float | None = None) -> dict[str, float]:
    """Retrieval and verification figures of one set of embeddings.

    Verification uses every pair of the set (or a seeded sample of ``max_pairs``); the
    accuracy is given at ``threshold`` (chosen elsewhere) and at the best threshold, and the
    balanced accuracy (mean of the same-pair and different-pair accuracies) at
    ``balanced_threshold``. ``balanced_threshold`` in the result is this set's threshold of
    best balanced accuracy (Youden's J = TAR - FAR): with far more different pairs than same
    ones, the best-accuracy threshold mostly says "different"; the balanced one weighs both
    errors equally, the operating point `zoo.metric.verify` uses.
    """
    out = {"precision_at_1": M.precision_at_1(embeddings, labels, metric=distance),
           "map_at_r": M.map_at_r(embeddings, labels, metric=distance)}
    out.update({f"recall_at_{k}": v for k, v in
                M.recall_at_k(embeddings, labels, k=[k for k in (1, 5) if k < len(labels)],
                              metric=distance).items()})
    i, j, same = all_pairs(labels)
    if len(i) > max_pairs:
        keep = np.random.default_rng(0).choice(len(i), max_pairs, replace=False)
        i, j, same = i[keep], j[keep], same[keep]
    e = embeddings.astype("float64")
    d = np.sqrt(np.maximum(np.sum((e[i] - e[j]) ** 2, axis=1), 0.0)) if distance == "l2" \
        else M.pairwise_distances(e, metric=distance)[i, j]
    out["roc_auc"] = M.roc_auc(d, same)
    out["verification_acc_best"], out["best_threshold"] = M.verification_accuracy(d, same)
    out["tar_at_far_1e-3"] = M.tar_at_far(d, same, far=1e-3)[0]
    far, tar, thresholds = M.roc_curve(d, same)
    best = int(np.argmax(tar - far))
    out["balanced_threshold"] = float(thresholds[best]) if np.isfinite(thresholds[best]) \
        else float(np.median(d))
    if balanced_threshold is not None:
        accept = d <= balanced_threshold
        out["balanced_acc"] = 0.5 * (float(np.mean(accept[same == 1]))
                                     + float(np.mean(~accept[same == 0])))
        out["balanced_threshold"] = float(balanced_threshold)
    if threshold is not None:
        out["verification_acc"] = M.verification_accuracy(d, same, threshold)[0]
        out["threshold"] = float(threshold)
    out["pairs"], out["same_pairs"] = int(len(same)), int(same.sum())
    return {k: (round(float(v), 6) if isinstance(v, float) else v) for k, v in out.items()}


def embed_arrays(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(
        embedding_model(model).predict(x, batch_size=batch_size, verbose=0)))


EMBEDDING_MONITORS = ("val_roc_auc", "val_map_at_r", "val_precision_at_1")


class EmbeddingValidation(keras.callbacks.Callback):
    """Adds ``val_roc_auc``, ``val_map_at_r`` and ``val_precision_at_1`` of the validation
    embeddings to each epoch's logs (list it before the logger and the checkpoint): a pair or
    triplet loss on validation batches is a noisy proxy for what the embedding is used for.
    """

    def __init__(self, embedding: keras.Model, x: np.ndarray, y: np.ndarray,
                 distance: str = "l2", max_pairs: int = 200_000):
        super().__init__()
        self.embedding, self.x, self.y = embedding, x, y
        self.distance, self.max_pairs = distance, max_pairs

    def on_epoch_end(self, epoch, logs=None):
        found = embedding_metrics(embed_arrays(self.embedding, self.x), self.y,
                                  distance=self.distance, max_pairs=self.max_pairs)
        if logs is not None:
            for key in ("roc_auc", "map_at_r", "precision_at_1"):
                logs[f"val_{key}"] = found[key]


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def train(recipe: Recipe, out: str | Path, verbose: int | str = "auto") -> dict[str, Any]:
    """Trains a metric-learning recipe; returns the summary (also ``out/summary.json``)."""
    if recipe.objective == "softmax":
        raise ValueError(f"Recipe {recipe.name!r} is a classification recipe; run it with "
                         "python -m training.train.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2) + "\n")
    keras.utils.set_random_seed(recipe.seed)
    data = load_arrays(recipe)
    (x, y), (xv, yv) = data["train"], data["val"]
    num_classes = int(max(y.max(), yv.max(), data["test"][1].max())) + 1
    augment = None
    if recipe.augment:
        from training.augment import build_augmenter

        augmenter = build_augmenter(recipe.augment, recipe.image_size, seed=recipe.seed)

        def augment(images):
            return augmenter(images, training=True)

    model = build(recipe, num_classes)
    distance = "l2"
    if recipe.objective == "center":
        args = {"weight": 0.0, "alpha": 0.5, **recipe.loss_args}
        trainer = center_loss_model(model, num_classes, **args)
        batches = ShuffledBatches(x, y, recipe.batch_size, seed=recipe.seed, augment=augment)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        val_data = ((xv, yv.astype("int32")), yv.astype("int32"))
    elif recipe.objective == "triplet":
        if not recipe.pk:
            raise ValueError(f"Recipe {recipe.name!r}: the triplet objective needs pk=(P, K).")
        p, k = recipe.pk
        trainer = model
        steps = recipe.steps_per_epoch or max(1, len(x) // (p * k))
        batches = PKBatches(x, y, p, k, steps=steps, seed=recipe.seed, augment=augment)
        loss = TripletLoss(**recipe.loss_args)
        distance = "cosine" if loss.distance == "cosine" else "l2"
        metrics = [ActiveTripletFraction(loss)]
        val_pk = pk_indices(yv, min(p, len(np.unique(yv))), k, max(1, len(xv) // (p * k)),
                            seed=recipe.seed).reshape(-1)
        val_data = (xv[val_pk], yv[val_pk].astype("int32"))
    else:  # contrastive
        trainer = siamese_pair(model, distance="l2")
        # one epoch ~ every image once, unless the recipe says otherwise
        steps = recipe.steps_per_epoch or max(1, len(x) // (2 * recipe.batch_size))
        batches = PairBatches(x, y, recipe.batch_size, steps, seed=recipe.seed, augment=augment)
        loss = ContrastiveLoss(**recipe.loss_args)
        metrics = []
        pairs, same = pair_indices(yv, min(4096, 10 * len(yv)), seed=recipe.seed + 1)
        val_data = ((xv[pairs[:, 0]], xv[pairs[:, 1]]), same.astype("float32"))

    log = str(out / "log.csv")
    monitor, mode, scoring = "val_loss", "min", []
    if recipe.monitor in EMBEDDING_MONITORS:  # select on what the embedding is for
        monitor, mode = recipe.monitor, "max"
        scoring = [EmbeddingValidation(model, xv, yv, distance)]
    checkpoint = keras.callbacks.ModelCheckpoint(str(out / "best.weights.h5"), monitor=monitor,
                                                 mode=mode, save_best_only=True,
                                                 save_weights_only=True)
    stopping = [keras.callbacks.EarlyStopping(monitor, mode=mode, patience=recipe.early_stopping,
                                              restore_best_weights=True)] \
        if recipe.early_stopping else []
    start, first = time.perf_counter(), 0
    if recipe.objective == "triplet" and recipe.mining_warmup:
        # batch_all first (another loss: logged, not checkpointed), then the recipe's mining
        first = min(recipe.mining_warmup, recipe.epochs - 1)
        warm = TripletLoss(**{**recipe.loss_args, "mining": "batch_all"})
        trainer.compile(optimizer=optimizer(recipe.replace(epochs=first, schedule="constant"),
                                            len(batches)),
                        loss=warm, metrics=[ActiveTripletFraction(warm)])
        trainer.fit(batches, epochs=first, validation_data=val_data,
                    callbacks=[keras.callbacks.CSVLogger(log)], verbose=verbose)
    trainer.compile(optimizer=optimizer(recipe.replace(epochs=recipe.epochs - first),
                                        len(batches)), loss=loss, metrics=metrics)
    trainer.fit(batches, epochs=recipe.epochs, initial_epoch=first, validation_data=val_data,
                callbacks=[*scoring, keras.callbacks.CSVLogger(log, append=first > 0),
                           checkpoint, *stopping], verbose=verbose)
    seconds = time.perf_counter() - start
    trainer.load_weights(out / "best.weights.h5")
    model.save_weights(out / "model.weights.h5")  # the embedding network (what ships)

    val_metrics, test_metrics = evaluate(recipe, model, data, out)

    from training.plots import plot_history
    from training.train import read_log

    history = read_log(out / "log.csv")
    if history:
        plot_history(history, out / "curves.png", title=f"{recipe.name}: {recipe.model}")
    summary = {"recipe": recipe.name, "model": recipe.model, "objective": recipe.objective,
               "dataset": recipe.dataset, "epochs_run": len(next(iter(history.values()), [])),
               "seconds": round(seconds, 1), "backend": keras.backend.backend(),
               "params": model.count_params(), "val": val_metrics, "test": test_metrics,
               "weights": str(out / "model.weights.h5")}
    write_summary(recipe, out, summary)
    return summary


def evaluate(recipe: Recipe, model: keras.Model, data: dict, out: Path
             ) -> tuple[dict[str, float], dict[str, float]]:
    """Validation and test figures of a trained embedding network; thresholds are chosen on
    the validation split and applied to the test split. Saves the test embeddings."""
    distance = "cosine" if recipe.loss_args.get("distance") == "cosine" else "l2"
    (xv, yv), (xt, yt) = data["val"], data["test"]
    val = embedding_metrics(embed_arrays(model, xv), yv, distance=distance)
    e_test = embed_arrays(model, xt)
    test = embedding_metrics(e_test, yt, threshold=val["best_threshold"], distance=distance,
                             balanced_threshold=val["balanced_threshold"])
    if recipe.objective == "center":
        logits = np.asarray(keras.ops.convert_to_numpy(model.predict(xt, batch_size=256,
                                                                     verbose=0)))
        test["acc@1"] = round(float(np.mean(logits.argmax(-1) == yt)), 6)
    test["n"] = int(len(yt))
    np.savez_compressed(out / "test_embeddings.npz", embeddings=e_test, labels=yt)
    return val, test


def write_summary(recipe: Recipe, out: Path, summary: dict[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    # the `training.publish --metrics-json` format: context strings + top-level numbers
    (out / "metrics.json").write_text(json.dumps(
        {"model": recipe.model, "dataset": recipe.dataset,
         "split": "test, unseen identities" if recipe.train_identities else "test",
         **summary["test"]}, indent=2) + "\n")


def evaluate_run(run_dir: str | Path) -> dict[str, Any]:
    """Measures a finished run again from its ``recipe.json`` and ``model.weights.h5``
    (after a change to the evaluation), rewriting ``summary.json`` and ``metrics.json``."""
    out = Path(run_dir)
    recipe = Recipe(**json.loads((out / "recipe.json").read_text()))
    data = load_arrays(recipe)
    num_classes = int(max(v[1].max() for v in data.values())) + 1
    model = build(recipe, num_classes)
    model.load_weights(out / "model.weights.h5")
    summary = json.loads((out / "summary.json").read_text()) \
        if (out / "summary.json").exists() else {"recipe": recipe.name, "model": recipe.model}
    summary["val"], summary["test"] = evaluate(recipe, model, data, out)
    write_summary(recipe, out, summary)
    return summary


def plot_embeddings_2d(panels: list[tuple[str, np.ndarray, np.ndarray]], path: str | Path,
                       max_points: int = 5000) -> Path:
    """Scatter plots of 2-D features coloured by class, one panel per run (Wen et al. Fig. 2).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (title, e, y) in zip(axes[0], panels):
        if e.shape[1] != 2:
            raise ValueError(f"{title}: features must be 2-D to plot. Received {e.shape}.")
        keep = rng.permutation(len(e))[:max_points]
        ax.scatter(e[keep, 0], e[keep, 1], c=y[keep], cmap="tab10", s=1.5, vmin=0, vmax=9,
                   rasterized=True)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    handles = [plt.Line2D([], [], ls="", marker="o", color=plt.cm.tab10(c), label=str(c))
               for c in range(10)]
    fig.legend(handles=handles, loc="lower center", ncol=10, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def sweep(recipe: Recipe, name: str, values: list[Any], out: Path, figure: str | None = None,
          verbose: int | str = "auto") -> dict[str, Any]:
    """One run per value of the loss argument ``name``; optionally the 2-D scatter figure."""
    runs, panels = {}, []
    for value in values:
        run = recipe.replace(name=f"{recipe.name}_{name}{value}",
                             loss_args={**recipe.loss_args, name: value})
        summary = train(run, out / run.name, verbose=verbose)
        runs[str(value)] = summary["test"]
        if figure:
            saved = np.load(out / run.name / "test_embeddings.npz")
            label = "softmax alone" if (name == "weight" and value == 0) \
                else f"{'lambda' if name == 'weight' else name} = {value}"
            acc = summary["test"].get("acc@1")
            panels.append((label + (f"\ntest acc {acc:.4f}" if acc is not None else ""),
                           saved["embeddings"], saved["labels"]))
    result = {"recipe": recipe.name, "parameter": name, "runs": runs}
    (out / f"{recipe.name}_sweep.json").write_text(json.dumps(result, indent=2) + "\n")
    if figure:
        result["figure"] = str(plot_embeddings_2d(panels, figure))
    return result


def summary_line(summary: dict[str, Any], out: str | Path) -> str:
    t = summary["test"]
    return (f"{summary['recipe']}: {summary['epochs_run']} epochs in {summary['seconds']:.0f} s; "
            f"test P@1 {t['precision_at_1']:.4f}, MAP@R {t['map_at_r']:.4f}, ROC AUC "
            f"{t['roc_auc']:.4f}, verification {t.get('verification_acc', math.nan):.4f} at the "
            f"validation threshold; outputs in {out}/")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m training.metric_learning",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", help="a recipe name (training/recipes/) or JSON file")
    parser.add_argument("--out", help="run folder (default runs/<recipe>)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--limit", type=int, help="use a stratified sample of N images")
    parser.add_argument("--data-dir")
    parser.add_argument("--loss-arg", action="append", default=[], metavar="NAME=VALUE",
                        help="override one of the recipe's loss arguments")
    parser.add_argument("--sweep", metavar="NAME=V1,V2,...",
                        help="one run per value of a loss argument (e.g. weight=0,0.01,0.1)")
    parser.add_argument("--figure", help="with --sweep: scatter plot of the 2-D test features")
    parser.add_argument("--verbose", type=int)
    parser.add_argument("--evaluate", action="store_true",
                        help="measure the finished run in --out (or runs/<recipe>) again")
    args = parser.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe)
        changes = {k: v for k, v in (("epochs", args.epochs), ("limit", args.limit),
                                     ("data_dir", args.data_dir)) if v is not None}
        loss_args = dict(recipe.loss_args)
        for item in args.loss_arg:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--loss-arg takes NAME=VALUE. Received: {item!r}")
            loss_args[key] = _value(value)
        recipe = recipe.replace(loss_args=loss_args, **changes)
        if args.sweep:
            key, sep, values = args.sweep.partition("=")
            if not sep or not values:
                raise ValueError(f"--sweep takes NAME=V1,V2,... Received: {args.sweep!r}")
            values = [_value(v) for v in values.split(",")]
        if args.figure and not args.sweep:
            raise ValueError("--figure needs --sweep (it draws one panel per run).")
    except (ValueError, TypeError, FileNotFoundError) as e:
        parser.error(str(e))
    verbose = "auto" if args.verbose is None else args.verbose
    out = Path(args.out or Path("runs") / recipe.name)
    if args.evaluate:
        summary = evaluate_run(out)
        print(summary_line(summary, out))
        return summary
    if args.sweep:
        result = sweep(recipe, key, values, out, args.figure, verbose)
        for value, t in result["runs"].items():
            print(f"{key}={value}: " + ", ".join(f"{m} {t[m]:.4f}" for m in
                                                 ("acc@1", "precision_at_1", "map_at_r")
                                                 if m in t))
        return result
    summary = train(recipe, out, verbose=verbose)
    print(summary_line(summary, out))
    return summary


if __name__ == "__main__":
    main()
