"""ImageNet-1k class names, shipped with the package, and `decode_predictions`.

The 1000 outputs of an ImageNet classifier (``vgg16.imagenet``, ``resnet50.imagenet``,
``mobilenet.imagenet``...) are in the order of Keras' ``imagenet_class_index.json``: output
``i`` is the WordNet synset (``wnid``) ``i`` of the ILSVRC-2012 class list, sorted by wnid.
``keras.applications.imagenet_utils.decode_predictions`` downloads that file on first use; zoo
ships it (``zoo/data/imagenet_class_index.json``, 35 KB), so predictions read as words
offline.

The file is byte-identical to Keras' (md5 ``c2c37ea517e94d9795004a39431a14cb``, the hash
Keras checks it against; sha256 ``a1e7a966...767bc``, see `CLASS_INDEX_SHA256`); its wnids
are, in order, those of tensorflow_datasets' ``imagenet2012/labels.txt``.
``zoo/data/README.md`` says where it came from.

Two spellings of each name:

- `class_index` gives Keras' own ``(wnid, name)`` pairs, ``("n01484850",
  "great_white_shark")``; `decode_predictions` returns these, as Keras does.
- `class_names` gives the names for people, underscores as spaces (``"great white shark"``);
  the ``*.imagenet*`` weight records carry these as ``spec.class_names``.

The list is ImageNet's, duplicates included: ``crane`` (the bird, 134, and the machine, 517)
and ``maillot`` (638, 639) appear twice, ``cardigan`` (474, the jacket) and ``Cardigan`` (264,
the corgi) differ only in case. Only the wnids are unique.

Example:
    >>> import numpy as np
    >>> preds = np.zeros((1, 1000)); preds[0, [1, 0]] = [0.7, 0.2]
    >>> decode_predictions(preds, top=2)
    [[('n01443537', 'goldfish', 0.7), ('n01440764', 'tench', 0.2)]]
    >>> decode_predictions(np.array([[0.1, 0.9]]), class_names=["cat", "dog"])
    [[(1, 'dog', 0.9), (0, 'cat', 0.1)]]
"""

from __future__ import annotations

import functools
import json
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CLASS_INDEX_PATH = Path(__file__).resolve().parent / "data" / "imagenet_class_index.json"
# Keras checks its download against this md5 (keras/src/applications/imagenet_utils.py).
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
CLASS_INDEX_SHA256 = "a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc"
NUM_CLASSES = 1000


@functools.cache
def class_index() -> tuple[tuple[str, str], ...]:
    """Keras' ``(wnid, name)`` of each of the 1000 ImageNet outputs, in output order."""
    with open(CLASS_INDEX_PATH, encoding="utf-8") as f:
        raw = json.load(f)
    return tuple((raw[str(i)][0], raw[str(i)][1]) for i in range(len(raw)))


@functools.cache
def class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names for people (``"great white shark"``), in output order."""
    return tuple(name.replace("_", " ") for _, name in class_index())


def _names_of(source: Any) -> tuple[str, ...]:
    """The class names of a weight record (`zoo.weights.WeightSpec`) or of a model loaded from
    one (``model.zoo_weights``)."""
    spec = getattr(source, "zoo_weights", source)
    names = getattr(spec, "class_names", None)
    if names is None:
        what = (f"weight record {spec.key}" if hasattr(spec, "key") else
                f"model {getattr(source, 'name', '')!r} (it was not loaded from a weight tag)")
        raise ValueError(f"`class_names`: the {what} carries no class names. Pass "
                         f"class_names=[one name per output] instead.")
    return tuple(names)


def decode_predictions(preds: Any, top: int = 5, class_names: Any = None
                       ) -> list[list[tuple[Any, str, float]]]:
    """The ``top`` classes of each prediction, as ``(class_id, class_name, score)`` tuples.

    Like ``keras.applications.imagenet_utils.decode_predictions`` (same tuples for ImageNet,
    sorted by score, highest first), with the names shipped in the package: no download.

    Args:
        preds: model output of shape ``(batch, classes)``: probabilities or logits, NumPy or
            a backend tensor. One sample needs its batch axis too: ``preds[None]``.
        top: how many classes to return per sample, at least 1; more than ``classes`` returns
            them all. Equal scores keep the order of the classes.
        class_names: which labels the columns are:

            - ``None`` or ``"imagenet"``: the 1000 ImageNet classes; ``class_id`` is the wnid
              and ``class_name`` Keras' name (``("n01443537", "goldfish", 0.7)``).
            - a sequence of names, one per column; ``class_id`` is the column index.
            - a weight record (``zoo.weights.get_weight_spec(...)``) or a model loaded from a
              tag (``zoo.load(...)``): its record's names (ImageNet records decode as
              ImageNet).

    Returns:
        One list per sample of ``min(top, classes)`` tuples; ``score`` is a Python float.

    Raises:
        ValueError: ``preds`` is not 2-D or holds NaN, its column count differs from the
            number of names, ``top`` is not a positive integer, or ``class_names`` is a
            single string other than ``"imagenet"`` or a record without names.
    """
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise ValueError(f"`top` must be a positive integer. Received: top={top!r}")
    ids, names, label = _labels(class_names)
    preds = _as_numpy(preds)
    if preds.ndim != 2:
        hint = " For one sample, pass preds[None]." if preds.ndim == 1 else ""
        raise ValueError(f"`preds` must be 2-D, (batch, classes). Received: preds of shape "
                         f"{preds.shape}.{hint}")
    if preds.shape[1] != len(names):
        raise ValueError(f"`preds` has {preds.shape[1]} columns but {label} has "
                         f"{len(names)} classes. Received: preds of shape {preds.shape}. "
                         "Pass class_names=[one name per column] for another label set.")
    nan_rows = np.flatnonzero(np.isnan(preds).any(axis=1))
    if nan_rows.size:
        raise ValueError(f"`preds` holds NaN (rows {nan_rows[:5].tolist()}); their classes "
                         "cannot be ranked.")
    order = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [[(ids[i], names[i], float(row[i])) for i in idx] for row, idx in zip(preds, order)]


def _labels(source: Any) -> tuple[Sequence[Any], Sequence[str], str]:
    """``(ids, names, what to call them in errors)`` of `decode_predictions`' ``class_names``."""
    if source is None or (isinstance(source, str) and source == "imagenet"):
        index = class_index()
        return [w for w, _ in index], [n for _, n in index], "ImageNet"
    if isinstance(source, str):
        raise ValueError(f"`class_names` must be None or 'imagenet', a sequence of names, or a "
                         f"weight record or model. Received: class_names={source!r}")
    if isinstance(source, (Sequence, np.ndarray)):
        names = [str(n) for n in source]
        if not names:
            raise ValueError("`class_names` is empty; give one name per column of `preds`.")
        return list(range(len(names))), names, "`class_names`"
    names = _names_of(source)
    if names == class_names():
        return _labels(None)
    return list(range(len(names))), list(names), "the weight record"


def _as_numpy(preds: Any) -> np.ndarray:
    if not isinstance(preds, np.ndarray):
        try:
            import keras

            preds = keras.ops.convert_to_numpy(preds)
        except (ImportError, TypeError, ValueError):
            preds = np.asarray(preds)
    preds = np.asarray(preds)
    if not np.issubdtype(preds.dtype, np.number):
        raise ValueError(f"`preds` must hold numbers. Received dtype {preds.dtype}.")
    return preds
