"""Classification: a zoo classifier on labelled images, softmax cross-entropy, top-k accuracy.

The data's class folders (or the named set's classes) size the head: ``classes`` is settled
from the data for every classifier, so a folder of 12 classes trains a 12-way ``resnet18`` and a
one-class folder is an error. With ``weights`` the model starts from a pretrained backbone
(``include_top=False``: every layer but the head) and a new head; ``freeze`` and
``unfreeze_after`` give the two phases of the Keras fine-tuning guide (train the new head on a
frozen backbone, then everything but batch norm at a lower rate).

Evaluation: top-1 / top-5 accuracy, per-class precision / recall / F1 and the confusion matrix
(``metrics.json``, ``confusion.png``).
"""

from __future__ import annotations

import difflib
import logging
import math
import warnings
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np

from training.engine import Phase, Setup
from training.tasks.base import Task, dataset_splits, write_metrics

logger = logging.getLogger("training.tasks.classification")


# ---------------------------------------------------------------------------------------------
# Reports (plain NumPy; tested against hand-made cases)
# ---------------------------------------------------------------------------------------------

def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``m[i, j]`` = number of class-``i`` images predicted as ``j``."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def classification_report(y_true: Sequence[int], probs: np.ndarray,
                          class_names: Sequence[str] | None = None,
                          k: int = 5) -> dict[str, Any]:
    """Top-1 / top-k accuracy, per-class precision / recall / F1, and the confusion matrix.

    Args:
        y_true: integer labels ``(N,)``.
        probs: scores ``(N, C)`` (probabilities or logits; only their order matters).
        class_names: ``C`` names (default ``"0"``, ``"1"``, ...).
        k: the k of top-k accuracy (capped at ``C``).

    Precision of a class never predicted is reported as 0 (as scikit-learn's default).
    A top-k hit counts ties as the true class's rank by a stable sort, i.e. the label must
    be among the k highest scores.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"`probs` must be (N, C) with N = len(y_true) = {len(y)}. "
                         f"Received shape {p.shape}.")
    c = p.shape[1]
    if len(y) and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"Labels must be in [0, {c}); found {y.min()}..{y.max()}.")
    names = list(class_names) if class_names is not None else [str(i) for i in range(c)]
    if len(names) != c:
        raise ValueError(f"{len(names)} class names for {c} model outputs.")
    k = min(k, c)
    pred = p.argmax(axis=1)
    topk = np.argsort(-p, axis=1, kind="stable")[:, :k]
    m = confusion_matrix(y, pred, c)
    tp = np.diag(m).astype(np.float64)
    predicted, support = m.sum(axis=0), m.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(c), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(c), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(c),
                   where=(precision + recall) > 0)
    return {
        "n": int(len(y)),
        "acc@1": float((pred == y).mean()) if len(y) else 0.0,
        f"acc@{k}": float((topk == y[:, None]).any(axis=1).mean()) if len(y) else 0.0,
        "error": float((pred != y).mean()) if len(y) else 0.0,
        "per_class": {n: {"precision": float(precision[i]), "recall": float(recall[i]),
                          "f1": float(f1[i]), "support": int(support[i])}
                      for i, n in enumerate(names)},
        "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
        "confusion": m.tolist(),
        "class_names": names,
    }


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of the report."""
    lines = [f"{'class':>14} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}"]
    for name, r in report["per_class"].items():
        lines.append(f"{name[:14]:>14} {r['precision']:9.4f} {r['recall']:7.4f} "
                     f"{r['f1']:6.4f} {r['support']:8d}")
    topk = [k for k in report if k.startswith("acc@") and k != "acc@1"]
    lines.append(f"top-1 accuracy {report['acc@1']:.4f} (error {report['error']:.2%})" +
                 (f", top-{topk[0][4:]} {report[topk[0]]:.4f}" if topk else "") +
                 f" on {report['n']} images")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Losses, metrics, inputs
# ---------------------------------------------------------------------------------------------

def soft_labels(recipe) -> bool:
    """Mixup and label smoothing train on one-hot (soft) targets."""
    return bool(recipe.mixup or recipe.label_smoothing)


def make_loss(recipe, reduction: str | None = "sum_over_batch_size"):
    if soft_labels(recipe):
        return keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing,
                                                    reduction=reduction)
    return keras.losses.SparseCategoricalCrossentropy(reduction=reduction)


