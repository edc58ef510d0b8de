"""Verify tab: two images in; their embedding distance, "same" or "different", and a picture.

Verification as in Chopra, Hadsell and LeCun, "Learning a Similarity Metric
Discriminatively, with Application to Face Verification" (CVPR 2005): one network embeds both
images and the pair is "same" when the L2 distance is at most a threshold, here the one
stored with the weights (chosen on validation pairs when they were published). Two models:

- ``facenet.att_faces`` (the default): 64-d unit-norm face embeddings (LeNets++ at half
  width, trained as a softmax classifier of AT&T faces s1-s25); the examples are
  s35-s40, identities the network never saw. The picture projects the gallery and both
  inputs on the gallery's two principal axes (PCA), so its distances are approximate.
- ``siamese_net.att_faces``: the course's Siamese network with contrastive loss (128-d), the
  earlier face model, kept to compare (it barely beats raw pixels on new people; README).
- ``lenetpp.mnist_center``: LeNets++ with center loss (Wen et al., "A Discriminative
  Feature Learning Approach for Deep Face Recognition", ECCV 2016), whose embedding is 2-D:
  the picture is the embedding space itself, with 500 MNIST test digits, both inputs and
  the threshold as a circle around the first.

    python -m demos.verify
"""

from __future__ import annotations

if __name__ == "__main__":   # --help and bad flags answered before gradio and TensorFlow load
    from demos.cli import parse_args
    ARGS = parse_args(None, __doc__)

import functools
import threading
from collections.abc import Callable
from typing import Any

import gradio as gr
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from demos.common import (EXAMPLES, ImageInput, check_model, get_model, get_submodel, launch,
                          load_image, model_input, model_menu)
from zoo.embeddings import default_threshold, embedding_model

MODELS: dict[str, str] = {
    "facenet.att_faces": "Faces: FaceNet-style embedding, AT&T faces (64-d)",
    "siamese_net.att_faces": "Faces: Siamese network, contrastive loss (older, 128-d)",
    "lenetpp.mnist_center": "Digits: LeNets++ with center loss, MNIST (2-D)",
}
FACES = sorted((EXAMPLES / "faces").glob("*.png"))
WORDS = {"facenet.att_faces": ("Same person", "Different people"),
         "siamese_net.att_faces": ("Same person", "Different people"),
         "lenetpp.mnist_center": ("Same digit", "Different digits")}


@functools.cache
def _embedder(key: str) -> Callable[[np.ndarray], np.ndarray]:
    """The compiled forward pass of ``key``'s embedding (the model, or cut at "embedding")."""
    loaded = get_model(key)
    net = embedding_model(loaded.model)
    if net is loaded.model:
        return loaded.predict
    return get_submodel(key, net.layers[-1].name)[1]


def _embed(key: str, images: list[np.ndarray], what: str = "image") -> np.ndarray:
    loaded = get_model(key)
    x = np.concatenate([model_input(loaded, image, what) for image in images])
    out = []
    for start in range(0, len(x), 64):
        out.append(np.asarray(_embedder(key)(x[start:start + 64]), np.float64))
    return np.concatenate(out)


