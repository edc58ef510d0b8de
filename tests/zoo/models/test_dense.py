"""Segmentation (FCN-32s/16s/8s, SegNet, U-Net) and depth (Eigen et al.) models: parameter
counts against the papers, shapes at several sizes, clear errors, overfitting a tiny batch."""

import keras
import numpy as np
import pytest
from keras import ops

import zoo
from zoo.models.depth.eigen import freeze_coarse
from zoo.models.segmentation.fcn import convolutionalize_vgg16


def conv(k, c_in, c_out, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


def trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_registered_tasks():
    assert zoo.list_models(task="segmentation") == ["fcn8s", "fcn16s", "fcn32s", "segnet", "unet"]
    assert zoo.list_models(task="depth") == ["eigen_depth"]
    for name in zoo.list_models(task="segmentation") + ["eigen_depth"]:
        card = zoo.describe(name)
        assert card["paper_url"].startswith("https://arxiv.org/abs/"), name


VGG_CONVS = sum(conv(3, a, b) for a, b in [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256),
                                           (256, 256), (256, 256), (256, 512), (512, 512),
                                           (512, 512), (512, 512), (512, 512), (512, 512)])


def test_fcn_counts_against_table_1():
    c = 21
    fc = conv(7, 512, 4096) + conv(1, 4096, 4096) + conv(1, 4096, c)
    assert VGG_CONVS + fc == 134_346_581
    # Table 1: FCN-VGG16 has 134M parameters (the trainable ones; the final bilinear
    # upsampling is fixed, as in the paper)
    counts = {}
    for name, extra in (("fcn32s", 0),
                        ("fcn16s", conv(1, 512, c) + conv(4, c, c, bias=False)),
                        ("fcn8s", conv(1, 512, c) + conv(1, 256, c)
                         + 2 * conv(4, c, c, bias=False))):
        model = zoo.build(name, input_shape=(64, 64, 3))
        counts[name] = trainable(model)
        assert counts[name] == VGG_CONVS + fc + extra, name
        assert abs(counts[name] - 134e6) / 134e6 < 0.005, name
        stride = int(name[3:-1])
        assert model.count_params() - counts[name] == conv(2 * stride, c, c, bias=False)
        assert model.count_params() == zoo.describe(name)["params"]
        del model


def test_segnet_count_against_the_paper():
    model = zoo.build("segnet", classes=11)
    decoder = sum(conv(3, a, b) for a, b in [(512, 512), (512, 512), (512, 512), (512, 512),
                                             (512, 512), (512, 256), (256, 256), (256, 256),
                                             (256, 128), (128, 128), (128, 64), (64, 64)])
    bn = 2 * sum([64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512,  # encoder
                  512, 512, 512, 512, 512, 256, 256, 256, 128, 128, 64, 64])       # decoder
    assert trainable(model) == VGG_CONVS + decoder + conv(3, 64, 11) + bn
    # Table 6 of the paper: 29.46M trainable parameters
    assert abs(trainable(model) - 29.46e6) / 29.46e6 < 0.001


def test_unet_count_against_the_paper():
    levels = [(1, 64), (64, 128), (128, 256), (256, 512), (512, 1024)]
    down = sum(conv(3, a, b) + conv(3, b, b) for a, b in levels)
    up = sum(conv(2, b, b // 2) + conv(3, b, b // 2) + conv(3, b // 2, b // 2)
             for b in (1024, 512, 256, 128))
    expected = down + up + conv(1, 64, 2)
    model = zoo.build("unet")
    assert model.count_params() == expected == zoo.describe("unet")["params"]
    assert abs(expected - 31.0e6) / 31.0e6 < 0.002  # "about 31.0 M"
    # 23 convolutional layers, as the paper counts them
    convs = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D,
                                                                   keras.layers.Conv2DTranspose))]
    assert len(convs) == 23


def test_eigen_count_from_figure_1():
    model = zoo.build("eigen_depth")
    coarse = (conv(11, 3, 96) + conv(5, 96, 256) + conv(3, 256, 384) + conv(3, 384, 384)
              + conv(3, 384, 256) + (6 * 8 * 256 * 4096 + 4096) + (4096 * 55 * 74 + 55 * 74))
    fine = conv(9, 3, 63) + conv(5, 64, 64) + conv(5, 64, 1)
    assert model.count_params() == coarse + fine == zoo.describe("eigen_depth")["params"]
    # Figure 1's map sizes: coarse 5 is 8x6 (w x h), coarse 7 and the fine maps 74x55
    assert model.get_layer("coarse_pool3").output.shape[1:3] == (6, 8)
    assert model.get_layer("fine1_pool").output.shape[1:] == (55, 74, 63)
    assert model.output_shape == (None, 55, 74, 1)


