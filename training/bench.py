"""Speed is measured, not guessed: throughput ratios against a reference run in the same process.

    python -m training.bench [--models resnet50,vgg16,mobilenet] [--batch-size 32]
        [--image-size 224] [--steps 10] [--repeats 5] [--mixed-precision bfloat16]
        [--pipeline-images 2000] [--data synthetic|cifar10] [--torch/--no-torch]
        [--json OUT.json] [--tiny]
    python -m training.bench --suite triplet [--triplet-batch-sizes 64,256,1024]
        [--triplet-dim 128] [--triplet-distance squared_l2] [--repeats 5] [--json OUT.json]
    python -m training.bench --suite dense [--image-sizes 256,512] [--unpool-shape 8,128,128,64]
        [--image-size 256] [--batch-size 8] [--steps 2] [--repeats 5] [--json OUT.json]

A lone absolute time says little: it depends on the machine, the drivers, the load, the
thermal state. So every number this script prints is a *ratio* of two rates measured in the
same process, alternately, on the same data:

* **zoo model vs its reference** (ResNet-50 vs ``keras.applications.ResNet50``, VGG-16 vs
  ``VGG16``, MobileNet vs ``MobileNet``): the layouts are equal, so the ratio should be about
  1.0 (target: >= 0.97) for training (``train_on_batch``) and inference (``predict_on_batch``).
* **the tf.data pipeline vs the model it feeds**: synthetic JPEGs (or CIFAR-10) decoded,
  prepared, cached, shuffled, batched and augmented by `training.data.pipeline.make_pipeline`,
  against the training rate of the CIFAR ResNet-20 on the same batch and image size
  (target: pipeline >= 5x the model, so the model never waits for data).
* **zoo ResNet-50 under Keras vs torchvision's ResNet-50** (``--torch``, default on when CUDA
  is available): both with mixed precision (Keras policy vs ``torch.autocast``) and SGD with
  momentum, torch in ``channels_last`` (target: >= 0.9).
* **batch-hard triplet loss vs a naive per-anchor loop** (``--suite triplet``): loss + gradient
  w.r.t. 128-d embeddings at B = 64, 256, 1024 (`bench_triplet`), ratio = naive seconds /
  vectorised seconds, with batch_all and semi_hard relative to batch_hard where their B x B x B
  tensors fit in 2 GiB, and the largest intermediate of each (B^2 vs B^3 floats) from shapes.
* **dense prediction** (``--suite dense``): U-Net inference at 256x256 and 512x512, batch 1,
  paper size (64 filters) and the shipped CPU variant (16 filters, batch norm), in ms per image
  and as a cost ratio against ``keras.applications.ResNet50(include_top=False)`` on a
  3-channel image of the same size (`bench_unet_forward`); max-unpooling ``onehot`` vs
  ``scatter``, forward + backward, both against ``UpSampling2D`` (`bench_unpooling`); on a GPU,
  U-Net training images/s under ``mixed_bfloat16`` vs float32 at 256x256, batch 8
  (`bench_unet_mixed_precision`; skipped with a note on a CPU).

Method (`time_trials`): build both models, compile them identically, run one untimed step of
each (tracing and XLA compilation), then time trials A, B, A, B, ... so that drift (clock
boosts, other processes, thermal throttling) hits both sides equally. A trial is ``--steps``
steps; its rate is ``batch_size * steps / seconds``; each side reports the median rate over
``--repeats`` trials, and ratio = median(zoo) / median(reference). Every step is synchronised:
``train_on_batch`` and ``predict_on_batch`` return NumPy values, which waits for the device.

The model rows only use Keras, so they run under ``KERAS_BACKEND=tensorflow``, ``jax`` or
``torch``; TensorFlow is imported only by the pipeline row, which is skipped with a note where
TensorFlow is missing (the lent GPU machine has JAX and PyTorch only). The script prints
"met" / "not met" per target and never asserts; ``--json`` writes every number, per trial,
with the device, backend, versions and settings.

Example:
    >>> from training import bench
    >>> result = bench.main(["--tiny", "--models", "mobilenet"])   # doctest: +SKIP
    >>> result["pairs"][0]["train"]["ratio"]                        # doctest: +SKIP
    1.01
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

import zoo
from zoo.registry import get_entry

# zoo name -> the keras.applications builder with the same layout.
REFERENCES: dict[str, Callable[..., keras.Model]] = {
    "resnet50": keras.applications.ResNet50,
    "resnet101": keras.applications.ResNet101,
    "resnet152": keras.applications.ResNet152,
    "vgg16": keras.applications.VGG16,
    "vgg19": keras.applications.VGG19,
    "mobilenet": keras.applications.MobileNet,
}
PIPELINE_MODEL = "resnet20_cifar"  # the model whose training rate the pipeline must outrun
TARGETS = {"train": 0.97, "infer": 0.97, "pipeline": 5.0, "torch": 0.9}
TINY = {"image_size": 32, "batch_size": 2, "steps": 2, "repeats": 2, "pipeline_images": 32,
        "pipeline_epochs": 2, "classes": 10}


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
# Model rows: zoo model vs keras.applications reference
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


# ---------------------------------------------------------------------------------------------
# The tf.data pipeline alone
# ---------------------------------------------------------------------------------------------

def write_synthetic_jpegs(root: str | Path, count: int, size: int = 32,
                          classes: tuple[str, ...] = ("a", "b"), seed: int = 0) -> Path:
    """Writes ``count`` colourful random JPEGs as ``root/<class>/<i>.jpg`` (an image folder).

    Each image is a smooth random colour field (a few random pixels upsampled) with noise, so
    it compresses like a photo rather than like pure noise or a flat colour.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR), np.int16)
        noise = rng.integers(-20, 21, size=field.shape, dtype=np.int16)
        image = np.clip(field + noise, 0, 255).astype(np.uint8)
        Image.fromarray(image).save(root / classes[i % len(classes)] / f"{i}.jpg", quality=90)
    return root


