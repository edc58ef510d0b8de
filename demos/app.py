"""The zoo's demo app: every task's tab in one Gradio page.

A tab is one module in ``demos/`` with a ``build() -> gr.Blocks`` function and one line in
`TABS` (each also serves alone: ``python -m demos.<module>``). Models load on first
use and are shared by every request (`demos.common.get_model`); Gradio's queue runs at most
`demos.common.CONCURRENCY` events at once.

    python -m demos                       # http://127.0.0.1:7860
    python -m demos --host 0.0.0.0 --port 8080 --preload
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

import gradio as gr

from demos.common import configure, launch

# (tab title, module): the whole registry of tabs, in display order.
TABS: list[tuple[str, str]] = [
    ("Classify", "demos.classify"),
    ("Verify", "demos.verify"),
    ("Segment", "demos.segment"),
    ("Detect", "demos.detect"),
    ("Depth", "demos.depth"),
    ("Look inside", "demos.inside"),
]

HEADER = """# zoo: classic computer-vision models, running on your machine

Shipped weights, no network. Pick a tab, upload an image or click an example, press the
button. Source, weights and training recipes: the zoo repository."""

FOOTER = """Data credits: MNIST (Y. LeCun and C. Cortes, CC BY-SA 3.0); CIFAR-10 (Krizhevsky
2009); AT&T faces (Olivetti Research Laboratory, Samaria and Harter 1994, used with credit);
ISBI 2012 EM (Cardona et al. 2010; the U-Net weights are for non-commercial research only);
BCCD blood cells (Shenggan/BCCD_Dataset, MIT licence).
Depth scenes and the EM example are synthetic, made in `demos/examples/make_examples.py`."""


def tab_modules() -> list[tuple[str, object]]:
    """The imported tab modules of `TABS`."""
    return [(title, importlib.import_module(name)) for title, name in TABS]


def build(tabs: Sequence[tuple[str, str]] | None = None) -> gr.Blocks:
    """All tabs (or the given ``(title, module)`` pairs) in one queued ``gr.Blocks``."""
    # Built outside the app's context: a Blocks built inside another one renders itself there.
    built = [(title, name.rsplit(".", 1)[-1], importlib.import_module(name).build())
             for title, name in tabs or TABS]
    with gr.Blocks(title="zoo demos", analytics_enabled=False) as demo:
        gr.Markdown(HEADER)
        with gr.Tabs():
            for title, slug, tab in built:
                with gr.Tab(title, id=slug, elem_id=f"tab-{slug}"):
                    tab.render()
        gr.Markdown(FOOTER)
    return configure(demo)


def main(argv: Sequence[str] | argparse.Namespace | None = None,
         app: gr.Blocks | None = None) -> gr.Blocks:
    """``python -m demos [--host H] [--port P] [--share] [--preload]``; ``argv`` may be
    arguments already parsed by `demos.cli.parse_args` (``python -m demos`` parses them
    before importing this module); ``app`` serves an already built app (the Space's
    ``app.py``) instead of building one."""
    preload = [key for _, module in tab_modules() for key in getattr(module, "MODELS", {})]
    return launch(app or build, argv, description=__doc__.splitlines()[0], preload=preload)


if __name__ == "__main__":
    main()
