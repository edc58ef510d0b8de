"""ResNet-20 on CIFAR-10, a short one-cycle schedule for a CPU (what ships without a GPU).

The same model, data, augmentation and L2 penalty as `resnet20_cifar10` (He et al. 2016), but
a one-cycle learning rate (Smith and Topin 2018) over a few epochs instead of 164 epochs of
step decay, so that a 2-core CPU finishes in about an hour. It stops short of the paper's
91.25 %; `resnet20_cifar10` is the recipe that reaches it on a GPU.
"""

from training.recipes.resnet20_cifar10 import RECIPE as PAPER

RECIPE = PAPER.replace(
    name="resnet20_cifar10_cpu",
    epochs=12,
    lr=0.2,
    nesterov=True,
    schedule="onecycle",
    schedule_args={"warmup_fraction": 0.25, "div": 20.0, "final_div": 200.0},
    target={"acc@1": 0.85},
)