def _epoch_time(ds) -> tuple[float, int]:
    """Iterates a dataset once; returns (seconds, images)."""
    start, images = time.perf_counter(), 0
    for x, _ in ds:
        images += int(x.shape[0])
    return time.perf_counter() - start, images


def bench_pipeline(source, *, batch_size: int, image_size: int, epochs: int = 3,
                   augment: Callable | None = None) -> dict[str, Any]:
    """images/s of `make_pipeline` alone (no model), with and without its cache.

    With ``cache=True`` the first epoch decodes and fills the cache (the decode cost) and later
    epochs read the cache (the steady state of a training run); with ``cache=False`` every
    epoch decodes. Reported rates: ``first_epoch``, ``cached`` and ``no_cache`` (medians over
    the epochs after the first, and over all ``no_cache`` epochs).

    Args:
        source: a `training.data.sources.LabelledSource` (an image folder of JPEGs).
        batch_size, image_size: as the model is trained.
        epochs: passes with the cache (>= 2: one to fill it, then cached reads); the same
            number without.
        augment: a Keras layer applied per batch (e.g. ``RandomFlip``), or None.
    """
    from training.data.pipeline import make_pipeline

    epochs = max(2, epochs)
    common = dict(batch_size=batch_size, training=True, image_size=(image_size, image_size),
                  channels=3, augment=augment)
    cached = make_pipeline(source.dataset(), cache=True, **common)
    cached_times = [_epoch_time(cached) for _ in range(epochs)]
    plain = make_pipeline(source.dataset(), cache=False, **common)
    plain_times = [_epoch_time(plain) for _ in range(epochs)]
    n = cached_times[0][1]
    return {
        "source": source.name, "images": n, "epochs": epochs, "batch_size": batch_size,
        "image_size": image_size, "augment": type(augment).__name__ if augment else None,
        "first_epoch_images_per_s": n / cached_times[0][0],
        "cached_images_per_s": statistics.median(i / t for t, i in cached_times[1:]),
        "no_cache_images_per_s": statistics.median(i / t for t, i in plain_times),
        "epochs_s": {"cache": [t for t, _ in cached_times],
                     "no_cache": [t for t, _ in plain_times]},
    }


