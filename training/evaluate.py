"""Evaluate a classifier on a named split: ``python -m training.evaluate``.

    python -m training.evaluate --model lenet5 --weights mnist --dataset mnist --split test
    python -m training.evaluate --recipe resnet20_cifar10 --weights runs/r20/best.weights.h5

Prints and writes (to ``--out``, default ``runs/eval/<model>_<dataset>_<split>``) top-1 and
top-5 accuracy, per-class precision / recall / F1 and support, ``metrics.json`` and
``confusion.png``. The input preparation (size, channels, pad / resize) comes from the recipe
(``--recipe``, or the weight record's ``recipe`` field when ``--weights`` is a tag), so a
model is judged on exactly the inputs it was trained on.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger("training.evaluate")


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


def predict_source(model, source, recipe, batch_size: int = 256) -> np.ndarray:
    """Model scores for every image of a `LabelledSource`, prepared as the recipe says."""
    import keras

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


def evaluate(model_name: str | None, weights: str | None, *, recipe: str | None = None,
             dataset: str | None = None, split: str = "test", data_dir: str | None = None,
             out: str | Path | None = None, batch_size: int = 256) -> dict[str, Any]:
    """Loads a model and its weights, evaluates it on ``dataset``'s ``split``, writes the files.

    Returns the report (see `classification_report`) with ``files`` added.
    """
    import zoo
    from training.data import load_source
    from training.plots import plot_confusion_matrix
    from training.recipes import load_recipe
    from zoo import weights as zw

    is_path = weights is not None and Path(weights).suffix in (".h5", ".keras")
    if recipe is None and weights and not is_path:
        spec = zw.get_weight_spec(model_name, weights)
        recipe = spec.recipe.split()[0] if spec.recipe else None
    if recipe is None:
        raise ValueError("Cannot tell how to prepare the inputs: pass --recipe (the recipe the "
                         "weights were trained with), or a weight tag whose record names one.")
    rec = load_recipe(recipe)
    model_name = model_name or rec.model
    if model_name != rec.model:
        raise ValueError(f"--model {model_name} differs from the recipe's model {rec.model}.")
    dataset = dataset or rec.dataset
    builder_args = dict(rec.builder_args)
    builder_args.setdefault("input_shape", (*rec.image_size, rec.channels))
    if is_path:
        model = zoo.build(model_name, weights=str(weights), **builder_args)
    else:
        model = zoo.load(model_name, weights=weights or "default")
    source = load_source(dataset, split, data_dir or rec.data_dir)
    report = classification_report(source.labels, predict_source(model, source, rec, batch_size),
                                   source.class_names)
    report.update(model=model_name, weights=str(weights), dataset=dataset, split=split,
                  recipe=rec.name)
    out = Path(out or Path("runs") / "eval" / f"{model_name}_{dataset.replace(':', '_')}_{split}")
    out.mkdir(parents=True, exist_ok=True)
    png = plot_confusion_matrix(np.array(report["confusion"]), source.class_names,
                                out / "confusion.png",
                                title=f"{model_name} on {dataset} {split}: "
                                      f"top-1 {report['acc@1']:.4f}")
    report["files"] = {"metrics": str(out / "metrics.json"), "confusion": str(png)}
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="zoo model name (default: the recipe's)")
    p.add_argument("--weights", help="a weight tag or a .weights.h5 / .keras file")
    p.add_argument("--recipe", help="the training recipe (input preparation, dataset)")
    p.add_argument("--dataset", help="dataset name (default: the recipe's)")
    p.add_argument("--split", default="test")
    p.add_argument("--data-dir")
    p.add_argument("--out")
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args(argv)
    try:
        report = evaluate(args.model, args.weights, recipe=args.recipe, dataset=args.dataset,
                          split=args.split, data_dir=args.data_dir, out=args.out,
                          batch_size=args.batch_size)
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e))
    print(format_report(report))
    print(f"wrote {report['files']['metrics']} and {report['files']['confusion']}")
    return report


if __name__ == "__main__":
    main()
