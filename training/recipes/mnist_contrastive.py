"""The same 64-d MNIST embedding as ``mnist_triplet``, trained as a Siamese pair with
contrastive loss (``weights="mnist_contrastive"``): balanced same / different pairs, L2
distance on the unit sphere (at most 2), margin 1.
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="mnist_contrastive",
    model="facenet",
    dataset="mnist",
    objective="contrastive",
    loss_args={"margin": 1.0},
    builder_args={"backbone": "lenetpp", "backbone_args": {"width": 0.25},
                  "embedding_dim": 64},
    image_size=(28, 28),
    channels=1,
    fit="none",
    val_fraction=0.1,
    batch_size=64,          # pairs: 128 images a step, as the triplet run's 120
    epochs=6,
    optimizer="adam",
    lr=1e-3,
    schedule="onecycle",
    schedule_args={"warmup_fraction": 0.2, "final_div": 100.0},
    target={"precision_at_1": 0.98},
)
