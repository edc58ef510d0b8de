"""The shared measurement: alternating trials, rates, and the same conditions for both sides.

Method (`time_trials`): build both models, compile them identically, run one untimed step of
each (tracing and XLA compilation), then time trials A, B, A, B, ... so that drift (clock
boosts, other processes, thermal throttling) hits both sides equally. A trial is ``--steps``
steps; its rate is ``batch_size * steps / seconds``; each side reports the median rate over
``--repeats`` trials, and ratio = median(zoo) / median(reference). Every step is synchronised:
``train_on_batch`` and ``predict_on_batch`` return NumPy values, which waits for the device.

Also here, for every suite: the machine and its memory as written into each row
(`describe_device`, `memory_snapshot`), seeding (`seed_models`), the dtype policy
(`dtype_policy`), the fixed batch and the one compile configuration (`random_batch`,
`compile_for_bench`), synchronised steps (`_steps_of`, `_untimed_first_steps`), the backend's
autodiff synchronised to NumPy (`value_and_grad`) and the tables' number format and
alignment (`_fmt`, `_table`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

def time_trials(fns: dict[str, Callable[[], Any]], repeats: int,
                warmup: int = 0) -> dict[str, list[float]]:
    """Times each function ``repeats`` times, alternating: A, B, A, B, ...

    Alternating (rather than all of A, then all of B) spreads slow drift of the machine (clock
    boost, other processes, heat) evenly over both sides, so their ratio stays honest.

    Args:
        fns: name -> a function that runs one trial and returns only when the work is done
            (synchronised: convert a device result to a Python float or NumPy array).
        repeats: timed trials per function.
        warmup: untimed alternating rounds before (compilation, caches, autotuning).

    Returns:
        name -> ``repeats`` wall-clock durations in seconds, in trial order.

    Example:
        >>> times = time_trials({"a": lambda: sum(range(1000)), "b": lambda: None}, repeats=3)
        >>> [len(t) for t in times.values()]
        [3, 3]
    """
    if repeats < 1:
        raise ValueError(f"`repeats` must be >= 1. Received: {repeats}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def rates(times: list[float], images_per_trial: int) -> dict[str, Any]:
    """Per-trial images/s and their median, from trial durations."""
    per_trial = [images_per_trial / t for t in times]
    return {"images_per_s": statistics.median(per_trial), "trials_images_per_s": per_trial,
            "trials_s": list(times)}


def repeat_steps(step: Callable[[], Any], steps: int) -> Callable[[], Any]:
    """A trial: ``steps`` calls of ``step`` (each synchronised), returning the last result."""
    def trial():
        result = None
        for _ in range(steps):
            result = step()
        return result
    return trial


# ---------------------------------------------------------------------------------------------
# Machine description and memory
# ---------------------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """The process's peak resident memory so far (MiB; Linux reports ``ru_maxrss`` in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def accelerator_peak_mb() -> float | None:
    """Peak accelerator memory of this process so far (MiB), where the backend reports it.

    JAX: ``peak_bytes_in_use`` of the first device (GPU only; CPU devices report nothing).
    TensorFlow: ``get_memory_info("GPU:0")["peak"]``. Torch backend: ``max_memory_allocated``.
    """
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            peak = stats.get("peak_bytes_in_use")
            return None if peak is None else peak / 2**20
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.max_memory_allocated() / 2**20
    except Exception:  # memory statistics are informative only
        return None
    return None


def memory_snapshot() -> dict[str, float | None]:
    return {"peak_rss_mb": round(peak_rss_mb(), 1), "accelerator_peak_mb": accelerator_peak_mb()}


def describe_device() -> dict[str, Any]:
    """The CPU (model, cores usable by this process) and the backend's accelerator, if any."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info: dict[str, Any] = {"cpu": cpu, "cpu_cores": cores, "accelerator": None}
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            d = jax.devices()[0]
            if d.platform != "cpu":
                count = len(jax.devices())
                info["accelerator"] = f"{d.device_kind} ({d.platform}, {count} device(s))"
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
                info["accelerator"] = f"{name} ({len(gpus)} device(s))"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                info["accelerator"] = torch.cuda.get_device_name(0)
    except Exception as e:  # pragma: no cover - description only
        info["accelerator_error"] = str(e)
    info["summary"] = info["accelerator"] or f"CPU: {cpu}, {cores} cores"
    return info


# ---------------------------------------------------------------------------------------------
# Setup shared by the suites: seeding, dtype policy, batch, compile, steps
# ---------------------------------------------------------------------------------------------

def seed_models(seed: int) -> None:
    """Seeds Keras' weight initialisers, NumPy and Python (`keras.utils.set_random_seed`).

    That function also seeds TensorFlow when it is installed, importing it: under the JAX or
    torch backend that would load TensorFlow into a model row (seconds, and hundreds of MB of
    RSS in the memory column). There, rows skip the seed: weight values do not change speed.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules \
            or not tensorflow_available():
        keras.utils.set_random_seed(seed)


