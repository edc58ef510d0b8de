"""Metric-learning models: Siamese net, LeNets++, FaceNet-style heads, pair / triplet wrappers,
and zoo.embeddings.verify."""

from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import zoo
from zoo.models.metric import siamese_pair, triplet_network

FACES = Path(__file__).resolve().parents[2] / "fixtures" / "att_faces"


def conv(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def dense(n_in, n_out):
    return n_in * n_out + n_out


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def test_registered_as_metric_models():
    assert zoo.list_models(task="metric") == ["facenet", "lenetpp", "siamese_net"]
    for name in zoo.list_models(task="metric"):
        card = zoo.describe(name)
        for field in ("summary", "paper", "paper_url", "year", "params", "input_shape"):
            assert card[field], f"{name}: describe()[{field!r}] is empty"


def test_siamese_net_counts_from_layer_sizes():
    # 105x105 -> conv 11/4: 24 -> pool 3/2: 11 -> conv 5: 7 -> pool 2: 3 -> conv 3: 1 (x384)
    expected = (conv(11, 1, 96) + conv(5, 96, 256) + conv(3, 256, 384)
                + dense(384, 1024) + dense(1024, 128))
    assert expected == 2_036_928 == zoo.describe("siamese_net")["params"]
    model = zoo.build("siamese_net")
    assert model.count_params() == expected
    assert model.output_shape == (None, 128)
    assert model.get_layer("conv3").output.shape[1:] == (1, 1, 384)
    # AT&T's own 112x92: the last map is 2x1, so fc1 sees 768 inputs
    faces = zoo.build("siamese_net", input_shape=(112, 92, 1))
    assert faces.count_params() == expected - dense(384, 1024) + dense(768, 1024)
    assert isinstance(model.get_layer("conv1_lrn"), zoo.layers.LocalResponseNormalization)


def test_lenetpp_counts_from_the_papers_table():
    convs = (conv(5, 1, 32) + conv(5, 32, 32) + conv(5, 32, 64) + conv(5, 64, 64)
             + conv(5, 64, 128) + conv(5, 128, 128))
    prelu = 2 * (32 + 64 + 128) + 2        # channel-wise PReLU, and on the 2-D feature
    expected = convs + prelu + dense(3 * 3 * 128, 2)
    assert expected == 797_604 == zoo.describe("lenetpp")["params"]
    assert zoo.build("lenetpp").count_params() == expected
    with_head = zoo.build("lenetpp", classes=10)
    assert with_head.count_params() == expected + dense(2, 10)
    assert with_head.get_layer("embedding").output.shape == (None, 2)
    half = zoo.build("lenetpp", width=0.5)
    assert half.get_layer("conv3_2").filters == 64


def test_facenet_is_backbone_plus_projection_and_unit_norm():
    backbone = zoo.build("resnet18", include_top=False, pooling="avg", input_shape=(64, 64, 3))
    model = zoo.build("facenet", input_shape=(64, 64, 3))
    assert model.count_params() == backbone.count_params() + dense(512, 128)
    assert zoo.describe("facenet")["params"] == zoo.build("facenet").count_params()
    x = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype("float32")
    e = to_numpy(model(x))
    assert e.shape == (3, 128)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_facenet_on_other_backbones():
    small = zoo.build("facenet", backbone="lenetpp", backbone_args={"width": 0.25},
                      embedding_dim=16)
    assert small.input_shape == (None, 28, 28, 1) and small.output_shape == (None, 16)
    custom = keras.Sequential([keras.Input((20, 20, 3)), keras.layers.Conv2D(4, 3)], name="tiny")
    model = zoo.build("facenet", backbone=custom, embedding_dim=8, pooling="max")
    assert model.output_shape == (None, 8)
    headless = zoo.build("facenet", backbone="lenetpp", include_top=False)
    assert headless.output_shape == (None, 128)


def test_pair_model_shares_weights_and_outputs_a_distance():
    embedding = zoo.build("siamese_net")
    pair = siamese_pair(embedding)
    assert len(pair.weights) == len(embedding.weights)  # one set of weights, used twice
    assert pair.count_params() == embedding.count_params()
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, (2, 105, 105, 1)).astype("float32")
    b = rng.uniform(0, 1, (2, 105, 105, 1)).astype("float32")
    d_ab, d_ba, d_aa = (to_numpy(pair([p, q])) for p, q in ((a, b), (b, a), (a, a)))
    ea, eb = to_numpy(embedding(a)), to_numpy(embedding(b))
    np.testing.assert_allclose(d_ab, np.linalg.norm(ea - eb, axis=1), rtol=1e-4)
    np.testing.assert_allclose(d_ab, d_ba, rtol=1e-5)
    np.testing.assert_array_equal(d_aa, 0.0)


