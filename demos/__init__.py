"""Gradio demos: one module per task, combined into one tabbed app.

``python -m demos`` serves every tab (`demos.app`); ``python -m demos.segment`` serves one.
Each tab module exposes ``build() -> gr.Blocks`` and its handler functions, which take file
paths, PIL images or arrays, so tests call them directly. Shared pieces (reading uploads,
the model cache, compiled inference) are in `demos.common`; the command line in `demos.cli`
(standard library only: every entry point parses its arguments before importing Gradio and
TensorFlow, so ``--help`` is immediate); the load benchmark is ``python -m demos.bench``.
"""
