"""Train a zoo model from a recipe: ``python -m training.train RECIPE [overrides]``.

    python -m training.train lenet5_mnist                        # the shipped MNIST weights
    python -m training.train resnet20_cifar10 --epochs 30 --out runs/r20
    python -m training.train lenet5_mnist --backend jax --mixed-precision bfloat16
    python -m training.train --model resnet20_cifar --dataset folder:my_images --epochs 5

What a run does, as the course teaches it: a seeded, stratified train / validation split (the
test split is left for ``training.evaluate``); a tf.data pipeline (or, without TensorFlow, a
``keras.utils.PyDataset`` of arrays) with the recipe's augmentations; the recipe's optimiser
(SGD + momentum, RMSProp, Adam, AdamW), schedule, L1 / L2 penalties and dropout; callbacks
for the best checkpoint, early stopping, ``BackupAndRestore`` (a killed run started again with
the same ``--out`` resumes at the epoch where it stopped), ``TerminateOnNaN``, a CSV log and
TensorBoard; and at the end a PNG of the train / validation curves and ``summary.json``.

Everything lands in ``--out`` (default ``runs/<recipe>``)::

    best.weights.h5  last.weights.h5  log.csv  curves.png  summary.json  recipe.json
    tensorboard/  backup/ (only while a run is unfinished)

GPU options: ``--mixed-precision float16|bfloat16``, ``--jit-compile``. Several devices:
``--strategy mirrored`` (tf.distribute, all local GPUs / logical devices), ``--strategy
multiworker`` (tf.distribute over the machines in ``TF_CONFIG``; a custom loop, see
`training.distributed`), ``--strategy data-parallel`` (``keras.distribution`` on JAX).

``--backend jax|torch`` picks the Keras backend before Keras is imported; TensorFlow is then
not needed at all (the lent GPU machine has none).
"""

from __future__ import annotations

import os
import sys


def _backend_from_argv(argv: list[str]) -> str | None:
    """``--backend X`` / ``--backend=X`` from the command line, read before Keras is imported."""
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--backend="):
            return arg.split("=", 1)[1]
    return None


if __name__ == "__main__" and _backend_from_argv(sys.argv[1:]):
    # Keras reads KERAS_BACKEND once, at import: it must be set before the imports below.
    os.environ["KERAS_BACKEND"] = _backend_from_argv(sys.argv[1:])

import argparse  # noqa: E402
import csv  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo.registry import get_entry  # noqa: E402
from training.data import load_source, split  # noqa: E402
from training.data.splits import split_indices  # noqa: E402
from training.recipes import Recipe, load_recipe  # noqa: E402
from training.schedules import make_schedule  # noqa: E402

logger = logging.getLogger("training.train")
STRATEGIES = ("none", "mirrored", "multiworker", "data-parallel")


# ---------------------------------------------------------------------------------------------
# Model, optimiser, loss
# ---------------------------------------------------------------------------------------------

def build_model(recipe: Recipe) -> keras.Model:
    """``zoo.build`` with the recipe's arguments, dropout rates and L1 / L2 kernel penalties."""
    args = dict(recipe.builder_args)
    args.setdefault("input_shape", (*recipe.image_size, recipe.channels))
    accepted = inspect.signature(get_entry(recipe.model).builder).parameters
    for field in ("dropout", "spatial_dropout"):
        rate = getattr(recipe, field)
        if rate:
            if field not in accepted:
                raise ValueError(f"Recipe {recipe.name!r} sets {field}={rate}, but "
                                 f"{recipe.model!r} has no `{field}` argument.")
            args[field] = rate
    model = zoo.build(recipe.model, **args)
    if recipe.l1 or recipe.l2:
        # The course's L1 / L2 penalties: lambda * sum|w| / sum w^2 over every kernel (not
        # biases or BN), added to the loss. Keras collects them through `model.losses`.
        reg = keras.regularizers.L1L2(l1=recipe.l1, l2=recipe.l2)
        for layer in model.layers:
            for attr in ("kernel", "depthwise_kernel", "pointwise_kernel"):
                variable = getattr(layer, attr, None)
                if variable is not None and getattr(variable, "trainable", False):
                    variable.regularizer = reg
    return model


