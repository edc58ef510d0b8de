"""Training recipes: one small file per shipped weight (model, data, schedule, epochs).

A recipe is a `Recipe` record; ``python -m training.train lenet5_mnist`` runs the one in
``training/recipes/lenet5_mnist.py``, and command-line flags override single fields
(``--epochs 3 --batch-size 64``). A recipe may also be a JSON file of the same fields.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
TASKS = ("classification", "metric", "segmentation", "depth", "detection")
OBJECTIVES = ("softmax", "center", "triplet", "contrastive", "segmentation", "depth",
              "detection")
# The task each objective belongs to (recipes written before `task` existed name only this).
TASK_OF_OBJECTIVE = {"softmax": "classification", "center": "metric", "triplet": "metric",
                     "contrastive": "metric", "segmentation": "segmentation", "depth": "depth",
                     "detection": "detection"}
FREEZE_HELP = "'backbone' or a layer name"
SCHEDULES = ("constant", "step", "exponential", "polynomial", "cosine", "onecycle")


@dataclasses.dataclass
class Recipe:
    """Everything that determines a training run (and so a weight file).

    Attributes:
        name: the recipe's name (its file name).
        task: ``classification``, ``metric``, ``segmentation``, ``depth`` or ``detection``: which
            `training.tasks` adapter runs the recipe (default: the ``objective``'s task).
        model: a zoo registry name; ``builder_args`` go to ``zoo.build``.
        dataset: a `training.data.load_source` name (``mnist``, ``cifar10``, ``folder:PATH``).
        data_dir: where the dataset lives (default: ``$ZOO_DATA_DIR``; without either,
            MNIST and CIFAR-10 load through tensorflow-datasets, see `training.data`).
        image_size, channels, fit: the model input and how images get there (``"pad"``,
            ``"resize"``, ``"none"``); see `training.data.pipeline.prepare_image`.
        val_fraction: share of the training split held out for validation (stratified,
            seeded); the test split is never seen in training.
        limit: use only ``limit`` training images, a stratified seeded sample (smoke runs).
        batch_size, epochs: as usual; the batch is global (split across replicas).
        steps_per_epoch: metric learning only: batches per epoch when the sampler's own count
            (every image once) is too few to be a useful epoch (small datasets: pairs and
            P x K batches are drawn afresh, so there is no natural epoch; center-loss batches
            come from as many fresh permutations as the steps need).
        optimizer: ``sgd`` (with ``momentum``, ``nesterov``), ``rmsprop``, ``adam`` or ``adamw``.
        lr: the peak learning rate.
        schedule: ``constant``, ``step`` (``lr * gamma`` at each epoch in ``milestones``),
            ``exponential`` (``lr * decay_rate ** epoch``), ``polynomial`` (to 0 with
            ``power``), ``cosine`` (to 0) or ``onecycle`` (Smith 2018: warm up to ``lr``
            over ``warmup_fraction``, then cosine down to ``lr / final_div``).
        schedule_args: the schedule's parameters, above.
        warmup_epochs: linear warm-up before ``step`` / ``cosine`` / ``exponential``.
        weight_decay: decoupled decay in the optimiser (AdamW-style; SGD too).
        l1, l2: L1 / L2 penalties on every kernel (added to the loss, as the course writes).
        dropout, spatial_dropout: passed to builders that accept them.
        label_smoothing: for the cross-entropy.
        augment: names or ``{name: params}`` of `training.augment` ops.
        mixup: mixup's alpha (0: off).
        early_stopping: patience in epochs on ``monitor`` (0: off).
        monitor: the metric for checkpoints and early stopping.
        seed: one seed for splits, shuffling, augmentation and initialisation.
        target: ``{metric: value}`` the shipped weight must reach (for the README / notes).
        objective: ``"softmax"`` (classification, `training.train`) or a metric-learning
            objective of the metric task (`training.tasks.metric`): ``"center"`` (softmax + lambda *
            center loss), ``"triplet"`` (online mining on P x K batches) or
            ``"contrastive"`` (a Siamese pair model on balanced same / different pairs).
        loss_args: the objective's loss arguments (``{"margin": 0.2, "mining": ...}``;
            ``{"weight": 0.01, "alpha": 0.5}`` for center loss).
        pk: ``(P, K)``: identities per batch and images per identity (triplet; the batch
            size is then P * K).
        mining_warmup: epochs of ``batch_all`` mining before the recipe's ``batch_hard`` (from
            a random start batch-hard mining collapses every embedding to one point, where the
            loss sticks at the margin; Hermans et al. start from an ImageNet network).
        train_identities: split by identity: the first N identities train (the last of them
            validate, ``val_fraction`` of N), the others are the unseen test identities.

        Dense prediction (``objective="segmentation"`` or ``"depth"``, run by
        `training.tasks.segmentation` / `training.tasks.depth`): ``augment`` is a dict of `training.augment_dense.JointAugment`
        arguments; ``loss_args`` configures the loss (``{"dice": 0.5}`` adds half a Dice
        loss to the cross-entropy; ``{"lam": 0.5}`` is the scale-invariant loss's lambda).
        test_fraction: a dataset without a labelled test split holds out this share of its
            images: a plain ``folder:DIR`` of ``<class>/<image>`` (a seeded, stratified share;
            0 means 0.2), or the 30 ISBI membranes (taken from the end in file order:
            consecutive EM slices look alike, so a contiguous split does not leak
            neighbours; validation takes ``val_fraction`` just before it).
        fine_epochs: depth only: epochs of stage 2 (the fine network, coarse frozen) after
            ``epochs`` of stage 1 (the coarse network alone).

        Detection (``task="detection"``, run by `training.tasks.detection`): ``dataset`` is
        ``"bccd"`` or ``"voc:DIR"``; ``image_size`` (multiples of 32) is the letterbox size;
        ``augment`` is a dict of `training.augment_boxes.box_augmenter` arguments;
        ``loss_args`` go to `zoo.models.detection.retinanet.RetinaNetTrainer` (``alpha``,
        ``gamma``, ``box_loss``, ``box_weight``); ``val_fraction > 0`` trains on the
        ``train`` split and validates on ``val`` (monitor ``val_map50``), 0 trains on
        ``trainval`` and keeps the last epoch.

        Transfer learning (classification; the two phases of the Keras fine-tuning guide):
        weights: a weight tag of ``model`` (``"cifar10"``) or a weight file; its backbone
            (``include_top=False``) initialises the model, whose head is new (sized by the
            data's classes).
        freeze: ``"backbone"`` (every layer the weights came into) or a layer name (that
            layer and every one before it) stays frozen in phase 1.
        unfreeze_after: phase 2 starts after this many epochs (0: no phase 2): everything is
            trainable except batch-norm layers, which stay in inference mode, at
            ``finetune_lr`` (default ``lr / 10``) for the remaining ``epochs``.

        Faults:
        skip_corrupt: drop images that cannot be decoded (counted in the log) instead of
            stopping with the file's name.
        diverge_factor: stop when a batch loss exceeds this many times the first batches'
            loss (at least 1); a NaN or infinite loss always stops the run (0: only those).
    """

    name: str
    model: str
    dataset: str
    builder_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    data_dir: str | None = None
    image_size: tuple[int, int] = (32, 32)
    channels: int = 3
    fit: str = "resize"
    val_fraction: float = 0.1
    limit: int | None = None
    batch_size: int = 128
    epochs: int = 10
    steps_per_epoch: int | None = None
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    schedule: str = "constant"
    schedule_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    spatial_dropout: float = 0.0
    label_smoothing: float = 0.0
    augment: list[str] | dict[str, dict] = dataclasses.field(default_factory=list)
    mixup: float = 0.0
    early_stopping: int = 0
    monitor: str = "val_accuracy"
    seed: int = 0
    target: dict[str, float] = dataclasses.field(default_factory=dict)
    objective: str = "softmax"
    loss_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    pk: tuple[int, int] | None = None
    mining_warmup: int = 0
    train_identities: int | None = None
    test_fraction: float = 0.0
    fine_epochs: int = 0
    task: str | None = None
    weights: str | None = None
    freeze: str | None = None
    unfreeze_after: int = 0
    finetune_lr: float | None = None
    skip_corrupt: bool = False
    diverge_factor: float = 1e4

    def __post_init__(self):
        self.image_size = tuple(self.image_size)
        if len(self.image_size) != 2 or not all(isinstance(d, int) and not isinstance(d, bool)
                                                and d > 0 for d in self.image_size):
            raise ValueError(f"`image_size` must be two positive integers (height, width). "
                             f"Received: image_size={self.image_size!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"`optimizer` must be one of {OPTIMIZERS}. "
                             f"Received: optimizer={self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"`schedule` must be one of {SCHEDULES}. "
                             f"Received: schedule={self.schedule!r}")
        for field in ("batch_size", "epochs"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{field}` must be a positive integer. Received: {value!r}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"`val_fraction` must be in [0, 1). Received: {self.val_fraction}")
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"`test_fraction` must be in [0, 1). Received: {self.test_fraction}")
        for field in ("lr", "weight_decay", "l1", "l2", "label_smoothing", "mixup"):
            value = getattr(self, field)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 \
                    or value != value:
                raise ValueError(f"`{field}` must be a number >= 0. Received: {value!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"`objective` must be one of {OBJECTIVES}. "
                             f"Received: objective={self.objective!r}")
        if self.task is None:
            self.task = TASK_OF_OBJECTIVE[self.objective]
        if self.task not in TASKS:
            raise ValueError(f"`task` must be one of {TASKS}. Received: task={self.task!r}")
        if TASK_OF_OBJECTIVE[self.objective] != self.task:
            if self.objective == "softmax" and self.task in ("segmentation", "depth",
                                                             "detection"):
                self.objective = self.task
            else:
                allowed = [o for o, t in TASK_OF_OBJECTIVE.items() if t == self.task]
                raise ValueError(f"`objective` {self.objective!r} is not a {self.task} "
                                 f"objective; use one of {allowed}.")
        if self.pk is not None:
            self.pk = tuple(self.pk)
        if not isinstance(self.unfreeze_after, int) or not 0 <= self.unfreeze_after < self.epochs:
            raise ValueError(f"`unfreeze_after` must be an integer in [0, epochs={self.epochs}) "
                             f"(phase 2 needs at least one epoch). Received: "
                             f"{self.unfreeze_after!r}")
        if self.unfreeze_after and not self.freeze:
            raise ValueError("`unfreeze_after` ends a frozen phase 1: give `freeze` too "
                             "(--freeze backbone or --freeze LAYER).")
        if (self.freeze or self.unfreeze_after) and not self.weights:
            raise ValueError("`freeze` / `unfreeze_after` fine-tune pretrained weights: give "
                             "`weights` (a tag of the model or a weight file) too.")
        if self.freeze is not None and (not isinstance(self.freeze, str) or not self.freeze):
            raise ValueError(f"`freeze` must be {FREEZE_HELP}. Received: {self.freeze!r}")
        if self.diverge_factor < 0:
            raise ValueError(f"`diverge_factor` must be >= 0. Received: {self.diverge_factor}")
        if self.channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 or 3. Received: {self.channels!r}")

    def replace(self, **changes: Any) -> "Recipe":
        """A copy with some fields changed (unknown fields raise)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Unknown recipe field(s) {unknown}; known: {sorted(known)}.")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def available() -> list[str]:
    """Names of the recipes in this folder."""
    here = Path(__file__).parent
    return sorted(p.stem for p in here.glob("*.py") if not p.stem.startswith("_"))


def load_recipe(name_or_path: str) -> Recipe:
    """A recipe by name (``lenet5_mnist``) or from a ``.json`` / ``.py`` file.

    Raises:
        ValueError: an unknown name (the message lists the recipes).
    """
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        return Recipe(**json.loads(path.read_text()))
    if path.suffix == ".py" and path.is_file():
        spec = importlib.util.spec_from_file_location(f"recipe_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.RECIPE
    if name_or_path not in available():
        import difflib

        close = difflib.get_close_matches(name_or_path, available(), n=3, cutoff=0.4)
        raise ValueError(f"Unknown recipe {name_or_path!r}. Available: {available()}"
                         + (f"; did you mean {close}?" if close else "") +
                         " Or pass a .py / .json file.")
    return importlib.import_module(f"training.recipes.{name_or_path}").RECIPE