CASES = [  # (name, kwargs, input shape, output shape)
    ("unet", dict(filters=4, depth=2), (32, 48, 1), (32, 48, 2)),
    ("unet", dict(filters=4, depth=3, classes=1), (24, 40, 1), (24, 40, 1)),
    ("unet", dict(filters=4, depth=2, padding="valid"), (60, 76, 1), (20, 36, 2)),
    ("unet", dict(filters=2, depth=4, padding="valid"), (572, 572, 1), (388, 388, 2)),
    ("unet", dict(backbone="resnet18", decoder_filters=(8, 8, 8, 8, 8)), (64, 96, 3),
     (64, 96, 2)),
    ("unet", dict(backbone="vgg16", decoder_filters=(8, 8, 8, 8, 8)), (32, 64, 3), (32, 64, 2)),
    ("segnet", dict(classes=3), (45, 61, 3), (45, 61, 3)),
    ("segnet", dict(classes=2, unpool_method="scatter"), (32, 32, 3), (32, 32, 2)),
    ("fcn8s", dict(classes=5), (64, 96, 3), (64, 96, 5)),
    ("eigen_depth", dict(width=0.25, fc_units=32), (116, 152, 3), (27, 36, 1)),
    ("eigen_depth", dict(width=0.25, fc_units=32, output="coarse"), (116, 152, 3), (27, 36, 1)),
]


@pytest.mark.parametrize("name,kwargs,shape,out", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_shapes(name, kwargs, shape, out):
    model = zoo.build(name, input_shape=shape, **kwargs)
    assert model.output_shape[1:] == out
    y = model(np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32"))
    assert tuple(y.shape) == (2, *out)
    if not kwargs.get("backbone"):
        for level, layer in zoo.describe(name)["feature_layers"].items():
            if name == "unet" and int(level[1:]) > kwargs["depth"]:
                continue  # a shallower U-Net has fewer levels
            model.get_layer(layer if not (name == "unet" and int(level[1:]) == kwargs["depth"])
                            else "bridge_relu2")


def test_fully_convolutional_models_take_several_sizes():
    unet = zoo.build("unet", filters=4, depth=3, input_shape=(None, None, 1))
    for size in [(16, 16), (24, 40), (64, 8)]:
        assert unet(np.zeros((1, *size, 1), "float32")).shape == (1, *size, 2)
    segnet = zoo.build("segnet", classes=2)
    for size in [(7, 9), (32, 33)]:
        assert segnet(np.zeros((1, *size, 3), "float32")).shape == (1, *size, 2)


def test_eigen_outputs_both_and_freezes_coarse():
    model = zoo.build("eigen_depth", input_shape=(116, 152, 3), width=0.25, fc_units=32,
                      output="both")
    out = model(np.zeros((1, 116, 152, 3), "float32"))
    assert set(out) == {"coarse", "fine"} and float(ops.min(out["fine"])) > 0  # metres
    before = trainable(model)
    freeze_coarse(model)
    fine_only = conv(9, 3, 16) + conv(5, 17, 16) + conv(5, 16, 1)
    assert trainable(model) == fine_only < before


def test_bad_arguments_and_sizes_get_clear_errors():
    with pytest.raises(ValueError, match=r"divisible by 16.*nearest valid heights are \[96, 112\]"):
        zoo.build("unet", input_shape=(100, 96, 1))
    with pytest.raises(ValueError, match=r"tile.*\[556, 572\]"):
        zoo.build("unet", padding="valid", input_shape=(570, 572, 1))
    with pytest.raises(ValueError, match="divisible by 32"):
        zoo.build("fcn8s", input_shape=(100, 64, 3))
    with pytest.raises(ValueError, match="classes"):
        zoo.build("unet", classes=0)
    with pytest.raises(ValueError, match="padding"):
        zoo.build("unet", padding="full")
    with pytest.raises(ValueError, match="Unknown model 'resnet35'"):
        zoo.build("unet", backbone="resnet35")
    with pytest.raises(ValueError, match="'vgg16'"):
        zoo.build("fcn8s", backbone="resnet50")
    with pytest.raises(ValueError, match=r"nearest valid heights are \[228, 229\]|nearest valid"):
        zoo.build("eigen_depth", input_shape=(60, 304, 3))
    with pytest.raises(ValueError, match="fixed"):
        zoo.build("eigen_depth", input_shape=(None, None, 3))
    # a (None, None) model says which sizes work when it is called
    unet = zoo.build("unet", filters=2, depth=3)
    with pytest.raises(ValueError, match=r"divisible by 8.*\[96, 104\]"):
        unet(np.zeros((1, 100, 96, 1), "float32"))


def test_fcn_convolutionalizes_vgg16():
    vgg = zoo.build("vgg16", classifier_activation=None)
    fcn = zoo.build("fcn32s", input_shape=(224, 224, 3))
    convolutionalize_vgg16(vgg, fcn)
    image = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    fc2 = keras.Model(vgg.input, vgg.get_layer("fc2").output)(image)
    fc7 = keras.Model(fcn.input, fcn.get_layer("fc7").output)(image)
    # 224 -> a 7x7 pool5; fc6 with 'same' padding sees the whole map at the centre pixel
    fc2 = np.asarray(fc2)[0]  # float32 sums of 25,088 terms of size ~1e3: compare to scale
    np.testing.assert_allclose(np.asarray(fc7)[0, 3, 3], fc2, atol=1e-5 * np.abs(fc2).max())


def _overfit(model, x, y, loss, steps, lr=1e-3):
    """Training-mode loss of the first and last step on one batch (batch norm uses the
    batch's statistics, so the moving averages' slow warm-up does not hide the fit)."""
    model.compile(keras.optimizers.Adam(lr), loss)
    losses = model.fit(x, y, epochs=steps, batch_size=len(x), verbose=0).history["loss"]
    return losses[0], losses[-1]


SEG_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _seg_batch(size, channels, classes=2):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, size, size, channels)).astype("float32")
    y = (x.mean(-1) > 0.5).astype("int32") if classes == 2 else \
        np.minimum((x.mean(-1) * classes).astype("int32"), classes - 1)
    return x, y


