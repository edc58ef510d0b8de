"""Pictures of dense predictions: segmentation overlays and colourised depth maps.

What the Gradio demos and the docs show next to a prediction, written in NumPy and Pillow only
(``zoo`` imports no matplotlib, TensorFlow or Gradio):

- `label_colors`: the PASCAL VOC colour map (Everingham et al., "The PASCAL Visual Object
  Classes (VOC) Challenge", IJCV 2010; the ``labelcolormap`` of the VOC devkit), which spreads
  the bits of a class id over the high bits of R, G and B: 0 black, 1 (128, 0, 0),
  2 (0, 128, 0), 3 (128, 128, 0), ..., 255 (224, 224, 192), the VOC "void" colour.
- `overlay_mask`, `class_areas`: a class-id mask blended over its image, and the share of
  pixels per class.
- `depth_range`, `colorize_depth`, `depth_colorbar`: depth in metres to colours through
  Turbo (Mikhailov, "Turbo, An Improved Rainbow Colormap for Visualization", Google AI blog
  2019) or matplotlib's perceptually uniform viridis, magma, inferno and plasma (van der Walt
  and Smith, 2015), with a matching colour bar labelled in metres.
- `draw_boxes`: detection boxes with class names and scores (solid, or dashed for ground
  truth), one bright colour per class (`BOX_COLORS`).
- `side_by_side`, `prediction_grid`: panels composed into one image.

Images go in as ``(H, W)`` grey or ``(H, W, 3)`` RGB (``(H, W, 1)`` and RGBA too, alpha is
dropped), float in [0, 1] or uint8 in [0, 255]; NumPy, JAX, TensorFlow and PIL images all work
through ``np.asarray``. Everything comes out as uint8 ``(H, W, 3)``.

Example:
    >>> image = np.zeros((4, 6, 3), np.uint8)
    >>> mask = np.zeros((4, 6), np.int32); mask[:, 3:] = 15                 # VOC "person"
    >>> overlay_mask(image, mask, alpha=1.0)[0, 5].tolist()
    [192, 128, 128]
    >>> depth = np.linspace(1.0, 5.0, 24).reshape(4, 6); depth[0, 0] = 0.0  # 0 = missing
    >>> vmin, vmax = depth_range(depth)
    >>> panel = side_by_side(colorize_depth(depth, vmin, vmax), depth_colorbar(vmin, vmax))
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Sequence
from os import PathLike

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["COLORMAPS", "class_areas", "colorize_depth", "depth_colorbar", "depth_range",
           "label_colors", "overlay_mask", "prediction_grid", "side_by_side"]

# The colormaps, 256 RGB entries each as uint8 bytes in base64, generated once from
# matplotlib 3.11 (`np.round(matplotlib.colormaps[name](np.arange(256))[:, :3] * 255)`), so no
# matplotlib at run time; tests/zoo/test_visualize.py checks them against matplotlib.
# Turbo is Google's published 256-entry table (Apache-2.0), stored as a table rather than
# Google's 6th-order polynomial approximation so that it equals matplotlib's "turbo" exactly.
# viridis, magma, inferno and plasma are CC0 (Stéfan van der Walt and Nathaniel Smith).
_LUT_BASE64 = {
    "turbo": (
        "MBI7MhVDMxhKNBtRNR5YNiFfNyRmOCdtOSpzOi15Oy+APDKGPTWLPjiRPzuXPz6cQECiQUOnQUasQkmxQku1"
        "Q066RFG/RFTDRFbHRVnLRVzPRV7TRmHWRmTaRmbdRmngRmvjR27mR3HpR3PrR3buR3jwR3vyRn30RoD2RoL4"
        "RoX6Rof7RYr8RYz9RI/+Q5H+QpT/QZb/QJn/Ppv+PZ7+O6D9OqP8OKX7N6j6Nav4M633Ma/1L7L0LrTyLLfw"
        "KrnuKLzrJ77pJcDnI8PkIsXiIMffH8ndHsvaHM3YG9DVGtLSGtTQGdXNGNfKGNnIGNvFGN3CGN7AGOC9GeK7"
        "GeO5GuS2HOa0HeeyH+mvIOqsIuuqJeynJ+6kKu+hLPCeL/GbMvKYNfOUOPSRPPWOP/aKQ/eHRviESviATvl9"
        "Uvp6Vfp2WftzXfxvYfxsZf1paf1mbf5icf5fdf5cef5Zff9WgP9ThP9RiP9Oi/9Lj/9Jkv9Hlv5Emf5CnP5A"
        "n/0/of09pPw8p/w6qfs5rPs4r/o3sfk2tPg2t/c1ufY1vPU0vvQ0wfM0w/E0xvA0yO80y+00zew00Oo00uk1"
        "1Oc11+U12eQ22+I23eA339834d0349s45dk459c56dU569M57NE67s8678068cs68sk69Mc69cU69sM698E6"
        "+L45+bw5+ro5+7g4+7Y3/LM2/LE2/a41/aw0/qkz/qcy/qQx/qEw/p4v/pst/pks/pYr/pMq/pAp/Y0n/Yom"
        "/Icl/IQj+4Ei+34h+nsf+Xge+XUd+HIc928a9mwZ9WkY9GYX82MV8mAU8V0T8FsS71gR7VUQ7FMP61AO6k4N"
        "6EsM50kM5UcL5EUK4kMK4UEJ3z8I3T0I3DsH2jkH2DcG1jUG1DMF0jEF0C8Fzi0EzCsEyioEyCgDxSYDwyUD"
        "wSMCviECvCACuR4Ctx0CtBsBshoBrxgBrBcBqRYBpxQBpBMBoRIBnhABmw8BmA4BlQ0BkgsBjgoBiwkCiAgC"
        "hQcCgQYCfgUCegQD"
    ),
    "viridis": (
        "RAFURAJWRQRXRQVZRgdaRghcRgpdRgteRw1gRw5hRxBjRxFkRxNlSBRnSBZoSBdpSBhqSBpsSBttSBxuSB1v"
        "SB9wSCBxSCFzSCN0SCR1SCV2SCZ3SCh4SCl5Ryp6Ryx6Ry17Ry58Ry99RjB+RjJ+RjN/RjSARTWBRTeBRTiC"
        "RDmDRDqDRDuEQz2EQz6FQj+FQkCGQkGGQUKHQUSHQEWIQEaIP0eIP0iJPkmJPkqJPkyKPU2KPU6KPE+KPFCL"
        "O1GLO1KLOlOLOlSMOVWMOVaMOFiMOFmMN1qMN1uNNlyNNl2NNV6NNV+NNGCNNGGNM2KNM2ONMmSOMmWOMWaO"
        "MWeOMWiOMGmOMGqOL2uOL2yOLm2OLm6OLm+OLXCOLXGOLHGOLHKOLHOOK3SOK3WOKnaOKneOKniOKXmOKXqO"
        "KXuOKHyOKH2OJ36OJ3+OJ4COJoGOJoKOJoKOJYOOJYSOJYWOJIaOJIeOI4iOI4mOI4qNIouNIoyNIo2NIY6N"
        "IY+NIZCNIZGMIJKMIJKMIJOMH5SMH5WLH5aLH5eLH5iLH5mKH5qKHpuKHpyJHp2JH56JH5+IH6CIH6GIH6GH"
        "H6KHIKOGIKSGIaWFIaaFIqeFIqiEI6mDJKqDJauCJayCJq2BJ62BKK6AKa9/KrB/LLF+LbJ9LrN8L7R8MbV7"
        "MrZ6NLZ5Nbd5N7h4OLl3Orp2O7t1Pbx0P7xzQL1yQr5xRL9wRsBvSMFuSsFtTMJsTsNrUMRqUsVpVMVoVsZn"
        "WMdlWshkXMhjXsliYMpgY8tfZcteZ8xcac1bbM1abs5YcM9Xc9BWddBUd9FTetFRfNJQf9NOgdNNhNRLhtVJ"
        "idVIi9ZGjtZFkNdDk9dBldhAmNg+m9k8ndk7oNo5oto3pds2qNs0qtwyrdwwsN0vst0ttd4ruN4put4ovd8m"
        "wN8lwt8jxeAhyOAgyuEfzeEd0OEc0uIb1eIa2OIZ2uMZ3eMY3+MY4uQY5eQZ5+QZ6uUa7OUb7+Uc8eUd9OYe"
        "9uYg+OYh++cj/ecl"
    ),
    "magma": (
        "AAAEAQAFAQEGAQEIAgEJAgILAgINAwMPAwMSBAQUBQQWBgUYBgUaBwYcCAceCQcgCggiCwkkDAkmDQopDgsr"
        "EAstEQwvEg0xEw00FA42FQ44Fg87GA89GRA/GhBCHBBEHRFHHhFJIBFLIRFOIhFQJBJTJRJVJxJYKRFaKhFc"
        "LBFfLRFhLxFjMRFlMxBnNBBpNhBrOBBsOQ9uOw9wPQ9xPw9yQA90Qg91RA92RRB3RxB4SRB4ShB5TBF6ThF7"
        "TxJ7URJ8UhN8VBN9VhR9VxV+WRV+WhZ+XBZ/XRd/Xxh/YBiAYhmAZBqAZRqAZxuAaByBahyBax2BbR2Bbh6B"
        "cB+Bch+BcyCBdSGBdiGBeCKBeSKCeyOCfCOCfiSCgCWCgSWBgyaBhCaBhieBiCeBiSiBiymBjCmBjiqBkCqB"
        "kSuBkyuAlCyAliyAmC2AmS2Amy5/nC5/ni9/oC9/oTB+ozB+pTF+pjF9qDJ9qjN9qzN8rTR8rjR7sDV7sjV7"
        "szZ6tTZ6tzd5uDd5ujh4vDl4vTl3vzp3wDp2wjt1xDx1xTx0xz1zyD5zyj5yzD9xzUBxz0Bw0EFv0kJv00Nu"
        "1URt1kVs2EVs2UZr20dq3Ehp3klo30po4Exn4k1m405l5E9k5VBk51Jj6FNi6VRi6lZh61dg7Fhg7Vpf7lte"
        "711e8F9e8WBd8mJd8mRc82Vc9Gdc9Glc9Wtc9mxc9m5c93Bc93Jc+HRc+HZc+Xhd+Xld+Xtd+n1e+n9e+oFf"
        "+4Nf+4Vg+4dh/Ilh/Ipi/Ixj/I5k/JBl/ZJm/ZRn/ZZo/Zhp/Zpq/Ztr/p1s/p9t/qFu/qNv/qVx/qdy/qlz"
        "/qp0/qx2/q53/rB4/rJ6/rR7/rZ8/rd+/rl//ruB/r2C/r+E/sGF/sKH/sSI/saK/siM/sqN/syP/s2Q/s+S"
        "/tGU/tOV/tWX/teZ/tia/dqc/dye/d6g/eCh/eKj/eOl/eWn/eep/emq/eus/Oyu/O6w/PCy/PK0/PS2/Pa4"
        "/Pe5/Pm7/Pu9/P2/"
    ),
    "inferno": (
        "AAAEAQAFAQEGAQEIAgEKAgIMAgIOAwIQBAMSBAMUBQQXBgQZBwUbCAUdCQYfCgciCwckDAgmDQgpDgkrEAkt"
        "EQowEgoyFAs0FQs3Fgs5GAw8GQw+GwxBHAxDHgxFHwxIIQxKIwxMJAxPJgxRKAtTKQtVKwtXLQtZLwpbMQpc"
        "MgpeNApfNglhOAliOQljOwlkPQllPglmQApnQgpoRApoRQppRwtqSQtqSgxrTAxrTQ1sTw1sUQ5sUg5tVA9t"
        "VQ9tVxBuWRBuWhFuXBJuXRJuXxNuYRNuYhRuZBVuZRVuZxZuaRZuahdubBhubRhubxlucRluchpudBpudRtu"
        "dxxteBxteh1tfB1tfR5tfx5sgB9sgiBshCBrhSFrhyFriCJqiiJqjCNpjSNpjyRpkCVokiVokyZnlSZnlydm"
        "mCdmmihlmylknSlknypjoCpjoitioyxhpSxgpi1gqC5fqS5eqy9erTBdrjBcsDFbsTJaszJatDNZtjRYtzVX"
        "uTVWujZVvDdUvThTvzlSwDpRwTpQwztPxDxOxj1Nxz5MyD9LykBKy0FJzEJIzkNHz0RG0EVF0kZE00dD1EhC"
        "1UpB10s/2Ew+2U092k4821A73VE63lI431M34FU24VY14lc041kz5Fox5Vww5l0v514u6GAt6WEr6mMq62Qp"
        "62Yo7Gcm7Wkl7mok72wj724h8G8g8XEf8XMd8nQc83Yb83gZ9HkY9XsX9X0V9n4U9oAT94IS94QQ+IUP+IcO"
        "+IkM+YsL+YwK+Y4J+pAI+pIH+pQH+5YG+5cG+5kG+5sG+50H/J8H/KEI/KMJ/KUK/KYM/KgN/KoP/KwR/K4S"
        "/LAU/LIW/LQY+7Ya+7gd+7of+7wh+74j+sAm+sIo+sQq+sYt+ccv+cky+cs1+M03+M8699E999NA9tVD9tdG"
        "9dlJ9dtM9N1P9N9T9OFW8+Na8+Vd8uZh8uhl8upp8ext8e1x8e918fF58vJ98vSC8/WG8/aK9PiO9fmS9vqW"
        "+Pua+fyd+v2h/P+k"
    ),
    "plasma": (
        "DQiHEAeIEweJFgeKGQaMGwaNHQaOIAaPIgaQJAaRJgWRKAWSKgWTLAWULgWVLwWWMQWXMwWXNQSYNwSZOASa"
        "OgSaPASbPgScPwScQQSdQwOeRAOeRgOfSAOfSQOgSwOhTAKhTgKiUAKiUQKjUwKjVQKkVgGkWAGkWQGlWwGl"
        "XAGmXgGmYAGmYQCnYwCnZACnZgCnZwCoaQCoagCobACobgCobwCocQCocgGodAGodQGodwGoeAGoegKoewKo"
        "fQOofgOogASogQSngwWnhAWnhgamhwemiAimigmliwqljQuljgykjw2kkQ6jkg+jlBCilRGhlhOhmBSgmRWf"
        "mhafnBeenRidnhmdoBqcoRuboh2aox6apR+ZpiCYpyGXqCKWqiOVqySUrCaUrSeTriiSsCmRsSqQsiuPsyyO"
        "tC6NtS+MtjCLtzGKuDKJujOIuzSIvDWHvTeGvjiFvzmEwDqDwTuCwjyBwz2AxD5/xUB+xkF9x0J8yEN7yUR6"
        "ykV6y0Z5zEd4zEl3zUp2zkt1z0x00E1z0U5y0k9x01Fx1FJw1VNv1VRu1lVt11Zs2Fdr2Vhq2lpq2ltp21xo"
        "3F1n3V5m3l9l3mFk32Jj4GNj4WRi4mVh4mZg42hf5Gle5Wpd5Wtd5mxc525b529a6HBZ6XFY6XJX6nRX63VW"
        "63ZV7HdU7XlT7XpS7ntR73xR735Q8H9P8IBO8YFN8YNM8oRL84VL84dK9IhJ9IlI9YtH9YxG9o1F9o9E95BE"
        "95FD95NC+JRB+JVA+Zc/+Zg++Zo++ps9+pw8+p47+586+6E5+6I4/KM4/KU3/KY2/Kg1/Kk0/asz/awz/a4y"
        "/a8x/bEw/bIv/bQv/bUu/rct/rgs/ros/rsr/r0q/r4q/sAp/cIp/cMo/cUn/cYn/cgn/com/csm/M0l/M4l"
        "/NAl/NIl+9Mk+9Uk+9ck+tgk+tok+dwk+d0l+N8l+OEl9+Il9+Ql9uYm9ugm9ekm9esn9O0n8+4n8/An8vIn"
        "8fQm8fUl8Pck8Pkh"
    ),
}

COLORMAPS = tuple(_LUT_BASE64)
"""The colormap names `colorize_depth` and `depth_colorbar` take; add ``"_r"`` to reverse one."""

_Color = Sequence[int]
_FLOAT_SLACK = 0.05  # float images may overshoot [0, 1] this much (resampling); it is clipped


# --------------------------------------------------------------------------- input checks


def _as_rgb(image, name: str = "image") -> np.ndarray:
    """Any supported image -> uint8 (H, W, 3); raises a ValueError naming what is wrong."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise ValueError(f"`{name}` must be an (H, W) grey or (H, W, 3) RGB image ((H, W, 1) and "
                         f"(H, W, 4) RGBA also work). Received shape {arr.shape}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"`{name}` is empty. Received shape {arr.shape}.")
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"Integer `{name}` values must be in [0, 255] (uint8). Received "
                             f"values in [{lo}, {hi}] ({arr.dtype}).")
        out = arr.astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"`{name}` contains NaN or infinite values.")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -_FLOAT_SLACK or hi > 1 + _FLOAT_SLACK:
            raise ValueError(f"Float `{name}` values must be in [0, 1]. Received values in "
                             f"[{lo:g}, {hi:g}]; divide a [0, 255] image by 255 or pass uint8.")
        out = np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        raise ValueError(f"`{name}` must be uint8 or float. Received dtype {arr.dtype}.")
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.ascontiguousarray(out[..., :3])


