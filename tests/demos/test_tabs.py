"""Each tab's functions on the shipped examples and on every bad input of issue 6.

The handlers take file paths (what the app passes), so these tests call them directly; the
served app is checked in test_client.py and test_browser.py.
"""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import zoo
from PIL import Image

from demos import app, classify, common, depth, detect, inside, segment, verify
from tests.demos.conftest import EXAMPLES


def needs(key: str):
    """Skip, saying why, where a tag's weights are not shipped (yet)."""
    return pytest.mark.skipif(not common.available(key),
                              reason=f"the {key} weights are not in zoo/weights/")


def _pixel_accuracy(a: np.ndarray, b: np.ndarray) -> float:
    return float((a == b).mean())


# --- Classify ---------------------------------------------------------------------------------

@pytest.mark.parametrize("digit", [2, 3, 7, 9])
def test_lenet_reads_the_shipped_digits(digit):
    result = classify.classify_image(str(EXAMPLES / "digits" / f"digit_{digit}.png"),
                                     "lenet5.mnist")
    assert list(result)[0] == str(digit) and len(result) == 5
    assert abs(sum(result.values()) - 1) < 0.01                   # top 5 of 10 ~ all mass


@pytest.mark.parametrize("name", ["cat", "ship", "airplane", "frog"])
def test_resnet_names_the_shipped_cifar_photos(name):
    result = classify.classify_image(str(EXAMPLES / "cifar10" / f"{name}.jpg"))
    assert list(result)[0] == name
    assert list(result.values()) == sorted(result.values(), reverse=True)


def _pad(ink: np.ndarray | None) -> dict:
    """A Sketchpad value as Gradio passes it (RGBA numpy, ink opaque black)."""
    return {"background": None, "layers": [] if ink is None else [ink], "composite": ink}


def _stroke_one() -> np.ndarray:
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[40:240, 130:150] = (0, 0, 0, 255)
    return canvas


def test_sketch_of_a_one_reads_one():
    assert list(classify.classify_digit(_pad(_stroke_one())))[0] == "1"
    layers_only = {"background": None, "layers": [_stroke_one()], "composite": None}
    assert list(classify.classify_digit(layers_only))[0] == "1"


@pytest.mark.parametrize("sketch", [
    None, _pad(None), {"background": None, "layers": [], "composite": None},
    _pad(np.zeros((280, 280, 4), np.uint8)),                      # transparent = white pad
    _pad(np.full((280, 280, 4), 255, np.uint8)),                  # opaque white
], ids=["none", "no_layers", "no_composite", "transparent", "white"])
def test_empty_sketchpad_gets_a_plain_error(sketch):
    with pytest.raises(gr.Error, match="sketchpad is (empty|blank)"):
        classify.classify_digit(sketch)


def test_classify_refuses_unknown_model():
    with pytest.raises(gr.Error, match="Unknown model"):
        classify.classify_image(str(EXAMPLES / "cifar10" / "cat.jpg"), "resnet50.nope")


def test_imagenet_models_are_offered_only_when_cached():
    offered = [key for _, key in common.model_choices(classify.MODELS)]
    assert offered == ["lenet5.mnist", "resnet20_cifar.cifar10"]   # the test cache is empty


# --- Verify -----------------------------------------------------------------------------------

def FACE(name: str) -> str:  # noqa: N802 - a constant-like path helper
    return str(EXAMPLES / "faces" / f"{name}.png")


def DIGIT(d: int) -> str:  # noqa: N802
    return str(EXAMPLES / "digits" / f"digit_{d}.png")


@pytest.mark.parametrize("a, b, key, verdict", [
    (FACE("s35_1"), FACE("s35_2"), "facenet.att_faces", "Same person"),
    (FACE("s36_1"), FACE("s37_1"), "facenet.att_faces", "Different people"),
    (FACE("s39_2"), FACE("s39_3"), "facenet.att_faces", "Same person"),
    (FACE("s35_1"), FACE("s35_2"), "siamese_net.att_faces", "Same person"),   # the older model
    (FACE("s36_1"), FACE("s37_1"), "siamese_net.att_faces", "Different people"),
    (DIGIT(3), DIGIT(9), "lenetpp.mnist_center", "Different digits"),
    (DIGIT(7), DIGIT(7), "lenetpp.mnist_center", "Same digit"),
])
def test_verify_decides_like_zoo_metric_verify(a, b, key, verdict):
    said, details, picture = verify.verify(a, b, key)
    expected = zoo.embeddings.verify(common.get_model(key).model, a, b)
    assert said == verdict and expected.same == (verdict.startswith("Same"))
    assert f"{expected.distance:.3f}" in details and f"{expected.threshold:.3f}" in details
    assert picture.ndim == 3 and picture.dtype == np.uint8 and picture.std() > 20