def make_metrics(recipe, num_classes: int) -> list:
    if soft_labels(recipe):
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        if num_classes > 5:
            metrics.append(keras.metrics.TopKCategoricalAccuracy(5, name="top5"))
    else:
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        if num_classes > 5:
            metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
    return metrics


def make_inputs(recipe, train_src, val_src, batch_size: int, pipeline: str,
                drop_remainder: bool = False):
    """``(train, val)`` as tf.data pipelines (``pipeline="tfdata"``) or `ArrayDataset`s."""
    from training.augment import build_augmenter, mixup, mixup_map

    num_classes = train_src.num_classes
    augment = None
    if recipe.augment:
        augmenter = build_augmenter(recipe.augment, recipe.image_size, seed=recipe.seed)

        def augment(images):  # training=True: noise layers act only in training mode
            return augmenter(images, training=True)
    if pipeline == "tfdata":
        import tensorflow as tf

        from training.data.pipeline import make_pipeline

        common = dict(image_size=recipe.image_size, channels=recipe.channels, fit=recipe.fit,
                      seed=recipe.seed, drop_remainder=drop_remainder)
        one_hot = (lambda x, y: (x, tf.one_hot(y, num_classes))) if soft_labels(recipe) else None
        batch_map = mixup_map(recipe.mixup, num_classes, seed=recipe.seed) if recipe.mixup \
            else one_hot
        train = make_pipeline(train_src.dataset(), batch_size=batch_size, training=True,
                              augment=augment, batch_map=batch_map, **common)
        val = None
        if val_src is not None:
            val = make_pipeline(val_src.dataset(), batch_size=batch_size, training=False, **common)
            if one_hot is not None:
                val = val.map(one_hot)
        return train, val

    from training.data.arrays import ArrayDataset, prepare_arrays

    def arrays(src):
        x, y = src.arrays()
        x = prepare_arrays(x, image_size=recipe.image_size, channels=recipe.channels,
                           fit=recipe.fit)
        if soft_labels(recipe):
            y = np.eye(num_classes, dtype="float32")[y]
        return x, y

    batch_map = None
    if recipe.mixup:
        batch_map = mixup(recipe.mixup, seed=recipe.seed)  # labels are one-hot already
    train = ArrayDataset(*arrays(train_src), batch_size, training=True, augment=augment,
                         batch_map=batch_map, seed=recipe.seed, drop_remainder=drop_remainder)
    val = ArrayDataset(*arrays(val_src), batch_size, training=False) if val_src else None
    return train, val


def predict_source(model, source, recipe, batch_size: int = 256) -> np.ndarray:
    """Model scores for every image of a `LabelledSource`, prepared as the recipe says."""
    if keras.backend.backend() == "tensorflow":
        from training.data.pipeline import make_pipeline

        ds = make_pipeline(source.dataset(), batch_size=batch_size, training=False,
                           image_size=recipe.image_size, channels=recipe.channels,
                           fit=recipe.fit, cache=False)
        return np.asarray(model.predict(ds.map(lambda x, y: x), verbose=0))
    from training.data.arrays import prepare_arrays

    x, _ = source.arrays()
    x = prepare_arrays(x, image_size=recipe.image_size, channels=recipe.channels, fit=recipe.fit)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def add_penalties(model: keras.Model, l1: float, l2: float) -> keras.Model:
    """The course's L1 / L2 penalties: lambda * sum|w| / sum w^2 over every kernel (not biases
    or BN), added to the loss. Keras collects them through ``model.losses``."""
    if l1 or l2:
        reg = keras.regularizers.L1L2(l1=l1, l2=l2)
        for layer in model.layers:
            for attr in ("kernel", "depthwise_kernel", "pointwise_kernel"):
                variable = getattr(layer, attr, None)
                if variable is not None and getattr(variable, "trainable", False):
                    variable.regularizer = reg
    return model


# ---------------------------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------------------------

