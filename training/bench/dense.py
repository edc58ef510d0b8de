"""Dense prediction: U-Net forward cost, max-unpooling, U-Net training in mixed precision.

`bench_unet_forward`: U-Net inference in ms per image at batch 1 and its cost in ResNet-50
forwards at the same size; `bench_unpooling`: max-unpooling ``onehot`` vs ``scatter``, forward
+ backward, both against ``UpSampling2D``; `bench_unet_mixed_precision`: U-Net training images/s
under ``mixed_bfloat16`` vs float32 (a GPU row: the CLI skips it on a CPU). `format_dense`
prints them.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable

import keras
import numpy as np

import zoo

from training.bench.timing import (_fmt, _steps_of, _untimed_first_steps, compile_for_bench,
                                   dtype_policy, memory_snapshot, rates, repeat_steps, seed_models,
                                   time_trials, value_and_grad)


DENSE_IMAGE_SIZES = (256, 512)
UNPOOL_SHAPE = (8, 128, 128, 64)  # (B, H, W, C) before pooling
TINY_DENSE = {"image_sizes": "32", "unet_filters": 4, "unpool_shape": "2,16,16,8"}


def unet_variants(filters: int | None = None) -> dict[str, dict[str, Any]]:
    """Builder arguments of the timed U-Nets: ``paper`` (64 filters, depth 4, 2 classes) and
    ``shipped`` (the CPU variant of `training.recipes.unet_membrane`: 16 filters, batch norm).
    ``filters`` replaces the filters of both (tests use tiny ones)."""
    from training.recipes.unet_membrane import RECIPE

    variants = {"paper": {"filters": 64, "depth": 4, "classes": 2},
                "shipped": dict(RECIPE.builder_args)}
    for args in variants.values():
        args["filters"] = filters or args["filters"]
    return variants


def bench_unet_forward(image_size: int, variants: dict[str, dict[str, Any]], *, steps: int = 2,
                       repeats: int = 5, seed: int = 0,
                       reference: Callable[..., keras.Model] = keras.applications.ResNet50
                       ) -> dict[str, Any]:
    """Milliseconds per image of U-Net inference at batch 1, and its cost in reference forwards.

    Each U-Net (``zoo.build("unet", **variant)``, 1 input channel as in the paper) and the
    reference (``reference(weights=None, include_top=False)`` on a 3-channel image of the same
    size: the backbone of a typical segmentation net) is compiled identically
    (`compile_for_bench`) and run with ``predict_on_batch`` (the models suite's inference step:
    the backend's compiled predict function, ``training=False``) on one fixed random image.
    One untimed call each compiles, then `time_trials` alternates all of them.

    Returns:
        ``{"image_size", "batch_size", "reference", "models": {name: {"ms_per_image",
        "ratio", "params", "builder_args", "trials_s", "first_call_s"}}, memory}`` where
        ``ratio`` = median seconds of the model / median seconds of the reference (a U-Net
        "costs ``ratio`` ResNet-50 forwards" at this size; the reference's own is 1).
    """
    seed_models(seed)
    shape = (image_size, image_size)
    models = {name: zoo.build("unet", input_shape=(*shape, 1), **args)
              for name, args in variants.items()}
    models["reference"] = reference(weights=None, include_top=False, input_shape=(*shape, 3))
    rng = np.random.default_rng(seed)
    calls = {}
    for name, model in models.items():
        compile_for_bench(model)  # only predict runs: the loss is never used
        x = rng.random((1, *shape, model.input_shape[-1]), dtype=np.float32)
        x = keras.ops.convert_to_tensor(x)
        calls[name] = lambda m=model, x=x: np.asarray(m.predict_on_batch(x))
    first = _untimed_first_steps(calls)
    times = time_trials({name: repeat_steps(call, steps) for name, call in calls.items()},
                        repeats)
    reference_s = statistics.median(times["reference"])
    row: dict[str, Any] = {
        "image_size": image_size, "batch_size": 1, "steps": steps, "repeats": repeats,
        "reference": f"keras.applications.{reference.__name__}(weights=None, include_top=False)"
                     ", 3 channels",
        "models": {name: {"builder_args": variants.get(name),
                          "params": int(models[name].count_params()),
                          "ms_per_image": 1000 * statistics.median(t) / steps,
                          "ratio": statistics.median(t) / reference_s,
                          "trials_s": t, "first_call_s": first[name],
                          "jit_compile": bool(models[name].jit_compile)}
                   for name, t in times.items()},
    }
    row.update(memory_snapshot())
    del models
    keras.backend.clear_session()
    return row


def bench_unpooling(shape: tuple[int, int, int, int] = UNPOOL_SHAPE, *, steps: int = 2,
                    repeats: int = 5, seed: int = 0, compiled: bool = True) -> dict[str, Any]:
    """Forward + backward of max-unpooling, ``method="onehot"`` vs ``"scatter"``, and both
    against nearest-neighbour ``keras.layers.UpSampling2D`` (the parameter-free upsampling it
    replaces) on the same tensor.

    A random ``shape`` tensor ``(B, H, W, C)`` is pooled once (`max_pool_with_argmax`); each
    side maps the pooled ``(B, H/2, W/2, C)`` back to ``(B, H, W, C)`` and differentiates
    ``sum(up(pooled * s) * w)`` (a fixed random ``w``) with respect to a scalar ``s = 1``: the
    backward pass runs through the whole upsampling, but only a scalar leaves the device, so
    no host copy dilutes the ratios. Pooled tensor, argmax and ``w`` are arguments, never
    constants of the compiled function. Compiled (``tf.function(jit_compile=True)`` /
    ``jax.jit``; eager on torch) unless ``compiled=False``; timed alternately.

    Returns:
        ``{"shape", "compiled", "sides": {onehot|scatter|upsampling: {"ms", "trials_s",
        "first_call_s"}}, "ratio" (scatter / onehot seconds), "ratio_to_upsampling" ({onehot,
        scatter}: seconds / UpSampling2D seconds), "check" (max |onehot - scatter| of the
        outputs and of the gradients w.r.t. the pooled tensor, eager), memory}``.
    """
    from zoo.layers.unpooling import max_pool_with_argmax, max_unpool

    ops = keras.ops
    if len(shape) != 4 or shape[1] % 2 or shape[2] % 2:
        raise ValueError("`shape` must be (batch, height, width, channels) with an even height "
                         f"and width (UpSampling2D doubles exactly). Received: shape={shape}")
    rng = np.random.default_rng(seed)
    pooled, argmax = max_pool_with_argmax(
        ops.convert_to_tensor(rng.normal(size=shape).astype("float32")))
    w = ops.convert_to_tensor(rng.normal(size=shape).astype("float32"))
    size = tuple(shape[1:3])
    upsample = keras.layers.UpSampling2D(2, interpolation="nearest")
    ups = {"onehot": lambda p, a: max_unpool(p, a, size, method="onehot"),
           "scatter": lambda p, a: max_unpool(p, a, size, method="scatter"),
           "upsampling": lambda p, a: upsample(p)}
    compiled = compiled and keras.backend.backend() != "torch"
    one = ops.convert_to_tensor(np.float32(1.0))
    calls = {}
    for name, up in ups.items():
        f = value_and_grad(lambda s, p, a, w, up=up: ops.sum(up(p * s, a) * w), compiled)
        calls[name] = lambda f=f: f(one, pooled, argmax, w)
    first = _untimed_first_steps(calls)
    times = time_trials({name: repeat_steps(call, steps) for name, call in calls.items()},
                        repeats)
    seconds = {name: statistics.median(t) / steps for name, t in times.items()}

    def output_and_grad(method):
        grad = value_and_grad(lambda p, a, w: ops.sum(ups[method](p, a) * w))(pooled, argmax, w)
        return ops.convert_to_numpy(ups[method](pooled, argmax)), grad[1]

    (onehot, onehot_grad), (scatter, scatter_grad) = map(output_and_grad, ("onehot", "scatter"))
    row: dict[str, Any] = {
        "shape": list(shape), "pooled_shape": list(ops.shape(pooled)), "compiled": compiled,
        "steps": steps, "repeats": repeats,
        "sides": {name: {"ms": 1000 * seconds[name], "trials_s": times[name],
                         "first_call_s": first[name]} for name in times},
        "ratio": seconds["scatter"] / seconds["onehot"],
        "ratio_to_upsampling": {m: seconds[m] / seconds["upsampling"]
                                for m in ("onehot", "scatter")},
        "check": {"output_max_abs_diff": float(np.max(np.abs(onehot - scatter))),
                  "grad_max_abs_diff": float(np.max(np.abs(onehot_grad - scatter_grad))),
                  "output_nonzero_fraction": float(np.mean(onehot != 0))},
    }
    row.update(memory_snapshot())
    return row


def bench_unet_mixed_precision(builder_args: dict[str, Any], *, image_size: int = 256,
                               batch_size: int = 8, steps: int = 10, repeats: int = 5,
                               precision: str = "bfloat16", seed: int = 0) -> dict[str, Any]:
    """Training images/s of a U-Net under ``mixed_<precision>`` vs float32, alternately timed.

    The same U-Net is built twice, once under each global policy (a layer takes the policy
    current when it is made; the previous policy is restored after), compiled identically (SGD
    with momentum 0.9, sparse categorical cross-entropy on the logits) and trained with
    ``train_on_batch`` on the same fixed batch of random images and masks. Meant for a GPU
    (bfloat16 tensor cores); it runs on a CPU, where it says little.

    Returns:
        ``{"float32": {...}, "mixed": {...}, "ratio" (mixed / float32 images/s: the speed-up),
        "compute_dtype", "first_step_s", "final_loss", ...}``; each side holds the median
        ``images_per_s`` and the per-trial rates and durations.
    """
    rng = np.random.default_rng(seed)
    x = keras.ops.convert_to_tensor(
        rng.random((batch_size, image_size, image_size, 1), dtype=np.float32))
    y = keras.ops.convert_to_tensor(rng.integers(
        0, builder_args.get("classes", 2), (batch_size, image_size, image_size), "int32"))
    models, train = {}, {}
    for side, policy in (("float32", "float32"), ("mixed", f"mixed_{precision}")):
        with dtype_policy(None):  # restores the current policy on exit
            keras.mixed_precision.set_global_policy(policy)
            seed_models(seed)
            model = zoo.build("unet", input_shape=(image_size, image_size, 1), **builder_args)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        models[side], train[side] = model, _steps_of(model, x, y)[0]
    first = _untimed_first_steps(train)
    times = time_trials({side: repeat_steps(fn, steps) for side, fn in train.items()}, repeats)
    result = {side: rates(t, batch_size * steps) for side, t in times.items()}
    row: dict[str, Any] = {
        "model": "unet", "builder_args": builder_args, "image_size": image_size,
        "batch_size": batch_size, "steps": steps, "repeats": repeats,
        "precision": f"mixed_{precision}", "float32": result["float32"], "mixed": result["mixed"],
        "ratio": result["mixed"]["images_per_s"] / result["float32"]["images_per_s"],
        "compute_dtype": {side: m.layers[-1].compute_dtype for side, m in models.items()},
        "first_step_s": first, "final_loss": {side: fn() for side, fn in train.items()},
        "jit_compile": {side: bool(m.jit_compile) for side, m in models.items()},
    }
    row.update(memory_snapshot())
    del models
    keras.backend.clear_session()
    return row


def _dense_section(args, note: Callable[[str], None], save: Callable[[dict], None],
                   result: dict[str, Any]) -> None:
    """The rows of ``--suite dense``, saved after each."""
    variants = unet_variants(args.unet_filters)
    result["settings"]["dense"] = {"image_sizes": args.image_sizes, "unet_variants": variants,
                                   "unpool_shape": list(args.unpool_shape)}
    dense: dict[str, Any] = {"forward": [], "unpooling": None, "mixed_precision": None}
    result["dense"] = dense
    for size in args.image_sizes:
        print(f"... U-Net forward {size}x{size} ({', '.join(variants)}) vs ResNet-50", flush=True)
        dense["forward"].append(bench_unet_forward(size, variants, steps=args.steps,
                                                   repeats=args.repeats, seed=args.seed))
        save(result)
    print(f"... max-unpooling {tuple(args.unpool_shape)}: onehot, scatter, UpSampling2D",
          flush=True)
    dense["unpooling"] = bench_unpooling(tuple(args.unpool_shape), steps=args.steps,
                                         repeats=args.repeats, seed=args.seed)
    save(result)
    if result["device"]["accelerator"] is None:
        note("U-Net mixed-precision training: skipped, this row needs a GPU (run it with "
             "KERAS_BACKEND=jax on the GPU machine).")
        return
    precision = args.mixed_precision or "bfloat16"
    print(f"... U-Net (paper) training {args.image_size}x{args.image_size}, batch "
          f"{args.batch_size}: mixed_{precision} vs float32", flush=True)
    dense["mixed_precision"] = bench_unet_mixed_precision(
        variants["paper"], image_size=args.image_size, batch_size=args.batch_size,
        steps=args.steps, repeats=args.repeats, precision=precision, seed=args.seed)
    save(result)


def _variant_label(name: str, args: dict[str, Any] | None) -> str:
    if args is None:
        return "ResNet-50 backbone (3 ch)"
    return (f"unet {name} (f{args['filters']}, d{args['depth']}"
            + (", bn)" if args.get("batch_norm") else ")"))


def format_dense(dense: dict[str, Any]) -> str:
    """The dense rows: a forward table (ms/image, x the reference), unpooling and training lines."""
    lines = [("size", "model", "params", "ms/image", "x ResNet-50")]
    for row in dense["forward"]:
        for name, m in row["models"].items():
            lines.append((str(row["image_size"]), _variant_label(name, m["builder_args"]),
                          f"{m['params']:,}", _fmt(m["ms_per_image"]),
                          _fmt(m["ratio"], ".2f")))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = ["\n".join("  ".join(c.ljust(w) if i == 1 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(line, widths))) for line in lines)
           ] if dense["forward"] else []
    u = dense.get("unpooling")
    if u:
        ms, up = {n: s["ms"] for n, s in u["sides"].items()}, u["ratio_to_upsampling"]
        out.append(f"\nmax-unpooling {tuple(u['pooled_shape'])} -> {tuple(u['shape'])}, "
                   f"forward + backward, {'compiled' if u['compiled'] else 'eager'}: onehot "
                   f"{ms['onehot']:.2f} ms (x{up['onehot']:.2f} UpSampling2D), scatter "
                   f"{ms['scatter']:.2f} ms "
                   f"(x{up['scatter']:.2f}), UpSampling2D {ms['upsampling']:.2f} ms; "
                   f"scatter/onehot {u['ratio']:.2f}; max |onehot - scatter|: output "
                   f"{u['check']['output_max_abs_diff']:.1e}, gradient "
                   f"{u['check']['grad_max_abs_diff']:.1e}")
    t = dense.get("mixed_precision")
    if t:
        out.append(f"\nU-Net training (f{t['builder_args']['filters']}) {t['image_size']}x"
                   f"{t['image_size']}, batch {t['batch_size']}: {t['precision']} "
                   f"{t['mixed']['images_per_s']:.1f} img/s vs float32 "
                   f"{t['float32']['images_per_s']:.1f} img/s: ratio {t['ratio']:.2f}")
    return "\n".join(out)