def _colour_at(plot: verify.EmbeddingPlot, picture: np.ndarray, point) -> np.ndarray:
    """The picture's RGB where ``plot`` draws the plane point ``point``."""
    x, y = plot.ax.transData.transform(point)
    return picture[int(round(picture.shape[0] - y)), int(round(x))].astype(int)


def _rgb(name: str) -> np.ndarray:
    from matplotlib.colors import to_rgb

    return np.round(np.array(to_rgb(name)) * 255).astype(int)


@pytest.mark.parametrize("key", ["facenet.att_faces", "lenetpp.mnist_center"])
def test_embedding_plot_draws_each_pair_on_a_clean_gallery(key):
    """The gallery is drawn once; a second pair leaves no trace of the first one (the
    picture equals a fresh plot's) and its stars sit where the plane puts the points."""
    emb = verify._gallery(key)[0]
    plot = verify.EmbeddingPlot(key)
    first, second = emb[[0, 1]], emb[[2, 5]]
    assert plot.shows(first) and plot.shows(second)
    plot.draw(first, 1.0, 0.5, same=False)
    again = plot.draw(second, 0.2, 0.5, same=True)
    assert np.array_equal(again, verify.EmbeddingPlot(key).draw(second, 0.2, 0.5, same=True))
    for point in plot.project(second):
        assert np.abs(_colour_at(plot, again, point) - _rgb("tab:green")).max() <= 2


def test_a_pair_outside_the_gallery_gets_axes_that_take_it_in():
    key = "facenet.att_faces"
    shared = verify._plot(key)
    far = shared.mean + shared.axes @ np.array([10.0, -10.0])   # (10, -10) in the plane
    pair = np.stack([far, verify._gallery(key)[0][0]])
    assert not shared.shows(pair)
    own = verify.EmbeddingPlot(key, pair)
    assert own.shows(pair)
    picture = verify._picture(key, pair, 14.0, 0.7, same=False)
    assert np.abs(_colour_at(own, picture, [10.0, -10.0]) - _rgb("tab:red")).max() <= 2


# --- Segment ----------------------------------------------------------------------------------

@needs("unet.membrane")
def test_unet_finds_the_membranes_of_the_synthetic_example():
    path = str(EXAMPLES / "membrane" / "synthetic_em.png")
    (image, annotations), areas = segment.segment(path)
    assert image.shape == (256, 256, 3)
    assert [name for _, name in annotations] == ["membrane"]
    mask = annotations[0][0]
    assert mask.shape == (256, 256) and np.isin(mask, np.float32([0, segment.OPACITY])).all()
    truth = np.asarray(Image.open(EXAMPLES / "membrane" / "synthetic_em_label.png")) == 0
    assert _pixel_accuracy(mask > 0, truth) > 0.85                 # pixel accuracy
    assert set(areas) == {"membrane", "cell"} and abs(sum(areas.values()) - 1) < 1e-6
    assert 0.1 < areas["membrane"] < 0.4                         # the truth: 0.21


@needs("unet.membrane")
def test_unet_keeps_an_odd_size(tmp_path):
    path = tmp_path / "odd.png"
    Image.open(EXAMPLES / "membrane" / "synthetic_em.png").crop((0, 0, 101, 77)).save(path)
    rgb, mask, names = segment.predict_mask(str(path))
    assert rgb.shape == (77, 101, 3) and mask.shape == (77, 101)   # padded to 80x112 inside


# --- Detect -----------------------------------------------------------------------------------

BCCD = sorted((EXAMPLES / "bccd" / "JPEGImages").glob("*.jpg"))


