"""U-Net on the ISBI 2012 EM membranes (the U-Net paper's first data set), CPU-sized.

The 30 labelled 512x512 slices split in file order: 21 train (slices 0-20), 3 validate
(21-23), 6 test (24-29). Training sees random 256x256 crops with flips, quarter turns and the
paper's elastic deformation (3x3 grid, sigma 10 px); evaluation runs on the whole 512x512
test slices. A U-Net with 16 filters at the first level (the paper: 64), depth 4, batch norm
(not in the paper; it lets the small model train quickly on a CPU).

    python -m training.train unet_membrane --data-dir DATA
    python -m training.evaluate runs/unet_membrane --figure docs/unet_membrane_predictions.png

The data is licensed for non-commercial research only (Cardona et al. 2010), and so are
weights trained on it.
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="unet_membrane",
    model="unet",
    dataset="membrane",
    objective="segmentation",
    builder_args={"filters": 16, "depth": 4, "classes": 2, "batch_norm": True},
    image_size=(512, 512),
    channels=1,
    fit="none",
    val_fraction=0.1,
    test_fraction=0.2,
    augment={"flip": "horizontal_and_vertical", "rotate90": True, "crop": [256, 256],
             "elastic": 10.0, "fill_mode": "reflect"},
    batch_size=4,
    epochs=40,
    steps_per_epoch=40,
    optimizer="adam",
    lr=3e-3,
    schedule="onecycle",
    schedule_args={"warmup_fraction": 0.1, "final_div": 30.0},
    loss_args={"dice": 0.0},
    monitor="val_mean_iou",
    target={"pixel_acc": 0.9},
)
