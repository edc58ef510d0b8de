"""Evaluate any task: ``python -m training.evaluate RUN_DIR`` or a weight tag.

    python -m training.evaluate runs/lenet5_mnist                 # a run folder: its best weights
    python -m training.evaluate runs/my_photos --split val --weights last
    python -m training.evaluate --model lenet5 --weights mnist    # a tag: its record's recipe
    python -m training.evaluate --recipe resnet20_cifar10 --weights runs/r20/best.weights.h5
    python -m training.evaluate --recipe att_faces_facenet                # random weights
    python -m training.evaluate --recipe att_faces_facenet --baseline pixels  # no network

The task's adapter says what is measured (`training.tasks`): top-1 / top-5 accuracy, per-class
precision / recall / F1 and a confusion matrix (classification); retrieval and verification
figures at the validation threshold (metric learning); pixel accuracy and IoU (segmentation);
RMSE and friends (depth). Everything lands in ``--out`` (default ``RUN_DIR/eval/<split>``, or
``runs/eval/<model>_<tag>_<split>``): ``metrics.json`` (the `training.publish --metrics-json`
format) and the task's figure. The input preparation (size, channels, pad / resize) comes from
the run's or the record's recipe, so a model is judged on exactly the inputs it was trained on.
"""

from __future__ import annotations

if __name__ == "__main__":
    from training.cli import set_backend_from_argv

    set_backend_from_argv()

import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from training.cli import Parser, apply_sets, parse_sets  # noqa: E402
# the classification reports, importable from here as before
from training.tasks.classification import (classification_report, confusion_matrix,  # noqa
                                           format_report, predict_source)

logger = logging.getLogger("training.evaluate")

__all__ = ["classification_report", "confusion_matrix", "evaluate", "evaluate_run",
           "format_report", "main", "predict_source"]


def _recipe_of_record(recipe: str):
    """A weight record's ``recipe`` (a recipe name, ``training/recipes/NAME.py`` or a file)."""
    from training.recipes import available, load_recipe

    name = recipe.split()[0] if recipe else ""
    stem = Path(name).stem
    if stem in available():
        return load_recipe(stem)
    if Path(name).is_file():
        return load_recipe(name)
    raise ValueError(f"The weight record names recipe {recipe!r}, which is neither a recipe of "
                     f"training/recipes nor a file here; pass --recipe.")


def _load_weights(model, path: Path) -> None:
    from zoo import weights as zw

    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {path}")
    zw.load_weights_file(model, path)


def evaluate_run(run_dir: str | Path, *, weights: str = "best", split: str = "test",
                 out: str | Path | None = None, data_dir: str | None = None,
                 sets: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """Evaluates a run folder's ``best`` (or ``last``, or any file of the same model);
    returns ``(task, report)``, the report's ``files`` naming what was written."""
    import zoo
    from training.recipes import Recipe
    from training.tasks import task_class

    run = Path(run_dir)
    for name in ("recipe.json", "model.json"):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run} is not a run folder of training.train (no {name}).")
    recipe = Recipe(**json.loads((run / "recipe.json").read_text()))
    if data_dir:
        recipe = recipe.replace(data_dir=data_dir)
    recipe = apply_sets(recipe, sets or {})
    config = json.loads((run / "model.json").read_text())
    path = run / f"{weights}.weights.h5" if weights in ("best", "last") else Path(weights)
    task = task_class(recipe.task).load(recipe, config)
    model = zoo.build(config["model"], **config["builder_args"])
    _load_weights(model, path)
    out = Path(out) if out else run / "eval" / split
    report = task.evaluate(model, split, out)
    report.setdefault("weights", str(path))
    return task, report


def pixels_model(input_shape: tuple[int, int, int]):
    """The raw-pixel baseline of metric learning: the embedding is the image, flattened."""
    import keras

    image = keras.Input(tuple(input_shape), name="image")
    return keras.Model(image, keras.layers.Flatten(name="embedding")(image), name="pixels")


