"""Plain messages for what went wrong (issue 16, item 10).

- an image over the pixel limit is "too large", with its size and the limit, also when Pillow
  itself refuses to open it (400 megapixels: before, "not an image");
- the sketchpad's API errors are the image inputs' plain messages, not Gradio's or Pillow's;
- kernel values beyond float32 are refused, not turned into a black picture "white inf";
- a user's value quoted in a message is cut to `demos.common.ECHO_LIMIT` characters (before,
  a 1 MB value came back whole).
"""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from gradio.data_classes import ImageData
from gradio_client import Client, handle_file

from demos import classify, common, inside, verify
from tests.demos.conftest import EXAMPLES

CAT = str(EXAMPLES / "cifar10" / "cat.jpg")
FACE = str(EXAMPLES / "faces" / "s35_1.png")
MEGA = 1_000_000


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def _sketch(path) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


# --- too large: the size and the limit ----------------------------------------------------------

def test_a_400_megapixel_png_is_too_large_not_unreadable(hostile_files):
    vast = str(hostile_files["vast"])
    with pytest.raises(gr.Error) as info:
        common.load_image(vast)
    message = info.value.message
    assert "vast.png is 20000x20000 pixels" in message and "100 megapixels" in message
    assert "not an image" not in message
    with pytest.raises(gr.Error, match="vast.png is 20000x20000 pixels, more than this demo"):
        common.ImageInput().preprocess(ImageData(path=vast, orig_name="vast.png"))


def test_the_served_app_says_too_large_with_the_size(client, hostile_files):
    for name, size in (("vast", "20000x20000"), ("wide", "13300x13300")):
        with pytest.raises(Exception, match=f"{name}.png is {size} pixels, more than"):
            client.predict(handle_file(str(hostile_files[name])), "Sobel magnitude", 2.0, "",
                           api_name="/convolve")
        with pytest.raises(Exception, match=f"{name}.png is {size} pixels, more than"):
            client.predict(_sketch(hostile_files[name]), api_name="/classify_digit")


# --- the sketchpad through the API: the image inputs' messages ----------------------------------

@pytest.mark.parametrize("bad, words", [
    ("not_an_image", "notes.png is not an image this demo can read. Upload a PNG"),
    ("truncated", "truncated.png is truncated or corrupt"),
    ("one_pixel", "one_pixel.png is 1x1 pixels: too small"),
])
def test_the_sketchpad_api_gives_the_image_inputs_plain_messages(client, bad_files, bad, words):
    with pytest.raises(Exception, match=words) as info:
        client.predict(_sketch(bad_files[bad]), api_name="/classify_digit")
    assert "PIL" not in str(info.value) and "cannot identify" not in str(info.value)
    with pytest.raises(Exception, match=words):                    # a layer without composite
        client.predict({"background": None, "layers": [handle_file(str(bad_files[bad]))],
                        "composite": None}, api_name="/classify_digit")


# --- kernel values beyond float32 ---------------------------------------------------------------

@pytest.mark.parametrize("text", ["1e39 0 0 0 1 0 0 0 0", "0 0 0 0 -3.5e38 0 0 0 0"])
def test_kernel_values_beyond_float32_are_refused(text):
    with pytest.raises(gr.Error, match="finite float32 numbers") as info:
        inside.convolve(CAT, "Custom 3x3", custom=text)
    assert "3.403e+38" in info.value.message                      # the limit


def test_a_kernel_whose_output_overflows_float32_is_refused_not_drawn_black():
    """Each value fits float32, their weighted sum over a bright image does not."""
    with pytest.raises(gr.Error, match="beyond float32"):
        inside.convolve(CAT, "Custom 3x3", custom="3e38 3e38 3e38 0 0 0 0 0 0")
    picture, caption = inside.convolve(CAT, "Custom 3x3", custom="1e30 0 0 0 0 0 0 0 0")
    assert "inf" not in caption and picture.std() > 10             # large but finite: drawn


# --- slider values through the API: NaN, text, beyond the ends ---------------------------------

BLOOD = EXAMPLES / "bccd" / "JPEGImages" / "BloodImage_00011.jpg"


def _call(app_url: str, api_name: str, data: list) -> str:
    """One call of the served app as any HTTP client may send it (NaN and Infinity included,
    which gradio_client and httpx refuse to encode): the file uploaded, then the call's event
    stream as text."""
    import json

    import httpx

    api = app_url.rstrip("/") + "/gradio_api"
    with httpx.Client(timeout=120) as http:
        with BLOOD.open("rb") as handle:
            uploaded = http.post(f"{api}/upload", files=[("files", (BLOOD.name, handle))])
        image = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}
        body = json.dumps({"data": [image, *data]})                # allow_nan: NaN, Infinity
        event = http.post(f"{api}/call/{api_name}", content=body,
                          headers={"content-type": "application/json"}).json()
        return http.get(f"{api}/call/{api_name}/{event['event_id']}").text


