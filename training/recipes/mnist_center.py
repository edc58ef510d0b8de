"""LeNets++ on MNIST with a 2-D feature: softmax + lambda * center loss (Wen et al. 2016).

``weights="mnist_center"`` is lambda = 0.01, alpha = 0.5; the sweep over lambda in {0 (softmax
alone), 0.001, 0.01, 0.1, 1} draws the course's scatter plots:

    python -m training.train mnist_center --sweep loss_args.weight=0,0.001,0.01,0.1,1 \\
        --sweep-figure docs/mnist_center_loss.png

Quarter-width LeNets++ (8/16/32 filters; 16x cheaper, for the 2-core CPU it was trained on), Adam with a one-cycle schedule.
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="mnist_center",
    model="lenetpp",
    dataset="mnist",
    objective="center",
    loss_args={"weight": 0.01, "alpha": 0.5},
    builder_args={"embedding_dim": 2, "width": 0.25},
    image_size=(28, 28),
    channels=1,
    fit="none",
    val_fraction=0.1,
    batch_size=128,
    epochs=4,
    optimizer="adam",
    lr=3e-3,
    schedule="onecycle",
    schedule_args={"warmup_fraction": 0.2, "final_div": 100.0},
    target={"acc@1": 0.98},
)