def evaluate(model_name: str | None, weights: str | None, *, recipe: str | None = None,
             dataset: str | None = None, split: str = "test", data_dir: str | None = None,
             out: str | Path | None = None, sets: dict[str, Any] | None = None,
             baseline: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Evaluates a weight tag (its record names the recipe) or a file with ``recipe``;
    returns ``(task, report)`` as `evaluate_run` does. Without weights the model is measured
    at its random initialisation; ``baseline="pixels"`` (metric learning) measures the
    recipe's prepared images themselves, flattened, as embeddings."""
    if baseline not in (None, "pixels"):
        raise ValueError(f"--baseline must be 'pixels'. Received: {baseline!r}")
    if baseline and (weights or model_name):
        raise ValueError("--baseline pixels measures the images themselves: drop --model and "
                         "--weights.")
    import zoo
    from training.recipes import load_recipe
    from training.tasks import task_class
    from zoo import weights as zw

    is_path = weights is not None and zw._is_path(weights)
    spec = None
    if weights and not is_path:
        if model_name is None:
            raise ValueError("--weights TAG needs --model (the architecture the tag belongs to).")
        spec = zw.get_weight_spec(model_name, weights)
    if recipe is not None:
        rec = load_recipe(recipe)
    elif spec is not None:
        rec = _recipe_of_record(spec.recipe)
    else:
        raise ValueError("Cannot tell how to prepare the inputs: pass a run folder, --recipe "
                         "(the recipe the weights were trained with), or a weight tag whose "
                         "record names one.")
    model_name = model_name or rec.model
    if model_name != rec.model:
        raise ValueError(f"--model {model_name} differs from the recipe's model {rec.model}.")
    changes = {k: v for k, v in (("dataset", dataset), ("data_dir", data_dir)) if v}
    rec = apply_sets(rec.replace(**changes), sets or {})
    task_cls = task_class(rec.task)
    if baseline:
        if rec.task != "metric":
            raise ValueError(f"--baseline pixels is a metric-learning baseline; recipe "
                             f"{rec.name!r} is a {rec.task} recipe.")
        task = task_cls.load(rec)
        model = pixels_model((*rec.image_size, rec.channels))
        run_name, described = "pixels", "none (raw pixels)"
    else:
        if spec is not None:
            task = task_cls.load(rec, {"builder_args": spec.builder_args})
            model = zoo.load(model_name, weights=weights or "default")
        else:
            task = task_cls.load(rec)
            if not weights:   # the random baseline: the recipe's seed, so that it repeats
                import keras

                keras.utils.set_random_seed(rec.seed)
            model = zoo.build(model_name, **task.builder_args)
            if weights:
                _load_weights(model, Path(weights))
        tag = Path(weights).stem.split(".")[0] if is_path else (weights or "random")
        run_name = f"{model_name}_{tag}"
        described = str(weights) if weights else "none (random initialisation)"
    out = Path(out or Path("runs") / "eval" /
               f"{run_name}_{Path(rec.dataset.split(':')[-1]).name}_{split}")
    report = task.evaluate(model, split, out)
    report.setdefault("weights", described)
    return task, report


def build_parser() -> Parser:
    p = Parser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("run", nargs="?", help="a run folder of training.train")
    p.add_argument("--model", help="zoo model name (default: the recipe's)")
    p.add_argument("--weights", help="with a run: best (default), last or a file; otherwise a "
                                     "weight tag or a .weights.h5 / .keras file")
    p.add_argument("--recipe", help="the training recipe (input preparation, dataset)")
    p.add_argument("--baseline", choices=("pixels",), help="metric learning: measure the "
                   "recipe's prepared images, flattened, as the embeddings (no network)")
    p.add_argument("--dataset", help="dataset name (default: the recipe's)")
    p.add_argument("--split", default="test")
    p.add_argument("--data-dir")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                   help="override a recipe field (e.g. --set test_fraction=0.3)")
    p.add_argument("--out", help="where metrics.json and the figure go")
    p.add_argument("--figure", metavar="PNG", help="also copy the task's figure here (the "
                   "confusion matrix, the prediction grid, the embedding scatter)")
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"))
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = build_parser()
    args = p.parse_args(argv)
    try:
        sets = parse_sets(args.set)
        if args.run:
            if args.model or args.recipe or args.dataset or args.baseline:
                raise ValueError("a run folder names its model, recipe and dataset: drop "
                                 "--model / --recipe / --dataset / --baseline.")
            task, report = evaluate_run(args.run, weights=args.weights or "best",
                                        split=args.split, out=args.out,
                                        data_dir=args.data_dir, sets=sets)
        else:
            task, report = evaluate(args.model, args.weights, recipe=args.recipe,
                                    dataset=args.dataset, split=args.split,
                                    data_dir=args.data_dir, out=args.out, sets=sets,
                                    baseline=args.baseline)
    except (ValueError, FileNotFoundError, NotADirectoryError) as e:
        p.exit(2, f"{p.prog}: error: {' '.join(str(e).split())}\n")
    print(task.format(report))
    print(f"wrote {report['files']['metrics']}")
    figure = report["files"].get("figure")
    if args.figure and figure:
        import shutil

        Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(figure, args.figure)
        print(f"wrote {args.figure}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
