"""Readers, splits and pipelines of `training.data`, on the tiny real fixtures."""

from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from training.data import (CorruptImageError, LabelledSource, balanced_dataset, image_folder,
                           kfold, load_source, pgm_faces, read_pgm, split)
from training.data.idx import mnist, read_idx
from training.data.splits import kfold_indices, split_indices

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DIGITS = FIXTURES / "digits"


# --- IDX ----------------------------------------------------------------------------------------

def test_idx_reads_real_digits():
    images = read_idx(FIXTURES / "mnist-tiny-images-idx3-ubyte.gz")
    labels = read_idx(FIXTURES / "mnist-tiny-labels-idx1-ubyte.gz")
    assert images.shape == (40, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [4] * 10
    assert images.max() == 255 and images[:, 0, 0].max() == 0  # ink in the middle only


def test_idx_rejects_bad_magic_and_truncation(tmp_path):
    with pytest.raises(ValueError, match="bad-magic-idx3-ubyte.*0x0d"):
        read_idx(FIXTURES / "bad-magic-idx3-ubyte")
    raw = (FIXTURES / "bad-magic-idx3-ubyte").read_bytes()
    cut = tmp_path / "cut-idx3-ubyte"
    cut.write_bytes(b"\x00\x00\x08\x03" + raw[4:-100])
    with pytest.raises(ValueError, match="cut-idx3-ubyte is truncated"):
        read_idx(cut)


def test_mnist_source_and_label_range(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for kind in ("images-idx3", "labels-idx1"):
        shutil.copy(FIXTURES / f"mnist-tiny-{kind}-ubyte.gz", folder / f"train-{kind}-ubyte.gz")
    source = mnist(folder, "train")
    assert source.items.shape == (40, 28, 28, 1) and source.num_classes == 10
    assert load_source("mnist", "train", tmp_path).labels.tolist() == source.labels.tolist()
    with pytest.raises(ValueError, match="label 12 out of range"):
        LabelledSource("arrays", source.items, np.full(40, 12), source.class_names, name="x")


# --- image folders and zips ---------------------------------------------------------------------

def test_image_folder_lists_and_labels_sorted():
    source = image_folder(DIGITS, "train")
    assert source.class_names == ("digit0", "digit1", "digit2")
    assert source.class_counts().tolist() == [6, 6, 6]
    x, y = source.arrays()
    assert x.shape == (18, 28, 28, 3) and x.dtype == np.uint8
    # tint per class: digit0 is red-dominant, digit1 green, digit2 blue
    for c in range(3):
        assert x[y == c].reshape(-1, 3).sum(0).argmax() == c


def test_image_zip_equals_folder(tmp_path):
    archive = tmp_path / "digits.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(DIGITS.rglob("*.jpg")):
            z.write(p, p.relative_to(DIGITS).as_posix())
    a, b = image_folder(DIGITS, "test"), image_folder(archive, "test")
    assert b.kind == "zip" and a.class_names == b.class_names
    np.testing.assert_array_equal(a.arrays()[0], b.arrays()[0])
    np.testing.assert_array_equal(a.labels, b.labels)
    first = next(iter(b.dataset()))
    assert first["image"].shape == (28, 28, 3) and int(first["label"]) == 0
    with pytest.raises(FileNotFoundError, match="no 'val/<class>/<image>' entries.*'test', 'train'"):
        image_folder(archive, "val")


def test_image_folder_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="Image folder not found"):
        image_folder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"has no 'val/<class>/<image>' entries; its "
                       r"top-level folders are \['test', 'train'\]"):
        image_folder(DIGITS, "val")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match="No images"):
        image_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"class folders \['digit2'\] are not in class_names"):
        image_folder(DIGITS, "train", class_names=["digit0", "digit1"])


@pytest.fixture
def folder_with_corrupt(tmp_path):
    root = tmp_path / "imgs"
    shutil.copytree(DIGITS / "train", root)
    shutil.copy(FIXTURES / "corrupt" / "truncated.png", root / "digit1" / "truncated.png")
    shutil.copy(FIXTURES / "corrupt" / "not_an_image.png", root / "digit2" / "text.png")
    return root


