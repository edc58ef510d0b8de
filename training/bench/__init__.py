"""Speed is measured, not guessed: throughput ratios against a reference run in the same process.

    python -m training.bench [--models resnet50,vgg16,mobilenet] [--batch-size 32]
        [--image-size 224] [--steps 10] [--repeats 5] [--mixed-precision bfloat16]
        [--pipeline-images 2000] [--data synthetic|cifar10] [--torch/--no-torch]
        [--json OUT.json] [--tiny]
    python -m training.bench --suite triplet [--triplet-batch-sizes 64,256,1024]
        [--triplet-dim 128] [--triplet-distance squared_l2] [--repeats 5] [--json OUT.json]
    python -m training.bench --suite dense [--image-sizes 256,512] [--unpool-shape 8,128,128,64]
        [--image-size 256] [--batch-size 8] [--steps 2] [--repeats 5] [--json OUT.json]
    python -m training.bench --suite detection [--nms-boxes 1000,10000]
        [--nms-max-outputs 100,300] [--nms-steps 10] [--image-sizes 320,640]
        [--max-detections 100] [--steps 1] [--repeats 5] [--json OUT.json] [--tiny]

A lone absolute time says little: it depends on the machine, the drivers, the load, the
thermal state. So every number this script prints is a *ratio* of two rates measured in the
same process, alternately, on the same data:

* **zoo model vs its reference** (ResNet-50 vs ``keras.applications.ResNet50``, VGG-16 vs
  ``VGG16``, MobileNet vs ``MobileNet``): the layouts are equal, so the ratio should be about
  1.0 (target: >= 0.97) for training (``train_on_batch``) and inference (``predict_on_batch``).
* **the tf.data pipeline vs the model it feeds**: synthetic JPEGs (or CIFAR-10) decoded,
  prepared, cached, shuffled, batched and augmented by `training.data.pipeline.make_pipeline`,
  against the training rate of the CIFAR ResNet-20 on the same batch and image size
  (target: pipeline >= 5x the model, so the model never waits for data).
* **zoo ResNet-50 under Keras vs torchvision's ResNet-50** (``--torch``, default on when CUDA
  is available): both with mixed precision (Keras policy vs ``torch.autocast``) and SGD with
  momentum, torch in ``channels_last`` (target: >= 0.9).
* **batch-hard triplet loss vs a naive per-anchor loop** (``--suite triplet``): loss + gradient
  w.r.t. 128-d embeddings at B = 64, 256, 1024 (`bench_triplet`), ratio = naive seconds /
  vectorised seconds, with batch_all and semi_hard relative to batch_hard where their B x B x B
  tensors fit in 2 GiB, and the largest intermediate of each (B^2 vs B^3 floats) from shapes.
* **dense prediction** (``--suite dense``): U-Net inference at 256x256 and 512x512, batch 1,
  paper size (64 filters) and the shipped CPU variant (16 filters, batch norm), in ms per image
  and as a cost ratio against ``keras.applications.ResNet50(include_top=False)`` on a
  3-channel image of the same size (`bench_unet_forward`); max-unpooling ``onehot`` vs
  ``scatter``, forward + backward, both against ``UpSampling2D`` (`bench_unpooling`); on a GPU,
  U-Net training images/s under ``mixed_bfloat16`` vs float32 at 256x256, batch 8
  (`bench_unet_mixed_precision`; skipped with a note on a CPU).
* **detection** (``--suite detection``): greedy NMS (`zoo.ops.non_max_suppression`, compiled:
  ``tf.function`` with and without XLA, or ``jax.jit``) on 1,000 and 10,000 random boxes, max
  100 and 300 kept, against ``tf.image.non_max_suppression`` in the same process, with the kept
  indices checked equal (`bench_nms`; ratio = our seconds / its seconds; target: <= 2.0 on
  TensorFlow, < 1.0 under JAX; skipped with a note without TensorFlow); RetinaNet inference at
  320x320 and 640x640, batch 1, the shipped CPU variant (`RETINANET_CPU_ARGS`, or the
  ``retinanet.bccd`` record's arguments) and the paper's ResNet-50-FPN: forward and, apart,
  ``decode_predictions``, in ms per image and in ``ResNet50(include_top=False)`` forwards at
  the same size, with peak RSS (`bench_retinanet`).

The package: `training.bench.timing` holds the shared measurement (alternating trials, rates,
and the method in full) and the setup common to the suites; one module per suite (`models`,
`pipeline`, `pytorch`, `triplet`, `dense`, `detection`) times its rows and formats its table;
`cli` parses the flags, runs a suite, prints the report and checks the targets. Their public
names are re-exported here, so ``training.bench.<name>`` keeps working.

The model rows only use Keras, so they run under ``KERAS_BACKEND=tensorflow``, ``jax`` or
``torch``; TensorFlow is imported only by the pipeline row and the detection suite's NMS
reference, which are skipped with a note where TensorFlow is missing (the lent GPU machine has
JAX and PyTorch only). The script prints "met" / "not met" per target and never asserts;
``--json`` writes every number, per trial, with the device, backend, versions and settings.

Example:
    >>> from training import bench
    >>> result = bench.main(["--tiny", "--models", "mobilenet"])   # doctest: +SKIP
    >>> result["pairs"][0]["train"]["ratio"]                        # doctest: +SKIP
    1.01
"""