def test_detect_draws_boxes_lists_them_and_shows_nms(detector):
    path = str(BCCD[0])
    shown, table, summary, nms = detect.detect(path, detector, 0.3, 0.5)
    original = np.asarray(Image.open(path).convert("RGB"))
    assert shown.shape == original.shape == (480, 640, 3) and shown.dtype == np.uint8
    assert list(table.columns) == ["class", "score", "x1", "y1", "x2", "y2"]
    assert 0 < len(table) <= detect.MAX_DETECTIONS
    assert not np.array_equal(shown, original)                    # the boxes are drawn
    assert set(table["class"]) <= {"RBC", "WBC", "Platelets"}
    assert (table["score"] >= 0.3).all() and table["score"].is_monotonic_decreasing
    assert (table["x1"] <= table["x2"]).all() and (table["y1"] <= table["y2"]).all()
    assert table[["x1", "x2"]].to_numpy().max() <= 640 and table[["y1", "y2"]].min().min() >= 0
    assert f"**{len(table)} detections** with score >= 0.30" in summary
    before = int(summary.split("NMS kept ")[1].split(" of ")[1].split()[0])
    assert before >= len(table)
    assert nms.shape[1] > 2 * detect.PANEL_SIDE and nms.shape[0] < detect.PANEL_SIDE
    assert nms.dtype == np.uint8 and nms.std() > 10


def _as_detections(table, names: list[str]) -> dict:
    """The tab's table as zoo.metrics.detection takes predictions."""
    return {"boxes": table[["x1", "y1", "x2", "y2"]].to_numpy(np.float32),
            "scores": table["score"].to_numpy(np.float32),
            "labels": np.array([names.index(name) for name in table["class"]], np.int64)}


def test_the_trained_detector_finds_the_annotated_cells(detector):
    """The shipped weights on the 4 example images against their BCCD boxes: VOC mAP@0.5 at the
    lowest score threshold (as evaluations run), and the white cells at the tab's defaults."""
    from training.data import read_voc
    from zoo.metrics.detection import voc_map

    names = list(common.get_model(detector).spec.class_names)
    truth = read_voc(EXAMPLES / "bccd", "test", names).examples
    low = [_as_detections(detect.detect(e["image"], detector, detect.SCORE[0])[1], names)
           for e in truth]
    default = [_as_detections(detect.detect(e["image"], detector)[1], names) for e in truth]
    assert voc_map(truth, low, num_classes=3)["mAP"] > 0.6
    assert voc_map(truth, default, class_ids=[names.index("WBC")])["mAP"] > 0.8


def test_the_tab_gives_predict_boxes_results(detector):
    """The tab's cached forward pass and decoding equal the library's one-call API."""
    from zoo.models.detection.retinanet import predict_boxes

    loaded = common.get_model(detector)
    picture = common.load_image(str(BCCD[1]))
    _, table, _, _ = detect.detect(str(BCCD[1]), detector, 0.4, 0.5)
    expected = predict_boxes(loaded.model, [picture], input_size=detect.input_size(loaded),
                             score_threshold=0.4, iou_threshold=0.5)[0]
    assert len(table) == len(expected["scores"])
    np.testing.assert_allclose(table[["x1", "y1", "x2", "y2"]].to_numpy(), expected["boxes"],
                               atol=0.1)                          # the table rounds to 0.1 px
    names = np.array(loaded.spec.class_names)
    assert list(table["class"]) == list(names[expected["labels"]])


def test_moving_a_slider_decodes_again_without_a_second_forward_pass(detector, forward_passes):
    calls = forward_passes
    path = str(BCCD[0])
    counts = {}
    for score, iou in [(0.3, 0.5), (0.6, 0.5), (0.9, 0.5), (0.3, 0.2), (0.3, 0.9)]:
        _, table, summary, _ = detect.redetect(path, detector, score, iou)
        counts[score, iou] = (len(table), int(summary.split(" of ")[1].split()[0]))
    assert calls == [1]                                           # one forward pass in all
    # a higher score threshold leaves fewer candidates and boxes; a lower IoU threshold
    # suppresses more, from the same candidates
    assert counts[0.3, 0.5][1] >= counts[0.6, 0.5][1] >= counts[0.9, 0.5][1]
    assert counts[0.3, 0.5][0] >= counts[0.6, 0.5][0] >= counts[0.9, 0.5][0]
    assert counts[0.3, 0.2][1] == counts[0.3, 0.5][1] == counts[0.3, 0.9][1]
    assert counts[0.3, 0.2][0] <= counts[0.3, 0.5][0] <= counts[0.3, 0.9][0]
    detect.detect(str(BCCD[1]), detector)                       # another image: a new pass
    detect.detect(path, detector, 0.5, 0.5)                       # the first one: still kept
    assert calls == [1, 1]


