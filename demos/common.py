"""What every demo tab shares: reading uploads safely, the model cache, compiled inference.

- `load_image` turns whatever arrives (a file path from Gradio, a PIL image, a NumPy array)
  into a uint8 ``(H, W)`` or ``(H, W, 3)`` array, or raises `gr.Error` with a plain message:
  not an image, truncated, too small, too large to decode. Grey, RGBA, palette, 16-bit and
  float images are converted; anything larger than ``max_side`` is downscaled, not refused.
- `ImageInput` makes a `gr.Image` that hands the function a file path, so the function (not
  Gradio) decodes the upload and can say what is wrong with it.
- `get_model` loads a weight tag (``"lenet5.mnist"``) once per process, shared by all
  requests, with its record and a compiled ``model(x, training=False)`` function
  (`compiled_predict`): ``tf.function`` on TensorFlow, ``jax.jit`` over
  ``stateless_call`` on JAX, ``torch.no_grad`` on PyTorch; never ``model.predict`` per call,
  whose per-call set-up costs more than LeNet's forward pass.
- `available` says whether a tag's weights are on this machine (bundled, or already in the
  zoo / Keras cache) without downloading anything, so tabs offer only what runs offline.
- `model_input` prepares an image the way a tag's weights were trained (size, channels,
  scaling, MNIST's centring); `launch` is the command line shared by ``python -m demos`` and
  ``python -m demos.<tab>``.
- `atomic_save_pil_to_cache` replaces Gradio's writer of output images (see there): two
  requests returning the same picture at once must not serve each other a half-written file.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import keras
import numpy as np
from gradio import processing_utils
from PIL import Image, ImageOps, UnidentifiedImageError

import zoo
from zoo import weights as zoo_weights
from zoo.metric import prepare_images

logger = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parent / "examples"
MAX_SIDE = 1024                 # larger uploads are downscaled to this longest side
MAX_PIXELS = 100_000_000        # larger images are refused before decoding (memory)
MIN_SIDE = 8                    # smaller images carry too little to predict from
MAX_FILE_SIZE = "64mb"          # Gradio refuses bigger uploads before they reach a function
CONCURRENCY = int(os.environ.get("ZOO_DEMO_CONCURRENCY", "2"))   # events run at once
QUEUE_SIZE = int(os.environ.get("ZOO_DEMO_QUEUE", "64"))         # events waiting at most
# Gradio keeps ~165 KB of per-session state for this app (a copy of every component's
# config); its default of 10,000 sessions would let a busy Space grow by ~1.6 GB. Plain
# REST calls open a session each, so `python -m demos.bench --client http` grew the server
# by ~65 MB per 400 requests until this cap.
SESSIONS = int(os.environ.get("ZOO_DEMO_SESSIONS", "1000"))      # sessions kept in memory
READABLE = "PNG, JPEG, WebP, BMP, GIF, TIFF or PGM"

# The front page's licence notes, shown under each tab that uses such weights.
ISBI_NOTE = ("The U-Net weights were trained on the ISBI 2012 EM segmentation challenge data "
             "(Cardona et al. 2010), licensed for non-commercial research only, and so are "
             "the weights. The example image is synthetic (made in `demos/examples/`).")


# ---------------------------------------------------------------------------------------------
# Reading images
# ---------------------------------------------------------------------------------------------

def _name(value: Any) -> str:
    return Path(str(value)).name if isinstance(value, (str, os.PathLike)) else "The image"


def _open(path: str | os.PathLike, what: str) -> Image.Image:
    name = _name(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except FileNotFoundError:
        raise gr.Error(f"The uploaded {what} is no longer on the server; upload it again.",
                       print_exception=False) from None
    except Image.DecompressionBombError:
        raise gr.Error(f"{name} is too large to decode (more than {MAX_PIXELS // 1_000_000} "
                       f"megapixels). Downscale it first.", print_exception=False) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise gr.Error(f"{name} is not an image this demo can read. Upload a {READABLE} "
                       f"image.", print_exception=False) from None


def _stretch(array: np.ndarray) -> np.ndarray:
    """Integer or float values -> uint8, scaled by the image's own maximum (negatives -> 0)."""
    array = np.asarray(array, np.float64)
    if not np.all(np.isfinite(array)):
        raise gr.Error("The image holds NaN or infinite values; save it as an ordinary 8- or "
                       "16-bit image.", print_exception=False)
    array = np.clip(array, 0, None)
    peak = array.max(initial=0.0)
    if peak > 0:
        array = array * (255.0 / peak)
    return np.round(array).astype(np.uint8)


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float images -> 8 bits, stretched by their own maximum.

    A 16-bit photo uses the whole 0-65535 range, but 16-bit microscopy or depth images often
    use a small part of it; dividing by 257 would turn those black, so each image is scaled
    by its own peak instead.
    """
    if im.mode not in ("I", "F") and not im.mode.startswith("I;16"):
        return im
    return Image.fromarray(_stretch(np.asarray(im)), "L")


def _flatten(im: Image.Image, mode: str) -> Image.Image:
    """Any Pillow mode -> ``mode`` ("L" or "RGB"); transparency is composited on white."""
    im = _to_8bit(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return im.convert(mode)


def _from_array(array: np.ndarray) -> Image.Image:
    """uint8 as is, bool as 0/255, floats in [0, 1] times 255, anything else `_stretch`ed."""
    array = np.asarray(array)
    if array.dtype == object or array.ndim not in (2, 3) or (
            array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
        raise gr.Error(f"An image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). "
                       f"Received shape {array.shape}.", print_exception=False)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        floats = np.issubdtype(array.dtype, np.floating)
        if floats and np.all(np.isfinite(array)) and array.min(initial=0) >= 0 \
                and array.max(initial=0) <= 1:
            array = np.round(array * 255.0).astype(np.uint8)
        else:
            array = _stretch(array)
    if array.ndim == 3 and array.shape[-1] == 4:
        return Image.fromarray(array, "RGBA")
    return Image.fromarray(array)


def load_image(value: Any, mode: str = "RGB", max_side: int = MAX_SIDE,
               what: str = "image") -> np.ndarray:
    """Reads and checks one input image; the only way the demos accept pictures.

    Args:
        value: a file path (what `ImageInput` passes), a Gradio file dict ``{"path": ...}``,
            a PIL image or a NumPy array (uint8, 16-bit, bool or float in [0, 1]).
        mode: ``"RGB"`` (``(H, W, 3)``) or ``"L"`` (``(H, W)``) output.
        max_side: a longer side is downscaled to this (aspect kept; JPEGs decode at reduced
            size directly), so an 8000x8000 upload costs a fraction of a second, not gigabytes.
        what: the input's name in messages ("image", "first face", ...).

    Returns:
        uint8 array ``(H, W, 3)`` or ``(H, W)``.

    Raises:
        gr.Error: nothing uploaded, not an image, truncated or corrupt, NaN values, smaller
            than `MIN_SIDE` or larger than `MAX_PIXELS`. The message says what to do.

    Example:
        >>> load_image(np.zeros((16, 16), np.uint16), mode="RGB").shape
        (16, 16, 3)
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"`mode` must be 'RGB' or 'L'. Received: mode={mode!r}")
    if isinstance(value, dict):       # a Gradio FileData / ImageData dict
        value = value.get("path") or value.get("url")
    if value is None or (isinstance(value, str) and not value):
        raise gr.Error(f"No {what} yet: upload one (or click an example), then press the "
                       f"button.", print_exception=False)
    name = _name(value)
    if isinstance(value, np.ndarray):
        im = _from_array(value)
    elif isinstance(value, Image.Image):
        im = value
    elif isinstance(value, (str, os.PathLike)):
        im = _open(value, what)
    else:
        raise gr.Error(f"The {what} must be an image file. Received a {type(value).__name__}.",
                       print_exception=False)
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise gr.Error(f"{name} is {width}x{height} pixels, more than this demo decodes "
                       f"({MAX_PIXELS // 1_000_000} megapixels). Downscale it first.",
                       print_exception=False)
    if min(width, height) < MIN_SIDE:
        raise gr.Error(f"{name} is {width}x{height} pixels: too small to recognise anything. "
                       f"Upload an image at least {MIN_SIDE}x{MIN_SIDE} pixels.",
                       print_exception=False)
    try:
        if im.format == "JPEG" and max(width, height) > 2 * max_side:
            im.draft("RGB" if mode == "RGB" else "L", (max_side, max_side))
        im.load()
        im = ImageOps.exif_transpose(im)
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise gr.Error(f"{name} is truncated or corrupt ({err}). Upload the complete file.",
                       print_exception=False) from None
    im = _flatten(im, mode)
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(im, dtype=np.uint8).copy()


