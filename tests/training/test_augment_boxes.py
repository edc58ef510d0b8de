"""training.augment_boxes: the boxes follow the pixels, per Keras layer and for the whole pipeline.

The main check draws white rectangles on black images, puts their boxes in the detection dict,
augments, and asks that the box of the white pixels (> 127) lies inside the augmented box
(within 2 px) and, except for rotations (whose boxes grow), overlaps it with IoU > 0.8.
Everything runs under the backend of ``KERAS_BACKEND``; run the file under both::

    KERAS_BACKEND=tensorflow python -m pytest tests/training/test_augment_boxes.py
    KERAS_BACKEND=jax python -m pytest tests/training/test_augment_boxes.py
"""

import colorsys

import keras
import numpy as np
import pytest

from training.augment_boxes import (
    DEFAULT_HSV,
    BoxPipeline,
    ClipBoxes,
    Letterbox,
    RandomCropWithBoxes,
    RandomHSV,
    RandomMosaic,
    apply_hsv_gains,
    box_augmenter,
    clip_boxes,
    hsv_jitter,
    mosaic,
)

H, W = 64, 96  # a wide input, so letterboxing pads and crops differ along the two axes
MAX_BOXES = 3


def to_numpy(x):
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    return keras.ops.convert_to_numpy(x)


def scene(batch=4, seed=0, label=1):
    """Black images, one white rectangle each (box in slot 0, label ``label``), 2 padding slots.

    Rectangles are 16-36 px wide and 14-26 px high, away from the borders, at different places
    in each image (so flips and crops move them by different amounts).
    """
    rng = np.random.default_rng(seed)
    images = np.zeros((batch, H, W, 3), "float32")
    boxes = np.zeros((batch, MAX_BOXES, 4), "float32")
    labels = np.full((batch, MAX_BOXES), -1, "int32")
    for i in range(batch):
        w, h = int(rng.integers(16, 37)), int(rng.integers(14, 27))
        x1, y1 = int(rng.integers(6, W - w - 6)), int(rng.integers(6, H - h - 6))
        images[i, y1 : y1 + h, x1 : x1 + w] = 255.0
        boxes[i, 0] = (x1, y1, x1 + w, y1 + h)
        labels[i, 0] = label
    return {"images": images, "bounding_boxes": {"boxes": boxes, "labels": labels}}


def white_box(image, threshold=127.0):
    """xyxy box (pixel edges) of the pixels brighter than ``threshold``, or None."""
    rows, cols = np.nonzero(np.asarray(image).max(axis=-1) > threshold)
    if rows.size == 0:
        return None
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], "float64")


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union


def check_boxes_follow_pixels(out, label=1, min_iou=0.8, tol=2.0, relative=False):
    """Every image's box covers its white pixels (and matches them with IoU > ``min_iou``).

    ``relative``: white = brighter than half the image's brightest pixel (for colour jitter,
    whose value gain can darken white to 153). Returns the boxes for further checks.
    """
    out = to_numpy(out)
    images, boxes = out["images"], out["bounding_boxes"]["boxes"]
    labels = out["bounding_boxes"]["labels"]
    if images.ndim == 3:
        images, boxes, labels = images[None], boxes[None], labels[None]
    for i, (image, box, lab) in enumerate(zip(images, boxes[:, 0], labels[:, 0])):
        threshold = image.max() / 2 if relative else 127.0
        pixels = white_box(image, threshold)
        if pixels is None:  # the rectangle left the image: its box must be gone too
            assert lab == -1, f"image {i}: no white pixels left but label {lab}, box {box}"
            continue
        assert lab == label, f"image {i}: white pixels {pixels} but label {lab}"
        inside = (pixels[:2] >= box[:2] - tol).all() and (pixels[2:] <= box[2:] + tol).all()
        assert inside, f"image {i}: white pixels {pixels} stick out of the box {box}"
        if min_iou is not None:
            assert iou(pixels, box) > min_iou, (
                f"image {i}: box {box} vs white pixels {pixels}: IoU {iou(pixels, box):.2f}"
            )
    np.testing.assert_array_equal(labels[:, 1:], -1)  # padding stays padding
    return boxes