def test_the_output_cache_keeps_the_last_images():
    cache = detect.OutputCache(2)
    made = []

    def make(name):
        return lambda: made.append(name) or name

    for name in ["a", "b", "a", "c", "a", "b"]:
        assert cache.get((name,), make(name)) == name
    assert made == ["a", "b", "c", "b"] and len(cache) == 2       # "b" was the oldest


def test_a_slider_without_an_image_does_nothing(detector):
    skipped = detect.redetect(None, detector, 0.5, 0.5)
    assert len(skipped) == 4 and all(isinstance(s, type(gr.skip())) for s in skipped)


@pytest.mark.parametrize("score, iou", [
    (1.5, 0.5), (-0.1, 0.5), (float("nan"), 0.5), ("many", 0.5), (None, 0.5),
    (0.5, 0.0), (0.5, float("inf")), (0.5, float("nan")), (0.5, "z" * 1000)])
def test_nonsense_thresholds_are_refused_plainly(detector, score, iou):
    what = "score" if score != 0.5 else "IoU"
    with pytest.raises(gr.Error, match=f"The {what} threshold must be a number from") as info:
        detect.detect(str(BCCD[0]), detector, score, iou)
    assert len(info.value.message) < 200


@pytest.mark.parametrize("bad, words", [
    ("not_an_image", "not an image this demo can read"), ("truncated", "truncated or corrupt"),
    ("one_pixel", "too small"), (None, "No image yet")])
def test_detect_refuses_bad_input_plainly(bad_files, detector, bad, words):
    with pytest.raises(gr.Error, match=words):
        detect.detect(None if bad is None else str(bad_files[bad]), detector)


@pytest.mark.parametrize("odd", ["grey", "rgba", "sixteen_bit", "huge"])
def test_detect_answers_unusual_images(odd_files, detector, odd):
    shown, table, summary, _ = detect.detect(str(odd_files[odd]), detector, 0.3, 0.5)
    side = 8000 if odd == "huge" else 224                         # the upload's longer side
    assert max(shown.shape[:2]) == min(side, common.MAX_SIDE)
    assert f"pixels ({side}x" in summary
    if len(table):                                                # in the upload's pixels
        assert table[["x2", "y2"]].to_numpy().max() <= side


def test_detect_without_its_weights_says_so(monkeypatch):
    monkeypatch.setattr(detect, "MODELS", {"retinanet.not_here": "RetinaNet, nowhere"})
    with pytest.raises(gr.Error, match="retinanet.not_here are not on this machine"):
        detect.detect(str(BCCD[0]), "retinanet.not_here")
    with pytest.raises(gr.Error, match="No detection weights are on this machine"):
        detect.detect(str(BCCD[0]), "retinanet.bccd")
    tab = detect.build()
    assert any("No detection weights" in str(getattr(block, "value", ""))
               for block in tab.blocks.values())


# --- Depth ------------------------------------------------------------------------------------

@needs("eigen_depth.scenes")
@pytest.mark.parametrize("k", [1, 2, 3])
def test_depth_of_the_shipped_scenes_is_close_to_their_truth(k):
    crop, predicted = depth.predict_depth(str(EXAMPLES / "scenes" / f"scene_{k}.png"))
    assert crop.shape == (168, 224, 3) and predicted.shape == (19, 26)
    truth = np.asarray(Image.open(EXAMPLES / "scenes" / f"scene_{k}_depth.png"), np.float32)
    truth = np.asarray(Image.fromarray(truth / 1000.0, "F").resize((26, 19),
                                                                   Image.Resampling.BILINEAR))
    abs_rel = float(np.mean(np.abs(predicted - truth) / truth))
    assert abs_rel < 0.25                                         # mean-depth guess: ~0.45


