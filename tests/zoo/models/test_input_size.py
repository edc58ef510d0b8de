"""Size-constrained models (U-Net, FCN, SegNet) check the input size on every call, on every
backend, and `predict(x, pad=True)` pads to a valid size and crops back (issue 16, item 1).

The first defect: on TensorFlow, `predict` at 512x512 and then at 500x500 returned a 496x496
map, because Keras retraces `predict` with the sizes relaxed to None and the size check then
had nothing to check.
"""

import keras
import numpy as np
import pytest

import zoo
from zoo.models.sized import SizeCheckedModel

TF = keras.backend.backend() == "tensorflow"
DIVISIBLE = "must be divisible by 8"


@pytest.fixture(scope="module")
def unet():
    return zoo.build("unet", filters=2, depth=3)  # sides divisible by 8


def images(n, height, width, channels=1, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, height, width, channels)).astype(
        "float32")


def test_size_checked_models_are_the_ones_with_a_check():
    for name, kwargs in [("unet", {"filters": 2, "depth": 2}), ("segnet", {"classes": 2}),
                         ("unet", {"filters": 2, "depth": 2, "padding": "valid"})]:
        assert isinstance(zoo.build(name, **kwargs), SizeCheckedModel), name
    assert not isinstance(zoo.build("lenet5"), SizeCheckedModel)


def test_a_bad_size_after_a_good_one_raises(unet):
    assert unet.predict(images(1, 32, 32), verbose=0).shape == (1, 32, 32, 2)
    with pytest.raises(ValueError, match=rf"unet: input height {DIVISIBLE}.*30x30.*\[24, 32\]"):
        unet.predict(images(1, 30, 30), verbose=0)  # was a silent (1, 24, 24, 2) on TF
    with pytest.raises(ValueError, match=rf"input width {DIVISIBLE}.*32x36"):
        unet.predict(images(1, 32, 36), verbose=0)
    with pytest.raises(ValueError, match=DIVISIBLE):
        unet(images(1, 30, 30))
    with pytest.raises(ValueError, match=DIVISIBLE):
        unet.predict_on_batch(images(1, 30, 30))
    assert unet.predict(images(2, 16, 40), verbose=0).shape == (2, 16, 40, 2)


