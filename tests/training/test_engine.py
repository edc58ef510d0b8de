"""The one training engine: every task trains, resumes and stops through it, on any backend,
and the run folder survives a kill, a diverging loss and a full disk.

CI runs this file on TensorFlow and again with ``KERAS_BACKEND=jax``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.training.conftest import ROOT, SAMPLE, TASKS, tiny_recipe
from training import checkpoints as C
from training.checkpoints import DivergedError, RunError
from training.train import train

BACKEND = keras.backend.backend()


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class StopAt(keras.callbacks.Callback):
    """A crash at the start of an epoch (the process dies between epochs)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class Poison(keras.callbacks.Callback):
    """Numbers blowing up: every weight becomes NaN after the first batch of an epoch."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch, self.now = epoch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.now = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.now == self.epoch and batch == 0:
            for w in self.model.weights:
                if "float" in str(w.dtype):
                    w.assign(keras.ops.full(w.shape, float("nan"), dtype=w.dtype))


def _run(recipe, out, **kwargs):
    return train(recipe, out, verbose=0, tensorboard=False, **kwargs)


# ---------------------------------------------------------------------------------------------
# Every task: trains, resumes, stops
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_every_task_trains_resumes_and_evaluates(task, tmp_path, mnist_dir, dense_dir,
                                                 small_scenes):
    recipe = tiny_recipe(task, mnist_dir, dense_dir)
    out = tmp_path / task
    with pytest.raises(KeyboardInterrupt):  # killed after the first epoch (a phase boundary
        _run(recipe, out, callbacks=[StopAt(1)])  # for depth and the triplet warm-up)
    state = json.loads((out / "state.json").read_text())
    assert state["next_epoch"] == 1 and state["status"] == "interrupted"
    first = _rows(out / "log.csv")
    assert [r["epoch"] for r in first] == ["0"]

    summary = _run(recipe, out)  # the same command again
    assert summary["status"] == "finished" and summary["epochs_run"] == 2
    rows = _rows(out / "log.csv")
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert rows[0] == first[0]  # the first epoch's row kept as it was
    assert not (out / "resume").exists()  # dropped once finished
    for name in ("best.weights.h5", "last.weights.h5", "curves.png", "recipe.json",
                 "model.json", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    json.loads((out / "summary.json").read_text())  # valid JSON

    # what ships loads into the model that model.json names, and evaluates from the folder
    from training.evaluate import evaluate_run

    _, report = evaluate_run(out)
    assert Path(report["files"]["metrics"]).is_file()
    key = {"classification": "acc@1", "metric": "roc_auc", "segmentation": "miou",
           "depth": "scenes", "detection": "map50"}[task]
    assert key in report
    again = _run(recipe, out)  # a finished run is reported, not trained again
    assert again["status"] == "already finished"


@pytest.mark.parametrize("task", TASKS)
def test_every_task_stops_on_nan_and_keeps_good_weights(task, tmp_path, mnist_dir, dense_dir,
                                                        small_scenes):
    recipe = tiny_recipe(task, mnist_dir, dense_dir, epochs=3) if task != "depth" else \
        tiny_recipe(task, mnist_dir, dense_dir, epochs=2)
    out = tmp_path / task
    with pytest.raises(DivergedError, match="nan|NaN"):
        _run(recipe, out, callbacks=[Poison(1)])
    state = json.loads((out / "state.json").read_text())
    assert state["next_epoch"] == 1 and state["status"] == "diverged"
    summary = json.loads((out / "summary.json").read_text())  # valid JSON, no bare NaN
    assert summary["status"] == "diverged" and "NaN" not in (out / "summary.json").read_text()
    last = (out / "last.weights.h5")
    import h5py

    with h5py.File(last) as f:  # epoch 1's good weights, not the poisoned ones
        values = []
        f.visititems(lambda n, o: values.append(o[()]) if isinstance(o, h5py.Dataset) else None)
    assert values and all(np.isfinite(v).all() for v in values)


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------

class Scramble(keras.callbacks.Callback):
    """Large noise on every kernel at the start of each epoch: validation only gets worse."""

    def on_epoch_begin(self, epoch, logs=None):
        rng = np.random.default_rng(epoch)
        for layer in self.model.layers:
            if getattr(layer, "kernel", None) is not None:
                k = layer.kernel
                k.assign(keras.ops.convert_to_numpy(k) + rng.normal(0, 3, k.shape)
                         .astype("float32"))


class CopyLast(keras.callbacks.Callback):
    """Keeps a copy of each epoch's last.weights.h5 (runs after the engine's commit)."""

    def __init__(self, out: Path):
        super().__init__()
        self.out = out

    def on_epoch_end(self, epoch, logs=None):
        shutil.copy(self.out / "last.weights.h5", self.out / f"copy-{epoch}.weights.h5")


def test_best_checkpoint_survives_a_restart(tmp_path, mnist_dir, dense_dir):
    """Keras' ModelCheckpoint forgets its best score on restart, so the first epoch after a
    resume overwrote best.weights.h5 however bad it was. The engine keeps the best."""
    recipe = tiny_recipe("classification", mnist_dir, dense_dir, epochs=4, monitor="val_loss")
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _run(recipe, out, callbacks=[StopAt(2), CopyLast(out)])
    best_before = json.loads((out / "state.json").read_text())["best"]["best.weights.h5"]
    # after the resume every epoch is worse: the weights are scrambled as each one starts
    summary = _run(recipe, out, callbacks=[Scramble(), CopyLast(out)])
    rows = _rows(out / "log.csv")
    losses = [float(r["val_loss"]) for r in rows]
    best_epoch = int(np.argmin(losses))
    assert best_epoch == best_before["epoch"] < 2 and len(rows) == 4
    assert summary["best"]["best.weights.h5"]["epoch"] == best_epoch
    assert summary["best"]["best.weights.h5"]["value"] == pytest.approx(min(losses))
    assert _sha(out / "best.weights.h5") == _sha(out / f"copy-{best_epoch}.weights.h5")


TINY_CLI = ["--dataset", "mnist", "--data-dir", str(SAMPLE), "--model", "lenet5",
            "--image-size", "32", "32", "--channels", "1", "--set", 'fit="pad"',
            "--optimizer", "adam", "--epochs", "3", "--limit", "300", "--batch-size", "32",
            "--no-tensorboard", "--verbose", "0"]


@pytest.mark.parametrize("flags, message", [
    # the case: on TensorFlow LeNet's loss grows to ~1e7 within two batches (on JAX
    # the clipped cross-entropy saturates at ~15 instead: bounded, so not a divergence there)
    (["--lr", "1e6"], "stopped: the loss grew to"),
    # an L2 penalty of 1e38 overflows float32: the loss is inf on every backend
    (["--lr", "3e-3", "--l2", "1e38"], "stopped: the loss became inf"),
])
def test_a_diverging_run_stops_the_cli_with_status_1(flags, message, tmp_path, capsys):
    """Today: "Invalid loss", exit 0, NaN weights as best.weights.h5, bare NaN in JSON. Now:
    a message, exit 1, no NaN weights, valid JSON."""
    if flags[1] == "1e6" and BACKEND != "tensorflow":
        flags = ["--lr", "1e6", "--set", "diverge_factor=2"]  # ~2.3 -> ~15 is a 6x growth
        message = "stopped: the loss grew to"
    from training.train import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        main([*TINY_CLI, *flags, "--out", str(out)])
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert message in err, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epochs_run"] == 0
    assert not (out / "best.weights.h5").exists() and not (out / "last.weights.h5").exists()


def test_divergence_rule_on_hand_made_losses(tmp_path):
    """Stop when a batch loss exceeds diverge_factor x the phase's first (at least 1)."""
    from training.engine import EpochKeeper, Phase, Setup

    def keeper(factor):
        k = EpochKeeper(C.RunFolder(tmp_path), Phase("p", 1, None), Setup(None, None, None, [], None),
                        monitor="val_loss", patience=0, diverge_factor=factor, phase_start=0)
        k.set_model(keras.Sequential())
        return k

    k = keeper(100.0)
    for i, loss in enumerate([0.5, 20.0, 99.0]):  # reference max(0.5, 1) = 1: 99 < 100
        k.on_train_batch_end(i, {"loss": loss})
    assert k.failure is None
    k.on_train_batch_end(3, {"loss": 101.0})
    assert isinstance(k.failure, DivergedError) and "101" in str(k.failure)
    k = keeper(0.0)  # off: only non-finite losses stop
    k.on_train_batch_end(0, {"loss": 1.0})
    k.on_train_batch_end(1, {"loss": 1e30})
    assert k.failure is None
    k.on_train_batch_end(2, {"loss": float("nan")})
    assert "nan" in str(k.failure)


