"""Detection: compiled greedy NMS against TensorFlow's kernel, RetinaNet inference and decoding.

`bench_nms`: `zoo.ops.non_max_suppression` (greedy, padded, in ``keras.ops``), compiled as users
run it (``tf.function`` with and without XLA, or ``jax.jit``), against
``tf.image.non_max_suppression`` on the same random boxes (`random_boxes`), with a check that
both keep the same indices; `bench_retinanet`: RetinaNet forward in ms per image at batch 1,
the shipped CPU variant (`retinanet_variants`) and the paper's ResNet-50-FPN, then
`zoo.models.detection.retinanet.decode_predictions` on their raw outputs, each as a cost ratio
against ``keras.applications.ResNet50(include_top=False)`` on the same image size.
`format_detection` prints them.
"""

from __future__ import annotations

import inspect
import statistics
import time
from typing import Any, Callable

import keras
import numpy as np

import zoo

from training.bench.timing import (_fmt, _table, _untimed_first_steps, compile_for_bench,
                                   memory_snapshot, peak_rss_mb, repeat_steps, seed_models,
                                   tensorflow_available, time_trials)


NMS_BOXES = (1000, 10000)
NMS_MAX_OUTPUTS = (100, 300)
NMS_IOU_THRESHOLD = 0.5
NMS_STEPS = 10          # NMS calls per trial (one call is well under a millisecond at 1,000 boxes)
NMS_IMAGE_SIZE = 640    # the random boxes lie in a 640x640 image ...
NMS_BOX_SIDES = (10.0, 200.0)  # ... with sides of 10-200 px
# The targets, ours / tf.image seconds: on TensorFlow within 2x of its C++ kernel; under
# JAX faster than it. (No target on torch, whose NMS here runs eagerly.)
NMS_TARGETS = {"tensorflow": ("<=", 2.0), "jax": ("<", 1.0)}
DETECTION_IMAGE_SIZES = (320, 640)
MAX_DETECTIONS = 100    # decode_predictions' default
# The shipped CPU variant's builder arguments, used until a `retinanet.bccd` weight record
# exists; then that record's `builder_args` win (`retinanet_variants`).
RETINANET_CPU_ARGS = {"backbone": "mobilenet", "backbone_args": {"alpha": 0.5}, "classes": 3,
                      "fpn_filters": 64, "head_filters": 64, "head_convs": 2, "max_level": 6,
                      "anchor_size": 2.0}
RETINANET_CPU_TAG = "bccd"
RETINANET_PAPER_ARGS = {"backbone": "resnet50", "classes": 80}
TINY_DETECTION = {"image_sizes": "64", "nms_boxes": "200", "nms_max_outputs": "20",
                  "nms_steps": 2, "max_detections": 10}