def _as_ids(mask, name: str = "mask", image_like: bool = True) -> np.ndarray:
    """Class ids -> int64; ``image_like`` asks for (H, W) or (H, W, 1), squeezed to (H, W)."""
    arr = np.asarray(mask)
    if image_like:
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim != 2:
            hint = ("; for per-class scores (H, W, num_classes) take the argmax over the last "
                    "axis first" if arr.ndim == 3 else "")
            raise ValueError(f"`{name}` must be an (H, W) array of class ids{hint}. Received "
                             f"shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"`{name}` is empty. Received shape {arr.shape}.")
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or not (arr == np.round(arr)).all():
            raise ValueError(f"`{name}` must hold integer class ids. Received {arr.dtype} values "
                             f"that are not whole numbers.")
        return arr.astype(np.int64)
    raise ValueError(f"`{name}` must hold integer class ids. Received dtype {arr.dtype}.")


def _check_ids(ids: np.ndarray, num: int, what: str, name: str = "mask") -> None:
    """Raises unless every id is in [0, num)."""
    if ids.size == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0:
        raise ValueError(f"`{name}` holds a negative class id ({lo}); class ids must be >= 0 "
                         f"(pass ignore_index={lo} if it marks pixels to leave out).")
    if hi >= num:
        raise ValueError(f"`{name}` holds class id {hi}, but there are only {num} {what} "
                         f"(ids 0..{num - 1}).")


def _as_palette(colors, name: str = "colors") -> np.ndarray:
    """(K, 3) colours, integers in [0, 255] or floats in [0, 1] -> uint8 (K, 3)."""
    arr = np.asarray(colors)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] != 3:
        raise ValueError(f"`{name}` must be a (num_classes, 3) array of RGB colours. Received "
                         f"shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(f"Integer `{name}` must be in [0, 255]. Received values in "
                             f"[{arr.min()}, {arr.max()}].")
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"Float `{name}` must be in [0, 1] (integers for [0, 255]). "
                             f"Received values in [{arr.min():g}, {arr.max():g}].")
        return np.round(arr * 255.0).astype(np.uint8)
    raise ValueError(f"`{name}` must be integer or float RGB colours. Received dtype {arr.dtype}.")