def tensorflow_available() -> bool:
    """Whether TensorFlow can be imported (the pipeline row needs it; nothing else does)."""
    return importlib.util.find_spec("tensorflow") is not None


# ---------------------------------------------------------------------------------------------
# Keras (zoo ResNet-50) vs PyTorch (torchvision ResNet-50)
# ---------------------------------------------------------------------------------------------

def torch_train_step(model, x, y, *, precision: str | None, device) -> Callable[[], Any]:
    """A PyTorch training step as usually written for speed: channels_last, SGD momentum 0.9,
    autocast to ``precision`` (``"bfloat16"`` / ``"float16"``, with a GradScaler for float16).

    The step does not synchronise (the usual asynchronous torch loop); the trial around it
    does (`torch_trial`). Returns a function running one step and returning the loss tensor.
    """
    import torch

    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    model = model.to(device, memory_format=torch.channels_last).train()
    x = x.to(device).contiguous(memory_format=torch.channels_last)
    y = y.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, None: None}[precision]
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss

    return step


def torch_trial(step: Callable[[], Any], steps: int, device) -> Callable[[], float]:
    """``steps`` torch steps, then a synchronisation (CUDA) and the last loss as a float."""
    import torch

    def trial() -> float:
        loss = None
        for _ in range(steps):
            loss = step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return float(loss.detach().float().cpu())

    return trial


def torchvision_available() -> bool:
    return (importlib.util.find_spec("torch") is not None
            and importlib.util.find_spec("torchvision") is not None)


def bench_torch_resnet50(*, batch_size: int = 32, image_size: int = 224, steps: int = 10,
                         repeats: int = 5, precision: str | None = None, classes: int = 1000,
                         device: str | None = None, zoo_name: str = "resnet50",
                         torch_builder: Callable[[int], Any] | None = None,
                         seed: int = 0) -> dict[str, Any]:
    """Training images/s of the zoo ResNet-50 under Keras vs torchvision's ResNet-50, alternately.

    The Keras side uses the current backend (JAX on the GPU machine) with the mixed-precision
    policy ``mixed_<precision>`` (set here, restored after); the torch side uses
    ``torch.autocast`` (+ GradScaler for float16) and channels_last. Same batch,
    image size, classes, optimizer (SGD momentum 0.9) and loss on both sides. The torch loop
    gets its best case: cuDNN autotuning on, steps queued without waiting and synchronised once
    per trial, while Keras' ``train_on_batch`` waits for each step's loss; a ratio near 1 is
    then not flattered.

    Args:
        batch_size, image_size, steps, repeats, classes, seed: see the CLI.
        precision: ``None`` (float32), ``"bfloat16"`` or ``"float16"``, on both sides.
        device: ``"cuda"`` or ``"cpu"``; default: CUDA when available.
        zoo_name: the Keras model (tests use a small one to exercise the torch loop on CPU).
        torch_builder: ``classes -> torch.nn.Module``; default
            ``torchvision.models.resnet50(num_classes=classes)``.

    Returns:
        ``{"keras": {...}, "torch": {...}, "ratio": keras / torch, ...}`` with median and
        per-trial images/s of each side.
    """
    with dtype_policy(precision):
        return _torch_row(batch_size=batch_size, image_size=image_size, steps=steps,
                          repeats=repeats, precision=precision, classes=classes, device=device,
                          zoo_name=zoo_name, torch_builder=torch_builder, seed=seed)