def random_boxes(num_boxes: int, *, image_size: int = NMS_IMAGE_SIZE,
                 sides: tuple[float, float] = NMS_BOX_SIDES, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Random detections: xyxy boxes inside a square image, sides uniform in ``sides`` (each
    side drawn alone), and scores uniform in [0, 1) (no ties); float32.

    Example:
        >>> boxes, scores = random_boxes(3)
        >>> boxes.shape, scores.shape
        ((3, 4), (3,))
    """
    rng = np.random.default_rng(seed)
    wh = rng.uniform(sides[0], sides[1], (num_boxes, 2))
    xy = rng.uniform(0.0, 1.0, (num_boxes, 2)) * (image_size - wh)
    boxes = np.concatenate([xy, xy + wh], axis=1).astype("float32")
    return boxes, rng.random(num_boxes).astype("float32")


def compiled_nms(iou_threshold: float, max_output_size: int
                 ) -> dict[str, tuple[str, Callable[..., Any]]]:
    """``zoo.ops.non_max_suppression`` as users run it, per backend: name -> (how, function).

    TensorFlow: ``tf.function(jit_compile=True)`` ("xla") and plain ``tf.function`` ("graph");
    JAX: ``jax.jit`` ("jit"); torch: eager (no compiled form is benchmarked). Eager NMS on
    TensorFlow or JAX runs its ``while_loop`` tile by tile from Python, which is not what a
    served model runs.
    """
    from zoo.ops.nms import non_max_suppression

    def nms(boxes, scores):
        return non_max_suppression(boxes, scores, iou_threshold, max_output_size=max_output_size)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return {"xla": ("tf.function(jit_compile=True)", tf.function(nms, jit_compile=True)),
                "graph": ("tf.function", tf.function(nms, jit_compile=False))}
    if backend == "jax":
        import jax

        return {"jit": ("jax.jit", jax.jit(nms))}
    return {"eager": ("eager", nms)}


def bench_nms(num_boxes: int, max_output_size: int, *,
              iou_threshold: float = NMS_IOU_THRESHOLD, steps: int = NMS_STEPS,
              repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """Greedy NMS, compiled (`compiled_nms`), against ``tf.image.non_max_suppression``.

    Both sides get the same `random_boxes` as tensors of their own framework, made once
    (outside the timing), and return NumPy (synchronised). One untimed call each traces and
    compiles; then `time_trials` alternates every side, ``steps`` calls a trial. The reference
    is TensorFlow's C++ kernel called eagerly, as users call it (one op); under JAX it runs in
    the same process where TensorFlow is installed and is skipped (None) where it is not.

    Returns:
        ``{"num_boxes", "max_output_size", "iou_threshold", "sides": {name: {"compiled", "ms",
        "trials_s", "first_call_s", "kept", "agree"}}, "reference": {"name", "ms", "trials_s",
        "first_call_s", "kept"} | None, "best" (the fastest of ours), "ratio" (its median
        seconds / the reference's; None without it), "ratios" (every side's), memory}``, where
        ``agree`` says the kept indices equal the reference's, in order, and the padding is -1.
    """
    boxes, scores = random_boxes(num_boxes, seed=seed)
    calls, how = {}, {}
    b, s = keras.ops.convert_to_tensor(boxes), keras.ops.convert_to_tensor(scores)
    for name, (compiled, fn) in compiled_nms(iou_threshold, max_output_size).items():
        how[name] = compiled
        calls[name] = lambda fn=fn: tuple(keras.ops.convert_to_numpy(t) for t in fn(b, s))
    reference = tensorflow_available()
    if reference:
        import tensorflow as tf

        tb, ts = tf.constant(boxes), tf.constant(scores)
        calls["reference"] = lambda: tf.image.non_max_suppression(
            tb, ts, max_output_size, iou_threshold).numpy()
    first = _untimed_first_steps(calls)
    outputs = {name: call() for name, call in calls.items()}
    times = time_trials({name: repeat_steps(call, steps) for name, call in calls.items()},
                        repeats)
    seconds = {name: statistics.median(t) / steps for name, t in times.items()}
    want = outputs.get("reference")
    sides = {}
    for name in how:
        idx, count = outputs[name]
        count = int(count)
        agree = None if want is None else bool(np.array_equal(idx[:count], want)
                                               and np.all(idx[count:] == -1))
        sides[name] = {"compiled": how[name], "ms": 1000 * seconds[name],
                       "trials_s": times[name], "first_call_s": first[name], "kept": count,
                       "agree": agree}
    best = min(how, key=seconds.get)
    row: dict[str, Any] = {
        "num_boxes": num_boxes, "max_output_size": max_output_size,
        "iou_threshold": iou_threshold, "image_size": NMS_IMAGE_SIZE,
        "box_sides": list(NMS_BOX_SIDES), "steps": steps, "repeats": repeats,
        "backend": keras.backend.backend(), "sides": sides, "best": best,
        "reference": None, "ratio": None, "ratios": {},
    }
    if reference:
        row["reference"] = {"name": "tf.image.non_max_suppression (eager)",
                            "ms": 1000 * seconds["reference"], "trials_s": times["reference"],
                            "first_call_s": first["reference"], "kept": int(len(want))}
        row["ratios"] = {name: seconds[name] / seconds["reference"] for name in how}
        row["ratio"] = row["ratios"][best]
    row.update(memory_snapshot())
    return row


def retinanet_variants() -> tuple[dict[str, dict[str, Any]], str]:
    """Builder arguments of the timed RetinaNets, and where the CPU variant's came from.

    ``cpu``: the ``retinanet.bccd`` weight record's ``builder_args`` where the registry has
    that record, else `RETINANET_CPU_ARGS`; ``paper``: ResNet-50-FPN, 80 classes (the builder's
    defaults otherwise: 256-wide FPN and heads, 4 convolutions a subnet, P3-P7).
    """
    record = zoo.describe("retinanet").get("weights", {}).get(RETINANET_CPU_TAG)
    if record and record.get("builder_args"):
        cpu = {k: v for k, v in record["builder_args"].items() if k != "input_shape"}
        source = f"the retinanet.{RETINANET_CPU_TAG} weight record"
    else:
        cpu, source = dict(RETINANET_CPU_ARGS), "RETINANET_CPU_ARGS"
    return {"cpu": cpu, "paper": dict(RETINANET_PAPER_ARGS)}, source


def bench_retinanet(image_size: int, variants: dict[str, dict[str, Any]], *, steps: int = 1,
                    repeats: int = 5, seed: int = 0, max_detections: int = MAX_DETECTIONS,
                    reference: Callable[..., keras.Model] = keras.applications.ResNet50
                    ) -> dict[str, Any]:
    """RetinaNet inference at batch 1: the forward pass and, separately, its decoding, both in
    milliseconds per image and in reference forwards.

    Each RetinaNet (``zoo.build("retinanet", input_shape=(S, S, 3), **variant)``) and the
    reference (``reference(weights=None, include_top=False)`` at the same size) is compiled
    identically (`compile_for_bench`) and run with ``predict_on_batch`` (the backend's
    compiled predict function) on one fixed random image, as `bench_unet_forward` does.
    Decoding is ``decode_predictions(outputs, (S, S), anchor_generator=model.anchor_generator,
    max_detections=...)`` on that model's raw NumPy outputs (sigmoid, top 1,000 candidates, box
    decoding, clipping, per-class NMS), called as users call it. The models are built and
    called for the first time one after another, the process's peak RSS read after each;
    then `time_trials` alternates every forward and decode.

    Returns:
        ``{"image_size", "batch_size", "reference", "models": {name: {"builder_args",
        "params", "anchors", "ms_per_image", "ratio", "trials_s", "first_call_s",
        "jit_compile", "peak_rss_mb", "decode": {"ms_per_image", "ratio", "trials_s",
        "first_call_s", "detections"}}}, memory}`` where ``ratio`` = median seconds / those of
        the reference forward (the reference has no ``decode``), and ``peak_rss_mb`` is the
        process's peak so far (it includes every model built before).
    """
    from zoo.models.detection.retinanet import decode_predictions

    shape = (image_size, image_size)
    rng = np.random.default_rng(seed)
    x = keras.ops.convert_to_tensor(rng.random((1, *shape, 3), dtype=np.float32))
    models, forwards, decodes, first, rss, detections = {}, {}, {}, {}, {}, {}
    for name in (*variants, "reference"):
        seed_models(seed)
        if name == "reference":
            model = reference(weights=None, include_top=False, input_shape=(*shape, 3))
        else:
            model = zoo.build("retinanet", input_shape=(*shape, 3), **variants[name])
        models[name] = compile_for_bench(model)  # only predict runs: the loss is never used
        forwards[name] = lambda m=model: _to_numpy(m.predict_on_batch(x))
        first.update(_untimed_first_steps({name: forwards[name]}))
        if name != "reference":
            outputs = forwards[name]()
            decodes[f"{name} decode"] = lambda m=model, o=outputs: decode_predictions(
                o, shape, anchor_generator=m.anchor_generator, max_detections=max_detections)
            start = time.perf_counter()
            detections[name] = int(decodes[f"{name} decode"]()["num_detections"][0])
            first[f"{name} decode"] = time.perf_counter() - start
        rss[name] = round(peak_rss_mb(), 1)
    calls = {**forwards, **decodes}
    times = time_trials({name: repeat_steps(call, steps) for name, call in calls.items()},
                        repeats)
    reference_s = statistics.median(times["reference"])

    def timed(name: str) -> dict[str, Any]:
        return {"ms_per_image": 1000 * statistics.median(times[name]) / steps,
                "ratio": statistics.median(times[name]) / reference_s,
                "trials_s": times[name], "first_call_s": first[name]}

    row: dict[str, Any] = {
        "image_size": image_size, "batch_size": 1, "steps": steps, "repeats": repeats,
        "max_detections": max_detections,
        "reference": f"keras.applications.{reference.__name__}(weights=None, include_top=False)",
        "models": {},
    }
    for name, model in models.items():
        m = {"builder_args": variants.get(name), "params": int(model.count_params()),
             **timed(name), "jit_compile": bool(model.jit_compile), "peak_rss_mb": rss[name]}
        if name != "reference":
            m["anchors"] = int(model.anchor_generator(shape).shape[0])
            m["decode"] = {**timed(f"{name} decode"), "detections": detections[name]}
        row["models"][name] = m
    row.update(memory_snapshot())
    del models, forwards, decodes, calls
    keras.backend.clear_session()
    return row


def _to_numpy(outputs):
    """A model's outputs (a dict of arrays or one array) as NumPy: waits for the device."""
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    return np.asarray(outputs)


