"""Detect tab: an image in; boxes with class names and scores, a table, and NMS before / after.

The model is RetinaNet (Lin, Goyal, Girshick, He and Dollar, "Focal Loss for Dense Object
Detection", ICCV 2017) trained on BCCD, microscope images of blood cells with three classes:
red cells (RBC), white cells (WBC) and platelets. The image is letterboxed to the model's
input (grey borders, aspect kept) and divided by 255; the network answers with raw outputs,
a class logit and four box deltas for every anchor. Decoding turns them into boxes
(`zoo.models.detection.retinanet.decode_predictions`, compiled): sigmoid scores, the best
1000 (anchor, class) pairs above the **score threshold**, box decoding, then per-class
non-maximum suppression at the **IoU threshold**; the boxes are mapped back to the image.

The raw outputs of the last few images are kept (`OUTPUTS`), so moving a slider re-runs only
the decoding and NMS, not the network; the thresholds are traced arguments of the compiled
decoder, so a new value recompiles nothing. The NMS picture is the course's: every candidate
above the score threshold (decoded without suppression, IoU threshold 1) beside the boxes
NMS keeps.

    python -m demos.detect
"""

from __future__ import annotations

if __name__ == "__main__":   # --help and bad flags answered before gradio and TensorFlow load
    from demos.cli import parse_args
    ARGS = parse_args(None, __doc__)

import collections
import dataclasses
import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from demos.common import (EXAMPLES, MAX_SIDE, ImageInput, Loaded, check_model, check_number,
                          get_model, launch, load_image, model_menu, open_image, plain_number)
from zoo.models.detection.retinanet import (anchor_generator_of, boxes_to_image,
                                            decode_predictions, letterbox_image,
                                            letterbox_transform, model_input_size)
from zoo.ops.boxes import BoxCoder
from zoo.visualize import BOX_COLORS, draw_boxes, prediction_grid

MODELS: dict[str, str] = {
    "retinanet.bccd": "RetinaNet (half-width MobileNet + FPN), BCCD blood cells: RBC, WBC, "
                      "platelets",
}
BCCD = sorted((EXAMPLES / "bccd" / "JPEGImages").glob("*.jpg"))
SCORE = (0.05, 0.95, 0.3)        # the score slider: minimum, maximum, start
IOU = (0.1, 0.9, 0.5)            # the IoU slider
MAX_DETECTIONS = 100             # boxes kept after NMS
CANDIDATES = 1000                # decode_predictions' candidates: the most "before" can show
PANEL_SIDE = 480                 # the NMS picture's panels, longer side
CACHED_IMAGES = 8                # raw outputs kept (a 256x320 RetinaNet's: 0.4 MB an image)
COLUMNS = ["class", "score", "x1", "y1", "x2", "y2"]
# One coder for every call (decode_predictions keeps one compiled decoder per coder setting,
# input size and candidate count; the thresholds are its arguments).
CODER = BoxCoder()


# ---------------------------------------------------------------------------------------------
# The network's raw outputs, kept per image
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RawOutputs:
    """One image's forward pass: the raw head outputs and the letterbox that fed it."""

    outputs: dict[str, np.ndarray]               # {"cls_logits", "bbox_regression"}, batch 1
    input_size: tuple[int, int]                  # the model input's (height, width)
    transform: tuple[float, float, float, float]  # `letterbox_transform` of the image


class OutputCache:
    """The raw outputs of the last ``size`` images, keyed by model and pixels, shared by all
    requests (a slider event sends the image again; its pixels find the outputs). Thread-safe;
    two first requests for one image may both run the network, never a wrong image's."""

    def __init__(self, size: int):
        self.size = size
        self._items: collections.OrderedDict[tuple, RawOutputs] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, compute: Callable[[], RawOutputs]) -> RawOutputs:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


OUTPUTS = OutputCache(CACHED_IMAGES)


def input_size(loaded: Loaded) -> tuple[int, int]:
    """The model's input ``(height, width)``: its static input shape, else the record's."""
    try:
        return model_input_size(loaded.model)
    except ValueError:
        if not loaded.spec.input_shape:
            raise
        return model_input_size(loaded.model, loaded.spec.input_shape[:2])