def make_optimizer(recipe: Recipe, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The recipe's optimiser with its learning-rate schedule."""
    lr = make_schedule(recipe.schedule, recipe.lr, steps_per_epoch=steps_per_epoch,
                       epochs=recipe.epochs, warmup_epochs=recipe.warmup_epochs,
                       **recipe.schedule_args)
    wd = recipe.weight_decay or None
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
                                    weight_decay=wd)
    if recipe.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr, rho=0.9, weight_decay=wd)  # Hinton's, no momentum
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(lr, weight_decay=wd)
    return keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay or 1e-4)


def soft_labels(recipe: Recipe) -> bool:
    """Mixup and label smoothing train on one-hot (soft) targets."""
    return bool(recipe.mixup or recipe.label_smoothing)


def make_loss(recipe: Recipe, reduction: str | None = "sum_over_batch_size"):
    if soft_labels(recipe):
        return keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing,
                                                    reduction=reduction)
    return keras.losses.SparseCategoricalCrossentropy(reduction=reduction)


def make_metrics(recipe: Recipe, num_classes: int) -> list:
    if soft_labels(recipe):
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        if num_classes > 5:
            metrics.append(keras.metrics.TopKCategoricalAccuracy(5, name="top5"))
    else:
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        if num_classes > 5:
            metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
    return metrics


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def load_splits(recipe: Recipe):
    """The recipe's training split, cut into (train, validation) sources, seeded."""
    source = load_source(recipe.dataset, "train", recipe.data_dir)
    if recipe.limit and recipe.limit < len(source):
        # A stratified, seeded sample: readers list files class by class, so the first
        # `limit` items would be one class.
        keep = split_indices(source.labels, (recipe.limit / len(source),
                                             1 - recipe.limit / len(source)), seed=recipe.seed)[0]
        source = source.subset(keep)
    if not recipe.val_fraction:
        return source, None
    train, val = split(source, (1 - recipe.val_fraction, recipe.val_fraction), seed=recipe.seed)
    return train, val


def make_inputs(recipe: Recipe, train_src, val_src, batch_size: int, pipeline: str,
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


# ---------------------------------------------------------------------------------------------
# Callbacks and outputs
# ---------------------------------------------------------------------------------------------

def make_callbacks(recipe: Recipe, out: Path, monitor: str, tensorboard: bool = True) -> list:
    mode = "min" if "loss" in monitor else "max"
    callbacks = [
        # First, so that a resumed run restores weights, optimiser and epoch before the rest.
        keras.callbacks.BackupAndRestore(str(out / "backup"), delete_checkpoint=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint(str(out / "best.weights.h5"), monitor=monitor,
                                        mode=mode, save_best_only=True, save_weights_only=True),
        keras.callbacks.ModelCheckpoint(str(out / "last.weights.h5"), save_weights_only=True),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
    ]
    if recipe.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode,
                                                       patience=recipe.early_stopping,
                                                       restore_best_weights=False))
    if tensorboard and keras.backend.backend() == "tensorflow":
        callbacks.append(keras.callbacks.TensorBoard(str(out / "tensorboard")))
    return callbacks


def read_log(path: Path) -> dict[str, list[float]]:
    """The CSV log as ``{column: values}`` (one row per epoch, resumed runs included)."""
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {}) if k != "epoch"}