KW = {"bounding_box_format": "xyxy"}
FILL = {"fill_mode": "constant", "fill_value": 0.0}

#: name -> (layer factory(seed), minimum IoU or None for coverage only, expected size)
LAYERS = {
    "flip_horizontal": (lambda s: keras.layers.RandomFlip("horizontal", seed=s, **KW), 0.8),
    "flip_vertical": (lambda s: keras.layers.RandomFlip("vertical", seed=s, **KW), 0.8),
    "translate": (lambda s: keras.layers.RandomTranslation(0.2, 0.2, seed=s, **FILL, **KW), 0.8),
    "zoom_in": (lambda s: keras.layers.RandomZoom((-0.3, -0.1), seed=s, **FILL, **KW), 0.8),
    "zoom_out": (lambda s: keras.layers.RandomZoom((0.1, 0.3), seed=s, **FILL, **KW), 0.8),
    "zoom_aspect": (
        lambda s: keras.layers.RandomZoom((-0.3, 0.3), (-0.3, 0.3), seed=s, **FILL, **KW),
        0.8,
    ),
    "rotation": (lambda s: keras.layers.RandomRotation(15 / 360, seed=s, **FILL, **KW), None),
    "letterbox_square": (lambda s: Letterbox(96, 96, fill_value=0.0), 0.8),
    "letterbox_shrink": (lambda s: Letterbox(64, 64, fill_value=0.0), 0.8),
    "letterbox_wide": (lambda s: Letterbox(40, 120, fill_value=0.0), 0.8),
    "crop": (lambda s: RandomCropWithBoxes(48, 64, seed=s), 0.8),
    "crop_full_height": (lambda s: RandomCropWithBoxes(64, 64, seed=s), 0.8),
}
STATIC = ("letterbox_square", "letterbox_shrink", "letterbox_wide")


@pytest.mark.parametrize("name", list(LAYERS))
def test_each_layer_moves_boxes_with_the_pixels(name):
    make, min_iou = LAYERS[name]
    moved = 0
    for seed in range(3):
        data = scene(seed=seed)
        before = data["bounding_boxes"]["boxes"][:, 0].copy()
        out = make(seed)(data)
        boxes = check_boxes_follow_pixels(out, min_iou=min_iou)
        if name not in STATIC and boxes.shape == (4, MAX_BOXES, 4):
            moved += int(np.sum(np.abs(boxes[:, 0] - before).max(axis=1) > 1.0))
    if name not in STATIC and not name.startswith("crop"):
        assert moved > 0, f"{name} moved no box in 3 seeds x 4 images"


def test_keras_random_crop_still_swaps_axes():
    """Keras 3.15's RandomCrop shifts x by the row offset and y by the column offset
    (keras-team/keras#23518). When this test fails, Keras' own is fixed: switch box_augmenter
    to ``keras.layers.RandomCrop`` and delete `RandomCropWithBoxes`."""
    boxes = {
        "boxes": np.array([[[3.0, 4.0, 5.0, 5.0]]], "float32"),
        "labels": np.array([[1]], "int32"),
    }
    correct = [2.0, 1.0, 4.0, 2.0]  # x - left, y - top, clipped to the 2x4 crop
    keras_crop = keras.layers.RandomCrop(2, 4, **KW)
    got = to_numpy(
        keras_crop.transform_bounding_boxes(
            {k: v.copy() for k, v in boxes.items()}, (3, 1), training=True
        )["boxes"]
    )[0, 0]
    if np.allclose(got, correct):
        pytest.fail(
            f"keras {keras.__version__}: keras.layers.RandomCrop now moves boxes "
            "correctly (keras-team/keras#23518 is fixed): switch box_augmenter to it and "
            "remove training.augment_boxes.RandomCropWithBoxes."
        )
    np.testing.assert_allclose(got, [0.0, 3.0, 2.0, 4.0])  # the swapped-axes result

    ours = RandomCropWithBoxes(2, 4)
    transformation = {"top": 3, "left": 1, "input_height": 6, "input_width": 8}
    got = to_numpy(
        ours.transform_bounding_boxes({k: v.copy() for k, v in boxes.items()}, transformation)[
            "boxes"
        ]
    )[0, 0]
    np.testing.assert_allclose(got, correct)


