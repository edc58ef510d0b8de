"""Eigen et al.'s coarse + fine depth network on procedural indoor scenes, CPU-sized.

No real depth training set ships here, so the network learns from rooms ray-cast with exact
z-depth (`training.data.scenes`: floor, walls, ceiling, boxes, spheres; 8,000 training, 200
validation and 500 test scenes, each split from its own seed). Input 84x112 (the paper's
228x304 aspect), output 19x26 log depth exponentiated to metres; half-width convolutions and
1,024 hidden units. Stage 1 trains the coarse network alone, stage 2 the fine network with
the coarse one frozen, both with the scale-invariant loss (lambda 0.5, as the paper).

    python -m training.train eigen_scenes --data-dir DATA   # DATA: the 5 rgbd frames
    python -m training.evaluate runs/eigen_scenes --figure docs/eigen_scenes_predictions.png

The test metrics also include the 5 real Kinect frames of ``rgbd_nyu5`` (resized to 84x112),
which are nothing like the training scenes: expect poor numbers there.
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="eigen_scenes",
    model="eigen_depth",
    dataset="scenes",
    objective="depth",
    builder_args={"width": 0.5, "fc_units": 1024},
    image_size=(84, 112),
    channels=3,
    fit="resize",
    limit=8000,
    batch_size=32,
    epochs=30,
    fine_epochs=15,
    optimizer="adam",
    lr=1e-3,
    schedule="onecycle",
    schedule_args={"warmup_fraction": 0.1, "final_div": 30.0},
    loss_args={"lam": 0.5},
    monitor="val_loss",
)
