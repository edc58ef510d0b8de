"""Writes the demo example inputs in ``demos/examples/`` (run once; the files are committed).

    python -m demos.examples.make_examples --data DATA   # or with $ZOO_DATA_DIR set

What it writes, and from where (licences in ``demos/examples/README.md``):

- ``digits/digit_<label>.png``: four MNIST test digits (28x28, white on black) from the
  samples shipped in ``training/data/samples/mnist``, and ``mnist_gallery.npz``: the first
  500 of those test digits with labels, the point cloud of the Verify tab's digit picture.
- ``cifar10/<class>.jpg``: four CIFAR-10 test images (32x32 JPEG) from ``DATA/cifar10/cifar10_jpg.zip``.
- ``faces/s<N>_<k>.png``: AT&T faces of identities s35-s40, never seen in training (the
  weights' test identities), three each, converted from PGM to PNG.
- ``scenes/scene_<k>.png`` and ``scene_<k>_depth.png``: rendered rooms with their exact
  depth (16-bit PNG, millimetres) from `training.data.scenes.generate_scenes`.
- ``membrane/synthetic_em.png`` and ``synthetic_em_label.png``: an EM-like picture made
  here (Voronoi cells, dark membranes, texture, blur and noise) with its membrane mask
  (0 = membrane, 255 = cell, the ISBI 2012 convention). The ISBI images themselves are for
  non-commercial research only and are not shipped.
"""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _digits(out: Path) -> None:
    from training.data.idx import read_idx

    samples = REPO / "training" / "data" / "samples" / "mnist"
    images = read_idx(samples / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(samples / "t10k-labels-idx1-ubyte.gz")
    (out / "digits").mkdir(parents=True, exist_ok=True)
    for label in (2, 3, 7, 9):
        index = int(np.flatnonzero(labels == label)[0])
        Image.fromarray(images[index]).save(out / "digits" / f"digit_{label}.png", optimize=True)
    np.savez_compressed(out / "mnist_gallery.npz", images=images[:500], labels=labels[:500])


def _cifar(out: Path, data: Path) -> None:
    (out / "cifar10").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(data / "cifar10" / "cifar10_jpg.zip") as archive:
        names = set(archive.namelist())
        for cls, number in (("cat", "0000"), ("ship", "0001"), ("airplane", "0003"),
                            ("frog", "0004")):
            name = f"test/{cls}/{number}.jpg"
            if name not in names:   # fall back to the class's first test image
                name = sorted(n for n in names if n.startswith(f"test/{cls}/") and
                              n.endswith(".jpg"))[0]
            (out / "cifar10" / f"{cls}.jpg").write_bytes(archive.read(name))


def _faces(out: Path, data: Path) -> None:
    (out / "faces").mkdir(parents=True, exist_ok=True)
    for person in range(35, 41):
        for k in (1, 2, 3):
            with Image.open(data / "att_faces" / "att_faces" / f"s{person}" / f"{k}.pgm") as im:
                im.save(out / "faces" / f"s{person}_{k}.png", optimize=True)


def _scenes(out: Path) -> None:
    from training.data.scenes import generate_scenes

    (out / "scenes").mkdir(parents=True, exist_ok=True)
    images, depth = generate_scenes(3, height=168, width=224, seed=2026)
    for k, (image, z) in enumerate(zip(images, depth), start=1):
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(
            out / "scenes" / f"scene_{k}.png", optimize=True)
        millimetres = np.clip(np.round(z * 1000), 0, 65535).astype(np.uint16)
        Image.fromarray(millimetres).save(out / "scenes" / f"scene_{k}_depth.png")


def synthetic_em(size: int = 256, cells: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An EM-like grey image of cells (uint8) and its label (255 cell, 0 membrane)."""
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, size, (cells, 2))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    d = np.sqrt((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2)
    d.sort(axis=-1)
    membrane = (d[..., 1] - d[..., 0]) < 3.0          # near the border of two cells
    nearest = np.argmin(np.sqrt((yy[..., None] - seeds[:, 0]) ** 2
                                + (xx[..., None] - seeds[:, 1]) ** 2), axis=-1)
    brightness = rng.uniform(150, 200, cells)[nearest]  # each cell its own grey
    image = brightness.copy()
    # organelles: a few darker blobs inside the cells
    for cy, cx in rng.uniform(0, size, (25, 2)):
        r = rng.uniform(3, 7)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        image[blob & ~membrane] -= 45
    image[membrane] = 55
    im = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(1.2))
    noisy = np.asarray(im, np.float32) + rng.normal(0, 10, (size, size))
    label = np.where(membrane, 0, 255).astype(np.uint8)
    return np.clip(noisy, 0, 255).astype(np.uint8), label


def _membrane(out: Path) -> None:
    (out / "membrane").mkdir(parents=True, exist_ok=True)
    image, label = synthetic_em()
    Image.fromarray(image).save(out / "membrane" / "synthetic_em.png", optimize=True)
    Image.fromarray(label).save(out / "membrane" / "synthetic_em_label.png", optimize=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("ZOO_DATA_DIR"),
                        help="the datasets folder: cifar10/cifar10_jpg.zip and "
                             "att_faces/s1..s40 (default $ZOO_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("give --data DIR (or set ZOO_DATA_DIR): the folder with CIFAR-10 and the "
                     "AT&T faces")
    _digits(args.out)
    _cifar(args.out, args.data)
    _faces(args.out, args.data)
    _scenes(args.out)
    _membrane(args.out)


if __name__ == "__main__":
    main()
