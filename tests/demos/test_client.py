"""Every endpoint of the served app through `gradio_client`, bad uploads included.

The app is the whole tabbed one, launched on a free port with the same queue and launch
settings as ``python -m demos`` (the ``app_url`` fixture in conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from demos import common
from tests.demos.conftest import EXAMPLES


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def ex(relative: str):
    return handle_file(str(EXAMPLES / relative))


def _not_blank(path: str) -> np.ndarray:
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.std() > 10, f"{path} is blank"
    return image


def test_classify_endpoints(client):
    top = client.predict(ex("cifar10/ship.jpg"), "resnet20_cifar.cifar10",
                         api_name="/classify_image")
    assert top["label"] == "ship" and len(top["confidences"]) == 5
    digit = client.predict(ex("digits/digit_9.png"), "lenet5.mnist", api_name="/classify_image")
    assert digit["label"] == "9"
    sketch = {"background": None, "layers": [], "composite": ex("digits/digit_2.png")}
    assert client.predict(sketch, api_name="/classify_digit")["label"] == "2"


def test_verify_endpoint(client):
    verdict, details, picture = client.predict(
        ex("faces/s35_1.png"), ex("faces/s35_2.png"), "facenet.att_faces",
        api_name="/verify")
    assert verdict["label"] == "Same person" and "L2 distance" in details
    _not_blank(picture)


@pytest.mark.skipif(not common.available("unet.membrane"), reason="no unet.membrane weights")
def test_segment_endpoint(client):
    annotated, areas = client.predict(ex("membrane/synthetic_em.png"), "unet.membrane",
                                      api_name="/segment")
    _not_blank(annotated["image"])
    assert [a["label"] for a in annotated["annotations"]] == ["membrane"]
    mask = np.asarray(Image.open(annotated["annotations"][0]["image"]))
    assert mask.shape == (256, 256, 4) and 0 < (mask[..., 3] > 0).mean() < 0.5
    assert areas["label"] == "cell"


def test_detect_endpoint(client, detector):
    picture, table, summary, nms = client.predict(
        ex("bccd/JPEGImages/BloodImage_00057.jpg"), detector, 0.3, 0.5, api_name="/detect")
    assert _not_blank(picture).shape == (480, 640, 3) and _not_blank(nms).shape[1] > 640
    assert table["headers"] == ["class", "score", "x1", "y1", "x2", "y2"]
    count = len(table["data"])
    assert f"**{count} detections**" in summary if count else "No detections" in summary


@pytest.mark.skipif(not common.available("eigen_depth.scenes"),
                    reason="no eigen_depth.scenes weights")
def test_depth_endpoint(client):
    picture, summary = client.predict(ex("scenes/scene_3.png"), "eigen_depth.scenes",
                                      api_name="/depth")
    assert _not_blank(picture).shape[0] == 240 and "nearest" in summary


def test_look_inside_endpoints(client):
    menu = client.predict("resnet20_cifar.cifar10", api_name="/layers")   # a gr.update
    assert menu["value"] == "conv1_conv" and ["conv4_block3_out"] * 2 in menu["choices"]
    grid, caption = client.predict(ex("cifar10/frog.jpg"), "resnet20_cifar.cifar10",
                                   "conv2_block1_out", api_name="/feature_maps")
    _not_blank(grid)
    assert "32x32x16" in caption
    filtered, caption = client.predict(ex("scenes/scene_1.png"), "Gaussian blur", 3.0,
                                       "", api_name="/convolve")
    assert _not_blank(filtered).shape[:2] == (168, 224) and "sigma 3" in caption


@pytest.mark.parametrize("bad, words", [
    ("not_an_image", "is not an image this demo can read"),
    ("truncated", "is truncated or corrupt"),
    ("one_pixel", "too small"),
])
def test_bad_uploads_get_plain_errors_and_the_server_keeps_serving(client, bad_files, bad,
                                                                   words):
    with pytest.raises(Exception, match=words):
        client.predict(handle_file(str(bad_files[bad])), "resnet20_cifar.cifar10",
                       api_name="/classify_image")
    with pytest.raises(Exception, match=words):
        client.predict(handle_file(str(bad_files[bad])), "Sobel magnitude", 2.0, "",
                       api_name="/convolve")
    top = client.predict(ex("cifar10/cat.jpg"), "resnet20_cifar.cifar10",
                         api_name="/classify_image")
    assert top["label"] == "cat"                                  # still serving


def test_empty_sketchpad_and_bad_kernel_errors(client):
    with pytest.raises(Exception, match="sketchpad is empty"):
        client.predict({"background": None, "layers": [], "composite": None},
                       api_name="/classify_digit")
    with pytest.raises(Exception, match="needs 9 numbers"):
        client.predict(ex("cifar10/cat.jpg"), "Custom 3x3", 2.0, "1 2 3",
                       api_name="/convolve")


def test_an_8000_pixel_upload_is_downscaled_not_refused(client, odd_files):
    grid, caption = client.predict(handle_file(str(odd_files["huge"])), "Sobel magnitude", 2.0,
                                   "", api_name="/convolve")
    assert _not_blank(grid).shape[:2] == (512, 512)


@pytest.mark.parametrize("api_name, args, picture", [
    ("/segment", lambda: [ex("membrane/synthetic_em.png"), "unet.membrane"],
     lambda answer: answer[0]["annotations"][0]["image"]),          # AnnotatedImage's mask
    ("/convolve", lambda: [ex("scenes/scene_1.png"), "Gaussian blur", 2.0, ""],
     lambda answer: answer[0]),                                     # gr.Image
])
def test_parallel_clients_asking_for_the_same_picture_all_get_it(app_url, api_name, args,
                                                                  picture):
    """Eight clients at once, the same example, so that every answer is the same output file:
    once 3-4 % of such requests failed with "Too little data for declared Content-Length"
    (Gradio rewrote the shared cache file while another response was sending it)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(_):
        own = Client(app_url, verbose=False)
        return [own.predict(*args(), api_name=api_name) for _ in range(3)]

    with ThreadPoolExecutor(8) as pool:
        answers = [a for batch in pool.map(run, range(8)) for a in batch]
    assert len(answers) == 24
    pictures = [np.asarray(Image.open(picture(answer))) for answer in answers]
    assert all(np.array_equal(p, pictures[0]) for p in pictures)


def test_the_bench_http_client_gets_results_files_and_errors(app_url, bad_files):
    """demos.bench's plain-HTTP client (Gradio's REST API): a label, a downloaded output
    image, and an error event turned into an exception with Gradio's message."""
    from demos.bench import HttpClient

    http = HttpClient(app_url)
    top = http.predict(ex("cifar10/ship.jpg"), "resnet20_cifar.cifar10",
                       api_name="/classify_image")
    assert top[0]["label"] == "ship"
    grid, caption = http.predict(ex("scenes/scene_1.png"), "Sobel magnitude", 2.0, "",
                                 api_name="/convolve")
    assert grid["bytes"] > 1000 and "Sobel" in caption
    with pytest.raises(RuntimeError, match="not an image this demo can read"):
        http.predict(handle_file(str(bad_files["not_an_image"])), "resnet20_cifar.cifar10",
                     api_name="/classify_image")
