"""Weight resolution: bundled, cache, real HTTP downloads (a local `python -m http.server`),
checksums, truncation, no network, local paths, and Keras' own ImageNet records."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import zoo
from tests.conftest import to_numpy
from tests.zoo.conftest import cache_files, same_weights
from zoo import weights as W


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_dir(tmp_path):
    """Serves a fresh folder with `python -m http.server` on 127.0.0.1; yields (folder, url)."""
    folder = tmp_path / "served"
    folder.mkdir()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.time() > deadline:
                server.kill()
                raise RuntimeError("http.server did not start")
            time.sleep(0.1)
    try:
        yield folder, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def lenet_file(tmp_path):
    """A real LeNet-5 weight file and the model it came from."""
    model = zoo.build("lenet5")
    path = tmp_path / "lenet5-test.weights.h5"
    model.save_weights(path)
    return model, path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_verify_and_load(http_dir, lenet_file, spec_registry):
    folder, url = http_dir
    model, path, sha = lenet_file
    (folder / path.name).write_bytes(path.read_bytes())
    spec_registry(tag="served", url=f"{url}/{path.name}", sha256=sha,
                  builder_args={"classes": 10}, input_shape=(32, 32, 1))
    loaded = zoo.load("lenet5", weights="served")
    same_weights(loaded, model)
    assert cache_files() == [path.name]
    # the second load comes from the cache: stop the server by deleting the file
    (folder / path.name).unlink()
    same_weights(zoo.load("lenet5.served"), model)


def test_checksum_mismatch_leaves_nothing_in_cache(http_dir, lenet_file, spec_registry):
    folder, url = http_dir
    _, path, _ = lenet_file
    (folder / path.name).write_bytes(path.read_bytes())
    spec_registry(tag="wronghash", url=f"{url}/{path.name}", sha256="0" * 64)
    with pytest.raises(W.ChecksumError, match="expected 0000"):
        zoo.load("lenet5", weights="wronghash")
    assert cache_files() == []


def test_truncated_copy_is_rejected(http_dir, lenet_file, spec_registry):
    folder, url = http_dir
    _, path, sha = lenet_file
    (folder / path.name).write_bytes(path.read_bytes()[:1000])  # a half-uploaded file
    spec_registry(tag="cut", url=f"{url}/{path.name}", sha256=sha)
    with pytest.raises(W.ChecksumError):
        zoo.load("lenet5", weights="cut")
    assert cache_files() == []


class _CutConnection(http.server.BaseHTTPRequestHandler):
    """Announces the full length, sends a third of it, and hangs up."""

    payload = b"x" * 30000

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload[:10000])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_connection_cut_mid_download(tmp_path, spec_registry):
    server = http.server.HTTPServer(("127.0.0.1", 0), _CutConnection)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/lenet5-cut.weights.h5"
        spec_registry(tag="cutconn", url=url,
                      sha256=hashlib.sha256(_CutConnection.payload).hexdigest())
        with pytest.raises(W.DownloadError, match="truncated|cut off"):
            zoo.load("lenet5", weights="cutconn")
    finally:
        server.shutdown()
    assert cache_files() == []


def test_no_network_gives_a_clear_error(spec_registry):
    spec_registry(tag="offline", url=f"http://127.0.0.1:{_free_port()}/lenet5.weights.h5",
                  sha256="0" * 64)
    with pytest.raises(W.DownloadError, match=r"Could not download .*offline\? .*weights=<local path>"):
        zoo.load("lenet5", weights="offline")
    assert cache_files() == []


def test_http_error_is_reported(http_dir, spec_registry):
    _, url = http_dir
    spec_registry(tag="missing", url=f"{url}/nothing-here.weights.h5", sha256="0" * 64)
    with pytest.raises(W.DownloadError, match="HTTP 404"):
        zoo.load("lenet5", weights="missing")


def test_corrupt_cached_file_is_replaced(http_dir, lenet_file, spec_registry):
    folder, url = http_dir
    model, path, sha = lenet_file
    (folder / path.name).write_bytes(path.read_bytes())
    spec_registry(tag="recache", url=f"{url}/{path.name}", sha256=sha)
    cached = W.cache_dir() / "lenet5" / path.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    same_weights(zoo.load("lenet5", weights="recache"), model)
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == sha


def test_bundled_file_is_verified(tmp_path, monkeypatch, lenet_file, spec_registry):
    model, path, sha = lenet_file
    monkeypatch.setattr(W, "BUNDLED_DIR", path.parent)
    spec_registry(tag="bundled", file=path.name, sha256=sha)
    same_weights(zoo.load("lenet5", weights="bundled"), model)
    spec_registry(tag="badbundle", file=path.name, sha256="1" * 64)
    with pytest.raises(W.ChecksumError):
        zoo.load("lenet5", weights="badbundle")


def test_local_paths_and_bad_files(tmp_path, lenet_file):
    model, path, _ = lenet_file
    same_weights(zoo.load("lenet5", weights=str(path)), model)
    same_weights(zoo.build("lenet5", weights=path), model)
    not_h5 = tmp_path / "broken.weights.h5"
    not_h5.write_bytes(b"this is not HDF5")
    with pytest.raises(ValueError, match="not a readable weight file"):
        zoo.build("lenet5", weights=str(not_h5))
    wrong_suffix = tmp_path / "weights.bin"
    wrong_suffix.write_bytes(b"0")
    with pytest.raises(ValueError, match=r"must be a .weights.h5, .h5, .keras file"):
        zoo.build("lenet5", weights=str(wrong_suffix))


def test_keras_file_loads_with_safe_mode(tmp_path):
    model = zoo.build("resnet20_cifar")
    path = tmp_path / "r20.keras"
    model.save(path)
    same_weights(zoo.load("resnet20_cifar", weights=str(path)), model)
    with pytest.raises(ValueError, match="does not fit resnet32_cifar"):
        zoo.load("resnet32_cifar", weights=str(path))


def test_manifest_records_are_well_formed():
    raw = json.loads(W.MANIFEST_PATH.read_text())
    for key, record in raw.items():
        spec = W.WeightSpec.from_dict(record)
        assert spec.key == key
        assert spec.url or spec.file, key
        assert spec.dataset and spec.metrics and spec.license and spec.source, key
        assert spec.arch in zoo.list_models(), key
        assert spec.num_params == zoo.build(spec.arch, **spec.builder_args).count_params(), key
    defaults = [s.arch for s in map(W.WeightSpec.from_dict, raw.values()) if s.default]
    assert len(defaults) == len(set(defaults)), "one default tag per architecture"


@pytest.mark.parametrize("arch,module", [("vgg16", "vgg16"), ("vgg19", "vgg19"),
                                         ("resnet50", "resnet"), ("resnet101", "resnet"),
                                         ("resnet152", "resnet")])
def test_imagenet_records_are_keras_own_files(arch, module):
    import importlib

    src = importlib.import_module(f"keras.src.applications.{module}")
    spec = W.get_weight_spec(arch, "imagenet")
    if module == "resnet":
        top_hash, notop_hash = src.WEIGHTS_HASHES[arch]
        assert spec.url == f"{src.BASE_WEIGHTS_PATH}{arch}_weights_tf_dim_ordering_tf_kernels.h5"
    else:
        source = Path(src.__file__).read_text()
        top_hash, notop_hash = [h for h in (spec.md5, spec.notop["md5"]) if h in source]
        assert spec.url == src.WEIGHTS_PATH and spec.notop["url"] == src.WEIGHTS_PATH_NO_TOP
    assert (spec.md5, spec.notop["md5"]) == (top_hash, notop_hash)


def test_mobilenet_records_use_keras_urls():
    from keras.src.applications import mobilenet

    for tag, text in [("imagenet", "1_0"), ("imagenet_a075", "7_5"), ("imagenet_a050", "5_0"),
                      ("imagenet_a025", "2_5")]:
        spec = W.get_weight_spec("mobilenet", tag)
        assert spec.url == f"{mobilenet.BASE_WEIGHT_PATH}mobilenet_{text}_224_tf.h5"
        assert spec.notop["url"] == f"{mobilenet.BASE_WEIGHT_PATH}mobilenet_{text}_224_tf_no_top.h5"


def test_imagenet_offline_fails_clearly(monkeypatch):
    # Route every request to a closed local port: what a machine without network sees,
    # without ever reaching the real host (tests never use the network).
    closed = f"http://127.0.0.1:{_free_port()}"
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, closed)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(W.DownloadError, match=r"resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
                                              r".*offline"):
        zoo.load("resnet50", include_top=False, pooling="avg")
    assert cache_files() == []


def test_transfer_by_name_reports(tmp_path):
    full = zoo.build("resnet18", classes=7, input_shape=(32, 32, 3))
    headless = zoo.build("resnet18", include_top=False, input_shape=(32, 32, 3))
    report = W.transfer_by_name(full, headless)
    assert report.missing == [] and report.shape_mismatch == []
    assert len(report.matched) == len([layer for layer in headless.layers if layer.weights])
    same_weights(headless, full, strict=False)  # the headless body: a prefix of the full
    other = zoo.build("resnet18", classes=3, input_shape=(32, 32, 3))
    assert W.transfer_by_name(full, other).shape_mismatch == ["predictions"]


def test_headless_load_from_a_full_file(tmp_path, lenet_file, spec_registry, monkeypatch):
    # A record with only a full-model file still serves include_top=False.
    model, path, sha = lenet_file
    monkeypatch.setattr(W, "BUNDLED_DIR", path.parent)
    spec_registry(tag="fullonly", file=path.name, sha256=sha, builder_args={"classes": 10},
                  input_shape=(32, 32, 1))
    headless = zoo.load("lenet5", weights="fullonly", include_top=False, input_shape=(48, 48, 1))
    assert headless.output_shape == (None, 5, 5, 120)  # 48 -> 44 -> 22 -> 18 -> 9 -> 5
    same_weights(headless, model, strict=False)  # the headless body: a prefix


def test_is_cached_follows_the_resolution_order_without_downloading(tmp_path, monkeypatch):
    from zoo import weights as W

    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "zoo"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    bundled = W.get_weight_spec("lenet5", "mnist")
    assert W.is_cached(bundled) and W.local_candidates(bundled)[0].parent == W.BUNDLED_DIR
    remote = W.get_weight_spec("vgg16", "imagenet")
    zoo_path, keras_path = W.local_candidates(remote)
    assert not W.is_cached(remote)
    keras_path.parent.mkdir(parents=True)
    keras_path.write_bytes(b"")        # present (not verified: is_cached never reads it)
    assert W.is_cached(remote) and zoo_path.parent == tmp_path / "zoo" / "vgg16"


# ---------------------------------------------------------------------------------------------
# A file that does not fit: the message names the layer and both shapes
# ---------------------------------------------------------------------------------------------

FIT_HINT = "Expected a file saved from the same architecture"


@pytest.fixture
def lenet10(tmp_path):
    """A 10-class LeNet-5 saved as .weights.h5 and .keras."""
    model = zoo.build("lenet5", classes=10)
    model.save_weights(tmp_path / "lenet10.weights.h5")
    model.save(tmp_path / "lenet10.keras")
    return model, tmp_path


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_mismatch_names_the_layer_and_both_shapes(lenet10, suffix):
    _, folder = lenet10
    with pytest.raises(W.WeightsError) as info:
        zoo.build("lenet5", classes=3, weights=str(folder / f"lenet10{suffix}"))
    message = str(info.value)
    # The Keras 3 formats name layers by class; the message gives the model's name and the path.
    assert "Layer 'predictions' (in the file: layers/dense_1) kernel: the file has (84, 10), " \
           "the model (84, 3)." in message, message
    assert "does not fit lenet5" in message and FIT_HINT in message


def test_mismatch_lists_the_layers_only_one_side_has(tmp_path):
    # resnet20's 3 blocks per stage against resnet32's 5: the first conv of stage 3 moves
    path = tmp_path / "r20.weights.h5"
    zoo.build("resnet20_cifar").save_weights(path)
    with pytest.raises(W.WeightsError) as info:
        zoo.load("resnet32_cifar", weights=str(path))
    message = str(info.value)
    assert "Layer 'conv2_block4_1_conv' (in the file: layers/conv2d_7) kernel: the file has " \
           "(3, 3, 16, 32), the model (3, 3, 16, 16)." in message, message
    assert "The file has 39 layers with weights, the model 63; only in the file: none; only " \
           "in the model: conv3_block5_1_conv (layers/conv2d_19)," in message, message


def _write_legacy_h5(path, layers):
    """A weights file in the legacy Keras 2 layout, as keras.applications publishes its
    ImageNet weights: root attribute ``layer_names``, one group per layer with the attribute
    ``weight_names`` and a dataset per weight."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode() for name, _ in layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name, weights in layers:
            group = f.create_group(name)
            group.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w, _ in weights]
            for w, value in weights:
                group[f"{name}/{w}:0"] = value