def _as_color(color, name: str) -> np.ndarray:
    """One RGB colour of three integers in [0, 255] -> uint8 (3,)."""
    arr = np.asarray(color)
    if (arr.shape != (3,) or not np.issubdtype(arr.dtype, np.integer)
            or arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"`{name}` must be three integers in [0, 255], e.g. (0, 0, 0). "
                         f"Received: {name}={color!r}")
    return arr.astype(np.uint8)


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


# --------------------------------------------------------------------------- segmentation


def label_colors(num_classes: int = 256, seed: int | None = None) -> np.ndarray:
    """The PASCAL VOC colour map: one distinct RGB colour per class id.

    Reference: [The PASCAL Visual Object Classes (VOC) Challenge](
    http://host.robots.ox.ac.uk/pascal/VOC/pubs/everingham10.pdf) (IJCV 2010), the devkit's
    ``labelcolormap``. Bit ``3j + c`` of the class id becomes bit ``7 - j`` of channel ``c``,
    so the first ids get the most different colours and every id below 2**24 its own colour.
    Class 0 (background) is black and 255 (VOC's "void" border) is (224, 224, 192). The
    palette is prefix-stable: the first k colours do not depend on ``num_classes``.

    Args:
        num_classes: how many colours, 1 to 2**24.
        seed: None (default) for the VOC order; an integer shuffles the colours of classes
            1.. reproducibly (class 0 stays black), which keeps neighbouring ids, e.g.
            instance ids, apart.

    Returns:
        uint8 array of shape ``(num_classes, 3)``.

    Example:
        >>> label_colors(4).tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    """
    num_classes = _check_int(num_classes, "num_classes", 1)
    if num_classes > 2**24:
        raise ValueError(f"The VOC colour map has 2**24 colours. Received: "
                         f"num_classes={num_classes}")
    ids = np.arange(num_classes, dtype=np.int64)
    palette = np.zeros((num_classes, 3), np.int64)
    for j in range(8):
        for c in range(3):
            palette[:, c] |= ((ids >> (3 * j + c)) & 1) << (7 - j)
    palette = palette.astype(np.uint8)
    if seed is not None:
        order = np.random.default_rng(seed).permutation(np.arange(1, num_classes))
        palette[1:] = palette[order]
    return palette


