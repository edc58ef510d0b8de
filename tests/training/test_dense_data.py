"""Dense-prediction data: mask and depth readers, tfds sources, joint augmentation, scenes.

Readers run on the tiny synthetic fixtures in tests/fixtures/{membrane,rgbd}; tfds sources on
`tfds.testing.mock_data` only (an unmocked tfds.load offline hangs for minutes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.augment_dense import (JointAugment, _cubic_weights, augment_numpy,
                                    elastic_displacement)
from training.data import CorruptImageError, read_pgm
from training.data.dense import (MEMBRANE_CLASSES, dense_dataset, membrane, nyu_depth,
                                 oxford_pets, read_depth_pgm, read_mask_pairs, rgbd_frames)
from training.data.scenes import Scene, generate_scenes, main, render

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MEMBRANE = FIXTURES / "membrane"
RGBD = FIXTURES / "rgbd"


@pytest.fixture
def membrane_copy(tmp_path):
    root = tmp_path / "membrane"
    shutil.copytree(MEMBRANE, root)
    return root / "train"


# --- masks ---------------------------------------------------------------------------------

def test_membrane_reads_pairs_in_natural_order():
    images, masks = membrane(MEMBRANE, "train")
    assert images.shape == (3, 32, 32, 1) and images.dtype == np.float32
    assert masks.shape == (3, 32, 32) and masks.dtype == np.int32
    assert MEMBRANE_CLASSES == ("membrane", "cell") and set(np.unique(masks)) == {0, 1}
    # stems 1, 2, 10 in natural order (not 1, 10, 2): the third pair is 10.png
    label10 = np.asarray(Image.open(MEMBRANE / "train/label/10.png"))
    np.testing.assert_array_equal(masks[2], label10 // 255)
    # membranes (class 0) are the dark pixels of the synthetic images
    assert images[masks == 0].mean() < 0.35 < 0.55 < images[masks == 1].mean()
    test_images, no_masks = membrane(MEMBRANE, "test")
    assert test_images.shape == (2, 32, 32, 1) and no_masks is None
    with pytest.raises(ValueError, match="'train' or 'test'"):
        membrane(MEMBRANE, "val")


def test_mask_values_none_keeps_stored_values_and_palette_indices(tmp_path):
    (tmp_path / "image").mkdir()
    (tmp_path / "label").mkdir()
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(tmp_path / "image" / "a.png")
    palette = Image.fromarray(np.array([[0, 1, 2, 3, 4, 5]] * 4, np.uint8), mode="P")
    palette.putpalette([255, 0, 0] * 256)  # every index red: indices, not colours, count
    palette.save(tmp_path / "label" / "a.png")
    _, masks = read_mask_pairs(tmp_path)
    np.testing.assert_array_equal(masks[0, 0], [0, 1, 2, 3, 4, 5])


def test_mask_value_not_a_class_lists_bad_and_expected(membrane_copy):
    label = np.asarray(Image.open(membrane_copy / "label/2.png")).copy()
    label[0, :3] = [128, 7, 128]  # as left by a bilinear resize
    Image.fromarray(label).save(membrane_copy / "label/2.png")
    with pytest.raises(ValueError, match=r"label/2.png holds value\(s\) \[7, 128\].*"
                                         r"expected only \[0, 255\].*nearest"):
        read_mask_pairs(membrane_copy, mask_values={0: 0, 255: 1})


def test_size_mismatch_names_both_files_and_sizes(membrane_copy):
    Image.fromarray(np.zeros((16, 32), np.uint8)).save(membrane_copy / "label/10.png")
    with pytest.raises(ValueError, match=r"image/10.png is 32x32.*label/10.png is 32x16"):
        read_mask_pairs(membrane_copy)


def test_image_without_mask_and_rgb_mask(membrane_copy):
    (membrane_copy / "label/2.png").unlink()
    with pytest.raises(ValueError, match=r"1 image\(s\) in .*image without a mask.*'2.png'"):
        read_mask_pairs(membrane_copy)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(membrane_copy / "label/2.png")
    with pytest.raises(ValueError, match=r"label/2.png has colour mode 'RGB'"):
        read_mask_pairs(membrane_copy)


@pytest.mark.parametrize("folder", ["image", "label"])
def test_corrupt_png_is_named(membrane_copy, folder):
    shutil.copy(FIXTURES / "corrupt" / "truncated.png", membrane_copy / folder / "2.png")
    with pytest.raises(CorruptImageError, match=f"{folder}/2.png"):
        read_mask_pairs(membrane_copy, mask_values={0: 0, 255: 1})


# --- depth ---------------------------------------------------------------------------------

def test_depth_pgm_in_metres_with_missing_zeros():
    depth = read_depth_pgm(RGBD / "depth/1.pgm")
    raw = read_pgm(RGBD / "depth/1.pgm")
    assert depth.shape == (24, 32) and depth.dtype == np.float32 and raw.dtype == np.uint16
    np.testing.assert_allclose(depth, raw / 1000.0, rtol=1e-6)
    assert (depth[:3, :4] == 0).all() and (depth[3:] > 0.5).all()


def test_depth_pgm_rejects_8_bit(tmp_path):
    (tmp_path / "d.pgm").write_bytes(b"P5\n3 2\n255\n" + bytes([0, 10, 200, 5, 5, 5]))
    with pytest.raises(ValueError, match=r"d.pgm is an 8-bit PGM \(largest value 200\); "
                                         "expected a 16-bit millimetre depth map"):
        read_depth_pgm(tmp_path / "d.pgm")


def test_rgbd_frames_match_the_rendered_scenes(tmp_path):
    images, depth = rgbd_frames(RGBD)
    assert images.shape == (2, 24, 32, 3) and depth.shape == (2, 24, 32)
    assert images.dtype == depth.dtype == np.float32 and 0 <= images.min() < images.max() <= 1
    rendered_images, rendered_depth = generate_scenes(2, 24, 32, seed=7)  # how they were made
    valid = depth > 0
    assert valid.mean() > 0.95
    np.testing.assert_allclose(depth[valid], rendered_depth[valid], atol=5e-4)  # mm rounding
    np.testing.assert_allclose(images, rendered_images, atol=0.5 / 255 + 1e-6)
    shutil.copytree(RGBD, tmp_path / "rgbd")
    (tmp_path / "rgbd/depth/2.pgm").unlink()
    with pytest.raises(ValueError, match=r"colour frame\(s\) .* without a depth map.*'2.png'"):
        rgbd_frames(tmp_path / "rgbd")


# --- tfds (mocked) -------------------------------------------------------------------------

def _pets_mock(masks):
    """An ``as_dataset_fn`` yielding pets with the given trimaps (images of the same size)."""
    def as_dataset(self, *args, **kwargs):
        import tensorflow as tf

        def examples():
            for mask in masks:
                image = np.full(mask.shape + (3,), 200, np.uint8)
                yield {"image": image, "segmentation_mask": mask[..., None].astype(np.uint8)}

        signature = {"image": tf.TensorSpec((None, None, 3), tf.uint8),
                     "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8)}
        return tf.data.Dataset.from_generator(examples, output_signature=signature)

    return as_dataset


def test_oxford_pets_maps_trimap_to_0_1_2_and_resizes():
    import tensorflow_datasets as tfds

    trimap = np.full((20, 30), 2, np.uint8)  # background
    trimap[5:15, 10:20] = 1  # pet
    trimap[5, 10:20] = 3  # its border
    with tfds.testing.mock_data(as_dataset_fn=_pets_mock([trimap, np.full((8, 8), 3)])):
        examples = list(oxford_pets("train", image_size=(10, 15)))
    first, second = examples
    assert first["image"].shape == (10, 15, 3) and first["image"].dtype.name == "float32"
    np.testing.assert_allclose(first["image"].numpy(), 200 / 255, atol=1e-5)
    # nearest neighbour with half-pixel centres: output pixel i reads input pixel 2 i + 1
    np.testing.assert_array_equal(first["mask"].numpy(), trimap[1::2, 1::2].astype(np.int32) - 1)
    assert first["mask"].dtype.name == "int32"
    assert second["mask"].shape == (10, 15) and set(np.unique(second["mask"])) == {2}


def test_oxford_pets_rejects_a_value_outside_the_trimap():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(as_dataset_fn=_pets_mock([np.zeros((4, 4), np.uint8)])):
        with pytest.raises(tf.errors.InvalidArgumentError, match="must be 1, 2 or 3"):
            list(oxford_pets("train", image_size=(4, 4)))


def test_nyu_depth_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=2):
        examples = list(nyu_depth("train", image_size=(12, 16)))
    assert len(examples) == 2
    image, depth = examples[0]["image"].numpy(), examples[0]["depth"].numpy()
    assert image.shape == (12, 16, 3) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1 and depth.shape == (12, 16)
    assert depth.dtype == np.float32
    with pytest.raises(ValueError, match="`image_size` must be"):
        nyu_depth("train", image_size=(12,))


# --- joint augmentation --------------------------------------------------------------------

def _blocks(n=4, size=32, seed=0):
    """Masks of rectangles of classes 0-3 and images = their one-hot encoding (4 channels)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), np.int32)
    for mask in masks:
        for c in (1, 2, 3):
            r, col = rng.integers(0, size - 10, 2)
            mask[r:r + rng.integers(6, 12), col:col + rng.integers(6, 12)] = c
    return np.eye(4, dtype=np.float32)[masks], masks


