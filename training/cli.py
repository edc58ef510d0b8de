"""What the command lines share: a parser whose errors are one line, the backend flag read
before Keras is imported, ``--set FIELD=JSON`` overrides, and the exit codes.

Exit codes: 0 done; 1 the run stopped (diverged, disk full: the message says why, the run
folder keeps its last good epoch); 2 a mistake in the command (unknown model or recipe, bad
size, missing data, a corrupt file, another recipe's run folder): one line, no traceback;
130 interrupted (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: what was wrong, then where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def backend_from_argv(argv: list[str]) -> str | None:
    """``--backend X`` / ``--backend=X`` from the command line, read before Keras is imported."""
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--backend="):
            return arg.split("=", 1)[1]
    return None


def set_backend_from_argv() -> None:
    """Keras reads ``KERAS_BACKEND`` once, at import: set it before anything imports Keras."""
    backend = backend_from_argv(sys.argv[1:])
    if backend:
        os.environ["KERAS_BACKEND"] = backend


def parse_value(text: str) -> Any:
    """``"10"`` -> 10, ``'["flip"]'`` -> ["flip"], else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``["lr=0.1", 'augment=["flip"]']`` -> ``{"lr": 0.1, "augment": ["flip"]}``; a dotted
    name sets one key of a dict field (``loss_args.weight=0.1``) and is returned as
    ``{"loss_args.weight": 0.1}`` for `apply_sets`."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects FIELD=VALUE. Received: {item!r}")
        out[key.strip().replace("-", "_")] = parse_value(value)
    return out


def apply_sets(recipe, sets: dict[str, Any]):
    """A copy of ``recipe`` with the fields of `parse_sets` changed."""
    plain = {k: v for k, v in sets.items() if "." not in k}
    for key, value in sets.items():
        if "." in key:
            field, sub = key.split(".", 1)
            current = plain.get(field, getattr(recipe, field, None))
            if not isinstance(current, dict):
                raise ValueError(f"--set {key}: {field} is not a dict field of the recipe.")
            plain[field] = {**current, sub: value}
    return recipe.replace(**plain)
