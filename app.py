"""Hugging Face Spaces entry point: the zoo's demo app (`demos.app`), every tab.

Spaces runs ``python app.py`` from the repository root and sets ``GRADIO_SERVER_NAME`` /
``GRADIO_SERVER_PORT``; locally ``python app.py`` is the same as ``python -m demos``.
"""

from demos.app import build, main

demo = build()   # at module level, so `gradio app.py` (reload mode) finds it

if __name__ == "__main__":
    main(app=demo)