def raw_outputs(model_key: str, loaded: Loaded, picture: np.ndarray) -> RawOutputs:
    """The forward pass of ``picture`` (uint8 RGB), from `OUTPUTS` when it ran already."""
    digest = hashlib.blake2b(picture.tobytes(), digest_size=16).hexdigest()

    def forward() -> RawOutputs:
        size = input_size(loaded)
        x = letterbox_image(picture, size)[None] / 255.0       # "unit" preprocessing
        outputs = loaded.predict(x.astype(np.float32))
        return RawOutputs({name: np.asarray(value) for name, value in outputs.items()}, size,
                          letterbox_transform(picture.shape[:2], size))

    return OUTPUTS.get((model_key, picture.shape, digest), forward)


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Detections:
    """Boxes (xyxy, in the picture's pixels), scores and class ids, best first."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def decode(loaded: Loaded, raw: RawOutputs, image_hw: Sequence[int], score_threshold: float,
           iou_threshold: float, max_detections: int = MAX_DETECTIONS) -> Detections:
    """``raw`` -> the detections in the image's pixels (clipped to it). No forward pass."""
    found = decode_predictions(raw.outputs, raw.input_size,
                               anchor_generator=anchor_generator_of(loaded.model),
                               score_threshold=score_threshold, iou_threshold=iou_threshold,
                               max_detections=max_detections, candidates=CANDIDATES,
                               coder=CODER)
    n = int(found["num_detections"][0])
    boxes = boxes_to_image(found["boxes"][0, :n], raw.transform, image_hw[:2])
    return Detections(boxes, found["scores"][0, :n], found["classes"][0, :n])


def class_names(loaded: Loaded, raw: RawOutputs) -> list[str]:
    """The record's class names ("RBC", "WBC", "Platelets"), else "class i"."""
    count = raw.outputs["cls_logits"].shape[-1]
    names = list(loaded.spec.class_names or ())
    return names if len(names) == count else [f"class {i}" for i in range(count)]


# ---------------------------------------------------------------------------------------------
# Pictures, table, summary
# ---------------------------------------------------------------------------------------------

def _upload_scale(image: Any, picture: np.ndarray) -> float:
    """The upload's longer side over the picture's: 1 unless `load_image` downscaled it."""
    if max(picture.shape[:2]) < MAX_SIDE:
        return 1.0
    original = open_image(image)
    side = max(original.size)
    original.close()
    return side / max(picture.shape[:2])