def _torch_row(*, batch_size, image_size, steps, repeats, precision, classes, device, zoo_name,
               torch_builder, seed) -> dict[str, Any]:
    import torch

    if torch_builder is None:
        import torchvision

        def torch_builder(n):
            return torchvision.models.resnet50(num_classes=n)
        torch_name = "torchvision.models.resnet50"
    else:
        torch_name = getattr(torch_builder, "__name__", "custom")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    x_np, y_np = random_batch(batch_size, image_size, classes, seed)

    seed_models(seed)
    model = compile_for_bench(zoo.build(zoo_name, weights=None,
                                        input_shape=(image_size, image_size, 3), classes=classes))
    keras_step, _ = _steps_of(model, keras.ops.convert_to_tensor(x_np),
                              keras.ops.convert_to_tensor(y_np))
    t_step = torch_train_step(torch_builder(classes),
                              torch.from_numpy(x_np).permute(0, 3, 1, 2),  # NHWC -> NCHW
                              torch.from_numpy(y_np).long(), precision=precision, device=device)
    trials = {"keras": repeat_steps(keras_step, steps), "torch": torch_trial(t_step, steps, device)}
    first = _untimed_first_steps({"keras": keras_step, "torch": torch_trial(t_step, 1, device)})
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = time_trials(trials, repeats)
    result = {side: rates(t, batch_size * steps) for side, t in times.items()}
    row = {
        "model": zoo_name, "reference": torch_name, "device": str(device),
        "keras_backend": keras.backend.backend(), "precision": precision or "float32",
        "keras_dtype_policy": keras.mixed_precision.global_policy().name,
        "keras": result["keras"], "torch": result["torch"],
        "ratio": result["keras"]["images_per_s"] / result["torch"]["images_per_s"],
        "first_step_s": first, "jit_compile": bool(model.jit_compile),
        "final_loss": {"keras": keras_step(), "torch": trials["torch"]()},
        "torch_cuda_peak_mb": (torch.cuda.max_memory_allocated() / 2**20
                               if device.type == "cuda" else None),
    }
    row.update(memory_snapshot())
    del model
    keras.backend.clear_session()
    return row


# ---------------------------------------------------------------------------------------------
# Triplet loss: vectorised batch-hard mining vs a naive per-anchor loop
# ---------------------------------------------------------------------------------------------

TRIPLET_BATCH_SIZES = (64, 256, 1024)
TRIPLET_DIM = 128
TRIPLET_PER_IDENTITY = 4  # K images per identity in the P x K batch
TRIPLET_MAX_INTERMEDIATE_BYTES = 2 * 2**30  # batch_all / semi_hard skipped above 2 GiB
FLOAT32_BYTES = 4


def naive_batch_hard_triplet_loss(labels, embeddings, margin: float = 0.2,
                                  distance: str = "squared_l2", soft_margin: bool = False):
    """Batch-hard triplet loss written as a plain Python loop over anchors (the reference).

    The same math as ``TripletLoss(margin, distance, mining="batch_hard")``, one anchor at a
    time: its distances to the whole batch (a row of the distance matrix, O(B)), the largest
    over its positives (same label, not itself), the smallest over its negatives, the hinge
    ``max(0, d_ap - d_an + margin)`` (or ``softplus(d_ap - d_an)``); the loss is the mean over
    the anchors that have both a positive and a negative (0 when none has). Written in
    ``keras.ops``, so it runs and differentiates on every backend; it issues ~10 small ops per
    anchor, which is what the vectorised loss saves.

    Args:
        labels: integer identities ``(B,)`` (read on the host: they pick the indices).
        embeddings: ``(B, D)``.
        margin, distance, soft_margin: as `zoo.losses.triplet.TripletLoss`.

    Returns:
        The scalar loss.

    Example:
        >>> x = np.array([[0., 0.], [0., 1.], [3., 0.], [3., 1.]], "float32")
        >>> float(naive_batch_hard_triplet_loss(np.array([0, 0, 1, 1]), x, margin=1.0))
        0.0
    """
    from keras import ops

    from zoo.losses.distances import check_distance, safe_sqrt

    check_distance(distance)
    labels = np.asarray(ops.convert_to_numpy(labels)).reshape(-1)
    x = ops.cast(embeddings, "float32")
    if distance == "cosine":
        x = x / ops.maximum(ops.norm(x, axis=-1, keepdims=True), 1e-12)
    sq_norms = ops.sum(ops.square(x), axis=-1)
    total, anchors = ops.zeros(()), 0
    for a in range(len(labels)):
        positives = np.flatnonzero((labels == labels[a]) & (np.arange(len(labels)) != a))
        negatives = np.flatnonzero(labels != labels[a])
        if len(positives) == 0 or len(negatives) == 0:
            continue  # nothing to mine for this anchor
        dots = ops.matmul(x, x[a])                           # (B,): row a of the Gram matrix
        if distance == "cosine":
            d = 1.0 - dots
        else:
            d = ops.maximum(sq_norms - 2.0 * dots + sq_norms[a], 0.0)
            if distance == "l2":
                d = safe_sqrt(d)
        hardest_positive = ops.max(ops.take(d, positives))
        hardest_negative = ops.min(ops.take(d, negatives))
        diff = hardest_positive - hardest_negative
        total = total + (ops.softplus(diff) if soft_margin else ops.relu(diff + margin))
        anchors += 1
    return total / max(anchors, 1)


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


