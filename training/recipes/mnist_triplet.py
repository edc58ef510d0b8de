"""A 64-d FaceNet-style embedding of MNIST digits with batch-hard triplet loss
(``facenet`` on a quarter-width LeNets++ backbone, ``weights="mnist_triplet"``).

One epoch of batch-all mining, then batch-hard (from a random start batch-hard alone collapses
every embedding to one point: the loss sticks at the margin). P x K batches of 10 digits x 12 images (every batch holds positives and negatives), squared
L2 on the unit sphere, margin 0.2 (FaceNet's). Compared with ``mnist_contrastive``: same
model, same epochs, test-split Precision@1 and MAP@R.
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="mnist_triplet",
    model="facenet",
    dataset="mnist",
    objective="triplet",
    loss_args={"margin": 0.2, "distance": "squared_l2", "mining": "batch_hard"},
    pk=(10, 12),
    mining_warmup=1,        # one epoch of batch_all first: batch-hard from scratch collapses
    builder_args={"backbone": "lenetpp", "backbone_args": {"width": 0.25},
                  "embedding_dim": 64},
    image_size=(28, 28),
    channels=1,
    fit="none",
    val_fraction=0.1,
    batch_size=120,
    epochs=6,
    optimizer="adam",
    lr=3e-4,                # at 1e-3 batch-hard collapses even after the warm-up
    schedule="onecycle",
    schedule_args={"warmup_fraction": 0.2, "final_div": 100.0},
    target={"precision_at_1": 0.98},
)