def overlay_mask(image, mask, alpha: float = 0.5, colors=None, ignore_index: int | None = None,
                 background: int | None = None) -> np.ndarray:
    """Blends a class-id mask over its image: ``out = (1 - alpha) * image + alpha * color[id]``.

    Pixels whose id is ``ignore_index`` (e.g. VOC's 255 border) or ``background`` keep the
    image's values, so only the objects are tinted.

    Args:
        image: ``(H, W)`` grey or ``(H, W, 3)`` RGB (``(H, W, 1)``, RGBA accepted), float in
            [0, 1] or uint8.
        mask: ``(H, W)`` or ``(H, W, 1)`` integer class ids, the same height and width as the
            image (a size mismatch raises: resize the mask with nearest neighbour first).
        alpha: the colour's weight, 0 (image only) to 1 (colours only).
        colors: ``(K, 3)`` RGB colours, uint8-like integers or floats in [0, 1]; every id in
            the mask (except ``ignore_index``) must be < K. Default: `label_colors`.
        ignore_index: an id to leave unblended and not check against ``colors`` (may be out of
            range, e.g. 255 or -1).
        background: a class id to leave unblended (e.g. 0).

    Returns:
        uint8 array of shape ``(H, W, 3)``.

    Example:
        >>> image = np.full((2, 2), 1.0)                    # white, grey float
        >>> overlay_mask(image, np.array([[0, 1], [1, 255]]), alpha=0.5, background=0,
        ...              ignore_index=255).tolist()
        [[[255, 255, 255], [192, 128, 128]], [[192, 128, 128], [255, 255, 255]]]
    """
    rgb = _as_rgb(image, "image")
    ids = _as_ids(mask, "mask")
    if rgb.shape[:2] != ids.shape:
        raise ValueError(f"`image` and `mask` must have the same height and width. Received "
                         f"image {rgb.shape[0]}x{rgb.shape[1]} and mask {ids.shape[0]}x"
                         f"{ids.shape[1]} (H x W); resize the mask with nearest-neighbour "
                         f"interpolation first.")
    if (isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number))
            or not 0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"`alpha` must be a number in [0, 1]. Received: alpha={alpha!r}")
    for arg, value in (("ignore_index", ignore_index), ("background", background)):
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, np.integer))):
            raise ValueError(f"`{arg}` must be an integer class id or None. Received: "
                             f"{arg}={value!r}")
    keep = np.zeros(ids.shape, bool)          # pixels left as the image
    if ignore_index is not None:
        keep |= ids == ignore_index
    checked = ids[ids != ignore_index] if ignore_index is not None else ids
    if colors is None:
        _check_ids(checked, 2**24, "VOC colours")
        palette = label_colors(int(checked.max()) + 1 if checked.size else 1)
    else:
        palette = _as_palette(colors)
        _check_ids(checked, len(palette), "colours in `colors`")
    if background is not None:
        keep |= ids == background
    out = rgb.copy()
    blend = ~keep
    a = float(alpha)
    mixed = rgb[blend].astype(np.float32) * (1.0 - a) + palette[ids[blend]] * np.float32(a)
    out[blend] = np.round(mixed).astype(np.uint8)
    return out