@pytest.mark.parametrize("score, iou, words", [
    (1.5, 0.5, "The score threshold must be a number from 0.05 to 0.95. Received 1.5."),
    (float("nan"), 0.5, "The score threshold must be a number from 0.05 to 0.95. Received nan."),
    ("half", 0.5, "The score threshold must be a number from 0.05 to 0.95. Received 'half'."),
    (0.5, -1, "The IoU threshold must be a number from 0.1 to 0.9. Received -1."),
    (0.5, float("inf"), "The IoU threshold must be a number from 0.1 to 0.9. Received inf."),
    (0.5, None, "The IoU threshold must be a number from 0.1 to 0.9. Received None."),
], ids=["score_above", "score_nan", "score_text", "iou_below", "iou_inf", "iou_null"])
def test_the_served_app_refuses_nonsense_thresholds_plainly(app_url, detector, score, iou,
                                                            words):
    """Gradio's own slider check lets NaN through and fails on text with Python's "'<' not
    supported between instances of 'str' and 'float'"; `common.plain_number` says what is
    wrong."""
    stream = _call(app_url, "detect", [detector, score, iou])
    assert "event: error" in stream and words in stream, stream[:300]


def test_check_number_refuses_what_a_slider_cannot_hold():
    assert common.check_number(0.3, "x", 0, 1) == 0.3 and common.check_number("1", "x", 0, 1) == 1
    for bad in (float("nan"), "1e999", [0.5], {}, None, 2, -0.01, "z" * MEGA):
        with pytest.raises(gr.Error, match="x must be a number from 0 to 1") as info:
            common.check_number(bad, "x", 0, 1)
        assert len(info.value.message) < 200


# --- a user's value quoted back is cut ----------------------------------------------------------

def test_echo_cuts_long_values():
    assert common.echo("abc") == "'abc'"
    long = common.echo("x" * MEGA)
    assert long == "'" + "x" * common.ECHO_LIMIT + "'... (1,000,000 characters)"
    assert common.echo(["y" * 200]).endswith("... (204 characters)")


@pytest.mark.parametrize("call", [
    lambda big: inside.convolve(CAT, "Custom 3x3", custom=big),              # a bad number
    lambda big: inside.convolve(CAT, big),                                   # unknown kernel
    lambda big: inside.feature_maps(CAT, "resnet20_cifar.cifar10", big),     # unknown layer
    lambda big: inside.feature_maps(CAT, big),                               # unknown model
    lambda big: classify.classify_image(CAT, big),
    lambda big: verify.verify(FACE, FACE, big),
], ids=["kernel_number", "kernel_name", "layer", "inside_model", "classify_model",
        "verify_model"])
def test_a_megabyte_value_is_not_echoed_back_whole(call):
    with pytest.raises(gr.Error) as info:
        call("z" * MEGA)
    message = info.value.message
    assert "z" * (common.ECHO_LIMIT + 1) not in message and "(1,000,000 characters)" in message
    assert len(message) < 2000, message[:300]


def test_a_long_file_name_is_cut_in_messages(tmp_path):
    path = tmp_path / ("n" * 240 + ".png")
    path.write_text("not pixels")
    with pytest.raises(gr.Error, match="is not an image this demo can read") as info:
        common.load_image(str(path))
    assert "n" * (common.ECHO_LIMIT + 1) not in info.value.message
    assert "(244 characters)" in info.value.message


@pytest.mark.parametrize("api_name, args", [
    ("/classify_image", lambda big: [handle_file(CAT), big]),              # model dropdown
    ("/convolve", lambda big: [handle_file(CAT), big, 2.0, ""]),           # kernel radio
    ("/convolve", lambda big: [handle_file(CAT), "Custom 3x3", 2.0, big]),  # kernel text
    ("/feature_maps", lambda big: [handle_file(CAT), "resnet20_cifar.cifar10", big]),
    ("/verify", lambda big: [handle_file(FACE), handle_file(FACE), big]),
    ("/layers", lambda big: [big]),
], ids=["classify_model", "kernel_name", "kernel_text", "layer", "verify_model", "layers"])
def test_the_served_app_cuts_a_megabyte_value_too(client, api_name, args):
    """Gradio's own refusal of a value not among a menu's choices quoted it whole."""
    with pytest.raises(Exception) as info:
        client.predict(*args("z" * MEGA), api_name=api_name)
    message = str(info.value)
    assert "z" * (common.ECHO_LIMIT + 1) not in message and "(1,000,000 characters)" in message
    assert len(message) < 2000, message[:300]


def test_a_megabyte_file_path_is_not_echoed_back_whole(app_url):
    """Gradio's own upload handling fails on it ("File name too long: '<the 1 MB>'") before
    any component sees it; `common.short_error_payload` cuts what the client is sent."""
    import httpx

    api = app_url.rstrip("/") + "/gradio_api/call/classify_image"
    path = {"path": "z" * MEGA, "meta": {"_type": "gradio.FileData"}}
    with httpx.Client(timeout=60) as http:
        event = http.post(api, json={"data": [path, "resnet20_cifar.cifar10"]}).json()
        stream = http.get(f"{api}/{event['event_id']}").text
    assert "event: error" in stream and len(stream) < 2000, stream[:300]
    assert "z" * (common.ECHO_LIMIT + 1) not in stream and "(1,000,0" in stream


def test_echoing_costs_nothing_for_ordinary_messages():
    with pytest.raises(gr.Error, match=r"Unknown model 'vgg16\.x'\. Choose one of"):
        common.check_model("vgg16.x", {"lenet5.mnist": "LeNet-5"}, "digit")
    with pytest.raises(gr.Error, match=r"Could not read 'x' as a number"):
        inside.parse_kernel("1 2 3 4 5 6 7 8 x")
    assert np.isfinite(inside.parse_kernel("3e38 0 0 0 0 0 0 0 -3e38")).all()
