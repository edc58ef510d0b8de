"""A short classification example: LeNet-5 on a bundled 2,000-image MNIST sample.

    python -m training.quickstart [--epochs 5] [--batch-size 32] [--seed 0]

Reads the real IDX files shipped in ``training/data/samples/mnist``, pads the 28x28 digits to
LeNet-5's 32x32 as the paper does, trains with Adam and prints the test accuracy. It needs no
network. The full training CLI (recipes, schedules, full datasets) is ``training.train``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import keras
import numpy as np

import zoo
from training.data.idx import load_mnist

SAMPLE = Path(__file__).resolve().parent / "data" / "samples" / "mnist"


def prepare(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 32, 32, 1) in [0, 1], zero-padded by 2 pixels."""
    x = images.astype("float32") / 255.0
    return np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None]


def make_parser() -> argparse.ArgumentParser:
    """The command line; the module docstring's usage line lists exactly these flags."""
    parser = argparse.ArgumentParser(prog="python -m training.quickstart",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser


def main(argv: list[str] | None = None) -> float:
    args = make_parser().parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    x_train, y_train = load_mnist(SAMPLE, "train")
    x_test, y_test = load_mnist(SAMPLE, "test")
    x_train, x_test = prepare(x_train), prepare(x_test)

    model = zoo.build("lenet5")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"LeNet-5: {model.count_params():,} parameters; training on {len(x_train)} MNIST "
          f"digits, testing on {len(x_test)}")
    model.fit(x_train, y_train, validation_split=0.1, epochs=args.epochs,
              batch_size=args.batch_size, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.3f}")
    return float(accuracy)


if __name__ == "__main__":
    main()
