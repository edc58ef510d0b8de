"""Metric learning: center loss, triplet loss and contrastive loss recipes.

The task trains the recipe's embedding network with its objective, then measures the
embedding on the held-out split:

* retrieval: Precision@1, Recall@k and MAP@R over the test images (Musgrave et al. 2020);
* verification: every pair of test images, same identity or not: ROC AUC, TAR@FAR, accuracy
  at the threshold chosen on the validation identities, and at the best threshold (optimistic,
  reported as the LFW protocol does).

Everything runs on NumPy arrays and a `keras.utils.PyDataset`, so the same code trains on the
TensorFlow, JAX (the GPU machine) and PyTorch backends.

Objectives (the recipe's ``objective``):

* ``center``: the model's softmax classifier plus ``lambda * L_C`` from a `zoo.losses.CenterLoss`
  layer on the ``"embedding"`` feature (``lambda = 0``: softmax alone); an embedding network
  without a classifier (``facenet``) trains under a head of its own: a softmax on its feature
  before the L2 normalisation, or NormFace's cosine classifier (`center_loss_model`);
* ``triplet``: `zoo.losses.TripletLoss` on P x K batches (`training.data.metric.pk_indices`),
  with the active-triplet fraction as a metric; ``mining_warmup`` epochs of batch-all mining
  first (a phase of its own, not checkpointed: another loss);
* ``contrastive``: `zoo.losses.ContrastiveLoss` on a `zoo.models.metric.siamese_pair` of the
  model, fed balanced same / different pairs.

What ships (``best.weights.h5``) is the embedding network alone, not the pair / center-loss
wrapper that trains it.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training.data.metric import pk_indices, pair_indices
from training.engine import Phase, Setup
from training.tasks.base import Task, dataset_splits, write_metrics
from zoo.registry import get_entry

EMBEDDING_MONITORS = ("val_roc_auc", "val_map_at_r", "val_precision_at_1")


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
    """Shuffled ``((images, labels), labels)`` batches: center loss needs the labels as input.

    One epoch is every image once (``len(x) // batch_size`` batches), or ``steps`` batches
    from as many fresh permutations as they need (a small set such as 250 faces makes only 6
    batches of 40: too few for a useful epoch).
    """

    def __init__(self, x, y, batch_size: int, seed: int = 0, augment=None,
                 steps: int | None = None, **kwargs):
        super().__init__(augment, seed, **kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.steps = steps or max(1, len(x) // batch_size)
        self._draw()

    def _draw(self):
        per = max(1, len(self.x) // self.batch_size)      # whole batches per permutation
        rounds = -(-self.steps // per)
        self.order = np.concatenate([self.rng.permutation(len(self.x))[:per * self.batch_size]
                                     for _ in range(rounds)])

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        idx = np.sort(self.order[i * self.batch_size:(i + 1) * self.batch_size])
        y = self.y[idx].astype("int32")
        return (self._aug(self.x[idx]), y), y

    def on_epoch_end(self):
        super().on_epoch_end()
        self._draw()


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def load_arrays(recipe) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train", "val", "test"}`` -> ``(images float32 0-1, labels)``.

    With ``train_identities`` (faces) the identities are split, never the images: the first
    ``train_identities`` identities (the last ``val_fraction`` of them validate) and the rest
    for the test; otherwise the dataset's own train / test split, with a stratified seeded
    validation share of the training split.
    """
    from training.data.arrays import prepare_arrays
    from training.data.splits import split_indices

    load = dataset_splits(recipe).__getitem__

    def prepared(source):
        x, y = source.arrays()
        return prepare_arrays(x, image_size=recipe.image_size, channels=recipe.channels,
                              fit=recipe.fit), np.asarray(y)  # float32 in [0, 1]

    if recipe.train_identities:
        x, y = prepared(load("train"))
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
    train_src = load("train")
    if recipe.limit and recipe.limit < len(train_src):
        keep = split_indices(train_src.labels, (recipe.limit / len(train_src),
                                                1 - recipe.limit / len(train_src)),
                             seed=recipe.seed)[0]
        train_src = train_src.subset(keep)
    x, y = prepared(train_src)
    tr, va = split_indices(y, (1 - recipe.val_fraction, recipe.val_fraction), seed=recipe.seed)
    test = prepared(load("test"))
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
                      alpha: float = 0.5, classifier: str | None = None,
                      scale: float = 16.0) -> keras.Model:
    """``[images, labels] -> class logits`` with `CenterLoss` on the classifier's feature.

    Shares every layer with ``model``, so training this trains ``model``. Its losses are
    softmax cross-entropy (compiled) + ``weight * L_C`` (added by the layer).

    ``model`` is either a classifier with an ``"embedding"`` layer, such as
    ``lenetpp(classes=10)``, whose own ``"predictions"`` layer gives the logits
    (``classifier=None``), or an embedding network without a classifier, such as ``facenet``,
    on which a training-only head is put (what ships is the embedding alone):

    * ``"linear"`` (the default there): a ``Dense`` softmax classifier on the feature *before*
      the embedding's L2 normalisation (the course's softmax; verification then compares the
      normalised feature);
    * ``"cosine"``: NormFace's normalised softmax on the unit-norm embedding itself
      (`zoo.layers.CosineClassifier`, with ``scale``).
    """
    from zoo.embeddings import embedding_model
    from zoo.layers import CosineClassifier
    from zoo.losses import CenterLoss

    names = {layer.name for layer in model.layers}
    if classifier is None and "predictions" not in names:
        classifier = "linear"
    if classifier is not None and classifier not in ("cosine", "linear"):
        raise ValueError(f"center loss: `classifier` must be None (the model's own "
                         f"'predictions' layer), 'linear' or 'cosine'. Received: {classifier!r}")
    if classifier is not None and "predictions" in names:
        raise ValueError(f"center loss: {model.name} has its own 'predictions' classifier; "
                         f"leave `classifier` unset (received {classifier!r}) or build the "
                         f"model without one.")
    features_net = embedding_model(model)
    if classifier is None:
        head = model.get_layer("predictions")
    elif classifier == "cosine":
        head = CosineClassifier(num_classes, scale=scale, name="cosine_classifier")
    else:
        last = features_net.layers[-1]
        if isinstance(last, keras.layers.UnitNormalization):   # classify the raw feature
            features_net = keras.Model(features_net.inputs, last.input,
                                       name=f"{model.name}_features")
        head = keras.layers.Dense(num_classes, name="linear_classifier")
    image = keras.Input(tuple(model.input_shape[1:]), name="image")
    label = keras.Input((), dtype="int32", name="label")
    center = CenterLoss(num_classes, weight=weight, alpha=alpha, name="center_loss")
    features = center([features_net(image), label])
    return keras.Model([image, label], head(features), name=f"{model.name}_center")


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
    errors equally, the operating point `zoo.embeddings.verify` uses.
    """
    from zoo import metrics as M

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
    from zoo.embeddings import embedding_model

    return np.asarray(keras.ops.convert_to_numpy(
        embedding_model(model).predict(x, batch_size=batch_size, verbose=0)))


class EmbeddingValidation(keras.callbacks.Callback):
    """Adds ``val_roc_auc``, ``val_map_at_r`` and ``val_precision_at_1`` of the validation
    embeddings to each epoch's logs (it runs before the engine's checkpoint): a pair or
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