def _check_consistent(image, mask, ignore_index=None, min_checked=0.6):
    """Mask = the image's class wherever all bilinear taps agreed; only valid ids anywhere."""
    allowed = {0, 1, 2, 3} | ({ignore_index} if ignore_index is not None else set())
    assert set(np.unique(mask)) <= allowed, np.unique(mask)
    pure = image.max(-1) > 1 - 1e-4
    assert pure.mean() >= min_checked  # the check below covers most pixels: it can fail
    np.testing.assert_array_equal(image.argmax(-1)[pure], mask[pure])
    outside = image.sum(-1) < 1e-4  # filled: image 0, mask ignore_index
    if ignore_index is not None:
        assert (mask[outside] == ignore_index).all()


CASES = [  # (name, options, exact: image is one-hot everywhere)
    ("flips", dict(flip="horizontal_and_vertical"), True),
    ("quarter_turns", dict(flip=False, rotate90=True), True),
    ("crop", dict(flip=False, crop=(20, 24)), True),
    ("rotate", dict(flip=False, rotate=40, ignore_index=255), False),
    ("rotate_reflect", dict(flip=False, rotate=40, fill_mode="reflect"), False),
    ("elastic", dict(flip=False, elastic=10.0), False),
    ("all", dict(flip=True, rotate90=True, rotate=20, crop=(24, 24), elastic=6.0,
                 ignore_index=-1), False),
]