def ImageInput(**kwargs: Any) -> gr.Image:  # noqa: N802 - reads like the component it makes
    """An image upload that hands the function the file path, unconverted.

    `gr.Image` opens every upload with Pillow before the function runs, so a text file named
    ``.png`` would fail inside Gradio with Pillow's message. This one passes the path on
    (``type="filepath"``, ``image_mode=None``), lets `load_image` explain what is wrong, and
    turns a failure of Gradio's own preprocessing into a plain `gr.Error`. (The component's
    ``preprocess`` is wrapped on the instance: a `gr.Image` subclass would make Gradio write a
    ``.pyi`` stub beside this module.) Keyword arguments go to `gr.Image`.
    """
    kwargs.setdefault("type", "filepath")
    kwargs.setdefault("image_mode", None)
    kwargs.setdefault("sources", ["upload", "clipboard"])
    component = gr.Image(**kwargs)
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - any decoder failure means "not an image"
            name = getattr(payload, "orig_name", None) or "The upload"
            raise gr.Error(f"{name} is not an image this demo can read. Upload a {READABLE} "
                           "image.", print_exception=False) from None

    component.preprocess = preprocess
    return component


def center_crop(image: np.ndarray, aspect: float) -> np.ndarray:
    """The largest centred crop with ``width / height == aspect``."""
    h, w = image.shape[:2]
    if w / h > aspect:
        new_w = max(1, round(h * aspect))
        left = (w - new_w) // 2
        return image[:, left:left + new_w]
    new_h = max(1, round(w / aspect))
    top = (h - new_h) // 2
    return image[top:top + new_h]


