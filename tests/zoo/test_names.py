"""`zoo.metric` (embedding and verification helpers) beside `zoo.metrics` (scores) read as a
typo: it is `zoo.embeddings` now, and the old name an alias of the same module (issue 16)."""

import importlib
import subprocess
import sys

import pytest

import zoo


def test_embeddings_is_the_module_and_metric_its_alias():
    assert zoo.embeddings.verify.__module__ == "zoo.embeddings"
    with pytest.warns(DeprecationWarning, match="zoo.embeddings"):
        sys.modules.pop("zoo.metric", None)
        old = importlib.import_module("zoo.metric")
    assert old is zoo.embeddings
    from zoo.metric import embed, verify  # the old import lines keep working

    assert verify is zoo.embeddings.verify and embed is zoo.embeddings.embed
    assert zoo.metric is zoo.embeddings
    assert "embeddings" in zoo.__all__ and "metric" not in zoo.__all__


def test_a_fresh_process_reaches_the_alias_as_an_attribute():
    code = ("import warnings; warnings.simplefilter('error')\nimport zoo\n"
            "try:\n    zoo.metric\nexcept DeprecationWarning:\n    print('warned')\n"
            "warnings.simplefilter('ignore')\nprint(zoo.metric is zoo.embeddings)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300).stdout.split()
    assert out == ["warned", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        zoo.nonsense  # noqa: B018
