"""The tf.data input pipeline of the course: decode -> prepare -> cache -> shuffle -> batch ->
augment -> prefetch, every map parallel (``AUTOTUNE``).

    train_ds = make_pipeline(source.dataset(), batch_size=128, training=True,
                             image_size=(32, 32), channels=3, augment=augmenter)

Order matters for speed: the deterministic work (decode, convert, pad / resize) runs once and
is cached; shuffling happens after the cache (a new order every epoch), and the random
augmentations run per batch after it, as vectorised Keras layers, so every epoch sees new
variants. Prefetching overlaps the pipeline with the training step.
"""

from __future__ import annotations

from typing import Callable

PAD_OR_RESIZE = ("pad", "resize", "none")


def prepare_image(image, *, image_size: tuple[int, int] | None, channels: int | None,
                  fit: str = "resize"):
    """uint8 ``(H, W, C)`` -> float32 ``(h, w, channels)`` in [0, 1] (TensorFlow ops).

    Args:
        image_size: the model's input size; ``None`` keeps the size.
        channels: 1 or 3; grey images are repeated to 3 channels, colour ones averaged to 1.
        fit: ``"pad"`` centres the image on a zero canvas (MNIST 28x28 -> LeNet's 32x32, as
            LeCun et al. did), ``"resize"`` resizes bilinearly, ``"none"`` requires the size.
    """
    import tensorflow as tf

    if fit not in PAD_OR_RESIZE:
        raise ValueError(f"`fit` must be one of {PAD_OR_RESIZE}. Received: fit={fit!r}")
    image = tf.image.convert_image_dtype(image, tf.float32)  # uint8 -> [0, 1]
    if channels == 3:
        image = tf.cond(tf.shape(image)[-1] == 1, lambda: tf.repeat(image, 3, axis=-1),
                        lambda: image[..., :3])
    elif channels == 1:
        image = tf.cond(tf.shape(image)[-1] == 1, lambda: image,
                        lambda: tf.reduce_mean(image[..., :3], axis=-1, keepdims=True))
    if image_size is not None:
        if fit == "pad":
            image = tf.image.resize_with_crop_or_pad(image, image_size[0], image_size[1])
        elif fit == "resize":
            image = tf.image.resize(image, image_size, antialias=True)
        image = tf.ensure_shape(image, (image_size[0], image_size[1], channels))
    return image


def make_pipeline(ds, *, batch_size: int, training: bool,
                  image_size: tuple[int, int] | None = None, channels: int | None = None,
                  fit: str = "resize", augment: Callable | None = None,
                  batch_map: Callable | None = None, normalize: Callable | None = None,
                  shuffle_buffer: int | None = None, seed: int = 0, cache: bool | str = True,
                  repeat: bool = False, drop_remainder: bool = False):
    """Turns a dataset of ``{"image", "label"}`` dicts into batches of ``(x, y)`` tuples.

    Args:
        ds: elements ``{"image": uint8 (H, W, C), "label": int}``.
        batch_size: images per batch.
        training: shuffle and augment (only then).
        image_size, channels, fit: see `prepare_image`.
        augment: a Keras layer (or any function) applied to each batch of images when
            ``training``; it must keep values in [0, 1].
        batch_map: a function ``(x, y) -> (x, y)`` on whole batches after augmentation
            (mixup, which also changes the labels), when ``training``.
        normalize: model-specific normalisation of the [0, 1] images (e.g. ImageNet mean /
            std), applied last, in training and evaluation.
        shuffle_buffer: default: the whole dataset when it is cached in memory, else 10,000.
        seed: shuffle and augmentation seed.
        cache: ``True`` (memory), a file path, or ``False``.
        repeat: repeat forever (use ``steps_per_epoch``).
        drop_remainder: drop the last incomplete batch (static batch shapes for XLA).
    """
    import tensorflow as tf

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
    autotune = tf.data.AUTOTUNE

    def prepare(example):
        image = prepare_image(example["image"], image_size=image_size, channels=channels, fit=fit)
        return image, tf.cast(example["label"], tf.int64)

    ds = ds.map(prepare, num_parallel_calls=autotune)
    if cache:
        ds = ds.cache() if cache is True else ds.cache(str(cache))
    if training:
        size = int(ds.cardinality())
        buffer = shuffle_buffer or (size if cache is True and size > 0 else 10_000)
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=autotune)
    if training and augment is not None:
        ds = ds.map(lambda x, y: (augment(x), y), num_parallel_calls=autotune)
    if training and batch_map is not None:
        ds = ds.map(batch_map, num_parallel_calls=autotune)
    if normalize is not None:
        ds = ds.map(lambda x, y: (normalize(x), y), num_parallel_calls=autotune)
    return ds.prefetch(autotune)
