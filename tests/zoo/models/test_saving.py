"""Every registered model, saved as ``.keras``, reloads with ``keras.saving.load_model`` in a
fresh process after ``import zoo`` and computes what it computed before (issue 16, item 2).

A fresh process is the point: in the process that built a model every custom layer's class
is already imported, so a registration missing from ``import zoo`` shows only in another one
(U-Net's ``InputSizeCheck`` and ``CropAndConcat``, SegNet's ``MaxPoolingWithArgmax2D`` were
reported). The models are small variants (the layer types are those of the full ones); one
subprocess loads them all, to pay for starting TensorFlow once.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from tests.zoo.models.test_classification import SERIALISE_CASES

ROOT = Path(__file__).resolve().parents[3]

CASES = [*SERIALISE_CASES,  # every classifier
         ("unet", {"filters": 2, "depth": 2}, (32, 32, 1)),
         ("segnet", {"classes": 2}, (32, 32, 3)),
         ("fcn8s", {"classes": 2}, (32, 32, 3)),
         ("fcn16s", {"classes": 2}, (32, 32, 3)),
         ("fcn32s", {"classes": 2}, (32, 32, 3)),
         ("eigen_depth", {"width": 0.25, "fc_units": 8}, (116, 152, 3)),
         ("siamese_net", {"filters": (4, 4, 4), "units": 8, "embedding_dim": 4}, (96, 96, 1)),
         ("facenet", {"backbone": "lenetpp", "backbone_args": {"width": 0.25},
                      "embedding_dim": 4}, (28, 28, 1)),
         ("lenetpp", {"width": 0.25, "classes": 3}, (28, 28, 1)),
         ("retinanet", {"backbone": "resnet18", "classes": 2, "fpn_filters": 4,
                        "head_filters": 4, "head_convs": 1}, (64, 64, 3))]
# variants whose layers differ from the default ones (valid U-Net, a backbone U-Net)
VARIANTS = [("unet", {"filters": 2, "depth": 2, "padding": "valid"}, (44, 44, 1)),
            ("unet", {"backbone": "resnet18", "decoder_filters": (4, 4, 4, 4, 4)},
             (32, 32, 3))]

LOADER = """
import json, sys
import numpy as np
import keras
import zoo  # the only import that may register the zoo's layers
results = {}
for case in json.loads(sys.argv[1]):
    try:
        model = keras.saving.load_model(case["path"])  # safe_mode stays on
        data = np.load(case["data"])
        got = model(data["x"], training=False)
        got = got if not isinstance(got, dict) else got[sorted(got)[0]]
        error = float(np.max(np.abs(keras.ops.convert_to_numpy(got) - data["y"])))
        results[case["key"]] = {"error": error, "class": type(model).__name__}
    except Exception as exc:
        results[case["key"]] = {"exception": f"{type(exc).__name__}: {str(exc)[:400]}"}
print("RESULTS" + json.dumps(results))
"""


def first_output(y):
    y = y if not isinstance(y, dict) else y[sorted(y)[0]]
    return keras.ops.convert_to_numpy(y)


def test_cases_cover_every_registered_model():
    assert {case[0] for case in CASES} == set(zoo.list_models())


# the five largest files (58-540 MB): their layer classes are those of resnet50, vgg16 and
# fcn8s, which the default run reloads; `.ci/run` runs these too (-m slow), so CI reloads all
LARGE = {"resnet101", "resnet152", "vgg19", "fcn16s", "fcn32s"}


def test_every_model_reloads_in_a_fresh_process(tmp_path):
    reload_in_a_fresh_process(tmp_path, [c for c in CASES + VARIANTS if c[0] not in LARGE])


@pytest.mark.slow
def test_the_largest_models_reload_in_a_fresh_process(tmp_path):
    reload_in_a_fresh_process(tmp_path, [c for c in CASES if c[0] in LARGE])


def reload_in_a_fresh_process(tmp_path, table):
    cases, classes = [], {}
    for i, (name, kwargs, shape) in enumerate(table):
        model = zoo.build(name, input_shape=shape, **kwargs)
        x = np.random.default_rng(i).uniform(0, 1, (1, *shape)).astype("float32")
        key = f"{i}-{name}"
        path, data = tmp_path / f"{key}.keras", tmp_path / f"{key}.npz"
        model.save(path)
        np.savez(data, x=x, y=first_output(model(x, training=False)))
        cases.append({"key": key, "path": str(path), "data": str(data)})
        classes[key] = type(model).__name__
        del model
        keras.backend.clear_session()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", LOADER, json.dumps(cases)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULTS")]
    assert lines, run.stderr[-3000:]
    results = json.loads(lines[-1][len("RESULTS"):])
    failures = {key: r for key, r in results.items()
                if "exception" in r or r["error"] > 1e-4 or r["class"] != classes[key]}
    assert not failures, failures
    assert set(results) == {case["key"] for case in cases}


def test_a_keras_path_that_is_not_a_zip_says_so(tmp_path):
    not_zip = tmp_path / "model.keras"
    not_zip.write_text("<html>not a model</html>")
    with pytest.raises(ValueError, match=r"model\.keras.*not a \.keras \(zip\) archive"):
        zoo.build("lenet5", weights=str(not_zip))
