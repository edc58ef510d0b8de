#!/usr/bin/env bash
# The GPU run of the shipped CIFAR-10 weights and the GPU benchmark, for the lent device
# machine (JAX + CUDA + PyTorch, no TensorFlow, no network). Prepare here, on the CPU:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform \
#       manylinux2014_x86_64 -d .whl keras==3.15.1 namex optree   # .whl/: Keras for JAX
#   python -m training.data.pack DATA/cifar10/cifar10_jpg.zip --split train \
#       --out .data/cifar10_train.zip               # 44 MiB of training JPEGs
# then call the device tool with carry [".whl", ".data"] and the command
#   bash training/gpu_job.sh bench          # first call: the GPU benchmark (about 6 minutes)
#   bash training/gpu_job.sh train [seconds] # then as many calls as the run needs
# Each train call trains for at most `seconds` (default 540, under the 10-minute limit) and
# stops cleanly (SIGINT); the engine resumes the run at its last finished epoch on the next call
# while the machine is warm (runs/ stays there). Results go to $OUT: best/last weights, the
# CSV log, the curves, summary.json and the benchmark JSON. Evaluate on the test split on the
# CPU afterwards:  python -m training.evaluate --recipe resnet20_cifar10 --weights <best.weights.h5>
set -uo pipefail
what="${1:-train}"; seconds="${2:-540}"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/device.txt"

if [[ "$what" == bench || "$what" == all ]]; then
  timeout 500 python3 -m training.bench --models resnet50,vgg16,mobilenet --image-size 224 \
    --batch-size 128 --steps 20 --repeats 3 --mixed-precision bfloat16 --torch \
    --json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.log"
fi
if [[ "$what" == train || "$what" == all ]]; then
  timeout -s INT "$seconds" python3 -m training.train resnet20_cifar10 --backend jax \
    --data-dir .data/cifar10_train.zip --mixed-precision bfloat16 --out runs/resnet20_cifar10 \
    --verbose 2 2>&1 | tee -a "$OUT/train.log" | grep -v "^W0000"
  cp runs/resnet20_cifar10/{best.weights.h5,last.weights.h5,log.csv} "$OUT/" 2>/dev/null
  cp runs/resnet20_cifar10/{curves.png,summary.json} "$OUT/" 2>/dev/null
  tail -n 3 runs/resnet20_cifar10/log.csv
fi
