"""Segmentation overlays, depth colours and panels against hand-made cases, the PASCAL VOC
devkit's colour map and matplotlib's colormaps."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
from PIL import Image

import zoo.visualize as vis
from zoo.visualize import (COLORMAPS, class_areas, colorize_depth, depth_colorbar, depth_range,
                           label_colors, overlay_mask, prediction_grid, side_by_side)

# The PASCAL VOC 2012 palette as published in the devkit and every VOC mask PNG: the 21 classes
# (background, aeroplane, ..., tvmonitor) and 255, the "void" border.
VOC = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 4: (0, 0, 128),
       5: (128, 0, 128), 6: (0, 128, 128), 7: (128, 128, 128), 8: (64, 0, 0), 9: (192, 0, 0),
       10: (64, 128, 0), 11: (192, 128, 0), 12: (64, 0, 128), 13: (192, 0, 128),
       14: (64, 128, 128), 15: (192, 128, 128), 16: (0, 64, 0), 17: (128, 64, 0),
       18: (0, 192, 0), 19: (128, 192, 0), 20: (0, 64, 128), 255: (224, 224, 192)}


def devkit_labelcolormap(n):
    """The VOC devkit's ``labelcolormap`` loop, one bit at a time."""
    cmap = np.zeros((n, 3), np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def luma(rgb):
    return np.asarray(rgb, np.float64) @ [0.299, 0.587, 0.114]


# --------------------------------------------------------------------------- module


def test_module_imports_only_numpy_pillow_and_stdlib():
    tree = ast.parse(pathlib.Path(vis.__file__).read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    assert roots <= {"__future__", "base64", "collections", "functools", "math", "os", "numpy",
                     "PIL"}, roots


# --------------------------------------------------------------------------- label_colors


def test_label_colors_are_the_voc_palette():
    palette = label_colors(256)
    assert palette.dtype == np.uint8 and palette.shape == (256, 3)
    for i, rgb in VOC.items():
        assert tuple(palette[i]) == rgb, i
    np.testing.assert_array_equal(label_colors(600), devkit_labelcolormap(600))


def test_label_colors_distinct_prefix_stable_and_seeded():
    many = label_colors(5000)
    assert len({tuple(c) for c in many}) == 5000
    np.testing.assert_array_equal(label_colors(21), many[:21])
    shuffled = label_colors(21, seed=3)
    assert tuple(shuffled[0]) == (0, 0, 0)
    np.testing.assert_array_equal(shuffled, label_colors(21, seed=3))
    assert not np.array_equal(shuffled, label_colors(21))
    assert sorted(map(tuple, shuffled)) == sorted(map(tuple, label_colors(21)))
    assert label_colors(1).tolist() == [[0, 0, 0]]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "21", 2**24 + 1])
def test_label_colors_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="num_classes"):
        label_colors(bad)


# --------------------------------------------------------------------------- overlay_mask

RNG = np.random.default_rng(0)
IMAGE_U8 = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
MASK = RNG.integers(0, 4, (5, 7))


@pytest.mark.parametrize("image, as_u8", [
    (IMAGE_U8, IMAGE_U8),
    (IMAGE_U8 / 255.0, IMAGE_U8),                                        # float RGB
    ((IMAGE_U8 / 255.0).astype(np.float32), IMAGE_U8),
    (IMAGE_U8[..., 0], np.repeat(IMAGE_U8[..., :1], 3, -1)),            # grey uint8
    (IMAGE_U8[..., :1] / 255.0, np.repeat(IMAGE_U8[..., :1], 3, -1)),   # (H, W, 1) float
    (np.dstack([IMAGE_U8, np.full((5, 7), 9, np.uint8)]), IMAGE_U8),    # RGBA: alpha dropped
    (Image.fromarray(IMAGE_U8), IMAGE_U8),                              # a PIL image
], ids=["uint8", "float64", "float32", "grey", "grey_hw1", "rgba", "pil"])
def test_overlay_alpha_0_is_the_image_and_alpha_1_the_colours(image, as_u8):
    out = overlay_mask(image, MASK, alpha=0.0)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, as_u8)
    np.testing.assert_array_equal(overlay_mask(image, MASK, alpha=1.0), label_colors(4)[MASK])


