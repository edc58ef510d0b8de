"""``python -m training.bench``: runs `training.bench.cli.main` on the command line's flags."""

from training.bench.cli import main

if __name__ == "__main__":
    main()