def test_keras_random_crop_fails_the_white_rectangle_check():
    """The same check as for every layer catches Keras' RandomCrop (so it can catch a bug)."""
    failures = 0
    for seed in range(3):
        out = keras.layers.RandomCrop(48, 64, seed=seed, **KW)(scene(seed=seed))
        try:
            check_boxes_follow_pixels(out)
        except AssertionError:
            failures += 1
    assert failures > 0


def soft_centre_y(image):
    """Intensity-weighted mean row (pixel centres at r + 0.5): sub-pixel position of a shape."""
    weights = np.asarray(image).max(axis=-1).sum(axis=1)
    return float((weights * (np.arange(len(weights)) + 0.5)).sum() / weights.sum())


def test_keras_resizing_pad_offsets_boxes():
    """Keras 3.15's Resizing(pad_to_aspect_ratio=True) pads the image by 16 input rows (10.67
    output rows for 64x96 -> 64x64) but shifts the boxes by floor(10.67) = 10. `Letterbox`
    places them where the pixels are. When the Keras check fails, Keras' own is exact: use it."""
    data = scene(batch=1)
    data["images"][:] = 0.0
    data["images"][0, 6:30, 20:60] = 255.0
    data["bounding_boxes"]["boxes"][0, 0] = (20, 6, 60, 30)

    def centre_error(layer):
        out = to_numpy(
            layer(
                {
                    "images": data["images"].copy(),
                    "bounding_boxes": {k: v.copy() for k, v in data["bounding_boxes"].items()},
                }
            )
        )
        box = out["bounding_boxes"]["boxes"][0, 0]
        return (box[1] + box[3]) / 2 - soft_centre_y(out["images"][0])

    assert abs(centre_error(Letterbox(64, 64, fill_value=0.0))) < 0.1
    keras_error = centre_error(keras.layers.Resizing(64, 64, pad_to_aspect_ratio=True, **KW))
    if abs(keras_error) < 0.1:
        pytest.fail(
            f"keras {keras.__version__}: Resizing(pad_to_aspect_ratio=True) now places "
            "boxes exactly: box_augmenter can use it instead of Letterbox."
        )
    assert keras_error == pytest.approx(-2 / 3, abs=0.1)


def test_random_crop_draws_every_window_position():
    layer = RandomCropWithBoxes(60, 90, seed=0)
    images = np.zeros((1, H, W, 3), "float32")
    draws = [layer.get_random_transformation(images) for _ in range(120)]
    tops = {int(to_numpy(d["top"])) for d in draws}
    lefts = {int(to_numpy(d["left"])) for d in draws}
    assert tops == set(range(H - 60 + 1)) and lefts == set(range(W - 90 + 1))


def test_random_crop_shape_errors_inference_and_config():
    data = scene()
    out = to_numpy(RandomCropWithBoxes(40, 50, seed=0)(data))
    assert out["images"].shape == (4, 40, 50, 3)
    assert (out["bounding_boxes"]["boxes"][..., 2] <= 50).all()
    assert (out["bounding_boxes"]["boxes"][..., 3] <= 40).all()
    with pytest.raises(ValueError, match="larger than the images"):
        RandomCropWithBoxes(80, 50)(scene())
    with pytest.raises(ValueError, match="height"):
        RandomCropWithBoxes(0, 50)
    data = scene()
    out = to_numpy(RandomCropWithBoxes(40, 50)(data, training=False))
    np.testing.assert_array_equal(out["images"], scene()["images"])
    np.testing.assert_array_equal(
        out["bounding_boxes"]["boxes"], scene()["bounding_boxes"]["boxes"]
    )
    layer = RandomCropWithBoxes(40, 50, seed=3)
    clone = RandomCropWithBoxes.from_config(layer.get_config())
    assert (clone.height, clone.width, clone.seed) == (40, 50, 3)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_whole_pipeline_keeps_boxes_on_the_rectangles(seed):
    # fill_value 0: the grey border could pass the white threshold after the value gain
    augmenter = box_augmenter((96, 96), translate=0.15, zoom=0.2, seed=seed, fill_value=0.0)
    check_boxes_follow_pixels(augmenter(scene(seed=seed)), relative=True)
    rotating = box_augmenter((80, 80), rotation=10, crop=(56, 88), seed=seed, fill_value=0.0)
    out = rotating(scene(seed=seed))
    assert tuple(out["images"].shape) == (4, 80, 80, 3)
    check_boxes_follow_pixels(out, min_iou=None, relative=True)


