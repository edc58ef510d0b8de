"""Image folders with one sub-folder per class (``root/<class>/<image>``), or a zip of them.

Two layouts, told apart by where the images are:

* plain: ``root/<class>/<image>`` (Keras' `image_dataset_from_directory`, torchvision's
  `ImageFolder`); `folder_splits` then cuts a seeded, stratified test share off it;
* split: ``root/<split>/<class>/<image>`` with ``train`` (and ``test``, optionally ``val``),
  as the CIFAR-10 JPEG zip (``train/<class>/NNNN.jpg``, ``test/<class>/NNNN.jpg``).

Hidden entries are skipped, never taken as classes or images: any path part starting with
``.`` (``.ipynb_checkpoints/``, ``.DS_Store``, macOS' ``._*`` AppleDouble files) and
``__MACOSX/`` (what macOS' zip adds). Keras' reader is not used because it cannot read a zip,
silently skips files it cannot parse only at iteration time, and gives no file name on a
corrupt image.

Example:
    >>> train = image_folder("cifar10_jpg.zip", split="train")   # doctest: +SKIP
    >>> train.class_names[:3], len(train)                      # doctest: +SKIP
    (('airplane', 'automobile', 'bird'), 50000)
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np

from training.data.sources import IMAGE_EXTENSIONS, LabelledSource, validate
from training.data.splits import split_indices


def _hidden(parts: Sequence[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


Listing = tuple[str, list[tuple[tuple[str, ...], str]]]


def _entries(root: Path) -> Listing:
    """``(kind, [(relative path parts, item), ...])`` of every visible image under ``root``
    (listed once; `folder_splits` selects all its splits from one listing)."""
    if not root.exists():
        raise FileNotFoundError(f"Image folder not found: {root}")
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise ValueError(f"{root} is neither a folder nor a zip file of "
                             "[<split>/]<class>/<image> entries.")
        with zipfile.ZipFile(root) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
        found = [(PurePosixPath(n).parts, n) for n in names]
        kind = "zip"
    else:
        found = [(p.relative_to(root).parts, str(p)) for p in root.rglob("*") if p.is_file()]
        kind = "files"
    return kind, [(parts, item) for parts, item in found
                  if not _hidden(parts) and PurePosixPath(parts[-1]).suffix.lower()
                  in IMAGE_EXTENSIONS]


def folder_layout(root: str | Path) -> str:
    """``"split"`` if ``root`` (a folder or zip) holds ``train/<class>/<image>``, else
    ``"plain"`` (``<class>/<image>``).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: no images at all.
    """
    root = Path(root)
    return _layout(root, _entries(root)[1])


def _layout(root: Path, entries) -> str:
    if not entries:
        raise ValueError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) under {root}. Expected "
                         "<class>/<image> or <split>/<class>/<image> files.")
    if any(len(parts) == 3 and parts[0] == "train" for parts, _ in entries):
        return "split"
    return "plain"


def image_folder(root: str | Path, split: str | None = None, *,
                 class_names: Sequence[str] | None = None, validate_images: bool = True,
                 skip_corrupt: bool = False) -> LabelledSource:
    """Lists ``root[/split]/<class>/<image>`` (a folder or a ``.zip``), sorted, labelled.

    Args:
        root: a folder, or a zip file holding the same tree.
        split: an optional first-level sub-folder (``"train"``, ``"test"``).
        class_names: the classes in label order; default: the sub-folder names, sorted.
            Giving them fixes the label order across splits and rejects unknown folders.
        validate_images: decode every image once now, so a corrupt file fails here with its
            name instead of in the middle of an epoch.
        skip_corrupt: drop corrupt images (the count is logged) instead of raising.

    Raises:
        FileNotFoundError: ``root`` or ``split`` does not exist.
        ValueError: no class folders or no images, or a folder not in ``class_names``.
        CorruptImageError: a corrupt image, unless ``skip_corrupt``.
    """
    root = Path(root)
    return _select(root, _entries(root), split, class_names, validate_images, skip_corrupt)


def _select(root: Path, listing: Listing, split: str | None,
            class_names: Sequence[str] | None, validate_images: bool,
            skip_corrupt: bool) -> LabelledSource:
    """`image_folder` on a listing made already."""
    kind, entries = listing
    depth = 3 if split else 2
    chosen = [(parts[-2], item) for parts, item in entries
              if len(parts) == depth and (not split or parts[0] == split)]
    where = f"{root}:{split or ''}" if kind == "zip" else str(root / split if split else root)
    if split and not chosen:
        tops = sorted({parts[0] for parts, _ in entries if len(parts) > 1})
        raise FileNotFoundError(f"{root} has no '{split}/<class>/<image>' entries; its "
                                f"top-level folders are {tops}.")
    if not chosen:
        raise ValueError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in class folders under "
                         f"{where}. Expected <class>/<image> files.")
    found = sorted({c for c, _ in chosen})
    if class_names is None:
        class_names = found
    else:
        unknown = sorted(set(found) - set(class_names))
        if unknown:
            raise ValueError(f"{where}: class folders {unknown} are not in class_names "
                             f"{list(class_names)}.")
    index = {c: i for i, c in enumerate(class_names)}
    chosen.sort(key=lambda e: (index[e[0]], e[1]))
    source = LabelledSource(kind=kind, items=np.array([n for _, n in chosen]),
                            labels=np.array([index[c] for c, _ in chosen], np.int64),
                            class_names=tuple(class_names),
                            archive=str(root) if kind == "zip" else None,
                            name=f"{root.name}/{split}" if split else root.name)
    return validate(source, skip_corrupt) if validate_images else source


def folder_splits(root: str | Path, *, test_fraction: float = 0.2, seed: int = 0,
                  skip_corrupt: bool = False) -> dict[str, LabelledSource]:
    """The ``train`` and ``test`` (and ``val``, if the folder has one) sources of a folder.

    A split layout gives its own sub-folders (``val`` or ``validation`` when present); a plain
    ``<class>/<image>`` tree is cut into train and test with a stratified, seeded split of
    ``test_fraction`` (the same seed gives the same split on every machine). Every split uses
    the training split's class names, in the same label order.

    Raises:
        ValueError: fewer than two classes, or a class too small to split.
    """
    root = Path(root)
    listing = _entries(root)
    if _layout(root, listing[1]) == "split":
        train = _select(root, listing, "train", None, True, skip_corrupt)
        out = {"train": train}
        tops = {parts[0] for parts, _ in listing[1] if len(parts) == 3}
        for name, sub in (("val", "val"), ("val", "validation"), ("test", "test")):
            if sub in tops and name not in out:
                out[name] = _select(root, listing, sub, train.class_names, True, skip_corrupt)
    else:
        whole = _select(root, listing, None, None, True, skip_corrupt)
        _check_classes(whole, root)
        if not 0 < test_fraction < 1:
            raise ValueError(f"`test_fraction` must be in (0, 1) to split a plain folder. "
                             f"Received: {test_fraction}")
        small = [whole.class_names[c] for c, n in enumerate(whole.class_counts()) if n < 2]
        if small:
            raise ValueError(f"{root}: class folder(s) {small} hold fewer than 2 images; each "
                             "class needs images in both the training and the test split.")
        train_idx, test_idx = split_indices(whole.labels, (1 - test_fraction, test_fraction),
                                            seed=seed)
        out = {"train": whole.subset(train_idx, name=f"{root.name}[train]"),
               "test": whole.subset(test_idx, name=f"{root.name}[test]")}
    _check_classes(out["train"], root)
    return out


def _check_classes(source: LabelledSource, root: Path) -> None:
    if source.num_classes < 2:
        raise ValueError(f"{root} has {source.num_classes} class folder "
                         f"({', '.join(source.class_names)}); a classifier needs at least two "
                         "<class>/ folders of images.")
