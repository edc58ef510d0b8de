"""training.augment: each op's effect, label handling, mixup, seeds, errors, tf.data and --show."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from training import augment
from training.augment import (AUGMENTATIONS, augment_map, build_augmenter, colour_test_image,
                              mixup, mixup_map)

SIZE = 32


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture
def images():
    """Four different colourful float32 images (4, 32, 32, 3) in [0, 1]."""
    img = colour_test_image(SIZE)
    return np.stack([img, img[::-1], np.rot90(img).copy(), 0.25 + 0.5 * img]).astype("float32")


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_each_op_keeps_shape_dtype_and_range_and_acts(name, images):
    layer = build_augmenter([name], (SIZE, SIZE, 3), seed=0)
    out = to_numpy(layer(images))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, images), f"{name} left every image unchanged"
    single = to_numpy(layer(images[0]))
    assert single.shape == images[0].shape and single.dtype == np.float32
    # training=False (as in model.predict) passes images through
    np.testing.assert_allclose(to_numpy(layer(images, training=False)), images, atol=1e-6)


def test_registry_defaults_follow_the_course():
    assert augment.default_params("rotate")["factor"] * 360 == pytest.approx(10.0)
    assert augment.default_params("crop")["padding"] == 4
    assert augment.default_params("flip")["mode"] == "horizontal"
    chain = build_augmenter(["flip", "rotate", "crop"], (SIZE, SIZE), seed=0)
    assert chain.name == "augment" and [l.name for l in chain.layers] == ["flip", "rotate", "crop"]


def test_augment_map_leaves_labels_untouched(images):
    fn = augment_map(build_augmenter(["flip", "crop", "noise"], (SIZE, SIZE), seed=0))
    labels = np.array([3, 1, 4, 1])
    out_images, out_labels = fn(images, labels)
    assert out_labels is labels
    assert to_numpy(out_images).shape == images.shape
    assert not np.allclose(to_numpy(out_images), images)  # noise acts: training=True

    element = {"image": images, "label": labels, "id": np.arange(4)}
    out = fn(element)
    assert set(out) == {"image", "label", "id"}
    assert out["label"] is labels and out["id"] is element["id"]
    assert element["image"] is images  # the input dict is not modified
    assert not np.allclose(to_numpy(out["image"]), images)


def test_flip_mirrors_or_keeps_each_image():
    img = colour_test_image(SIZE)
    batch = np.stack([img] * 8)
    out = to_numpy(build_augmenter(["flip"], (SIZE, SIZE), seed=0)(batch))
    mirrored = [np.array_equal(o, np.flip(img, axis=1)) for o in out]
    kept = [np.array_equal(o, img) for o in out]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert any(mirrored) and any(kept)
    out = to_numpy(build_augmenter({"flip": {"mode": "vertical"}}, (SIZE, SIZE), seed=1)(batch))
    assert all(np.array_equal(o, np.flip(img, axis=0)) or np.array_equal(o, img) for o in out)
    assert any(np.array_equal(o, np.flip(img, axis=0)) for o in out)


def _find_shift(src, out, padding):
    """The (dy, dx) such that `out` is `src` shifted with zeros coming in, else None."""
    padded = np.pad(src, ((padding, padding), (padding, padding), (0, 0)))
    h, w = src.shape[:2]
    for dy in range(-padding, padding + 1):
        for dx in range(-padding, padding + 1):
            window = padded[padding - dy: padding - dy + h, padding - dx: padding - dx + w]
            if np.array_equal(window, out):
                return dy, dx
    return None


def test_crop_is_pad_then_random_crop_per_image():
    img = 0.1 + 0.8 * colour_test_image(SIZE)  # no zeros inside, so the padding is visible
    batch = np.stack([img] * 8)
    out = to_numpy(build_augmenter({"crop": {"padding": 4}}, (SIZE, SIZE), seed=0)(batch))
    assert out.shape == batch.shape
    shifts = [_find_shift(img, o, 4) for o in out]
    assert None not in shifts, shifts
    assert len(set(shifts)) > 1, "every image got the same crop"
    assert any(s != (0, 0) for s in shifts)


def test_cutout_fills_a_box():
    img = 0.1 + 0.8 * colour_test_image(SIZE)
    batch = np.stack([img] * 4)
    params = {"probability": 1.0, "scale": (0.25, 0.25), "fill_value": 0.0}
    out = to_numpy(build_augmenter({"cutout": params}, (SIZE, SIZE), seed=0)(batch))
    for o in out:
        changed = np.any(o != img, axis=-1)
        assert 0.15 < changed.mean() < 0.35  # each side sqrt(0.25) = half the image
        assert np.all(o[changed] == 0.0)
        rows, cols = np.where(changed)
        box = o[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
        assert np.all(box == 0.0)  # the erased pixels form one rectangle
    never = to_numpy(build_augmenter({"cutout": {"probability": 0.0}}, (SIZE, SIZE))(batch))
    np.testing.assert_array_equal(never, batch)


def test_noise_has_the_requested_stddev():
    grey = np.full((4, SIZE, SIZE, 3), 0.5, "float32")
    out = to_numpy(build_augmenter({"noise": {"stddev": 0.1}}, (SIZE, SIZE), seed=0)(grey))
    diff = out - grey
    assert diff.std() == pytest.approx(0.1, abs=0.005)
    assert abs(diff.mean()) < 0.005
    strong = to_numpy(build_augmenter({"noise": {"stddev": 0.5}}, (SIZE, SIZE), seed=0)(grey))
    assert strong.min() == 0.0 and strong.max() == 1.0  # clipped, not wrapped
    # the layer alone acts by default (keras.layers.GaussianNoise alone would not)
    alone = to_numpy(augment.noise((SIZE, SIZE), stddev=0.1, seed=0)(grey))
    assert (alone - grey).std() == pytest.approx(0.1, abs=0.005)
    np.testing.assert_array_equal(
        to_numpy(augment.noise((SIZE, SIZE), seed=0)(grey, training=False)), grey)


def test_brightness_and_contrast_stay_in_their_ranges():
    grey = np.full((8, SIZE, SIZE, 3), 0.5, "float32")
    out = to_numpy(build_augmenter({"brightness": {"factor": 0.2}}, (SIZE, SIZE), seed=0)(grey))
    shift = (out - grey).reshape(8, -1)
    np.testing.assert_allclose(shift, shift[:, :1].repeat(shift.shape[1], 1), atol=1e-6)
    assert np.all(np.abs(shift) <= 0.2 + 1e-6) and np.ptp(shift[:, 0]) > 0.01

    img = np.stack([colour_test_image(SIZE)] * 8)
    out = to_numpy(build_augmenter({"contrast": {"factor": 0.2}}, (SIZE, SIZE), seed=0)(img))
    centred_in = img - img.mean(axis=(1, 2), keepdims=True)
    centred_out = out - img.mean(axis=(1, 2), keepdims=True)
    ratio = (centred_out * centred_in).sum(axis=(1, 2, 3)) / (centred_in ** 2).sum(axis=(1, 2, 3))
    assert np.all((ratio > 0.75) & (ratio < 1.21)) and np.ptp(ratio) > 0.01


def test_colour_ops_keep_grey_images_grey():
    grey = np.repeat(np.linspace(0.1, 0.9, SIZE, dtype="float32")[None, :, None, None],
                     SIZE, 1).repeat(3, -1).repeat(4, 0)
    out = to_numpy(build_augmenter(["hue", "saturation"], (SIZE, SIZE, 3), seed=0)(grey))
    np.testing.assert_allclose(out, grey, atol=1e-5)


def test_mixup_makes_convex_combinations():
    a = np.full((SIZE, SIZE, 3), 0.2, "float32")
    b = colour_test_image(SIZE)
    images = np.stack([a, b])
    labels = np.eye(2, dtype="float32")
    mix = mixup(alpha=1.0, seed=0)
    weights = []
    for _ in range(4):  # a two-image batch keeps its order half the time: draw a few
        mixed_images, mixed_labels = mix(images, labels)
        mixed_images, mixed_labels = to_numpy(mixed_images), to_numpy(mixed_labels)
        np.testing.assert_allclose(mixed_labels.sum(axis=1), 1.0, atol=1e-6)
        assert np.all((mixed_labels >= 0) & (mixed_labels <= 1))
        for image, (wa, wb) in zip(mixed_images, mixed_labels):
            np.testing.assert_allclose(image, wa * a + wb * b, atol=1e-5)
        weights.append(mixed_labels)
    weights = np.concatenate(weights)
    assert np.any((weights > 0.05) & (weights < 0.95)), "nothing was mixed"


def test_mixup_map_one_hot_and_forms():
    images = np.stack([colour_test_image(SIZE)] * 4)
    labels = np.array([0, 1, 2, 9])
    fn = mixup_map(alpha=0.4, num_classes=10, seed=0)
    out_images, soft = fn(images, labels)
    soft = to_numpy(soft)
    assert to_numpy(out_images).shape == images.shape and soft.shape == (4, 10)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(soft[:, 3:9] == 0)  # only the batch's classes appear
    out = fn({"image": images, "label": labels[:, None], "id": np.arange(4)})
    assert set(out) == {"image", "label", "id"} and to_numpy(out["label"]).shape == (4, 10)


def test_same_seed_same_augmentations(images):
    ops = list(AUGMENTATIONS)
    first = to_numpy(build_augmenter(ops, (SIZE, SIZE, 3), seed=7)(images))
    again = to_numpy(build_augmenter(ops, (SIZE, SIZE, 3), seed=7)(images))
    other = to_numpy(build_augmenter(ops, (SIZE, SIZE, 3), seed=8)(images))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


@pytest.mark.parametrize("ops, size, message", [
    (["flip", "spin"], (SIZE, SIZE), "Unknown augmentation 'spin'. Known augmentations: flip, "
                                     "crop, zoom, rotate"),
    ({"rotate": {"angle": 10}}, (SIZE, SIZE), "no parameter `angle`"),
    ({"rotate": 0.05}, (SIZE, SIZE), "parameters of augmentation 'rotate' must be a dict"),
    ({"rotate": {"factor": 2.0}}, (SIZE, SIZE), r"`factor` must be a number in \(0.0, 0.5\]"),
    ({"crop": {"padding": 40}}, (SIZE, SIZE), "`padding` must be a positive integer"),
    ({"flip": {"mode": "diagonal"}}, (SIZE, SIZE), "`mode` must be one of"),
    ({"cutout": {"scale": (0.5, 0.1)}}, (SIZE, SIZE), "`scale` must be a pair"),
    (["hue"], (28, 28, 1), "needs RGB images"),
    (["flip"], (32,), "`image_size` must be"),
])
def test_errors_name_the_problem(ops, size, message):
    with pytest.raises(ValueError, match=message):
        build_augmenter(ops, size)


def test_mixup_errors():
    with pytest.raises(ValueError, match="`alpha` must be"):
        mixup(alpha=0.0)
    with pytest.raises(ValueError, match="`num_classes` must be"):
        mixup_map(0.2, num_classes=1)


def test_inside_a_model_active_in_training_only(images):
    augmenter = build_augmenter(["flip", "noise", "cutout"], (SIZE, SIZE, 3), seed=0)
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), augmenter])
    np.testing.assert_allclose(model.predict(images, verbose=0), images, atol=1e-6)
    assert not np.allclose(to_numpy(model(images, training=True)), images)


def test_tf_data_pipeline_with_autotune(images):
    tf = pytest.importorskip("tensorflow")
    labels = np.array([5, 6, 7, 8])
    augmenter = build_augmenter(["flip", "crop", "rotate", "hue", "noise", "cutout"],
                                (SIZE, SIZE, 3), seed=0)
    ds = (tf.data.Dataset.from_tensor_slices((images, labels)).batch(3)
          .map(augment_map(augmenter), num_parallel_calls=tf.data.AUTOTUNE))
    batches = list(ds.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(3, SIZE, SIZE, 3), (1, SIZE, SIZE, 3)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), labels)
    out = np.concatenate([b[0] for b in batches])
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert not np.allclose(out, images)

    # dicts, one image at a time, then batched mixup
    ds = (tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
          .map(augment_map(augmenter), num_parallel_calls=tf.data.AUTOTUNE)
          .batch(4).map(mixup_map(0.2, num_classes=10, seed=0),
                        num_parallel_calls=tf.data.AUTOTUNE))
    (element,) = list(ds.as_numpy_iterator())
    assert element["image"].shape == (4, SIZE, SIZE, 3) and element["label"].shape == (4, 10)
    np.testing.assert_allclose(element["label"].sum(axis=1), 1.0, atol=1e-6)
    assert np.all(element["label"][:, :5] == 0)


def test_grid_rows_and_show_writes_png(tmp_path):
    names, grid = augment.augmentation_grid(np.stack([colour_test_image(SIZE)] * 2),
                                            ["flip", "crop"], seed=0, samples=3)
    assert names == ["original", "flip", "crop", "all"] and grid.shape == (4, 6, SIZE, SIZE, 3)

    out = tmp_path / "grid.png"
    written = augment.main(["--show", "--out", str(out), "--samples", "2", "--size", "32"])
    assert written == out and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    picture = matplotlib.image.imread(out)
    assert picture.shape[0] > 200 and picture.shape[1] > 200 and picture.std() > 0.05
    with pytest.raises(ValueError, match="Unknown augmentation 'twirl'"):
        augment.main(["--show", "--out", str(tmp_path / "x.png"), "--ops", "flip,twirl"])


JAX_CHECK = """
import sys
import numpy as np, keras
from training import augment
assert keras.backend.backend() == "jax"
x = np.stack([augment.colour_test_image(32)] * 4)
y = keras.ops.convert_to_numpy(augment.build_augmenter(list(augment.AUGMENTATIONS), (32, 32, 3))(x))
assert y.shape == x.shape and y.dtype == np.float32 and 0 <= y.min() and y.max() <= 1
_, soft = augment.mixup(0.2, seed=0)(x, np.eye(4, dtype="float32"))
np.testing.assert_allclose(np.asarray(soft).sum(1), 1.0, atol=1e-6)
assert "tensorflow" not in sys.modules, "training.augment imported TensorFlow under JAX"
import tensorflow as tf  # tf.data with the JAX backend: noise switches to TF ops
ds = tf.data.Dataset.from_tensor_slices((x, np.arange(4))).batch(2)
ds = ds.map(augment.augment_map(augment.build_augmenter(["flip", "noise"], (32, 32))))
ds = ds.map(augment.mixup_map(0.2, num_classes=4))
out = np.concatenate([b[0] for b in ds.as_numpy_iterator()])
assert out.shape == x.shape and not np.allclose(out, x)
print("ok")
"""


@pytest.mark.slow
def test_runs_under_jax_without_tensorflow():
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", JAX_CHECK], env=env, cwd=root,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
