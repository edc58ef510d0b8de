"""The command line: arguments, the run of a suite, the printed report and its targets.

`main` parses the flags (`parse_args`), runs the chosen suite under the dtype policy (`_run`),
writes the JSON after each row (a run cut short still leaves its rows), then prints the
tables and one "met" / "not met" line per target (`print_report`, `check_targets`); it never
asserts.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import sys
from pathlib import Path
from typing import Any, Callable

import keras

from training.bench.dense import (DENSE_IMAGE_SIZES, TINY_DENSE, UNPOOL_SHAPE, _dense_section,
                                  format_dense)
from training.bench.detection import (DETECTION_IMAGE_SIZES, MAX_DETECTIONS, NMS_BOXES,
                                      NMS_MAX_OUTPUTS, NMS_STEPS, NMS_TARGETS, TINY_DETECTION,
                                      _detection_section, format_detection)
from training.bench.models import REFERENCES, bench_pair, format_table
from training.bench.pipeline import PIPELINE_MODEL, _pipeline_section
from training.bench.pytorch import _cuda_available, bench_torch_resnet50, torchvision_available
from training.bench.timing import describe_device, dtype_policy
from training.bench.triplet import (TRIPLET_BATCH_SIZES, TRIPLET_DIM, TRIPLET_PER_IDENTITY,
                                    _triplet_section, format_triplet_table)


TARGETS = {"train": 0.97, "infer": 0.97, "pipeline": 5.0, "torch": 0.9}
# How a measured value meets its threshold: ratios of rates ">=", ratios of seconds "<=" / "<".
COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
TINY = {"image_size": 32, "batch_size": 2, "steps": 2, "repeats": 2, "pipeline_images": 32,
        "pipeline_epochs": 2, "classes": 10}


def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per target: what was measured, the threshold, and whether it was met."""
    checks = []

    def check(name: str, value: float | None, threshold: float, op: str = ">="):
        if value is not None:
            checks.append({"target": name, "value": value, "op": op, "threshold": threshold,
                           "met": bool(COMPARISONS[op](value, threshold))})

    for p in result.get("pairs", []):
        if p["reference"]:
            check(f"train ratio {p['model']}", p["train"]["ratio"], TARGETS["train"])
            check(f"infer ratio {p['model']}", p["infer"]["ratio"], TARGETS["infer"])
    pipe = result.get("pipeline")
    if pipe and "ratio_cached" in pipe:
        check(f"pipeline (cached) / {PIPELINE_MODEL} train", pipe["ratio_cached"],
              TARGETS["pipeline"])
        check(f"pipeline (no cache) / {PIPELINE_MODEL} train", pipe["ratio_no_cache"],
              TARGETS["pipeline"])
    tr = result.get("torch")
    if tr and "ratio" in tr:
        check(f"train ratio {tr['model']} keras/torch", tr["ratio"], TARGETS["torch"])
    nms = (result.get("detection") or {}).get("nms") or []
    target = NMS_TARGETS.get(result.get("settings", {}).get("backend"))
    for r in nms:
        if target is not None:
            check(f"NMS {r['num_boxes']} boxes, max {r['max_output_size']}: {r['best']} / "
                  "tf.image seconds", r["ratio"], target[1], target[0])
    agree = [s["agree"] for r in nms for s in r["sides"].values() if s["agree"] is not None]
    if agree:
        check("NMS kept indices equal tf.image's (share of rows)", sum(agree) / len(agree), 1.0)
    return checks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    # The package's docstring (imported before this module): its first line describes the CLI.
    description = sys.modules[__package__].__doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m training.bench", description=description)
    parser.add_argument("--suite", choices=("models", "triplet", "dense", "detection", "all"),
                        default="models",
                        help="models: the model, pipeline and torch rows (default); triplet: "
                             "batch-hard triplet loss vs a naive per-anchor loop; dense: U-Net "
                             "forward vs ResNet-50, max-unpooling, U-Net mixed precision "
                             "(GPU); detection: compiled NMS vs tf.image, RetinaNet forward "
                             "and decoding vs ResNet-50; all: models and triplet")
    parser.add_argument("--image-sizes", default=None,
                        help="dense suite: U-Net forward sizes (default 256,512); detection "
                             "suite: RetinaNet sizes (default 320,640)")
    parser.add_argument("--nms-boxes", default=None,
                        help="detection suite: random boxes per NMS row (default 1000,10000)")
    parser.add_argument("--nms-max-outputs", default=None,
                        help="detection suite: max_output_size of the NMS rows, each with every "
                             "--nms-boxes (default 100,300)")
    parser.add_argument("--nms-steps", type=int, default=None,
                        help=f"detection suite: NMS calls per trial (default {NMS_STEPS})")
    parser.add_argument("--max-detections", type=int, default=None,
                        help="detection suite: decode_predictions' max_detections (default "
                             f"{MAX_DETECTIONS})")
    parser.add_argument("--unet-filters", type=int, default=None,
                        help="dense suite: replace the filters of every U-Net (tests; default: "
                             "64 paper, 16 shipped)")
    parser.add_argument("--unpool-shape", default=None,
                        help="dense suite: B,H,W,C before pooling (default 8,128,128,64)")
    parser.add_argument("--triplet-batch-sizes", default=",".join(map(str, TRIPLET_BATCH_SIZES)),
                        help="triplet suite: comma-separated batch sizes (default 64,256,1024)")
    parser.add_argument("--triplet-dim", type=int, default=TRIPLET_DIM,
                        help=f"triplet suite: embedding size (default {TRIPLET_DIM})")
    parser.add_argument("--triplet-distance", default="squared_l2",
                        choices=("squared_l2", "l2", "cosine"),
                        help="triplet suite: the distance (default squared_l2, the loss's)")
    parser.add_argument("--models", default="resnet50,vgg16,mobilenet",
                        help=f"comma-separated zoo names; references: {', '.join(REFERENCES)}")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default 32 (dense: 8, the training row's)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="default 224 (dense: 256, the training row's)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per trial (default 10; dense: 2; detection: 1)")
    parser.add_argument("--repeats", type=int, default=None, help="trials per side (default 5)")
    parser.add_argument("--classes", type=int, default=None, help="default 1000")
    parser.add_argument("--mixed-precision", choices=("bfloat16", "float16"), default=None)
    parser.add_argument("--data", default="synthetic", choices=("synthetic", "cifar10"),
                        help="pipeline input: synthetic JPEGs, or the CIFAR-10 train zip")
    parser.add_argument("--pipeline-images", type=int, default=None,
                        help="images in the pipeline benchmark (default 2000)")
    parser.add_argument("--pipeline-image-size", type=int, default=32,
                        help=f"pipeline and {PIPELINE_MODEL} image size (default 32, CIFAR's)")
    parser.add_argument("--pipeline-epochs", type=int, default=None, help="default 3")
    parser.add_argument("--torch", action=argparse.BooleanOptionalAction, default=None,
                        help="zoo ResNet-50 (Keras) vs torchvision ResNet-50; default: on "
                             "when CUDA is available")
    parser.add_argument("--json", default=None, help="write every number to this file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true",
                        help="32x32, batch 2, 2 steps, 2 repeats, 32 pipeline images (smoke test)")
    args = parser.parse_args(argv)
    defaults = {"image_size": 224, "batch_size": 32, "steps": 10, "repeats": 5,
                "pipeline_images": 2000, "pipeline_epochs": 3, "classes": 1000}
    dense = {"image_sizes": ",".join(map(str, DENSE_IMAGE_SIZES)),
             "unpool_shape": ",".join(map(str, UNPOOL_SHAPE)),
             "nms_boxes": ",".join(map(str, NMS_BOXES)),
             "nms_max_outputs": ",".join(map(str, NMS_MAX_OUTPUTS)),
             "nms_steps": NMS_STEPS, "max_detections": MAX_DETECTIONS}
    if args.suite == "dense":
        defaults.update(image_size=256, batch_size=8, steps=2)
    if args.suite == "detection":
        defaults.update(steps=1)
        dense["image_sizes"] = ",".join(map(str, DETECTION_IMAGE_SIZES))
    if args.tiny:
        defaults.update(TINY)
        dense.update(TINY_DENSE)
        if args.suite == "detection":
            dense.update(TINY_DETECTION)
        args.pipeline_image_size = 32
    for key, value in dense.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("image_sizes", "nms_boxes", "nms_max_outputs"):
        setattr(args, key, [int(v) for v in getattr(args, key).split(",") if v.strip()])
    args.unpool_shape = tuple(int(v) for v in args.unpool_shape.split(",") if v.strip())
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.triplet_batch_sizes = [int(b) for b in str(args.triplet_batch_sizes).split(",")
                                if b.strip()]
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the benchmark, prints the table and target lines, optionally writes JSON.

    Returns:
        Everything measured: ``{"settings", "device", "pairs", "pipeline", "torch",
        "targets", "notes"}``.
    """
    args = parse_args(argv)
    args.argv = [str(a) for a in argv] if argv is not None else sys.argv[1:]
    notes: list[str] = []

    def note(text: str):
        notes.append(text)
        print(f"note: {text}", flush=True)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.suite in ("triplet", "dense", "detection"):
        args.torch = False  # the torch row belongs to the models suite
    args.torch = args.torch if args.torch is not None else _cuda_available()
    if args.torch and keras.backend.backend() == "jax":
        # JAX takes 75% of GPU memory when it starts unless told not to; torch needs room too.
        # (No effect when JAX has already started, as inside a test session.)
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    def save(result: dict[str, Any]):
        """Writes what is measured so far: a run cut short (a time limit) still leaves rows."""
        if args.json:
            result["notes"] = notes
            result["targets"] = check_targets(result)
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(result, indent=2, default=str))

    with dtype_policy(args.mixed_precision):
        result = _run(args, models, note, save)
    result["notes"] = notes
    result["targets"] = check_targets(result)
    print_report(result)
    if args.json:
        save(result)
        print(f"wrote {args.json}")
    return result


def _run(args: argparse.Namespace, models: list[str], note: Callable[[str], None],
         save: Callable[[dict], None]) -> dict:
    """The measurements of `main`, under the dtype policy it set; ``save`` after each row."""
    result: dict[str, Any] = {
        "settings": {"backend": keras.backend.backend(), "keras": keras.__version__,
                     "python": platform.python_version(), "batch_size": args.batch_size,
                     "image_size": args.image_size, "steps": args.steps,
                     "repeats": args.repeats, "classes": args.classes,
                     "precision": keras.mixed_precision.global_policy().name,
                     "pipeline_image_size": args.pipeline_image_size, "data": args.data,
                     "torch": args.torch,
                     "argv": args.argv},
        "device": describe_device(), "pairs": [], "pipeline": None, "torch": None,
    }
    print(f"backend {keras.backend.backend()} | keras {keras.__version__} | "
          f"{result['device']['summary']} | batch {args.batch_size} | "
          f"precision {result['settings']['precision']}", flush=True)
    if args.suite == "dense":
        _dense_section(args, note, save, result)
        return result
    if args.suite == "detection":
        _detection_section(args, note, save, result)
        return result
    if args.suite in ("triplet", "all"):
        result["settings"]["triplet"] = {"batch_sizes": args.triplet_batch_sizes,
                                         "dim": args.triplet_dim,
                                         "distance": args.triplet_distance}
        _triplet_section(args, note, save, result)
    if args.suite == "triplet":
        return result
    common = dict(batch_size=args.batch_size, steps=args.steps, repeats=args.repeats,
                  classes=args.classes, seed=args.seed)
    for name in models:
        if name not in REFERENCES:
            note(f"{name}: no keras.applications reference; timed alone.")
        print(f"... {name}", flush=True)
        row = bench_pair(name, image_size=args.image_size, **common)
        row["image_size"] = args.image_size
        result["pairs"].append(row)
        save(result)

    print(f"... {PIPELINE_MODEL} (the pipeline ratio's denominator)", flush=True)
    denominator = bench_pair(PIPELINE_MODEL, None, image_size=args.pipeline_image_size,
                             **common)
    denominator["image_size"] = args.pipeline_image_size
    result["pairs"].append(denominator)
    save(result)

    print("... tf.data pipeline", flush=True)
    pipe = _pipeline_section(args, note)
    if pipe is not None:
        model_rate = denominator["train"]["zoo"]["images_per_s"]
        pipe.update(model=PIPELINE_MODEL, model_train_images_per_s=model_rate,
                    ratio_first_epoch=pipe["first_epoch_images_per_s"] / model_rate,
                    ratio_cached=pipe["cached_images_per_s"] / model_rate,
                    ratio_no_cache=pipe["no_cache_images_per_s"] / model_rate)
        result["pipeline"] = pipe
        save(result)

    if args.torch:
        if not torchvision_available():
            note("torch row: skipped, torch and torchvision are needed "
                 "(`import torchvision` failed).")
        else:
            print("... zoo resnet50 (Keras) vs torchvision resnet50", flush=True)
            result["torch"] = bench_torch_resnet50(
                image_size=args.image_size, precision=args.mixed_precision, **common)
    return result


def _print_section(result: dict[str, Any], title: str, table: str, legend: str) -> None:
    """A suite's table under its title (+ backend and device) with its legend below."""
    print(f"\n{title}; {result['settings']['backend']} backend; {result['device']['summary']}")
    print(table)
    print(f"({legend})")


