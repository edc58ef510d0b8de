"""Segment tab: an image in; the class mask over it and the share of the picture per class.

The shipped model is U-Net (Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for
Biomedical Image Segmentation", MICCAI 2015) trained on the ISBI 2012 electron-microscopy
slices, the paper's first data set: every pixel is membrane or cell. U-Net is fully
convolutional, so the image keeps its size (downscaled to at most 512 px, padded by
reflection to a multiple of 16) and the logits' arg-max is the mask.

The ISBI data (and weights trained on it) are for non-commercial research only, so the
example is a synthetic EM-like picture made in ``demos/examples/make_examples.py``.

    python -m demos.segment
"""

from __future__ import annotations

if __name__ == "__main__":   # --help and bad flags answered before gradio and TensorFlow load
    from demos.cli import parse_args
    ARGS = parse_args(None, __doc__)

import dataclasses
from typing import Any

import gradio as gr
import numpy as np

from demos.common import (EXAMPLES, ISBI_NOTE, ImageInput, check_model, get_model, launch,
                          load_image, model_input, model_menu)
from zoo.visualize import class_areas


@dataclasses.dataclass(frozen=True)
class Segmenter:
    """How the tab shows one segmentation weight tag."""

    title: str
    show: tuple[str, ...]            # classes drawn over the image (the others stay clear)
    class_names: tuple[str, ...]     # used when the weight record carries none
    colors: dict[str, str]
    note: str = ""
    max_side: int = 512              # larger images are downscaled to this


MODELS: dict[str, Segmenter] = {
    "unet.membrane": Segmenter(
        title="U-Net, ISBI 2012 EM membranes (membrane / cell)", show=("membrane",),
        class_names=("membrane", "cell"), colors={"membrane": "#ff2020", "cell": "#20c020"},
        note=ISBI_NOTE),
}
OPACITY = 0.6


def predict_mask(image: Any, model_key: str = "unet.membrane") -> tuple[np.ndarray, np.ndarray,
                                                                        list[str]]:
    """An image -> (the image as shown, uint8 RGB; the class-id mask; the class names)."""
    check_model(model_key, MODELS, "segmentation")
    cfg = MODELS[model_key]
    loaded = get_model(model_key)
    channels = loaded.model.input_shape[-1]
    picture = load_image(image, "L" if channels == 1 else "RGB", max_side=cfg.max_side)
    height, width = picture.shape[:2]
    scores = loaded.predict(model_input(loaded, picture))
    scores = np.asarray(scores)[0, :height, :width]
    if scores.shape[-1] == 1:                       # one sigmoid logit: class 1 where > 0
        mask = (scores[..., 0] > 0).astype(np.int32)
        classes = 2
    else:
        mask = np.argmax(scores, axis=-1).astype(np.int32)
        classes = scores.shape[-1]
    names = list(loaded.spec.class_names or cfg.class_names)
    if len(names) != classes:
        names = [f"class {i}" for i in range(classes)]
    rgb = np.repeat(picture[..., None], 3, axis=-1) if picture.ndim == 2 else picture
    return rgb, mask, names


def segment(image: Any, model_key: str = "unet.membrane"
            ) -> tuple[tuple[np.ndarray, list[tuple[np.ndarray, str]]], dict[str, float]]:
    """An image -> (the AnnotatedImage value: image and one mask per shown class, the area
    share of every class).

    Raises:
        gr.Error: a missing or bad image, or an unknown model.
    """
    rgb, mask, names = predict_mask(image, model_key)
    show = MODELS[model_key].show
    annotations = [((mask == i).astype(np.float32) * OPACITY, name)
                   for i, name in enumerate(names) if name in show or not show]
    return (rgb, annotations), class_areas(mask, names)


def build() -> gr.Blocks:
    """The Segment tab."""
    colors: dict[str, str] = {}
    for cfg in MODELS.values():
        colors.update(cfg.colors)
    with gr.Blocks(title="zoo: segment", analytics_enabled=False) as demo:
        gr.Markdown(f"Every pixel gets a class; the mask is drawn over the image and the "
                    f"share of each class is listed. {ISBI_NOTE}")
        model, choices = model_menu(MODELS, "segment-model", "segmentation")
        with gr.Row():
            image = ImageInput(label="Image (grey EM slice)", elem_id="segment-image",
                               height=320)
            annotated = gr.AnnotatedImage(label="Mask", color_map=colors, format="png",
                                          elem_id="segment-output", height=320)
        button = gr.Button("Segment", variant="primary", elem_id="segment-button")
        areas = gr.Label(label="Share of the picture per class", elem_id="segment-areas")
        if choices:
            gr.Examples([[str(EXAMPLES / "membrane" / "synthetic_em.png"), choices[0][1]]],
                        inputs=[image, model], label="Example (synthetic EM picture)")
        button.click(segment, [image, model], [annotated, areas], api_name="segment")
    return demo


if __name__ == "__main__":
    launch(build, ARGS, preload=list(MODELS))
