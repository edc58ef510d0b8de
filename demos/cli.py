"""The command line of ``python -m demos`` and ``python -m demos.<tab>``, standard library only.

Gradio, Keras and TensorFlow take 8-18 s to import, so every entry point parses its
arguments with this module first and imports them only to serve: ``--help`` and a bad flag
are answered at once. A tab module does it before its own imports::

    if __name__ == "__main__":   # --help and bad flags answered before gradio and TensorFlow load
        from demos.cli import parse_args
        ARGS = parse_args(None, __doc__)

and passes ``ARGS`` to `demos.common.launch` at its end.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _prog() -> str | None:
    """``python -m demos.segment`` for the module running as ``__main__`` (argparse would say
    ``segment.py``, or ``__main__.py`` for ``python -m demos``); None when not run by -m."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is None:
        return None
    return f"python -m {spec.name.removesuffix('.__main__')}"


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    """``--host``, ``--port``, ``--share`` and ``--preload`` from ``argv`` (default
    ``sys.argv[1:]``); ``description`` (its first line is used) heads ``--help``.

    ``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` (what a Hugging Face Space sets) are the
    defaults of ``--host`` and ``--port``.
    """
    parser = argparse.ArgumentParser(prog=_prog(),
                                     description=description.strip().splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to serve on (0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                        help="port to serve on (default %(default)s)")
    parser.add_argument("--share", action="store_true",
                        help="also open a public *.gradio.live link (needs internet)")
    parser.add_argument("--preload", action="store_true",
                        help="load every model at start-up instead of on first use")
    return parser.parse_args(argv)