def test_fit_and_evaluate_check_every_call(unet):
    model = zoo.build("unet", filters=2, depth=3)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    labels = np.zeros((2, 32, 32), "int32")
    model.fit(images(2, 32, 32), labels, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=DIVISIBLE):
        model.fit(images(2, 36, 36), np.zeros((2, 36, 36), "int32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=DIVISIBLE):
        model.fit(images(2, 32, 32), labels, epochs=1, verbose=0,
                  validation_data=(images(2, 36, 36), np.zeros((2, 36, 36), "int32")))
    with pytest.raises(ValueError, match=DIVISIBLE):
        model.evaluate(images(2, 36, 36), np.zeros((2, 36, 36), "int32"), verbose=0)
    with pytest.raises(ValueError, match=DIVISIBLE):
        model.train_on_batch(images(2, 36, 36), np.zeros((2, 36, 36), "int32"))


def varying_sizes(sizes):
    """A tf.data pipeline whose element spec has no height or width: the check must run per
    batch, when the sizes show."""
    import tensorflow as tf

    def generate():
        for size in sizes:
            yield images(1, size, size)[0]

    spec = tf.TensorSpec((None, None, 1), tf.float32)
    return tf.data.Dataset.from_generator(generate, output_signature=spec).batch(1)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_dataset_of_varying_sizes_is_checked_per_batch(jit_compile):
    pytest.importorskip("tensorflow")
    model = zoo.build("unet", filters=2, depth=3)
    model.compile(jit_compile=jit_compile and TF)  # XLA drops in-graph assertions
    out = model.predict(varying_sizes([32, 16]).unbatch().batch(1).take(1), verbose=0)
    assert out.shape == (1, 32, 32, 2)
    with pytest.raises(ValueError, match=rf"{DIVISIBLE}.*20x20"):
        model.predict(varying_sizes([32, 20]), verbose=0)


def test_a_python_generator_and_a_py_dataset_are_checked():
    model = zoo.build("unet", filters=2, depth=3)

    class Batches(keras.utils.PyDataset):
        def __init__(self, sizes):
            super().__init__()
            self.sizes = sizes

        def __len__(self):
            return len(self.sizes)

        def __getitem__(self, i):
            return images(1, self.sizes[i], self.sizes[i])

    assert model.predict(Batches([32, 32]), verbose=0).shape == (2, 32, 32, 2)
    with pytest.raises(ValueError, match=DIVISIBLE):
        model.predict(Batches([32, 20]), verbose=0)
    with pytest.raises(ValueError, match=DIVISIBLE):
        model.predict(((images(1, s, s),) for s in (32, 20)), verbose=0)
    # ... and the model still works: on JAX, Keras had emptied its variables for the loop
    assert model.predict(images(1, 16, 16), verbose=0).shape == (1, 16, 16, 2)


def test_reloaded_model_keeps_the_check(unet, tmp_path):
    path = tmp_path / "unet.keras"
    unet.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, SizeCheckedModel)
    restored.predict(images(1, 32, 32), verbose=0)
    with pytest.raises(ValueError, match=DIVISIBLE):
        restored.predict(images(1, 30, 30), verbose=0)


# --- pad=True ----------------------------------------------------------------------------------

def reference_padded_predict(model, x, valid_sizes, mode="reflect"):
    """pad=True from first principles: the smallest valid side whose (centred) output covers
    the image, found by building the model at fixed sizes and reading its output shape."""
    sides, plan = x.shape[1:3], []
    for side in sides:
        for candidate in valid_sizes:
            out = model.compute_output_shape((1, candidate, candidate, x.shape[-1]))[1]
            if candidate >= side and out >= side:
                margin = (candidate - out) // 2
                before = margin + (out - side) // 2
                plan.append((candidate, out, before))
                break
    widths = [(0, 0)] + [(b, c - s - b) for (c, _, b), s in zip(plan, sides)] + [(0, 0)]
    full = model.predict(np.pad(x, widths, mode=mode), verbose=0)
    (_, out_h, _), (_, out_w, _) = plan
    top, left = (out_h - sides[0]) // 2, (out_w - sides[1]) // 2
    return full[:, top:top + sides[0], left:left + sides[1]]


def test_pad_returns_the_input_size_and_equals_the_reference(unet):
    x = images(2, 30, 45)
    got = unet.predict(x, verbose=0, pad=True)
    assert got.shape == (2, 30, 45, 2)
    want = reference_padded_predict(unet, x, range(8, 100, 8))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    valid = images(1, 32, 24)  # already valid: pad=True is plain predict
    np.testing.assert_allclose(unet.predict(valid, verbose=0, pad=True),
                               unet.predict(valid, verbose=0), rtol=1e-6, atol=1e-6)
    constant = unet.predict(x, verbose=0, pad="constant")
    np.testing.assert_allclose(constant, reference_padded_predict(
        unet, x, range(8, 100, 8), mode="constant"), rtol=1e-5, atol=1e-5)


def test_pad_on_unpadded_unet_covers_the_whole_image():
    from zoo.layers.checks import valid_unpadded_unet_size

    model = zoo.build("unet", filters=2, depth=2, padding="valid")
    x = images(1, 20, 33)
    got = model.predict(x, verbose=0, pad=True)
    assert got.shape == (1, 20, 33, 2)  # the paper's overlap-tile: mirrored borders
    valid = [s for s in range(1, 200) if valid_unpadded_unet_size(s, 2)]
    np.testing.assert_allclose(got, reference_padded_predict(model, x, valid),
                               rtol=1e-5, atol=1e-5)


def test_pad_rejects_what_it_cannot_pad(unet):
    with pytest.raises(ValueError, match="`pad` must be"):
        unet.predict(images(1, 30, 30), pad="wrap-around")
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        unet.predict(np.zeros((30, 30, 1)), pad=True)
    with pytest.raises(ValueError, match="once per image"):
        unet.predict([np.zeros((8, 8, 1)), np.zeros((12, 12, 1))], pad=True)


def test_a_wrong_number_of_channels_says_so(unet):
    with pytest.raises(ValueError, match=r"unet takes images with 1 channel\. .*\(3 channels\)"):
        unet.predict(images(1, 32, 32, channels=3), verbose=0)
    if TF:
        with pytest.raises(ValueError, match="needs x as an array"):
            unet.predict(varying_sizes([30]), pad=True)
