"""``python -m demos``: serve every tab on http://127.0.0.1:7860 (see `demos.app`).

The arguments are parsed before the app is imported (Gradio, Keras and TensorFlow: 8-18 s),
so ``--help`` and a bad flag are answered at once.
"""

from demos.cli import parse_args

args = parse_args(None, "Serve every tab of the zoo's demo app (demos.app) on one page.")

from demos.app import main  # noqa: E402 - imported after parsing, on purpose (see above)

main(args)
