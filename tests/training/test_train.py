"""`training.train`: a short real run, resume after a kill, tf.distribute and the JAX path."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from training.recipes import Recipe, available, load_recipe
from training.schedules import OneCycle, make_schedule

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "training" / "data" / "samples" / "mnist"
TINY = ["--dataset", "mnist", "--data-dir", str(SAMPLE), "--model", "lenet5",
        "--image-size", "32", "32", "--channels", "1", "--set", "fit=\"pad\"",
        "--optimizer", "adam", "--lr", "0.003", "--no-tensorboard", "--verbose", "0"]


def _env(**extra) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- recipes and schedules -------------------------------------------------------------------

def test_shipped_recipes_load_and_validate():
    assert {"lenet5_mnist", "resnet20_cifar10"} <= set(available())
    r = load_recipe("resnet20_cifar10")
    assert (r.model, r.optimizer, r.l2, r.batch_size) == ("resnet20_cifar", "sgd", 5e-5, 128)
    with pytest.raises(ValueError, match="Unknown recipe 'lenet_mnist'.*did you mean"):
        load_recipe("lenet_mnist")
    with pytest.raises(ValueError, match="`optimizer` must be one of"):
        r.replace(optimizer="lbfgs")
    with pytest.raises(ValueError, match=r"Unknown recipe field\(s\) \['epoch'\]"):
        r.replace(epoch=3)


def test_schedules_against_hand_values():
    step = make_schedule("step", 0.1, steps_per_epoch=10, epochs=30, milestones=[10, 20],
                         gamma=0.1)
    got = [float(step(s)) for s in (0, 99, 100, 199, 200, 299)]
    np.testing.assert_allclose(got, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)
    cos = make_schedule("cosine", 1.0, steps_per_epoch=10, epochs=10)
    np.testing.assert_allclose([float(cos(0)), float(cos(50)), float(cos(100))], [1, 0.5, 0],
                               atol=1e-6)
    exp = make_schedule("exponential", 1.0, steps_per_epoch=10, epochs=5, decay_rate=0.5)
    np.testing.assert_allclose(float(exp(20)), 0.25, rtol=1e-6)
    poly = make_schedule("polynomial", 1.0, steps_per_epoch=10, epochs=10, power=2.0)
    np.testing.assert_allclose(float(poly(50)), 0.25, rtol=1e-6)
    warm = make_schedule("cosine", 1.0, steps_per_epoch=10, epochs=10, warmup_epochs=1)
    np.testing.assert_allclose([float(warm(0)), float(warm(4)), float(warm(10))],
                               [0.1, 0.5, 1.0], rtol=1e-6)
    one = OneCycle(1.0, total_steps=100, warmup_fraction=0.3, div=25, final_div=1e4)
    values = np.array([float(one(s)) for s in range(101)])
    assert values.argmax() == 30 and abs(values.max() - 1) < 1e-6
    np.testing.assert_allclose([values[0], values[100]], [1 / 25, 1e-4], rtol=1e-5)
    assert (np.diff(values[:31]) > 0).all() and (np.diff(values[30:]) < 0).all()
    with pytest.raises(ValueError, match=r"Unknown argument\(s\) \['gama'\]"):
        make_schedule("step", 0.1, steps_per_epoch=1, epochs=1, gama=0.1)


def test_l1_l2_penalties_reach_the_loss():
    import keras

    from training.tasks.classification import ClassificationTask

    recipe = Recipe(name="t", model="lenet5", dataset="mnist", channels=1, l1=1e-3, l2=1e-2)
    task = ClassificationTask(recipe)
    task.builder_args = task.resolve_args(10)
    model = task.initial_model()
    kernels = [l.kernel for l in model.layers if hasattr(l, "kernel")]
    expected = sum(1e-3 * np.abs(k.numpy()).sum() + 1e-2 * (k.numpy() ** 2).sum()
                   for k in kernels)
    got = float(keras.ops.sum(keras.ops.stack(model.losses)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert len(model.losses) == 5  # c1, c3, c5, f6, predictions; no biases


# --- a real short run ------------------------------------------------------------------------

def test_two_epoch_run_writes_checkpoint_log_curves(tmp_path):
    from training.train import main

    out = tmp_path / "run"
    summary = main(["--epochs", "2", "--limit", "600", "--batch-size", "32",
                    "--set", 'augment={"crop": {"padding": 2}}', "--schedule", "onecycle",
                    "--out", str(out), *TINY])
    for name in ("best.weights.h5", "last.weights.h5", "log.csv", "curves.png",
                 "summary.json", "recipe.json"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "resume").exists()  # deleted after a finished run
    rows = _rows(out / "log.csv")
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert summary["val"]["accuracy"] > 0.5  # 10 classes: chance is 0.1
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "summary.json").read_text())
    assert saved["epochs_run"] == 2 and saved["backend"] == "tensorflow"


def test_cli_errors_name_the_problem(capsys):
    from training.train import main

    def error(args, code=2):
        with pytest.raises(SystemExit) as stop:
            main(args)
        err = capsys.readouterr().err
        assert stop.value.code == code, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        return err

    assert "at least --model and --dataset" in error(["--epochs", "1"])
    assert "needs the JAX backend" in error(["--strategy", "data-parallel", "--epochs", "1",
                                             *TINY])
    assert "has no `spatial_dropout` argument" in error(["--spatial-dropout", "0.1",
                                                         "--epochs", "1", *TINY])


def test_killed_run_resumes_at_next_epoch(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "training.train", "--epochs", "3", "--limit", "1800",
           "--batch-size", "8", "--out", str(out), *TINY[:-2], "--verbose", "2"]
    first = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    log = out / "log.csv"
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:
        if log.exists() and len(_rows(log)) >= 1:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the run ended before it could be killed:\n" + first.stdout.read()
    first.send_signal(signal.SIGKILL)  # no chance to clean up, like a lost machine
    first.wait()
    assert len(_rows(log)) == 1 and (out / "resume").exists()

    second = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    printed = second.stdout + second.stderr
    assert "Epoch 1/3" not in printed and "Epoch 2/3" in printed
    assert [r["epoch"] for r in _rows(log)] == ["0", "1", "2"]


# --- tf.distribute and the JAX path ----------------------------------------------------------

def test_mirrored_on_two_logical_cpus(tmp_path):
    code = (
        "import tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from training.train import main\n"
        f"s = main(['--strategy', 'mirrored', '--epochs', '1', '--limit', '256', '--batch-size', '32',"
        f" '--out', {str(tmp_path)!r}, *{TINY!r}])\n"
        "print('VAL', s['val']['accuracy'])\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "MirroredStrategy over 2 replicas" in run.stderr
    assert (tmp_path / "best.weights.h5").exists()


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multiworker_two_local_processes_stay_in_sync(tmp_path):
    import h5py

    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    out = tmp_path / "mw"
    cmd = [sys.executable, "-m", "training.train", "--strategy", "multiworker", "--epochs", "2",
           "--limit", "256", "--batch-size", "32", "--out", str(out), *TINY]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=_env(TF_CONFIG=json.dumps(
                                  {"cluster": {"worker": workers},
                                   "task": {"type": "worker", "index": i}})))
             for i in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-3000:]
    assert "2 replicas in sync" in outputs[0]
    assert len(_rows(out / "log.csv")) == 2

    def weights(path):
        with h5py.File(path) as f:
            found = []
            f.visititems(lambda n, o: found.append((n, o[()])) if isinstance(o, h5py.Dataset)
                         else None)
            return found

    chief, other = weights(out / "last.weights.h5"), weights(out / "worker1" / "last.weights.h5")
    assert [n for n, _ in chief] == [n for n, _ in other] and len(chief) >= 10
    for (_, a), (_, b) in zip(chief, other):
        np.testing.assert_array_equal(a, b)  # all-reduced updates: identical weights


def test_jax_backend_data_parallel_bfloat16(tmp_path):
    pytest.importorskip("jax")
    cmd = [sys.executable, "-m", "training.train", "--backend", "jax", "--strategy",
           "data-parallel", "--mixed-precision", "bfloat16", "--epochs", "1", "--limit", "256",
           "--batch-size", "32", "--set", 'augment=["crop", "rotate"]', "--out", str(tmp_path),
           *TINY]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=2",
                                  CUDA_VISIBLE_DEVICES=""))
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["backend"] == "jax" and summary["pipeline"] == "arrays"
    assert summary["mixed_precision"] == "bfloat16" and summary["strategy"] == "data-parallel"
    assert summary["val"]["accuracy"] > 0.15


def test_early_stopping(tmp_path):
    from training.train import main

    # lr 0: validation accuracy never improves, so patience 1 stops after the second epoch.
    # (flags after TINY override its --lr / --optimizer: argparse keeps the last value)
    stopped = main(["--epochs", "6", "--limit", "128", "--batch-size", "32",
                    "--early-stopping", "1", "--out", str(tmp_path / "es"), *TINY, "--lr", "0"])
    assert stopped["epochs_run"] == 2
    # early stopping's patience counts from the best epoch, kept in the run's state
    state = json.loads((tmp_path / "es" / "state.json").read_text())
    assert state["best"]["best.weights.h5"]["epoch"] == 0 and state["finished"]


@pytest.mark.parametrize("name, cls", [("sgd", "SGD"), ("rmsprop", "RMSprop"), ("adam", "Adam"),
                                       ("adamw", "AdamW")])
def test_optimizers_carry_the_recipe(name, cls):
    from training.optim import make_optimizer

    recipe = Recipe(name="t", model="lenet5", dataset="mnist", optimizer=name, lr=0.5,
                    nesterov=True, weight_decay=1e-4, schedule="cosine", epochs=2)
    opt = make_optimizer(recipe, steps_per_epoch=10)
    assert type(opt).__name__ == cls and opt.weight_decay == pytest.approx(1e-4)
    assert float(opt.learning_rate) == pytest.approx(0.5)  # step 0 of the cosine schedule
    if name == "sgd":
        assert opt.momentum == 0.9 and opt.nesterov