def class_areas(mask, class_names: Sequence[str],
                ignore_index: int | None = None) -> dict[str, float]:
    """The fraction of pixels each class covers, for a "per-class area" readout.

    Args:
        mask: integer class ids of any shape (an ``(H, W)`` mask or a batch ``(N, H, W)``).
        class_names: one unique name per class id; every id in the mask must be
            ``< len(class_names)``.
        ignore_index: an id left out of the count (its pixels are in neither the numerator nor
            the denominator).

    Returns:
        ``{name: fraction}`` for every class in id order (zeros included), summing to 1
        unless no pixel is counted (then all zeros).

    Example:
        >>> class_areas(np.array([[0, 0, 1, 1]]), ["background", "cat"])
        {'background': 0.5, 'cat': 0.5}
    """
    ids = _as_ids(mask, "mask", image_like=False)
    if isinstance(class_names, str):
        raise ValueError(f"`class_names` must be a list of names, not one string. Received: "
                         f"{class_names!r}")
    names = [str(n) for n in class_names]
    if not names:
        raise ValueError("`class_names` is empty; give one name per class id.")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"`class_names` must be unique. Received duplicates: {dupes}")
    if ignore_index is not None:
        ids = ids[ids != ignore_index]
    _check_ids(ids, len(names), "names in `class_names`")
    if ids.size == 0:
        return dict.fromkeys(names, 0.0)
    counts = np.bincount(ids.ravel(), minlength=len(names))
    return {n: float(c) / ids.size for n, c in zip(names, counts)}


# --------------------------------------------------------------------------- depth


@functools.cache
def _lut(cmap: str) -> np.ndarray:
    """The (256, 3) uint8 table of a colormap name (``"_r"`` reverses it); read-only."""
    if not isinstance(cmap, str) or cmap.removesuffix("_r") not in _LUT_BASE64:
        raise ValueError(f"Unknown colormap {cmap!r}. Expected one of {list(COLORMAPS)}, "
                         f"optionally with '_r' to reverse it.")
    base = cmap.removesuffix("_r")
    lut = np.frombuffer(base64.b64decode(_LUT_BASE64[base]), np.uint8).reshape(256, 3)
    return lut[::-1] if cmap.endswith("_r") else lut


def _as_depth(depth) -> np.ndarray:
    arr = np.asarray(depth)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"`depth` must be an (H, W) or (H, W, 1) depth map. Received shape "
                         f"{arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"`depth` is empty. Received shape {arr.shape}.")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer)
                                     or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"`depth` must be a float or integer array of metres. Received dtype "
                         f"{arr.dtype}.")
    return arr.astype(np.float64)


def _valid_depth(d: np.ndarray) -> np.ndarray:
    return np.isfinite(d) & (d > 0)


def _depth_to_color(values: np.ndarray, vmin: float, vmax: float, cmap: str) -> np.ndarray:
    """Near (``vmin``) -> the top of the colormap: matplotlib's ``<cmap>_r`` of
    ``Normalize(vmin, vmax)``, indexed as matplotlib does (``floor(t * 256)``, clipped)."""
    lut = _lut(cmap)[::-1]
    t = (values - vmin) / (vmax - vmin)
    idx = np.clip(np.floor(t * 256.0), 0, 255).astype(np.intp)
    return lut[idx]


def _check_range(vmin, vmax) -> tuple[float, float]:
    for arg, value in (("vmin", vmin), ("vmax", vmax)):
        if (isinstance(value, bool) or not isinstance(value, (int, float, np.number))
                or not math.isfinite(float(value))):
            raise ValueError(f"`{arg}` must be a finite number of metres. Received: "
                             f"{arg}={value!r}")
    if not float(vmin) < float(vmax):
        raise ValueError(f"`vmin` must be below `vmax`. Received: vmin={vmin!r}, vmax={vmax!r}")
    return float(vmin), float(vmax)


