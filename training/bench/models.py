"""Model rows: training and inference images/s of a zoo model against its keras.applications twin.

`bench_pair` builds both with random weights on the same input size and classes, compiles
them identically and times ``train_on_batch`` and ``predict_on_batch`` alternately on the same
batch. The layouts are equal, so the ratio zoo / reference should be about 1.0 (target:
>= 0.97). `format_table` prints the rows.
"""

from __future__ import annotations

from typing import Any, Callable

import keras

import zoo
from zoo.registry import get_entry

from training.bench.timing import (_fmt, _steps_of, _untimed_first_steps, compile_for_bench,
                                   memory_snapshot, random_batch, rates, repeat_steps, seed_models,
                                   time_trials)


# zoo name -> the keras.applications builder with the same layout.
REFERENCES: dict[str, Callable[..., keras.Model]] = {
    "resnet50": keras.applications.ResNet50,
    "resnet101": keras.applications.ResNet101,
    "resnet152": keras.applications.ResNet152,
    "vgg16": keras.applications.VGG16,
    "vgg19": keras.applications.VGG19,
    "mobilenet": keras.applications.MobileNet,
}


def build_classifier(builder: Callable[..., keras.Model], image_size: int, classes: int,
                     include_top: bool) -> keras.Model:
    """``builder(weights=None, ...)`` with its own top, or headless + average pooling + the
    same Dense softmax on either side (VGG's fully connected top needs 224x224 in the zoo)."""
    shape = (image_size, image_size, 3)
    if include_top:
        return builder(weights=None, input_shape=shape, classes=classes)
    base = builder(weights=None, include_top=False, input_shape=shape, pooling="avg")
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(base.output)
    return keras.Model(base.input, outputs, name=f"{base.name}_avg_dense")


def _zoo_builder(name: str) -> Callable[..., keras.Model]:
    return lambda **kwargs: zoo.build(name, **kwargs)


def _top_fits(zoo_name: str, image_size: int) -> bool:
    """Whether the zoo model takes its classifier top at this size (VGG's: 224x224 only)."""
    entry = get_entry(zoo_name)
    return not entry.fixed_size_top or tuple(entry.input_shape[:2]) == (image_size, image_size)


def bench_pair(zoo_name: str, reference_builder: Callable[..., keras.Model] | None = None, *,
               batch_size: int = 32, image_size: int = 224, steps: int = 10, repeats: int = 5,
               classes: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Training and inference images/s of a zoo model and its reference, alternately timed.

    Both models are built with random weights on the same input size and classes, compiled
    identically (`compile_for_bench`) and fed the same in-memory batch. Training runs
    ``model.train_on_batch``, inference ``model.predict_on_batch``; one untimed step each
    compiles, then `time_trials` alternates zoo, reference, zoo, ... With no reference the
    zoo model is timed alone (no ratio).

    Args:
        zoo_name: a registry name (``"resnet50"``).
        reference_builder: a keras.applications-style builder (``keras.applications.ResNet50``);
            default: ``REFERENCES[zoo_name]``, or none for models without one.
        batch_size, image_size, steps, repeats, classes, seed: see the CLI.

    Returns:
        ``{"model", "reference", "head", "train": {"zoo": {...}, "reference": {...}, "ratio"},
        "infer": {...}, "first_step_s", "final_loss", "jit_compile", memory}``; each side holds
        the median ``images_per_s`` and the per-trial rates and durations.
    """
    if reference_builder is None:
        reference_builder = REFERENCES.get(zoo_name)
    include_top = _top_fits(zoo_name, image_size)
    seed_models(seed)
    models = {"zoo": build_classifier(_zoo_builder(zoo_name), image_size, classes, include_top)}
    if reference_builder is not None:
        models["reference"] = build_classifier(reference_builder, image_size, classes, include_top)
    x, y = random_batch(batch_size, image_size, classes, seed)
    # Backend-native tensors, made once: no host-to-device copy inside the timed steps.
    x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    train, infer = {}, {}
    for side, model in models.items():
        compile_for_bench(model)
        train[side], infer[side] = _steps_of(model, x, y)

    row: dict[str, Any] = {
        "model": zoo_name,
        "reference": (f"keras.applications.{reference_builder.__name__}"
                      if reference_builder is not None else None),
        "head": "top" if include_top else "avg_pool+dense",
        "params": {side: int(m.count_params()) for side, m in models.items()},
        "first_step_s": {"train": _untimed_first_steps(train),
                         "infer": _untimed_first_steps(infer)},
    }
    images = batch_size * steps
    for task, step_fns in (("train", train), ("infer", infer)):
        times = time_trials({side: repeat_steps(fn, steps) for side, fn in step_fns.items()},
                            repeats)
        result = {side: rates(t, images) for side, t in times.items()}
        if "reference" in result:
            result["ratio"] = result["zoo"]["images_per_s"] / result["reference"]["images_per_s"]
        row[task] = result
    row["final_loss"] = {side: fn() for side, fn in train.items()}
    row["jit_compile"] = {side: bool(m.jit_compile) for side, m in models.items()}
    row.update(memory_snapshot())
    del models
    keras.backend.clear_session()
    return row


def format_table(pairs: list[dict[str, Any]]) -> str:
    """The model rows as an aligned text table (a GPU memory column where one was measured)."""
    header = ("model", "reference", "size", "train zoo img/s", "train ref img/s", "train ratio",
              "infer zoo img/s", "infer ref img/s", "infer ratio", "peak RSS MB")
    gpu = any(p.get("accelerator_peak_mb") is not None for p in pairs)
    if gpu:
        header += ("peak GPU MB",)
    lines = [header]
    for p in pairs:
        tr, inf = p["train"], p["infer"]
        lines.append((
            p["model"] + ("" if p["head"] == "top" else " (avg+dense)"),
            (p["reference"] or "-").replace("keras.applications.", "k.a."),
            str(p["image_size"]),
            _fmt(tr["zoo"]["images_per_s"]), _fmt(tr.get("reference", {}).get("images_per_s")),
            _fmt(tr.get("ratio"), ".3f"),
            _fmt(inf["zoo"]["images_per_s"]), _fmt(inf.get("reference", {}).get("images_per_s")),
            _fmt(inf.get("ratio"), ".3f"), _fmt(p["peak_rss_mb"], ".0f"))
            + ((_fmt(p.get("accelerator_peak_mb"), ".0f"),) if gpu else ()))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))) for row in lines)