def _legacy_layers(model):
    return [(layer.name, [(v.name, to_numpy(v)) for v in layer.weights])
            for layer in model.layers if layer.weights]


def test_legacy_h5_loads_and_a_misfit_names_the_layer(tmp_path):
    source = zoo.build("lenet5", classes=10)
    good = tmp_path / "lenet10.h5"
    _write_legacy_h5(good, _legacy_layers(source))
    same_weights(zoo.build("lenet5", classes=10, weights=str(good)), source)

    target = zoo.build("lenet5", classes=3)
    before = [to_numpy(w).copy() for w in target.weights]
    with pytest.raises(W.WeightsError) as info:
        W.load_weights_file(target, good, "lenet5")
    message = str(info.value)
    assert "Layer 'predictions' kernel: the file has (84, 10), the model (84, 3)." in message
    # checked before anything is assigned: Keras alone half-loads a legacy file, c1 to f6 here
    for value, w in zip(before, target.weights):
        np.testing.assert_array_equal(value, to_numpy(w))

    layers = _legacy_layers(source)
    extra = ("extra_dense", [("kernel", np.zeros((120, 120), "float32"))])
    _write_legacy_h5(tmp_path / "extra.h5", layers[:3] + [extra] + layers[3:])
    with pytest.raises(W.WeightsError) as info:
        zoo.build("lenet5", classes=10, weights=str(tmp_path / "extra.h5"))
    message = str(info.value)
    assert "Layer 'f6' (in the file: extra_dense): the file has 1 array (kernel (120, 120)), " \
           "the model needs 2 (kernel (120, 84), bias (84,))." in message, message
    assert "The file has 6 layers with weights, the model 5; only in the file: extra_dense; " \
           "only in the model: none." in message, message


def test_weights_file_mismatch_is_none_for_a_fitting_file(lenet10):
    model, folder = lenet10
    for name in ("lenet10.weights.h5", "lenet10.keras"):
        assert W.weights_file_mismatch(model, folder / name) is None
    assert W.weights_file_mismatch(zoo.build("lenet5"), W.BUNDLED_DIR / "lenet5_mnist.weights.h5") \
        is None