@pytest.mark.parametrize("name, options, exact", CASES, ids=[c[0] for c in CASES])
def test_numpy_path_moves_mask_with_image(name, options, exact):
    images, masks = _blocks()
    rng = np.random.default_rng(1)
    changed = 0
    for image, mask in zip(images, masks):
        out_image, out_mask = augment_numpy(image, mask, rng, **options)
        size = options.get("crop", (32, 32))
        assert out_image.shape == size + (4,) and out_mask.shape == size
        assert out_image.dtype == np.float32 and out_mask.dtype == np.int32
        _check_consistent(out_image, out_mask, options.get("ignore_index"),
                          min_checked=1.0 if exact else 0.6)
        changed += out_mask.shape != mask.shape or not np.array_equal(out_mask, mask)
    assert changed >= 2  # the augmentation acts


@pytest.mark.parametrize("per_example", [True, False])
@pytest.mark.parametrize("name, options, exact", CASES, ids=[c[0] for c in CASES])
def test_tf_data_path_moves_mask_with_image(name, options, exact, per_example):
    images, masks = _blocks()
    ds = dense_dataset(images, masks, 2, augment=JointAugment(seed=3, **options),
                       per_example=per_example)
    size = options.get("crop", (32, 32))
    batches = [(x.numpy(), y.numpy()) for x, y in ds]
    assert [x.shape for x, _ in batches] == [(2,) + size + (4,)] * 2
    out_images = np.concatenate([x for x, _ in batches])
    out_masks = np.concatenate([y for _, y in batches])
    assert out_masks.dtype == np.int32
    _check_consistent(out_images, out_masks, options.get("ignore_index"),
                      min_checked=1.0 if exact else 0.6)


