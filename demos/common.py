"""What every demo tab shares: reading uploads safely, the model cache, compiled inference.

- `load_image` turns whatever arrives (a file path from Gradio, the sketchpad's PNG bytes, a
  PIL image, a NumPy array) into a uint8 ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array,
  or raises `gr.Error` with a plain message: not an image, truncated, too small, too large
  to decode (with its size and the limit). Grey, RGBA, palette, 16-bit and float images are
  converted; anything larger than ``max_side`` is downscaled, not refused, and downscaled
  before it is converted, so memory stays near the decoded file's own size.
- `open_image` is the check every path runs first: the pixel count from the header, before
  any pixel is decoded. `ImageInput` (a `gr.Image`) and `SketchInput` (a `gr.Sketchpad`)
  run it in Gradio's preprocessing and hand the function file paths (or the canvas' bytes),
  so the function, not Gradio, decodes the image and can say what is wrong with it.
- `echo` quotes a user's value in a message, cut to `ECHO_LIMIT` characters;
  `plain_choices` makes a menu refuse an unknown value that way (Gradio quotes it whole),
  `plain_number` a slider refuse NaN, text or a number beyond its ends (`check_number`),
  and `short_error_payload` cuts whatever else a client would be sent back whole.
- `get_model` loads a weight tag (``"lenet5.mnist"``) once per process, shared by all
  requests, with its record and a compiled ``model(x, training=False)`` function
  (`compiled_predict`): ``tf.function`` on TensorFlow, ``jax.jit`` over
  ``stateless_call`` on JAX, ``torch.no_grad`` on PyTorch; never ``model.predict`` per call,
  whose per-call set-up costs more than LeNet's forward pass.
- `available` says whether a tag's weights are on this machine (bundled, or already in the
  zoo / Keras cache) without downloading anything, so tabs offer only what runs offline.
- `model_input` prepares an image the way a tag's weights were trained (size, channels,
  scaling, MNIST's centring); `launch` serves an app with the command line of
  ``python -m demos`` and ``python -m demos.<tab>`` (parsed first by `demos.cli`, which
  imports nothing heavy, so that ``--help`` is immediate).
- `atomic_save_pil_to_cache` replaces Gradio's writer of output images (see there): two
  requests returning the same picture at once must not serve each other a half-written file.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import functools
import io
import logging
import os
import re
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
from gradio import queueing as gradio_queueing
from gradio import utils as gradio_utils
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData, ImageData
from PIL import Image, UnidentifiedImageError

import zoo
from demos.cli import parse_args  # noqa: F401 - re-exported: the tabs' and tests' command line
from zoo import weights as zoo_weights
from zoo.embeddings import prepare_images

logger = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parent / "examples"
MAX_SIDE = 1024                 # larger uploads are downscaled to this longest side
MAX_PIXELS = 100_000_000        # larger images are refused before decoding (memory)
MIN_SIDE = 8                    # smaller images carry too little to predict from
REDUCING_GAP = 2.0              # big images: integer reduction to >= 2x the size, then bilinear
BAND_PIXELS = 4_000_000         # ... reduced a band of rows at a time (16 MB at 4 bytes a pixel)
ECHO_LIMIT = 80                 # characters of a user's value quoted back in a message
ERROR_LIMIT = 1000              # characters of a failure's message that are not our own
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
# Messages
# ---------------------------------------------------------------------------------------------

def shorten(text: str, limit: int | None = None) -> str:
    """``text`` cut to ``limit`` (default `ECHO_LIMIT`) characters, with its length said.

    Example:
        >>> shorten("x" * 100, 5)
        'xxxxx... (100 characters)'
    """
    limit = ECHO_LIMIT if limit is None else limit
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def echo(value: Any, limit: int | None = None) -> str:
    """A user's value as a message quotes it: ``repr``, cut to ``limit`` characters.

    Anything a request sends can come back in an error message, and a 1 MB model name or
    kernel would otherwise come back whole. A string is quoted and cut inside the quotes,
    anything else is its ``repr`` cut.

    Example:
        >>> echo("vgg16.x"), echo("z" * 1000, 3)
        ("'vgg16.x'", "'zzz'... (1,000 characters)")
    """
    limit = ECHO_LIMIT if limit is None else limit
    if not isinstance(value, str):
        return shorten(repr(value), limit)
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


def _error(message: str) -> gr.Error:
    return gr.Error(message, print_exception=False)


# ---------------------------------------------------------------------------------------------
# Reading images
# ---------------------------------------------------------------------------------------------

_ENCODED = (bytes, bytearray, memoryview)     # an encoded file in memory (the canvas' blobs)


def _source(value: Any) -> Any:
    """A Gradio file dict or model (``{"path": ...}``) -> its path; anything else as is."""
    if isinstance(value, dict):
        return value.get("path") or value.get("url")
    if isinstance(value, (FileData, ImageData)):
        return value.path
    return value


def _name(value: Any, what: str = "image") -> str:
    """How messages call an input: its file name (cut to `ECHO_LIMIT`), else "The <what>"."""
    if isinstance(value, (str, os.PathLike)):
        return shorten(Path(str(value)).name)
    if isinstance(value, Image.Image) and getattr(value, "filename", ""):
        return shorten(Path(str(value.filename)).name)
    return f"The {what}"


def _too_large(name: str, size: tuple[int, int] | None) -> gr.Error:
    limit = f"({MAX_PIXELS // 1_000_000} megapixels)"
    if size is None:        # Pillow refused it and no plugin read the header: more than that
        return _error(f"{name} has more than {2 * Image.MAX_IMAGE_PIXELS // 1_000_000} "
                      f"million pixels, more than this demo decodes {limit}. Downscale it "
                      f"first.")
    return _error(f"{name} is {size[0]}x{size[1]} pixels, more than this demo decodes "
                  f"{limit}. Downscale it first.")


def _header_size(source: str | os.PathLike | bytes) -> tuple[int, int] | None:
    """The width and height in the header of an image that `Image.open` refuses outright.

    Pillow raises ``DecompressionBombError`` for more than ``2 * Image.MAX_IMAGE_PIXELS``
    (179 million) pixels without saying the size. This tries each format plugin Pillow has
    registered on the file's first bytes, as `Image.open` does, minus that check: a
    plugin's constructor reads the header only. None when no plugin reads it.
    """
    Image.init()
    with (io.BytesIO(source) if isinstance(source, _ENCODED) else open(source, "rb")) as fp:
        prefix = fp.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            result = not accept or accept(prefix)
            if not result or isinstance(result, str):     # a str: a warning, not a match
                continue
            try:
                fp.seek(0)
                return tuple(factory(fp, "").size)
            except Exception:  # noqa: BLE001 - not this format: try the next one
                continue
    return None


def _open(source: str | os.PathLike | bytes, name: str, what: str) -> Image.Image:
    """`Image.open` (the header only) with each failure as a plain `gr.Error`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(source) if isinstance(source, _ENCODED) else source)
    except FileNotFoundError:
        raise _error(f"The uploaded {what} is no longer on the server; upload it "
                     f"again.") from None
    except Image.DecompressionBombError:
        raise _too_large(name, _header_size(source)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _error(f"{name} is not an image this demo can read. Upload a {READABLE} "
                     f"image.") from None


def open_image(value: Any, what: str = "image") -> Image.Image:
    """The picture in ``value``, opened and checked, not decoded.

    `Image.open` reads only the header (format, mode, size), so the pixel count is known
    before any pixel is in memory: a 170 KB PNG of 13300x13300 pixels is refused here,
    before it costs 700 MB. Every way a picture reaches a tab goes through this check:
    `load_image`, and Gradio's preprocessing of `ImageInput` and `SketchInput`.

    Args:
        value: a file path, a Gradio file dict or ``FileData``, an encoded image file in
            ``bytes`` (the sketchpad's canvas), a PIL image or a NumPy array.
        what: the input's name in messages ("image", "sketchpad", ...).

    Returns:
        A PIL image; one read from a file is still lazy (`Image.Image.load` decodes it).

    Raises:
        gr.Error: nothing given, not an image, more than `MAX_PIXELS` (with its size) or
            smaller than `MIN_SIDE`.
    """
    value = _source(value)
    if value is None or (isinstance(value, (str, *_ENCODED)) and not len(value)):
        raise _error(f"No {what} yet: upload one (or click an example), then press the "
                     f"button.")
    name = _name(value, what)
    opened = isinstance(value, (str, os.PathLike, *_ENCODED))
    if isinstance(value, np.ndarray):
        im = _from_array(value)
    elif isinstance(value, Image.Image):
        im = value
    elif opened:
        im = _open(value, name, what)
    else:
        raise _error(f"The {what} must be an image file. Received a {type(value).__name__}.")
    width, height = im.size
    refusal = None
    if width * height > MAX_PIXELS:
        refusal = _too_large(name, (width, height))
    elif min(width, height) < MIN_SIDE:
        refusal = _error(f"{name} is {width}x{height} pixels: too small to recognise anything. "
                         f"Upload an image at least {MIN_SIDE}x{MIN_SIDE} pixels.")
    if refusal is not None:
        if opened:
            im.close()           # the file handle Image.open keeps for decoding
        raise refusal
    return im


def _stretch(array: np.ndarray) -> np.ndarray:
    """Integer or float values -> uint8, scaled by the image's own maximum (negatives -> 0)."""
    array = np.asarray(array, np.float64)
    if not np.all(np.isfinite(array)):
        raise _error("The image holds NaN or infinite values; save it as an ordinary 8- or "
                     "16-bit image.")
    array = np.clip(array, 0, None)
    peak = array.max(initial=0.0)
    if peak > 0:
        array = array * (255.0 / peak)
    return np.round(array).astype(np.uint8)


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float images -> 8 bits, stretched by their own maximum.

    A 16-bit photo uses the whole 0-65535 range, but 16-bit microscopy or depth images often
    use a small part of it; dividing by 257 would turn those black, so each image is scaled
    by its own peak instead. Called on the downscaled image (`_shrink`): the float64 copy
    is at most ``max_side`` squared.
    """
    if im.mode not in ("I", "F") and not im.mode.startswith("I;16"):
        return im
    return Image.fromarray(_stretch(np.asarray(im)), "L")


def _flatten(im: Image.Image, mode: str) -> Image.Image:
    """Any Pillow mode -> ``mode`` ("L", "RGB" or "RGBA"); for "L" and "RGB" transparency
    is composited on white."""
    im = _to_8bit(im)
    if mode == "RGBA":
        return im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return im.convert(mode)


def _workable(im: Image.Image) -> Image.Image:
    """``im`` in a mode Pillow reduces and resamples (L, LA, RGB, RGBA, I or F), values
    kept: 16-bit -> I (32-bit integers), 1-bit -> L, palette -> RGB(A), others -> RGB."""
    if im.mode in ("L", "LA", "RGB", "RGBA", "I", "F"):
        return im
    if im.mode.startswith("I;16"):
        return im.convert("I")
    if im.mode == "1":
        return im.convert("L")
    if im.mode in ("P", "PA"):
        return im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    return im.convert("RGB")


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled (aspect kept) so that its longer side is ``max_side``."""
    scale = max_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _shrink(im: Image.Image, max_side: int) -> Image.Image:
    """A decoded image -> at most ``max_side`` on its longer side, in a `_workable` mode.

    As ``Image.thumbnail(..., reducing_gap=2.0)``: first an integer reduction (the mean of
    each ``fx`` x ``fy`` box, `Image.Image.reduce`) to at least `REDUCING_GAP` times the
    target, then a bilinear resampling to it. The reduction runs on bands of rows: each band
    is cropped, converted (`_workable`) and reduced on its own, so the converted copy of a
    big image (a 16-bit one as 32-bit integers, a palette one as RGB, an RGBA one
    premultiplied) never exists at full size, and nothing is float until `_to_8bit` gets
    the small result.
    """
    width, height = im.size
    if max(width, height) <= max_side:
        return _workable(im)
    target = _fit(im.size, max_side)
    fx = max(1, int(width / target[0] / REDUCING_GAP))
    fy = max(1, int(height / target[1] / REDUCING_GAP))
    if fx > 1 or fy > 1:
        rows = fy * max(1, BAND_PIXELS // (width * fy))      # a multiple of fy
        bands = [_workable(im.crop((0, top, width, min(height, top + rows)))).reduce((fx, fy))
                 for top in range(0, height, rows)]
        im = Image.new(bands[0].mode, (bands[0].width, sum(band.height for band in bands)))
        top = 0
        for band in bands:
            im.paste(band, (0, top))
            top += band.height
    return _workable(im).resize(target, Image.Resampling.BILINEAR)


# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose)
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - unreadable EXIF: take the picture as it is stored
        return 1


def _from_array(array: np.ndarray) -> Image.Image:
    """uint8 as is, bool as 0/255, floats in [0, 1] times 255, anything else `_stretch`ed."""
    array = np.asarray(array)
    if array.dtype == object or array.ndim not in (2, 3) or (
            array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
        raise _error(f"An image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). "
                     f"Received shape {shorten(str(array.shape))}.")
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

    The size is checked from the header (`open_image`) before anything is decoded; a
    bigger image is then downscaled before it is converted (`_shrink`): a 9999x9999 16-bit
    PNG costs its decoded 200 MB and a few MB more, not the 1.8 GB its float64 copies took.

    Args:
        value: a file path (what `ImageInput` passes), a Gradio file dict ``{"path": ...}``,
            an encoded image in ``bytes`` (the browser's sketchpad canvas), a PIL image or a
            NumPy array (uint8, 16-bit, bool or float in [0, 1]).
        mode: ``"RGB"`` (``(H, W, 3)``), ``"L"`` (``(H, W)``), both with transparency
            composited on white, or ``"RGBA"`` (``(H, W, 4)``, transparency kept).
        max_side: a longer side is downscaled to this (aspect kept; JPEGs decode at reduced
            size directly), so an 8000x8000 upload costs a fraction of a second, not gigabytes.
        what: the input's name in messages ("image", "first face", ...).

    Returns:
        uint8 array ``(H, W, 3)``, ``(H, W)`` or ``(H, W, 4)``.

    Raises:
        gr.Error: nothing uploaded, not an image, truncated or corrupt, NaN values, smaller
            than `MIN_SIDE` or larger than `MAX_PIXELS`. The message says what to do.

    Example:
        >>> load_image(np.zeros((16, 16), np.uint16), mode="RGB").shape
        (16, 16, 3)
    """
    if mode not in ("RGB", "L", "RGBA"):
        raise ValueError(f"`mode` must be 'RGB', 'L' or 'RGBA'. Received: mode={mode!r}")
    name = _name(_source(value), what)
    im = open_image(value, what)
    try:
        if im.format == "JPEG" and max(im.size) > 2 * max_side:
            im.draft("L" if mode == "L" else "RGB", (max_side, max_side))
        im.load()
        orientation = _orientation(im)
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise _error(f"{name} is truncated or corrupt ({shorten(str(err))}). Upload the "
                     f"complete file.") from None
    im = _flatten(_shrink(im, max_side), mode)
    if orientation in _UPRIGHT:
        im = im.transpose(_UPRIGHT[orientation])
    return np.asarray(im, dtype=np.uint8).copy()


def ImageInput(**kwargs: Any) -> gr.Image:  # noqa: N802 - reads like the component it makes
    """An image upload that hands the function the file path, unconverted.

    `gr.Image` opens every upload with Pillow before the function runs, so a text file named
    ``.png`` would fail inside Gradio with Pillow's message, and a 400-megapixel PNG, which
    Pillow refuses to open, was called "not an image". This one checks the header first
    (`open_image`: not an image, too large with its size, too small), passes the path on
    (``type="filepath"``, ``image_mode=None``) for `load_image` to decode, and turns any
    other failure of Gradio's own preprocessing into a plain `gr.Error`. (The component's
    ``preprocess`` is wrapped on the instance: a `gr.Image` subclass would make Gradio write
    a ``.pyi`` stub beside this module.) Keyword arguments go to `gr.Image`.
    """
    kwargs.setdefault("type", "filepath")
    kwargs.setdefault("image_mode", None)
    kwargs.setdefault("sources", ["upload", "clipboard"])
    component = gr.Image(**kwargs)
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        name = shorten(getattr(payload, "orig_name", None) or "") or "The upload"
        url = getattr(payload, "url", None) or ""
        try:
            if url.startswith("data:"):      # an image inline in the request
                open_image(base64.b64decode(url.partition(",")[2]), "upload").close()
            elif getattr(payload, "path", None):
                open_image(payload.path, "upload").close()
            return original(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - any decoder failure means "not an image"
            raise _error(f"{name} is not an image this demo can read. Upload a {READABLE} "
                         "image.") from None

    component.preprocess = preprocess
    return component


def SketchInput(**kwargs: Any) -> gr.Sketchpad:  # noqa: N802 - reads like the component
    """A `gr.Sketchpad` whose drawing reaches the function undecoded, checked like uploads.

    Gradio's own preprocessing decodes the background, every layer and the composite at
    full size before the function runs (a 170 KB PNG of 13300x13300 pixels sent as the
    composite through the API became 700 MB of RGBA, twice), and lets Pillow's errors
    through as raw text. This one reads only each image's header (`open_image`: the image
    inputs' messages, the pixel limit) and passes the function ``{"background", "layers",
    "composite"}`` with a file path for each (an API call) or the encoded PNG bytes (the
    browser, which sends the canvas as blobs first: ``accept_blobs``, then an id; the blobs
    are dropped once read, as Gradio does). `load_image` decodes them. Wrapped on the
    instance like `ImageInput`; keyword arguments go to `gr.Sketchpad`.
    """
    kwargs.setdefault("type", "filepath")
    kwargs.setdefault("image_mode", "RGBA")
    component = gr.Sketchpad(**kwargs)

    def checked(part: Any) -> Any:
        if part is None:
            return None
        source = bytes(part) if isinstance(part, _ENCODED) else _source(part)
        open_image(source, "sketchpad").close()
        return source

    def preprocess(payload: Any) -> dict[str, Any] | None:
        if payload is None:
            return None
        if isinstance(payload, dict):
            payload = EditorData(**payload)
        if payload.id is not None:           # the browser: the canvas was sent as blobs
            blobs = component.blob_storage.pop(payload.id, None)
            parts = (blobs.background, blobs.layers, blobs.composite) if blobs else (
                None, [], None)
        else:
            parts = (payload.background, payload.layers, payload.composite)
        background, layers, composite = parts
        return {"background": checked(background),
                "layers": [checked(layer) for layer in layers or [] if layer is not None],
                "composite": checked(composite)}

    component.preprocess = preprocess
    return component


def plain_choices(component: Any, what: str) -> Any:
    """``component`` (a `gr.Dropdown` or `gr.Radio`) refusing a value outside its choices
    with a plain message: ``Unknown <what> 'x'. Choose one of: a, b.``

    Gradio's own refusal quotes the value whole ("Value: <a 1 MB string> is not in the list
    of choices: [...]"); this one quotes at most `ECHO_LIMIT` characters (`echo`). Wrapped
    on the instance like `ImageInput`; returns the component.
    """
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        values = [value for _, value in component.choices]
        if payload is not None and not getattr(component, "allow_custom_value", False) \
                and payload not in values:
            offered = ", ".join(str(value) for value in values) or f"no {what} is here"
            raise _error(f"Unknown {what} {echo(payload)}. Choose one of: {offered}.")
        return original(payload)

    component.preprocess = preprocess
    return component


def check_number(value: Any, what: str, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high]``, else a plain `gr.Error` naming ``what``.

    A slider's value can arrive through the API as anything JSON holds: a string, null,
    NaN or a number beyond the slider's ends.

    Example:
        >>> check_number("0.25", "Score threshold", 0.05, 0.95)
        0.25
    """
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if not low <= number <= high:     # NaN fails this too
        raise _error(f"{what} must be a number from {low:g} to {high:g}. Received "
                     f"{echo(value)}.")
    return number


def plain_number(component: Any, what: str) -> Any:
    """``component`` (a `gr.Slider` or `gr.Number` with both ends set) refusing a value that
    is not a number between its ends with `check_number`'s message (Gradio's own check
    lets NaN through and fails on a string with Python's comparison error). Wrapped on the
    instance like `plain_choices`; returns the component."""
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        return original(check_number(payload, what, component.minimum, component.maximum))

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


def model_menu(models: Mapping[str, Any], elem_id: str, task: str | None = None
               ) -> tuple[gr.Dropdown, list[tuple[str, str]]]:
    """A tab's "Model" menu, built where it is called (inside the tab's ``gr.Blocks``): the
    ``models`` whose weights are here (`model_choices`), the first one chosen, any other value
    refused plainly (`plain_choices`). With none here and a ``task`` ("depth"), a line above
    it says "No depth weights are on this machine yet." Returns the menu and its choices."""
    choices = model_choices(models)
    if task and not choices:
        gr.Markdown(f"No {task} weights are on this machine yet.")
    menu = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Model",
                       elem_id=elem_id)
    return plain_choices(menu, "model"), choices


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
    raise gr.Error(f"Unknown model {echo(key)}. Choose one of: {', '.join(offered)}.",
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


def _cut(message: str) -> str:
    """Each run of more than `ECHO_LIMIT` non-blank characters cut (`shorten`), then the
    whole message to `ERROR_LIMIT` characters."""
    message = re.sub(rf"\S{{{ECHO_LIMIT + 1},}}", lambda run: shorten(run.group()), message)
    return shorten(message, ERROR_LIMIT)


# (Gradio's own function, also if this module is imported a second time)
_gradio_error_payload = getattr(gradio_utils.error_payload, "original",
                                gradio_utils.error_payload)


def short_error_payload(error: BaseException | None, show_error: bool) -> dict[str, Any]:
    """Gradio's ``utils.error_payload`` (what a client receives for a failed event), with
    the message of any failure other than a `gr.Error` cut (`_cut`).

    With ``show_error`` (`LAUNCH_KWARGS`) a client gets every exception's text, and some of
    Gradio's own quote the request: a file "path" of 1 MB fails in Gradio's upload handling,
    before any component sees it, with ``OSError: File name too long: '<the 1 MB>'``. The
    demos' own messages (`gr.Error`) quote at most `ECHO_LIMIT` characters of a value
    already (`echo`) and pass unchanged.
    """
    content = _gradio_error_payload(error, show_error)
    if not isinstance(error, gr.Error) and isinstance(content.get("error"), str):
        content["error"] = _cut(content["error"])
    return content


# Installed on import, like the writer above; the queue imported the function by name.
short_error_payload.original = _gradio_error_payload
gradio_utils.error_payload = short_error_payload
gradio_queueing.error_payload = short_error_payload


def configure(demo: gr.Blocks) -> gr.Blocks:
    """Gradio's queue: `CONCURRENCY` events at once (2 CPU cores), `QUEUE_SIZE` waiting."""
    return demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)


LAUNCH_KWARGS: dict[str, Any] = {
    "show_error": True,             # a plain message for any failure, not only gr.Error
    "state_session_capacity": SESSIONS,   # the oldest sessions beyond it are dropped
    "max_file_size": MAX_FILE_SIZE,
    "allowed_paths": [str(EXAMPLES)],
}


def launch(app: gr.Blocks | Callable[[], gr.Blocks],
           argv: Sequence[str] | argparse.Namespace | None = None,
           description: str = "Serve a zoo demo", preload: Sequence[str] = ()) -> gr.Blocks:
    """The command line of ``python -m demos`` and ``python -m demos.<tab>``.

    Args:
        app: a built ``gr.Blocks`` or a function that builds one.
        argv: command-line arguments (default ``sys.argv[1:]``), or the ones
            `demos.cli.parse_args` has already parsed (the entry points parse them before
            importing this module, so that ``--help`` does not wait for TensorFlow).
        description: the ``--help`` text, when ``argv`` is not parsed yet.
        preload: weight tags loaded before serving when ``--preload`` is given.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    args = argv if isinstance(argv, argparse.Namespace) else parse_args(argv, description)
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