from training.bench.cli import (COMPARISONS, TARGETS, TINY, check_targets, main, parse_args,
                                print_report)
from training.bench.dense import (DENSE_IMAGE_SIZES, TINY_DENSE, UNPOOL_SHAPE, bench_unet_forward,
                                  bench_unet_mixed_precision, bench_unpooling, format_dense,
                                  unet_variants)
from training.bench.detection import (DETECTION_IMAGE_SIZES, MAX_DETECTIONS, NMS_BOXES,
                                      NMS_MAX_OUTPUTS, NMS_STEPS, NMS_TARGETS,
                                      RETINANET_CPU_ARGS, RETINANET_PAPER_ARGS, TINY_DETECTION,
                                      bench_nms, bench_retinanet, compiled_nms, format_detection,
                                      random_boxes, retinanet_variants)
from training.bench.models import REFERENCES, bench_pair, build_classifier, format_table
from training.bench.pipeline import PIPELINE_MODEL, bench_pipeline, write_synthetic_jpegs
from training.bench.pytorch import (bench_torch_resnet50, torch_train_step, torch_trial,
                                    torchvision_available)
from training.bench.timing import (accelerator_peak_mb, compile_for_bench, describe_device,
                                   dtype_policy, memory_snapshot, peak_rss_mb, random_batch, rates,
                                   repeat_steps, seed_models, tensorflow_available, time_trials,
                                   value_and_grad)
from training.bench.triplet import (FLOAT32_BYTES, TRIPLET_BATCH_SIZES, TRIPLET_DIM,
                                    TRIPLET_MAX_INTERMEDIATE_BYTES, TRIPLET_PER_IDENTITY,
                                    bench_triplet, format_triplet_table,
                                    naive_batch_hard_triplet_loss, triplet_batch,
                                    triplet_largest_intermediate, xla_temp_bytes)

__all__ = ["COMPARISONS", "DENSE_IMAGE_SIZES", "DETECTION_IMAGE_SIZES", "FLOAT32_BYTES",
           "MAX_DETECTIONS", "NMS_BOXES", "NMS_MAX_OUTPUTS", "NMS_STEPS", "NMS_TARGETS",
           "PIPELINE_MODEL", "REFERENCES", "RETINANET_CPU_ARGS", "RETINANET_PAPER_ARGS", "TARGETS",
           "TINY", "TINY_DENSE", "TINY_DETECTION", "TRIPLET_BATCH_SIZES", "TRIPLET_DIM",
           "TRIPLET_MAX_INTERMEDIATE_BYTES", "TRIPLET_PER_IDENTITY", "UNPOOL_SHAPE",
           "accelerator_peak_mb", "bench_nms", "bench_pair", "bench_pipeline", "bench_retinanet",
           "bench_torch_resnet50", "bench_triplet", "bench_unet_forward",
           "bench_unet_mixed_precision", "bench_unpooling", "build_classifier", "check_targets",
           "compile_for_bench", "compiled_nms", "describe_device", "dtype_policy", "format_dense",
           "format_detection", "format_table", "format_triplet_table", "main", "memory_snapshot",
           "naive_batch_hard_triplet_loss", "parse_args", "peak_rss_mb", "print_report",
           "random_batch", "random_boxes", "rates", "repeat_steps", "retinanet_variants",
           "seed_models", "tensorflow_available", "time_trials", "torch_train_step", "torch_trial",
           "torchvision_available", "triplet_batch", "triplet_largest_intermediate",
           "unet_variants", "value_and_grad", "write_synthetic_jpegs", "xla_temp_bytes"]
