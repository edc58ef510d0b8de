"""Train any task from a recipe: ``python -m training.train RECIPE [overrides]``.

    python -m training.train lenet5_mnist                        # the shipped MNIST weights
    python -m training.train resnet20_cifar10 --epochs 30 --out runs/r20
    python -m training.train unet_membrane --data-dir DATA       # segmentation
    python -m training.train mnist_triplet                       # metric learning
    python -m training.train --model resnet18 --dataset folder:my_photos --image-size 64 64
    python -m training.train --model resnet20_cifar --dataset folder:my_photos \\
        --weights cifar10 --freeze backbone --unfreeze-after 5 --epochs 15   # fine-tune

The recipe names its task (classification, metric, segmentation, depth); the task's adapter
(`training.tasks`) gives the data, model, loss and evaluation, and `training.engine.fit` runs
it: a seeded split, the recipe's optimiser, schedule, penalties and augmentations, resume
after a kill (start the same command again), NaN / divergence stop, atomic best / last
checkpoints, ``log.csv``, TensorBoard, ``curves.png`` and ``summary.json`` in ``--out``
(default ``runs/<recipe>``).

GPU options: ``--mixed-precision float16|bfloat16``, ``--jit-compile``. Several devices:
``--strategy mirrored`` (tf.distribute, all local GPUs / logical devices), ``--strategy
multiworker`` (tf.distribute over the machines in ``TF_CONFIG``; a custom loop, see
`training.distributed`), ``--strategy data-parallel`` (``keras.distribution`` on JAX).
``--backend jax|torch`` picks the Keras backend before Keras is imported; TensorFlow is then
not needed at all (the lent GPU machine has none).
"""

from __future__ import annotations

if __name__ == "__main__":
    from training.cli import set_backend_from_argv

    set_backend_from_argv()

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

from training.checkpoints import DiskFullError, DivergedError, RunError  # noqa: E402
from training.cli import Parser, apply_sets, parse_sets, parse_value  # noqa: E402
from training.engine import STRATEGIES, fit  # noqa: E402
from training.recipes import (OPTIMIZERS, SCHEDULES, TASKS, Recipe, available,  # noqa: E402
                              load_recipe)
from training.tasks import make_task  # noqa: E402

logger = logging.getLogger("training.train")

# A mistake in the command or its data: one line, exit 2.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, RunError)


def train(recipe: Recipe, out: str | Path, *, strategy: str = "none",
          mixed_precision: str | None = None, jit_compile: bool | str = "auto",
          pipeline: str | None = None, verbose: int | str = "auto", tensorboard: bool = True,
          restart: bool = False, callbacks=()) -> dict[str, Any]:
    """Runs a recipe of any task; returns the summary (also ``out/summary.json``).

    See `training.engine.fit` for the arguments and what the run folder holds.
    """
    task = make_task(recipe, pipeline=pipeline,
                     drop_remainder=strategy in ("data-parallel", "multiworker"))
    return fit(task, out, strategy=strategy, mixed_precision=mixed_precision,
               jit_compile=jit_compile, verbose=verbose, tensorboard=tensorboard,
               restart=restart, callbacks=callbacks)


def build_parser() -> Parser:
    p = Parser(prog="python -m training.train",
               description="Train a zoo model from a recipe (any task).",
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog="Recipes: " + ", ".join(available()))
    p.add_argument("recipe", nargs="?", help="a recipe name or a .py / .json recipe file")
    p.add_argument("--out", help="run folder (default runs/<recipe>); the same folder resumes")
    p.add_argument("--restart", action="store_true",
                   help="train from scratch, replacing the run in --out")
    g = p.add_argument_group("recipe overrides")
    g.add_argument("--model", help="zoo model name")
    g.add_argument("--dataset", help="mnist, cifar10, att_faces, folder:DIR, tfds:NAME, ...")
    g.add_argument("--data-dir", help="where the dataset lives (default $ZOO_DATA_DIR; else "
                                      "MNIST / CIFAR-10 through tensorflow-datasets)")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float)
    g.add_argument("--optimizer", choices=OPTIMIZERS)
    g.add_argument("--schedule", choices=SCHEDULES)
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
    g.add_argument("--val-fraction", type=float)
    g.add_argument("--test-fraction", type=float,
                   help="test share cut off a plain folder:DIR of <class>/<image> (default 0.2)")
    g.add_argument("--skip-corrupt", action="store_true",
                   help="drop images that cannot be decoded (counted in the log)")
    g.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                   help="any other recipe field, e.g. --set augment='[\"flip\"]' or "
                        "--set loss_args.weight=0.1")
    t = p.add_argument_group("transfer learning (classification)")
    t.add_argument("--weights", help="initialise the backbone from a weight tag of the model "
                                     "or a .weights.h5 file; the head is new")
    t.add_argument("--freeze", metavar="backbone|LAYER",
                   help="keep the backbone (or every layer up to LAYER) frozen in phase 1")
    t.add_argument("--unfreeze-after", type=int, metavar="N",
                   help="phase 2 after N epochs: all but batch norm trainable, at --finetune-lr")
    t.add_argument("--finetune-lr", type=float, help="phase 2's rate (default --lr / 10)")
    r = p.add_argument_group("how to run")
    r.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                   help="Keras backend (set before Keras is imported)")
    r.add_argument("--strategy", choices=STRATEGIES, default="none")
    r.add_argument("--mixed-precision", choices=("float16", "bfloat16"))
    r.add_argument("--jit-compile", action="store_true", help="XLA-compile the train step")
    r.add_argument("--pipeline", choices=("tfdata", "arrays"))
    r.add_argument("--no-tensorboard", action="store_true")
    r.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None)
    r.add_argument("--sweep", metavar="FIELD=V1,V2,...",
                   help="one run per value (e.g. loss_args.weight=0,0.01,0.1), each in "
                        "--out/<recipe>_<field><value>")
    r.add_argument("--sweep-figure", metavar="PNG",
                   help="with --sweep on a 2-D embedding: the test features, one panel a run")
    return p


