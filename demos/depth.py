"""Depth tab: one RGB image in; a coloured depth map out, with a colour bar in metres.

The model is Eigen, Puhrsch and Fergus's coarse + fine network ("Depth Map Prediction from a
Single Image using a Multi-Scale Deep Network", NeurIPS 2014), trained on rendered rooms with
exact depth (`training.data.scenes`; no real depth training set ships here), at 84x112
input and 19x26 output. The image is centre-cropped to the model's 3:4 aspect and resized;
the prediction is upsampled for display and coloured with Turbo (near red, far blue) over
its 2nd-98th percentile range.

    python -m demos.depth
"""

from __future__ import annotations

if __name__ == "__main__":   # --help and bad flags answered before gradio and TensorFlow load
    from demos.cli import parse_args
    ARGS = parse_args(None, __doc__)

from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from demos.common import (EXAMPLES, ImageInput, center_crop, check_model, get_model, launch,
                          load_image, model_input, model_menu)
from zoo.visualize import colorize_depth, depth_colorbar, depth_range, side_by_side

MODELS: dict[str, str] = {
    "eigen_depth.scenes": "Eigen et al. coarse + fine network, rendered rooms",
}
DISPLAY_HEIGHT = 240
NOTE = ("Trained on procedurally rendered rooms (boxes and spheres on a checker floor), not on "
        "real photos: expect sensible depth on the examples and rough guesses elsewhere.")


def predict_depth(image: Any, model_key: str = "eigen_depth.scenes"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """An image -> (the centre crop the model saw, uint8 RGB; depth in metres, (h, w))."""
    check_model(model_key, MODELS, "depth")
    loaded = get_model(model_key)
    height, width = loaded.model.input_shape[1:3]
    crop = center_crop(load_image(image, "RGB"), width / height)
    out = loaded.predict(model_input(loaded, crop))
    if isinstance(out, dict):
        out = out.get("fine", next(iter(out.values())))
    return crop, np.asarray(out, np.float32)[0, ..., 0]


def estimate_depth(image: Any, model_key: str = "eigen_depth.scenes") -> tuple[np.ndarray, str]:
    """An image -> (picture: crop | coloured depth | colour bar in metres, a summary).

    Raises:
        gr.Error: a missing or bad image, or no depth model here.
    """
    crop, depth = predict_depth(image, model_key)
    width = round(DISPLAY_HEIGHT * crop.shape[1] / crop.shape[0])
    size = (width, DISPLAY_HEIGHT)
    photo = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR,
                                                    reducing_gap=2.0))
    big = np.asarray(Image.fromarray(depth, "F").resize(size, Image.Resampling.BILINEAR))
    vmin, vmax = depth_range(depth)
    picture = side_by_side(photo, colorize_depth(big, vmin, vmax),
                           depth_colorbar(vmin, vmax, height=DISPLAY_HEIGHT))
    summary = (f"Predicted depth **{depth.min():.2f} m** (nearest) to **{depth.max():.2f} m** "
               f"(farthest), median {np.median(depth):.2f} m, on a {depth.shape[0]}x"
               f"{depth.shape[1]} grid upsampled for display. Colours run from {vmin:.2f} m "
               f"(red, near) to {vmax:.2f} m (blue, far). {NOTE}")
    return picture, summary


def build() -> gr.Blocks:
    """The Depth tab."""
    with gr.Blocks(title="zoo: depth", analytics_enabled=False) as demo:
        gr.Markdown("Monocular depth: one photo in, distance from the camera out, in metres. "
                    + NOTE)
        model, choices = model_menu(MODELS, "depth-model", "depth")
        with gr.Row():
            image = ImageInput(label="Photo", elem_id="depth-image", height=260)
            with gr.Column(scale=2):
                picture = gr.Image(label="Depth (metres)", format="png", interactive=False,
                                   buttons=[], elem_id="depth-output")   # no icons on the bar
                summary = gr.Markdown(label="Summary", elem_id="depth-summary")
        button = gr.Button("Estimate depth", variant="primary", elem_id="depth-button")
        if choices:
            gr.Examples([[str(EXAMPLES / "scenes" / f"scene_{k}.png"), choices[0][1]]
                         for k in (1, 2, 3)], inputs=[image, model],
                        label="Examples (rendered rooms, not seen in training)")
        button.click(estimate_depth, [image, model], [picture, summary], api_name="depth")
    return demo


if __name__ == "__main__":
    launch(build, ARGS, preload=list(MODELS))
