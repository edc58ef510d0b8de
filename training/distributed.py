"""Training over several machines with tf.distribute's MultiWorkerMirroredStrategy.

Keras 3.15's ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (a ``PerReplica``
conversion error, keras-team/keras#20585), so this is the custom training loop of the
tf.distribute guide: each worker reads its shard of every global batch, computes gradients
with ``strategy.run``, and the optimiser's all-reduce keeps every worker's weights identical.
The loop drives the same Keras callbacks ``fit`` would (the engine's checkpoints, resume, NaN
stop and log, `training.engine.EpochKeeper`), so a multi-worker run resumes and stops like any
other; only the chief (worker 0) writes the run folder.

Start one process per worker with the same command and a ``TF_CONFIG`` naming the cluster and
the worker's index, e.g. on two machines (or two local processes on 127.0.0.1)::

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
                "task": {"type": "worker", "index": 0}}' \\
        python -m training.train lenet5_mnist --strategy multiworker --out runs/mw

The other workers write only ``worker<i>/last.weights.h5`` (used to check that workers stay in
sync). The training input must be a tf.data dataset batched by the global batch (the
classification and segmentation tasks on TensorFlow give one).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import keras

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


def make_multiworker_strategy():
    """``(MultiWorkerMirroredStrategy, this worker's index)`` from ``TF_CONFIG``."""
    import tensorflow as tf

    index, workers = _task()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    logger.info("worker %d of %d, %d replicas in sync", index, workers,
                strategy.num_replicas_in_sync)
    return strategy, index


def _per_example(loss: Any) -> Any:
    """A copy of a Keras loss that returns one value per example (no reduction)."""
    config = dict(loss.get_config())
    config["reduction"] = None
    return loss.__class__.from_config(config)


def _fresh(metric: Any) -> Any:
    return metric.__class__.from_config(metric.get_config())


def evaluate_local(model, val_ds, loss, metrics) -> dict[str, float]:
    """Loss and metrics on the whole validation set, on this worker alone.

    ``model.evaluate`` fails under MultiWorkerMirroredStrategy like ``fit`` does, so this is a
    plain loop; every worker sees the same data, so every worker gets the same numbers.
    """
    import tensorflow as tf

    loss_fn, metrics = _per_example(loss), [_fresh(m) for m in metrics]
    total, count = 0.0, 0
    for x, y in val_ds:
        pred = model(x, training=False)
        values = loss_fn(y, pred)  # per example (per pixel for dense outputs: averaged)
        total += float(tf.reduce_sum(tf.reduce_mean(tf.reshape(values, (tf.shape(values)[0], -1)),
                                                    1)))
        count += int(tf.shape(x)[0])
        for m in metrics:
            m.update_state(y, pred)
    return {"loss": total / max(count, 1), **{m.name: float(m.result()) for m in metrics}}


def fit_multiworker(strategy, setup, global_batch: int, *, initial_epoch: int, epochs: int,
                    callbacks: list, verbose: int | str = "auto") -> None:
    """``setup.model.fit`` as a ``strategy.run`` loop, driving ``callbacks`` as fit does.

    ``setup.model`` must be compiled inside ``strategy.scope()`` (its optimiser is used);
    ``setup.train`` is a tf.data dataset of global batches (``drop_remainder=True``).
    """
    import tensorflow as tf

    model, optimizer = setup.model, setup.model.optimizer
    steps = int(setup.steps_per_epoch or setup.train.cardinality())
    if steps < 1:
        raise ValueError(f"The training set is smaller than one global batch of {global_batch}.")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dist_train = strategy.experimental_distribute_dataset(
        setup.train.repeat().with_options(options))
    with strategy.scope():
        loss_fn = _per_example(setup.loss)
        train_metrics = [_fresh(m) for m in setup.metrics]
        loss_mean = keras.metrics.Mean(name="loss")

    @tf.function
    def train_step(iterator):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                values = loss_fn(y, pred)
                values = tf.reduce_mean(tf.reshape(values, (tf.shape(values)[0], -1)), 1)
                # Average over the *global* batch, so the all-reduced sum is the mean.
                loss = tf.nn.compute_average_loss(values, global_batch_size=global_batch)
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

    hooks = keras.callbacks.CallbackList(callbacks, model=model, epochs=epochs, steps=steps,
                                         verbose=0)
    iterator = iter(dist_train)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        for m in [*train_metrics, loss_mean]:
            m.reset_state()
        hooks.on_epoch_begin(epoch)
        bar = keras.utils.Progbar(steps, verbose=1 if verbose in ("auto", 1) else 0)
        for step in range(steps):
            hooks.on_train_batch_begin(step)
            loss = train_step(iterator)
            loss_mean.update_state(loss)
            hooks.on_train_batch_end(step, {"loss": float(loss_mean.result())})
            bar.update(step + 1, [("loss", float(loss))])
            if model.stop_training:
                break
        logs = {"loss": float(loss_mean.result()),
                **{m.name: float(m.result()) for m in train_metrics}}
        if setup.val is not None:
            logs.update({f"val_{k}": v for k, v in
                         evaluate_local(model, setup.val, setup.loss, setup.metrics).items()})
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    hooks.on_train_end()