FLAG_FIELDS = ("model", "dataset", "data_dir", "epochs", "batch_size", "lr", "optimizer",
               "schedule", "weight_decay", "l1", "l2", "dropout", "spatial_dropout",
               "early_stopping", "limit", "seed", "channels", "val_fraction", "test_fraction",
               "weights", "freeze", "unfreeze_after", "finetune_lr")


def recipe_from_args(args) -> Recipe:
    """The named recipe with the command line's overrides (or a recipe from flags alone)."""
    overrides = {k: getattr(args, k) for k in FLAG_FIELDS if getattr(args, k) is not None}
    if args.image_size:
        overrides["image_size"] = tuple(args.image_size)
    if args.skip_corrupt:
        overrides["skip_corrupt"] = True
    sets = parse_sets(args.set)
    if args.recipe:
        return apply_sets(load_recipe(args.recipe).replace(**overrides), sets)
    missing = [k for k in ("model", "dataset") if k not in overrides]
    if missing:
        raise ValueError(f"Give a recipe name, or at least --model and --dataset "
                         f"(missing: {', '.join('--' + m for m in missing)}). "
                         f"Recipes: {', '.join(available())}.")
    from zoo.registry import get_entry

    entry = get_entry(overrides["model"])  # an unknown name lists the close ones
    name = f"{overrides['model']}_{Path(overrides['dataset'].split(':', 1)[-1]).name}"
    task = entry.task
    if task not in TASKS:
        raise ValueError(f"{entry.name} is a {entry.task} model; no task trains it yet.")
    if task == "metric" and "objective" not in sets:
        raise ValueError(f"{entry.name} is a metric-learning model: choose the objective with "
                         "--set objective=\"triplet\" (or center, contrastive) and its "
                         "loss_args, or start from a metric recipe (mnist_triplet, ...).")
    recipe = Recipe(name=name, task=task, **({"objective": sets.pop("objective")}
                                             if "objective" in sets else {}), **overrides)
    return apply_sets(recipe, sets)


def _sweep(recipe: Recipe, spec: str, out: Path, figure: str | None, **run) -> dict[str, Any]:
    """One run per value of a recipe field; optionally the 2-D embedding panels."""
    key, sep, values = spec.partition("=")
    if not sep or not values:
        raise ValueError(f"--sweep takes FIELD=V1,V2,... Received: {spec!r}")
    runs, panels = {}, []
    for value in (parse_value(v) for v in values.split(",")):
        tag = key.split(".")[-1]
        variant = apply_sets(recipe, {key: value}).replace(name=f"{recipe.name}_{tag}{value}")
        summary = train(variant, out / variant.name, **run)
        runs[str(value)] = summary.get("test") or summary.get("val")
        if figure:
            saved = np.load(out / variant.name / "eval" / "test" / "test_embeddings.npz")
            label = "softmax alone" if (key == "loss_args.weight" and value == 0) \
                else f"{'lambda' if tag == 'weight' else tag} = {value}"
            acc = (summary.get("test") or {}).get("acc@1")
            panels.append((label + (f"\ntest acc {acc:.4f}" if acc is not None else ""),
                           saved["embeddings"], saved["labels"]))
    result = {"recipe": recipe.name, "parameter": key, "runs": runs}
    from training.checkpoints import write_json

    write_json(out / f"{recipe.name}_sweep.json", result)
    if figure:
        from training.tasks.metric import plot_embeddings_2d

        result["figure"] = str(plot_embeddings_2d(panels, figure))
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the CLI; returns the summary. Exit codes: see `training.cli`."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.backend and args.backend != keras.backend.backend():
        parser.error(f"--backend {args.backend}: Keras was already imported with the "
                     f"{keras.backend.backend()} backend; run `python -m training.train` "
                     f"(or set KERAS_BACKEND={args.backend})")
    if args.sweep_figure and not args.sweep:
        parser.error("--sweep-figure needs --sweep (it draws one panel per run)")
    run = dict(strategy=args.strategy, mixed_precision=args.mixed_precision,
               jit_compile=True if args.jit_compile else "auto", pipeline=args.pipeline,
               verbose="auto" if args.verbose is None else args.verbose,
               tensorboard=not args.no_tensorboard, restart=args.restart)
    try:
        recipe = recipe_from_args(args)
        out = Path(args.out or Path("runs") / recipe.name)
        if args.sweep:
            return _sweep(recipe, args.sweep, out, args.sweep_figure, **run)
        summary = train(recipe, out, **run)
    except DiskFullError as e:
        parser.exit(1, f"{parser.prog}: stopped: {e}: free some space and run the same command "
                       "again to resume from the last finished epoch\n")
    except DivergedError as e:
        parser.exit(1, f"{parser.prog}: stopped: {e}\n")
    except USER_ERRORS as e:
        parser.exit(2, f"{parser.prog}: error: {_one_line(e)}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"{parser.prog}: interrupted; run the same command again to resume "
                         "from the last finished epoch\n")
    if "worker" in summary:  # a non-chief worker of --strategy multiworker
        print(f"worker {summary['worker']} done; its weights: {summary['last_weights']}")
        return summary
    if summary.get("status") == "already finished":
        print(f"{recipe.name} already finished in {out}/ (pass --restart to train again)")
        return summary
    print(make_task(recipe).summary_line(summary, out))
    return summary


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


if __name__ == "__main__":
    main(sys.argv[1:])
