"""Gradio demos: one module per task, combined into one tabbed app.

``python -m demos`` serves every tab (`demos.app`); ``python -m demos.segment`` serves one.
Each tab module exposes ``build() -> gr.Blocks`` and its handler functions, which take file
paths, PIL images or arrays, so tests call them directly. Shared pieces (reading uploads,
the model cache, compiled inference) are in `demos.common`; the load benchmark is
``python -m demos.bench``.
"""