def test_corrupt_image_is_named(folder_with_corrupt):
    with pytest.raises(CorruptImageError, match=r"(truncated|text)\.png"):
        image_folder(folder_with_corrupt)


def test_skip_corrupt_drops_and_logs_count(folder_with_corrupt, caplog):
    with caplog.at_level(logging.WARNING):
        source = image_folder(folder_with_corrupt, skip_corrupt=True)
    assert len(source) == 18 and not any("png" in str(p) for p in source.items)
    assert "skipped 2 corrupt image(s) of 20" in caplog.text


# --- PGM ----------------------------------------------------------------------------------------

def _pgm(path: Path, array: np.ndarray, maxval: int, ascii_: bool = False, comment: bool = True):
    h, w = array.shape
    head = (b"P2" if ascii_ else b"P5") + (b"\n# a comment\n" if comment else b"\n")
    head += f"{w} {h}\n{maxval}\n".encode()
    if ascii_:
        body = " ".join(str(v) for v in array.ravel()).encode()
    else:
        body = array.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    path.write_bytes(head + body)


def test_pgm_8_and_16_bit_and_ascii(tmp_path):
    a8 = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    a16 = np.array([[0, 1000, 65535], [258, 4000, 7]], dtype=np.uint16)
    _pgm(tmp_path / "a.pgm", a8, 255)
    _pgm(tmp_path / "b.pgm", a16, 65535)
    _pgm(tmp_path / "c.pgm", a8, 255, ascii_=True)
    np.testing.assert_array_equal(read_pgm(tmp_path / "a.pgm"), a8)
    got = read_pgm(tmp_path / "b.pgm")
    assert got.dtype == np.uint16 and got.dtype.byteorder in "=|<"
    np.testing.assert_array_equal(got, a16)  # big-endian on disk, exact values back
    np.testing.assert_array_equal(read_pgm(tmp_path / "c.pgm"), a8)


def test_pgm_errors(tmp_path):
    (tmp_path / "x.pgm").write_bytes(b"P6\n2 2\n255\n" + bytes(12))
    with pytest.raises(ValueError, match="x.pgm is not a PGM file"):
        read_pgm(tmp_path / "x.pgm")
    _pgm(tmp_path / "t.pgm", np.zeros((10, 10), np.uint16) + 300, 65535)
    (tmp_path / "t.pgm").write_bytes((tmp_path / "t.pgm").read_bytes()[:-7])
    with pytest.raises(ValueError, match="t.pgm is truncated"):
        read_pgm(tmp_path / "t.pgm")


def test_pgm_faces_layout(tmp_path):
    rng = np.random.default_rng(0)
    for person in (1, 2, 10):
        d = tmp_path / f"s{person}"
        d.mkdir()
        for k in (1, 2, 10):
            _pgm(d / f"{k}.pgm", np.full((6, 5), person * 10 + k, np.uint8), 255,
                 comment=bool(rng.integers(2)))
    faces = pgm_faces(tmp_path)
    assert faces.class_names == ("s1", "s2", "s10")  # numeric order, not "s1, s10, s2"
    assert faces.items.shape == (9, 6, 5, 1)
    assert faces.items[:, 0, 0, 0].tolist() == [11, 12, 20, 21, 22, 30, 101, 102, 110]


# --- splits -------------------------------------------------------------------------------------

def test_split_is_stratified_seeded_and_a_partition():
    labels = np.repeat(np.arange(4), [40, 20, 20, 20])
    parts = split_indices(labels, (0.8, 0.1, 0.1), seed=3)
    everything = np.sort(np.concatenate(parts))
    np.testing.assert_array_equal(everything, np.arange(100))
    assert [len(p) for p in parts] == [80, 10, 10]
    assert np.bincount(labels[parts[1]]).tolist() == [4, 2, 2, 2]  # shares kept
    again = split_indices(labels, (0.8, 0.1, 0.1), seed=3)
    other = split_indices(labels, (0.8, 0.1, 0.1), seed=4)
    assert all((a == b).all() for a, b in zip(parts, again))
    assert not (parts[1] == other[1]).all()
    with pytest.raises(ValueError, match="summing to 1"):
        split_indices(labels, (0.8, 0.3))