def triplet_batch(batch_size: int, dim: int, per_identity: int = TRIPLET_PER_IDENTITY,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A P x K batch: ``batch_size // per_identity`` identities, ``per_identity`` each,
    unit-norm Gaussian embeddings ``(B, dim)`` float32 and int32 labels ``(B,)``."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(math.ceil(batch_size / per_identity)), per_identity)
    labels = rng.permutation(labels[:batch_size]).astype("int32")
    x = rng.normal(size=(batch_size, dim)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def triplet_largest_intermediate(mining: str, batch_size: int) -> dict[str, Any]:
    """The largest float32 tensor a triplet loss variant builds, from its shapes.

    ``batch_hard`` works on the B x B distance matrix; ``batch_all`` builds ``D[a, p] - D[a, n]``
    over B x B x B; ``semi_hard`` compares ``D[a, n] > D[a, p]`` over B x B x B; the naive loop
    holds one distance row (B) per anchor, B of them kept for the backward pass (O(B^2) in all).
    The backward pass keeps tensors of the same shapes, a few at a time.
    """
    shape = {"naive": (batch_size,), "batch_hard": (batch_size,) * 2,
             "batch_all": (batch_size,) * 3, "semi_hard": (batch_size,) * 3}[mining]
    return {"shape": list(shape), "bytes": FLOAT32_BYTES * math.prod(shape)}


def xla_temp_bytes(fn: Callable[[Any], Any], x) -> int | None:
    """Under JAX: the scratch memory XLA allocates for ``jit(value_and_grad(fn))(x)``, from the
    compiler's own memory analysis (compiled, never run: safe for B^3 shapes). Else None."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    try:
        analysis = jax.jit(jax.value_and_grad(fn)).lower(x).compile().memory_analysis()
        return None if analysis is None else int(analysis.temp_size_in_bytes)
    except Exception:  # informative only
        return None


def _seconds(times: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(times), "trials_s": list(times)}


def bench_triplet(batch_size: int, *, dim: int = TRIPLET_DIM, repeats: int = 5, warmup: int = 1,
                  margin: float = 0.2, distance: str = "squared_l2",
                  per_identity: int = TRIPLET_PER_IDENTITY,
                  max_intermediate_bytes: int = TRIPLET_MAX_INTERMEDIATE_BYTES,
                  compiled: bool = True, seed: int = 0) -> dict[str, Any]:
    """Forward + backward (gradient w.r.t. the embeddings) of batch-hard triplet loss, timed
    against the naive per-anchor loop, plus batch_all and semi_hard where their B^3 fits.

    Sides, timed alternately (`time_trials`, one loss + gradient per trial, ``warmup`` untimed
    rounds first): ``naive`` (`naive_batch_hard_triplet_loss`, eager), ``batch_hard``
    (``TripletLoss(mining="batch_hard")``, eager: the same execution mode as the naive loop),
    ``batch_hard_compiled`` (XLA: ``tf.function(jit_compile=True)`` / ``jax.jit``; not on
    torch), ``batch_all`` and ``semi_hard`` (eager; skipped, with a reason, when one B^3 float32
    tensor would exceed ``max_intermediate_bytes``).

    Args:
        batch_size: B (a P x K batch with K = ``per_identity``).
        dim: embedding size D.
        repeats, warmup: timed and untimed alternating rounds.
        margin, distance: of every loss.
        max_intermediate_bytes: the largest B^3 tensor batch_all / semi_hard may need.
        compiled: also time the XLA-compiled batch-hard loss.

    Returns:
        ``{"batch_size", "dim", "sides": {name: {"median_s", "trials_s", "loss",
        "largest_intermediate"} or {"skipped"}}, "ratio" (naive / batch_hard, median seconds),
        "ratio_compiled" (naive / batch_hard_compiled), "ratio_to_batch_hard" (batch_all and
        semi_hard seconds / batch_hard seconds), "check" (naive vs vectorised loss and gradient
        differences), "xla_temp_bytes", memory}``.
    """
    from zoo.losses.triplet import TripletLoss

    x_np, y_np = triplet_batch(batch_size, dim, per_identity, seed)
    x, labels = keras.ops.convert_to_tensor(x_np), keras.ops.convert_to_tensor(y_np)
    losses: dict[str, Callable[[Any], Any]] = {
        "naive": lambda e: naive_batch_hard_triplet_loss(y_np, e, margin, distance)}
    for mining in ("batch_hard", "batch_all", "semi_hard"):
        loss = TripletLoss(margin=margin, distance=distance, mining=mining)
        losses[mining] = lambda e, loss=loss: loss(labels, e)

    sides: dict[str, dict[str, Any]] = {}
    calls: dict[str, Callable[[], tuple[float, np.ndarray]]] = {}
    for name in ("naive", "batch_hard", "batch_hard_compiled", "batch_all", "semi_hard"):
        mining = "batch_hard" if name == "batch_hard_compiled" else name
        largest = triplet_largest_intermediate(mining, batch_size)
        sides[name] = {"largest_intermediate": largest}
        if largest["bytes"] > max_intermediate_bytes:
            sides[name]["skipped"] = (
                f"one {'x'.join(map(str, largest['shape']))} float32 tensor is "
                f"{largest['bytes'] / 2**30:.1f} GiB > {max_intermediate_bytes / 2**30:g} GiB")
            continue
        f = value_and_grad(losses[mining], compiled=name.endswith("_compiled"))
        if f is None or (name.endswith("_compiled") and not compiled):
            sides[name]["skipped"] = ("not compiled on the torch backend" if f is None
                                      else "compiled side not requested")
            continue
        calls[name] = lambda f=f: f(x)

    first = _untimed_first_steps(calls)  # tracing / XLA compilation
    times = time_trials(calls, repeats, warmup=max(0, warmup - 1))
    results = {name: call() for name, call in calls.items()}
    for name, t in times.items():
        sides[name].update(_seconds(t), loss=results[name][0], first_call_s=first[name])

    hard = sides["batch_hard"]["median_s"]
    row: dict[str, Any] = {
        "batch_size": batch_size, "dim": dim, "per_identity": per_identity, "margin": margin,
        "distance": distance, "repeats": repeats, "warmup": warmup, "sides": sides,
        "ratio": sides["naive"]["median_s"] / hard,
        "ratio_compiled": (sides["naive"]["median_s"] / sides["batch_hard_compiled"]["median_s"]
                           if "median_s" in sides["batch_hard_compiled"] else None),
        "ratio_to_batch_hard": {m: sides[m]["median_s"] / hard if "median_s" in sides[m]
                                else None for m in ("batch_all", "semi_hard")},
        "check": {
            "loss_abs_diff": abs(results["naive"][0] - results["batch_hard"][0]),
            "grad_max_abs_diff": float(np.max(np.abs(results["naive"][1]
                                                     - results["batch_hard"][1]))),
        },
        "xla_temp_bytes": ({m: xla_temp_bytes(losses[m], x)
                            for m in ("batch_hard", "batch_all", "semi_hard")}
                           if keras.backend.backend() == "jax" else None),
    }
    row.update(memory_snapshot())
    return row


def _fmt_bytes(n: float) -> str:
    """``4096`` -> ``"4 KiB"``: binary units, at most one decimal."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if n == int(n) else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def format_triplet_table(rows: list[dict[str, Any]]) -> str:
    """The triplet rows as an aligned text table of ratios and largest intermediates."""
    header = ("B", "naive/hard", "naive/hard XLA", "hard XLA speed-up", "all/hard",
              "semi/hard", "largest hard", "largest all, semi", "|dloss|", "|dgrad|")
    lines = [header]
    for r in rows:
        s = r["sides"]
        xla = s["batch_hard_compiled"].get("median_s")
        lines.append((
            str(r["batch_size"]), _fmt(r["ratio"], ".1f"), _fmt(r["ratio_compiled"], ".1f"),
            _fmt(s["batch_hard"]["median_s"] / xla if xla else None, ".1f"),
            _fmt(r["ratio_to_batch_hard"]["batch_all"], ".2f"),
            _fmt(r["ratio_to_batch_hard"]["semi_hard"], ".2f"),
            _fmt_bytes(s["batch_hard"]["largest_intermediate"]["bytes"]),
            _fmt_bytes(s["batch_all"]["largest_intermediate"]["bytes"])
            + (" (skipped)" if "skipped" in s["batch_all"] else ""),
            _fmt(r["check"]["loss_abs_diff"], ".1e"), _fmt(r["check"]["grad_max_abs_diff"], ".1e")))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in lines)


def _triplet_section(args, note: Callable[[str], None],
                     save: Callable[[dict], None], result: dict[str, Any]) -> None:
    """The triplet rows of `main` (``--suite triplet``), saved after each batch size."""
    result["triplet"] = []
    for b in args.triplet_batch_sizes:
        print(f"... triplet loss B={b} D={args.triplet_dim}", flush=True)
        row = bench_triplet(b, dim=args.triplet_dim, repeats=args.repeats, seed=args.seed,
                            distance=args.triplet_distance, compiled=True)
        for m in ("batch_all", "semi_hard", "batch_hard_compiled"):
            if "skipped" in row["sides"][m]:
                note(f"triplet B={b}: {m} skipped: {row['sides'][m]['skipped']}")
        result["triplet"].append(row)
        save(result)


# ---------------------------------------------------------------------------------------------
# Dense prediction: U-Net forward, max-unpooling, U-Net training in mixed precision
# ---------------------------------------------------------------------------------------------

DENSE_IMAGE_SIZES = (256, 512)
UNPOOL_SHAPE = (8, 128, 128, 64)  # (B, H, W, C) before pooling
TINY_DENSE = {"image_sizes": "32", "unet_filters": 4, "unpool_shape": "2,16,16,8"}


def unet_variants(filters: int | None = None) -> dict[str, dict[str, Any]]:
    """Builder arguments of the timed U-Nets: ``paper`` (64 filters, depth 4, 2 classes) and
    ``shipped`` (the CPU variant of `training.recipes.unet_membrane`: 16 filters, batch norm).
    ``filters`` replaces the filters of both (tests use tiny ones)."""
    from training.recipes.unet_membrane import RECIPE

    variants = {"paper": {"filters": 64, "depth": 4, "num_classes": 2},
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
        0, builder_args.get("num_classes", 2), (batch_size, image_size, image_size), "int32"))
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


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def _fmt(value: float | None, spec: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


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


def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per target: what was measured, the threshold, and whether it was met."""
    checks = []

    def check(name: str, value: float | None, threshold: float):
        if value is not None:
            checks.append({"target": name, "value": value, "threshold": threshold,
                           "met": bool(value >= threshold)})

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
    return checks


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("models", "triplet", "dense", "all"),
                        default="models",
                        help="models: the model, pipeline and torch rows (default); triplet: "
                             "batch-hard triplet loss vs a naive per-anchor loop; dense: U-Net "
                             "forward vs ResNet-50, max-unpooling, U-Net mixed precision "
                             "(GPU); all: models and triplet")
    parser.add_argument("--image-sizes", default=None,
                        help="dense suite: U-Net forward sizes (default 256,512)")
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
                        help="steps per trial (default 10; dense: 2)")
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
             "unpool_shape": ",".join(map(str, UNPOOL_SHAPE))}
    if args.suite == "dense":
        defaults.update(image_size=256, batch_size=8, steps=2)
    if args.tiny:
        defaults.update(TINY)
        dense.update(TINY_DENSE)
        args.pipeline_image_size = 32
    for key, value in dense.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.image_sizes = [int(v) for v in args.image_sizes.split(",") if v.strip()]
    args.unpool_shape = tuple(int(v) for v in args.unpool_shape.split(",") if v.strip())
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.triplet_batch_sizes = [int(b) for b in str(args.triplet_batch_sizes).split(",")
                                if b.strip()]
    return args


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _pipeline_section(args, note) -> dict[str, Any] | None:
    """The pipeline row (TensorFlow) or None with a printed note."""
    if not tensorflow_available():
        note("pipeline: skipped, TensorFlow is not importable here (the tf.data pipeline "
             "needs it; the model rows do not).")
        return None
    from training.data import load_source
    from training.data.folders import image_folder

    augment = keras.layers.RandomFlip("horizontal", seed=args.seed)
    if args.data == "cifar10":
        source = load_source("cifar10", "train")
        if args.pipeline_images and args.pipeline_images < len(source):
            order = np.random.default_rng(args.seed).permutation(len(source))
            source = source.subset(order[:args.pipeline_images], name="cifar10/train (subset)")
        return bench_pipeline(source, batch_size=args.batch_size,
                              image_size=args.pipeline_image_size,
                              epochs=args.pipeline_epochs, augment=augment)
    with tempfile.TemporaryDirectory(prefix="zoo_bench_") as tmp:
        write_synthetic_jpegs(tmp, args.pipeline_images, size=args.pipeline_image_size,
                              seed=args.seed)
        source = image_folder(tmp)
        result = bench_pipeline(source, batch_size=args.batch_size,
                                image_size=args.pipeline_image_size,
                                epochs=args.pipeline_epochs, augment=augment)
    result["source"] = f"{args.pipeline_images} synthetic {args.pipeline_image_size}x" \
                       f"{args.pipeline_image_size} JPEGs, 2 classes"
    return result


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
    if args.suite in ("triplet", "dense"):
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


def print_report(result: dict[str, Any]) -> None:
    """The table, the pipeline and torch lines, then one met / not met line per target."""
    s = result["settings"]
    if result.get("triplet"):
        t = s["triplet"]
        print(f"\ntriplet loss + gradient w.r.t. the embeddings, D={t['dim']}, {t['distance']}, "
              f"P x {TRIPLET_PER_IDENTITY} batches; {s['repeats']} alternating trials, medians; "
              f"{s['backend']} backend; {result['device']['summary']}")
        print(format_triplet_table(result["triplet"]))
        print("(naive/hard: naive per-anchor loop / vectorised batch_hard, both eager; "
              "naive/hard XLA: vs the compiled loss; hard XLA speed-up: eager / compiled "
              "batch_hard; all/hard, semi/hard: their time / batch_hard's, eager; largest: one "
              "float32 B x B (hard) or B x B x B (all, semi) tensor, from shapes; |dloss|, "
              "|dgrad|: naive vs vectorised)")
    if result.get("dense"):
        print(f"\nU-Net forward: predict_on_batch, batch 1, {s['steps']} steps x {s['repeats']} "
              f"alternating trials, medians; {s['precision']}; {s['backend']} backend; "
              f"{result['device']['summary']}")
        print(format_dense(result["dense"]))
        print("(x ResNet-50: median seconds / those of keras.applications.ResNet50(weights=None, "
              "include_top=False) on a 3-channel image of the same size, same process; "
              "unpooling ratios are seconds / seconds)")
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
        print(f"{t['target']} {t['value']:.2f} >= {t['threshold']:g}: "
              f"{'met' if t['met'] else 'not met'}")


if __name__ == "__main__":
    main()
