"""LeNet-5 on MNIST: the course's network, to below 1 % test error (``weights="mnist"``).

Digits are zero-padded from 28x28 to 32x32, as LeCun et al. 1998 did. Adam with a one-cycle
schedule, light shift (pad-and-crop, 2 px) and rotation augmentation (no flips: a mirrored 2 is not a 2),
5,400 training images held out for validation (seeded), the 10,000 test images never seen.
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="lenet5_mnist",
    model="lenet5",
    dataset="mnist",
    image_size=(32, 32),
    channels=1,
    fit="pad",
    val_fraction=0.09,
    batch_size=128,
    epochs=20,
    optimizer="adam",
    lr=3e-3,
    schedule="onecycle",
    schedule_args={"warmup_fraction": 0.2, "final_div": 100.0},
    augment={"rotate": {"factor": 0.03}, "crop": {"padding": 2}},  # +-11 degrees, +-2 px shifts
    target={"acc@1": 0.99},
)
