"""Detection readers of `training.data.detection` on the tiny fixtures: real BCCD (VOC XML and
its CSV), raccoon-style CSVs, a synthetic COCO file, synthetic VOC edge cases, mocked tfds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from training.data import (
    BCCD_CLASSES,
    VOC_CLASSES,
    AnnotationError,
    CorruptImageError,
    DetectionReport,
    load_image,
    read_coco,
    read_csv_boxes,
    read_tfds_voc,
    read_voc,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DETECTION = FIXTURES / "detection"
BCCD = DETECTION / "bccd" / "BCCD"
EDGE = DETECTION / "voc_edge"
RACCOON = DETECTION / "raccoon"
COCO = DETECTION / "coco"


def report(source) -> dict[str, int]:
    return {k: v for k, v in source.report.as_dict().items() if v}


# --- Pascal VOC ---------------------------------------------------------------------------------


def test_read_voc_bccd_converts_one_based_pixels():
    source = read_voc(BCCD, "trainval", class_names=BCCD_CLASSES)
    assert [Path(ex["image"]).name for ex in source.examples] == [
        "BloodImage_00000.jpg",
        "BloodImage_00343.jpg",
    ]  # the order of trainval.txt
    first, second = source.examples
    assert first["size"] == (480, 640) and first["boxes"].dtype == np.float32
    # XML: WBC 260 177 491 376, RBC 78 336 184 435; ... RBC 555 356 640 455 (the right edge)
    np.testing.assert_array_equal(first["boxes"][:2], [[259, 176, 491, 376], [77, 335, 184, 435]])
    np.testing.assert_array_equal(first["boxes"][5], [554, 355, 640, 455])
    assert first["labels"][:3].tolist() == [1, 0, 0] and first["labels"].dtype == np.int32
    # xmin = xmax = 181 in the XML is one inclusive pixel: a 1x1 box, kept
    np.testing.assert_array_equal(second["boxes"][3], [180, 328, 181, 329])
    assert second["labels"][-3:].tolist() == [2, 2, 1]  # Platelets, Platelets, WBC
    assert not first["difficult"].any() and first["difficult"].dtype == bool
    assert report(source) == {"images": 2, "boxes": 32}
    assert source.class_counts().tolist() == [28, 2, 2] and source.max_boxes == 20


def test_read_voc_default_class_names_are_sorted():
    source = read_voc(BCCD, "test")
    assert source.class_names == ("Platelets", "RBC", "WBC")
    (example,) = source.examples
    assert example["labels"][-2:].tolist() == [2, 0]  # WBC, Platelets
    np.testing.assert_array_equal(example["boxes"][-1], [329, 441, 373, 480])


def test_read_voc_clips_drops_and_keeps_background():
    source = read_voc(EDGE, "edge")
    boxes, background = source.examples
    assert source.class_names == ("Platelets", "RBC", "WBC")  # dropped boxes' names count
    np.testing.assert_array_equal(boxes["boxes"], [[4, 3, 14, 12], [19, 9, 32, 24]])
    assert boxes["labels"].tolist() == [1, 2] and boxes["difficult"].tolist() == [False, True]
    assert background["boxes"].shape == (0, 4) and background["labels"].shape == (0,)
    assert report(source) == {
        "images": 2,
        "boxes": 2,
        "clipped_boxes": 1,  # 20 10 40 30 in a 32x24 image
        "dropped_boxes": 2,  # wholly right of the image; xmax < xmin
        "background_images": 1,
        "difficult_boxes": 1,
    }
    assert str(source.report).startswith("2 images, 2 boxes (1 clipped, 2 dropped), 1 background")
    # min_size drops boxes this thin: BCCD's one-pixel boxes
    thin = read_voc(BCCD, "train", BCCD_CLASSES, min_size=1)
    assert thin.report.dropped_boxes == 1 and thin.report.boxes == 11


def test_read_voc_errors_name_the_file():
    with pytest.raises(AnnotationError, match=r"unknown_class\.xml.*'Neutrophil'.*'RBC', 'WBC'"):
        read_voc(EDGE, "unknown_class", class_names=BCCD_CLASSES)
    with pytest.raises(ValueError, match="Neutrophil"):  # an AnnotationError is a ValueError
        read_voc(EDGE, "unknown_class", class_names=BCCD_CLASSES)
    # without class_names the unknown class is simply a class (the image is found through the
    # XML's <filename> since JPEGImages/unknown_class.jpg does not exist)
    assert read_voc(EDGE, "unknown_class").class_names == ("Neutrophil", "RBC")
    with pytest.raises(FileNotFoundError, match=r"missing_image\.xml.*JPEGImages/missing\.jpg"):
        read_voc(EDGE, "missing_image")
    with pytest.raises(AnnotationError, match=r"malformed\.xml: malformed XML"):
        read_voc(EDGE, "malformed")
    with pytest.raises(FileNotFoundError, match=r"missing_annotation\.txt.*no_such_annotation"):
        read_voc(EDGE, "missing_annotation")
    with pytest.raises(AnnotationError, match=r"size_mismatch\.xml.*64x48.*is 32x24"):
        read_voc(EDGE, "size_mismatch")
    assert read_voc(EDGE, "size_mismatch", check_images=False).examples[0]["size"] == (48, 64)
    with pytest.raises(FileNotFoundError, match=r"nope\.txt not found.*'test', 'train'"):
        read_voc(BCCD, "nope")


# --- CSV ----------------------------------------------------------------------------------------


def test_read_csv_boxes_raccoon_columns():
    train = read_csv_boxes(RACCOON / "data" / "train_labels.csv", RACCOON / "images")
    assert train.class_names == ("raccoon",)
    one, two = train.examples
    assert one["size"] == (48, 64) and two["size"] == (64, 48)
    np.testing.assert_array_equal(one["boxes"], [[11, 9, 40, 30]])
    np.testing.assert_array_equal(two["boxes"], [[6, 6, 20, 30], [26, 41, 48, 64]])
    assert report(train) == {"images": 2, "boxes": 3}
    test = read_csv_boxes(RACCOON / "data" / "test_labels.csv", RACCOON / "images", one_based=True)
    np.testing.assert_array_equal(test.examples[0]["boxes"], [[0, 0, 40, 40]])


def test_read_csv_boxes_bccd_column_order_matches_voc():
    images = BCCD / "JPEGImages"
    as_is = read_csv_boxes(BCCD.parent / "test.csv", images, BCCD_CLASSES)
    assert report(as_is) == {"images": 3, "boxes": 41, "dropped_boxes": 1}  # 181,181,329,329
    np.testing.assert_array_equal(as_is.examples[0]["boxes"][0], [260, 177, 491, 376])
    voc_like = read_csv_boxes(BCCD.parent / "test.csv", images, BCCD_CLASSES, one_based=True)
    from_xml = {
        ex["image"]: ex
        for s in ("trainval", "test")
        for ex in read_voc(BCCD, s, BCCD_CLASSES).examples
    }
    assert len(voc_like) == len(from_xml) == 3
    for ex in voc_like.examples:
        np.testing.assert_array_equal(ex["boxes"], from_xml[ex["image"]]["boxes"])
        np.testing.assert_array_equal(ex["labels"], from_xml[ex["image"]]["labels"])


def test_read_csv_boxes_background_and_clipping():
    source = read_csv_boxes(EDGE / "edge_labels.csv", EDGE / "JPEGImages")
    assert source.class_names == ("RBC", "WBC")
    np.testing.assert_array_equal(source.examples[0]["boxes"], [[4, 3, 14, 12], [19, 9, 32, 24]])
    assert source.examples[1]["boxes"].shape == (0, 4)
    assert report(source) == {
        "images": 2,
        "boxes": 2,
        "clipped_boxes": 1,
        "dropped_boxes": 1,
        "background_images": 1,
    }


def test_read_csv_boxes_errors(tmp_path):
    def write(text: str) -> Path:
        path = tmp_path / "labels.csv"
        path.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n" + text)
        return path

    images = EDGE / "JPEGImages"
    with pytest.raises(AnnotationError, match=r"labels\.csv:3: class 'Neutrophil'.*\['RBC'\]"):
        read_csv_boxes(
            write("edge_boxes.jpg,32,24,RBC,1,1,5,5\nedge_boxes.jpg,32,24,Neutrophil,1,1,5,5\n"),
            images,
            ["RBC"],
        )
    with pytest.raises(FileNotFoundError, match=r"labels\.csv:2: image file .*gone\.jpg"):
        read_csv_boxes(write("gone.jpg,32,24,RBC,1,1,5,5\n"), images)
    with pytest.raises(AnnotationError, match=r"labels\.csv:2: some of class.* are empty"):
        read_csv_boxes(write("edge_boxes.jpg,32,24,RBC,1,1,,5\n"), images)
    with pytest.raises(AnnotationError, match=r"labels\.csv:2: xmax is 'x5', not a number"):
        read_csv_boxes(write("edge_boxes.jpg,32,24,RBC,1,1,x5,5\n"), images)
    with pytest.raises(AnnotationError, match=r"labels\.csv:2: states image size 30x24"):
        read_csv_boxes(write("edge_boxes.jpg,30,24,RBC,1,1,5,5\n"), images)
    bad = tmp_path / "columns.csv"
    bad.write_text("image,label,x0,y0,x1,y1\nedge_boxes.jpg,RBC,1,1,5,5\n")
    with pytest.raises(AnnotationError, match=r"no column\(s\) \['filename', 'xmin'.*cell_type"):
        read_csv_boxes(bad, images)


# --- COCO ---------------------------------------------------------------------------------------


def test_read_coco_maps_categories_and_flags_crowds():
    source = read_coco(COCO / "instances.json", COCO / "images")
    assert source.class_names == ("person", "car", "cat")  # category ids 1, 3, 7
    a, b, c = source.examples
    assert a["size"] == (24, 32) and b["size"] == (32, 24)
    # xywh [2, 3, 10, 8] -> [2, 3, 12, 11]; [20, 10, 15, 20] -> [20, 10, 35, 30] clipped to 32x24
    np.testing.assert_array_equal(a["boxes"], [[2, 3, 12, 11], [20, 10, 32, 24]])
    assert a["labels"].tolist() == [0, 2]
    np.testing.assert_array_equal(b["boxes"], [[4, 4, 12, 12], [1.5, 2.5, 11.5, 15]])
    assert b["labels"].tolist() == [1, 1] and b["iscrowd"].tolist() == [True, False]
    assert c["boxes"].shape == (0, 4)
    assert report(source) == {
        "images": 3,
        "boxes": 4,
        "clipped_boxes": 1,
        "dropped_boxes": 1,  # [5, 5, 0, 4]: zero width
        "background_images": 1,
        "crowd_boxes": 1,
    }


def test_read_coco_errors(tmp_path):
    data = json.loads((COCO / "instances.json").read_text())
    data["annotations"][0]["category_id"] = 99
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    with pytest.raises(
        AnnotationError,
        match=r"instances\.json \(annotation id 1\): category_id"
        r" 99 .*'person'",
    ):
        read_coco(path, COCO / "images")
    path.write_text('{"images": [')
    with pytest.raises(AnnotationError, match=r"instances\.json: not valid JSON"):
        read_coco(path, COCO / "images")


# --- tf.data and images -------------------------------------------------------------------------


def test_to_dataset_pads_and_resizes():
    source = read_voc(BCCD, "trainval", class_names=BCCD_CLASSES)
    ds = source.to_dataset()
    spec = ds.element_spec
    assert spec["images"].shape.as_list() == [None, None, 3]
    assert spec["bounding_boxes"]["boxes"].shape.as_list() == [20, 4]
    assert spec["bounding_boxes"]["labels"].shape.as_list() == [20]
    first, second = list(ds.as_numpy_iterator())
    assert first["images"].shape == (480, 640, 3) and first["images"].dtype == np.float32
    assert 0 <= first["images"].min() and first["images"].max() <= 255
    assert first["images"].max() > 1  # 0..255, not 0..1
    np.testing.assert_array_equal(
        second["bounding_boxes"]["boxes"][:12], source.examples[1]["boxes"]
    )
    assert (second["bounding_boxes"]["boxes"][12:] == -1).all()
    assert (second["bounding_boxes"]["labels"][12:] == -1).all()
    batch = next(iter(source.to_dataset(image_size=(240, 320), max_boxes=25).batch(2)))
    assert batch["images"].shape == (2, 240, 320, 3)
    boxes = batch["bounding_boxes"]["boxes"].numpy()
    assert boxes.shape == (2, 25, 4)
    np.testing.assert_allclose(boxes[1, :12], source.examples[1]["boxes"] / 2)
    assert (boxes[1, 12:] == -1).all()  # the padding is not scaled
    with pytest.raises(ValueError, match=r"BloodImage_00000\.jpg has 20 boxes.*max_boxes=5"):
        source.to_dataset(max_boxes=5)


def test_to_dataset_background_and_difficult():
    source = read_voc(EDGE, "edge")
    boxes, background = source.to_dataset().as_numpy_iterator()
    assert boxes["bounding_boxes"]["labels"].tolist() == [1, 2]
    assert background["bounding_boxes"]["labels"].tolist() == [-1, -1]
    assert background["images"].shape == (24, 32, 3)
    easy, _ = source.to_dataset(drop_difficult=True).as_numpy_iterator()
    assert easy["bounding_boxes"]["labels"].tolist() == [1]
    np.testing.assert_array_equal(easy["bounding_boxes"]["boxes"], [[4, 3, 14, 12]])


def test_load_image_and_corrupt_images(tmp_path):
    image = load_image(COCO / "images" / "a.png")
    assert image.shape == (24, 32, 3) and image.dtype == np.uint8
    with pytest.raises(CorruptImageError, match=r"truncated\.png"):
        load_image(FIXTURES / "corrupt" / "truncated.png")
    with pytest.raises(CorruptImageError, match=r"not_an_image\.png"):
        load_image(FIXTURES / "corrupt" / "not_an_image.png")
    # a truncated image passes the readers' header check; validate() decodes and names it
    root = tmp_path / "voc"
    shutil.copytree(EDGE, root)
    shutil.copy(FIXTURES / "corrupt" / "truncated.png", root / "JPEGImages" / "background.jpg")
    source = read_voc(root, "edge", check_images=False)
    with pytest.raises(CorruptImageError, match=r"background\.jpg"):
        source.validate()
    kept = source.validate(skip_corrupt=True)
    assert len(kept) == 1 and kept.report.corrupt_images == 1
    assert kept.report.background_images == 0 and kept.report.clipped_boxes == 1


def test_report_str_and_dict():
    r = DetectionReport(images=3, boxes=4, crowd_boxes=1)
    assert str(r) == "3 images, 4 boxes (0 clipped, 0 dropped), 0 background images; 1 crowd"
    assert r.as_dict()["boxes"] == 4


# --- tensorflow-datasets ------------------------------------------------------------------------


def test_read_tfds_voc_converts_relative_yxyx():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    jpegs = [(EDGE / "JPEGImages" / f).read_bytes() for f in ("edge_boxes.jpg", "background.jpg")]
    # tfds' voc.py divides the XML's numbers by the size: [ymin, xmin, ymax, xmax] / size
    voc = {
        "edge_boxes.jpg": (
            [[4 / 24, 5 / 32, 12 / 24, 14 / 32], [10 / 24, 20 / 32, 24 / 24, 32 / 32]],
            [14, 11],
            [False, True],
        ),
        "background.jpg": (np.zeros((0, 4)), [], []),
    }

    def as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
        assert isinstance(decoders["image"], tfds.decode.SkipDecoding)  # bytes, not pixels

        def examples():
            for data, (name, (bbox, label, difficult)) in zip(jpegs, voc.items()):
                yield {
                    "image": data,
                    "image/filename": name,
                    "objects": {
                        "bbox": np.asarray(bbox, np.float32).reshape(-1, 4),
                        "label": np.asarray(label, np.int64),
                        "is_difficult": np.asarray(difficult, bool),
                    },
                }

        signature = {
            "image": tf.TensorSpec([], tf.string),
            "image/filename": tf.TensorSpec([], tf.string),
            "objects": {
                "bbox": tf.TensorSpec([None, 4], tf.float32),
                "label": tf.TensorSpec([None], tf.int64),
                "is_difficult": tf.TensorSpec([None], tf.bool),
            },
        }
        return tf.data.Dataset.from_generator(examples, output_signature=signature)

    # mock_data's own random VOC examples cannot serve: their objects' bbox, label and
    # is_difficult get different lengths (15, 11, 8 boxes), which the reader rejects
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        source = read_tfds_voc("train")
    assert source.class_names == VOC_CLASSES and source.class_names[14] == "person"
    boxes, background = source.examples
    assert boxes["image"] == "tfds:voc/2007/train/edge_boxes.jpg" and boxes["size"] == (24, 32)
    np.testing.assert_array_equal(boxes["boxes"], [[4, 3, 14, 12], [19, 9, 32, 24]])
    assert boxes["labels"].tolist() == [14, 11] and boxes["difficult"].tolist() == [False, True]
    assert background["size"] == (24, 32) and background["boxes"].shape == (0, 4)
    assert report(source) == {"images": 2, "boxes": 2, "background_images": 1, "difficult_boxes": 1}
    assert source.load_image(0).shape == (24, 32, 3)
    first, second = source.to_dataset(image_size=(48, 64)).as_numpy_iterator()
    assert first["images"].shape == (48, 64, 3)
    np.testing.assert_allclose(first["bounding_boxes"]["boxes"], [[8, 6, 28, 24], [38, 18, 64, 48]])
    assert second["bounding_boxes"]["labels"].tolist() == [-1, -1]
