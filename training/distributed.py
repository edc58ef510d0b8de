"""Training over several machines with tf.distribute's MultiWorkerMirroredStrategy.

Keras 3.15's ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (a ``PerReplica``
conversion error, keras-team/keras#20585), so this is the custom training loop of the
tf.distribute guide: each worker reads its shard of every global batch, computes gradients
with ``strategy.run``, and the optimiser's all-reduce keeps every worker's weights identical.

Start one process per worker with the same command and a ``TF_CONFIG`` naming the cluster and
the worker's index, e.g. on two machines (or two local processes on 127.0.0.1)::

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
                "task": {"type": "worker", "index": 0}}' \\
        python -m training.train lenet5_mnist --strategy multiworker --out runs/mw

Worker 0 (the chief) writes the run folder (``best.weights.h5``, ``last.weights.h5``,
``log.csv``, ``curves.png``, ``summary.json``); the others write only
``worker<i>/last.weights.h5`` (used to check that workers stay in sync). Resuming and early
stopping are not implemented in this loop: use ``--strategy mirrored`` on one machine.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

logger = logging.getLogger(__name__)


def _task() -> tuple[int, int]:
    """(this worker's index, number of workers) from ``TF_CONFIG``."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("--strategy multiworker needs TF_CONFIG, e.g. "
                         '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                         '"task": {"type": "worker", "index": 0}}')
    config = json.loads(raw)
    return int(config["task"]["index"]), len(config["cluster"]["worker"])


def evaluate_local(model, val_ds, recipe, num_classes: int) -> dict[str, float]:
    """Loss and metrics on the whole validation set, on this worker alone.

    ``model.evaluate`` fails under MultiWorkerMirroredStrategy like ``fit`` does, so this is a
    plain loop; every worker sees the same data, so every worker gets the same numbers.
    """
    from training.train import make_loss, make_metrics

    loss_fn, metrics = make_loss(recipe, reduction="sum"), make_metrics(recipe, num_classes)
    total, count = 0.0, 0
    for x, y in val_ds:
        pred = model(x, training=False)
        total += float(loss_fn(y, pred))
        count += int(x.shape[0])
        for m in metrics:
            m.update_state(y, pred)
    return {"loss": total / max(count, 1), **{m.name: float(m.result()) for m in metrics}}


def train_multiworker(recipe, out: Path, train_src, val_src, *, monitor: str,
                      verbose: int | str = "auto") -> dict[str, Any]:
    """Runs ``recipe`` with a custom ``strategy.run`` loop; returns the summary (chief)."""
    import tensorflow as tf

    from training.train import (build_model, finish, make_inputs, make_loss, make_metrics,
                                make_optimizer)

    index, workers = _task()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    chief = index == 0
    replicas = strategy.num_replicas_in_sync
    batch = recipe.batch_size  # global batch: each of `replicas` replicas gets batch / replicas
    steps = math.floor(len(train_src) / batch)
    if steps < 1:
        raise ValueError(f"{len(train_src)} training images are fewer than one global batch "
                         f"of {batch}.")
    logger.info("worker %d of %d, %d replicas in sync, %d steps per epoch", index, workers,
                replicas, steps)

    train_ds, val_ds = make_inputs(recipe, train_src, val_src, batch, "tfdata",
                                   drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_ds = train_ds.repeat().with_options(options)
    dist_train = strategy.experimental_distribute_dataset(train_ds)

    with strategy.scope():
        model = build_model(recipe)
        optimizer = make_optimizer(recipe, steps)
        loss_fn = make_loss(recipe, reduction=None)
        train_metrics = make_metrics(recipe, train_src.num_classes)
        loss_mean = keras.metrics.Mean(name="loss")

    @tf.function
    def train_step(iterator):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                # Average over the *global* batch, so the all-reduced sum is the mean.
                loss = tf.nn.compute_average_loss(loss_fn(y, pred), global_batch_size=batch)
                if model.losses:
                    loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            for m in train_metrics:
                m.update_state(y, pred)
            return loss

        x, y = next(iterator)
        per_replica = strategy.run(replica_step, args=(x, y))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    log_rows, best, best_value = [], None, None
    sign = -1 if "loss" in monitor else 1
    iterator = iter(dist_train)
    start = time.time()
    for epoch in range(recipe.epochs):
        for m in [*train_metrics, loss_mean]:
            m.reset_state()
        bar = keras.utils.Progbar(steps, verbose=1 if verbose in ("auto", 1) and chief else 0)
        for step in range(steps):
            loss = train_step(iterator)
            loss_mean.update_state(loss)
            bar.update(step + 1, [("loss", float(loss))])
        row = {"epoch": epoch, "loss": float(loss_mean.result())}
        row.update({m.name: float(m.result()) for m in train_metrics})
        if val_ds is not None:
            row.update({f"val_{k}": v for k, v in evaluate_local(model, val_ds, recipe,
                                                                  train_src.num_classes).items()})
        log_rows.append(row)
        if chief:
            logger.info("epoch %d/%d: %s", epoch + 1, recipe.epochs,
                        ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch"))
        value = row.get(monitor)
        if value is not None and (best_value is None or sign * value > sign * best_value):
            best_value, best = value, epoch
            if chief:
                model.save_weights(out / "best.weights.h5")
    seconds = time.time() - start

    target = out if chief else out / f"worker{index}"
    target.mkdir(parents=True, exist_ok=True)
    model.save_weights(target / "last.weights.h5")
    if not chief:
        return {"worker": index, "last_weights": str(target / "last.weights.h5")}
    with open(out / "log.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(log_rows[0]))
        writer.writeheader()
        writer.writerows(log_rows)
    val_metrics = {k.removeprefix("val_"): v for k, v in log_rows[best or 0].items()
                   if k.startswith("val_")}
    return finish(recipe, out, model, seconds, val_metrics, strategy="multiworker",
                  workers=workers, replicas=replicas, best_epoch=(best or 0) + 1,
                  weights_checksum=float(np.sum([np.sum(np.abs(w)) for w in
                                                 model.get_weights()])))