@contextlib.contextmanager
def dtype_policy(precision: str | None):
    """Within: Keras' global policy ``mixed_<precision>`` (or unchanged for None); restored after.

    Set before building: a layer takes the policy that is current when it is made.
    """
    previous = keras.mixed_precision.global_policy()
    if precision:
        keras.mixed_precision.set_global_policy(f"mixed_{precision}")
    try:
        yield keras.mixed_precision.global_policy().name
    finally:
        keras.mixed_precision.set_global_policy(previous)


def random_batch(batch_size: int, image_size: int, classes: int, seed: int = 0):
    """One fixed batch: images uniform in [0, 1] ``(B, S, S, 3)`` float32, integer labels."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, image_size, image_size, 3), dtype=np.float32)
    y = rng.integers(0, classes, size=(batch_size,)).astype("int32")
    return x, y


def compile_for_bench(model: keras.Model) -> keras.Model:
    """The one compile configuration of every benchmarked model: SGD with momentum 0.9,
    sparse categorical cross-entropy, no metrics, the backend's default ``jit_compile``."""
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    return model


def _steps_of(model: keras.Model, x, y) -> tuple[Callable[[], float], Callable[[], Any]]:
    """Synchronised single-step callables: a training step (returns the loss as a float) and an
    inference step (returns NumPy probabilities)."""
    def train_step() -> float:
        return float(np.asarray(model.train_on_batch(x, y)).ravel()[0])

    def infer_step():
        return np.asarray(model.predict_on_batch(x))

    return train_step, infer_step


def _untimed_first_steps(steps: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Runs each step once (tracing + compilation) and returns how long that took."""
    first = {}
    for name, step in steps.items():
        start = time.perf_counter()
        step()
        first[name] = time.perf_counter() - start
    return first


def tensorflow_available() -> bool:
    """Whether TensorFlow can be imported (the pipeline row needs it; nothing else does)."""
    return importlib.util.find_spec("tensorflow") is not None


# ---------------------------------------------------------------------------------------------
# Gradients: the backend's own autodiff, synchronised (triplet and dense suites)
# ---------------------------------------------------------------------------------------------

def value_and_grad(fn: Callable[..., Any], compiled: bool = False
                   ) -> Callable[..., tuple[float, np.ndarray]] | None:
    """``(x, *args) -> (fn(x, *args), d fn / d x)`` with the backend's own autodiff,
    synchronised to NumPy. Further arguments are passed through, not differentiated (as
    arguments, so a compiled function does not embed them as constants).

    TensorFlow: ``tf.GradientTape`` (compiled: ``tf.function(jit_compile=True)``, XLA as Keras'
    ``jit_compile="auto"`` picks); JAX: ``jax.value_and_grad`` (compiled: ``jax.jit``); torch:
    ``torch.autograd.grad`` (compiled: None, ``torch.compile`` is not benchmarked). Returning
    NumPy values makes every call wait for the device.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        f = jax.value_and_grad(fn)
        f = jax.jit(f) if compiled else f

        def call(x, *args):
            value, grad = f(x, *args)
            return float(value), np.asarray(grad)
        return call
    if backend == "tensorflow":
        import tensorflow as tf

        def tape_grad(x, *args):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = fn(x, *args)
            return value, tape.gradient(value, x)
        f = tf.function(tape_grad, jit_compile=True) if compiled else tape_grad

        def call(x, *args):
            value, grad = f(x, *args)
            return float(value), grad.numpy()
        return call
    if backend == "torch":
        if compiled:
            return None
        import torch

        def call(x, *args):
            x = x.detach().requires_grad_(True)
            value = fn(x, *args)
            (grad,) = torch.autograd.grad(value, x)
            return float(value.detach().cpu()), grad.detach().cpu().numpy()
        return call
    raise ValueError(f"No autodiff for the {backend!r} backend.")


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def _fmt(value: float | None, spec: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _table(lines: list[tuple[str, ...]], left: int = 1) -> str:
    """Rows of strings as aligned text: the first ``left`` columns left-aligned, the rest right."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) if i < left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(line, widths))) for line in lines)
