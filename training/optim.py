"""The recipe's optimiser and learning-rate schedule (SGD + momentum, RMSProp, Adam, AdamW)."""

from __future__ import annotations

import keras

from training.recipes import Recipe
from training.schedules import make_schedule


def make_optimizer(recipe: Recipe, steps_per_epoch: int, *, lr: float | None = None,
                   epochs: int | None = None,
                   schedule: str | None = None) -> keras.optimizers.Optimizer:
    """The recipe's optimiser with its learning-rate schedule.

    Args:
        recipe: optimiser, rate, schedule, warm-up and weight decay.
        steps_per_epoch: batches per epoch (the schedule counts steps).
        lr, epochs, schedule: override the recipe's for one phase of a run (a fine-tuning
            phase at a lower rate, a warm-up phase at a constant one); the schedule spans the
            phase's epochs.
    """
    name = schedule or recipe.schedule
    rate = make_schedule(name, recipe.lr if lr is None else lr, steps_per_epoch=steps_per_epoch,
                         epochs=recipe.epochs if epochs is None else epochs,
                         warmup_epochs=recipe.warmup_epochs,
                         **(recipe.schedule_args if name == recipe.schedule else {}))
    wd = recipe.weight_decay or None
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=recipe.momentum, nesterov=recipe.nesterov,
                                    weight_decay=wd)
    if recipe.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(rate, rho=0.9, weight_decay=wd)  # Hinton's, no momentum
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(rate, weight_decay=wd)
    return keras.optimizers.AdamW(rate, weight_decay=recipe.weight_decay or 1e-4)


def current_lr(optimizer: keras.optimizers.Optimizer) -> float:
    """The rate the optimiser applies at its current step (schedules evaluated)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
