"""ResNet-20 on CIFAR-10, He et al. 2016 section 4.2 (``weights="cifar10"``).

The paper's recipe: SGD, momentum 0.9, weight decay 1e-4 (L2), batch 128, learning rate 0.1
divided by 10 at 32k and 48k iterations, stopped at 64k (about 164 epochs of 391 steps),
pad-4 random crops and horizontal flips, 45k / 5k train / validation split. The paper reports
91.25 % test accuracy (on the pixel-exact files; expect about 1 point less on the JPEGs).
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="resnet20_cifar10",
    model="resnet20_cifar",
    dataset="cifar10",
    image_size=(32, 32),
    channels=3,
    fit="none",
    val_fraction=0.1,
    batch_size=128,
    epochs=164,
    optimizer="sgd",
    lr=0.1,
    momentum=0.9,
    schedule="step",
    schedule_args={"milestones": [82, 123], "gamma": 0.1},
    l2=5e-5,  # = weight decay 1e-4 on (1/2)||w||^2, the paper's setting
    augment={"crop": {"padding": 4}, "flip": {}},
    target={"acc@1": 0.91},
)