@functools.cache
def _gallery(key: str) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Embedded example images, their labels, and a 2-D projection (mean, axes)."""
    if key == "lenetpp.mnist_center":
        data = np.load(EXAMPLES / "mnist_gallery.npz")
        images, labels = list(data["images"]), [str(v) for v in data["labels"]]
    else:
        images = [load_image(path, "L") for path in FACES]
        labels = [path.stem.split("_")[0] for path in FACES]
    emb = _embed(key, images)
    mean = emb.mean(axis=0)
    if emb.shape[1] == 2:
        return emb, labels, np.zeros(2), np.eye(2)
    _, _, vt = np.linalg.svd(emb - mean, full_matrices=False)
    return emb, labels, mean, vt[:2].T


class EmbeddingPlot:
    """The embedding-space picture of one model: the gallery drawn once, the pair per request.

    The gallery (its points, legend, ticks and labels) never changes, and drawing it is most
    of a picture's ~100 ms of matplotlib, during which it holds the GIL. So it is drawn once
    and kept as a pixel background (``copy_from_bbox``); each request restores it and draws
    only the pair: two stars, the line between them, the threshold circle and the title
    (matplotlib's "blitting"; the pair's artists are ``animated`` so that the background
    leaves them out). A pair outside these axes gets a plot of its own whose axes take it
    in (`_picture`). One lock per plot: requests share its figure.

    Args:
        key: a weight tag of `MODELS`.
        pair: ``(2, D)`` embeddings that the axes must also take in (default: the gallery
            only).
    """

    def __init__(self, key: str, pair: np.ndarray | None = None):
        emb, labels, self.mean, self.axes = _gallery(key)
        self.planar = emb.shape[1] == 2
        points = (emb - self.mean) @ self.axes
        self.fig = fig = Figure(figsize=(5.6, 4.8), dpi=100)
        FigureCanvasAgg(fig)
        # fixed margins, not layout="constrained": that solver measured every tick label
        # on every draw
        fig.subplots_adjust(left=0.13, right=0.97, bottom=0.11, top=0.93)
        self.ax = ax = fig.add_subplot()
        names = sorted(set(labels), key=lambda s: (len(s), s))
        cmap = matplotlib.colormaps["tab10"]
        for i, name in enumerate(names):
            sel = np.array([label == name for label in labels])
            ax.scatter(points[sel, 0], points[sel, 1], s=10 if len(labels) > 100 else 40,
                       color=cmap(i % 10), alpha=0.6, label=name)
        # the pair's artists: drawn by `draw` only
        self.circle = None
        if self.planar:
            self.circle = Circle((0, 0), 1, fill=False, ls=":", color="k",
                                 label="threshold around A", animated=True)
            ax.add_patch(self.circle)
        (self.line,) = ax.plot([], [], "--", lw=2, animated=True)
        self.stars = ax.scatter([0, 0], [0, 0], marker="*", s=320, edgecolor="k", zorder=5,
                                animated=True)
        self.letters = [ax.annotate(text, (0, 0), xytext=(6, 6), textcoords="offset points",
                                    fontsize=13, weight="bold", animated=True)
                        for text in "AB"]
        ax.title.set_animated(True)
        if self.planar:
            ax.set_xlabel("embedding 1")
            ax.set_ylabel("embedding 2")
        else:
            ax.set_xlabel("principal axis 1 of the gallery")
            ax.set_ylabel("principal axis 2")
        ax.legend(fontsize=7, ncol=2 if len(names) > 6 else 1, loc="lower right",
                  framealpha=0.7)
        span = points if pair is None else np.vstack([points, self.project(pair)])
        low, high = span.min(axis=0), span.max(axis=0)
        centre, half = (low + high) / 2, 0.58 * (high - low) + 1e-6
        if self.planar:   # equal scales on both axes, so that the threshold circle is round
            box = ax.get_window_extent()
            unit = max(half[0] / box.width, half[1] / box.height)
            half = unit * np.array([box.width, box.height])
        ax.set_xlim(centre[0] - half[0], centre[0] + half[0])
        ax.set_ylim(centre[1] - half[1], centre[1] + half[1])
        fig.canvas.draw()                          # everything that is not animated
        self.background = fig.canvas.copy_from_bbox(fig.bbox)
        self.lock = threading.Lock()

    def project(self, pair: np.ndarray) -> np.ndarray:
        """``(2, D)`` embeddings -> their ``(2, 2)`` positions in the picture's plane."""
        return (np.asarray(pair, np.float64) - self.mean) @ self.axes

    def shows(self, pair: np.ndarray) -> bool:
        """Whether both points of ``pair`` fall inside the axes (a star's width from the edge)."""
        (x0, x1), (y0, y1) = self.ax.get_xlim(), self.ax.get_ylim()
        mx, my = 0.03 * (x1 - x0), 0.03 * (y1 - y0)
        xy = self.project(pair)
        return bool(np.all((xy[:, 0] > x0 + mx) & (xy[:, 0] < x1 - mx)
                           & (xy[:, 1] > y0 + my) & (xy[:, 1] < y1 - my)))

    def draw(self, pair: np.ndarray, distance: float, threshold: float,
             same: bool) -> np.ndarray:
        """The gallery with ``pair`` on it, as a uint8 ``(H, W, 3)`` array."""
        a, b = self.project(pair)
        color = "tab:green" if same else "tab:red"
        canvas, ax = self.fig.canvas, self.ax
        with self.lock:
            canvas.restore_region(self.background)
            if self.circle is not None:
                self.circle.set_center(a)
                self.circle.set_radius(threshold)
                ax.draw_artist(self.circle)
            self.line.set_data([a[0], b[0]], [a[1], b[1]])
            self.line.set_color(color)
            ax.draw_artist(self.line)
            self.stars.set_offsets([a, b])
            self.stars.set_facecolor(color)
            ax.draw_artist(self.stars)
            for letter, point in zip(self.letters, (a, b)):
                letter.xy = point
                ax.draw_artist(letter)
            ax.title.set_text(f"distance {distance:.3f} {'<=' if same else '>'} "
                              f"threshold {threshold:.3f}")
            self.fig.draw_artist(ax.title)
            return np.asarray(canvas.buffer_rgba())[..., :3].copy()