def test_pipeline_layers_defaults_and_inference():
    augmenter = box_augmenter((64, 64), seed=0)
    assert isinstance(augmenter, keras.layers.Pipeline)
    assert [layer.name for layer in augmenter.layers] == [
        "flip_horizontal",
        "translate",
        "zoom",
        "letterbox",
        "hsv",
        "clip_boxes",
    ]
    full = box_augmenter((64, 64), flip="horizontal_and_vertical", rotation=5, crop=True)
    assert [layer.name for layer in full.layers][:5] == [
        "crop",
        "flip_horizontal",
        "flip_vertical",
        "translate",
        "zoom",
    ]
    bare = box_augmenter((64, 64), flip=False, translate=0, zoom=0, hsv=None)
    assert [layer.name for layer in bare.layers] == ["letterbox", "clip_boxes"]
    # training=False: only the letterbox (96 wide -> 64, 2/3) and the clean-up act
    out = to_numpy(augmenter(scene(), training=False))
    # 16 rows of padding above (in input pixels), then everything scaled by 2/3
    expected = (scene()["bounding_boxes"]["boxes"][:, 0] + [0, 16, 0, 16]) * (2 / 3)
    np.testing.assert_allclose(out["bounding_boxes"]["boxes"][:, 0], expected, atol=1e-4)
    check_boxes_follow_pixels(out)
    # same seed, same augmentations
    a = to_numpy(box_augmenter((64, 64), seed=5)(scene()))
    b = to_numpy(box_augmenter((64, 64), seed=5)(scene()))
    np.testing.assert_allclose(a["bounding_boxes"]["boxes"], b["bounding_boxes"]["boxes"])


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"translate": 1.5}, "translate"),
        ({"zoom": -0.1}, "zoom"),
        ({"rotation": 200}, "rotation"),
        ({"flip": "diagonal"}, "flip"),
        ({"hsv": (0.1, 0.2)}, "hsv"),
        ({"hsv": (0.1, 2.0, 0.1)}, "saturation"),
        ({"crop": (0, 5)}, "crop"),
        ({"fill_value": 300}, "fill_value"),
    ],
)
def test_bad_parameters_are_named(kwargs, param):
    with pytest.raises(ValueError, match=param):
        box_augmenter((64, 64), **kwargs)


def test_single_example_in_and_out():
    data = scene(batch=1)
    single = {
        "images": data["images"][0],
        "bounding_boxes": {k: v[0] for k, v in data["bounding_boxes"].items()},
        "id": np.array([7]),
    }
    out = box_augmenter((96, 96), zoom=0.0, hsv=None, seed=0, fill_value=0.0)(single)
    assert tuple(out["images"].shape) == (96, 96, 3)
    assert tuple(out["bounding_boxes"]["boxes"].shape) == (MAX_BOXES, 4)
    assert tuple(out["bounding_boxes"]["labels"].shape) == (MAX_BOXES,)
    assert to_numpy(out["id"]).tolist() == [7]
    check_boxes_follow_pixels({"images": out["images"], "bounding_boxes": out["bounding_boxes"]})


@pytest.mark.parametrize("batched", [False, True], ids=["per_example", "per_batch"])
def test_tf_data_map(batched):
    """In a tf.data map (Keras' layers switch to TensorFlow there under JAX too)."""
    tf = pytest.importorskip("tensorflow")
    augmenter = box_augmenter((80, 80), rotation=5, crop=(56, 88), seed=0, fill_value=0.0)
    ds = tf.data.Dataset.from_tensor_slices(scene(batch=6))
    ds = ds.batch(3).map(augmenter) if batched else ds.map(augmenter).batch(3)
    gains = []
    for element in ds:
        assert element["images"].shape == (3, 80, 80, 3)
        assert element["bounding_boxes"]["labels"].dtype == tf.int32
        check_boxes_follow_pixels(
            {k: element[k] for k in ("images", "bounding_boxes")}, min_iou=None, relative=True
        )
        gains += list(element["images"].numpy().max(axis=(1, 2, 3)))
    assert len(set(np.round(gains, 2))) > 1  # the value gain differs between images