@needs("eigen_depth.scenes")
def test_depth_picture_has_photo_map_and_colour_bar():
    picture, summary = depth.estimate_depth(str(EXAMPLES / "scenes" / "scene_2.png"))
    assert picture.shape[0] == depth.DISPLAY_HEIGHT and picture.shape[1] > 2 * 320
    assert " m** (nearest)" in summary and "m (blue, far)" in summary


# --- Look inside ------------------------------------------------------------------------------

def test_layer_menu_lists_feature_map_layers():
    assert inside.layer_names("lenet5.mnist") == ["c1", "c1_tanh", "s2", "c3", "c3_tanh", "s4",
                                                  "c5", "c5_tanh"]
    update = inside.update_layers("resnet20_cifar.cifar10")
    assert update["value"] == "conv1_conv" and "conv4_block3_out" in update["choices"]


def test_feature_maps_of_lenet_c1():
    grid, caption = inside.feature_maps(str(EXAMPLES / "digits" / "digit_7.png"),
                                        "lenet5.mnist", "c1")
    # 6 maps of 28x28 enlarged 3x to 84 px, in one row, 2 px apart
    assert grid.shape == (84 + 4, 6 * 84 + 7 * 2) and grid.dtype == np.uint8
    assert "output 28x28x6" in caption and grid.std() > 20


def test_feature_maps_refuse_a_layer_without_maps():
    with pytest.raises(gr.Error, match="no feature-map layer 'predictions'"):
        inside.feature_maps(str(EXAMPLES / "digits" / "digit_7.png"), "lenet5.mnist",
                            "predictions")


def test_tile_maps_scales_each_channel_to_its_range():
    maps = np.stack([np.array([[0.0, 1.0], [2.0, 3.0]]), np.full((2, 2), 5.0)], axis=-1)
    grid = inside.tile_maps(maps, tile=2, pad=1)
    assert grid.shape == (4, 7)
    np.testing.assert_array_equal(grid[1:3, 1:3], [[0, 85], [170, 255]])
    np.testing.assert_array_equal(grid[1:3, 4:6], 0)             # constant channel: black