def _unshare_prefix() -> list[str]:
    """A private mount namespace (root: plain; otherwise a user namespace maps us to root)."""
    probe = ["unshare", "--mount", "true"] if os.geteuid() == 0 else \
        ["unshare", "--mount", "--map-root-user", "true"]
    if shutil.which("unshare") is None or subprocess.run(probe).returncode != 0:
        pytest.fail("a disk-full test needs `unshare` with a mount namespace (util-linux; "
                    "root or unprivileged user namespaces)")
    return probe[:-1]


def test_full_disk_stops_cleanly_and_resumes(tmp_path):
    """--out on a 2 MB tmpfs: today a segfault, a truncated last.weights.h5 and an empty
    log.csv. Now: "no space left in DIR", exit 1, the last good epoch kept; after freeing
    space the same command resumes with every finished epoch's row."""
    out = tmp_path / "small"
    out.mkdir()
    args = ["--dataset", "mnist", "--data-dir", str(SAMPLE), "--model", "lenet5",
            "--image-size", "32", "32", "--channels", "1", "--set", 'fit="pad"',
            "--optimizer", "adam", "--lr", "3e-3", "--epochs", "4", "--limit", "300",
            "--batch-size", "32", "--verbose", "0", "--out", str(out / "run")]
    script = textwrap.dedent(f"""
        set -e
        mount -t tmpfs -o size=2m tmpfs {out}
        set +e
        {sys.executable} -m training.train {' '.join(repr(a) for a in args)}
        echo "rc=$?"
        cp -r {out}/run {tmp_path}/after_full
        mount -o remount,size=16m {out}
        {sys.executable} -m training.train {' '.join(repr(a) for a in args)}
        echo "rc=$?"
        cp -r {out}/run {tmp_path}/after_resume
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2",
               KERAS_BACKEND=BACKEND)
    run = subprocess.run([*_unshare_prefix(), "bash", "-c", script], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    text = run.stdout + run.stderr
    assert "rc=1" in run.stdout and "Segmentation fault" not in text, text[-3000:]
    assert "no space left in" in run.stderr
    full = tmp_path / "after_full"
    state = json.loads((full / "state.json").read_text())
    done = state["next_epoch"]
    assert 1 <= done < 4 and state["status"] == "disk full"
    assert len(_rows(full / "log.csv")) == done  # every finished epoch, none half-written
    from zoo import build  # the good checkpoint loads

    build("lenet5").load_weights(full / "last.weights.h5")
    assert not [p for p in full.rglob("*.tmp*")], "temporary files left behind"
    assert run.stdout.strip().endswith("rc=0"), text[-3000:]
    resumed = tmp_path / "after_resume"
    assert [r["epoch"] for r in _rows(resumed / "log.csv")] == ["0", "1", "2", "3"]
    assert _rows(resumed / "log.csv")[:done] == _rows(full / "log.csv")


def test_another_recipe_in_the_run_folder_is_refused(tmp_path, mnist_dir, dense_dir):
    recipe = tiny_recipe("classification", mnist_dir, dense_dir, epochs=1)
    _run(recipe, tmp_path)
    with pytest.raises(RunError, match=r"another recipe \(lr: 0.003 -> 0.1\).*--restart"):
        _run(recipe.replace(lr=0.1), tmp_path)
    summary = _run(recipe.replace(lr=0.1), tmp_path, restart=True)
    assert summary["status"] == "finished"


# ---------------------------------------------------------------------------------------------
# The run folder's pieces
# ---------------------------------------------------------------------------------------------

def test_atomic_text_and_json(tmp_path):
    path = tmp_path / "a.json"
    C.write_json(path, {"x": float("nan"), "y": [1.5, float("inf")], "z": np.float32(2)})
    assert json.loads(path.read_text()) == {"x": None, "y": [1.5, None], "z": 2.0}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_disk_guard_names_the_folder():
    import errno

    with pytest.raises(C.DiskFullError, match="no space left in /some/dir"):
        with C.disk_guard(Path("/some/dir")):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert C.is_disk_full(RuntimeError("HDF5: errno = 28, No space left on device"))
    assert not C.is_disk_full(OSError(errno.EACCES, "denied"))


def test_weights_written_in_memory_load_back(tmp_path):
    import zoo

    model = zoo.build("lenet5")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    lean, full = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    os.replace(C.save_weights(model, lean), lean)  # a temporary file, renamed as callers do
    os.replace(C.save_weights(model, full, include_optimizer=True), full)
    assert lean.stat().st_size < full.stat().st_size
    fresh = zoo.build("lenet5")
    fresh.load_weights(lean)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_commit_interrupted_before_its_renames_is_finished_on_open(tmp_path):
    folder = C.RunFolder(tmp_path).open({"name": "x"})
    (tmp_path / ".best.tmp").write_text("new")
    (tmp_path / "best.weights.h5").write_text("old")
    folder.commit(next_epoch=1, pending={".best.tmp": "best.weights.h5"})  # killed here
    folder.close()
    C.RunFolder(tmp_path).open({"name": "x"})
    assert (tmp_path / "best.weights.h5").read_text() == "new"


def test_a_second_run_in_the_same_folder_and_a_broken_state_are_refused(tmp_path):
    first = C.RunFolder(tmp_path).open({"name": "x"})
    with pytest.raises(RunError, match="Another training run is using"):
        C.RunFolder(tmp_path).open({"name": "x"})
    first.close()
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(RunError, match="state.json cannot be read.*--restart"):
        C.RunFolder(tmp_path).open({"name": "x"})
    assert C.RunFolder(tmp_path).open({"name": "x"}, restart=True).next_epoch == 0