def finish(recipe: Recipe, out: Path, model: keras.Model, seconds: float,
           val_metrics: dict[str, float], **extra: Any) -> dict[str, Any]:
    from training.plots import plot_history

    history = read_log(out / "log.csv")
    curves = plot_history(history, out / "curves.png", title=f"{recipe.name}: {recipe.model}") \
        if history else None
    summary = {
        "recipe": recipe.name, "model": recipe.model, "dataset": recipe.dataset,
        "epochs_run": len(next(iter(history.values()), [])), "seconds": round(seconds, 1),
        "backend": keras.backend.backend(), "params": model.count_params(),
        "val": val_metrics, "best_weights": str(out / "best.weights.h5"),
        "curves": str(curves) if curves else None, **extra,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def train(recipe: Recipe, out: str | Path, *, strategy: str = "none",
          mixed_precision: str | None = None, jit_compile: bool | str = "auto",
          pipeline: str | None = None, verbose: int | str = "auto",
          tensorboard: bool = True) -> dict[str, Any]:
    """Runs a recipe; returns the summary (also written to ``out/summary.json``).

    Args:
        recipe: what to train.
        out: the run folder; a run started again on the same folder resumes.
        strategy: ``none``, ``mirrored``, ``multiworker`` (TensorFlow) or ``data-parallel``
            (JAX).
        mixed_precision: ``None``, ``"float16"`` or ``"bfloat16"`` (compute in 16 bits,
            variables in float32; float16 adds loss scaling).
        jit_compile: XLA compilation of the train step (``"auto"``: Keras' default).
        pipeline: ``"tfdata"`` (default with TensorFlow) or ``"arrays"`` (a PyDataset; the
            default on JAX / torch).
        verbose: Keras ``fit`` verbosity (progress bars with 1).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: {strategy!r}")
    backend = keras.backend.backend()
    if strategy in ("mirrored", "multiworker") and backend != "tensorflow":
        raise ValueError(f"--strategy {strategy} is tf.distribute and needs the TensorFlow "
                         f"backend (this is {backend}); on JAX use --strategy data-parallel.")
    if strategy == "data-parallel" and backend != "jax":
        raise ValueError(f"--strategy data-parallel is keras.distribution, which needs the JAX "
                         f"backend (this is {backend}).")
    pipeline = pipeline or ("tfdata" if backend == "tensorflow" else "arrays")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2) + "\n")
    keras.utils.set_random_seed(recipe.seed)
    if mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{mixed_precision}")

    train_src, val_src = load_splits(recipe)
    steps = math.ceil(len(train_src) / recipe.batch_size)
    logger.info("%s: %d training / %d validation images, %d steps per epoch", recipe.name,
                len(train_src), len(val_src) if val_src else 0, steps)
    monitor = recipe.monitor if val_src is not None else recipe.monitor.removeprefix("val_")

    if strategy == "multiworker":
        from training.distributed import train_multiworker

        return train_multiworker(recipe, out, train_src, val_src, monitor=monitor,
                                 verbose=verbose)

    scope = None
    if strategy == "mirrored":
        import tensorflow as tf

        # All local GPUs; without any, every logical CPU device (two in the tests, made with
        # tf.config.set_logical_device_configuration), which MirroredStrategy() skips by default.
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
            [d.name for d in tf.config.list_logical_devices("CPU")]
        dist = tf.distribute.MirroredStrategy(devices)
        logger.info("MirroredStrategy over %d replicas", dist.num_replicas_in_sync)
        scope = dist.scope()
    elif strategy == "data-parallel":
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        if recipe.batch_size % len(devices):
            raise ValueError(f"--strategy data-parallel splits each batch over {len(devices)} "
                             f"devices: batch_size {recipe.batch_size} must be a multiple.")
    train_ds, val_ds = make_inputs(recipe, train_src, val_src, recipe.batch_size, pipeline,
                                   drop_remainder=strategy == "data-parallel")

    def build_and_compile():
        model = build_model(recipe)
        model.compile(optimizer=make_optimizer(recipe, steps), loss=make_loss(recipe),
                      metrics=make_metrics(recipe, train_src.num_classes),
                      jit_compile=jit_compile)
        return model

    if scope is not None:
        with scope:
            model = build_and_compile()
    else:
        model = build_and_compile()

    start = time.time()
    model.fit(train_ds, validation_data=val_ds, epochs=recipe.epochs, verbose=verbose,
              shuffle=False,  # the pipeline shuffles (tf.data) or the PyDataset does
              callbacks=make_callbacks(recipe, out, monitor, tensorboard))
    seconds = time.time() - start
    if (out / "best.weights.h5").exists():
        model.load_weights(out / "best.weights.h5")
    val_metrics = {}
    if val_ds is not None:
        val_metrics = {k: float(v) for k, v in
                       model.evaluate(val_ds, verbose=0, return_dict=True).items()}
    return finish(recipe, out, model, seconds, val_metrics, strategy=strategy,
                  mixed_precision=mixed_precision, pipeline=pipeline)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train",
                                description="Train a zoo model from a recipe.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Recipes: " + ", ".join(_recipes()))
    p.add_argument("recipe", nargs="?", help="a recipe name or a .py / .json recipe file")
    p.add_argument("--out", help="run folder (default runs/<recipe>); reuse it to resume")
    g = p.add_argument_group("recipe overrides")
    g.add_argument("--model", help="zoo model name")
    g.add_argument("--dataset", help="mnist, cifar10, folder:PATH")
    g.add_argument("--data-dir", help="where the dataset lives")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float)
    g.add_argument("--optimizer", choices=("sgd", "rmsprop", "adam", "adamw"))
    g.add_argument("--schedule",
                   choices=("constant", "step", "exponential", "polynomial", "cosine", "onecycle"))
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--l1", type=float)
    g.add_argument("--l2", type=float)
    g.add_argument("--dropout", type=float)
    g.add_argument("--spatial-dropout", type=float)
    g.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    g.add_argument("--limit", type=int, help="use only this many training images")
    g.add_argument("--seed", type=int)
    g.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"))
    g.add_argument("--channels", type=int, choices=(1, 3))
    g.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                   help="any other recipe field, e.g. --set augment='[\"flip\"]'")
    r = p.add_argument_group("how to run")
    r.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                   help="Keras backend (set before Keras is imported)")
    r.add_argument("--strategy", choices=STRATEGIES, default="none")
    r.add_argument("--mixed-precision", choices=("float16", "bfloat16"))
    r.add_argument("--jit-compile", action="store_true", help="XLA-compile the train step")
    r.add_argument("--pipeline", choices=("tfdata", "arrays"))
    r.add_argument("--no-tensorboard", action="store_true")
    r.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None)
    return p


def _recipes() -> list[str]:
    from training.recipes import available

    return available()


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """The named recipe with the command line's overrides (or a recipe from flags alone)."""
    overrides = {k: v for k, v in {
        "model": args.model, "dataset": args.dataset, "data_dir": args.data_dir,
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "optimizer": args.optimizer, "schedule": args.schedule,
        "weight_decay": args.weight_decay, "l1": args.l1, "l2": args.l2,
        "dropout": args.dropout, "spatial_dropout": args.spatial_dropout,
        "early_stopping": args.early_stopping, "limit": args.limit, "seed": args.seed,
        "image_size": tuple(args.image_size) if args.image_size else None,
        "channels": args.channels}.items() if v is not None}
    for item in args.set:
        if "=" not in item:
            raise ValueError(f"--set expects FIELD=VALUE. Received: {item!r}")
        key, value = item.split("=", 1)
        overrides[key.replace("-", "_")] = _parse_value(value)
    if args.recipe:
        return load_recipe(args.recipe).replace(**overrides)
    missing = [k for k in ("model", "dataset") if k not in overrides]
    if missing:
        raise ValueError(f"Give a recipe name, or at least --model and --dataset "
                         f"(missing: {', '.join('--' + m for m in missing)}). "
                         f"Recipes: {', '.join(_recipes())}.")
    name = f"{overrides['model']}_{overrides['dataset'].replace(':', '_').replace('/', '_')}"
    return Recipe(name=name, **overrides)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.backend and args.backend != keras.backend.backend():
        parser.error(f"--backend {args.backend}: Keras was already imported with the "
                     f"{keras.backend.backend()} backend; run `python -m training.train` "
                     f"(or set KERAS_BACKEND={args.backend}).")
    try:
        recipe = recipe_from_args(args)
    except (ValueError, TypeError) as e:
        parser.error(str(e))
    out = Path(args.out or Path("runs") / recipe.name)
    verbose = "auto" if args.verbose is None else args.verbose
    if recipe.objective != "softmax":  # center / triplet / contrastive recipes
        from training import metric_learning

        if args.strategy != "none" or args.mixed_precision:
            parser.error(f"{recipe.name} is a metric-learning recipe: run it without "
                         "--strategy / --mixed-precision (python -m training.metric_learning).")
        summary = metric_learning.train(recipe, out, verbose=verbose)
        print(metric_learning.summary_line(summary, out))
        return summary
    summary = train(recipe, out, strategy=args.strategy, mixed_precision=args.mixed_precision,
                    jit_compile=True if args.jit_compile else "auto", pipeline=args.pipeline,
                    verbose=verbose, tensorboard=not args.no_tensorboard)
    if "worker" in summary:  # a non-chief worker of --strategy multiworker
        print(f"worker {summary['worker']} done; its weights: {summary['last_weights']}")
        return summary
    val = ", ".join(f"{k} {v:.4f}" for k, v in summary["val"].items())
    print(f"{recipe.name}: {summary['epochs_run']} epochs in {summary['seconds']:.0f} s; "
          f"best validation: {val or 'n/a'}; outputs in {out}/")
    return summary


if __name__ == "__main__":
    main()