def test_overlay_blends_by_hand():
    image = np.array([[[100, 0, 255], [10, 20, 30]]], np.uint8)
    mask = np.array([[1, 2]])
    colors = [(0, 0, 0), (200, 100, 55), (0, 255, 0)]
    out = overlay_mask(image, mask, alpha=0.25, colors=colors)
    # 0.75 * image + 0.25 * colour, rounded
    assert out.tolist() == [[[125, 25, 205], [8, 79, 22]]]
    float_colors = np.array(colors) / 255.0
    np.testing.assert_array_equal(overlay_mask(image, mask, 0.25, colors=float_colors), out)


def test_overlay_leaves_ignore_and_background_pixels_alone():
    image = np.full((3, 4, 3), 0.5)
    mask = np.array([[0, 1, 255, 2], [0, 0, 1, 255], [2, 2, 0, 1]])
    out = overlay_mask(image, mask, alpha=0.6, ignore_index=255, background=0)
    grey = np.full(3, 128, np.uint8)
    untouched = (mask == 0) | (mask == 255)
    assert (out[untouched] == grey).all()
    expected = np.round(0.4 * 128 + 0.6 * label_colors(3)[mask[~untouched]].astype(float))
    np.testing.assert_array_equal(out[~untouched], expected)
    # without background=0, class 0 is blended with black
    assert (overlay_mask(image, mask, 0.6, ignore_index=255)[mask == 0] == 51).all()
    # ignore_index may lie outside the palette
    overlay_mask(image, mask, colors=label_colors(3), ignore_index=255)


def test_overlay_accepts_backend_tensors_bool_and_float_masks():
    import keras

    image = keras.ops.convert_to_tensor(IMAGE_U8 / 255.0)
    mask = keras.ops.convert_to_tensor(MASK)
    np.testing.assert_array_equal(overlay_mask(image, mask, alpha=1.0), label_colors(4)[MASK])
    np.testing.assert_array_equal(overlay_mask(IMAGE_U8, MASK > 1, 1.0),
                                  label_colors(2)[(MASK > 1).astype(int)])
    np.testing.assert_array_equal(overlay_mask(IMAGE_U8, MASK.astype(np.float32)[..., None], 1.0),
                                  label_colors(4)[MASK])


@pytest.mark.parametrize("image, mask, kwargs, match", [
    (np.zeros((4, 6, 3)), np.zeros((4, 5), int), {}, r"image 4x6 and mask 4x5"),
    (np.zeros((4, 6, 3)), np.zeros((6, 4), int), {}, r"image 4x6 and mask 6x4"),
    (np.zeros((4, 6, 3)), np.full((4, 6), 3), {"colors": label_colors(3)},
     r"class id 3, but there are only 3 colours"),
    (np.zeros((4, 6, 3)), np.full((4, 6), -1), {}, r"negative class id \(-1\)"),
    (np.zeros((4, 6, 3)), np.full((4, 6), 255), {"colors": label_colors(21), "ignore_index": 0},
     r"class id 255"),
    (np.zeros((4, 6, 3)), np.zeros((4, 6, 21)), {}, r"argmax over the last axis"),
    (np.zeros((4, 6, 3)), np.full((4, 6), 0.5), {}, r"whole numbers"),
    (np.zeros((0, 6, 3)), np.zeros((0, 6), int), {}, r"`image` is empty"),
    (np.zeros((2, 4, 6, 3)), np.zeros((4, 6), int), {}, r"Received shape \(2, 4, 6, 3\)"),
    (np.zeros((4, 6, 2)), np.zeros((4, 6), int), {}, r"grey or \(H, W, 3\) RGB"),
    (np.full((4, 6, 3), 200.0), np.zeros((4, 6), int), {}, r"in \[0, 1\].*\[200, 200\]"),
    (np.full((4, 6, 3), np.nan), np.zeros((4, 6), int), {}, r"NaN"),
    (np.full((4, 6, 3), 300), np.zeros((4, 6), int), {}, r"\[0, 255\]"),
    (np.zeros((4, 6, 3)), np.zeros((4, 6), int), {"alpha": 1.5}, r"alpha=1.5"),
    (np.zeros((4, 6, 3)), np.zeros((4, 6), int), {"colors": [(1, 2)]}, r"\(num_classes, 3\)"),
    (np.zeros((4, 6, 3)), np.zeros((4, 6), int), {"colors": [(255.0, 0, 0)]}, r"\[0, 1\]"),
    (np.zeros((4, 6, 3)), np.zeros((4, 6), int), {"background": "sky"}, r"background='sky'"),
], ids=["width", "transposed", "too_many_ids", "negative", "ignore_is_not_255",
        "scores_not_ids", "fractional_ids", "empty", "batch", "two_channels", "float_0_255",
        "nan", "int_over_255", "alpha", "colors_shape", "colors_float_range", "background"])