def depth_range(depth, percentiles: tuple[float, float] = (2.0, 98.0)) -> tuple[float, float]:
    """A robust display range: the given percentiles of the valid depths.

    Valid means finite and > 0 (0, negative and NaN/inf mark missing depth, as in NYU Depth v2
    and KITTI). Outliers (a few far pixels, a sky) then do not wash out the colours. A
    constant depth ``d`` gets the range ``d +- 5%``.

    Args:
        depth: ``(H, W)`` or ``(H, W, 1)`` depth in metres.
        percentiles: ``(low, high)`` with ``0 <= low < high <= 100``.

    Returns:
        ``(vmin, vmax)`` in metres, ``vmin < vmax``; pass them to `colorize_depth` and
        `depth_colorbar` so the picture and its colour bar agree.

    Example:
        >>> depth_range(np.array([[0.0, 1.0], [2.0, 3.0]]), percentiles=(0, 100))
        (1.0, 3.0)
    """
    d = _as_depth(depth)
    p = np.asarray(percentiles, dtype=np.float64) if not isinstance(percentiles, str) else None
    if p is None or p.shape != (2,) or not (0.0 <= p[0] < p[1] <= 100.0):
        raise ValueError(f"`percentiles` must be (low, high) with 0 <= low < high <= 100. "
                         f"Received: percentiles={percentiles!r}")
    valid = d[_valid_depth(d)]
    if valid.size == 0:
        raise ValueError("`depth` has no valid pixels (all are 0, negative, NaN or infinite), so "
                         "no display range can be estimated; pass vmin and vmax.")
    lo, hi = (float(v) for v in np.percentile(valid, p))
    if hi - lo <= 1e-9 * max(1.0, abs(hi)):
        pad = max(0.05 * abs(lo), 1e-3)
        lo, hi = lo - pad, hi + pad
    return lo, hi


