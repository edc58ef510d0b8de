"""Netpbm grey images (PGM, ``P5`` binary and ``P2`` ASCII; 8-bit and 16-bit big-endian).

The AT&T (ORL) faces are 8-bit PGMs (``sN/M.pgm``, identity = folder); Kinect depth maps are
16-bit PGMs in millimetres. Pillow opens PGMs too, but converts 16-bit files to 32-bit integer
mode without saying so; this reader returns the stored values and bit depth exactly, and
rejects a file whose header or size is wrong with its name.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from training.data.sources import LabelledSource

_TOKEN = re.compile(rb"(?:\s+|#[^\n]*\n?)*(\S+)")


def read_pgm(path: str | Path) -> np.ndarray:
    """Reads a PGM: uint8 ``(H, W)`` when maxval < 256, else uint16 ``(H, W)`` (big-endian file).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a PGM (bad magic), a bad header, or truncated pixel data.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PGM file not found: {path}")
    data = path.read_bytes()
    magic = data[:2]
    if magic not in (b"P5", b"P2"):
        raise ValueError(f"{path} is not a PGM file: magic {magic!r}, expected b'P5' or b'P2'.")
    pos, fields = 2, []
    for _ in range(3):
        m = _TOKEN.match(data, pos)
        if not m or not m.group(1).isdigit():
            raise ValueError(f"{path}: bad PGM header (expected width, height and maxval).")
        fields.append(int(m.group(1)))
        pos = m.end()
    width, height, maxval = fields
    if not (0 < maxval < 65536) or width <= 0 or height <= 0:
        raise ValueError(f"{path}: bad PGM header width={width} height={height} maxval={maxval}.")
    dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2")
    count = width * height
    if magic == b"P2":
        values = np.array(data[pos:].split()[:count], dtype=np.int64)
        if values.size != count:
            raise ValueError(f"{path} is truncated: {values.size} of {count} pixel values.")
        return values.astype(dtype.newbyteorder("=")).reshape(height, width)
    pixels = data[pos + 1:]  # one whitespace byte after maxval
    need = count * dtype.itemsize
    if len(pixels) < need:
        raise ValueError(f"{path} is truncated: {len(pixels)} pixel bytes, expected {need} "
                         f"for {width}x{height} at maxval {maxval}.")
    return np.frombuffer(pixels[:need], dtype=dtype).astype(dtype.newbyteorder("=")).reshape(
        height, width)


def pgm_faces(root: str | Path) -> LabelledSource:
    """The AT&T / ORL layout ``root/sN/M.pgm``: uint8 ``(N, H, W, 1)`` arrays, label = identity.

    Identities are sorted by number (``s1``, ``s2``, ..., ``s40``), images within one by number.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Face folder not found: {root}")

    def number(p: Path) -> tuple[int, str]:
        digits = re.sub(r"\D", "", p.stem if p.is_file() else p.name)
        return (int(digits) if digits else 0, p.name)

    people = sorted((p for p in root.iterdir() if p.is_dir()), key=number)
    images, labels = [], []
    for label, person in enumerate(people):
        for f in sorted(person.glob("*.pgm"), key=number):
            images.append(read_pgm(f))
            labels.append(label)
    if not images:
        raise ValueError(f"No <person>/<image>.pgm files under {root}.")
    shapes = {im.shape for im in images}
    if len(shapes) != 1 or images[0].dtype != np.uint8:
        raise ValueError(f"{root}: faces must be 8-bit and share one size; found {sorted(shapes)}.")
    return LabelledSource(kind="arrays", items=np.stack(images)[..., None],
                          labels=np.array(labels, np.int64),
                          class_names=tuple(p.name for p in people), name=root.name)