def mnist_digit(grey: np.ndarray, what: str = "image") -> np.ndarray:
    """A grey picture of one digit -> LeNet-5's input ``(32, 32)`` float32 in [0, 1].

    MNIST's own normalisation (LeCun et al. 1998): white ink on black; the digit's bounding
    box scaled to fit 20x20 (aspect kept), placed in 28x28 with its centre of mass at the
    centre, then zero-padded to 32x32 as the ``lenet5.mnist`` weights were trained. Dark ink
    on light paper is inverted first (decided by the border, which is background). A 28x28
    white-on-black picture is taken to be an MNIST digit already and is only padded.

    Raises:
        gr.Error: when no digit is there (a blank or nearly uniform picture).
    """
    g = np.asarray(grey, np.float32)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    if g.shape == (28, 28) and np.median(border) <= 127 and g.max(initial=0) >= 32:
        return np.pad(g, 2) / 255.0           # already an MNIST digit: as the dataset has it
    if np.median(border) > 127:               # dark ink on light paper
        g, border = 255.0 - g, 255.0 - border
    g = np.clip(g - np.median(border), 0, None)   # the background to 0
    peak = g.max(initial=0.0)
    if peak < 32 or (g > 0.25 * peak).sum() < 4:
        raise gr.Error(f"The {what} is blank: there is no digit to classify. Draw a digit "
                       "(0-9) or upload a picture of one.", print_exception=False)
    g = g * (255.0 / peak)
    rows = np.flatnonzero((g > 0.2 * 255).any(axis=1))
    cols = np.flatnonzero((g > 0.2 * 255).any(axis=0))
    crop = g[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = 20.0 / max(crop.shape)
    new_h = max(1, round(crop.shape[0] * scale))
    new_w = max(1, round(crop.shape[1] * scale))
    small = np.asarray(Image.fromarray(crop.astype(np.float32), "F").resize(
        (new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=2.0), np.float32)
    small = np.clip(small, 0, 255)
    canvas = np.zeros((28, 28), np.float32)
    total = small.sum()
    cy = (small.sum(axis=1) @ np.arange(new_h)) / total if total else new_h / 2
    cx = (small.sum(axis=0) @ np.arange(new_w)) / total if total else new_w / 2
    top = int(np.clip(round(13.5 - cy), 0, 28 - new_h))
    left = int(np.clip(round(13.5 - cx), 0, 28 - new_w))
    canvas[top:top + new_h, left:left + new_w] = small
    return np.pad(canvas, 2) / 255.0


# ---------------------------------------------------------------------------------------------
# Models: availability, cache, compiled inference
# ---------------------------------------------------------------------------------------------

def weight_spec(key: str) -> zoo_weights.WeightSpec | None:
    """The record of ``"arch.tag"``, or None when the manifest has no such tag."""
    arch, _, tag = key.partition(".")
    try:
        return zoo_weights.get_weight_spec(arch, tag or "default")
    except (zoo_weights.WeightsError, ValueError, KeyError):
        return None


def available(key: str) -> bool:
    """A tag whose record exists and whose weights are on this machine (bundled or cached):
    no download needed."""
    spec = weight_spec(key)
    return spec is not None and zoo_weights.is_cached(spec)


def model_choices(models: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(menu text, weight tag)`` of the ``models`` whose weights are on this machine, in
    order; a tab's ``MODELS`` maps a tag to its menu text, or to an object with a ``title``."""
    return [(value if isinstance(value, str) else value.title, key)
            for key, value in models.items() if available(key)]


def check_model(key: str, models: Mapping[str, Any], task: str) -> None:
    """Raises `gr.Error` unless ``key`` is one of a tab's ``models``.

    The message lists the tags offered here, or says that no ``task`` weights are here.
    (A known tag whose weights are missing is refused by `get_model`.)
    """
    if key in models:
        return
    offered = [tag for _, tag in model_choices(models)]
    if not offered:
        raise gr.Error(f"No {task} weights are on this machine.", print_exception=False)
    raise gr.Error(f"Unknown model {key!r}. Choose one of: {', '.join(offered)}.",
                   print_exception=False)


def _not_retracing_warning(record: logging.LogRecord) -> bool:
    """False for TensorFlow's "N out of the last M calls to <function> triggered tf.function
    retracing" warning. TensorFlow counts traces of all functions together, and here every
    model (and every cut for Look inside) has a function of its own, traced on its first
    request: expected, yet the warning tells a user to fix a loop they do not have."""
    return "triggered tf.function retracing" not in record.getMessage()


def compiled_predict(model: keras.Model) -> Callable[[np.ndarray], Any]:
    """``model(x, training=False)`` compiled once for the backend; returns NumPy.

    TensorFlow: a ``tf.function`` with ``reduce_retracing`` (inputs of new sizes, as U-Net
    gets, share one trace with unknown dimensions after the second size). JAX: ``jax.jit``
    of ``stateless_call`` with the variables passed in. PyTorch: eager under ``no_grad``.
    Safe to call from several threads (Gradio's workers).
    """
    backend = keras.backend.backend()
    to_numpy = functools.partial(keras.tree.map_structure, keras.ops.convert_to_numpy)
    if backend == "tensorflow":
        import tensorflow as tf

        if _not_retracing_warning not in tf.get_logger().filters:
            tf.get_logger().addFilter(_not_retracing_warning)
        fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        return lambda x: to_numpy(fn(np.asarray(x, np.float32)))
    if backend == "jax":
        import jax

        jitted = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0])

        def run_jax(x: np.ndarray) -> Any:
            # the variables' current buffers, read per call: Keras' own fit/predict may
            # donate and replace them, so buffers captured once can be deleted under us
            trainable = [v.value for v in model.trainable_variables]
            frozen = [v.value for v in model.non_trainable_variables]
            return to_numpy(jitted(trainable, frozen, np.asarray(x, np.float32)))
        return run_jax
    if backend == "torch":
        import torch

        def run(x: np.ndarray) -> Any:
            with torch.no_grad():
                return to_numpy(model(np.asarray(x, np.float32), training=False))
        return run
    return lambda x: to_numpy(model(np.asarray(x, np.float32), training=False))


@dataclasses.dataclass(frozen=True, eq=False)
class Loaded:
    """A model ready to serve: the Keras model, its weight record and compiled forward pass."""

    key: str
    model: keras.Model
    spec: zoo_weights.WeightSpec
    predict: Callable[[np.ndarray], Any]

    @property
    def class_names(self) -> list[str]:
        units = int(self.model.output_shape[-1])
        names = list(self.spec.class_names or ())
        return names if len(names) == units else [f"class {i}" for i in range(units)]


_LOAD_LOCK = threading.RLock()   # get_submodel holds it while calling get_model


@functools.cache
def _load(key: str) -> Loaded:
    if not available(key):
        raise gr.Error(f"The weights {key} are not on this machine, and the demo does not "
                       "download. Download them once with zoo.load(...) and restart.",
                       print_exception=False)
    logger.info("loading %s", key)
    model = zoo.load(key)
    return Loaded(key, model, model.zoo_weights, compiled_predict(model))


def get_model(key: str) -> Loaded:
    """The model of weight tag ``key``, loaded on first use and shared by every request."""
    with _LOAD_LOCK:          # two first requests must not load the model twice
        return _load(key)


@functools.lru_cache(maxsize=32)
def _submodel(key: str, output_layer: str) -> tuple[keras.Model, Callable]:
    model = get_model(key).model
    sub = keras.Model(model.inputs, model.get_layer(output_layer).output,
                      name=f"{model.name}_to_{output_layer}")
    return sub, compiled_predict(sub)


def get_submodel(key: str, output_layer: str) -> tuple[keras.Model, Callable]:
    """``key``'s model cut at ``output_layer`` and its compiled forward pass (cached)."""
    with _LOAD_LOCK:
        return _submodel(key, output_layer)


def model_input(loaded: Loaded, image: np.ndarray, what: str = "image",
                divisor: int | None = None) -> np.ndarray:
    """One image -> a batch of one, prepared as ``loaded``'s weights were trained.

    MNIST models get `mnist_digit` (LeNet-5 at 32x32, padded) or the plain 28x28 resize;
    fixed-size models a centre crop to their aspect, then resize and the record's scaling;
    fully convolutional models (U-Net) keep the size, padded by reflection to a multiple of
    ``divisor`` (default ``2 ** depth`` from the record, else 32).
    """
    spec = loaded.spec
    shape = tuple(loaded.model.input_shape[1:])
    height, width, channels = shape
    grey = image if image.ndim == 2 else np.asarray(Image.fromarray(image).convert("L"))
    if spec.dataset.startswith("mnist"):
        if (height, width) == (32, 32):
            return mnist_digit(grey, what)[None, ..., None].astype(np.float32)
        digit = mnist_digit(grey, what)[2:-2, 2:-2]          # centred 28x28
        return digit[None, ..., None].astype(np.float32)
    if height is not None and width is not None:
        image = center_crop(image, width / height)
        return prepare_images([image], shape, spec.preprocessing).astype(np.float32)
    if divisor is None:
        divisor = 2 ** int(spec.builder_args.get("depth", 5))
    pil = Image.fromarray(image).convert("L" if channels == 1 else "RGB")
    x = np.asarray(pil, np.float32)
    if channels == 1:
        x = x[..., None]
    pad_h = -x.shape[0] % divisor
    pad_w = -x.shape[1] % divisor
    x = np.pad(x, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    return prepare_images([x.astype(np.uint8)], x.shape, spec.preprocessing).astype(np.float32)


def top_k(scores: np.ndarray, names: Sequence[str], k: int = 5) -> dict[str, float]:
    """``{name: probability}`` of the ``k`` best classes; logits get a softmax first."""
    p = np.asarray(scores, np.float64).ravel()
    if p.min() < 0 or not 0.99 <= p.sum() <= 1.01:
        p = np.exp(p - p.max())
        p /= p.sum()
    order = np.argsort(-p)[:k]
    return {names[i]: float(p[i]) for i in order}


# ---------------------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------------------

def atomic_save_pil_to_cache(img: Image.Image, cache_dir: str, name: str = "image",
                             format: str = "webp") -> str:  # noqa: A002 - Gradio's signature
    """Gradio's ``processing_utils.save_pil_to_cache``, with the file written atomically.

    Gradio (6.31) names an output image's cache file after the hash of its bytes and writes it
    with ``Path.write_bytes``, which first truncates the file. Two requests that return the
    same picture (two visitors clicking the same example) write the same path at once, and
    the one whose result is already being downloaded sends a file shorter than the length it
    declared: the client fails with h11's "Too little data for declared Content-Length"
    (11-17 of 400 requests under 8 parallel clients in ``python -m demos.bench``). Gradio's
    own ``save_file_to_cache`` already writes under a temporary name and renames; this does
    the same for images (``gr.Image``, ``gr.AnnotatedImage``'s base image and masks): a file
    with this name is complete or absent, never partial. Equal bytes give an equal name, so
    an existing file is reused (and touched, as Gradio does, for ``delete_cache``).
    """
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    if path.exists():
        try:
            os.utime(path)
        except OSError:
            pass
        return str(path)
    fd, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


# Installed on import: every tab imports this module before it builds a component. Gradio's
# components call it through the module (processing_utils.save_pil_to_cache), so this one
# assignment covers gr.Image and gr.AnnotatedImage outputs.
processing_utils.save_pil_to_cache = atomic_save_pil_to_cache


def configure(demo: gr.Blocks) -> gr.Blocks:
    """Gradio's queue: `CONCURRENCY` events at once (2 CPU cores), `QUEUE_SIZE` waiting."""
    return demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)


LAUNCH_KWARGS: dict[str, Any] = {
    "show_error": True,             # a plain message for any failure, not only gr.Error
    "state_session_capacity": SESSIONS,   # the oldest sessions beyond it are dropped
    "max_file_size": MAX_FILE_SIZE,
    "allowed_paths": [str(EXAMPLES)],
}


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to serve on (0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true",
                        help="also open a public *.gradio.live link (needs internet)")
    parser.add_argument("--preload", action="store_true",
                        help="load every model at start-up instead of on first use")
    return parser.parse_args(argv)


def launch(app: gr.Blocks | Callable[[], gr.Blocks], argv: Sequence[str] | None = None,
           description: str = "Serve a zoo demo", preload: Sequence[str] = ()) -> gr.Blocks:
    """The command line of ``python -m demos`` and ``python -m demos.<tab>``.

    Args:
        app: a built ``gr.Blocks`` or a function that builds one.
        argv: command-line arguments (default ``sys.argv[1:]``).
        description: the ``--help`` text.
        preload: weight tags loaded before serving when ``--preload`` is given.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    args = parse_args(argv, description)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)   # one line per Gradio self-check
    demo = configure(app if isinstance(app, gr.Blocks) else app())
    if args.preload:
        for key in preload:
            if available(key):
                get_model(key)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                **LAUNCH_KWARGS)
    return demo