class ClassificationTask(Task):
    name = "classification"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._splits = None
        self.backbone: set[str] = set()
        self._train = self._val = None
        self.steps = None

    # -- data ---------------------------------------------------------------------------

    def source(self, split: str):
        """One split of the recipe's dataset (each read once)."""
        if self._splits is None:
            self._splits = dataset_splits(self.recipe)
        return self._splits[split]

    def _train_val(self):
        from training.data import split
        from training.data.splits import split_indices

        r = self.recipe
        source = self.source("train")
        if r.limit and r.limit < len(source):
            # A stratified, seeded sample: readers list files class by class, so the first
            # `limit` items would be one class.
            keep = split_indices(source.labels, (r.limit / len(source),
                                                 1 - r.limit / len(source)), seed=r.seed)[0]
            source = source.subset(keep)
        if r.dataset.startswith("folder:") and "val" in self._splits:
            return source, self.source("val")  # the folder's own val/ split
        if not r.val_fraction:
            return source, None
        train, val = split(source, (1 - r.val_fraction, r.val_fraction), seed=r.seed)
        if not len(val):
            logger.warning("%s: val_fraction=%g of %d images leaves no validation image; "
                           "training without validation (checkpoints rank the training %s)",
                           r.name, r.val_fraction, len(source), r.monitor.removeprefix("val_"))
            return source, None
        return train, val

    def prepare(self) -> None:
        r = self.recipe
        train_src, val_src = self._train_val()
        if train_src.num_classes < 2:
            raise ValueError(f"{r.dataset} has {train_src.num_classes} class "
                             f"({', '.join(train_src.class_names)}); a classifier needs at least "
                             "two.")
        self.class_names = train_src.class_names
        self.builder_args = self.resolve_args(train_src.num_classes)
        logger.info("%s: %d training / %d validation images, %d classes", r.name,
                    len(train_src), len(val_src) if val_src else 0, train_src.num_classes)
        self._train, self._val = make_inputs(r, train_src, val_src, r.batch_size, self.pipeline,
                                             drop_remainder=self.drop_remainder)
        rounding = math.floor if self.drop_remainder else math.ceil
        self.steps = max(1, rounding(len(train_src) / r.batch_size))
        self.num_classes = train_src.num_classes

    def settle_args(self) -> None:
        self.builder_args = self.resolve_args(self.source("train").num_classes)

    def resolve_args(self, num_classes: int) -> dict[str, Any]:
        """The builder arguments: the recipe's, ``classes`` from the data, the dropout rates,
        and what a weight tag pins (``alpha``, ...)."""
        from zoo import weights as zw
        from zoo.registry import get_entry

        r = self.recipe
        entry = get_entry(r.model)
        if entry.task != "classification":
            raise ValueError(f"{r.model} is a {entry.task} model; the classification task trains "
                             "classifiers (zoo.list_models(task='classification')).")
        args = self.default_builder_args()
        accepted = self.accepted_args()
        if r.weights and not zw._is_path(r.weights):
            spec = zw.get_weight_spec(r.model, r.weights)
            for key, value in spec.builder_args.items():
                if key not in ("classes", "input_shape", "classifier_activation"):
                    args.setdefault(key, value)
        if "classes" in accepted:
            pinned = args.get("classes")
            if pinned is not None and pinned != num_classes:
                raise ValueError(f"The recipe sets classes={pinned}, but {r.dataset} has "
                                 f"{num_classes} classes; leave `classes` out (it follows the "
                                 "data).")
            args["classes"] = num_classes
        for field in ("dropout", "spatial_dropout"):
            rate = getattr(r, field)
            if rate:
                if field not in accepted:
                    raise ValueError(f"Recipe {r.name!r} sets {field}={rate}, but {r.model!r} "
                                     f"has no `{field}` argument.")
                args[field] = rate
        return args

    # -- model --------------------------------------------------------------------------

    def initial_model(self) -> keras.Model:
        """The model to train: built, penalised, and initialised from ``weights`` if given."""
        r = self.recipe
        model = add_penalties(self.build(), r.l1, r.l2)
        if r.weights:
            self.backbone = self._pretrained(model)
        return model

    def _pretrained(self, model: keras.Model) -> set[str]:
        """Loads the backbone of ``recipe.weights`` into ``model``; returns the backbone's
        layer names (those with weights)."""
        import zoo
        from zoo import weights as zw

        r = self.recipe
        headless_args = {k: v for k, v in self.builder_args.items()
                         if k not in ("classes", "classifier_activation", "dropout")}
        # the backbone: the headless model, with the tag's weights or (a file) built to name it
        headless = zoo.build(r.model, include_top=False, **headless_args) \
            if zw._is_path(r.weights) else \
            zoo.load(r.model, weights=r.weights, include_top=False, **headless_args)
        backbone = {layer.name for layer in headless.layers if layer.weights}
        if zw._is_path(r.weights):
            path = Path(r.weights)
            if not path.is_file():
                raise FileNotFoundError(f"--weights {path}: no such file (expected a weight "
                                        f"tag of {r.model}: {zw.weight_tags(r.model)}, or a "
                                        ".weights.h5 file).")
            before = {layer.name: [np.array(v) for v in layer.get_weights()]
                      for layer in model.layers if layer.name in backbone}
            try:
                with warnings.catch_warnings():  # Keras lists every skipped array, at length
                    warnings.simplefilter("ignore")
                    model.load_weights(path, skip_mismatch=True)  # a new head may differ
            except Exception as e:  # noqa: BLE001 - h5py / Keras raise several types
                raise ValueError(f"--weights {path} is not a weight file of {r.model} ({e}).") \
                    from e
            loaded = {name for name, values in before.items()
                      if any(not np.array_equal(a, b) for a, b in
                             zip(values, model.get_layer(name).get_weights()))}
        else:
            loaded = set(zoo.transfer_by_name(headless, model).matched)
        missing = sorted(backbone - loaded)
        if missing:
            raise ValueError(f"--weights {r.weights} does not fit the backbone of {r.model} as "
                             f"built here: {len(missing)} of {len(backbone)} layers got no "
                             f"weights (first: {missing[0]}).")
        logger.info("%s: backbone initialised from %s (%d layers); new head", r.model,
                    r.weights, len(backbone))
        return backbone

    def _frozen(self, model: keras.Model) -> set[str]:
        from training.recipes import FREEZE_HELP

        freeze = self.recipe.freeze
        if not freeze:
            return set()
        if freeze == "backbone":
            return set(self.backbone)
        names = [layer.name for layer in model.layers]
        if freeze not in names:
            close = difflib.get_close_matches(freeze, names, n=3, cutoff=0.5)
            raise ValueError(f"--freeze {freeze!r}: {self.recipe.model} has no such layer"
                             + (f" (close: {close})" if close else "") + f"; expected "
                             f"{FREEZE_HELP}.")
        return set(names[:names.index(freeze) + 1])

    def _setup(self, model: keras.Model) -> Setup:
        r = self.recipe
        if len(model.outputs) != 1:
            raise ValueError(f"{r.model} has {len(model.outputs)} outputs "
                             f"({', '.join(model.output_names)}); the classification task "
                             "trains single-output classifiers.")
        return Setup(model=model, export=model, loss=make_loss(r),
                     metrics=make_metrics(r, self.num_classes), train=self._train,
                     val=self._val, steps_per_epoch=self.steps)

    def phases(self) -> list[Phase]:
        r = self.recipe

        def head(prev: Setup | None) -> Setup:
            model = self.initial_model()
            frozen = self._frozen(model)
            for layer in model.layers:
                layer.trainable = layer.name not in frozen
            if frozen:
                logger.info("phase 1: %d layers frozen", len(frozen))
            return self._setup(model)

        def finetune(prev: Setup | None) -> Setup:
            model = prev.export if prev is not None else self.initial_model()
            for layer in model.layers:
                # batch norm stays in inference mode (the Keras fine-tuning guide)
                layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
            return self._setup(model)

        if not r.unfreeze_after:
            return [Phase("train", r.epochs, head)]
        return [Phase("head", r.unfreeze_after, head),
                Phase("finetune", r.epochs - r.unfreeze_after, finetune,
                      lr=r.finetune_lr or r.lr / 10)]

    def curve_metrics(self) -> list[str]:
        return ["accuracy"]

    # -- evaluation ---------------------------------------------------------------------

    def evaluate(self, model: keras.Model, split: str = "test",
                 out: Path | None = None) -> dict[str, Any]:
        r = self.recipe
        source = self.source(split)
        report = classification_report(source.labels, predict_source(model, source, r),
                                       source.class_names)
        report.update(model=r.model, dataset=r.dataset, split=split, recipe=r.name)
        if out is not None:
            from training.plots import plot_confusion_matrix

            out.mkdir(parents=True, exist_ok=True)
            png = plot_confusion_matrix(np.array(report["confusion"]), source.class_names,
                                        out / "confusion.png",
                                        title=f"{r.model} on {r.dataset} {split}: "
                                              f"top-1 {report['acc@1']:.4f}")
            report["files"] = {"metrics": str(out / "metrics.json"), "figure": str(png)}
            write_metrics(out, "metrics.json", report)
        return report

    def format(self, report: dict[str, Any]) -> str:
        return format_report(report)