@pytest.mark.parametrize("name,kwargs,channels,size,steps", [
    ("unet", dict(filters=8, depth=2), 1, 32, 60),
    ("segnet", dict(classes=2), 3, 16, 25),
])
def test_overfits_a_tiny_batch(name, kwargs, channels, size, steps):
    keras.utils.set_random_seed(0)
    model = zoo.build(name, input_shape=(size, size, channels), **kwargs)
    x, y = _seg_batch(size, channels)
    first, last = _overfit(model, x, y, SEG_LOSS, steps, lr=3e-3)
    assert last < first / 2, (first, last)


@pytest.mark.slow
def test_fcn8s_overfits_a_tiny_batch():
    keras.utils.set_random_seed(0)
    model = zoo.build("fcn8s", input_shape=(32, 32, 3), classes=2, dropout=0.0)
    x, _ = _seg_batch(32, 3)
    # FCN-8s predicts at stride 8: labels constant on 8x8 cells are what it can fit
    cells = x.reshape(2, 4, 8, 4, 8, 3).mean(axis=(2, 4, 5)) > 0.5
    y = np.repeat(np.repeat(cells, 8, axis=1), 8, axis=2).astype("int32")
    first, last = _overfit(model, x, y, SEG_LOSS, 40, lr=1e-4)
    assert last < first / 2, (first, last)


def test_eigen_overfits_a_tiny_batch():
    keras.utils.set_random_seed(0)
    model = zoo.build("eigen_depth", input_shape=(68, 68, 3), width=0.25, fc_units=32,
                      dropout=0.0)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, 68, 68, 3)).astype("float32")
    y = 1 + 3 * x[:, 2:-2:4, 2:-2:4, :1][:, :15, :15]
    first, last = _overfit(model, x, y, "mse", 80, lr=3e-3)
    assert last < first / 2, (first, last)


def test_shipped_depth_weights_beat_a_constant_on_new_scenes():
    from training.tasks.dense import depth_targets
    from training.data.scenes import generate_scenes

    model = zoo.load("eigen_depth", weights="scenes")
    record = model.zoo_weights
    assert record.builder_args["input_shape"] == [84, 112, 3]
    images, depth = generate_scenes(6, 84, 112, seed=1234)   # scenes no split used
    truth = depth_targets(depth, (19, 26))
    predicted = np.asarray(model(images, training=False))
    rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    constant = float(np.sqrt(np.mean((truth.mean() - truth) ** 2)))
    assert rmse < 0.6 * constant, (rmse, constant)
    assert abs(rmse - record.metrics["scenes"]["rmse"]) < 0.5


def test_shipped_unet_finds_membranes_in_a_drawn_cell_image():
    """Bright cells with dark 3-pixel walls and noise, drawn here (the ISBI images may not be
    redistributed): the membrane-trained U-Net should find the walls."""
    rng = np.random.default_rng(0)
    image = np.full((96, 96), 0.72) + rng.normal(0, 0.06, (96, 96))
    walls = np.zeros((96, 96), bool)
    for c in (20, 55, 80):
        walls[:, c - 1:c + 2] = True
        walls[c - 1:c + 2, :] = True
    image[walls] = 0.25
    model = zoo.load("unet", weights="membrane")
    predicted = np.argmax(model(image[None, :, :, None].astype("float32")), -1)[0]
    from zoo.metrics import mean_iou

    truth = np.where(walls, 0, 1)
    assert model.zoo_weights.class_names == ("membrane", "cell")
    assert mean_iou(truth, predicted, 2) > 0.6