def _plane(e: np.ndarray) -> np.ndarray:
    """2-D embeddings as they are; wider ones on their first two principal axes."""
    if e.shape[1] <= 2:
        return e if e.shape[1] == 2 else np.concatenate([e, np.zeros_like(e)], 1)
    centred = e - e.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


# ---------------------------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------------------------

class MetricTask(Task):
    name = "metric"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        self.num_classes = None

    @property
    def distance(self) -> str:
        return "cosine" if self.recipe.loss_args.get("distance") == "cosine" else "l2"

    def _augment(self):
        r = self.recipe
        if not r.augment:
            return None
        from training.augment import build_augmenter

        augmenter = build_augmenter(r.augment, r.image_size, seed=r.seed)
        return lambda images: augmenter(images, training=True)

    def resolve_args(self, num_classes: int) -> dict[str, Any]:
        args = self.default_builder_args()
        if self.recipe.objective == "center" and self.recipe.loss_args.get("classifier") is None \
                and "classes" in inspect.signature(get_entry(self.recipe.model).builder).parameters:
            # the model's own classifier (lenetpp); an embedding network (facenet) gets the
            # training-only head of `center_loss_model` instead
            args.update(classes=num_classes, classifier_activation=None)
        return args

    def settle_args(self) -> None:
        self.prepare()

    def prepare(self) -> None:
        r = self.recipe
        if r.objective == "triplet" and not r.pk:
            raise ValueError(f"Recipe {r.name!r}: the triplet objective needs pk=(P, K).")
        if r.objective == "center" and r.train_identities and r.monitor not in EMBEDDING_MONITORS:
            raise ValueError(f"Recipe {r.name!r}: split by identity, the center objective has no "
                             f"validation loss (the validation people have no class); monitor "
                             f"one of {', '.join(EMBEDDING_MONITORS)}. Received: {r.monitor!r}")
        self.data = load_arrays(r)
        # split by identity, the classifier knows only the training people (0 .. n - 1); the
        # validation and test people are scored on their embeddings alone
        ys = [self.data["train"][1]] if r.train_identities else \
            [v[1] for v in self.data.values() if len(v[1])]
        self.num_classes = int(max(y.max() for y in ys)) + 1
        self.builder_args = self.resolve_args(self.num_classes)

    def monitor(self, setup: Setup) -> str:
        return self.recipe.monitor if self.recipe.monitor in EMBEDDING_MONITORS else "val_loss"

    def curve_metrics(self) -> list[str]:
        return [self.monitor(None).removeprefix("val_")] if \
            self.recipe.monitor in EMBEDDING_MONITORS else []

    def _scoring(self, model: keras.Model) -> list:
        if self.recipe.monitor not in EMBEDDING_MONITORS:
            return []
        xv, yv = self.data["val"]
        return [EmbeddingValidation(model, xv, yv, self.distance)]

    def phases(self) -> list[Phase]:
        from zoo.losses import ActiveTripletFraction, ContrastiveLoss, TripletLoss
        from zoo.models.metric import siamese_pair

        r = self.recipe
        (x, y), (xv, yv) = self.data["train"], self.data["val"]
        augment = self._augment()

        if r.objective == "center":
            def center(prev):
                model = self.build()
                args = {"weight": 0.0, "alpha": 0.5, **r.loss_args}
                return Setup(center_loss_model(model, self.num_classes, **args), model,
                             keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                             [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                             ShuffledBatches(x, y, r.batch_size, seed=r.seed, augment=augment,
                                             steps=r.steps_per_epoch),
                             # unseen people have no class: no classifier loss to validate
                             None if r.train_identities else
                             ((xv, yv.astype("int32")), yv.astype("int32")),
                             callbacks=self._scoring(model))
            return self.single_phase(center)

        if r.objective == "contrastive":
            # one epoch ~ every image once, unless the recipe says otherwise
            steps = r.steps_per_epoch or max(1, len(x) // (2 * r.batch_size))
            pairs, same = pair_indices(yv, min(4096, 10 * len(yv)), seed=r.seed + 1)
            val = ((xv[pairs[:, 0]], xv[pairs[:, 1]]), same.astype("float32"))

            def contrastive(prev):
                model = self.build()
                return Setup(siamese_pair(model, distance="l2"), model,
                             ContrastiveLoss(**r.loss_args), [],
                             PairBatches(x, y, r.batch_size, steps, seed=r.seed, augment=augment),
                             val, callbacks=self._scoring(model))
            return self.single_phase(contrastive)

        p, k = r.pk
        steps = r.steps_per_epoch or max(1, len(x) // (p * k))
        val_pk = pk_indices(yv, min(p, len(np.unique(yv))), k, max(1, len(xv) // (p * k)),
                            seed=r.seed).reshape(-1)
        val = (xv[val_pk], yv[val_pk].astype("int32"))

        def triplet(mining):
            def setup(prev):
                model = prev.export if prev is not None else self.build()
                loss = TripletLoss(**{**r.loss_args, **({"mining": mining} if mining else {})})
                return Setup(model, model, loss, [ActiveTripletFraction(loss)],
                             PKBatches(x, y, p, k, steps=steps, seed=r.seed, augment=augment),
                             val, callbacks=self._scoring(model))
            return setup

        first = min(r.mining_warmup, r.epochs - 1)
        main = Phase("train", r.epochs - first, triplet(None))
        if not first:
            return [main]
        # batch_all first (another loss: logged, not checkpointed), then the recipe's mining
        return [Phase("batch_all_warmup", first, triplet("batch_all"), schedule="constant",
                      best=None), main]

    def after_fit(self, setup: Setup, out: Path) -> dict[str, Any]:
        val, test = self.measure(setup.export, out / "eval" / "test")
        return {"val": val, "test": test}

    def measure(self, model: keras.Model, out: Path | None,
                split: str = "test") -> tuple[dict[str, float], dict[str, float]]:
        """Validation and ``split`` figures; thresholds are chosen on the validation split
        and applied to ``split``. Saves the test embeddings and ``metrics.json``."""
        r = self.recipe
        if self.data is None:
            self.data = load_arrays(r)
        (xv, yv), (xt, yt) = self.data["val"], self.data[split]
        val = embedding_metrics(embed_arrays(model, xv), yv, distance=self.distance)
        e_test = embed_arrays(model, xt)
        test = embedding_metrics(e_test, yt, threshold=val["best_threshold"],
                                 distance=self.distance,
                                 balanced_threshold=val["balanced_threshold"])
        if r.objective == "center" and "predictions" in {layer.name for layer in model.layers}:
            logits = np.asarray(keras.ops.convert_to_numpy(
                model.predict(xt, batch_size=256, verbose=0)))
            test["acc@1"] = round(float(np.mean(logits.argmax(-1) == yt)), 6)
        test["n"] = int(len(yt))
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(out / f"{split}_embeddings.npz", embeddings=e_test, labels=yt)
            # the `training.publish --metrics-json` format: context strings + top-level numbers
            write_metrics(out, "metrics.json", {
                "model": r.model, "dataset": r.dataset,
                "split": f"{split}, unseen identities" if r.train_identities else split,
                **test})
            self._scatter(e_test, yt, out / "embeddings.png",
                          f"{r.model} on {r.dataset} {split}: P@1 {test['precision_at_1']:.3f}")
        return val, test

    def evaluate(self, model: keras.Model, split: str = "test",
                 out: Path | None = None) -> dict[str, Any]:
        val, test = self.measure(model, out, split)
        files = {"metrics": str(out / "metrics.json"),
                 "figure": str(out / "embeddings.png")} if out is not None else {}
        return {**test, "val": val, **({"files": files} if files else {})}

    def _scatter(self, e: np.ndarray, y: np.ndarray, path: Path, title: str) -> Path:
        plane = _plane(e)
        return plot_embeddings_2d([(title, plane, np.asarray(y) % 10)], path)

    def summary_line(self, summary: dict[str, Any], out: Path) -> str:
        t = summary.get("test", {})
        return (f"{summary['recipe']}: {summary['epochs_run']} epochs in "
                f"{summary['seconds']:.0f} s; test P@1 {t.get('precision_at_1', math.nan):.4f}, "
                f"MAP@R {t.get('map_at_r', math.nan):.4f}, ROC AUC "
                f"{t.get('roc_auc', math.nan):.4f}, verification "
                f"{t.get('verification_acc', math.nan):.4f} at the validation threshold; "
                f"outputs in {out}/")