def test_padding_stays_padding_and_class_zero_is_kept():
    data = scene(label=0)  # class id 0 is a real class, -1 the padding
    data["bounding_boxes"]["boxes"][:, 2] = [1.0, 2.0, 3.0, 4.0]  # junk in a padding slot
    out = to_numpy(box_augmenter((96, 96), rotation=10, seed=1, fill_value=0.0)(data))
    labels, boxes = out["bounding_boxes"]["labels"], out["bounding_boxes"]["boxes"]
    assert labels.dtype == np.int32 and boxes.dtype == np.float32
    np.testing.assert_array_equal(labels[:, 1:], -1)
    np.testing.assert_array_equal(boxes[:, 1:], 0.0)
    check_boxes_follow_pixels(out, label=0, min_iou=None, relative=True)


def test_box_pushed_out_of_the_image_is_dropped():
    data = scene()
    data["bounding_boxes"]["boxes"][:, 1] = [60.0, 10.0, 90.0, 30.0]  # right part of the image
    data["bounding_boxes"]["labels"][:, 1] = 2
    shift = keras.layers.RandomTranslation(0.0, (0.5, 0.5), fill_value=0.0, seed=0, **KW)
    out = to_numpy(BoxPipeline([shift, ClipBoxes()])(data))  # +48 px: x 108..138 > 96
    np.testing.assert_array_equal(out["bounding_boxes"]["labels"][:, 1], -1)
    np.testing.assert_array_equal(out["bounding_boxes"]["boxes"][:, 1], 0.0)


