"""Image folders with one sub-folder per class (``root/<class>/<image>``), or a zip of them.

This is the layout of Keras' `image_dataset_from_directory` and torchvision's `ImageFolder`,
and of the CIFAR-10 JPEG zip in ``../shared/datasets/cifar10`` (``train/<class>/NNNN.jpg``,
``test/<class>/NNNN.jpg``). Keras' reader is not used because it cannot read a zip, silently
skips files it cannot parse only at iteration time, and gives no file name on a corrupt image.

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
    if not root.exists():
        raise FileNotFoundError(f"Image folder not found: {root}")
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise ValueError(f"{root} is neither a folder nor a zip file of "
                             "<split>/<class>/<image> entries.")
        with zipfile.ZipFile(root) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
        prefix = PurePosixPath(split) if split else PurePosixPath()
        entries = []
        for n in names:
            p = PurePosixPath(n)
            rel = p.relative_to(prefix) if split and p.is_relative_to(prefix) else (None if split else p)
            if rel is not None and len(rel.parts) == 2 and rel.suffix.lower() in IMAGE_EXTENSIONS:
                entries.append((rel.parts[0], n))
        if split and not entries:
            tops = sorted({PurePosixPath(n).parts[0] for n in names})
            raise FileNotFoundError(f"{root} has no '{split}/<class>/<image>' entries; its "
                                    f"top-level folders are {tops}.")
        kind, archive, where = "zip", str(root), f"{root}:{split or ''}"
    else:
        base = root / split if split else root
        if not base.is_dir():
            have = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise FileNotFoundError(f"Split folder not found: {base} (folders in {root}: {have}).")
        entries = [(p.parent.name, str(p)) for p in base.glob("*/*")
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        kind, archive, where = "files", None, str(base)
    if not entries:
        raise ValueError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in class folders under "
                         f"{where}. Expected <class>/<image> files.")
    found = sorted({c for c, _ in entries})
    if class_names is None:
        class_names = found
    else:
        unknown = sorted(set(found) - set(class_names))
        if unknown:
            raise ValueError(f"{where}: class folders {unknown} are not in class_names "
                             f"{list(class_names)}.")
    index = {c: i for i, c in enumerate(class_names)}
    entries.sort(key=lambda e: (index[e[0]], e[1]))
    source = LabelledSource(kind=kind, items=np.array([n for _, n in entries]),
                            labels=np.array([index[c] for c, _ in entries], np.int64),
                            class_names=tuple(class_names), archive=archive,
                            name=f"{root.name}/{split}" if split else root.name)
    return validate(source, skip_corrupt) if validate_images else source