def _detection_section(args, note: Callable[[str], None], save: Callable[[dict], None],
                       result: dict[str, Any]) -> None:
    """The rows of ``--suite detection``, saved after each."""
    variants, source = retinanet_variants()
    result["settings"]["detection"] = {
        "nms_boxes": args.nms_boxes, "nms_max_outputs": args.nms_max_outputs,
        "nms_steps": args.nms_steps, "nms_iou_threshold": NMS_IOU_THRESHOLD,
        "image_sizes": args.image_sizes, "retinanet_variants": variants,
        "retinanet_cpu_args_from": source, "max_detections": args.max_detections}
    detection: dict[str, Any] = {"nms": [], "retinanet": []}
    result["detection"] = detection
    if not tensorflow_available():
        note("NMS: tf.image.non_max_suppression rows skipped, TensorFlow is not installed "
             "(`import tensorflow` failed); our NMS is timed alone.")
    if keras.backend.backend() == "torch":
        note("NMS: the torch backend runs our NMS eagerly (no compiled form is benchmarked).")
    for n in args.nms_boxes:
        for m in args.nms_max_outputs:
            print(f"... NMS {n} boxes, max_output_size {m}: ours (compiled) vs tf.image",
                  flush=True)
            detection["nms"].append(bench_nms(n, m, steps=args.nms_steps,
                                              repeats=args.repeats, seed=args.seed))
            save(result)
    for size in args.image_sizes:
        print(f"... RetinaNet {size}x{size} ({', '.join(variants)}) + decode_predictions vs "
              "ResNet-50", flush=True)
        row = bench_retinanet(size, variants, steps=args.steps, repeats=args.repeats,
                              seed=args.seed, max_detections=args.max_detections)
        detection["retinanet"].append(row)
        save(result)


