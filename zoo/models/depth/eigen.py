"""Depth from a single image with a multi-scale network (Eigen, Puhrsch and Fergus, NIPS 2014).

Two stacks. The *coarse* network sees the whole image: five AlexNet-like convolutional layers,
then two fully connected layers whose 4070 outputs are reshaped into a 55x74 map of log depth,
so every output pixel can use global cues (vanishing points, room layout). The *fine* network
then refines it locally: a 9x9 stride-2 convolution and pooling bring the image to the same
55x74 grid, the coarse prediction is concatenated as an extra feature map, and two 5x5
convolutions output the refined log depth. Training is in two stages: the coarse network
first, then the fine one with the coarse network frozen. The paper trains with the
scale-invariant loss (`zoo.losses.ScaleInvariantLoss`).

Here the network's last layer exponentiates the log depth, so the model outputs metres.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo.layers import image_input
from zoo.layers.checks import nearest_sizes
from zoo.registry import register
from zoo.weights import apply_weights, check_weights_arg

OUTPUTS = ("fine", "coarse", "both")


def output_size(height: int, width: int) -> tuple[int, int]:
    """The depth map's size for an input of ``height x width`` (the coarse conv1's grid)."""
    return (height - 11) // 4 + 1, (width - 11) // 4 + 1


def valid_side(size: int) -> bool:
    """Whether the coarse (stride 4) and fine (stride 2, pool 2) grids agree, and the coarse
    stack keeps at least one pixel after its three 3x3 / stride-2 poolings."""
    if size < 11:
        return False
    coarse = (size - 11) // 4 + 1
    fine = ((size - 9) // 2 + 1) // 2
    pooled = coarse
    for _ in range(3):
        pooled = (pooled - 3) // 2 + 1
    return coarse == fine and pooled >= 1


def freeze_coarse(model: keras.Model, frozen: bool = True) -> keras.Model:
    """Stage 2 of the paper's training: make every ``coarse*`` layer (non-)trainable."""
    for layer in model.layers:
        if layer.name.startswith("coarse"):
            layer.trainable = not frozen
    return model