def test_clip_boxes_clips_and_drops_slivers():
    bounding_boxes = {
        "boxes": np.array(
            [
                [-5.0, 2.0, 20.0, 50.0],  # clipped, kept
                [30.0, 30.0, 30.5, 40.0],  # 0.5 px wide: dropped
                [-9.0, -9.0, -1.0, -1.0],  # outside: dropped
                [1.0, 1.0, 5.0, 5.0],
            ],
            "float32",
        ),  # padding
        "labels": np.array([3, 4, 5, -1], "int32"),
    }
    out = to_numpy(clip_boxes(bounding_boxes, height=40, width=32))
    np.testing.assert_allclose(
        out["boxes"], [[0, 2, 20, 40], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(out["labels"], [3, -1, -1, -1])
    kept = to_numpy(clip_boxes(bounding_boxes, height=40, width=32, min_size=0.0))
    np.testing.assert_array_equal(kept["labels"], [3, 4, -1, -1])  # zero area still dropped


# === HSV jitter ===


def colourful(batch=4, size=16):
    rng = np.random.default_rng(1)
    return (rng.uniform(0, 255, (batch, size, size, 3))).astype("float32")


def test_hsv_jitter_keeps_shape_and_range_and_changes_colour():
    images = colourful()
    out = to_numpy(hsv_jitter(images, *DEFAULT_HSV, seed=0))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert np.abs(out - images).mean() > 5.0
    single = to_numpy(hsv_jitter(images[0], *DEFAULT_HSV, seed=0))
    assert single.shape == images[0].shape
    # an integer seed repeats its draw; no gains, no change
    np.testing.assert_allclose(to_numpy(hsv_jitter(images, *DEFAULT_HSV, seed=0)), out)
    np.testing.assert_allclose(to_numpy(hsv_jitter(images, 0.0, 0.0, 0.0)), images, atol=0.05)
    # grey stays grey: only the value gain acts on it
    grey = np.full_like(images, 100.0)
    out = to_numpy(hsv_jitter(grey, 0.5, 0.9, 0.4, seed=3))
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-3)
    np.testing.assert_allclose(out[..., 1], out[..., 2], atol=1e-3)


def test_hsv_gains_follow_yolov5():
    pixels = np.array(
        [[[[200.0, 40.0, 90.0], [30.0, 160.0, 250.0], [10.0, 10.0, 240.0]]]], "float32"
    )  # (1, 1, 3, 3)
    gains = np.array([0.9, 1.3, 0.8], "float32")
    out = to_numpy(apply_hsv_gains(pixels, gains.reshape(1, 1, 1, 3)))
    for got, rgb in zip(out[0, 0], pixels[0, 0]):
        h, s, v = colorsys.rgb_to_hsv(*(rgb / 255.0))
        want = colorsys.hsv_to_rgb(
            (h * gains[0]) % 1.0, min(s * gains[1], 1.0), min(v * gains[2], 1.0)
        )
        np.testing.assert_allclose(got, np.array(want) * 255.0, atol=0.1)


def test_random_hsv_layer_per_image_gains_and_boxes_untouched():
    image = colourful(batch=1)[0]
    data = {
        "images": np.stack([image] * 4),
        "bounding_boxes": {
            "boxes": np.ones((4, 2, 4), "float32"),
            "labels": np.zeros((4, 2), "int32"),
        },
    }
    layer = RandomHSV(*DEFAULT_HSV, seed=0)
    out = to_numpy(layer(data))
    np.testing.assert_array_equal(out["bounding_boxes"]["boxes"], 1.0)
    np.testing.assert_array_equal(out["bounding_boxes"]["labels"], 0)
    changes = [np.abs(out["images"][i] - image).mean() for i in range(4)]
    assert len(set(np.round(changes, 3))) == 4  # each image its own gains
    again = to_numpy(layer(data)["images"])
    assert not np.allclose(again, out["images"])  # a new draw each call
    np.testing.assert_array_equal(to_numpy(layer(data, training=False)["images"]), data["images"])
    with pytest.raises(ValueError, match="value"):
        RandomHSV(0.1, 0.1, 1.5)


# === Mosaic ===


def check_mosaic(out):
    """Whole-pixel shifts: every kept box is exactly white inside, every white pixel is boxed."""
    out = to_numpy(out)
    images, boxes = out["images"], out["bounding_boxes"]["boxes"]
    labels = out["bounding_boxes"]["labels"]
    assert boxes.shape[1] == 4 * MAX_BOXES and labels.dtype == np.int32
    for i, image in enumerate(images):
        white = image.max(axis=-1) > 127
        covered = np.zeros_like(white)
        for box, label in zip(boxes[i], labels[i]):
            if label < 0:
                np.testing.assert_array_equal(box, 0.0)
                continue
            x1, y1, x2, y2 = np.round(box).astype(int)
            np.testing.assert_allclose(box, [x1, y1, x2, y2], atol=1e-4)
            assert white[y1:y2, x1:x2].all(), f"image {i}: box {box} is not all white"
            covered[y1:y2, x1:x2] = True
        assert not (white & ~covered).any(), f"image {i}: white pixels outside every box"
    return labels


def test_mosaic_tiles_four_images_and_moves_their_boxes():
    data = scene()
    kept = []
    for seed in range(3):
        labels = check_mosaic(mosaic(scene(seed=seed), seed=seed))
        kept.append((labels >= 0).sum(axis=1))
    kept = np.concatenate(kept)
    assert kept.max() >= 2  # objects of several images in one mosaic
    layer = RandomMosaic(seed=0)
    first, second = to_numpy(layer(data)), to_numpy(layer(data))
    assert first["images"].shape == (4, H, W, 3)
    assert not np.allclose(first["images"], second["images"])  # a new window each call
    np.testing.assert_array_equal(to_numpy(layer(data, training=False)["images"]), data["images"])
    with pytest.raises(ValueError, match="batch"):
        mosaic({"images": data["images"][0], "bounding_boxes": data["bounding_boxes"]})


def test_mosaic_in_tf_data():
    tf = pytest.importorskip("tensorflow")
    ds = tf.data.Dataset.from_tensor_slices(scene(batch=8)).batch(4).map(RandomMosaic(seed=0))
    for element in ds:
        check_mosaic({k: element[k] for k in ("images", "bounding_boxes")})