def _retinanet_label(name: str, args: dict[str, Any] | None) -> str:
    from zoo.models.detection.retinanet import retinanet

    if args is None:
        return "ResNet-50 backbone"
    defaults = {k: p.default for k, p in inspect.signature(retinanet).parameters.items()}
    a = {**defaults, **args}
    return (f"retinanet {name} ({a['backbone']}, fpn {a['fpn_filters']}, head "
            f"{a['head_filters']}x{a['head_convs']}, P3-P{a['max_level']}, {a['classes']} cl)")


def format_detection(detection: dict[str, Any]) -> str:
    """The detection rows: an NMS table (ms, ours / tf.image) and a RetinaNet table."""
    out = []
    if detection.get("nms"):
        lines = [("boxes", "max out", "ours", "ours ms", "tf.image ms", "ours/tf", "others",
                  "same kept")]
        for r in detection["nms"]:
            best = r["sides"][r["best"]]
            others = ", ".join(f"{name} {s['ms']:.2f} ms"
                               + (f" (x{r['ratios'][name]:.2f})" if r["ratios"] else "")
                               for name, s in r["sides"].items() if name != r["best"])
            agree = {s["agree"] for s in r["sides"].values()}
            lines.append((f"{r['num_boxes']:,}", str(r["max_output_size"]),
                          f"{r['best']} ({best['compiled']})", _fmt(best["ms"], ".3f"),
                          _fmt((r["reference"] or {}).get("ms"), ".3f"),
                          _fmt(r["ratio"], ".2f"), others or "-",
                          "-" if agree == {None} else ("yes" if agree == {True} else "NO")))
        out.append(_table(lines, left=0))
    if detection.get("retinanet"):
        lines = [("size", "model", "params", "anchors", "ms/image", "x ResNet-50", "decode ms",
                  "decode x ResNet-50", "detections", "peak RSS MB")]
        for row in detection["retinanet"]:
            for name, m in row["models"].items():
                d = m.get("decode") or {}
                lines.append((str(row["image_size"]), _retinanet_label(name, m["builder_args"]),
                              f"{m['params']:,}", _fmt(m.get("anchors"), ","),
                              _fmt(m["ms_per_image"]), _fmt(m["ratio"], ".2f"),
                              _fmt(d.get("ms_per_image")), _fmt(d.get("ratio"), ".2f"),
                              _fmt(d.get("detections"), "d"), _fmt(m["peak_rss_mb"], ".0f")))
        out.append(("\n" if out else "") + _table(lines, left=2))
    return "\n".join(out)