def test_overlay_rejects_bad_input_clearly(image, mask, kwargs, match):
    with pytest.raises(ValueError, match=match):
        overlay_mask(image, mask, **kwargs)


# --------------------------------------------------------------------------- class_areas


def test_class_areas_by_hand():
    mask = np.array([[0, 0, 1, 1], [0, 2, 2, 255]])
    names = ["background", "cat", "dog", "bird"]
    areas = class_areas(mask, names, ignore_index=255)
    assert list(areas) == names
    assert areas == pytest.approx({"background": 3 / 7, "cat": 2 / 7, "dog": 2 / 7, "bird": 0.0})
    assert sum(areas.values()) == pytest.approx(1.0)
    # (H, W, 1) masks and batches count the same way
    assert class_areas(mask[..., None], names, 255) == areas
    assert class_areas(np.stack([mask, mask]), names, 255) == pytest.approx(areas)
    assert class_areas(np.full((2, 2), 255), names, 255) == dict.fromkeys(names, 0.0)


@pytest.mark.parametrize("mask, names, match", [
    (np.array([[0, 3]]), ["a", "b", "c"], r"class id 3, but there are only 3 names"),
    (np.array([[0, 1]]), ["a", "a"], r"duplicates: \['a'\]"),
    (np.array([[0, 1]]), [], r"empty"),
    (np.array([[0, 1]]), "ab", r"not one string"),
    (np.zeros((0, 3), int), ["a"], r"`mask` is empty"),
])
def test_class_areas_rejects_bad_input(mask, names, match):
    with pytest.raises(ValueError, match=match):
        class_areas(mask, names)


# --------------------------------------------------------------------------- colormaps


@pytest.mark.parametrize("name", COLORMAPS)
def test_stored_tables_match_matplotlib(name):
    matplotlib = pytest.importorskip("matplotlib")
    reference = matplotlib.colormaps[name](np.arange(256))[:, :3] * 255
    for cmap, ref in ((name, reference), (name + "_r", reference[::-1])):
        lut = vis._lut(cmap)
        assert lut.shape == (256, 3) and lut.dtype == np.uint8
        assert np.abs(lut - ref).max() <= 0.5 + 1e-9          # well within 2/255


@pytest.mark.parametrize("name", COLORMAPS)
def test_colorize_depth_equals_matplotlib(name):
    matplotlib = pytest.importorskip("matplotlib")
    depth = np.random.default_rng(1).uniform(0.3, 12.0, (24, 32))
    norm = matplotlib.colors.Normalize(1.0, 10.0)             # clipped below 1 m, above 10 m
    # near = the top of the colormap: matplotlib's reversed map on the normalised depth
    expected = matplotlib.colormaps[name + "_r"](norm(depth))[..., :3] * 255
    assert np.abs(colorize_depth(depth, 1.0, 10.0, cmap=name) - expected).max() <= 2.0
    expected_r = matplotlib.colormaps[name](norm(depth))[..., :3] * 255
    assert np.abs(colorize_depth(depth, 1.0, 10.0, cmap=name + "_r") - expected_r).max() <= 2.0


