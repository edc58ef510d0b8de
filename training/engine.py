"""The one training engine: every task's run goes through `fit`, which knows nothing of tasks.

A task adapter (`training.tasks`) supplies what differs between tasks: the data, the model,
its loss and metrics, the evaluation and the figure, cut into one or more `Phase`\\ s (a
fine-tuning run trains its new head, then the whole network; the depth network trains its
coarse stack, then the fine one; a triplet run warms up with batch-all mining). The engine
does the rest, once, for all of them (Ultralytics' ``BaseTrainer`` and its task trainers, timm's
``TrainingTask`` and checkpoint saver, keras-hub's ``Task.compile`` defaults):

* optimiser + schedule per phase (`training.optim`), mixed precision, XLA;
* strategies: ``mirrored`` (tf.distribute over local devices), ``multiworker`` (the custom
  loop of `training.distributed`), ``data-parallel`` (``keras.distribution`` on JAX);
* a run folder that survives a kill, a diverging loss and a full disk (`training.checkpoints`):
  resume at the next epoch with the optimiser state and the best score kept, NaN /
  divergence stop without writing NaN weights, atomic best / last checkpoints, ``log.csv``
  (every finished epoch's row), TensorBoard (TensorFlow backend), ``curves.png`` and
  ``summary.json`` (valid JSON, with the run's ``status``).

Outputs in the run folder::

    best.weights.h5  last.weights.h5  log.csv  curves.png  summary.json  recipe.json
    model.json (what loads the weights: model name and builder arguments, class names)
    state.json (progress)  resume/ (while unfinished)  tensorboard/
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training.checkpoints import (DiskFullError, DivergedError, RunError, RunFolder,
                                  atomic_write_bytes, disk_guard, load_weights, read_log,
                                  weights_bytes, write_json)
from training.optim import current_lr, make_optimizer

logger = logging.getLogger("training.engine")

STRATEGIES = ("none", "mirrored", "multiworker", "data-parallel")
# Fields a resumed run may change: where the data lives, how long it runs.
RESUMABLE_CHANGES = ("data_dir", "epochs", "fine_epochs", "early_stopping")


@dataclasses.dataclass
class Setup:
    """What one phase trains, as its task builds it.

    Attributes:
        model: what ``fit`` trains (the engine compiles it): the shipped network itself, or a
            wrapper sharing its layers (a Siamese pair, a center-loss model).
        export: the network that ships; its weights are ``best.weights.h5`` / ``last``.
        loss, metrics: for ``compile``.
        train, val: inputs for ``fit`` (tf.data datasets or ``keras.utils.PyDataset``\\ s);
            ``val`` may be None.
        steps_per_epoch: batches per epoch (for the schedule); default ``len(train)``.
        callbacks: the task's own callbacks, run before the engine's (e.g. one adding
            embedding metrics to the epoch's logs, so they can be monitored).
    """

    model: keras.Model
    export: keras.Model
    loss: Any
    metrics: list
    train: Any
    val: Any = None
    steps_per_epoch: int | None = None
    callbacks: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Phase:
    """A stretch of epochs with one model, loss and learning-rate schedule.

    Attributes:
        name: shown in the log (``log.csv``'s ``phase`` column).
        epochs: how many epochs (the run's epochs are numbered across phases).
        setup: ``setup(previous) -> Setup``. ``previous`` is the last phase's `Setup` with
            its final weights, or None when this phase starts from a checkpoint (a resumed
            run): a setup must build without it and only take initial weights from it.
        lr: the phase's peak rate (default: the recipe's); the schedule spans the phase.
        schedule: the phase's schedule name (default: the recipe's).
        best: the file of the best checkpoint this phase keeps (phases may share one), or None
            for a phase whose scores do not count (a warm-up on another loss).
        restore_best: load the best weights at the end of the phase, before the next starts.
        monitor: the logged value that ranks epochs (default: the task's).
    """

    name: str
    epochs: int
    setup: Callable[[Setup | None], Setup]
    lr: float | None = None
    schedule: str | None = None
    best: str | None = "best.weights.h5"
    restore_best: bool = False
    monitor: str | None = None


def monitor_mode(monitor: str) -> str:
    """``"min"`` for losses and errors, ``"max"`` for scores."""
    return "min" if any(w in monitor for w in ("loss", "error", "rmse", "rel")) else "max"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def weights_finite(model: keras.Model) -> bool:
    return all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights
               if "float" in str(w.dtype))


# ---------------------------------------------------------------------------------------------
# The engine's callback: one per phase
# ---------------------------------------------------------------------------------------------

class EpochKeeper(keras.callbacks.Callback):
    """Stops on NaN / divergence, commits every finished epoch, keeps the best, stops early.

    It replaces Keras' ``TerminateOnNaN`` (which ends the run but lets the NaN weights be
    checkpointed, and exits 0), ``ModelCheckpoint`` (which forgets its best score on resume),
    ``BackupAndRestore``, ``CSVLogger`` (which loses rows on a full disk) and
    ``EarlyStopping`` (whose patience restarts on resume).
    """

    def __init__(self, folder: RunFolder, phase: Phase, setup: Setup, *, monitor: str,
                 patience: int, diverge_factor: float, phase_start: int):
        super().__init__()
        self.folder, self.phase, self.setup = folder, phase, setup
        self.monitor, self.mode = monitor, monitor_mode(monitor)
        self.patience, self.diverge_factor = patience, diverge_factor
        self.phase_start = phase_start
        self.failure: RunError | None = None
        self.stopped_early = False
        self._reference: float | None = None
        self._epoch = phase_start

    def _fail(self, error: RunError) -> None:
        self.failure = error
        self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.failure is not None or not logs or "loss" not in logs:
            return
        loss = float(logs["loss"])
        where = f"epoch {self._epoch + 1}, batch {batch + 1}"
        if not math.isfinite(loss):
            self._fail(DivergedError(f"the loss became {loss} at {where}"))
        elif self.diverge_factor:
            if self._reference is None:  # the loss of the phase's first batch
                self._reference = max(loss, 1.0)
            elif loss > self.diverge_factor * self._reference:
                self._fail(DivergedError(
                    f"the loss grew to {loss:.3g} at {where}, over {self.diverge_factor:g} times "
                    f"its first value ({self._reference:.3g}); lower the learning rate"))

    def on_epoch_end(self, epoch, logs=None):
        if self.failure is not None:
            return
        row: dict[str, Any] = {"epoch": epoch, "phase": self.phase.name}
        for key, value in (logs or {}).items():
            with contextlib.suppress(TypeError, ValueError):
                row[key] = float(value)
        optimizer = getattr(self.setup.model, "optimizer", None)
        if optimizer is not None:
            row["lr"] = current_lr(optimizer)
        bad = [k for k, v in row.items() if k.endswith("loss") and not _finite(v)]
        if bad or not weights_finite(self.setup.export):
            what = f"{bad[0]} = {row[bad[0]]}" if bad else "weights with NaN / infinity"
            self._fail(DivergedError(f"epoch {epoch + 1} ended with {what}"))
            return
        improved = None
        value = row.get(self.monitor)
        if self.phase.best and self.monitor not in row:
            logged = sorted(k for k in row if k not in ("epoch", "phase"))
            raise RunError(f"`monitor` {self.monitor!r} is not logged by this run; it logs "
                           f"{logged}. Set the recipe's monitor to one of them.")
        if self.phase.best and _finite(value):
            best = self.folder.best(self.phase.best)
            if best is None or (value < best["value"] if self.mode == "min"
                                else value > best["value"]):
                improved = {"value": value, "epoch": epoch, "monitor": self.monitor}
        try:
            self.folder.commit_epoch(epoch, row, phase=self.phase.name, model=self.setup.model,
                                     export=self.setup.export, best_file=self.phase.best,
                                     improved=improved)
        except DiskFullError as e:
            self._fail(e)
            return
        best = self.folder.best(self.phase.best) if self.phase.best else None
        if self.patience and best is not None:
            since = epoch - max(best["epoch"], self.phase_start - 1)
            if since >= self.patience:
                logger.info("early stopping: %s has not improved for %d epochs (best %.4g at "
                            "epoch %d)", self.monitor, since, best["value"], best["epoch"] + 1)
                self.stopped_early = True
                self.model.stop_training = True


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

class Distribution:
    """The ``--strategy``: its scope (models and optimisers are made inside it), whether this
    process writes files, and the check of the batch size."""

    def __init__(self, strategy: str, batch_size: int):
        if strategy not in STRATEGIES:
            raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: {strategy!r}")
        backend = keras.backend.backend()
        if strategy in ("mirrored", "multiworker") and backend != "tensorflow":
            raise ValueError(f"--strategy {strategy} is tf.distribute and needs the TensorFlow "
                             f"backend (this is {backend}); on JAX use --strategy data-parallel.")
        if strategy == "data-parallel" and backend != "jax":
            raise ValueError(f"--strategy data-parallel is keras.distribution, which needs the "
                             f"JAX backend (this is {backend}).")
        self.name, self.tf_strategy, self.chief, self.worker = strategy, None, True, 0
        if strategy == "mirrored":
            import tensorflow as tf

            # All local GPUs; without any, every logical CPU device (two in the tests, made
            # with tf.config.set_logical_device_configuration), which MirroredStrategy() skips.
            devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
                [d.name for d in tf.config.list_logical_devices("CPU")]
            self.tf_strategy = tf.distribute.MirroredStrategy(devices)
            logger.info("MirroredStrategy over %d replicas", self.tf_strategy.num_replicas_in_sync)
        elif strategy == "multiworker":
            from training.distributed import make_multiworker_strategy

            self.tf_strategy, self.worker = make_multiworker_strategy()
            self.chief = self.worker == 0
        elif strategy == "data-parallel":
            devices = keras.distribution.list_devices()
            if batch_size % len(devices):
                raise ValueError(f"--strategy data-parallel splits each batch over "
                                 f"{len(devices)} devices: batch_size {batch_size} must be a "
                                 "multiple.")
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))

    def scope(self):
        return self.tf_strategy.scope() if self.tf_strategy is not None \
            else contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def _steps(setup: Setup) -> int:
    if setup.steps_per_epoch:
        return int(setup.steps_per_epoch)
    if hasattr(setup.train, "cardinality"):  # tf.data
        n = int(setup.train.cardinality())
        if n < 0:
            raise ValueError("The training dataset's length is unknown: the task must give "
                             "Setup.steps_per_epoch.")
        return max(1, n)
    return max(1, len(setup.train))


def _compile(setup: Setup, recipe, phase: Phase, jit_compile) -> None:
    optimizer = make_optimizer(recipe, _steps(setup), lr=phase.lr, epochs=phase.epochs,
                               schedule=phase.schedule)
    setup.model.compile(optimizer=optimizer, loss=setup.loss, metrics=setup.metrics,
                        jit_compile=jit_compile)


def _restore(setup: Setup, path: Path) -> None:
    """Loads a resume checkpoint (weights and optimizer state) into a compiled setup."""
    setup.model.optimizer.build(setup.model.trainable_variables)
    setup.model.load_weights(path)


def fit(task, out: str | Path, *, strategy: str = "none", mixed_precision: str | None = None,
        jit_compile: bool | str = "auto", verbose: int | str = "auto",
        tensorboard: bool = True, restart: bool = False,
        callbacks: Sequence[keras.callbacks.Callback] = ()) -> dict[str, Any]:
    """Trains ``task`` (a `training.tasks.Task`) in the run folder ``out``; returns the summary.

    A run folder that holds an unfinished run of the same recipe resumes it at its next epoch
    (weights, optimiser state, best score, log); a finished one is reported, not retrained
    (``restart=True`` trains again from scratch).

    Args:
        task: the task adapter, holding the recipe.
        out: the run folder.
        strategy: one of `STRATEGIES`.
        mixed_precision: ``None``, ``"float16"`` or ``"bfloat16"`` (compute in 16 bits,
            variables in float32; float16 adds loss scaling).
        jit_compile: XLA compilation of the train step (``"auto"``: Keras' default).
        verbose: Keras ``fit`` verbosity.
        tensorboard: write TensorBoard logs (TensorFlow backend).
        restart: ignore (and replace) an earlier run in ``out``.
        callbacks: more Keras callbacks, run after the engine's.

    Raises:
        DivergedError: the loss became NaN / infinite or diverged (the run folder keeps the
            last good epoch; ``summary.json`` says ``"status": "diverged"``).
        DiskFullError: the disk filled up (the last committed epoch is kept; free space and
            run again to resume).
        RunError: ``out`` holds another recipe's run.
    """
    recipe = task.recipe
    out = Path(out)
    dist = Distribution(strategy, recipe.batch_size)
    folder = RunFolder(out, write=dist.chief).open(recipe.to_dict(), restart=restart,
                                                    may_differ=RESUMABLE_CHANGES)
    try:
        return _fit(task, folder, dist, out, mixed_precision=mixed_precision,
                    jit_compile=jit_compile, verbose=verbose, tensorboard=tensorboard,
                    callbacks=callbacks, strategy=strategy)
    finally:
        folder.close()


def _fit(task, folder: RunFolder, dist: Distribution, out: Path, *, strategy: str,
         mixed_precision: str | None, jit_compile, verbose, tensorboard: bool,
         callbacks) -> dict[str, Any]:
    recipe = task.recipe
    if folder.state.get("finished"):
        summary_path = out / "summary.json"
        logger.info("%s already finished in %s (pass --restart to train again)", recipe.name, out)
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        return {**summary, "status": "already finished"}
    if dist.chief:
        write_json(out / "recipe.json", recipe.to_dict())
    keras.utils.set_random_seed(recipe.seed)
    previous_policy = keras.mixed_precision.global_policy()
    if mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{mixed_precision}")
    start_time = time.perf_counter()
    status, failure, setup = "running", None, None
    try:
        task.prepare()
        if dist.chief:
            write_json(out / "model.json", task.model_config())
        setup = _run_phases(task, folder, dist, out, jit_compile=jit_compile, verbose=verbose,
                            tensorboard=tensorboard, callbacks=list(callbacks))
        status = "finished"
    except (DivergedError, DiskFullError) as e:
        failure, status = e, ("diverged" if isinstance(e, DivergedError) else "disk full")
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        seconds = time.perf_counter() - start_time
        if mixed_precision:
            keras.mixed_precision.set_global_policy(previous_policy)
        # A run that stopped (not a mistaken command, which leaves the folder as it was)
        if status in ("diverged", "disk full", "interrupted") and dist.chief:
            with contextlib.suppress(OSError, RunError):
                folder.commit(status=status, error=str(failure) if failure else None)
                _write_summary(task, folder, out, seconds, status, failure, strategy,
                               mixed_precision, setup=setup)
    if failure is not None:
        raise failure
    if not dist.chief:
        target = out / f"worker{dist.worker}"
        target.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target / "last.weights.h5", weights_bytes(setup.export))
        return {"worker": dist.worker, "last_weights": str(target / "last.weights.h5"),
                "status": "finished"}
    try:
        with disk_guard(out):
            if dist.name == "multiworker":
                # Keras' evaluate / predict fail under MultiWorkerMirroredStrategy like fit
                # does (the other workers have left): validation on the chief alone; the test
                # split through `python -m training.evaluate RUN`.
                from training.distributed import evaluate_local

                results = {"val": evaluate_local(setup.model, setup.val, setup.loss,
                                                 setup.metrics)} if setup.val is not None else {}
            else:
                results = task.after_fit(setup, out) or {}
            folder.finish("finished")
            return _write_summary(task, folder, out, time.perf_counter() - start_time,
                                  "finished", None, strategy, mixed_precision, setup=setup,
                                  **results)
    except DiskFullError:
        folder.commit(status="disk full")
        raise


def _run_phases(task, folder: RunFolder, dist: Distribution, out: Path, *, jit_compile,
                verbose, tensorboard: bool, callbacks: list) -> Setup:
    """Fits every phase not done yet; returns the last phase's setup, best weights loaded."""
    recipe = task.recipe
    phases: list[Phase] = task.phases()
    starts = np.cumsum([0] + [p.epochs for p in phases]).tolist()
    total = starts[-1]
    next_epoch = folder.next_epoch
    checkpoint = folder.checkpoint_path()
    if next_epoch and (checkpoint is None or not checkpoint.exists()):
        raise RunError(f"{out}/state.json says {next_epoch} epochs are done, but their resume "
                       f"file {checkpoint} is missing; pass --restart to train again.")
    current = next((i for i, p in enumerate(phases)
                    if next_epoch < starts[i + 1] and p.name not in folder.state["ended"]),
                   len(phases))
    if next_epoch:
        logger.info("%s: resuming at epoch %d of %d (%s)", recipe.name, next_epoch + 1, total,
                    out)
    prev: Setup | None = None
    resumed_phase = folder.state.get("checkpoint_phase")
    if next_epoch and current > 0 and resumed_phase == phases[current - 1].name:
        # killed at a phase boundary: rebuild the finished phase from its checkpoint
        with dist.scope():
            prev = phases[current - 1].setup(None)
            _compile(prev, recipe, phases[current - 1], jit_compile)
            _restore(prev, checkpoint)
            _restore_best(prev, phases[current - 1], out)
    setup = prev
    for i in range(current, len(phases)):
        phase = phases[i]
        first = max(starts[i], next_epoch)
        mid_phase = next_epoch > starts[i] and resumed_phase == phase.name
        with dist.scope():
            setup = phase.setup(None if mid_phase else prev)
            _compile(setup, recipe, phase, jit_compile)
            if mid_phase:
                _restore(setup, checkpoint)
        monitor = phase.monitor or task.monitor(setup)
        keeper = EpochKeeper(folder, phase, setup, monitor=monitor,
                             patience=recipe.early_stopping,
                             diverge_factor=recipe.diverge_factor, phase_start=starts[i])
        phase_callbacks = [*setup.callbacks, keeper]
        if tensorboard and keras.backend.backend() == "tensorflow" and dist.chief:
            phase_callbacks.append(keras.callbacks.TensorBoard(str(out / "tensorboard")))
        phase_callbacks.extend(callbacks)
        logger.info("%s: phase %r, epochs %d-%d of %d, %d steps each", recipe.name, phase.name,
                    first + 1, starts[i + 1], total, _steps(setup))
        if dist.name == "multiworker":
            from training.distributed import fit_multiworker

            fit_multiworker(dist.tf_strategy, setup, recipe.batch_size, initial_epoch=first,
                            epochs=starts[i + 1], callbacks=phase_callbacks,
                            verbose=verbose if dist.chief else 0)
        else:
            setup.model.fit(setup.train, validation_data=setup.val, epochs=starts[i + 1],
                            initial_epoch=first, verbose=verbose, callbacks=phase_callbacks,
                            shuffle=False)  # the task's inputs shuffle themselves
        if keeper.failure is not None:
            raise keeper.failure
        if keeper.stopped_early:
            folder.commit(ended=[*folder.state["ended"], phase.name])
        _restore_best(setup, phase, out)
        prev = setup
    if setup is None:
        raise RunError(f"{out}: no phase left to run and no checkpoint to start from.")
    last = phases[-1]
    if folder.write and last.best and (out / last.best).exists():  # non-chief workers: last
        load_weights(setup.export, out / last.best)
    return setup


def _restore_best(setup: Setup, phase: Phase, out: Path) -> None:
    if phase.restore_best and phase.best and (out / phase.best).exists():
        load_weights(setup.export, out / phase.best)


def _write_summary(task, folder: RunFolder, out: Path, seconds: float, status: str,
                   failure: BaseException | None, strategy: str, mixed_precision: str | None,
                   setup: Setup | None = None, **results: Any) -> dict[str, Any]:
    """``summary.json`` (valid JSON) and ``curves.png`` from the committed log."""
    from training.plots import plot_history

    recipe = task.recipe
    folder.write_log()
    history = read_log(out / "log.csv")
    curves = None
    if history:
        metrics = ["loss", *task.curve_metrics()]  # plot_history draws those logged
        png = io.BytesIO()
        plot_history(history, png, metrics=metrics, title=f"{recipe.name}: {recipe.model}")
        curves = out / "curves.png"
        atomic_write_bytes(curves, png.getvalue())
    summary = {
        "recipe": recipe.name, "task": recipe.task, "model": recipe.model,
        "dataset": recipe.dataset, "status": status,
        "error": str(failure) if failure else None,
        "epochs_run": len(folder.rows), "seconds": round(seconds, 1),
        "backend": keras.backend.backend(), "strategy": strategy,
        "mixed_precision": mixed_precision, "pipeline": getattr(task, "pipeline", None),
        "params": setup.export.count_params() if setup is not None else None,
        "best": dict(folder.state["best"]), "best_weights": str(out / "best.weights.h5"),
        "curves": str(curves) if curves else None, **results,
    }
    write_json(out / "summary.json", summary)
    return summary
