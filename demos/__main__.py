"""``python -m demos``: serve every tab on http://127.0.0.1:7860 (see `demos.app`)."""

from demos.app import main

main()
