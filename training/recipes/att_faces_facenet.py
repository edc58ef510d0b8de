"""FaceNet-style face embeddings for AT&T / ORL that generalise to people never seen
(``zoo.load("facenet", weights="att_faces")``, the Verify tab's face model).

Same split as ``att_faces_siamese``: s1-s25 train, s26-s30 validate (checkpoint and the
verification threshold), s31-s40 are the ten unseen test people. What made it generalise,
each lever measured on the validation people (README, "Faces"):

* a small network: LeNets++ (Wen et al. 2016, the center-loss paper's net) at half width and
  global average pooling, 0.2M parameters instead of the Siamese net's 2.4M dense layers;
* half resolution, 56x46 (raw pixels, too, separate people better there);
* strong augmentation: flips, shifts, small rotations and zooms, and strong brightness and
  contrast changes (each person's ten photos come from sessions of different lighting; a
  network that learns the 25 training people's lighting does not recognise a new person
  under another light);
* batch norm on the projection (``batch_norm=True``) before the L2 normalisation;
* a plain softmax over the 25 training people on that batch-normalised feature, a
  training-only head (not shipped); the embedding is the feature L2-normalised. NormFace's
  cosine classifier (``"classifier": "cosine"``) and center loss (``weight`` > 0) were
  measured and did no better (README's ablation).
"""

from training.recipes import Recipe

RECIPE = Recipe(
    name="att_faces_facenet",
    model="facenet",
    dataset="att_faces",
    objective="center",
    loss_args={"weight": 0.0, "classifier": "linear"},
    builder_args={"backbone": "lenetpp", "backbone_args": {"width": 0.5},
                  "embedding_dim": 64, "batch_norm": True},
    image_size=(56, 46),
    channels=1,
    fit="resize",
    train_identities=30,
    val_fraction=0.17,      # 5 of the 30 training identities
    batch_size=40,
    steps_per_epoch=25,     # 250 training faces make only 6 batches of 40
    epochs=30,
    optimizer="adamw",
    lr=1e-3,
    weight_decay=5e-4,
    schedule="cosine",
    augment={"flip": {}, "crop": {"padding": 3}, "rotate": {"factor": 0.03},
             "zoom": {"factor": 0.1}, "brightness": {"factor": 0.3},
             "contrast": {"factor": 0.5}},
    monitor="val_roc_auc",
    target={"roc_auc": 0.97},
)
