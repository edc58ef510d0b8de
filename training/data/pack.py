"""Copy one split of an image-folder zip into a smaller zip: ``python -m training.data.pack``.

    python -m training.data.pack DATA/cifar10/cifar10_jpg.zip --split train \\
        --out .data/cifar10_train.zip

The GPU machine receives only the working tree (64 MiB at most), so a training run there
carries the training JPEGs alone (CIFAR-10: 50,000 files, about 52 MB) and evaluation on the
test split happens here. Members are copied byte for byte (no re-encoding).
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path


def pack_split(src: str | Path, split: str, out: str | Path) -> tuple[int, int]:
    """Copies ``split/...`` members of ``src`` into ``out``; returns (files, bytes)."""
    src, out = Path(src), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    count = size = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if info.filename.startswith(f"{split}/") and not info.is_dir():
                zout.writestr(info, zin.read(info))
                count += 1
                size += info.file_size
    if not count:
        tmp.unlink()
        raise ValueError(f"{src} has no '{split}/' members.")
    tmp.replace(out)
    return count, size


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.data.pack", description=__doc__.split("\n")[0])
    p.add_argument("src")
    p.add_argument("--split", default="train")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    count, size = pack_split(args.src, args.split, args.out)
    print(f"{args.out}: {count} files, {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