def test_kfold_each_item_validated_once():
    labels = np.repeat(np.arange(3), 10)
    folds = kfold_indices(labels, 5, seed=0)
    val = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(val), np.arange(30))
    for t, v in folds:
        assert len(np.intersect1d(t, v)) == 0 and len(t) + len(v) == 30
        assert np.bincount(labels[v]).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="`k` must be an integer"):
        kfold_indices(labels, 1)
    source = image_folder(DIGITS, "train")
    pairs = kfold(source, 3)
    assert [len(v) for _, v in pairs] == [6, 6, 6]
    tr, va = split(source, (0.5, 0.5))
    assert len(tr) == len(va) == 9


def test_balanced_sampling_equalises_classes():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    source = LabelledSource("arrays", np.zeros((100, 2, 2, 1), np.uint8), labels,
                            ("a", "b", "c"))
    drawn = [int(e["label"]) for e in balanced_dataset(source, seed=0).take(3000)]
    shares = np.bincount(drawn, minlength=3) / 3000
    np.testing.assert_allclose(shares, 1 / 3, atol=0.04)


# --- pipelines ----------------------------------------------------------------------------------

def test_pipeline_pads_shuffles_batches():
    from training.data.pipeline import make_pipeline

    source = image_folder(DIGITS, "train")
    ds = make_pipeline(source.dataset(), batch_size=4, training=True, image_size=(32, 32),
                       channels=1, fit="pad", seed=0)
    batches = list(ds)
    assert [int(x.shape[0]) for x, _ in batches] == [4, 4, 4, 4, 2]
    x, y = batches[0]
    assert x.shape == (4, 32, 32, 1) and x.dtype.name == "float32"
    assert float(np.min(x)) >= 0 and float(np.max(x)) <= 1
    assert float(np.abs(x[:, :2]).max()) == 0.0  # 2-pixel zero border from the padding
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(labels.tolist()) == sorted(source.labels.tolist())  # nothing lost
    assert labels.tolist() != source.labels.tolist()  # shuffled
    second = np.concatenate([y.numpy() for _, y in ds])
    assert second.tolist() != labels.tolist()  # a new order every epoch
    evaluation = make_pipeline(source.dataset(), batch_size=5, training=False,
                               image_size=(16, 16), channels=3)
    y_eval = np.concatenate([y.numpy() for _, y in evaluation])
    assert y_eval.tolist() == source.labels.tolist()  # evaluation keeps order


def test_array_dataset_matches_tf_pipeline():
    from training.data.arrays import ArrayDataset, prepare_arrays
    from training.data.pipeline import make_pipeline

    source = image_folder(DIGITS, "test")
    x, y = source.arrays()
    prepared = prepare_arrays(x, image_size=(32, 32), channels=1, fit="pad")
    tf_x = np.concatenate([b.numpy() for b, _ in make_pipeline(
        source.dataset(), batch_size=6, training=False, image_size=(32, 32), channels=1,
        fit="pad")])
    # Same preparation; Pillow's and TensorFlow's JPEG decoders round chroma upsampling
    # differently, by a few grey levels at most.
    np.testing.assert_allclose(prepared, tf_x, atol=6 / 255)
    assert np.abs(prepared - tf_x).mean() < 1 / 255
    ds = ArrayDataset(prepared, y, 4, training=True, seed=0)
    assert len(ds) == 2
    seen = np.concatenate([ds[i][1] for i in range(len(ds))])
    assert sorted(seen.tolist()) == sorted(y.tolist())


