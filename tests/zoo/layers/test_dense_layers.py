"""Dense-prediction layers: max pooling with argmax / max-unpooling (SegNet), bilinear
transposed convolution (FCN), crop-and-concat (U-Net), the input size check."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.layers.checks import InputSizeCheck, valid_unpadded_unet_size
from zoo.layers.unpooling import MaxPoolingWithArgmax2D, MaxUnpooling2D, max_pool_with_argmax, \
    max_unpool
from zoo.layers.upsampling import BilinearUpsampling, CropAndConcat, bilinear_kernel, \
    upsample_conv


def np_(x):
    return np.asarray(ops.convert_to_numpy(x))


# Two 4x4 single-channel examples, maxima placed by hand in each 2x2 window.
X = np.array([
    [[1, 2, 0, 0],
     [3, 0, 0, 9],
     [0, 0, 5, 0],
     [0, 7, 0, 6]],
    [[0, 0, 0, 4],
     [8, 0, 0, 0],
     [0, 3, 0, 0],
     [0, 0, 0, 2]],
], dtype="float32")[..., None]


def test_unpooling_puts_values_back_at_the_argmax_by_hand():
    pooled, argmax = max_pool_with_argmax(X)
    assert np_(pooled)[..., 0].tolist() == [[[3, 9], [7, 6]], [[8, 4], [3, 2]]]
    # flat index h * 4 + w of each maximum (one channel)
    assert np_(argmax)[..., 0].tolist() == [[[4, 7], [13, 15]], [[4, 3], [9, 15]]]
    expected = np.array([
        [[0, 0, 0, 0], [3, 0, 0, 9], [0, 0, 0, 0], [0, 7, 0, 6]],
        [[0, 0, 0, 4], [8, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 2]],
    ], dtype="float32")[..., None]
    for method in ("onehot", "scatter"):
        np.testing.assert_array_equal(np_(max_unpool(pooled, argmax, method=method)), expected)


@pytest.mark.parametrize("shape", [(2, 6, 8, 3), (3, 5, 7, 2), (1, 1, 1, 4), (2, 9, 4, 1)])
def test_unpool_inverts_pool_at_the_maxima_for_any_size(shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    pooled, argmax = max_pool_with_argmax(x)
    assert pooled.shape[1:3] == (-(-shape[1] // 2), -(-shape[2] // 2))
    reference = np.zeros(shape, "float32")
    for b in range(shape[0]):  # plain NumPy scatter
        reference[b].reshape(-1)[np_(argmax)[b].reshape(-1)] = np_(pooled)[b].reshape(-1)
        # every pooled value is the max of its (padded) window
        for i in range(pooled.shape[1]):
            for j in range(pooled.shape[2]):
                window = x[b, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                np.testing.assert_allclose(np_(pooled)[b, i, j], window.max(axis=(0, 1)))
    for method in ("onehot", "scatter"):
        np.testing.assert_array_equal(np_(max_unpool(pooled, argmax, shape[1:3], method)),
                                      reference)


def test_pooling_indices_equal_tensorflows():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("compares with tf.nn.max_pool_with_argmax on the TensorFlow backend")
    x = np.random.default_rng(1).normal(size=(2, 6, 8, 3)).astype("float32")
    pooled, argmax = max_pool_with_argmax(x)
    tf_pooled, tf_argmax = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID",
                                                      include_batch_in_index=False)
    np.testing.assert_array_equal(np_(pooled), tf_pooled.numpy())
    np.testing.assert_array_equal(np_(argmax), tf_argmax.numpy())


def test_unpooling_layers_in_a_model_train_and_serialise(tmp_path):
    inputs = keras.Input((None, None, 2))
    x = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    pooled, argmax = MaxPoolingWithArgmax2D(name="pool")(x)
    out = MaxUnpooling2D(name="unpool")([pooled, argmax, x])
    model = keras.Model(inputs, out)
    data = np.random.default_rng(0).normal(size=(2, 5, 7, 2)).astype("float32")
    assert model(data).shape == (2, 5, 7, 2)
    model.compile("adam", "mse")
    model.fit(data, data, epochs=1, verbose=0)  # gradients flow through the unpooling
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np_(again(data)), np_(model(data)), atol=1e-6)
    with pytest.raises(ValueError, match="'onehot' or 'scatter'"):
        MaxUnpooling2D("nearest")


def test_bilinear_kernel_values():
    # FCN's upsample_filt(4): [0.25, 0.75, 0.75, 0.25] outer itself
    np.testing.assert_allclose(bilinear_kernel(4)[0], np.array([1, 3, 3, 1]) / 16)
    np.testing.assert_allclose(bilinear_kernel(3)[1], [0.5, 1, 0.5])
    kernel = np_(BilinearUpsampling()((4, 4, 3, 3)))
    assert kernel[:, :, 0, 1].sum() == 0 and kernel[:, :, 2, 2].sum() == pytest.approx(4)


@pytest.mark.parametrize("factor", [2, 8, 32])
def test_bilinear_transposed_conv_equals_bilinear_resize(factor):
    x = np.random.default_rng(factor).normal(size=(2, 5, 6, 3)).astype("float32")
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, upsample_conv(inputs, 3, factor))
    up = np_(model(x))
    resized = np_(ops.image.resize(x, (5 * factor, 6 * factor), interpolation="bilinear"))
    assert up.shape == resized.shape
    # equal away from the border (half a factor in), where the transposed conv sees zeros
    m = factor // 2
    np.testing.assert_allclose(up[:, m:-m, m:-m], resized[:, m:-m, m:-m], atol=1e-5)
    assert np.abs(up - resized).max() > 0.1  # ...and the border does differ


def test_crop_and_concat_takes_the_centre():
    decoder = np.ones((1, 4, 4, 2), "float32")
    skip = np.arange(64, dtype="float32").reshape(1, 8, 8, 1)
    out = np_(CropAndConcat()([decoder, skip]))
    assert out.shape == (1, 4, 4, 3)
    np.testing.assert_array_equal(out[0, :, :, 2], skip[0, 2:6, 2:6, 0])
    symbolic = CropAndConcat()([keras.Input((56, 56, 512)), keras.Input((64, 64, 512))])
    assert tuple(symbolic.shape) == (None, 56, 56, 1024)


def test_input_size_check_names_the_nearest_sizes():
    check = InputSizeCheck("net", divisor=32)
    assert check(np.zeros((1, 64, 96, 3), "float32")).shape == (1, 64, 96, 3)
    with pytest.raises(ValueError, match=r"divisible by 32.*100x64.*\[96, 128\]"):
        check(np.zeros((1, 100, 64, 3), "float32"))
    assert valid_unpadded_unet_size(572, 4) and not valid_unpadded_unet_size(570, 4)
    assert valid_unpadded_unet_size(188, 4)  # 572's smaller neighbours step by 16