def print_report(result: dict[str, Any]) -> None:
    """The table, the pipeline and torch lines, then one met / not met line per target."""
    s = result["settings"]
    if result.get("triplet"):
        t = s["triplet"]
        _print_section(
            result, f"triplet loss + gradient w.r.t. the embeddings, D={t['dim']}, "
            f"{t['distance']}, P x {TRIPLET_PER_IDENTITY} batches; {s['repeats']} alternating "
            "trials, medians", format_triplet_table(result["triplet"]),
            "naive/hard: naive per-anchor loop / vectorised batch_hard, both eager; naive/hard "
            "XLA: vs the compiled loss; hard XLA speed-up: eager / compiled batch_hard; "
            "all/hard, semi/hard: their time / batch_hard's, eager; largest: one float32 B x B "
            "(hard) or B x B x B (all, semi) tensor, from shapes; |dloss|, |dgrad|: naive vs "
            "vectorised")
    if result.get("dense"):
        _print_section(
            result, f"U-Net forward: predict_on_batch, batch 1, {s['steps']} steps x "
            f"{s['repeats']} alternating trials, medians; {s['precision']}",
            format_dense(result["dense"]),
            "x ResNet-50: median seconds / those of keras.applications.ResNet50(weights=None, "
            "include_top=False) on a 3-channel image of the same size, same process; "
            "unpooling ratios are seconds / seconds")
    if result.get("detection"):
        d = s["detection"]
        _print_section(
            result, f"detection: NMS {d['nms_steps']} calls, RetinaNet batch 1 x {s['steps']} "
            f"steps, x {s['repeats']} alternating trials, medians; {s['precision']}",
            format_detection(result["detection"]),
            "NMS: random xyxy boxes in 640x640, sides 10-200 px, IoU threshold "
            f"{d['nms_iou_threshold']}; ours: zoo.ops.non_max_suppression compiled, the faster "
            "form; ours/tf: its median seconds / tf.image.non_max_suppression's (eager, "
            "TensorFlow's kernel), lower is faster; same kept: identical kept indices. "
            "RetinaNet: predict_on_batch; decode: decode_predictions on the raw outputs; "
            "x ResNet-50: median seconds / those of keras.applications.ResNet50(weights=None, "
            "include_top=False) forward at the same size, same process; peak RSS: the "
            "process's so far")
    if result.get("pairs"):
        print()
        print(f"train: train_on_batch, infer: predict_on_batch; batch {s['batch_size']}, "
              f"{s['steps']} steps x {s['repeats']} alternating trials, medians; "
              f"{s['precision']}; {s['backend']} backend; {result['device']['summary']}")
        print(format_table(result["pairs"]))
        print("(ratio = zoo / reference; peak memory is the process's peak so far, so it only "
              "grows down the table)")
    pipe = result.get("pipeline")
    if pipe:
        print(f"\npipeline ({pipe['source']}, batch {pipe['batch_size']}, "
              f"{pipe['image_size']}x{pipe['image_size']}, augment {pipe['augment']}): "
              f"first epoch {pipe['first_epoch_images_per_s']:.0f} img/s, "
              f"cached {pipe['cached_images_per_s']:.0f} img/s, "
              f"no cache {pipe['no_cache_images_per_s']:.0f} img/s; "
              f"{pipe['model']} trains at {pipe['model_train_images_per_s']:.1f} img/s -> "
              f"x{pipe['ratio_cached']:.1f} cached, x{pipe['ratio_no_cache']:.1f} no cache")
    tr = result.get("torch")
    if tr:
        print(f"\n{tr['model']} keras/{tr['keras_backend']} ({tr['keras_dtype_policy']}) "
              f"{tr['keras']['images_per_s']:.1f} img/s vs {tr['reference']} on {tr['device']} "
              f"({tr['precision']}, channels_last) {tr['torch']['images_per_s']:.1f} img/s: "
              f"ratio {tr['ratio']:.3f}")
    print()
    for t in result["targets"]:
        print(f"{t['target']} {t['value']:.2f} {t.get('op', '>=')} {t['threshold']:g}: "
              f"{'met' if t['met'] else 'not met'}")