def test_tfds_by_name_with_mock_data():
    import tensorflow_datasets as tfds

    from training.data import load_dataset

    with tfds.testing.mock_data(num_examples=6):
        ds, names = load_dataset("tfds:mnist", "train")
        examples = list(ds)
    assert len(examples) == 6 and names == tuple(str(i) for i in range(10))
    assert examples[0]["image"].shape == (28, 28, 1) and examples[0]["label"].dtype.name == "int64"


def test_unknown_dataset_lists_known():
    with pytest.raises(ValueError, match="Unknown dataset 'mnsit'. Known: mnist, cifar10"):
        load_source("mnsit")


def test_pack_split_copies_one_split(tmp_path):
    from training.data.pack import pack_split

    archive = tmp_path / "digits.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(DIGITS.rglob("*.jpg")):
            z.write(p, p.relative_to(DIGITS).as_posix())
    count, _ = pack_split(archive, "test", tmp_path / "test.zip")
    assert count == 6
    packed = image_folder(tmp_path / "test.zip", "test")
    np.testing.assert_array_equal(packed.arrays()[0], image_folder(DIGITS, "test").arrays()[0])
    with pytest.raises(ValueError, match="no 'val/' members"):
        pack_split(archive, "val", tmp_path / "val.zip")


def test_pk_batches_always_hold_positives_and_negatives():
    from training.data.metric import pk_batches, pk_indices

    labels = np.repeat(np.arange(6), [5, 1, 3, 8, 2, 4])  # uneven; identity 1 has one image
    rows = pk_indices(labels, p=3, k=2, batches=50, seed=0)
    assert rows.shape == (50, 6)
    for row in rows:
        ids, counts = np.unique(labels[row], return_counts=True)
        assert len(ids) == 3 and (counts == 2).all()
    assert not (pk_indices(labels, 3, 2, 50, seed=1) == rows).all()
    with pytest.raises(ValueError, match="`k` .* must be an integer >= 2"):
        pk_indices(labels, 3, 1, 1)
    with pytest.raises(ValueError, match="only 6"):
        pk_indices(labels, 7, 2, 1)
    source = image_folder(DIGITS, "train")
    batch = next(iter(pk_batches(source, p=2, k=3, seed=0)))
    assert batch["image"].shape == (6, 28, 28, 3)
    assert sorted(np.unique(batch["label"].numpy(), return_counts=True)[1].tolist()) == [3, 3]


def test_huge_and_16_bit_images(tmp_path):
    """A decompression bomb (256 Mpx in a 30 KB PNG) is refused with its name instead of
    crashing; a 16-bit grey PNG is scaled to 8 bits, not clipped."""
    from PIL import Image

    from training.data.sources import decode_image_bytes

    root = tmp_path / "imgs"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        Image.new("L", (8, 8), 100).save(root / c / "ok.png")
    Image.new("1", (16000, 16000)).save(root / "a" / "bomb.png")
    with pytest.raises(CorruptImageError, match=r"bomb.png is too large to decode safely"):
        image_folder(root)
    assert len(image_folder(root, skip_corrupt=True)) == 2
    wide = Image.fromarray(np.full((4, 4), 32896, np.uint16).astype(np.int32)).convert("I;16")
    path = tmp_path / "wide.png"
    wide.save(path)
    got = decode_image_bytes(path.read_bytes(), "wide.png")
    assert got.shape == (4, 4, 1) and got.dtype == np.uint8 and (got == 128).all()


def test_unprepared_tfds_set_without_network_fails_fast(tmp_path, monkeypatch):
    """An offline tfds.load retries for minutes; the reader says at once what to do."""
    import time

    from training.data import tfds_source as T

    monkeypatch.setattr(T, "PROBE_HOST", ("no-such-host.invalid", 443))
    start = time.monotonic()
    with pytest.raises(FileNotFoundError, match="mnist is not prepared on this machine.*"
                                                "--data-dir DIR"):
        T.tfds_source("mnist", "train", data_dir=str(tmp_path))
    assert time.monotonic() - start < 30
