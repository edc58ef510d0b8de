"""The bundled MNIST sample, its IDX reader, and the quickstart example."""

import gzip

import numpy as np
import pytest

from training import quickstart
from training.data.idx import load_mnist, read_idx, write_idx


def test_idx_round_trip_and_sample(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(a, tmp_path / "a.gz")
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), a)
    x, y = load_mnist(quickstart.SAMPLE, "train")
    assert x.shape == (2000, 28, 28) and y.shape == (2000,)
    assert set(np.unique(y)) == set(range(10))


def test_idx_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x12\x34\x08\x01" + b"\x00\x00\x00\x02" + b"ab")
    with pytest.raises(ValueError, match="bad-idx3-ubyte.gz is not an IDX file"):
        read_idx(bad)
    cut = tmp_path / "cut.gz"
    with gzip.open(cut, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="cut.gz is truncated"):
        read_idx(cut)
    with pytest.raises(FileNotFoundError, match="missing"):
        read_idx(tmp_path / "missing.gz")


def test_quickstart_learns_digits():
    assert quickstart.main(["--epochs", "2"]) > 0.7


def test_docstring_advertises_exactly_the_flags_that_exist():
    """The usage line once offered --backbone-demo, which never existed (issue 16)."""
    import re

    usage = next(line for line in quickstart.__doc__.splitlines() if "python -m" in line)
    advertised = dict(re.findall(r"\[(--[a-z-]+) (\S+)\]", usage))
    actions = {a.option_strings[0]: a for a in quickstart.make_parser()._actions
               if a.option_strings and a.option_strings[0] != "-h"}
    assert set(advertised) == set(actions)
    for flag, value in advertised.items():  # the values shown are the defaults
        assert str(actions[flag].default) == value, flag