def test_pair_model_trains_with_contrastive_loss_and_finite_gradients():
    embedding = zoo.build("facenet", backbone="lenetpp", backbone_args={"width": 0.25},
                          embedding_dim=8)
    pair = siamese_pair(embedding)
    pair.compile(keras.optimizers.Adam(1e-3), loss=zoo.losses.ContrastiveLoss(margin=1.0))
    x = np.random.default_rng(2).uniform(0, 1, (4, 28, 28, 1)).astype("float32")
    # identical pairs (distance 0) must not give NaN through the square root
    loss = pair.train_on_batch([x, x], np.ones(4, "float32"))
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(to_numpy(w))) for w in embedding.weights)


def test_triplet_network_stacks_anchor_positive_negative():
    embedding = zoo.build("facenet", backbone="lenetpp", backbone_args={"width": 0.25},
                          embedding_dim=8)
    net = triplet_network(embedding)
    assert net.output_shape == (None, 3, 8)
    x = np.random.default_rng(3).uniform(0, 1, (2, 28, 28, 1)).astype("float32")
    out = to_numpy(net([x, x[::-1], x]))
    np.testing.assert_allclose(out[:, 0], to_numpy(embedding(x)), rtol=1e-5, atol=1e-6)
    loss = zoo.losses.TripletLoss(margin=0.2, mining="none")
    assert float(loss(np.zeros(2), out)) >= 0


@pytest.mark.parametrize("build", [
    lambda: zoo.build("siamese_net", input_shape=(96, 96, 1), filters=(8, 8, 8), units=16),
    lambda: siamese_pair(zoo.build("siamese_net", input_shape=(96, 96, 1), filters=(8, 8, 8),
                                   units=16)),
    lambda: zoo.build("facenet", backbone="lenetpp", backbone_args={"width": 0.25}),
    lambda: zoo.build("lenetpp", classes=10, width=0.25),
])
def test_save_and_load_round_trip(tmp_path, build):
    model = build()
    inputs = [np.random.default_rng(4).uniform(0, 1, (2, *i.shape[1:])).astype("float32")
              for i in model.inputs]
    inputs = inputs if len(inputs) > 1 else inputs[0]
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(restored(inputs)), to_numpy(model(inputs)),
                               rtol=1e-5, atol=1e-6)


def test_bad_arguments_say_what_is_expected():
    with pytest.raises(ValueError, match="embedding_dim"):
        zoo.build("siamese_net", embedding_dim=0)
    with pytest.raises(ValueError, match="known input height and width"):
        zoo.build("siamese_net", input_shape=(None, None, 1))
    with pytest.raises(ValueError, match="at least 91x91"):
        zoo.build("siamese_net", input_shape=(64, 64, 1))
    with pytest.raises(ValueError, match="Unknown model 'resnet19'"):
        zoo.build("facenet", backbone="resnet19")
    with pytest.raises(ValueError, match="zoo classifier"):
        zoo.build("facenet", backbone="siamese_net")
    with pytest.raises(ValueError, match="pooling"):
        zoo.build("facenet", pooling=None)
    custom = keras.Sequential([keras.Input((20, 20, 3)), keras.layers.Conv2D(4, 3)])
    with pytest.raises(ValueError, match="used as it is"):
        zoo.build("facenet", backbone=custom, backbone_weights="imagenet")
    with pytest.raises(ValueError, match="classes"):
        zoo.build("lenetpp", classes=0)
    with pytest.raises(ValueError, match="width"):
        zoo.build("lenetpp", width=0)
    with pytest.raises(ValueError, match="keras.Model"):
        siamese_pair("siamese_net")