def test_rotation_fill_is_ignore_index_and_depth_stays_nearest():
    images, masks = _blocks(n=1)
    rows, cols = np.mgrid[0:32, 0:32]
    ramp = (1.0 + 0.03 * rows + 0.001 * cols).astype(np.float32)  # distinct, gentle slopes
    rng = np.random.default_rng(0)
    _, mask = augment_numpy(images[0], masks[0], rng, flip=False, rotate=45, ignore_index=255)
    assert mask[0, 0] == mask[-1, -1] == 255 and (mask == 255).mean() < 0.3
    _, depth = augment_numpy(ramp[..., None], ramp, rng, flip=False, rotate=33, elastic=8.0)
    assert depth.dtype == np.float32 and set(np.unique(depth)) <= set(ramp.ravel()) | {0.0}
    ds = dense_dataset(ramp[None, ..., None], ramp[None], 1,
                       augment=JointAugment(flip=False, rotate=33, seed=0))
    image, depth = (v.numpy()[0] for v in next(iter(ds)))
    assert set(np.unique(depth)) <= set(ramp.ravel()) | {0.0}
    assert depth[0, 0] == 0.0 and depth[16, 16] > 0  # corner filled as "missing"
    # the same warp: nearest and bilinear agree to half a pixel's slope (in the centre, where
    # no bilinear tap reaches the zero fill)
    np.testing.assert_allclose(depth[8:24, 8:24], image[8:24, 8:24, 0], atol=0.025)


def test_seeds_reproduce_and_epochs_differ():
    images, masks = _blocks()
    options = dict(flip=True, rotate=25, crop=(24, 24), elastic=5.0)
    a = [augment_numpy(x, y, np.random.default_rng(5), **options) for x, y in zip(images, masks)]
    b = [augment_numpy(x, y, np.random.default_rng(5), **options) for x, y in zip(images, masks)]
    c = [augment_numpy(x, y, np.random.default_rng(6), **options) for x, y in zip(images, masks)]
    assert all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1]) for p, q in zip(a, b))
    assert not all(np.array_equal(p[1], q[1]) for p, q in zip(a, c))

    def epochs(seed):
        ds = dense_dataset(images, masks, 4, augment=JointAugment(seed=seed, **options))
        return [np.concatenate([y.numpy() for _, y in ds]) for _ in range(2)]

    first, again, other = epochs(0), epochs(0), epochs(1)
    assert all(np.array_equal(p, q) for p, q in zip(first, again))
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], other[0])


def test_elastic_field_is_the_unet_grid_bicubically_interpolated():
    # With 9 px per 3 cells, the grid nodes sit on pixels 1, 4, 7, where the field is exact.
    field = elastic_displacement(9, 9, np.random.default_rng(0), sigma=10.0)
    grid = np.random.default_rng(0).normal(0.0, 10.0, size=(2, 3, 3))
    np.testing.assert_allclose(field[:, 1::3, 1::3], grid, atol=1e-5)
    big = elastic_displacement(64, 64, np.random.default_rng(1))
    assert big.shape == (2, 64, 64) and np.abs(np.diff(big, axis=1)).max() < 3.0  # smooth
    jax = pytest.importorskip("jax")
    coarse = np.random.default_rng(2).normal(size=(3, 3))
    np.testing.assert_allclose(_cubic_weights(3, 40) @ coarse @ _cubic_weights(3, 50).T,
                               jax.image.resize(coarse, (40, 50), "bicubic"), atol=1e-5)