def test_turbo_near_is_warm_and_far_is_cold():
    depth = np.linspace(1.0, 9.0, 200)[None]                  # near ... far, left to right
    rgb = colorize_depth(depth, 1.0, 9.0).astype(int)[0]
    near, far = rgb[:50], rgb[-50:]
    assert (near[:, 0] > near[:, 2]).all()                    # red beats blue near
    assert (far[:, 2] > far[:, 0]).all()                      # blue beats red far
    assert tuple(rgb[0]) == (122, 4, 3) and tuple(rgb[-1]) == (48, 18, 59)  # turbo's two ends
    np.testing.assert_array_equal(colorize_depth(depth, 1.0, 9.0, cmap="turbo_r"), rgb[None, ::-1])


@pytest.mark.parametrize("name", ["viridis", "magma", "inferno", "plasma"])
def test_uniform_maps_get_darker_with_distance(name):
    depth = np.linspace(0.5, 20.0, 400)[None]
    lightness = luma(colorize_depth(depth, 0.5, 20.0, cmap=name)[0])
    assert np.diff(lightness).max() <= 0.5                    # monotone up to uint8 rounding
    assert lightness[0] - lightness[-1] > 150


# --------------------------------------------------------------------------- colorize_depth


def test_missing_depth_is_drawn_in_invalid_color():
    depth = np.array([[0.0, 1.0, np.nan], [2.0, np.inf, -1.0], [3.0, -np.inf, 4.0]])
    missing = ~(np.isfinite(depth) & (depth > 0))
    for color in [(0, 0, 0), (255, 0, 255)]:
        out = colorize_depth(depth, invalid_color=color)
        assert (out[missing] == color).all()
        assert not (out[~missing] == color).all(axis=-1).any()
    assert (colorize_depth(np.zeros((3, 3)), invalid_color=(9, 8, 7)) == (9, 8, 7)).all()
    assert (colorize_depth(np.full((2, 2), np.nan), 1.0, 2.0) == 0).all()


def test_default_range_is_robust_percentiles_of_valid_depth():
    rng = np.random.default_rng(2)
    depth = rng.uniform(1.0, 5.0, (30, 40))
    depth[0, :5] = 0.0                                        # missing: not in the percentiles
    depth[1, :3] = 500.0                                      # outliers: clipped away
    valid = depth[depth > 0]
    lo, hi = depth_range(depth)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(valid, [2, 98])))
    assert hi < 6.0
    np.testing.assert_array_equal(colorize_depth(depth), colorize_depth(depth, lo, hi))
    np.testing.assert_array_equal(colorize_depth(depth, vmin=2.0),
                                  colorize_depth(depth, 2.0, hi))
    assert depth_range(depth, (0, 100)) == (valid.min(), 500.0)
    assert depth_range(np.array([[0.0, 1.0], [2.0, 3.0]]), (0, 100)) == (1.0, 3.0)
    assert depth_range(np.full((2, 2), 2.0)) == pytest.approx((1.9, 2.1))   # constant depth


def test_depth_clips_outside_the_range_and_takes_integer_and_hw1_input():
    out = colorize_depth(np.array([[0.1, 1.0, 4.0, 40.0]]), 1.0, 4.0)[0]
    assert (out[0] == out[1]).all() and (out[2] == out[3]).all()
    depth_mm = np.array([[0, 1000, 2500, 4000]], np.uint16)   # a Kinect-style PNG, in mm
    np.testing.assert_array_equal(colorize_depth(depth_mm[..., None] / 1000.0, 1.0, 4.0),
                                  colorize_depth(depth_mm.astype(np.float32) / 1000, 1.0, 4.0))
    assert colorize_depth(depth_mm, 1000, 4000).shape == (1, 4, 3)