# --- zoo.embeddings.verify ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def face_model():
    keras.utils.set_random_seed(0)
    return zoo.build("siamese_net", input_shape=(112, 92, 1))


def test_verify_from_paths_arrays_and_pil(face_model):
    a, b = FACES / "s1" / "1.pgm", FACES / "s2" / "1.pgm"
    same = zoo.embeddings.verify(face_model, a, a, threshold=0.5)
    assert same.distance == pytest.approx(0.0, abs=1e-5) and same.same
    result = zoo.embeddings.verify(face_model, a, b, threshold=0.0)
    assert result.distance > 0 and not result.same and result.threshold == 0.0
    # the same faces as a uint8 array, a float array in [0, 1], an RGB PIL image
    grey = np.asarray(Image.open(b))
    for other in (grey, grey / 255.0, Image.open(b).convert("RGB")):
        again = zoo.embeddings.verify(face_model, a, other, threshold=0.0)
        assert again.distance == pytest.approx(result.distance, rel=1e-3)
    # another size is resized to the model's input
    bigger = Image.open(b).resize((184, 224))
    assert zoo.embeddings.verify(face_model, a, bigger, threshold=0.0).distance > 0


def test_verify_embedding_matches_the_model(face_model):
    x = np.asarray(Image.open(FACES / "s3" / "2.pgm"), dtype="float32")[None, ..., None] / 255
    e = zoo.embeddings.embed(face_model, [FACES / "s3" / "2.pgm"])
    np.testing.assert_allclose(e, to_numpy(face_model(x)), rtol=1e-5, atol=1e-5)


def test_verify_uses_a_pair_model_and_a_classifier_with_an_embedding_layer(face_model):
    pair = siamese_pair(face_model)
    a, b = FACES / "s1" / "1.pgm", FACES / "s1" / "2.pgm"
    assert zoo.embeddings.verify(pair, a, b, threshold=1.0).distance == pytest.approx(
        zoo.embeddings.verify(face_model, a, b, threshold=1.0).distance, rel=1e-5)
    classifier = zoo.build("lenetpp", classes=10, width=0.25)
    assert zoo.embeddings.embedding_model(classifier).output_shape == (None, 2)


def test_verify_bad_input(face_model, tmp_path):
    a = FACES / "s1" / "1.pgm"
    with pytest.raises(ValueError, match="threshold"):
        zoo.embeddings.verify(face_model, a, a)
    with pytest.raises(ValueError, match="not found"):
        zoo.embeddings.verify(face_model, a, tmp_path / "missing.png", threshold=1.0)
    corrupt = Path(__file__).resolve().parents[2] / "fixtures" / "corrupt" / "not_an_image.png"
    with pytest.raises(ValueError, match="Could not read"):
        zoo.embeddings.verify(face_model, a, corrupt, threshold=1.0)
    with pytest.raises(ValueError, match=r"shape \(H, W\)"):
        zoo.embeddings.verify(face_model, a, np.zeros((2, 3, 4, 5)), threshold=1.0)
    with pytest.raises(ValueError, match="NaN"):
        zoo.embeddings.verify(face_model, a, np.full((112, 92), np.nan), threshold=1.0)


def test_shipped_face_weights_carry_their_threshold():
    model = zoo.load("siamese_net", weights="att_faces")
    record = model.zoo_weights
    assert record.tag == "att_faces" and record.input_shape == (112, 92, 1)
    metrics = next(iter(record.metrics.values()))
    assert zoo.embeddings.default_threshold(model) == metrics["balanced_threshold"]
    same = zoo.embeddings.verify(model, FACES / "s5" / "1.pgm", FACES / "s5" / "1.pgm")
    assert same.same and same.threshold == metrics["balanced_threshold"]
    with pytest.raises(ValueError, match="input_shape"):
        zoo.load("siamese_net", weights="att_faces", input_shape=(105, 105, 1))