@register(
    "eigen_depth",
    task="depth",
    paper="Depth Map Prediction from a Single Image using a Multi-Scale Deep Network",
    paper_url="https://arxiv.org/abs/1406.2283",
    year=2014,
    params=70_877_171,
    params_source="the paper's Fig. 1 layer sizes (NYU Depth: 228x304 input, 8x6x256 coarse "
                  "features, 4096 hidden units, 55x74 output); the paper prints no count",
    input_shape=(228, 304, 3),
    min_size=39,
    preprocessing="unit",
    feature_layers={"P2": "coarse_conv1", "P3": "coarse_pool1", "P4": "coarse_pool2",
                    "P5": "coarse_pool3"},
)
def eigen_depth(weights: str | None = None, input_tensor=None,
                input_shape: tuple[int, int, int] | None = None, output: str = "fine",
                width: float = 1.0, fc_units: int = 4096, dropout: float = 0.5,
                name: str = "eigen_depth") -> keras.Model:
    """Eigen et al.'s coarse + fine depth network; outputs depth in metres.

    Reference: [Depth Map Prediction from a Single Image using a Multi-Scale Deep Network](
    https://arxiv.org/abs/1406.2283) (NIPS 2014).

    Deviations from the paper: convolutions are not split in two groups (AlexNet's two
    GPUs); poolings are AlexNet's 3x3 / stride 2 (they give the figure's 8x6 coarse features);
    the output is ``exp`` of the predicted log depth, i.e. metres; ``width`` and ``fc_units``
    make small variants (the shipped one trains on CPU).

    Args:
        weights: None, a weight tag (``"scenes"``), or a path.
        input_tensor: optional Keras tensor to build on.
        input_shape: ``(height, width, 3)``; fixed (the coarse stack ends in dense layers);
            default the paper's ``(228, 304, 3)``. Each side must make the coarse and fine
            grids agree (228, 304, 116, 152, ...); the error lists the nearest valid sizes.
        output: ``"fine"`` (the refined map), ``"coarse"`` (stage 1 of training) or
            ``"both"`` (a dict ``{"coarse", "fine"}``).
        width: multiplier of every convolution's filters.
        fc_units: hidden units of the coarse network (4096 in the paper).
        dropout: dropout after the hidden fully connected layer.
        name: model name.

    Returns:
        A ``keras.Model``: images in [0, 1] -> ``(batch, out_h, out_w, 1)`` depth in metres at
        about a quarter of the input resolution (55x74 for 228x304), see `output_size`.

    Example:
        >>> eigen_depth(input_shape=(116, 152, 3), width=0.25, fc_units=64).output_shape
        (None, 27, 36, 1)
    """
    if output not in OUTPUTS:
        raise ValueError(f"`output` must be one of {OUTPUTS}. Received: output={output!r}")
    if not isinstance(width, (int, float)) or width <= 0:
        raise ValueError(f"`width` must be a number > 0. Received: width={width!r}")
    check_weights_arg(name, weights, width=width, fc_units=fc_units,
                      **({} if input_shape is None else {"input_shape": tuple(input_shape)}))
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    input_shape = tuple(input_shape or (228, 304, 3))
    for axis, size in zip(("height", "width"), input_shape[:2]):
        if size is None:
            raise ValueError(f"{name}: the coarse network ends in dense layers, so the input "
                             f"size must be fixed. Received: input_shape={input_shape}")
        if not valid_side(size):
            raise ValueError(f"{name}: input {axis} {size} gives coarse and fine maps of "
                             f"different sizes (or too small a coarse map). Received: "
                             f"input_shape={input_shape}; the nearest valid {axis}s are "
                             f"{nearest_sizes(size, valid_side)}.")
    inputs, image = image_input(input_shape, input_tensor, model_name=name,
                                default_shape=(228, 304, 3), min_size=1)
    out_h, out_w = output_size(*input_shape[:2])

    def filters(n: int) -> int:
        return max(1, round(n * width))

    # --- coarse network: global view, ends in fully connected layers ---
    x = layers.Conv2D(filters(96), 11, strides=4, activation="relu", name="coarse_conv1")(image)
    x = layers.MaxPooling2D(3, strides=2, name="coarse_pool1")(x)
    x = layers.Conv2D(filters(256), 5, padding="same", activation="relu", name="coarse_conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="coarse_pool2")(x)
    for i, n in ((3, 384), (4, 384), (5, 256)):
        x = layers.Conv2D(filters(n), 3, padding="same", activation="relu",
                          name=f"coarse_conv{i}")(x)
    x = layers.MaxPooling2D(3, strides=2, name="coarse_pool3")(x)
    x = layers.Flatten(name="coarse_flatten")(x)
    x = layers.Dense(fc_units, activation="relu", name="coarse_fc6")(x)
    x = layers.Dropout(dropout, name="coarse_dropout")(x)
    x = layers.Dense(out_h * out_w, name="coarse_fc7")(x)
    coarse_log = layers.Reshape((out_h, out_w, 1), name="coarse_log_depth")(x)
    coarse = layers.Activation("exponential", name="coarse_depth")(coarse_log)

    # --- fine network: local refinement, the coarse map as an extra feature map ---
    y = layers.Conv2D(filters(63), 9, strides=2, activation="relu", name="fine1_conv")(image)
    y = layers.MaxPooling2D(2, name="fine1_pool")(y)
    y = layers.Concatenate(name="fine2_concat")([y, coarse_log])
    y = layers.Conv2D(filters(64), 5, padding="same", activation="relu", name="fine2_conv")(y)
    y = layers.Conv2D(1, 5, padding="same", name="fine3_log_depth")(y)
    fine = layers.Activation("exponential", name="depth")(y)

    outputs = {"fine": fine, "coarse": coarse, "both": {"coarse": coarse, "fine": fine}}[output]
    model = keras.Model(inputs, outputs, name=name)
    return apply_weights(model, name, weights, width=width, fc_units=fc_units)
