"""training.bench: alternating timing, ratios from medians, the pipeline row, the torch row."""

import contextlib
import io
import json
import math
import statistics
import sys
import time
import types

import keras
import numpy as np
import pytest

from training import bench

TINY_ARGS = ["--tiny", "--models", "mobilenet"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny benchmark run (MobileNet pair, ResNet-20, pipeline), shared by the tests."""
    path = tmp_path_factory.mktemp("bench") / "b.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = bench.main(TINY_ARGS + ["--json", str(path)])
    return result, json.loads(path.read_text()), out.getvalue()


def test_time_trials_alternates_and_times_each_call():
    calls = []

    def slow():
        calls.append("A")
        start = time.perf_counter()
        while time.perf_counter() - start < 0.01:
            pass

    def fast():
        calls.append("B")

    times = bench.time_trials({"A": slow, "B": fast}, repeats=3, warmup=1)
    assert calls == ["A", "B"] * 4  # one untimed warm-up round, then three timed ones
    assert [len(times["A"]), len(times["B"])] == [3, 3]
    assert min(times["A"]) >= 0.01 > max(times["B"])
    with pytest.raises(ValueError, match="repeats"):
        bench.time_trials({"A": fast}, repeats=0)


def test_rates_are_per_trial_with_a_median():
    r = bench.rates([1.0, 2.0, 4.0], images_per_trial=8)
    assert r["trials_images_per_s"] == [8.0, 4.0, 2.0]
    assert r["images_per_s"] == 4.0


def test_targets_compare_with_thresholds():
    side = {"images_per_s": 1.0}
    result = {"pairs": [{"model": "m", "reference": "ref", "head": "top", "image_size": 32,
                         "peak_rss_mb": 1.0, "train": {"zoo": side, "reference": side,
                                                       "ratio": 0.969},
                         "infer": {"zoo": side, "reference": side, "ratio": 0.97}}],
              "pipeline": {"ratio_cached": 5.0, "ratio_no_cache": 4.9},
              "torch": {"model": "resnet50", "ratio": 0.91}}
    met = {t["target"]: t["met"] for t in bench.check_targets(result)}
    assert met == {"train ratio m": False, "infer ratio m": True,
                   "pipeline (cached) / resnet20_cifar train": True,
                   "pipeline (no cache) / resnet20_cifar train": False,
                   "train ratio resnet50 keras/torch": True}
    assert "0.969" in bench.format_table(result["pairs"])


def test_tiny_run_ratios_are_zoo_over_reference_medians(tiny_run):
    result, saved, _ = tiny_run
    assert saved["settings"]["batch_size"] == 2 and saved["settings"]["image_size"] == 32
    assert saved["settings"]["backend"] and saved["device"]["summary"]
    pair, denominator = saved["pairs"]
    assert pair["model"] == "mobilenet"
    assert pair["reference"] == "keras.applications.MobileNet"
    assert pair["params"]["zoo"] == pair["params"]["reference"]  # same layout
    images = 2 * 2  # batch x steps
    for task in ("train", "infer"):
        sides = pair[task]
        for side in ("zoo", "reference"):
            trials = sides[side]["trials_s"]
            assert len(trials) == 2 and min(trials) > 0
            assert sides[side]["trials_images_per_s"] == pytest.approx([images / t for t in trials])
            assert sides[side]["images_per_s"] == pytest.approx(
                statistics.median(images / t for t in trials))
        assert sides["ratio"] == pytest.approx(
            sides["zoo"]["images_per_s"] / sides["reference"]["images_per_s"])
    assert all(math.isfinite(v) for v in pair["final_loss"].values())
    assert pair["peak_rss_mb"] > 100
    assert denominator["model"] == "resnet20_cifar" and denominator["reference"] is None
    assert denominator["train"]["zoo"]["images_per_s"] > 0 and "ratio" not in denominator["train"]
    assert saved["pairs"] == json.loads(json.dumps(result["pairs"], default=str))


def test_tiny_run_pipeline_row(tiny_run):
    _, saved, _ = tiny_run
    pipe = saved["pipeline"]
    assert pipe["images"] == 32 and pipe["image_size"] == 32
    model_rate = saved["pairs"][1]["train"]["zoo"]["images_per_s"]
    assert pipe["model_train_images_per_s"] == model_rate
    for kind in ("first_epoch", "cached", "no_cache"):
        assert pipe[f"{kind}_images_per_s"] > 0
        assert pipe[f"ratio_{kind}"] == pytest.approx(pipe[f"{kind}_images_per_s"] / model_rate)
    # the cache skips reading, decoding and resizing: reading it must be faster
    assert pipe["cached_images_per_s"] > pipe["no_cache_images_per_s"]


def test_tiny_run_prints_table_and_one_line_per_target(tiny_run):
    _, saved, printed = tiny_run
    assert "train ref img/s" in printed and "k.a.MobileNet" in printed
    names = [t["target"] for t in saved["targets"]]
    assert names == ["train ratio mobilenet", "infer ratio mobilenet",
                     "pipeline (cached) / resnet20_cifar train",
                     "pipeline (no cache) / resnet20_cifar train"]
    for t in saved["targets"]:
        assert t["met"] == (t["value"] >= t["threshold"])
        verdict = "met" if t["met"] else "not met"
        assert f"{t['target']} {t['value']:.2f} >= {t['threshold']:g}: {verdict}" in printed


def test_pipeline_is_skipped_with_a_note_without_tensorflow(monkeypatch):
    # patched in the module whose `_pipeline_section` looks it up
    monkeypatch.setattr(bench.pipeline, "tensorflow_available", lambda: False)
    notes = []
    assert bench.pipeline._pipeline_section(bench.parse_args(["--tiny"]), notes.append) is None
    assert "TensorFlow is not importable" in notes[0]


def _tiny_torch_net(classes, size=16):
    """A small conv net that can memorise a batch (flattened features, no pooling)."""
    import torch

    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                               torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(8 * size * size, classes))


@pytest.fixture
def torch_one_thread():
    """Torch on one thread: its OpenMP workers crawl (~100x) on a busy 2-core test machine."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.mark.parametrize("precision", [None, "bfloat16"])
def test_torch_train_step_learns_a_fixed_batch(precision, torch_one_thread):
    torch = torch_one_thread
    torch.manual_seed(0)
    x, y = bench.random_batch(8, 16, 4)
    step = bench.torch_train_step(_tiny_torch_net(4), torch.from_numpy(x).permute(0, 3, 1, 2),
                                  torch.from_numpy(y).long(), precision=precision,
                                  device=torch.device("cpu"))
    trial = bench.torch_trial(step, 1, torch.device("cpu"))
    losses = [trial() for _ in range(30)]
    assert losses[-1] < 0.7 * losses[0]


def test_keras_vs_torch_row_mechanics(torch_one_thread, monkeypatch):
    """The whole torch row on CPU with small models on both sides: a stand-in `torchvision`
    module returns a tiny net for ``resnet50`` (so this runs where torchvision is absent)."""
    fake = types.SimpleNamespace(models=types.SimpleNamespace(
        resnet50=lambda num_classes: _tiny_torch_net(num_classes)))
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    row = bench.bench_torch_resnet50(batch_size=2, image_size=16, steps=1, repeats=2,
                                     classes=4, device="cpu", zoo_name="resnet20_cifar",
                                     precision="bfloat16")
    assert row["device"] == "cpu" and row["reference"] == "torchvision.models.resnet50"
    assert row["precision"] == "bfloat16" and row["keras_dtype_policy"] == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    for side in ("keras", "torch"):
        assert len(row[side]["trials_s"]) == 2 and row[side]["images_per_s"] > 0
    keras_rate, torch_rate = row["keras"]["images_per_s"], row["torch"]["images_per_s"]
    assert row["ratio"] == pytest.approx(keras_rate / torch_rate)
    assert np.isfinite(list(row["final_loss"].values())).all()


def test_torch_resnet50_row_tiny(torch_one_thread):
    pytest.importorskip("torchvision", reason="torchvision is not installed: torch row skipped")
    row = bench.bench_torch_resnet50(batch_size=2, image_size=32, steps=1, repeats=2,
                                     classes=10, device="cpu")
    assert row["reference"] == "torchvision.models.resnet50"
    assert row["keras"]["images_per_s"] > 0 and row["torch"]["images_per_s"] > 0
    keras_rate, torch_rate = row["keras"]["images_per_s"], row["torch"]["images_per_s"]
    assert row["ratio"] == pytest.approx(keras_rate / torch_rate)


# --- triplet loss: vectorised batch-hard vs the naive per-anchor loop ---------------------------

def _triplet_case(batch_size, dim=4, seed=0):
    """Random embeddings and labels with pairs, a triple and a lone identity (an anchor with no
    positive, which both versions must leave out of the mean)."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.repeat(np.arange(batch_size // 2 - 1), 2), [99, 7]])[:batch_size]
    labels = rng.permutation(labels).astype("int32")
    x = rng.normal(size=(batch_size, dim)).astype("float32")
    return x, labels


@pytest.mark.parametrize("batch_size", [8, 16])
@pytest.mark.parametrize("distance", ["squared_l2", "l2", "cosine"])
def test_naive_triplet_loop_matches_batch_hard_loss_and_gradient(batch_size, distance):
    from zoo.losses.triplet import TripletLoss

    x_np, y_np = _triplet_case(batch_size, seed=batch_size)
    assert np.sum(y_np == 99) == 1  # an anchor without a positive
    x, y = keras.ops.convert_to_tensor(x_np), keras.ops.convert_to_tensor(y_np)
    loss = TripletLoss(margin=0.3, distance=distance, mining="batch_hard")
    want, want_grad = bench.value_and_grad(lambda e: loss(y, e))(x)
    got, got_grad = bench.value_and_grad(
        lambda e: bench.naive_batch_hard_triplet_loss(y_np, e, 0.3, distance))(x)
    assert want > 0.05 and np.abs(want_grad).max() > 1e-3  # not a vacuous 0 == 0
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got_grad, want_grad, atol=1e-5)
    # the comparison can fail: another margin moves the value, another mining the gradient
    other, _ = bench.value_and_grad(
        lambda e: bench.naive_batch_hard_triplet_loss(y_np, e, 0.5, distance))(x)
    assert abs(other - want) > 1e-3
    _, all_grad = bench.value_and_grad(
        lambda e: TripletLoss(margin=0.3, distance=distance, mining="batch_all")(y, e))(x)
    assert np.abs(all_grad - got_grad).max() > 1e-3


def test_naive_triplet_loop_is_zero_with_nothing_to_mine():
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    for labels in ([1, 1, 1, 1], [0, 1, 2, 3]):
        assert float(bench.naive_batch_hard_triplet_loss(np.array(labels), x)) == 0.0


def test_bench_triplet_row_has_ratios_of_medians_and_sizes_from_shapes():
    row = bench.bench_triplet(8, dim=4, repeats=2, warmup=1)
    sides = row["sides"]
    for name in ("naive", "batch_hard", "batch_hard_compiled", "batch_all", "semi_hard"):
        trials = sides[name]["trials_s"]
        assert len(trials) == 2 and min(trials) > 0
        assert sides[name]["median_s"] == pytest.approx(statistics.median(trials))
        assert math.isfinite(sides[name]["loss"])
    hard = sides["batch_hard"]["median_s"]
    assert row["ratio"] == pytest.approx(sides["naive"]["median_s"] / hard)
    assert row["ratio_compiled"] == pytest.approx(
        sides["naive"]["median_s"] / sides["batch_hard_compiled"]["median_s"])
    for mining in ("batch_all", "semi_hard"):
        assert row["ratio_to_batch_hard"][mining] == pytest.approx(sides[mining]["median_s"] / hard)
    assert sides["naive"]["loss"] == pytest.approx(sides["batch_hard"]["loss"], abs=1e-5)
    assert sides["batch_hard_compiled"]["loss"] == pytest.approx(sides["batch_hard"]["loss"],
                                                                 abs=1e-5)
    assert row["check"]["loss_abs_diff"] < 1e-5 and row["check"]["grad_max_abs_diff"] < 1e-5
    assert sides["batch_hard"]["largest_intermediate"] == {"shape": [8, 8], "bytes": 4 * 8**2}
    assert sides["batch_all"]["largest_intermediate"] == {"shape": [8, 8, 8], "bytes": 4 * 8**3}
    assert sides["semi_hard"]["largest_intermediate"]["bytes"] == 4 * 8**3
    assert json.loads(json.dumps(row, default=str))["ratio"] == pytest.approx(row["ratio"])


def test_bench_triplet_skips_the_cubic_losses_above_the_memory_limit():
    # the default limit: B = 1024 needs a 4 GiB B^3 tensor (skipped), B = 256 64 MiB (timed)
    limit = bench.TRIPLET_MAX_INTERMEDIATE_BYTES
    assert bench.triplet_largest_intermediate("batch_all", 1024)["bytes"] == 4 * 2**30 > limit
    assert bench.triplet_largest_intermediate("semi_hard", 256)["bytes"] == 64 * 2**20 < limit
    assert bench.triplet_largest_intermediate("batch_hard", 1024)["bytes"] == 4 * 2**20
    row = bench.bench_triplet(16, dim=4, repeats=1, compiled=False,
                              max_intermediate_bytes=4 * 16**3 - 1)
    for mining in ("batch_all", "semi_hard"):
        assert "GiB" in row["sides"][mining]["skipped"]
        assert "median_s" not in row["sides"][mining]
        assert row["ratio_to_batch_hard"][mining] is None
    assert row["sides"]["batch_hard_compiled"]["skipped"] and row["ratio_compiled"] is None
    assert row["ratio"] > 0


def test_triplet_suite_cli_writes_rows_and_prints_the_table(tmp_path):
    path = tmp_path / "t.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = bench.main(["--suite", "triplet", "--triplet-batch-sizes", "8",
                             "--triplet-dim", "4", "--repeats", "1", "--json", str(path)])
    saved = json.loads(path.read_text())
    assert [r["batch_size"] for r in saved["triplet"]] == [8] and saved["pairs"] == []
    assert saved["settings"]["triplet"] == {"batch_sizes": [8], "dim": 4,
                                            "distance": "squared_l2"}
    assert saved["triplet"][0]["ratio"] == pytest.approx(result["triplet"][0]["ratio"])
    printed = out.getvalue()
    assert "naive/hard" in printed and "train ref img/s" not in printed


# --- dense prediction: U-Net forward vs ResNet-50, max-unpooling, mixed-precision training -----

DENSE_ARGS = ["--suite", "dense", "--image-sizes", "32", "--unet-filters", "2",
              "--unpool-shape", "2,8,8,4", "--image-size", "32", "--batch-size", "2",
              "--steps", "1", "--repeats", "2"]


def test_dense_suite_cli_writes_forward_and_unpooling_rows(tmp_path):
    path = tmp_path / "d.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = bench.main(DENSE_ARGS + ["--json", str(path)])
    saved = json.loads(path.read_text())
    assert saved["pairs"] == [] and "triplet" not in saved
    assert saved["settings"]["dense"]["unpool_shape"] == [2, 8, 8, 4]
    (row,) = saved["dense"]["forward"]
    assert row["image_size"] == 32 and row["batch_size"] == 1
    models = row["models"]
    assert set(models) == {"paper", "shipped", "reference"}
    assert models["paper"]["builder_args"] == {"filters": 2, "depth": 4, "classes": 2}
    assert models["shipped"]["builder_args"]["batch_norm"] is True
    assert models["reference"]["params"] == 23_587_712  # ResNet-50 without its top
    reference_s = statistics.median(models["reference"]["trials_s"])
    for m in models.values():
        assert len(m["trials_s"]) == 2 and min(m["trials_s"]) > 0
        assert m["ms_per_image"] == pytest.approx(1000 * statistics.median(m["trials_s"]))
        assert m["ratio"] == pytest.approx(statistics.median(m["trials_s"]) / reference_s)
        assert m["ratio"] > 0
    assert models["reference"]["ratio"] == 1.0

    unpool = saved["dense"]["unpooling"]
    assert unpool["shape"] == [2, 8, 8, 4] and unpool["pooled_shape"] == [2, 4, 4, 4]
    ms = {name: side["ms"] for name, side in unpool["sides"].items()}
    assert set(ms) == {"onehot", "scatter", "upsampling"} and min(ms.values()) > 0
    assert unpool["ratio"] == pytest.approx(ms["scatter"] / ms["onehot"])
    for method in ("onehot", "scatter"):
        assert unpool["ratio_to_upsampling"][method] == pytest.approx(ms[method] / ms["upsampling"])
    # onehot and scatter place the same values: identical outputs and gradients
    assert unpool["check"]["output_max_abs_diff"] == 0.0
    assert unpool["check"]["grad_max_abs_diff"] == 0.0
    assert unpool["check"]["output_nonzero_fraction"] == 0.25  # one value per 2x2 window

    printed = out.getvalue()
    assert "x ResNet-50" in printed and "scatter/onehot" in printed
    if saved["device"]["accelerator"] is None:
        assert saved["dense"]["mixed_precision"] is None
        assert any("needs a GPU" in n for n in saved["notes"])
    else:
        assert saved["dense"]["mixed_precision"]["ratio"] > 0
    assert result["dense"]["unpooling"]["ratio"] == pytest.approx(unpool["ratio"])


def test_dense_unpooling_check_catches_methods_that_disagree(monkeypatch):
    from zoo.layers import unpooling

    real = unpooling.max_unpool

    def broken(x, argmax, output_size=None, method="onehot"):
        y = real(x, argmax, output_size, method)
        return y * 1.5 if method == "scatter" else y

    monkeypatch.setattr(unpooling, "max_unpool", broken)
    row = bench.bench_unpooling((1, 4, 4, 2), steps=1, repeats=1, compiled=False)
    assert row["check"]["output_max_abs_diff"] > 0.1 and row["check"]["grad_max_abs_diff"] > 0.1
    assert not row["compiled"]
    with pytest.raises(ValueError, match="even height"):
        bench.bench_unpooling((1, 5, 4, 2))


def test_dense_onehot_and_scatter_unpool_a_hand_made_case():
    from zoo.layers.unpooling import max_pool_with_argmax, max_unpool

    x = np.array([[1, 5, 0, 2],
                  [3, 2, 7, 1],
                  [0, 0, 1, 1],
                  [4, 0, 2, 9]], "float32").reshape(1, 4, 4, 1)
    want = np.array([[0, 5, 0, 0],
                     [0, 0, 7, 0],
                     [0, 0, 0, 0],
                     [4, 0, 0, 9]], "float32").reshape(1, 4, 4, 1)
    pooled, argmax = max_pool_with_argmax(keras.ops.convert_to_tensor(x))
    for method in ("onehot", "scatter"):
        got = keras.ops.convert_to_numpy(max_unpool(pooled, argmax, method=method))
        np.testing.assert_array_equal(got, want)


def test_dense_mixed_precision_row_mechanics():
    """The GPU row's mechanics on a tiny U-Net on the CPU (where the CLI skips it)."""
    row = bench.bench_unet_mixed_precision({"filters": 2, "depth": 1, "num_classes": 2},
                                           image_size=16, batch_size=2, steps=1, repeats=2)
    assert row["precision"] == "mixed_bfloat16"
    assert row["compute_dtype"] == {"float32": "float32", "mixed": "bfloat16"}
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    for side in ("float32", "mixed"):
        assert len(row[side]["trials_s"]) == 2 and row[side]["images_per_s"] > 0
        assert np.isfinite(row["final_loss"][side])
    assert row["ratio"] == pytest.approx(row["mixed"]["images_per_s"]
                                         / row["float32"]["images_per_s"])


def test_dense_suite_defaults_and_tiny_sizes():
    args = bench.parse_args(["--suite", "dense"])
    assert args.image_sizes == [256, 512] and args.unpool_shape == (8, 128, 128, 64)
    assert (args.image_size, args.batch_size, args.steps) == (256, 8, 2)
    assert args.unet_filters is None and bench.unet_variants()["shipped"]["filters"] == 16
    tiny = bench.parse_args(["--suite", "dense", "--tiny"])
    assert tiny.image_sizes == [32] and tiny.unpool_shape == (2, 16, 16, 8)
    assert {v["filters"] for v in bench.unet_variants(tiny.unet_filters).values()} == {4}
    models = bench.parse_args([])  # the models suite keeps its own defaults
    assert (models.image_size, models.batch_size, models.steps) == (224, 32, 10)


# --- detection: compiled NMS vs tf.image, RetinaNet forward and decoding vs ResNet-50 ----------

def test_detection_suite_cli_tiny_writes_nms_and_retinanet_rows(tmp_path):
    path = tmp_path / "det.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = bench.main(["--suite", "detection", "--tiny", "--json", str(path)])
    saved = json.loads(path.read_text())
    settings = saved["settings"]["detection"]
    assert (settings["nms_boxes"], settings["nms_max_outputs"], settings["image_sizes"]) \
        == ([200], [20], [64])
    assert saved["pairs"] == [] and "dense" not in saved

    (nms,) = saved["detection"]["nms"]
    assert (nms["num_boxes"], nms["max_output_size"], nms["iou_threshold"]) == (200, 20, 0.5)
    backend = keras.backend.backend()
    sides = {"tensorflow": {"xla", "graph"}, "jax": {"jit"}}.get(backend, {"eager"})
    assert set(nms["sides"]) == sides and nms["best"] in sides
    for side in nms["sides"].values():
        assert len(side["trials_s"]) == 2 and side["ms"] > 0
        assert side["ms"] == pytest.approx(1000 * statistics.median(side["trials_s"]) / 2)
    assert bench.tensorflow_available()  # the dev environment has the reference
    ref = nms["reference"]
    assert ref["name"].startswith("tf.image.non_max_suppression") and ref["kept"] > 0
    for name, side in nms["sides"].items():
        assert side["agree"] is True and side["kept"] == ref["kept"]
        assert nms["ratios"][name] == pytest.approx(side["ms"] / ref["ms"])
    assert nms["ratio"] == nms["ratios"][nms["best"]]
    assert nms["sides"][nms["best"]]["ms"] == min(s["ms"] for s in nms["sides"].values())

    (row,) = saved["detection"]["retinanet"]
    assert row["image_size"] == 64 and row["batch_size"] == 1 and row["max_detections"] == 10
    models = row["models"]
    assert list(models) == ["cpu", "paper", "reference"]
    variants, _ = bench.retinanet_variants()
    assert models["cpu"]["builder_args"] == variants["cpu"]
    assert models["paper"]["params"] == 33_919_604  # zoo.describe("retinanet")["params"]
    assert models["reference"]["params"] == 23_587_712 and "decode" not in models["reference"]
    reference_s = statistics.median(models["reference"]["trials_s"])
    for name in ("cpu", "paper"):
        m, d = models[name], models[name]["decode"]
        assert m["ratio"] == pytest.approx(statistics.median(m["trials_s"]) / reference_s)
        assert d["ratio"] == pytest.approx(statistics.median(d["trials_s"]) / reference_s)
        assert m["ms_per_image"] > 0 and d["ms_per_image"] > 0 and 0 <= d["detections"] <= 10
    assert models["reference"]["ratio"] == 1.0
    rss = [m["peak_rss_mb"] for m in models.values()]
    assert rss == sorted(rss) and rss[0] > 0  # the process's peak, read after each model

    targets = {t["target"]: t for t in saved["targets"]}
    agree = targets["NMS kept indices equal tf.image's (share of rows)"]
    assert agree["value"] == 1.0 and agree["met"]
    if backend in bench.NMS_TARGETS:
        op, threshold = bench.NMS_TARGETS[backend]
        t = targets[f"NMS 200 boxes, max 20: {nms['best']} / tf.image seconds"]
        assert (t["op"], t["threshold"], t["value"]) == (op, threshold, nms["ratio"])
    printed = out.getvalue()
    assert "ours/tf" in printed and "decode x ResNet-50" in printed and "retinanet cpu" in printed
    assert result["detection"]["nms"][0]["ratio"] == pytest.approx(nms["ratio"])


def _nms_row(ratio, agree=True):
    return {"num_boxes": 1000, "max_output_size": 100, "best": "xla", "ratio": ratio,
            "sides": {"xla": {"agree": agree}, "graph": {"agree": True}}}


def test_detection_targets_are_upper_bounds_on_seconds_ratios():
    result = {"settings": {"backend": "tensorflow"},
              "detection": {"nms": [_nms_row(2.0), _nms_row(2.01, agree=False)]},
              "pipeline": {"ratio_cached": 5.0, "ratio_no_cache": 4.9}}
    checks = bench.check_targets(result)
    nms = [t for t in checks if t["target"].startswith("NMS 1000")]
    assert [(t["op"], t["threshold"], t["met"]) for t in nms] == [("<=", 2.0, True),
                                                                 ("<=", 2.0, False)]
    agree = next(t for t in checks if t["target"].startswith("NMS kept"))
    assert agree["value"] == 0.75 and not agree["met"]  # 3 of 4 sides agreed
    pipeline = [t for t in checks if t["target"].startswith("pipeline")]
    assert [(t["op"], t["met"]) for t in pipeline] == [(">=", True), (">=", False)]
    # under JAX the target is strict: faster than TensorFlow's kernel
    result["settings"]["backend"] = "jax"
    result["detection"]["nms"] = [_nms_row(1.0), _nms_row(0.99)]
    assert [t["met"] for t in bench.check_targets(result) if t["target"].startswith("NMS 1000")] \
        == [False, True]
    # no reference (no TensorFlow): no ratio, so no target
    result["detection"]["nms"] = [{**_nms_row(None), "sides": {"jit": {"agree": None}}}]
    assert [t for t in bench.check_targets(result) if t["target"].startswith("NMS")] == []


def test_detection_nms_check_catches_outputs_that_disagree_with_tf_image(monkeypatch):
    from zoo.ops import nms

    real = nms.non_max_suppression

    def looser(boxes, scores, iou_threshold=0.5, **kwargs):
        return real(boxes, scores, 0.3, **kwargs)  # suppresses more than asked

    monkeypatch.setattr(nms, "non_max_suppression", looser)
    row = bench.bench_nms(300, 30, steps=1, repeats=1)
    assert {s["agree"] for s in row["sides"].values()} == {False}


def test_detection_random_boxes_lie_in_the_image_with_sides_in_range():
    boxes, scores = bench.random_boxes(2000, seed=1)
    assert boxes.dtype == scores.dtype == np.float32
    sides = boxes[:, 2:] - boxes[:, :2]
    assert sides.min() >= 10 and sides.max() <= 200
    assert boxes.min() >= 0 and boxes.max() <= 640
    assert len(np.unique(scores)) == 2000 and 0 <= scores.min() and scores.max() < 1
    np.testing.assert_array_equal(bench.random_boxes(2000, seed=1)[0], boxes)  # seeded


def test_detection_suite_defaults_tiny_sizes_and_the_cpu_variant(monkeypatch):
    args = bench.parse_args(["--suite", "detection"])
    assert (args.nms_boxes, args.nms_max_outputs, args.image_sizes) \
        == ([1000, 10000], [100, 300], [320, 640])
    assert (args.steps, args.repeats, args.nms_steps, args.max_detections) == (1, 5, 10, 100)
    tiny = bench.parse_args(["--suite", "detection", "--tiny"])
    assert (tiny.nms_boxes, tiny.image_sizes, tiny.repeats) == ([200], [64], 2)
    assert bench.parse_args(["--suite", "dense"]).image_sizes == [256, 512]
    import zoo

    describe = zoo.describe
    variants, source = bench.retinanet_variants()
    if "bccd" not in describe("retinanet")["weights"]:
        assert variants["cpu"] == bench.RETINANET_CPU_ARGS and source == "RETINANET_CPU_ARGS"
    record = {"bccd": {"builder_args": {**bench.RETINANET_CPU_ARGS, "fpn_filters": 32}}}
    monkeypatch.setattr(zoo, "describe", lambda name: {**describe(name), "weights": record})
    variants, source = bench.retinanet_variants()
    assert variants["cpu"]["fpn_filters"] == 32 and "retinanet.bccd" in source
    assert variants["paper"] == {"backbone": "resnet50", "classes": 80}