def _naive_correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The definition, loop by loop, with reflected borders."""
    r = kernel.shape[0] // 2
    padded = np.pad(image, r, mode="reflect")
    out = np.zeros_like(image, dtype=np.float64)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = np.sum(kernel * padded[i:i + 2 * r + 1, j:j + 2 * r + 1])
    return out


def test_correlate2d_matches_the_definition_and_does_not_flip(rng):
    image = rng.uniform(0, 255, (7, 9)).astype(np.float32)
    kernel = np.arange(9, dtype=np.float32).reshape(3, 3)         # not symmetric
    np.testing.assert_allclose(inside.correlate2d(image, kernel),
                               _naive_correlate(image, kernel), rtol=1e-5)
    # a hand case: the kernel's single 1 at the right picks each pixel's right neighbour
    shift = np.zeros((3, 3), np.float32)
    shift[1, 2] = 1
    row = np.array([[1.0, 2.0, 3.0, 4.0]] * 3, np.float32)
    np.testing.assert_array_equal(inside.correlate2d(row, shift)[1], [2, 3, 4, 3])


def test_gaussian_kernel_sums_to_one_and_spans_three_sigma():
    g = inside.gaussian_kernel_1d(2.0)
    assert len(g) == 13 and abs(g.sum() - 1) < 1e-6 and g.argmax() == 6
    np.testing.assert_allclose(g[6] / g[8], np.exp(4 / 8), rtol=1e-5)


def test_convolve_kernels_on_a_step_edge(tmp_path):
    step = np.zeros((16, 16), np.uint8)
    step[:, 8:] = 200                                             # a vertical edge
    path = tmp_path / "step.png"
    Image.fromarray(step).save(path)
    blurred, _ = inside.convolve(str(path), "Gaussian blur", 1.0)
    assert blurred[0, 0] == 0 and blurred[0, -1] == 200 and 0 < blurred[5, 8] < 200
    gx, caption = inside.convolve(str(path), "Sobel x (vertical edges)")
    assert "signed" in caption and gx[:, 7:9].min() == 255 and gx[:, :6].max() == 128
    gy, _ = inside.convolve(str(path), "Sobel y (horizontal edges)")
    assert np.all(gy == gy[0, 0])                                 # no horizontal edge
    same, caption = inside.convolve(str(path), "Custom 3x3", custom="0 0 0, 0 1 0, 0 0 0")
    np.testing.assert_array_equal(same, step)
    assert "as is" in caption


@pytest.mark.parametrize("text, words", [
    ("1 2 3", "needs 9 numbers"), ("1 2 3 4 5 6 7 8 x", "Could not read 'x'"),
    ("", "Received 0"), ("1 2 3 4 5 6 7 8 inf", "finite"),
])
def test_custom_kernel_errors_are_plain(text, words):
    with pytest.raises(gr.Error, match=words):
        inside.convolve(str(EXAMPLES / "cifar10" / "cat.jpg"), "Custom 3x3", custom=text)


def test_parse_kernel_reads_rows_in_any_layout():
    expected = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32)
    for text in ("0 -1 0\n-1 5 -1\n0 -1 0", "[0, -1, 0; -1, 5, -1; 0, -1, 0]"):
        np.testing.assert_array_equal(inside.parse_kernel(text), expected)


def test_sigma_out_of_range_is_refused():
    with pytest.raises(gr.Error, match="Sigma must be between"):
        inside.convolve(str(EXAMPLES / "cifar10" / "cat.jpg"), "Gaussian blur", 0.0)


# --- every tab: the bad inputs of issue 6 -----------------------------------------------------

def _handlers():
    """(id, the tab's function of one image) for every tab with weights here."""
    cat = str(EXAMPLES / "cifar10" / "cat.jpg")
    out = [("classify_cifar", lambda f: classify.classify_image(f, "resnet20_cifar.cifar10")),
           ("classify_lenet", lambda f: classify.classify_image(f, "lenet5.mnist")),
           ("sketchpad", lambda f: classify.classify_digit(
               {"background": None, "layers": [], "composite": f})),
           ("verify_first", lambda f: verify.verify(f, FACE("s35_1"))),
           ("verify_second", lambda f: verify.verify(cat, f)),
           ("feature_maps", lambda f: inside.feature_maps(f, "resnet20_cifar.cifar10",
                                                          "conv1_relu")),
           ("convolve", lambda f: inside.convolve(f, "Sobel magnitude"))]
    if common.available("unet.membrane"):
        out.append(("segment", lambda f: segment.segment(f)))
    if common.available("eigen_depth.scenes"):
        out.append(("depth", lambda f: depth.estimate_depth(f)))
    return out


HANDLERS = _handlers()


@pytest.mark.parametrize("name, handler", HANDLERS, ids=[h[0] for h in HANDLERS])
@pytest.mark.parametrize("bad, words", [
    ("not_an_image", "not an image this demo can read"), ("truncated", "truncated or corrupt"),
    ("one_pixel", "too small"), (None, "No .*yet|sketchpad is empty")])
def test_every_tab_refuses_bad_input_plainly(bad_files, name, handler, bad, words):
    with pytest.raises(gr.Error, match=words):
        handler(None if bad is None else str(bad_files[bad]))


@pytest.mark.parametrize("name, handler", HANDLERS, ids=[h[0] for h in HANDLERS])
@pytest.mark.parametrize("odd", ["grey", "rgba", "sixteen_bit", "huge"])
def test_every_tab_answers_unusual_images(odd_files, name, handler, odd):
    """A correct result, not an error: grey, RGBA, 16-bit and 8000x8000 are all images."""
    result = handler(str(odd_files[odd]))
    assert result is not None


# --- the app ----------------------------------------------------------------------------------

def test_app_has_every_tab_and_endpoint():
    assert [module.__name__ for _, module in app.tab_modules()] == [
        "demos.classify", "demos.verify", "demos.segment", "demos.detect", "demos.depth",
        "demos.inside"]
    demo = app.build()
    names = {fn.api_name for fn in demo.fns.values() if fn.api_name}
    assert {"classify_digit", "classify_image", "verify", "segment", "detect", "depth",
            "feature_maps", "convolve"} <= names
    assert demo._queue.default_concurrency_limit == common.CONCURRENCY
