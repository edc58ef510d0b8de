"""Classify tab: draw a digit for LeNet-5, or upload a picture for a CIFAR-10 / ImageNet model.

LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE
1998) reads a sketch the way MNIST was made: the ink's bounding box scaled into 20x20 and
centred by its centre of mass in 28x28, padded to 32x32. ResNet-20 (He et al., "Deep Residual
Learning for Image Recognition", CVPR 2016, section 4.2) takes 32x32 CIFAR-10 photos. The
ImageNet models (ResNet-50, MobileNet, VGG-16) appear only when their weights are already in
the cache: the demo never downloads.

    python -m demos.classify            # this tab alone, on http://127.0.0.1:7860
"""

from __future__ import annotations

if __name__ == "__main__":   # --help and bad flags answered before gradio and TensorFlow load
    from demos.cli import parse_args
    ARGS = parse_args(None, __doc__)

from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from demos.common import (EXAMPLES, ImageInput, SketchInput, check_model, get_model, launch,
                          load_image, model_choices, model_input, plain_choices, top_k)

# Weight tags this tab can serve, in menu order, with what to upload.
MODELS: dict[str, str] = {
    "lenet5.mnist": "LeNet-5, MNIST digits (28x28 grey)",
    "resnet20_cifar.cifar10": "ResNet-20, CIFAR-10 (32x32 photos, 10 classes)",
    "resnet50.imagenet": "ResNet-50, ImageNet (1,000 classes)",
    "mobilenet.imagenet": "MobileNet, ImageNet (1,000 classes)",
    "vgg16.imagenet": "VGG-16, ImageNet (1,000 classes)",
}
DIGIT_MODEL = "lenet5.mnist"
TOP = 5
SKETCH_SIZE = 280     # canvas pixels; a 20 px brush then draws MNIST-like strokes


def _class_names(key: str) -> list[str]:
    """The record's class names (ImageNet's 1000 ship with the package: `zoo.imagenet`)."""
    return get_model(key).class_names


def _stack(layers: list[Any]) -> np.ndarray:
    """Layers (files, PNG bytes or RGBA arrays) composited, in order, on a white canvas the
    size of the first; each is read (checked, downscaled) by `load_image`."""
    canvas = None
    for layer in layers:
        im = Image.fromarray(load_image(layer, "RGBA", what="sketchpad"), "RGBA")
        if canvas is None:
            canvas = Image.new("RGBA", im.size, "white")
        canvas.alpha_composite(im.resize(canvas.size))
    return np.asarray(canvas)


def sketch_to_grey(sketch: Any) -> np.ndarray:
    """The Sketchpad's value (``{"background", "layers", "composite"}``) -> grey uint8, ink dark.

    `SketchInput` passes file paths (API calls) or PNG bytes (the browser's canvas); arrays
    work too. The composite is flattened on white, as the canvas shows it; without a
    composite the layers are stacked. An untouched pad gives None or a blank picture.
    """
    if isinstance(sketch, dict):
        picture = sketch.get("composite")
        layers = [layer for layer in sketch.get("layers") or [] if layer is not None]
        if picture is None and layers:
            picture = _stack(layers)
        sketch = picture
    if sketch is None:
        raise gr.Error("The sketchpad is empty: draw a digit (0-9) with the brush, then press "
                       "Classify.", print_exception=False)
    return load_image(sketch, mode="L", what="sketchpad")


def classify_digit(sketch: Any) -> dict[str, float]:
    """A drawn digit -> LeNet-5's top-5 ``{digit: probability}``.

    Raises:
        gr.Error: when nothing is drawn.
    """
    grey = sketch_to_grey(sketch)
    loaded = get_model(DIGIT_MODEL)
    x = model_input(loaded, grey, what="sketchpad")
    return top_k(loaded.predict(x)[0], _class_names(DIGIT_MODEL), TOP)


def classify_image(image: Any, model_key: str = "resnet20_cifar.cifar10") -> dict[str, float]:
    """An uploaded picture -> the chosen model's top-5 ``{class: probability}``.

    Args:
        image: a file path, PIL image or array (see `demos.common.load_image`).
        model_key: a weight tag of `MODELS` whose weights are on this machine.

    Raises:
        gr.Error: a bad image, or a model that is not available here.
    """
    check_model(model_key, MODELS, "classification")
    loaded = get_model(model_key)
    channels = loaded.model.input_shape[-1]
    picture = load_image(image, mode="L" if channels == 1 else "RGB")
    x = model_input(loaded, picture)
    return top_k(loaded.predict(x)[0], _class_names(model_key), TOP)


def build() -> gr.Blocks:
    """The Classify tab: a sketchpad for digits and an upload for photos."""
    choices = model_choices(MODELS)
    with gr.Blocks(title="zoo: classify", analytics_enabled=False) as demo:
        gr.Markdown("Top-5 classes with their probabilities. LeNet-5 was trained on MNIST "
                    "(99.2 % test accuracy); ResNet-20 on CIFAR-10 (83.7 %, a short CPU "
                    "run). ImageNet models are listed when their weights are in the cache.")
        with gr.Row():
            with gr.Column():
                gr.Markdown("**Draw a digit** (LeNet-5)")
                sketch = SketchInput(
                    canvas_size=(SKETCH_SIZE, SKETCH_SIZE),
                    brush=gr.Brush(default_size=20, colors=["#000000"], color_mode="fixed"),
                    layers=False, label="Sketchpad", elem_id="classify-sketch")
                digit_button = gr.Button("Classify drawing", variant="primary",
                                         elem_id="classify-sketch-button")
                digit_label = gr.Label(num_top_classes=TOP, label="LeNet-5 says",
                                       elem_id="classify-sketch-label")
            with gr.Column():
                gr.Markdown("**Upload a picture**")
                model = plain_choices(gr.Dropdown(
                    choices, value=choices[1][1] if len(choices) > 1 else None, label="Model",
                    elem_id="classify-model"), "model")
                image = ImageInput(label="Picture", elem_id="classify-image", height=256)
                image_button = gr.Button("Classify picture", variant="primary",
                                         elem_id="classify-image-button")
                image_label = gr.Label(num_top_classes=TOP, label="Top 5",
                                       elem_id="classify-image-label")
        offered = {key for _, key in choices}
        examples = ([[str(EXAMPLES / "cifar10" / f"{c}.jpg"), "resnet20_cifar.cifar10"]
                     for c in ("cat", "ship", "airplane", "frog")]
                    + [[str(EXAMPLES / "digits" / f"digit_{d}.png"), DIGIT_MODEL] for d in (3, 7)])
        gr.Examples([row for row in examples if row[1] in offered], inputs=[image, model],
                    label="Examples (CIFAR-10 test photos, MNIST test digits)")
        digit_button.click(classify_digit, sketch, digit_label, api_name="classify_digit")
        image_button.click(classify_image, [image, model], image_label,
                           api_name="classify_image")
    return demo


if __name__ == "__main__":
    launch(build, ARGS, preload=list(MODELS))
