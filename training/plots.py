"""The course's plots: train / validation curves and a confusion matrix (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Mapping, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: Mapping[str, Sequence[float]], path: str | Path | BinaryIO,
                 title: str = "", metrics: Sequence[str] = ("loss", "accuracy")) -> Path:
    """Each metric per epoch, train against validation, side by side, to a PNG.

    ``history`` is Keras' ``History.history`` (or the CSV log read back): keys ``loss``,
    ``val_loss``, ``accuracy``, ``val_accuracy``, ...; a metric gets a panel when its train
    or validation values exist (an embedding score may be measured on validation only).
    """
    plt = _pyplot()
    panels = [m for m in metrics if m in history or f"val_{m}" in history]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5 * max(1, len(panels)), 3.6),
                             squeeze=False)
    for ax, metric in zip(axes[0], panels):
        epochs = np.arange(1, len(history.get(metric, history.get(f"val_{metric}"))) + 1)
        if metric in history:
            ax.plot(epochs, history[metric], "o-", ms=3, label="train")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s-", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if not hasattr(path, "write"):  # a path, or a binary file object (written as PNG)
        path = Path(path)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], path: str | Path,
                          title: str = "", normalize: bool = True) -> Path:
    """A confusion matrix (rows: true class, columns: predicted), row-normalised by default."""
    plt = _pyplot()
    m = np.asarray(matrix, dtype=np.float64)
    shown = m / np.maximum(m.sum(axis=1, keepdims=True), 1) if normalize else m
    n = len(class_names)
    size = max(4.0, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(n), class_names, rotation=60, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if shown[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
