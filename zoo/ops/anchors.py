"""`AnchorGenerator`: the prior boxes a one- or two-stage detector regresses from.

At pyramid level ``Pn`` (stride ``2**n``, keras-hub's and the registry's ``feature_layers``
naming), every cell of the feature map carries ``len(aspect_ratios) * len(scales)`` anchors
centred on the cell: size ``s = base_size * 2**n * scale`` pixels, aspect ratio ``r = h / w``,
so ``w = s / sqrt(r)`` and ``h = s * sqrt(r)`` (same area ``s**2`` for every ratio).
RetinaNet (Lin et al. 2017, section 4) uses P3-P7, sizes 32-512 (``base_size=4``), ratios
``{1:2, 1:1, 2:1}`` and scales ``{2**0, 2**(1/3), 2**(2/3)}``: 9 anchors a cell, the defaults.

Conventions, pinned by tests (libraries differ here):

* Anchor centres sit in the **middle of the cell**, ``((i + 0.5) * stride, (j + 0.5) *
  stride)`` (``offset=0.5``). torchvision and keras-hub use the cell's corner (``offset=0``);
  Detectron2 exposes the same choice as ``ANCHOR_GENERATOR.OFFSET``. With the middle, a 2x
  down-sampled image keeps its anchors' relative positions.
* Sizes are not rounded (torchvision rounds the base anchors to whole pixels).
* Order: levels P_min..P_max, then rows, then columns, then ratios, then scales. That is the
  order of a head's ``(B, H, W, A * K)`` output reshaped to ``(B, H * W * A, K)`` and the
  levels concatenated, so anchors and predictions line up with a reshape and no gather.
* A level's grid is ``ceil(image / stride)`` cells: what a stack of "same"-padded stride-2
  layers gives for any input size.

Anchors depend only on the (static) image size, so they are computed once with NumPy and enter
the graph as constants: nothing to trace, identical on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RETINANET_SCALES = (1.0, 2.0 ** (1 / 3), 2.0 ** (2 / 3))


class AnchorGenerator:
    """Anchors ``(N, 4)`` xyxy in pixels for an image size, over pyramid levels.

    Args:
        min_level, max_level: the pyramid levels ``Pn`` (stride ``2**n``), e.g. 3 and 7.
        base_size: the anchor size at scale 1 is ``base_size * stride`` (4: RetinaNet's 32 at P3).
        aspect_ratios: ``h / w`` of the anchors.
        scales: multipliers of the size within one level (octave scales).
        offset: where the centre sits in its cell, in cells (0.5: the middle).

    Example:
        >>> gen = AnchorGenerator(3, 4)          # P3 and P4, 9 anchors a cell
        >>> gen((64, 64)).shape                  # (8*8 + 4*4) * 9
        (720, 4)
    """

    def __init__(self, min_level: int = 3, max_level: int = 7, base_size: float = 4.0,
                 aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
                 scales: Sequence[float] = RETINANET_SCALES, offset: float = 0.5):
        if not (isinstance(min_level, int) and isinstance(max_level, int)
                and 0 <= min_level <= max_level):
            raise ValueError("AnchorGenerator: `min_level` and `max_level` must be integers with "
                             f"0 <= min_level <= max_level. Received: min_level={min_level!r}, "
                             f"max_level={max_level!r}")
        for name, values in (("aspect_ratios", aspect_ratios), ("scales", scales)):
            if len(values) == 0 or not all(float(v) > 0 for v in values):
                raise ValueError(f"AnchorGenerator: `{name}` must be a non-empty list of numbers "
                                 f"> 0. Received: {name}={values!r}")
        if not base_size > 0 or not 0 <= offset <= 1:
            raise ValueError("AnchorGenerator: `base_size` must be > 0 and `offset` in [0, 1]. "
                             f"Received: base_size={base_size!r}, offset={offset!r}")
        self.min_level, self.max_level = min_level, max_level
        self.base_size, self.offset = float(base_size), float(offset)
        self.aspect_ratios = tuple(float(r) for r in aspect_ratios)
        self.scales = tuple(float(s) for s in scales)

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(range(self.min_level, self.max_level + 1))

    @property
    def anchors_per_location(self) -> int:
        """``A``: the number of anchors each cell has (the heads' output width / K)."""
        return len(self.aspect_ratios) * len(self.scales)

    def cell_anchors(self, level: int) -> np.ndarray:
        """The ``A`` anchors of one cell at ``level``, centred on 0: ``(A, 4)`` xyxy."""
        stride = 2.0 ** level
        rows = []
        for ratio in self.aspect_ratios:
            for scale in self.scales:
                size = self.base_size * stride * scale
                w, h = size / math.sqrt(ratio), size * math.sqrt(ratio)
                rows.append((-w / 2, -h / 2, w / 2, h / 2))
        return np.asarray(rows, "float32")

    def grid_size(self, image_size: Sequence[int], level: int) -> tuple[int, int]:
        stride = 2 ** level
        return math.ceil(image_size[0] / stride), math.ceil(image_size[1] / stride)

    def per_level(self, image_size: Sequence[int]) -> dict[str, np.ndarray]:
        """``{"P3": (H3 * W3 * A, 4), ...}`` for an image ``(height, width)``."""
        height, width = _check_size(image_size)
        out = {}
        for level in self.levels:
            stride = 2.0 ** level
            gh, gw = self.grid_size((height, width), level)
            cy = (np.arange(gh, dtype="float32") + self.offset) * stride
            cx = (np.arange(gw, dtype="float32") + self.offset) * stride
            cy, cx = np.meshgrid(cy, cx, indexing="ij")
            centres = np.stack([cx, cy, cx, cy], axis=-1).reshape(-1, 1, 4)
            out[f"P{level}"] = (centres + self.cell_anchors(level)[None]).reshape(-1, 4)
        return out

    def __call__(self, image_size: Sequence[int]) -> np.ndarray:
        """All levels' anchors concatenated: ``(N, 4)`` float32 xyxy pixels."""
        return np.concatenate(list(self.per_level(image_size).values()), axis=0)

    def get_config(self) -> dict:
        return {"min_level": self.min_level, "max_level": self.max_level,
                "base_size": self.base_size, "aspect_ratios": list(self.aspect_ratios),
                "scales": list(self.scales), "offset": self.offset}


def _check_size(image_size) -> tuple[int, int]:
    size = tuple(image_size)[:2]
    if len(size) != 2 or not all(isinstance(d, (int, np.integer)) and d > 0 for d in size):
        raise ValueError("AnchorGenerator: the image size must be (height, width) of positive "
                         f"integers. Received: {image_size!r}")
    return int(size[0]), int(size[1])