def test_augment_errors():
    images, masks = _blocks(n=1)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="`flip` must be one of 'horizontal'.*Received: flip='x'"):
        augment_numpy(images[0], masks[0], rng, flip="x")
    with pytest.raises(ValueError, match=r"`crop` \(40, 8\) is larger than the image"):
        augment_numpy(images[0], masks[0], rng, crop=(40, 8))
    with pytest.raises(ValueError, match="`rotate90` needs square images.*32x20"):
        augment_numpy(images[0, :, :20], masks[0, :, :20], rng, rotate90=True)
    with pytest.raises(ValueError, match=r"target of the same shape.*\(32, 31\)"):
        augment_numpy(images[0], masks[0, :, :31], rng)
    with pytest.raises(ValueError, match="`rotate` must be"):
        JointAugment(rotate=200)
    with pytest.raises(ValueError, match=r"targets \(N, H, W\)"):
        dense_dataset(images, masks[:, :5], 1)


def test_dense_dataset_without_augmentation_keeps_everything():
    images, masks = _blocks(n=5)
    ds = dense_dataset(images, masks, 2, shuffle=False)
    got = [(x.numpy(), y.numpy()) for x, y in ds]
    assert [len(y) for _, y in got] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([y for _, y in got]), masks)
    shuffled = np.concatenate([y.numpy() for _, y in dense_dataset(images, masks, 5, seed=1)])
    assert sorted(map(bytes, shuffled)) == sorted(map(bytes, masks))


# --- procedural scenes ---------------------------------------------------------------------

def test_scenes_shapes_range_and_determinism():
    images, depth = generate_scenes(6, 30, 40, seed=3)
    assert images.shape == (6, 30, 40, 3) and depth.shape == (6, 30, 40)
    assert images.dtype == depth.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1 and images.std() > 0.05
    assert 0.5 < depth.min() and depth.max() < 10.0
    again, again_depth = generate_scenes(6, 30, 40, seed=3)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(depth, again_depth)
    np.testing.assert_array_equal(generate_scenes(2, 30, 40, seed=3)[1], depth[:2])  # per scene
    assert not np.array_equal(generate_scenes(1, 30, 40, seed=4)[1], depth[:1])


EMPTY_ROOM = dict(room=(8.0, 4.0, 10.0), camera=(0.0, 2.0, 6.0))  # back wall 4 m ahead


def test_camera_facing_the_back_wall_sees_constant_depth():
    image, depth = render(Scene(**EMPTY_ROOM), 31, 41)
    np.testing.assert_allclose(depth, 4.0, atol=1e-4)  # z-depth, not the distance along rays
    assert image.shape == (31, 41, 3) and image.min() > 0


def test_sphere_occludes_the_wall_inside_its_silhouette():
    height, width, radius = 31, 41, 0.5
    scene = Scene(**EMPTY_ROOM, spheres=np.array([[0.0, 2.0, 8.0, radius]]))
    _, depth = render(scene, height, width)
    assert depth[15, 20] == pytest.approx(8.0 - radius - 6.0, abs=1e-5)  # the near pole
    inside = depth < 4.0 - 1e-4
    assert inside[15, 20] and not inside[0].any() and not inside[:, 0].any()
    assert (depth[inside] < 4.0).all() and (depth[inside] >= 1.5 - 1e-5).all()
    # silhouette: a disc of radius f tan(asin(r / distance)) pixels
    f = 0.81 * width
    expected = np.pi * (f * np.tan(np.arcsin(radius / 2.0))) ** 2
    assert abs(inside.sum() - expected) < 0.1 * expected


def test_show_writes_a_picture(tmp_path):
    path = main(["--show", str(tmp_path / "scenes.png"), "--count", "2", "--height", "24",
                 "--width", "32", "--bench", "0"])
    assert path.exists() and path.stat().st_size > 1000