def _outlines(picture: np.ndarray, boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Thin class-coloured outlines, no labels: the candidates before NMS."""
    im = Image.fromarray(picture)
    draw = ImageDraw.Draw(im)
    for box, label in zip(boxes.tolist(), labels.tolist()):
        draw.rectangle(box, outline=tuple(int(c) for c in BOX_COLORS[label % len(BOX_COLORS)]))
    return np.asarray(im)


def nms_picture(picture: np.ndarray, before: Detections, after: Detections,
                names: Sequence[str], score_threshold: float,
                iou_threshold: float) -> np.ndarray:
    """Every candidate above the score threshold (thin) | the boxes NMS keeps, titled."""
    scale = min(1.0, PANEL_SIDE / max(picture.shape[:2]))
    small = picture
    if scale < 1.0:
        size = (round(picture.shape[1] * scale), round(picture.shape[0] * scale))
        small = np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.BILINEAR,
                                                           reducing_gap=2.0))
    left = _outlines(small, before.boxes * scale, before.labels)
    right = draw_boxes(small, after.boxes * scale, after.labels, None, names)
    return prediction_grid(
        [[left, right]],
        titles=[f"Before NMS: {len(before)} candidates with score >= {score_threshold:.2f}",
                f"After NMS (IoU > {iou_threshold:.2f} suppressed): {len(after)} boxes"])


def detection_table(found: Detections, names: Sequence[str], scale: float = 1.0) -> pd.DataFrame:
    """One row per box: class, score, x1, y1, x2, y2 (pixels times ``scale``), best first."""
    boxes = np.round(found.boxes.astype(np.float64) * scale, 1)
    rows = [[names[label], round(float(score), 3), *box]
            for label, score, box in zip(found.labels.tolist(), found.scores.tolist(),
                                         boxes.tolist())]
    return pd.DataFrame(rows, columns=COLUMNS)


def _summary(loaded: Loaded, before: Detections, after: Detections, names: Sequence[str],
             score_threshold: float, iou_threshold: float, size: tuple[int, int]) -> str:
    if not len(after):
        found = (f"**No detections** with score >= {score_threshold:.2f}: lower the score "
                 f"threshold.")
    else:
        counts = collections.Counter(names[label] for label in after.labels.tolist())
        found = (f"**{len(after)} detections** with score >= {score_threshold:.2f}: "
                 + ", ".join(f"{counts[name]} {name}" for name in names if counts[name]) + ".")
    text = (f"{found} NMS kept {len(after)} of {len(before)} candidate boxes (per class, a box "
            f"overlapping a better one by IoU > {iou_threshold:.2f} is suppressed). "
            f"Coordinates are in the uploaded image's pixels ({size[0]}x{size[1]}).")
    spec = loaded.spec
    if spec.metrics:   # the record's first dataset, its first three figures
        dataset, metrics = next(iter(spec.metrics.items()))
        shown = ", ".join(f"{name} {value:.3f}" for name, value in list(metrics.items())[:3])
        text += f"\n\nThe model on {dataset} ({spec.split or 'test'}): {shown}."
    return text


# ---------------------------------------------------------------------------------------------
# The tab's functions
# ---------------------------------------------------------------------------------------------

def thresholds(score_threshold: Any, iou_threshold: Any) -> tuple[float, float]:
    """The sliders' values checked: a `gr.Error` for NaN, text or a value beyond a slider."""
    return (check_number(score_threshold, "The score threshold", *SCORE[:2]),
            check_number(iou_threshold, "The IoU threshold", *IOU[:2]))


def detect(image: Any, model_key: str = "retinanet.bccd", score_threshold: float = SCORE[2],
           iou_threshold: float = IOU[2]
           ) -> tuple[np.ndarray, pd.DataFrame, str, np.ndarray]:
    """An image -> (the image with its boxes, the table of detections, a summary in Markdown,
    the NMS picture: candidates before suppression | boxes after).

    The forward pass runs once per image (`raw_outputs`); new thresholds decode its kept
    outputs again.

    Raises:
        gr.Error: a missing or bad image, an unknown model, a threshold out of range.
    """
    check_model(model_key, MODELS, "detection")
    score, iou = thresholds(score_threshold, iou_threshold)
    loaded = get_model(model_key)
    picture = load_image(image, "RGB")
    raw = raw_outputs(model_key, loaded, picture)
    names = class_names(loaded, raw)
    after = decode(loaded, raw, picture.shape, score, iou)
    before = decode(loaded, raw, picture.shape, score, 1.0, CANDIDATES)   # nothing suppressed
    scale = _upload_scale(image, picture)
    size = (round(picture.shape[1] * scale), round(picture.shape[0] * scale))
    return (draw_boxes(picture, after.boxes, after.labels, after.scores, names),
            detection_table(after, names, scale),
            _summary(loaded, before, after, names, score, iou, size),
            nms_picture(picture, before, after, names, score, iou))


def redetect(image: Any, model_key: str, score_threshold: float, iou_threshold: float) -> Any:
    """A slider moved: `detect` again (decoding only, for an image already seen), or nothing
    while no image is there."""
    if image is None:
        return (gr.skip(),) * 4
    return detect(image, model_key, score_threshold, iou_threshold)


def build() -> gr.Blocks:
    """The Detect tab."""
    with gr.Blocks(title="zoo: detect", analytics_enabled=False) as demo:
        gr.Markdown("Object detection: boxes around the blood cells of a microscope image, "
                    "with class and score. RetinaNet scores every anchor box; the **score "
                    "threshold** drops the unlikely ones and **non-maximum suppression** keeps "
                    "the best of each cluster of overlapping boxes. Move the sliders: only the "
                    "decoding runs again, not the network. BCCD images: Shenggan/BCCD_Dataset "
                    "(MIT licence).")
        model, choices = model_menu(MODELS, "detect-model", "detection")
        with gr.Row():
            image = ImageInput(label="Image (blood smear)", elem_id="detect-image", height=360)
            # JPEG: Gradio writes a 640x480 PNG in ~100 ms, a JPEG in ~2 ms
            picture = gr.Image(label="Detections", format="jpeg", interactive=False,
                               elem_id="detect-output", height=360)
        with gr.Row():
            score = plain_number(gr.Slider(*SCORE[:2], value=SCORE[2], step=0.05,
                                           label="Score threshold", elem_id="detect-score"),
                                 "The score threshold")
            iou = plain_number(gr.Slider(*IOU[:2], value=IOU[2], step=0.05,
                                         label="NMS IoU threshold", elem_id="detect-iou"),
                               "The IoU threshold")
        button = gr.Button("Detect", variant="primary", elem_id="detect-button")
        if choices:
            gr.Examples([[str(path)] for path in BCCD], inputs=[image],
                        label="Examples (BCCD test images, not trained on)")
        summary = gr.Markdown(elem_id="detect-summary")
        # no label badge: it would cover the picture's own titles
        nms = gr.Image(label="Non-maximum suppression: before | after", show_label=False,
                       format="jpeg", interactive=False, elem_id="detect-nms")
        table = gr.Dataframe(headers=COLUMNS, datatype=["str"] + ["number"] * 5,
                             label="Detections (pixels of the uploaded image)",
                             interactive=False, elem_id="detect-table")
        outputs = [picture, table, summary, nms]
        button.click(detect, [image, model, score, iou], outputs, api_name="detect")
        for slider in (score, iou):
            slider.release(redetect, [image, model, score, iou], outputs,
                           api_visibility="private", show_progress="minimal",
                           trigger_mode="always_last")
    return demo


if __name__ == "__main__":
    launch(build, ARGS, preload=list(MODELS))