@pytest.mark.parametrize("depth, kwargs, match", [
    (np.ones((2, 3)), {"cmap": "jet"}, r"Unknown colormap 'jet'.*turbo"),
    (np.ones((2, 3)), {"vmin": 3.0, "vmax": 1.0}, r"vmin=3.0, vmax=1.0"),
    (np.ones((2, 3)), {"vmin": 1.0, "vmax": np.nan}, r"vmax=nan"),
    (np.ones((2, 3, 3)), {}, r"\(H, W\) or \(H, W, 1\).*\(2, 3, 3\)"),
    (np.ones(6), {}, r"Received shape \(6,\)"),
    (np.ones((0, 3)), {}, r"`depth` is empty"),
    (np.ones((2, 3), bool), {}, r"dtype bool"),
    (np.ones((2, 3)), {"invalid_color": (0, 0)}, r"invalid_color=\(0, 0\)"),
    (np.ones((2, 3)), {"invalid_color": (0, 0, 256)}, r"\[0, 255\]"),
    (np.ones((2, 3)), {"percentiles": (98, 2)}, r"percentiles=\(98, 2\)"),
])
def test_colorize_depth_rejects_bad_input(depth, kwargs, match):
    with pytest.raises(ValueError, match=match):
        colorize_depth(depth, **kwargs)


def test_depth_range_without_valid_pixels_raises():
    with pytest.raises(ValueError, match="no valid pixels"):
        depth_range(np.zeros((2, 2)))


# --------------------------------------------------------------------------- colour bar


def test_colorbar_shape_colours_and_labels():
    bar = depth_colorbar(0.5, 10.0, height=200)
    assert bar.dtype == np.uint8 and bar.ndim == 3 and bar.shape[0] == 200 and bar.shape[2] == 3
    assert 40 < bar.shape[1] < 120
    assert len({tuple(c) for c in bar.reshape(-1, 3)}) > 100  # not blank: a real gradient
    # the bar's column holds colorize_depth's colours, far at the top and near at the bottom
    column = bar[:, 10]
    far = colorize_depth(np.array([[10.0]]), 0.5, 10.0)[0, 0]
    near = colorize_depth(np.array([[0.5]]), 0.5, 10.0)[0, 0]
    rows = np.flatnonzero((column == far).all(-1))
    assert rows.size and rows.max() < 20
    rows = np.flatnonzero((column == near).all(-1))
    assert rows.size and rows.min() > 180
    # labels: dark text pixels right of the bar, spread over its height
    text = (bar[:, 25:] < 100).all(-1)
    assert text.sum() > 50
    assert np.flatnonzero(text.any(1)).min() < 15 and np.flatnonzero(text.any(1)).max() > 185
    # no labels: only the bar; a given width is kept; dark backgrounds get white text
    assert depth_colorbar(0.5, 10.0, ticks=0).shape[1] < bar.shape[1]
    assert depth_colorbar(0.5, 10.0, height=200, width=150).shape == (200, 150, 3)
    dark = depth_colorbar(0.5, 10.0, height=200, background=(20, 20, 20))
    assert (dark[:, 25:] > 200).all(-1).sum() > 50


def test_colorbar_tick_labels_in_metres():
    assert vis._tick_labels(np.linspace(4.0, 0.0, 5), "m") == ["4 m", "3 m", "2 m", "1 m", "0 m"]
    assert vis._tick_labels(np.linspace(10.0, 0.5, 5), "m") == [
        "10.0 m", "7.6 m", "5.2 m", "2.9 m", "0.5 m"]
    assert vis._tick_labels(np.array([0.25, 0.125]), "") == ["0.25", "0.12"]


@pytest.mark.parametrize("kwargs, match", [
    ({"vmin": 2.0, "vmax": 2.0}, r"vmin=2.0, vmax=2.0"),
    ({"vmin": 0.5, "vmax": 10.0, "height": 20}, r"needs at least \d+ px. Received: height=20"),
    ({"vmin": 0.5, "vmax": 10.0, "width": 30}, r"needs at least \d+ px. Received: width=30"),
    ({"vmin": 0.5, "vmax": 10.0, "ticks": 1}, r"ticks=1"),
    ({"vmin": 0.5, "vmax": 10.0, "cmap": "rainbow"}, r"Unknown colormap"),
])
def test_colorbar_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        depth_colorbar(**kwargs)


# --------------------------------------------------------------------------- panels


