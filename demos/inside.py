"""Look inside tab: a layer's feature maps for your image, and a convolution playground.

Feature maps: the chosen model is cut at a layer (``keras.Model(model.inputs,
layer.output)``, as in Zeiler and Fergus, "Visualizing and Understanding Convolutional
Networks", ECCV 2014, who looked at activations layer by layer) and every channel of its
output is drawn as a grey picture, each scaled to its own range.

Convolution playground: the operation a Conv2D layer applies, by hand on a grey image, as
the course's convolution slides do: a Gaussian blur with a chosen sigma, Sobel's edge
kernels, or any 3x3 kernel typed in. Like a CNN layer it computes the cross-correlation
``out[i, j] = sum_{u, v} k[u, v] * x[i + u - r, j + v - r]`` (the kernel is not flipped),
with the border padded by reflection so the output keeps the image's size.

    python -m demos.inside
"""

from __future__ import annotations

if __name__ == "__main__":   # --help and bad flags answered before gradio and TensorFlow load
    from demos.cli import parse_args
    ARGS = parse_args(None, __doc__)

import math
import re
from typing import Any

import gradio as gr
import keras
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from demos.common import (EXAMPLES, ImageInput, check_model, echo, get_model, get_submodel,
                          launch, load_image, model_choices, model_input, plain_choices)

MODELS: dict[str, str] = {
    "lenet5.mnist": "LeNet-5 (MNIST)",
    "resnet20_cifar.cifar10": "ResNet-20 (CIFAR-10)",
    "siamese_net.att_faces": "Siamese face network (AT&T faces)",
    "lenetpp.mnist_center": "LeNets++ (MNIST, center loss)",
    "unet.membrane": "U-Net (ISBI 2012 membranes)",
    "eigen_depth.scenes": "Eigen depth network (rendered rooms)",
    "resnet50.imagenet": "ResNet-50 (ImageNet)",
    "mobilenet.imagenet": "MobileNet (ImageNet)",
    "vgg16.imagenet": "VGG-16 (ImageNet)",
}
MAX_MAPS = 32
GRID_COLUMNS = 8
TILE = 64                  # small maps are enlarged (nearest neighbour) to about this size
FCN_MAX_SIDE = 256         # fully convolutional models see at most this

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
KERNELS = ("Gaussian blur", "Sobel x (vertical edges)", "Sobel y (horizontal edges)",
           "Sobel magnitude", "Custom 3x3")
DEFAULT_CUSTOM = "0 -1 0\n-1 5 -1\n0 -1 0"     # sharpen
FLOAT32_MAX = float(np.finfo(np.float32).max)  # 3.4e38: the filter computes in float32
PLAYGROUND_MAX_SIDE = 512


# ---------------------------------------------------------------------------------------------
# Feature maps
# ---------------------------------------------------------------------------------------------

def layer_names(model_key: str) -> list[str]:
    """The layers of ``model_key`` whose output is a stack of feature maps (rank 4)."""
    check_model(model_key, MODELS, "model")
    model = get_model(model_key).model
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        output = getattr(layer, "output", None)
        if output is not None and not isinstance(output, (list, tuple, dict)) \
                and len(output.shape) == 4:
            names.append(layer.name)
    return names


def update_layers(model_key: str) -> dict[str, Any]:
    """The layer menu for a newly chosen model (its first layer selected)."""
    if not model_key:
        return gr.update(choices=[], value=None)
    names = layer_names(model_key)
    return gr.update(choices=names, value=names[0] if names else None)


