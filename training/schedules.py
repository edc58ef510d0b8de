"""Learning-rate schedules of the course, in optimizer steps.

Keras has step-wise (`PiecewiseConstantDecay`), exponential, polynomial and cosine decay
(with warm-up); those are used as they are. Keras has no one-cycle schedule (Smith and Topin
2018), nor warm-up for the first three, so `OneCycle` and `Warmup` are written here.

Example:
    >>> sched = make_schedule("step", 0.1, steps_per_epoch=391, epochs=164,
    ...                       milestones=[82, 123], gamma=0.1)
    >>> float(sched(0)), float(sched(391 * 100))
    (0.1, 0.01)
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine warm-up from ``max_lr / div`` to ``max_lr``, then cosine down to ``max_lr / final_div``.

    Reference: Smith and Topin, "Super-Convergence" (2018), with cosine annealing as in
    fast.ai and PyTorch's ``OneCycleLR``.
    """

    def __init__(self, max_lr: float, total_steps: int, warmup_fraction: float = 0.3,
                 div: float = 25.0, final_div: float = 1e4):
        if total_steps < 1:
            raise ValueError(f"`total_steps` must be >= 1. Received: {total_steps}")
        if not 0 <= warmup_fraction < 1:
            raise ValueError(f"`warmup_fraction` must be in [0, 1). Received: {warmup_fraction}")
        self.max_lr, self.total_steps = float(max_lr), int(total_steps)
        self.warmup_fraction, self.div, self.final_div = warmup_fraction, div, final_div

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = max(1.0, self.warmup_fraction * self.total_steps)
        start, end = self.max_lr / self.div, self.max_lr / self.final_div

        def cos(a, b, t):  # a -> b as t goes 0 -> 1
            return b + (a - b) * 0.5 * (1.0 + ops.cos(math.pi * ops.clip(t, 0.0, 1.0)))

        up = cos(start, self.max_lr, step / warm)
        down = cos(self.max_lr, end, (step - warm) / max(1.0, self.total_steps - warm))
        return ops.where(step < warm, up, down)

    def get_config(self):
        return {"max_lr": self.max_lr, "total_steps": self.total_steps,
                "warmup_fraction": self.warmup_fraction, "div": self.div,
                "final_div": self.final_div}


@keras.saving.register_keras_serializable(package="zoo")
class Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 over ``warmup_steps``, then ``schedule(step - warmup_steps)``."""

    def __init__(self, schedule, warmup_steps: int, peak_lr: float):
        self.schedule, self.warmup_steps, self.peak_lr = schedule, int(warmup_steps), peak_lr

    def __call__(self, step):
        step = ops.cast(step, "float32")
        ramp = self.peak_lr * (step + 1.0) / float(max(1, self.warmup_steps))
        after = self.schedule(ops.maximum(step - self.warmup_steps, 0.0))
        return ops.where(step < self.warmup_steps, ramp, after)

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule),
                "warmup_steps": self.warmup_steps, "peak_lr": self.peak_lr}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.optimizers.schedules.deserialize(config["schedule"])
        return cls(**config)


def make_schedule(name: str, lr: float, *, steps_per_epoch: int, epochs: int,
                  warmup_epochs: float = 0.0, **args):
    """A schedule (or the constant ``lr``) by name; epochs in the arguments, steps inside.

    Args:
        name: ``constant``, ``step`` (``milestones`` epochs, ``gamma``), ``exponential``
            (``decay_rate`` per epoch), ``polynomial`` (``power``, ``end_lr``), ``cosine``
            (``alpha``: final fraction) or ``onecycle`` (``warmup_fraction``, ``div``,
            ``final_div``).
        lr: the peak learning rate.
        steps_per_epoch, epochs: the run's length.
        warmup_epochs: linear warm-up for step / exponential / polynomial / cosine.
    """
    schedules = keras.optimizers.schedules
    total = max(1, steps_per_epoch * epochs)
    warmup = int(round(warmup_epochs * steps_per_epoch))
    if name == "constant":
        return lr
    if name == "step":
        milestones = args.pop("milestones", [epochs // 2, epochs * 3 // 4])
        gamma = args.pop("gamma", 0.1)
        # PiecewiseConstantDecay keeps values[i] while step <= boundaries[i]: "- 1" makes the
        # new rate start with the first step of epoch `m`.
        boundaries = [int(m * steps_per_epoch) - warmup - 1 for m in milestones]
        values = [lr * gamma ** i for i in range(len(boundaries) + 1)]
        sched = schedules.PiecewiseConstantDecay(boundaries, values)
    elif name == "exponential":
        sched = schedules.ExponentialDecay(lr, decay_steps=steps_per_epoch,
                                           decay_rate=args.pop("decay_rate", 0.9))
    elif name == "polynomial":
        sched = schedules.PolynomialDecay(lr, decay_steps=total - warmup,
                                          end_learning_rate=args.pop("end_lr", 0.0),
                                          power=args.pop("power", 1.0))
    elif name == "cosine":
        sched = schedules.CosineDecay(lr, decay_steps=total - warmup, alpha=args.pop("alpha", 0.0))
    elif name == "onecycle":
        sched = OneCycle(lr, total, warmup_fraction=args.pop("warmup_fraction", 0.3),
                         div=args.pop("div", 25.0), final_div=args.pop("final_div", 1e4))
    else:
        raise ValueError(f"Unknown schedule {name!r}; expected constant, step, exponential, "
                         "polynomial, cosine or onecycle.")
    if args:
        raise ValueError(f"Unknown argument(s) {sorted(args)} for the {name!r} schedule.")
    if warmup and name != "onecycle":
        sched = Warmup(sched, warmup, lr)
    return sched
