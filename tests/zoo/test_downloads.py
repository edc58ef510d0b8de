"""What a download may leave in the cache: only a file that opens as weights, checksum or not.

A real HTTP server (``http.server`` in a thread on 127.0.0.1) answers as a bad network does:
an HTML page with status 200 (a captive portal, a proxy's error page), a transfer cut short
without ``Content-Length``, then the good file. The records have no checksum, as Keras'
MobileNet files have none.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading

import pytest

import zoo
from tests.zoo.conftest import cache_files, same_weights
from zoo import weights as W

HTML = (b"<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>"
        b"<body><form action='/login'>" + b" " * 1100 + b"</form></body></html>\n")


class _Server:
    """A local HTTP server whose answer the test sets: ``body``, and ``cut`` to send only the
    first bytes and hang up, without a ``Content-Length`` header (so the client cannot tell)."""

    def __init__(self):
        self.body, self.cut, self.requests = b"", None, 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                owner.requests += 1
                body = owner.body if owner.cut is None else owner.body[:owner.cut]
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if body.startswith(b"<!") else
                                 "application/octet-stream")
                if owner.cut is None:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def lenet(tmp_path):
    """A LeNet-5 and its weights as .weights.h5 bytes."""
    model = zoo.build("lenet5")
    path = tmp_path / "lenet5.weights.h5"
    model.save_weights(path)
    return model, path.read_bytes()


@pytest.fixture
def unchecked(server, spec_registry):
    """A record with a URL and no checksum, like ``mobilenet.imagenet``."""
    return spec_registry(tag="unchecked", url=server.url("lenet5_unchecked.weights.h5"),
                         builder_args={"classes": 10}, input_shape=(32, 32, 1))


def test_html_page_with_status_200_is_never_cached(server, unchecked, lenet):
    model, good = lenet
    server.body = HTML
    with pytest.raises(W.DownloadError) as info:
        zoo.load("lenet5", weights="unchecked")
    message = str(info.value)
    assert unchecked.url in message
    assert f"an HTML page of {len(HTML) / 1000:.1f} KB starting '<!DOCTYPE html> <html><head>" \
           "<title>Sign in" in message, message
    assert "not HDF5. Nothing was kept" in message and "captive portal" in message
    assert cache_files() == []
    # The next load, with the server fixed, just works: nothing to delete by hand.
    server.body = good
    same_weights(zoo.load("lenet5", weights="unchecked"), model)
    assert cache_files() == ["lenet5_unchecked.weights.h5"]


def test_transfer_cut_without_content_length_is_never_cached(server, unchecked, lenet):
    model, good = lenet
    server.body, server.cut = good, len(good) // 3
    with pytest.raises(W.DownloadError, match=r"is not a weight file: it is an HDF5 file of "
                                              r".* that does not open \(truncated or damaged"):
        zoo.load("lenet5", weights="unchecked")
    assert cache_files() == []
    server.cut = None
    same_weights(zoo.load("lenet5", weights="unchecked"), model)
    assert cache_files() == ["lenet5_unchecked.weights.h5"]


def test_hdf5_without_weight_arrays_is_never_cached(server, unchecked, tmp_path):
    import h5py

    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_group("layers")
    server.body = empty.read_bytes()
    with pytest.raises(W.DownloadError, match="HDF5 file of .* without weight arrays"):
        zoo.load("lenet5", weights="unchecked")
    assert cache_files() == []


def test_a_bad_file_already_in_the_cache_is_replaced_once(server, unchecked, lenet, caplog):
    # What an older zoo left behind: the HTML page, renamed into the cache.
    model, good = lenet
    cached = W.local_candidates(unchecked)[0]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(HTML)
    server.body = good
    with caplog.at_level(logging.WARNING, logger="zoo.weights"):
        same_weights(zoo.load("lenet5", weights="unchecked"), model)
    assert f"Deleting the cached {cached}" in caplog.text and "an HTML page" in caplog.text
    assert cached.read_bytes() == good and server.requests == 1
    same_weights(zoo.load("lenet5", weights="unchecked"), model)  # now from the cache
    assert server.requests == 1


def test_a_bad_cached_file_and_no_network_says_what_was_deleted(unchecked, spec_registry):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    spec = spec_registry(tag="offline", url=f"http://127.0.0.1:{closed_port}/x.weights.h5")
    cached = W.local_candidates(spec)[0]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(HTML)
    with pytest.raises(W.DownloadError, match=r"offline\?.*The cached copy .*x\.weights\.h5 was "
                                              r"deleted: it is an HTML page"):
        zoo.load("lenet5", weights="offline")
    assert not cached.exists()


def test_a_bad_file_in_keras_cache_is_left_alone(server, unchecked, lenet, caplog):
    model, good = lenet
    keras_copy = W.local_candidates(unchecked)[1]
    keras_copy.parent.mkdir(parents=True)
    keras_copy.write_bytes(HTML)
    server.body = good
    with caplog.at_level(logging.WARNING, logger="zoo.weights"):
        same_weights(zoo.load("lenet5", weights="unchecked"), model)
    assert f"Ignoring {keras_copy} in Keras' cache" in caplog.text
    assert keras_copy.read_bytes() == HTML                       # not ours to delete
    assert cache_files() == ["lenet5_unchecked.weights.h5"]      # ours, downloaded


def test_a_user_file_that_is_not_weights_says_what_it_is(tmp_path):
    page = tmp_path / "saved_from_browser.weights.h5"
    page.write_bytes(HTML)
    with pytest.raises(ValueError, match=r"not a readable weight file. Received: weights=.*"
                                         r"saved_from_browser.weights.h5' \(an HTML page of"):
        zoo.build("lenet5", weights=str(page))


@pytest.mark.parametrize("content,expected", [
    (b"", "an empty file"),
    (HTML, "an HTML page of 1.2 KB starting '<!DOCTYPE html>"),
    (b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>",
     "an XML document of 61 bytes starting \"<?xml version='1.0'?><Error><Code>AccessDenied"),
    (b'{"error": "not found"}', "a JSON document of 22 bytes"),
    (bytes(range(256)) * 4, "a file of 1.0 KB, not HDF5"),
])
def test_weight_file_problem_describes_what_arrived(tmp_path, content, expected):
    path = tmp_path / "x.weights.h5"
    path.write_bytes(content)
    assert expected in W.weight_file_problem(path)


def test_weight_file_problem_accepts_every_format(tmp_path, lenet):
    model, good = lenet
    (tmp_path / "a.weights.h5").write_bytes(good)
    model.save(tmp_path / "b.keras")
    assert W.weight_file_problem(tmp_path / "a.weights.h5") is None
    assert W.weight_file_problem(tmp_path / "b.keras") is None
    assert W.weight_file_problem(W.BUNDLED_DIR / "unet_membrane.weights.h5") is None
    not_keras = tmp_path / "c.keras"
    not_keras.write_bytes(good)   # HDF5 under a .keras name
    assert "not a .keras (zip) archive" in W.weight_file_problem(not_keras)
    import zipfile

    with zipfile.ZipFile(tmp_path / "d.keras", "w") as z:
        z.writestr("config.json", "{}")
    assert "without Keras' model.weights.h5" in W.weight_file_problem(tmp_path / "d.keras")


def test_mobilenet_records_are_unchecked_and_say_so():
    for tag in ("imagenet", "imagenet_a075", "imagenet_a050", "imagenet_a025"):
        spec = W.get_weight_spec("mobilenet", tag)
        assert spec.sha256 is None and spec.md5 is None
        assert "no trusted copy" in spec.notes and "opens as an HDF5 weight file" in spec.notes
