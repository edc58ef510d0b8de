"""training.publish: float16 files and their check, sha256, manifest records, copies, the CLI.

Every test writes into tmp folders and a tmp manifest (or a patched copy of the package's
paths); an autouse guard proves the package's own zoo/weights/ is left untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import zoo
from tests.conftest import to_numpy
from tests.zoo.test_weights import http_dir  # noqa: F401 (a fixture: python -m http.server)
from training import publish as P
from zoo import weights as W

REAL_WEIGHTS_DIR = W.BUNDLED_DIR
REAL_MANIFEST = W.MANIFEST_PATH
COMMON = dict(dataset="mnist", split="test", metrics={"acc@1": 0.991, "loss": 0.03},
              recipe="training/recipes/lenet5_mnist.py", builder_args={"classes": 10})


def _folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(autouse=True)
def _package_weights_untouched():
    """No test may modify zoo/weights/ or its manifest; in-process records are reset."""
    before = _folder_state(REAL_WEIGHTS_DIR)
    yield
    W._records.cache_clear()
    assert _folder_state(REAL_WEIGHTS_DIR) == before


@pytest.fixture
def lenet():
    """A LeNet-5 with random (Glorot) weights: what publish sees, trained or not."""
    return zoo.build("lenet5")


@pytest.fixture
def probe():
    return np.random.default_rng(1).random((16, 32, 32, 1), dtype=np.float32)


def _h5_datasets(path) -> dict[str, tuple]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(
            name, (obj.dtype, obj.shape, dict(obj.attrs)))
            if isinstance(obj, h5py.Dataset) else None)
    return out


def _h5_groups(path) -> dict[str, dict]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, dict(obj.attrs))
                     if isinstance(obj, h5py.Group) else None)
    return out


def _git(*args: str, cwd=P.REPO_ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


# ---------------------------------------------------------------------------------------------
# Round trips through zoo.load
# ---------------------------------------------------------------------------------------------

def test_float16_round_trip_through_zoo_load_and_checksum(tmp_path, lenet, probe):
    spec = P.publish(lenet, arch="lenet5", tag="pubtest", out_dir=tmp_path / "out",
                     manifest_path=tmp_path / "manifest.json", register=True, **COMMON)
    published = tmp_path / "out" / "lenet5_pubtest.weights.h5"
    assert spec.url == published.resolve().as_uri() and spec.file is None
    assert {d[0] for d in _h5_datasets(published).values()} == {np.dtype("float16")}

    loaded = zoo.load("lenet5", weights="pubtest")
    assert {keras.backend.standardize_dtype(w.dtype) for w in loaded.weights} == {"float32"}
    diff = np.max(np.abs(to_numpy(loaded(probe)) - to_numpy(lenet(probe))))
    assert 0 < diff < 1e-2  # float16 rounding is visible but small
    np.testing.assert_array_equal(np.argmax(to_numpy(loaded(probe)), -1),
                                  np.argmax(to_numpy(lenet(probe)), -1))
    # the weights equal the float16-rounded originals
    for mine, theirs in zip(loaded.weights, lenet.weights):
        np.testing.assert_array_equal(
            to_numpy(mine), to_numpy(theirs).astype(np.float16).astype(np.float32))

    # corrupt one byte of the published file: the download is verified and refused
    for cached in W.cache_dir().rglob("*.weights.h5"):
        cached.unlink()
    data = bytearray(published.read_bytes())
    data[len(data) // 2] ^= 0xFF
    published.write_bytes(bytes(data))
    with pytest.raises(W.ChecksumError, match=spec.sha256):
        zoo.load("lenet5", weights="pubtest")


def test_bundled_record_in_package_manifest_is_seen_at_once(tmp_path, monkeypatch, lenet,
                                                            probe):
    """Publishing into the package's folder and manifest (here patched to tmp copies) records
    a bundled `file`, and zoo.load sees the tag in the same process without register=."""
    bundled = tmp_path / "weights"
    bundled.mkdir()
    manifest = bundled / "manifest.json"
    manifest.write_text(REAL_MANIFEST.read_text())
    monkeypatch.setattr(W, "BUNDLED_DIR", bundled)
    monkeypatch.setattr(W, "MANIFEST_PATH", manifest)
    W._records.cache_clear()
    runtime = W.WeightSpec(arch="lenet5", tag="runtime", url="http://127.0.0.1:9/x.weights.h5")
    W.register_weights(runtime)  # a record added at run time survives the refresh

    with pytest.raises(ValueError, match="`license` is required"):
        P.publish(lenet, arch="lenet5", tag="bundle", out_dir=bundled, **COMMON)
    spec = P.publish(lenet, arch="lenet5", tag="bundle", out_dir=bundled, license="MIT",
                     **COMMON)
    assert spec.file == "lenet5_bundle.weights.h5" and spec.url is None
    assert "lenet5.bundle" in json.loads(manifest.read_text())
    assert W.get_weight_spec("lenet5", "runtime") == runtime
    diff = np.max(np.abs(to_numpy(zoo.load("lenet5.bundle")(probe)) - to_numpy(lenet(probe))))
    assert diff < 1e-2

    data = bytearray((bundled / spec.file).read_bytes())
    data[-100] ^= 0x01
    (bundled / spec.file).write_bytes(bytes(data))
    with pytest.raises(W.ChecksumError, match="corrupt"):
        zoo.load("lenet5", weights="bundle")


def test_copy_to_served_folder_with_url_downloads_over_http(tmp_path, http_dir, lenet,  # noqa: F811
                                                            probe):
    folder, base = http_dir
    spec = P.publish(lenet, arch="lenet5", tag="served", out_dir=tmp_path / "out",
                     manifest_path=tmp_path / "m.json", register=True, copy_to=folder,
                     url=f"{base}/lenet5_served.weights.h5", **COMMON)
    assert spec.url == f"{base}/lenet5_served.weights.h5"
    loaded = zoo.load("lenet5", weights="served")
    assert np.max(np.abs(to_numpy(loaded(probe)) - to_numpy(lenet(probe)))) < 1e-2
    assert (W.cache_dir() / "lenet5" / "lenet5_served.weights.h5").is_file()


# ---------------------------------------------------------------------------------------------
# The record and the manifest
# ---------------------------------------------------------------------------------------------

def test_manifest_entry_contents(tmp_path, lenet):
    manifest = tmp_path / "manifest.json"
    spec = P.publish(lenet, arch="lenet5", tag="mnist", out_dir=tmp_path, manifest_path=manifest,
                     license="CC0-1.0", notes="a test", class_names=[str(i) for i in range(10)],
                     **COMMON)
    text = manifest.read_text()
    raw = json.loads(text)
    assert text == json.dumps(raw, indent=2) + "\n"
    entry = raw["lenet5.mnist"]
    path = tmp_path / "lenet5_mnist.weights.h5"
    assert entry["dataset"] == "mnist" and entry["split"] == "test"
    assert entry["metrics"] == {"mnist": {"acc@1": 0.991, "loss": 0.03}}
    assert entry["recipe"] == "training/recipes/lenet5_mnist.py"
    assert entry["builder_args"] == {"classes": 10}
    assert entry["input_shape"] == [32, 32, 1] and entry["preprocessing"] == "unit"
    assert entry["class_names"] == [str(i) for i in range(10)]
    assert entry["num_params"] == 61706
    assert entry["default"] is False
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["file_size_mb"] == round(path.stat().st_size / 2**20, 3)
    assert entry["license"] == "CC0-1.0" and entry["notes"] == "a test"
    head = _git("rev-parse", "HEAD")
    assert entry["commit"] in (head, f"{head}-dirty")
    assert f"at commit {head[:7]}" in entry["source"] and "float16" in entry["source"]
    assert W.WeightSpec.from_dict(entry) == spec
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # readable by others, not mkstemp's


def test_git_commit_dirty_and_unknown(tmp_path):
    assert P.git_commit(tmp_path) == "unknown"  # not a repository
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["-c", "user.name=t", "-c", "user.email=t@t"]
    _git("init", "-q", cwd=repo)
    (repo / "a.txt").write_text("1")
    _git("add", "a.txt", cwd=repo)
    _git(*git, "commit", "-q", "-m", "one", cwd=repo)
    head = _git("rev-parse", "HEAD", cwd=repo)
    (repo / "untracked.txt").write_text("x")  # untracked files do not make a tree dirty
    assert P.git_commit(repo) == head
    (repo / "a.txt").write_text("2")
    assert P.git_commit(repo) == f"{head}-dirty"


def test_replacing_an_entry_keeps_the_others_and_their_order(tmp_path, lenet):
    manifest = tmp_path / "manifest.json"
    original = json.loads(REAL_MANIFEST.read_text())
    manifest.write_text(json.dumps(original, indent=2) + "\n")
    P.publish(lenet, arch="lenet5", tag="digits", out_dir=tmp_path, manifest_path=manifest,
              **COMMON)
    P.publish(lenet, arch="lenet5", tag="other", out_dir=tmp_path, manifest_path=manifest,
              **COMMON)
    first = json.loads(manifest.read_text())
    assert list(first) == [*original, "lenet5.digits", "lenet5.other"]

    P.publish(lenet, arch="lenet5", tag="digits", out_dir=tmp_path, manifest_path=manifest,
              **{**COMMON, "metrics": {"acc@1": 0.5}})
    second = json.loads(manifest.read_text())
    assert list(second) == list(first)  # replaced in place
    assert second["lenet5.digits"]["metrics"] == {"mnist": {"acc@1": 0.5}}
    assert {k: v for k, v in second.items() if k != "lenet5.digits"} == \
        {k: v for k, v in first.items() if k != "lenet5.digits"}


def test_default_moves_between_tags_of_one_arch(tmp_path, lenet):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(REAL_MANIFEST.read_text())
    P.publish(lenet, arch="lenet5", tag="first", out_dir=tmp_path, manifest_path=manifest,
              default=True, register=True, **COMMON)
    assert W.get_weight_spec("lenet5").tag == "first"
    P.publish(lenet, arch="lenet5", tag="second", out_dir=tmp_path, manifest_path=manifest,
              default=True, register=True, **COMMON)
    raw = json.loads(manifest.read_text())
    assert raw["lenet5.first"]["default"] is False and raw["lenet5.second"]["default"] is True
    real = json.loads(REAL_MANIFEST.read_text())
    # the real lenet5 default gives way; other architectures' records are untouched
    assert all(not raw[k]["default"] for k in real if k.startswith("lenet5."))
    assert all(raw[k]["default"] == v["default"] for k, v in real.items()
               if not k.startswith("lenet5."))
    assert W.get_weight_spec("lenet5").tag == "second"  # in process too
    assert not W.get_weight_spec("lenet5", "first").default


# ---------------------------------------------------------------------------------------------
# float16
# ---------------------------------------------------------------------------------------------

def test_float16_file_is_half_the_size_with_the_same_layout(tmp_path, lenet):
    r16 = P.publish_report(lenet, arch="lenet5", tag="half", out_dir=tmp_path,
                           manifest_path=tmp_path / "m.json", **COMMON)
    r32 = P.publish_report(lenet, arch="lenet5", tag="full", out_dir=tmp_path,
                           manifest_path=tmp_path / "m.json", float16=False, **COMMON)
    assert (r16.dtype, r32.dtype) == ("float16", "float32")
    assert 0 < r16.max_abs_diff < 1e-3 and r16.argmax_agreement == 1.0
    assert r32.max_abs_diff == 0.0
    d16, d32 = _h5_datasets(r16.path), _h5_datasets(r32.path)
    assert d16.keys() == d32.keys() and len(d16) == 10  # 5 layers x (kernel, bias)
    for name in d16:
        assert d16[name][0] == np.float16 and d32[name][0] == np.float32
        assert d16[name][1:] == d32[name][1:]  # same shape and attributes
    assert _h5_groups(r16.path) == _h5_groups(r32.path)  # same groups, same layer names
    ratio = r16.path.stat().st_size / r32.path.stat().st_size
    assert 0.45 < ratio < 0.6  # half the data; HDF5's fixed overhead adds a little
    with h5py.File(r16.path) as f16, h5py.File(r32.path) as f32:
        for name in d16:
            np.testing.assert_array_equal(f16[name][()], f32[name][()].astype(np.float16))


def test_convert_keeps_non_float32_datasets_and_attributes(tmp_path):
    src, dst = tmp_path / "src.weights.h5", tmp_path / "dst.weights.h5"
    with h5py.File(src, "w") as f:
        f.attrs["root"] = "r"
        g = f.create_group("layers/x/vars")
        g.attrs["name"] = "x"
        g["0"] = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
        g["1"] = np.arange(4, dtype=np.int64)
        g["2"] = np.array([1 / 3], dtype=np.float64)
        g["0"].attrs["note"] = "kept"
        f.create_group("layers/empty/vars").attrs["name"] = "empty"
    assert P.convert_to_float16(src, dst) == []
    with h5py.File(dst) as f:
        assert dict(f.attrs) == {"root": "r"}
        assert f["layers/x/vars"].attrs["name"] == "x"
        assert f["layers/empty/vars"].attrs["name"] == "empty"
        assert f["layers/x/vars/0"].dtype == np.float16
        assert f["layers/x/vars/0"].attrs["note"] == "kept"
        assert f["layers/x/vars/1"].dtype == np.int64
        np.testing.assert_array_equal(f["layers/x/vars/1"][()], np.arange(4))
        assert f["layers/x/vars/2"].dtype == np.float64 and f["layers/x/vars/2"][0] == 1 / 3
    with h5py.File(src, "a") as f:
        f["layers/x/vars/3"] = np.array([1e6], dtype=np.float32)  # beyond float16's 65504
    assert P.convert_to_float16(src, dst) == ["layers/x/vars/3"]


def test_impossible_tolerance_falls_back_to_float32(tmp_path, lenet, caplog):
    with caplog.at_level(logging.WARNING, logger="training.publish"):
        report = P.publish_report(lenet, arch="lenet5", tag="strict", out_dir=tmp_path,
                                  manifest_path=tmp_path / "m.json", max_abs_diff=0.0, **COMMON)
    assert report.dtype == "float32" and "max_abs_diff=0" in report.fallback_reason
    assert {d[0] for d in _h5_datasets(report.path).values()} == {np.dtype("float32")}
    assert any("float16 refused" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert "float32 (float16 refused" in report.spec.source
    assert list(tmp_path.glob(".*")) == []  # no temporary files left behind


def test_overflowing_weights_fall_back_to_float32(tmp_path, lenet, caplog):
    kernel = lenet.get_layer("f6").kernel
    kernel.assign(keras.ops.ones(kernel.shape) * 1e5)  # tanh saturates; float16 cannot hold it
    report = P.publish_report(lenet, arch="lenet5", tag="big", out_dir=tmp_path,
                              manifest_path=tmp_path / "m.json", **COMMON)
    assert report.dtype == "float32" and "range" in report.fallback_reason


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

def test_unknown_arch_lists_close_names(tmp_path, lenet):
    with pytest.raises(ValueError, match="Unknown model 'lenet55'.*lenet5"):
        P.publish(lenet, arch="lenet55", tag="x", out_dir=tmp_path,
                  manifest_path=tmp_path / "m.json", **COMMON)


def test_weights_of_another_architecture_are_refused(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
    path = tmp_path / "other.weights.h5"
    other.save_weights(path)
    with pytest.raises(ValueError, match="does not fit lenet5"):
        P.publish(path, arch="lenet5", tag="x", out_dir=tmp_path / "out",
                  manifest_path=tmp_path / "m.json", **COMMON)
    five = zoo.build("lenet5", classes=5)  # a model the record's builder_args do not build
    with pytest.raises(ValueError, match="does not fit zoo.build"):
        P.publish(five, arch="lenet5", tag="x", out_dir=tmp_path / "out",
                  manifest_path=tmp_path / "m.json", **COMMON)
    logits = zoo.build("lenet5", classifier_activation=None)  # same weights, other outputs
    with pytest.raises(ValueError, match="do not reproduce the model's outputs"):
        P.publish(logits, arch="lenet5", tag="x", out_dir=tmp_path / "out",
                  manifest_path=tmp_path / "m.json", **COMMON)
    assert not (tmp_path / "m.json").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_publishing_a_weights_file(tmp_path, lenet, probe):
    path = tmp_path / "best.weights.h5"
    lenet.save_weights(path)
    spec = P.publish(path, arch="lenet5", tag="fromfile", out_dir=tmp_path / "out",
                     manifest_path=tmp_path / "m.json", register=True, **COMMON)
    assert "from best.weights.h5" in spec.source
    diff = np.max(np.abs(to_numpy(zoo.load("lenet5.fromfile")(probe)) - to_numpy(lenet(probe))))
    assert diff < 1e-2


@pytest.mark.parametrize("tag", ["a/b", "", "default", "a.b", "-x", "a b", None])
def test_bad_tags(tmp_path, lenet, tag):
    with pytest.raises(ValueError, match="`tag`"):
        P.publish(lenet, arch="lenet5", tag=tag, out_dir=tmp_path / "out",
                  manifest_path=tmp_path / "m.json", **COMMON)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs,match", [
    ({"metrics": {"acc@1": "high"}}, "finite number"),
    ({"metrics": {"acc@1": float("nan")}}, "finite number"),
    ({"metrics": {}}, "at least one"),
    ({"preprocessing": "imagenet"}, "`preprocessing`"),
    ({"input_shape": (28, 28, 1)}, "does not fit the model's input"),
    ({"class_names": ["a", "b"]}, "2 names but the model has 10"),
    ({"builder_args": {"classes": 10, "weights": "x"}}, "must not contain `weights`"),
    ({"builder_args": {"nonsense": 1}}, "does not accept `builder_args`"),
])
def test_bad_arguments(tmp_path, lenet, kwargs, match):
    with pytest.raises(ValueError, match=match):
        P.publish(lenet, arch="lenet5", tag="x", out_dir=tmp_path / "out",
                  manifest_path=tmp_path / "m.json", **{**COMMON, **kwargs})


# ---------------------------------------------------------------------------------------------
# Copies
# ---------------------------------------------------------------------------------------------

def test_copy_to_local_folder(tmp_path, lenet):
    report = P.publish_report(lenet, arch="lenet5", tag="copied", out_dir=tmp_path / "out",
                              manifest_path=tmp_path / "m.json", copy_to=tmp_path / "mirror",
                              **COMMON)
    copy = tmp_path / "mirror" / "lenet5_copied.weights.h5"
    assert report.copies == [str(copy)]
    assert copy.read_bytes() == report.path.read_bytes()
    assert (tmp_path / "mirror" / "lenet5_copied.weights.h5.sha256").read_text() == \
        f"{report.spec.sha256}  lenet5_copied.weights.h5\n"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == report.spec.sha256
    # the record still points at the published file (the copy is a mirror)
    assert report.spec.url == report.path.resolve().as_uri()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="which is a file"):
        P.publish(lenet, arch="lenet5", tag="copied", out_dir=tmp_path / "out",
                  manifest_path=tmp_path / "m.json", copy_to=tmp_path / "afile", **COMMON)


@pytest.mark.parametrize("target,expected", [
    ("hf://me/zoo", ("me/zoo", "")),
    ("hf://me/zoo/", ("me/zoo", "")),
    ("hf://me/zoo-weights/lenet5/v1", ("me/zoo-weights", "lenet5/v1")),
])
def test_parse_hf_target(target, expected):
    assert P.parse_hf_target(target) == expected


@pytest.mark.parametrize("target", ["hf://", "hf://me", "hf://me//x", "hf:/me/zoo",
                                    "hf://me/zo o", "hf://../zoo", "hf://me/zoo/../x"])
def test_malformed_hf_target_fails_before_any_work(tmp_path, lenet, target):
    with pytest.raises(ValueError, match="hf://<user>/<repo>"):
        P.publish(lenet, arch="lenet5", tag="x", out_dir=tmp_path / "out",
                  manifest_path=tmp_path / "m.json", copy_to=target, **COMMON)
    assert not (tmp_path / "out").exists()


def test_hf_upload_without_token_or_network(tmp_path, lenet, monkeypatch):
    """No network: huggingface_hub's token lookup and upload are replaced."""
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_file",
                        lambda self, **kw: calls.append(kw) or "ok")
    manifest = tmp_path / "m.json"
    with pytest.raises(P.UploadError, match=r"could not upload to hf://me/zoo: no Hugging Face "
                                            r"token.*stays at"):
        P.publish(lenet, arch="lenet5", tag="hub", out_dir=tmp_path, manifest_path=manifest,
                  copy_to="hf://me/zoo", **COMMON)
    assert calls == [] and not manifest.exists()  # no record for a file that is not there

    def offline(self, **kw):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake")
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_file", offline)
    with pytest.raises(P.UploadError, match="could not upload to hf://me/zoo: ConnectionError: "
                                            "Name or service not known"):
        P.publish(lenet, arch="lenet5", tag="hub", out_dir=tmp_path, manifest_path=manifest,
                  copy_to="hf://me/zoo", **COMMON)

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_file",
                        lambda self, **kw: calls.append(kw) or "ok")
    spec = P.publish(lenet, arch="lenet5", tag="hub", out_dir=tmp_path, manifest_path=manifest,
                     copy_to="hf://me/zoo/lenet5", **COMMON)
    assert calls[0]["repo_id"] == "me/zoo"
    assert calls[0]["path_in_repo"] == "lenet5/lenet5_hub.weights.h5"
    assert spec.url == "https://huggingface.co/me/zoo/resolve/main/lenet5/lenet5_hub.weights.h5"


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def test_cli_chains_from_evaluate_json(tmp_path, lenet, capsys):
    weights = tmp_path / "best.weights.h5"
    lenet.save_weights(weights)
    metrics = tmp_path / "metrics.json"
    report = {"n": 100, "acc@1": 0.99, "acc@5": 1.0, "error": 0.01,  # as evaluate writes it
              "per_class": {"0": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 10}},
              "confusion": [[10]], "class_names": ["0"], "model": "lenet5",
              "weights": str(weights), "dataset": "mnist", "split": "test", "recipe": "r"}
    metrics.write_text(json.dumps(report))
    manifest = tmp_path / "manifest.json"
    spec = P.main(["--model", "lenet5", "--weights", str(weights), "--tag", "mnist",
                   "--metrics-json", str(metrics),
                   "--metric", "loss=0.03", "--metric", "acc@1=0.991",
                   "--recipe", "training/recipes/lenet5_mnist.py", "--builder-arg", "classes=10",
                   "--input-shape", "32,32,1", "--default", "--out", str(tmp_path / "out"),
                   "--manifest", str(manifest), "--copy-to", str(tmp_path / "mirror"),
                   "--license", "CC0-1.0"])
    entry = json.loads(manifest.read_text())["lenet5.mnist"]
    assert entry["metrics"] == {"mnist": {"acc@1": 0.991, "acc@5": 1.0, "error": 0.01,
                                          "loss": 0.03}}
    assert entry["dataset"] == "mnist" and entry["split"] == "test"  # from the report
    assert entry["builder_args"] == {"classes": 10} and entry["default"] is True
    assert entry["license"] == "CC0-1.0"
    out = capsys.readouterr().out
    published = tmp_path / "out" / "lenet5_mnist.weights.h5"
    assert str(published) in out and spec.sha256 in out
    assert "float16" in out and "max abs output diff" in out
    assert (tmp_path / "mirror" / "lenet5_mnist.weights.h5.sha256").exists()

    P.main(["--model", "lenet5", "--weights", str(weights), "--tag", "mnist32",
            "--dataset", "mnist", "--split", "test", "--metric", "acc@1=0.99", "--recipe", "r",
            "--float32", "--out", str(tmp_path / "out"), "--manifest", str(manifest)])
    assert "dtype    float32" in capsys.readouterr().out

    with pytest.raises(SystemExit):  # the report was measured on another split
        P.main(["--model", "lenet5", "--weights", str(weights), "--tag", "x", "--split", "train",
                "--metrics-json", str(metrics), "--recipe", "r", "--out", str(tmp_path / "out"),
                "--manifest", str(manifest)])
    assert "--split 'train' differs from the split 'test'" in capsys.readouterr().err


@pytest.mark.parametrize("extra,match", [
    (["--metric", "acc@1=high"], "must be a number"),
    (["--metric", "acc@1"], "NAME=VALUE"),
    (["--metric", "acc=1", "--input-shape", "32x32"], "--input-shape must be H,W,C"),
    (["--metric", "acc=1", "--tag", "a/b"], "`tag`"),
    (["--metric", "acc=1", "--copy-to", "hf://me"], "Malformed Hugging Face target"),
    ([], "No metrics"),
    (["--metric", "acc=1", "--model", "lenet55"], "Did you mean: lenet5"),
])
def test_cli_errors_exit_with_a_message(tmp_path, lenet, capsys, extra, match):
    weights = tmp_path / "best.weights.h5"
    lenet.save_weights(weights)
    argv = ["--model", "lenet5", "--weights", str(weights), "--tag", "t", "--dataset", "d",
            "--split", "s", "--recipe", "r", "--out", str(tmp_path / "out"),
            "--manifest", str(tmp_path / "m.json"), *extra]
    with pytest.raises(SystemExit) as exit_info:
        P.main(argv)
    assert exit_info.value.code == 2
    assert match in capsys.readouterr().err