def colorize_depth(depth, vmin: float | None = None, vmax: float | None = None,
                   cmap: str = "turbo", invalid_color: _Color = (0, 0, 0),
                   percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """Colours a depth map: near is the top of the colormap (warm in turbo), far its bottom.

    Reference: Turbo from [Turbo, An Improved Rainbow Colormap for Visualization](
    https://research.google/blog/turbo-an-improved-rainbow-colormap-for-visualization/)
    (Google AI blog 2019); viridis, magma, inferno, plasma from matplotlib.

    Depth ``d`` maps to ``t = (d - vmin) / (vmax - vmin)``, clipped to [0, 1], and takes entry
    ``floor(256 t)`` of the reversed 256-colour table, i.e. exactly matplotlib's
    ``colormaps[cmap + "_r"](Normalize(vmin, vmax)(d))``: near is red in turbo and bright in
    magma, inferno and plasma (yellow in viridis). Pass ``cmap="turbo_r"`` for near = blue.
    Missing depth (0, negative, NaN or infinite) is drawn in ``invalid_color``.

    Args:
        depth: ``(H, W)`` or ``(H, W, 1)`` depth in metres, float or integer (convert raw
            millimetre PNGs to metres first).
        vmin: the depth drawn with the nearest colour; None: the low percentile of the valid
            depths (see `depth_range`).
        vmax: the depth drawn with the farthest colour; None: the high percentile.
        cmap: one of `COLORMAPS` (``"turbo"``, ``"viridis"``, ``"magma"``, ``"inferno"``,
            ``"plasma"``), with ``"_r"`` to reverse.
        invalid_color: RGB of missing pixels, three integers in [0, 255].
        percentiles: the ``(low, high)`` percentiles used when vmin or vmax is None.

    Returns:
        uint8 array of shape ``(H, W, 3)``.

    Example:
        >>> depth = np.array([[0.0, 1.0, 4.0]])
        >>> colorize_depth(depth, vmin=1.0, vmax=4.0, invalid_color=(255, 255, 255)).tolist()
        [[[255, 255, 255], [122, 4, 3], [48, 18, 59]]]
    """
    d = _as_depth(depth)
    _lut(cmap)
    fill = _as_color(invalid_color, "invalid_color")
    out = np.empty(d.shape + (3,), np.uint8)
    out[:] = fill
    valid = _valid_depth(d)
    if vmin is None or vmax is None:
        if not valid.any():
            return out                        # nothing to scale: all missing
        lo, hi = depth_range(d, percentiles)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    vmin, vmax = _check_range(vmin, vmax)
    out[valid] = _depth_to_color(d[valid], vmin, vmax, cmap)
    return out


@functools.cache
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at ``size`` px (its bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def _text_box(font, text: str) -> tuple[int, int, int, int]:
    return ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)


def _ink(background: np.ndarray) -> tuple[int, int, int]:
    """Black text on light backgrounds, white on dark ones."""
    luma = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    return (0, 0, 0) if luma >= 128 else (255, 255, 255)


def _tick_labels(values: np.ndarray, unit: str) -> list[str]:
    """Fewest decimals (0-3) that keep each label within 5% of a tick step of its value."""
    step = abs(float(values[1] - values[0])) if len(values) > 1 else 1.0
    for decimals in range(4):
        if np.abs(np.round(values, decimals) - values).max() <= 0.05 * step:
            break
    return [f"{v:.{decimals}f}" + (f" {unit}" if unit else "") for v in values]


def depth_colorbar(vmin: float, vmax: float, height: int = 256, width: int | None = None,
                   cmap: str = "turbo", ticks: int = 5, unit: str = "m", font_size: int = 12,
                   background: _Color = (255, 255, 255)) -> np.ndarray:
    """A vertical colour bar for `colorize_depth`, labelled in metres.

    ``vmax`` (far) is at the top and ``vmin`` (near) at the bottom; each row has exactly the
    colour `colorize_depth` gives its depth with the same ``vmin``, ``vmax`` and ``cmap``.
    Ticks are evenly spaced from ``vmin`` to ``vmax`` (both ends labelled), drawn with Pillow's
    default font.

    Args:
        vmin: the nearest depth, in metres (as passed to `colorize_depth` or from
            `depth_range`).
        vmax: the farthest depth, ``> vmin``.
        height: image height in pixels; it must leave room for the tick labels.
        width: image width in pixels; None (default) fits the labels.
        cmap: as in `colorize_depth`.
        ticks: number of labelled ticks, 0 (none) or >= 2.
        unit: appended to every label (``"1.5 m"``); ``""`` for none.
        font_size: label size in pixels.
        background: RGB behind the bar and labels; text is black or white to contrast.

    Returns:
        uint8 array of shape ``(height, width, 3)``.

    Example:
        >>> bar = depth_colorbar(0.5, 10.0, height=200)
        >>> bar.shape[0], bar.dtype
        (200, dtype('uint8'))
    """
    vmin, vmax = _check_range(vmin, vmax)
    height = _check_int(height, "height", 1)
    ticks = _check_int(ticks, "ticks", 0)
    if ticks == 1:
        raise ValueError("`ticks` must be 0 (no labels) or >= 2 (both ends labelled). "
                         "Received: ticks=1")
    font_size = _check_int(font_size, "font_size", 1)
    _lut(cmap)
    bg = _as_color(background, "background")
    ink = _ink(bg)
    font = _font(font_size)

    values = np.linspace(vmax, vmin, ticks) if ticks else np.zeros(0)
    labels = _tick_labels(values, unit) if ticks else []
    boxes = [_text_box(font, s) for s in labels]
    text_h = max((b[3] - b[1] for b in boxes), default=0)
    text_w = max((b[2] - b[0] for b in boxes), default=0)
    bar_w, tick_len, gap, edge = 16, 4, 3, 2
    margin = edge + (text_h + 1) // 2         # half a label fits above and below the bar ends
    needed_w = edge + bar_w + (tick_len + gap + text_w + edge if ticks else edge)
    bar_h = height - 2 * margin
    needed_h = 2 * margin + max(2, (ticks - 1) * (text_h + 2) + 1)
    if height < needed_h:
        raise ValueError(f"`height` is too small for {ticks} tick labels of font size "
                         f"{font_size}: it needs at least {needed_h} px. Received: "
                         f"height={height}")
    if width is None:
        width = needed_w
    elif _check_int(width, "width", 1) < needed_w:
        raise ValueError(f"`width` is too small for the bar and its labels: it needs at least "
                         f"{needed_w} px. Received: width={width}")

    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = bg
    row_depth = vmax - (np.arange(bar_h) + 0.5) / bar_h * (vmax - vmin)   # top = far
    colors = _depth_to_color(row_depth, vmin, vmax, cmap)
    canvas[margin:margin + bar_h, edge:edge + bar_w] = colors[:, None, :]
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    draw.rectangle((edge - 1, margin - 1, edge + bar_w, margin + bar_h), outline=ink)
    x_tick = edge + bar_w
    for value, label, box in zip(values, labels, boxes):
        y = margin + round((vmax - value) / (vmax - vmin) * (bar_h - 1))
        draw.line((x_tick, y, x_tick + tick_len - 1, y), fill=ink)
        x = x_tick + tick_len + gap - box[0]
        draw.text((x, y - (box[1] + box[3]) / 2), label, fill=ink, font=font)
    return np.asarray(img, dtype=np.uint8).copy()


# --------------------------------------------------------------------------- composition


def _place(canvas: np.ndarray, image: np.ndarray, top: int, left: int, h: int, w: int) -> None:
    """Pastes ``image`` centred in the ``h x w`` slot at (top, left) of ``canvas``."""
    y = top + (h - image.shape[0]) // 2
    x = left + (w - image.shape[1]) // 2
    canvas[y:y + image.shape[0], x:x + image.shape[1]] = image


# Bright, distinct box colours (Tableau 10's first ones), by class id; VOC's dark palette reads
# poorly as thin lines on photographs.
BOX_COLORS = np.array([[214, 39, 40], [31, 119, 180], [44, 160, 44], [255, 127, 14],
                       [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127],
                       [188, 189, 34], [23, 190, 207]], np.uint8)


def _dashed_rectangle(draw: ImageDraw.ImageDraw, box, color, width: int, dash: int = 6) -> None:
    x1, y1, x2, y2 = box
    for a, b, fixed, horizontal in ((x1, x2, y1, True), (x1, x2, y2, True),
                                    (y1, y2, x1, False), (y1, y2, x2, False)):
        start = a
        while start < b:
            end = min(start + dash, b)
            line = ((start, fixed), (end, fixed)) if horizontal else ((fixed, start), (fixed, end))
            draw.line(line, fill=color, width=width)
            start += 2 * dash


def draw_boxes(image, boxes, labels=None, scores=None, class_names: Sequence[str] | None = None,
               colors=None, width: int | None = None, dashed: bool = False,
               font_size: int | None = None) -> np.ndarray:
    """Draws detection boxes on a copy of an image, each with its class name and score.

    Args:
        image: ``(H, W)`` / ``(H, W, 3)``, as everywhere here.
        boxes: ``(N, 4)`` xyxy in the image's pixels.
        labels: ``(N,)`` class ids (default 0); they pick the colour and the name.
        scores: ``(N,)`` or None (no score printed).
        class_names: names of the class ids (default: the ids).
        colors: ``(K, 3)`` uint8 colours by class id (default `BOX_COLORS`, cycled).
        width: line width in pixels (default: about 1/250 of the image's longer side, >= 1).
        dashed: dashed lines (ground truth beside predictions); no label is written.
        font_size: label text size (default: from the image size).

    Returns:
        uint8 ``(H, W, 3)``.

    Example:
        >>> out = draw_boxes(np.zeros((20, 20, 3), np.uint8), [[2, 2, 12, 12]], [0], [0.9])
        >>> out[2, 7].tolist()
        [214, 39, 40]
    """
    picture = Image.fromarray(_as_rgb(image))
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    labels = np.zeros(n, np.int64) if labels is None else np.asarray(labels).reshape(-1)
    if len(labels) != n or (scores is not None and len(np.asarray(scores).reshape(-1)) != n):
        raise ValueError(f"draw_boxes: {n} boxes need as many labels and scores. Received "
                         f"{len(labels)} labels"
                         + ("" if scores is None else f", {len(np.asarray(scores).reshape(-1))} "
                                                      "scores") + ".")
    palette = BOX_COLORS if colors is None else _as_palette(colors)
    side = max(picture.size)
    width = width or max(1, round(side / 250))
    font = _font(font_size or max(10, round(side / 45)))
    draw = ImageDraw.Draw(picture)
    for i in range(n):
        label = int(labels[i])
        color = tuple(int(c) for c in palette[label % len(palette)])
        box = [float(v) for v in boxes[i]]
        if dashed:
            _dashed_rectangle(draw, box, color, width)
            continue
        draw.rectangle(box, outline=color, width=width)
        name = (class_names[label] if class_names is not None and 0 <= label < len(class_names)
                else str(label))
        text = name if scores is None else f"{name} {float(np.asarray(scores).reshape(-1)[i]):.2f}"
        left, top, right, bottom = _text_box(font, text)
        y = max(0.0, box[1] - (bottom - top) - 2)
        draw.rectangle([box[0], y, box[0] + right - left + 4, y + bottom - top + 2], fill=color)
        draw.text((box[0] + 2 - left, y + 1 - top), text, fill=_ink(np.array(color)), font=font)
    return np.asarray(picture)


def side_by_side(*images, pad: int = 4, fill: _Color = (255, 255, 255)) -> np.ndarray:
    """Puts images in a row, ``pad`` pixels apart, each centred vertically.

    Args:
        *images: one or more images, each ``(H, W)`` grey or ``(H, W, 3)`` RGB, float in
            [0, 1] or uint8; heights may differ.
        pad: pixels between images (>= 0).
        fill: RGB of the padding, three integers in [0, 255].

    Returns:
        uint8 array of shape ``(max H, sum W + pad * (n - 1), 3)``.

    Example:
        >>> side_by_side(np.zeros((2, 3)), np.ones((4, 1, 3)), pad=2).shape
        (4, 6, 3)
    """
    if not images:
        raise ValueError("`side_by_side` needs at least one image. Received none.")
    pad = _check_int(pad, "pad", 0)
    bg = _as_color(fill, "fill")
    rgbs = [_as_rgb(im, f"images[{i}]") for i, im in enumerate(images)]
    h = max(im.shape[0] for im in rgbs)
    w = sum(im.shape[1] for im in rgbs) + pad * (len(rgbs) - 1)
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = bg
    x = 0
    for im in rgbs:
        _place(canvas, im, 0, x, h, im.shape[1])
        x += im.shape[1] + pad
    return canvas


def prediction_grid(rows: Sequence[Sequence], titles: Sequence[str] | None = None,
                    path: str | PathLike | None = None, pad: int = 4,
                    fill: _Color = (255, 255, 255), font_size: int = 14) -> np.ndarray:
    """A grid of panels (e.g. image | ground truth | prediction per row), titled per column.

    Each cell is centred in a slot as wide as its column's widest cell and as tall as its
    row's tallest one.

    Args:
        rows: a list of rows, each a list of images (as in `side_by_side`); every row has the
            same number of cells.
        titles: None, or one title per column, drawn above the first row.
        path: where to save the grid (any format Pillow knows from the suffix, e.g. ``.png``);
            None to only return it.
        pad: pixels between and around cells (>= 0).
        fill: background RGB; the titles are black or white to contrast.
        font_size: title size in pixels.

    Returns:
        uint8 array of shape ``(H, W, 3)``, also written to ``path`` when given.

    Example:
        >>> prediction_grid([[np.zeros((8, 8)), np.ones((8, 8))]] * 2).shape
        (28, 28, 3)
        >>> grid = prediction_grid([[np.zeros((8, 8)), np.ones((8, 8))]],
        ...                        titles=["image", "mask"], path=None)  # columns widen to fit
    """
    if isinstance(rows, np.ndarray) or not isinstance(rows, Sequence) or not rows:
        raise ValueError("`rows` must be a non-empty list of rows, each a list of images. "
                         f"Received: {type(rows).__name__}")
    cells = []
    for r, row in enumerate(rows):
        if isinstance(row, np.ndarray) or not isinstance(row, Sequence) or not row:
            raise ValueError(f"`rows[{r}]` must be a non-empty list of images. Received: "
                             f"{type(row).__name__}")
        cells.append([_as_rgb(im, f"rows[{r}][{c}]") for c, im in enumerate(row)])
    ncols = len(cells[0])
    if any(len(row) != ncols for row in cells):
        raise ValueError(f"Every row must have the same number of images. Received rows of "
                         f"lengths {[len(row) for row in cells]}.")
    if titles is not None and (isinstance(titles, str) or len(titles) != ncols):
        raise ValueError(f"`titles` must have one title per column ({ncols}). Received: "
                         f"titles={titles!r}")
    pad = _check_int(pad, "pad", 0)
    font_size = _check_int(font_size, "font_size", 1)
    bg = _as_color(fill, "fill")
    col_w = [max(row[c].shape[1] for row in cells) for c in range(ncols)]
    row_h = [max(im.shape[0] for im in row) for row in cells]
    font = _font(font_size)
    boxes = [_text_box(font, str(t)) for t in titles] if titles is not None else []
    title_h = max((b[3] - b[1] for b in boxes), default=0) + pad if boxes else 0
    col_w = [max(w, b[2] - b[0]) for w, b in zip(col_w, boxes)] if boxes else col_w
    height = pad + title_h + sum(row_h) + pad * len(row_h)
    width = pad + sum(col_w) + pad * ncols
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = bg
    y = pad + title_h
    for row, h in zip(cells, row_h):
        x = pad
        for im, w in zip(row, col_w):
            _place(canvas, im, y, x, h, w)
            x += w + pad
        y += h + pad
    if boxes:
        img = Image.fromarray(canvas)
        draw = ImageDraw.Draw(img)
        x = pad
        for title, box, w in zip(titles, boxes, col_w):
            draw.text((x + (w - (box[2] - box[0])) / 2 - box[0], pad - box[1]), str(title),
                      fill=_ink(bg), font=font)
            x += w + pad
        canvas = np.asarray(img, dtype=np.uint8).copy()
    if path is not None:
        Image.fromarray(canvas).save(path)
    return canvas
