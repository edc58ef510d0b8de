"""Hostile uploads: files of ~200 KB that decode to 100-177 megapixels (issue 16, item 9).

Before, a 9999x9999 16-bit PNG became a full-size float64 array (and two more copies) before
it was downscaled: +1.8 GB for one request, 5 GB for two at once; a 13300x13300 PNG sent as
the sketchpad's value was decoded to RGBA by Gradio before the demo's 100-megapixel check.
Now every path reads the size from the header first, and a big image is downscaled in
integer mode, band by band, before anything becomes float.

The fast tests measure the functions in this process: NumPy's allocations with tracemalloc
(Pillow's are not traced, so its decoded 16-bit image is not counted there) and the resident
memory sampled every 5 ms. The slow one starts ``python -m demos`` and sends four of each at
once through the REST API, sampling the server's RSS.
"""

from __future__ import annotations

import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import numpy as np
import psutil
import pytest
from gradio.components.image_editor import EditorData, EditorDataBlobs
from gradio.data_classes import FileData

from demos import bench, classify, common
from tests.demos.conftest import EXAMPLES

MB = 2**20


def _measure(fn):
    """``fn()``'s result (or the exception it raised), the growth of this process's RSS
    while it ran and the peak of NumPy's allocations, in bytes."""
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak, done = [base], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            done.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    tracemalloc.start()
    try:
        try:
            result = fn()
        except Exception as err:  # noqa: BLE001 - returned for the test to look at
            result = err
        numpy_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        done.set()
        sampler.join()
    return result, max(peak[0], proc.memory_info().rss) - base, numpy_peak


def test_a_16_bit_9999_square_is_downscaled_before_anything_becomes_float(hostile_files):
    image, grown, numpy_peak = _measure(
        lambda: common.load_image(str(hostile_files["deep"]), "RGB"))
    assert isinstance(image, np.ndarray), image
    assert image.shape == (1024, 1024, 3) and image.dtype == np.uint8
    assert image[512, 512].tolist() == [255] * 3 and image[50, 50].tolist() == [0] * 3
    # Pillow's decoded 16-bit image (200 MB) is the only full-size copy
    assert numpy_peak < 64 * MB, f"NumPy peaked at {numpy_peak / MB:.0f} MB"
    assert grown < 600 * MB, f"RSS grew by {grown / MB:.0f} MB"


def _sketchpad() -> gr.Sketchpad:
    demo = classify.build()
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", "") == "classify-sketch")


def test_the_sketchpad_refuses_a_13300_square_before_decoding_it(hostile_files):
    pad = _sketchpad()
    wide = str(hostile_files["wide"])
    payload = EditorData(background=None, layers=[],
                         composite=FileData(path=wide, orig_name="wide.png"))
    error, grown, _ = _measure(lambda: pad.preprocess(payload))
    assert isinstance(error, gr.Error), f"accepted: {type(error).__name__}"
    assert "wide.png is 13300x13300 pixels" in error.message and "100 megapixels" in error.message
    assert grown < 100 * MB, f"RSS grew by {grown / MB:.0f} MB"


def test_the_sketchpad_checks_the_browsers_blobs_too(hostile_files):
    """The browser sends the canvas as blobs (``accept_blobs``), then an id: the same check,
    and the blobs are dropped after the request as Gradio does."""
    pad = _sketchpad()
    data = hostile_files["wide"].read_bytes()
    pad.blob_storage["canvas-1"] = EditorDataBlobs(background=None, layers=[data],
                                                   composite=data)
    error, grown, _ = _measure(lambda: pad.preprocess(EditorData(id="canvas-1")))
    assert isinstance(error, gr.Error) and "13300x13300 pixels" in error.message, error
    assert grown < 100 * MB and "canvas-1" not in pad.blob_storage
    digit = (EXAMPLES / "digits" / "digit_7.png").read_bytes()
    pad.blob_storage["canvas-2"] = EditorDataBlobs(background=None, layers=[digit],
                                                   composite=digit)
    assert list(classify.classify_digit(pad.preprocess(EditorData(id="canvas-2"))))[0] == "7"


@pytest.mark.slow
def test_the_server_stays_under_2_gb_with_4_hostile_requests_in_flight(hostile_files):
    """``python -m demos`` in its own process; four clients at once per (endpoint, file),
    plain HTTP on the REST API (what ``python -m demos.bench --client http`` uses)."""
    from gradio_client import handle_file

    port = bench._free_port()
    server = bench.start_server(port, timeout_s=300, module=("demos",))
    url = f"http://127.0.0.1:{port}/"

    def sketch(path):
        return {"background": None, "layers": [], "composite": handle_file(str(path))}

    try:
        warm = bench.HttpClient(url)       # load both models before measuring
        warm.predict(handle_file(str(EXAMPLES / "cifar10" / "cat.jpg")),
                     "resnet20_cifar.cifar10", api_name="/classify_image")
        warm.predict(sketch(EXAMPLES / "digits" / "digit_7.png"), api_name="/classify_digit")
        cases = [  # (endpoint, arguments, words of the error; None: an answer)
            ("/classify_image", [handle_file(str(hostile_files["deep"])),
                                 "resnet20_cifar.cifar10"], None),
            ("/classify_image", [handle_file(str(hostile_files["wide"])),
                                 "resnet20_cifar.cifar10"], "13300x13300 pixels"),
            ("/classify_digit", [sketch(hostile_files["wide"])], "13300x13300 pixels"),
            ("/classify_digit", [sketch(hostile_files["deep"])], None),
        ]
        with bench.RssSampler(server.pid, every_s=0.05) as rss:
            base = rss.now()
            for api_name, args, words in cases:
                def one(_, api_name=api_name, args=args):
                    try:
                        return bench.HttpClient(url).predict(*args, api_name=api_name)
                    except RuntimeError as err:
                        return err

                with ThreadPoolExecutor(4) as pool:
                    answers = list(pool.map(one, range(4)))
                for answer in answers:
                    if words is None:
                        assert not isinstance(answer, Exception), answer
                    else:
                        assert isinstance(answer, RuntimeError) and words in str(answer), answer
        peak = max(rss.peak, rss.now())
        print(f"server RSS: {base / MB:.0f} MB before, peak {peak / MB:.0f} MB")
        assert peak < 2048 * MB, f"peak RSS {peak / MB:.0f} MB (before: {base / MB:.0f} MB)"
        top = bench.HttpClient(url).predict(handle_file(str(EXAMPLES / "cifar10" / "cat.jpg")),
                                            "resnet20_cifar.cifar10",
                                            api_name="/classify_image")
        assert top[0]["label"] == "cat"                                  # still serving
    finally:
        bench.stop_server(server)
