"""Image classifiers, from LeNet-5 to MobileNet, plus the supervised autoencoder."""

from zoo.models.classification import (  # noqa: F401  (imports register the builders)
    alexnet,
    autoencoder,
    googlenet,
    lenet,
    mobilenet,
    resnet,
    vgg,
)
