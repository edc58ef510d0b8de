"""The course's Siamese network on AT&T / ORL faces with contrastive loss (``weights="att_faces"``).

Split by identity, never by image: s1-s25 train, s26-s30 validate (early stopping and the
verification threshold), s31-s40 are ten people the network never sees, on whom verification
accuracy and ROC AUC are measured over all 4,950 pairs of their 100 images. Faces keep their
own 112x92 size; balanced same / different pairs, horizontal flips and 4-pixel shifts.
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="att_faces_siamese",
    model="siamese_net",
    dataset="att_faces",
    objective="contrastive",
    loss_args={"margin": 1.0},
    builder_args={"embedding_dim": 128, "dropout": [0.0, 0.0]},
    image_size=(112, 92),
    channels=1,
    fit="resize",
    train_identities=30,
    val_fraction=0.17,      # 5 of the 30 training identities
    batch_size=32,          # pairs
    steps_per_epoch=20,     # 250 training faces make only 3 batches of 32 pairs
    epochs=40,
    optimizer="adam",
    lr=1e-4,
    schedule="cosine",
    augment={"flip": {}, "crop": {"padding": 4}},
    early_stopping=10,
    monitor="val_roc_auc",   # checkpoint / stop on the validation people's ROC AUC
    target={"roc_auc": 0.95},
)