@functools.cache
def _plot(key: str) -> EmbeddingPlot:
    return EmbeddingPlot(key)


def _picture(key: str, pair: np.ndarray, distance: float, threshold: float,
             same: bool) -> np.ndarray:
    """The embedding-space picture: the shared plot, or one of its own for a pair outside
    the gallery's axes (as slow as drawing everything: ~100 ms)."""
    plot = _plot(key)
    if not plot.shows(pair):
        plot = EmbeddingPlot(key, pair)
    return plot.draw(pair, distance, threshold, same)


def verify(image_a: Any, image_b: Any, model_key: str = "facenet.att_faces"
           ) -> tuple[str, str, np.ndarray]:
    """Two images -> (verdict, details in Markdown, embedding-space picture).

    The distance equals ``zoo.embeddings.verify(model, a, b).distance`` (same preparation),
    computed with the compiled forward pass instead of ``model.predict``.

    Raises:
        gr.Error: a missing or bad image, or an unknown model.
    """
    check_model(model_key, MODELS, "verification")
    loaded = get_model(model_key)
    channels = loaded.model.input_shape[-1]
    mode = "L" if channels == 1 else "RGB"
    first = load_image(image_a, mode, what="first image")
    second = load_image(image_b, mode, what="second image")
    pair = np.concatenate([_embed(model_key, [first], "first image"),
                           _embed(model_key, [second], "second image")])
    distance = float(np.linalg.norm(pair[0] - pair[1]))
    threshold = default_threshold(loaded.model)
    same = distance <= threshold
    verdict = WORDS[model_key][0 if same else 1]
    metrics = next(iter(loaded.spec.metrics.values()), {})
    details = (f"**L2 distance {distance:.3f}**, threshold **{threshold:.3f}**: "
               f"{'at most' if same else 'above'} the threshold, so *{verdict.lower()}*.\n\n"
               f"The threshold balances false accepts and false rejects on validation pairs; "
               f"on the test pairs it gives {metrics.get('balanced_acc', float('nan')):.1%} "
               f"balanced accuracy (ROC AUC {metrics.get('roc_auc', float('nan')):.3f}). "
               f"{loaded.spec.notes}")
    return verdict, details, _picture(model_key, pair, distance, threshold, same)


def build() -> gr.Blocks:
    """The Verify tab."""
    with gr.Blocks(title="zoo: verify", analytics_enabled=False) as demo:
        gr.Markdown("Two images in: are they the same identity? One network embeds both; "
                    "the pair is *same* when the distance is at most the threshold stored "
                    "with the weights. AT&T faces: Olivetti Research Laboratory (Samaria and "
                    "Harter 1994), used with credit.")
        model, choices = model_menu(MODELS, "verify-model")
        with gr.Row():
            image_a = ImageInput(label="Image A", elem_id="verify-a", height=224)
            image_b = ImageInput(label="Image B", elem_id="verify-b", height=224)
        button = gr.Button("Compare", variant="primary", elem_id="verify-button")
        with gr.Row():
            with gr.Column():
                verdict = gr.Label(label="Verdict", elem_id="verify-verdict")
                details = gr.Markdown(label="Details", elem_id="verify-details")
            picture = gr.Image(label="Embedding space", elem_id="verify-picture",
                               format="png", interactive=False)
        face = {p.stem: str(p) for p in FACES}
        digit = {d: str(EXAMPLES / "digits" / f"digit_{d}.png") for d in (2, 3, 7, 9)}
        offered = {key for _, key in choices}
        examples = [[face["s35_1"], face["s35_2"], "facenet.att_faces"],
                    [face["s36_1"], face["s37_1"], "facenet.att_faces"],
                    [face["s39_2"], face["s39_3"], "facenet.att_faces"],
                    [digit[3], digit[9], "lenetpp.mnist_center"],
                    [digit[7], digit[7], "lenetpp.mnist_center"]]
        gr.Examples([row for row in examples if row[2] in offered],
                    inputs=[image_a, image_b, model],
                    label="Examples (faces s35-s40 were never seen in training)")
        button.click(verify, [image_a, image_b, model], [verdict, details, picture],
                     api_name="verify")
    return demo


if __name__ == "__main__":
    launch(build, ARGS, preload=list(MODELS))
