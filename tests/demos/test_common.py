"""demos.common: reading uploads, MNIST centring, the model cache and compiled inference."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from gradio.data_classes import ImageData
from PIL import Image

from demos import common
from tests.demos.conftest import EXAMPLES

# --- load_image: refusals, each with a plain message -----------------------------------------

BAD = [  # (bad_files key, words the message must contain)
    ("not_an_image", "not an image this demo can read"),
    ("truncated", "truncated or corrupt"),
    ("one_pixel", "1x1 pixels: too small"),
]


@pytest.mark.parametrize("key, words", BAD)
def test_load_image_refuses_bad_files_plainly(bad_files, key, words):
    with pytest.raises(gr.Error, match=words) as info:
        common.load_image(str(bad_files[key]))
    assert "Traceback" not in info.value.message and "PIL" not in info.value.message


@pytest.mark.parametrize("value, words", [
    (None, "No image yet"), ("", "No image yet"), ({"path": None}, "No image yet"),
    (np.full((10, 10), np.nan), "NaN"), (np.zeros((4, 4, 2)), r"\(H, W, 3\)"),
    (12, "must be an image file"), ("/no/such/file.png", "no longer on the server"),
])
def test_load_image_refuses_other_values(value, words):
    with pytest.raises(gr.Error, match=words):
        common.load_image(value)


def test_load_image_refuses_more_pixels_than_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "MAX_PIXELS", 99)
    path = tmp_path / "ten_by_ten.png"
    Image.new("L", (10, 10)).save(path)
    with pytest.raises(gr.Error, match="10x10 pixels, more than this demo decodes"):
        common.load_image(str(path))


# --- load_image: conversions -----------------------------------------------------------------

def test_load_image_converts_grey_rgba_and_16_bit(odd_files):
    photo = np.asarray(Image.open(EXAMPLES / "scenes" / "scene_1.png"))
    grey = common.load_image(str(odd_files["grey"]), "RGB")
    assert grey.shape == photo.shape and grey.dtype == np.uint8
    assert np.array_equal(grey[..., 0], grey[..., 2])             # grey stays grey
    rgba = common.load_image(str(odd_files["rgba"]), "RGB")
    assert rgba[:20, :20].min() == 255                            # transparent -> white
    assert np.array_equal(rgba[20:, 20:], photo[20:, 20:])        # opaque -> unchanged
    depth_mm = np.asarray(Image.open(odd_files["sixteen_bit"]), np.float64)
    eight = common.load_image(str(odd_files["sixteen_bit"]), "L")
    # stretched by its own peak: the farthest pixel is white, the rest in proportion
    assert eight.max() == 255
    np.testing.assert_allclose(eight, np.round(depth_mm / depth_mm.max() * 255), atol=1)


def test_load_image_downscales_an_8000_pixel_square(odd_files):
    image = common.load_image(str(odd_files["huge"]), "RGB")
    assert image.shape == (common.MAX_SIDE, common.MAX_SIDE, 3)
    assert image.std() > 10                                       # a picture, not a blank
    small = common.load_image(str(odd_files["huge"]), "L", max_side=100)
    assert small.shape == (100, 100)


@pytest.mark.parametrize("array, expected", [
    (np.array([[0.0, 0.5], [1.0, 0.25]]), [[0, 128], [255, 64]]),        # floats in [0, 1]
    (np.array([[0, 1000], [500, 250]], np.uint16), [[0, 255], [128, 64]]),  # by its peak
    (np.array([[True, False], [False, True]]), [[255, 0], [0, 255]]),
    (np.array([[-5.0, 10.0], [5.0, 2.5]]), [[0, 255], [128, 64]]),       # negatives -> 0
])
def test_arrays_are_scaled_to_8_bits(monkeypatch, array, expected):
    monkeypatch.setattr(common, "MIN_SIDE", 1)
    np.testing.assert_array_equal(common.load_image(array, "L"), expected)


def test_center_crop_keeps_the_middle():
    image = np.arange(6 * 12).reshape(6, 12)
    crop = common.center_crop(image, 1.0)
    assert crop.shape == (6, 6) and crop[0, 0] == 3
    assert common.center_crop(image.T, 1.0).shape == (6, 6)


# --- ImageInput: Gradio's preprocessing of an unreadable upload ------------------------------

def test_image_input_reports_a_non_image_upload_plainly(bad_files):
    component = common.ImageInput()
    assert component.get_block_name() == "image"                 # drawn as gr.Image
    payload = ImageData(path=str(bad_files["not_an_image"]), orig_name="notes.png")
    with pytest.raises(gr.Error, match="notes.png is not an image this demo can read"):
        component.preprocess(payload)
    good = ImageData(path=str(EXAMPLES / "cifar10" / "cat.jpg"), orig_name="cat.jpg")
    assert component.preprocess(good).endswith("cat.jpg")       # the path, untouched


# --- MNIST centring ---------------------------------------------------------------------------

def test_mnist_digit_pads_an_mnist_digit_unchanged():
    digit = np.asarray(Image.open(EXAMPLES / "digits" / "digit_7.png"))
    x = common.mnist_digit(digit)
    assert x.shape == (32, 32)
    np.testing.assert_allclose(x[2:-2, 2:-2], digit / 255.0, atol=1e-6)
    assert not x[:2].any() and not x[:, -2:].any()


def test_mnist_digit_centres_dark_ink_on_paper():
    paper = np.full((200, 300), 230, np.uint8)
    paper[20:120, 30:50] = 20                                     # a "1" near the top left
    x = common.mnist_digit(paper)[2:-2, 2:-2]                     # the 28x28 part
    ys, xs = np.nonzero(x > 0.5)
    assert ys.max() - ys.min() + 1 == 20                          # the long side fits 20 px
    mass = x.sum()
    cy = (x.sum(axis=1) @ np.arange(28)) / mass
    cx = (x.sum(axis=0) @ np.arange(28)) / mass
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1            # centre of mass centred


@pytest.mark.parametrize("blank", [np.zeros((50, 50)), np.full((50, 50), 255),
                                   np.full((50, 50), 128)])
def test_mnist_digit_refuses_a_blank_picture(blank):
    with pytest.raises(gr.Error, match="blank"):
        common.mnist_digit(blank.astype(np.uint8))


# --- top-k ------------------------------------------------------------------------------------

def test_top_k_keeps_probabilities_and_softmaxes_logits():
    names = ["a", "b", "c"]
    assert common.top_k(np.array([0.2, 0.5, 0.3]), names, 2) == {"b": 0.5, "c": 0.3}
    logits = np.array([0.0, np.log(3.0), -50.0])                 # softmax: 0.25, 0.75, ~0
    result = common.top_k(logits, names, 3)
    assert list(result) == ["b", "a", "c"]
    np.testing.assert_allclose(list(result.values()), [0.75, 0.25, 0.0], atol=1e-12)


# --- weights on this machine, model cache, compiled inference ---------------------------------

def test_available_never_downloads(tmp_path, monkeypatch):
    assert common.available("lenet5.mnist")                       # bundled
    assert not common.available("resnet50.imagenet")              # empty test cache
    assert not common.available("lenet5.no_such_tag")
    assert not common.available("no_such_model.mnist")
    spec = common.weight_spec("resnet50.imagenet")
    fname = spec.url.rsplit("/", 1)[-1]
    keras_home = tmp_path / "keras"
    (keras_home / "models").mkdir(parents=True)
    (keras_home / "models" / fname).write_bytes(b"x")             # in Keras' cache
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    assert common.available("resnet50.imagenet")


def test_get_model_loads_once_and_compiled_predict_matches_predict():
    first = common.get_model("lenet5.mnist")
    assert common.get_model("lenet5.mnist") is first
    assert first.spec.key == "lenet5.mnist" and first.class_names[3] == "3"
    digit = np.asarray(Image.open(EXAMPLES / "digits" / "digit_3.png"))
    x = common.model_input(first, digit)
    assert x.shape == (1, 32, 32, 1) and x.dtype == np.float32
    np.testing.assert_allclose(first.predict(x), first.model.predict(x, verbose=0), atol=1e-5)
    sub, predict = common.get_submodel("lenet5.mnist", "c1")
    assert common.get_submodel("lenet5.mnist", "c1")[0] is sub
    assert predict(x).shape == (1, 28, 28, 6)


def test_unknown_or_missing_weights_give_a_plain_error():
    with pytest.raises(gr.Error, match="not on this machine"):
        common.get_model("resnet50.imagenet")


# --- output images: written atomically into Gradio's cache -----------------------------------

def test_gradio_writes_output_images_with_the_atomic_writer(tmp_path):
    from gradio import processing_utils

    assert processing_utils.save_pil_to_cache is common.atomic_save_pil_to_cache
    picture = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    data = gr.Image(format="png").postprocess(picture)
    assert np.array_equal(np.asarray(Image.open(data.path)), picture)
    # the same bytes again: the same file, reused; no staging file left behind
    again = common.atomic_save_pil_to_cache(Image.fromarray(picture), str(tmp_path), format="png")
    assert common.atomic_save_pil_to_cache(Image.fromarray(picture), str(tmp_path),
                                           format="png") == again
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["image.png"]


def _short_reads(save, cache_dir, rounds: int = 60) -> int:
    """Four threads delete and save one picture ``rounds`` times each while a reader keeps
    reading the file: how often the reader got fewer bytes than the complete file (what the
    browser or gradio_client got as "Too little data for declared Content-Length"). Gradio's
    own writer gives thousands of short reads here."""
    import threading
    from pathlib import Path

    rng = np.random.default_rng(1)
    picture = Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))
    path = Path(save(picture, cache_dir, format="png"))
    size = path.stat().st_size
    done, short = threading.Event(), []

    def writer():
        for _ in range(rounds):
            path.unlink(missing_ok=True)    # so that every round writes the file anew
            save(picture, cache_dir, format="png")

    def reader():
        while not done.is_set():
            try:
                if len(path.read_bytes()) != size:
                    short.append(1)
            except FileNotFoundError:     # between an unlink and the next write: no file,
                pass                      # which Gradio answers with 404, not a short file

    threads = [threading.Thread(target=writer) for _ in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    return len(short)


def test_concurrent_saves_of_one_picture_never_expose_a_partial_file(tmp_path):
    assert _short_reads(common.atomic_save_pil_to_cache, str(tmp_path)) == 0


@pytest.mark.skipif(common.keras.backend.backend() != "tensorflow", reason="TensorFlow only")
def test_many_models_tracing_at_once_do_not_warn_about_retracing(caplog):
    import keras

    for units in range(1, 9):                # 8 models, each traced once on its first call
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
        common.compiled_predict(model)(np.zeros((1, 4)))
    assert "retracing" not in caplog.text


def test_check_model_names_the_models_offered_here():
    models = {"lenet5.mnist": "LeNet-5", "nope.none": "a tag without a record"}
    common.check_model("lenet5.mnist", models, "digit")                  # known: no error
    assert common.model_choices(models) == [("LeNet-5", "lenet5.mnist")]
    with pytest.raises(gr.Error,
                       match=r"Unknown model 'vgg16.x'\. Choose one of: lenet5.mnist\."):
        common.check_model("vgg16.x", models, "digit")
    with pytest.raises(gr.Error, match="No digit weights are on this machine"):
        common.check_model("vgg16.x", {"nope.none": "a tag without a record"}, "digit")