def test_side_by_side_pads_and_centres():
    a = np.zeros((2, 3), np.uint8)                            # grey uint8
    b = np.ones((4, 1, 3))                                    # float RGB
    out = side_by_side(a, b, pad=2, fill=(10, 20, 30))
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    assert (out[1:3, :3] == 0).all()                          # a, centred vertically
    assert (out[[0, 3], :3] == (10, 20, 30)).all()
    assert (out[:, 3:5] == (10, 20, 30)).all()                # the pad
    assert (out[:, 5] == 255).all()                           # b
    np.testing.assert_array_equal(side_by_side(IMAGE_U8), IMAGE_U8)


@pytest.mark.parametrize("images, kwargs, match", [
    ((), {}, r"at least one image"),
    ((np.zeros((2, 2)),), {"pad": -1}, r"pad=-1"),
    ((np.zeros((2, 2)), np.zeros((2, 2, 2))), {}, r"`images\[1\]`"),
])
def test_side_by_side_rejects_bad_input(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        side_by_side(*images, **kwargs)


def test_prediction_grid_layout_titles_and_file(tmp_path):
    image, mask = np.zeros((8, 10)), np.ones((6, 12, 3))
    grid = prediction_grid([[image, mask], [mask, image]], pad=2, fill=(10, 20, 30))
    # columns 12 and 12 wide, rows 8 and 8 high, pad 2 around and between, cells centred
    assert grid.shape == (2 + 8 + 2 + 8 + 2, 2 + 12 + 2 + 12 + 2, 3)
    expected = np.empty(grid.shape, np.uint8)
    expected[:] = (10, 20, 30)
    expected[2:10, 3:13] = 0                                  # image, 1 px in from each side
    expected[3:9, 16:28] = 255                                # mask, 1 px down from each end
    expected[13:19, 2:14] = 255
    expected[12:20, 17:27] = 0
    np.testing.assert_array_equal(grid, expected)
    path = tmp_path / "grid.png"
    titled = prediction_grid([[image, mask]], titles=["image", "prediction"], path=path)
    assert titled.shape[0] > 2 + 8 + 2 and titled.shape[1] > grid.shape[1]  # room for titles
    assert (titled[:titled.shape[0] - 12] < 100).all(-1).any()              # dark title text
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), titled)


@pytest.mark.parametrize("rows, titles, match", [
    ([], None, r"non-empty list of rows"),
    ([[np.zeros((2, 2))], []], None, r"`rows\[1\]`"),
    ([[np.zeros((2, 2))], [np.zeros((2, 2))] * 2], None, r"lengths \[1, 2\]"),
    ([[np.zeros((2, 2))] * 2], ["only one"], r"one title per column \(2\)"),
    ([[np.zeros((2, 2, 5))]], None, r"`rows\[0\]\[0\]`"),
])
def test_prediction_grid_rejects_bad_input(rows, titles, match):
    with pytest.raises(ValueError, match=match):
        prediction_grid(rows, titles)


def test_draw_boxes_outlines_in_class_colours_and_labels_above():
    from zoo.visualize import BOX_COLORS, draw_boxes

    image = np.full((60, 80, 3), 255, np.uint8)
    out = draw_boxes(image, [[10, 30, 40, 50], [50, 5, 70, 25]], [0, 2], [0.9, 0.5],
                     class_names=["a", "b", "c"], width=1)
    assert out.shape == (60, 80, 3) and image.min() == 255          # a copy
    assert out[50, 25].tolist() == BOX_COLORS[0].tolist()           # bottom edge of box 0
    assert out[15, 70].tolist() == BOX_COLORS[2].tolist()           # right edge of box 1
    assert out[40, 25].tolist() == [255, 255, 255]                  # inside stays
    assert (out[:30, 10:40] != 255).any()                           # the label sits above
    dashed = draw_boxes(image, [[10, 30, 40, 50]], dashed=True, width=1)
    row = dashed[30, 10:41]
    assert (row == 255).all(axis=1).any() and (row != 255).any(axis=1).any()   # gaps and ink
    with pytest.raises(ValueError, match="2 boxes need as many labels"):
        draw_boxes(image, [[0, 0, 1, 1], [0, 0, 2, 2]], [0])