def tile_maps(maps: np.ndarray, limit: int = MAX_MAPS, columns: int = GRID_COLUMNS,
              tile: int = TILE, pad: int = 2) -> np.ndarray:
    """``(h, w, c)`` activations -> a grey grid of the first ``limit`` channels, uint8.

    Each channel is scaled to its own range (min black, max white; a constant one is black),
    enlarged by an integer factor (nearest neighbour) so its longer side is about ``tile``.
    """
    maps = np.asarray(maps, np.float32)
    h, w, c = maps.shape
    n = min(c, limit)
    factor = max(1, math.ceil(tile / max(h, w)))
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    th, tw = h * factor, w * factor
    grid = np.full((rows * (th + pad) + pad, cols * (tw + pad) + pad), 255, np.uint8)
    for i in range(n):
        m = maps[..., i]
        lo, hi = float(m.min()), float(m.max())
        scaled = (m - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(m)
        big = np.repeat(np.repeat(scaled, factor, axis=0), factor, axis=1)
        r, q = divmod(i, cols)
        top, left = pad + r * (th + pad), pad + q * (tw + pad)
        grid[top:top + th, left:left + tw] = np.round(big).astype(np.uint8)
    return grid


def feature_maps(image: Any, model_key: str = "lenet5.mnist", layer: str | None = None
                 ) -> tuple[np.ndarray, str]:
    """An image -> (grid of ``layer``'s feature maps, a caption).

    Raises:
        gr.Error: a bad image, an unknown model, or a layer without feature maps.
    """
    names = layer_names(model_key)
    if layer is None and names:
        layer = names[0]
    if layer not in names:
        raise gr.Error(f"{model_key} has no feature-map layer {echo(layer)}. Choose one of: "
                       f"{', '.join(names)}.", print_exception=False)
    loaded = get_model(model_key)
    channels = loaded.model.input_shape[-1]
    fixed = None not in loaded.model.input_shape[1:3]
    picture = load_image(image, "L" if channels == 1 else "RGB",
                         max_side=1024 if fixed else FCN_MAX_SIDE)
    sub, predict = get_submodel(model_key, layer)
    maps = np.asarray(predict(model_input(loaded, picture)))[0]
    kind = type(loaded.model.get_layer(layer)).__name__
    h, w, c = maps.shape
    shown = min(c, MAX_MAPS)
    caption = (f"`{layer}` ({kind}): output {h}x{w}x{c}. Showing {shown} of {c} channels, "
               f"each scaled from its own minimum (black) to maximum (white); activations "
               f"from {maps.min():.3g} to {maps.max():.3g}.")
    return tile_maps(maps), caption


# ---------------------------------------------------------------------------------------------
# Convolution playground
# ---------------------------------------------------------------------------------------------

def gaussian_kernel_1d(sigma: float) -> np.ndarray:
    """``g[i] ~ exp(-i^2 / (2 sigma^2))`` for ``|i| <= ceil(3 sigma)``, summing to 1."""
    radius = max(1, math.ceil(3.0 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-x * x / (2.0 * sigma * sigma))
    return (g / g.sum()).astype(np.float32)


def correlate2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlation of a grey float image with a ``(kh, kw)`` kernel (odd sides), the
    border padded by reflection: the output has the image's size.

    Written with NumPy's sliding windows (SciPy is not a dependency of the demos).
    """
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="reflect")
    windows = sliding_window_view(padded, (kh, kw))
    return np.einsum("ijkl,kl->ij", windows, kernel.astype(np.float32), optimize=True)


def parse_kernel(text: str) -> np.ndarray:
    """Nine numbers (rows of three, separated by spaces, commas, semicolons or new lines).

    The filter computes in float32, so each number must be a finite float32: at most
    `FLOAT32_MAX` (3.4e38) in magnitude (1e39 would become infinity).

    Raises:
        gr.Error: a token that is not a number (quoted, cut to ``ECHO_LIMIT`` characters),
            a value that is not a finite float32, or not exactly nine numbers.
    """
    tokens = [t for t in re.split(r"[\s,;]+", str(text or "").strip().strip("[]")) if t]
    tokens = [t.strip("[]") for t in tokens]
    values = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            raise gr.Error(f"Could not read {echo(token)} as a number. Type the kernel as 3 "
                           "rows of 3 numbers, e.g. '0 -1 0 / -1 5 -1 / 0 -1 0' on three "
                           "lines.", print_exception=False) from None
        if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
            raise gr.Error(f"Kernel values must be finite float32 numbers, at most "
                           f"{FLOAT32_MAX:.4g} in magnitude. Received {echo(token)}.",
                           print_exception=False)
        values.append(value)
    if len(values) != 9:
        raise gr.Error(f"A 3x3 kernel needs 9 numbers (3 rows of 3). Received {len(values)}.",
                       print_exception=False)
    return np.array(values, np.float32).reshape(3, 3)


def _display(out: np.ndarray, signed: bool = False) -> tuple[np.ndarray, str]:
    """Filter output -> uint8 and how it was mapped (values outside 0-255 need a mapping).

    ``signed`` (derivative kernels, whose sign is the edge's direction) always draws 0 as
    mid-grey; otherwise values in 0-255 are drawn as they are.
    """
    lo, hi = float(out.min()), float(out.max())
    if not signed and lo >= -0.5 and hi <= 255.5:
        return np.clip(np.round(out), 0, 255).astype(np.uint8), "shown as is (0-255)"
    if lo < 0 or signed:
        peak = max(abs(lo), abs(hi), 1e-12)
        return (np.round(127.5 + 127.5 * out / peak).astype(np.uint8),
                f"signed: mid-grey is 0, black {-peak:.3g}, white {peak:.3g}")
    return (np.round(out * (255.0 / hi)).astype(np.uint8),
            f"scaled: black 0, white {hi:.3g}")


def _matrix(kernel: np.ndarray) -> str:
    rows = [" ".join(f"{v:7.3f}" for v in row) for row in kernel]
    return "```\n" + "\n".join(rows) + "\n```"


def convolve(image: Any, kernel: str = "Gaussian blur", sigma: float = 2.0,
             custom: str = DEFAULT_CUSTOM) -> tuple[np.ndarray, str]:
    """A grey version of the image filtered with the chosen kernel -> (output, caption).

    Raises:
        gr.Error: a bad image, a sigma out of range, a custom kernel that is not 9 finite
            float32 numbers, or one whose output on this image overflows float32.
    """
    grey = load_image(image, "L", max_side=PLAYGROUND_MAX_SIDE).astype(np.float32)
    if kernel == "Gaussian blur":
        try:
            sigma = float(sigma)
        except (TypeError, ValueError):
            sigma = float("nan")
        if not 0.1 <= sigma <= 20:
            raise gr.Error(f"Sigma must be between 0.1 and 20 pixels. Received {sigma}.",
                           print_exception=False)
        g = gaussian_kernel_1d(sigma)
        out = correlate2d(correlate2d(grey, g[None, :]), g[:, None])   # separable: rows, cols
        shown = (f"Gaussian, sigma {sigma:g} px: a {len(g)}x{len(g)} kernel applied as two "
                 f"1-D passes (it is separable). Centre row of the kernel: "
                 + ", ".join(f"{v:.3f}" for v in g[len(g) // 2 - 2:len(g) // 2 + 3]) + " ...")
    elif kernel in KERNELS[1:4]:
        gx = correlate2d(grey, SOBEL_X)
        gy = correlate2d(grey, SOBEL_X.T)
        if kernel.startswith("Sobel x"):
            out, shown = gx, "Sobel x:\n" + _matrix(SOBEL_X)
        elif kernel.startswith("Sobel y"):
            out, shown = gy, "Sobel y:\n" + _matrix(SOBEL_X.T)
        else:
            out, shown = np.hypot(gx, gy), "Sobel magnitude sqrt(gx^2 + gy^2) of the two kernels"
    elif kernel == "Custom 3x3":
        k = parse_kernel(custom)
        with np.errstate(over="ignore", invalid="ignore"):
            out = correlate2d(grey, k)
        if not np.all(np.isfinite(out)):      # each value fits float32, their sum did not
            raise gr.Error(f"With this kernel the filtered image has values beyond float32 "
                           f"(magnitude over {FLOAT32_MAX:.4g}), which no picture can show. "
                           f"Use smaller values.", print_exception=False)
        shown = "Your kernel:\n" + _matrix(k)
    else:
        raise gr.Error(f"Unknown kernel {echo(kernel)}. Choose one of: {', '.join(KERNELS)}.",
                       print_exception=False)
    picture, mapping = _display(out, signed=kernel.startswith(("Sobel x", "Sobel y")))
    h, w = grey.shape
    return picture, f"{shown}\n\nOutput {h}x{w}, {mapping}."


# ---------------------------------------------------------------------------------------------
# The tab
# ---------------------------------------------------------------------------------------------

def build() -> gr.Blocks:
    """The Look inside tab."""
    choices = model_choices(MODELS)
    with gr.Blocks(title="zoo: look inside", analytics_enabled=False) as demo:
        gr.Markdown("What a network computes on your image, layer by layer, and the "
                    "convolution that every Conv2D layer applies, by hand.")
        image = ImageInput(label="Image", elem_id="inside-image", height=240)
        gr.Examples([[str(EXAMPLES / "cifar10" / "cat.jpg")],
                     [str(EXAMPLES / "digits" / "digit_7.png")],
                     [str(EXAMPLES / "scenes" / "scene_1.png")],
                     [str(EXAMPLES / "membrane" / "synthetic_em.png")]],
                    inputs=[image], label="Examples")
        with gr.Tab("Feature maps"):
            with gr.Row():
                model = plain_choices(gr.Dropdown(
                    choices, value=choices[0][1] if choices else None, label="Model",
                    elem_id="inside-model"), "model")
                layer = gr.Dropdown([], label="Layer", allow_custom_value=True,
                                    elem_id="inside-layer")
            maps_button = gr.Button("Show feature maps", variant="primary",
                                    elem_id="inside-maps-button")
            maps = gr.Image(label="Feature maps", format="png", interactive=False,
                            elem_id="inside-maps")
            maps_caption = gr.Markdown(label="Caption", elem_id="inside-maps-caption")
        with gr.Tab("Convolution playground"):
            with gr.Row():
                kernel = plain_choices(gr.Radio(list(KERNELS), value=KERNELS[0],
                                                label="Kernel", elem_id="inside-kernel"),
                                       "kernel")
                with gr.Column():
                    sigma = gr.Slider(0.5, 10.0, value=2.0, step=0.1, label="Gaussian sigma (px)",
                                      elem_id="inside-sigma")
                    custom = gr.Textbox(DEFAULT_CUSTOM, lines=3, label="Custom 3x3 kernel",
                                        elem_id="inside-custom")
            conv_button = gr.Button("Convolve", variant="primary", elem_id="inside-conv-button")
            filtered = gr.Image(label="Filtered (grey)", format="png", interactive=False,
                                elem_id="inside-filtered")
            conv_caption = gr.Markdown(label="Kernel", elem_id="inside-conv-caption")
        model.change(update_layers, model, layer, api_name="layers")
        demo.load(update_layers, model, layer, api_name=False)
        maps_button.click(feature_maps, [image, model, layer], [maps, maps_caption],
                          api_name="feature_maps")
        conv_button.click(convolve, [image, kernel, sigma, custom], [filtered, conv_caption],
                          api_name="convolve")
    return demo


if __name__ == "__main__":
    launch(build, ARGS, preload=list(MODELS))
