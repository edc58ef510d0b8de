"""The tf.data pipeline alone: images/s of `make_pipeline`, to set against the model it feeds.

`bench_pipeline` reads synthetic JPEGs (`write_synthetic_jpegs`) or CIFAR-10 through
`training.data.pipeline.make_pipeline` with and without its cache, no model attached; the CLI
divides its rates by the training rate of ``PIPELINE_MODEL`` (target: >= 5x, so the model
never waits for data). The only row that needs TensorFlow, imported lazily: `_pipeline_section`
skips it with a note where TensorFlow is missing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from training.bench.timing import tensorflow_available


PIPELINE_MODEL = "resnet20_cifar"  # the model whose training rate the pipeline must outrun


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
