"""RetinaNet on BCCD blood cells (RBC, WBC, Platelets), from scratch, sized for 2 CPU cores.

BCCD (Shenggan/BCCD_Dataset, MIT): 364 microscope images of 640x480 in VOC layout; the run
trains on its ``trainval`` split (292 images) and is measured on ``test`` (72). No ImageNet
weights are available offline, so the whole network starts from random weights: a MobileNet
backbone at half width (``alpha=0.5``, batch norm), a 64-wide FPN P3-P6 and 2-conv subnets,
1.2M parameters (a 2.6 MB float16 file; a ResNet-18 backbone, 11.6M parameters, trained 4x
slower per step on 2 cores and would ship 23 MB). Images are letterboxed to
256x320 (scale 0.5: RBCs ~50 px, WBCs ~95 px, platelets ~20 px), so the anchors start at 16 px
on P3 (``anchor_size=2``: 2 x stride, half the paper's 4 x stride). Augmentation: both flips
(cells have no up or down), translation, zoom and YOLOv5's HSV jitter.

    python -m training.train retinanet_bccd --data-dir DATA     # DATA holds bccd/BCCD/ or BCCD/
    python -m training.evaluate runs/retinanet_bccd --data-dir DATA
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="retinanet_bccd",
    task="detection",
    model="retinanet",
    dataset="bccd",
    builder_args={"backbone": "mobilenet", "backbone_args": {"alpha": 0.5}, "fpn_filters": 64,
                  "head_filters": 64, "head_convs": 2, "max_level": 6, "anchor_size": 2.0},
    image_size=(256, 320),
    channels=3,
    val_fraction=0.0,
    augment={"flip": "horizontal_and_vertical", "translate": 0.1, "zoom": 0.2},
    batch_size=8,
    epochs=80,
    optimizer="adamw",
    lr=2e-3,
    weight_decay=1e-4,
    schedule="onecycle",
    schedule_args={"warmup_fraction": 0.1, "final_div": 50.0},
    monitor="val_map50",
    target={"map50": 0.85},
)
