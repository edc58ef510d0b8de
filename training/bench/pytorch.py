"""Keras vs PyTorch: training images/s of the zoo ResNet-50 against torchvision's ResNet-50.

Both sides with mixed precision (the Keras policy vs ``torch.autocast``) and SGD with momentum,
torch in ``channels_last`` and given its loop's best case (`bench_torch_resnet50`; target:
>= 0.9). torch and torchvision are imported inside the functions, so the package imports
without them. (The module is not named ``torch``, to leave that name to PyTorch.)
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

import keras

import zoo

from training.bench.timing import (_steps_of, _untimed_first_steps, compile_for_bench,
                                   dtype_policy, memory_snapshot, random_batch, rates,
                                   repeat_steps, seed_models, time_trials)


def torch_train_step(model, x, y, *, precision: str | None, device) -> Callable[[], Any]:
    """A PyTorch training step as usually written for speed: channels_last, SGD momentum 0.9,
    autocast to ``precision`` (``"bfloat16"`` / ``"float16"``, with a GradScaler for float16).

    The step does not synchronise (the usual asynchronous torch loop); the trial around it
    does (`torch_trial`). Returns a function running one step and returning the loss tensor.
    """
    import torch

    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    model = model.to(device, memory_format=torch.channels_last).train()
    x = x.to(device).contiguous(memory_format=torch.channels_last)
    y = y.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, None: None}[precision]
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss

    return step


def torch_trial(step: Callable[[], Any], steps: int, device) -> Callable[[], float]:
    """``steps`` torch steps, then a synchronisation (CUDA) and the last loss as a float."""
    import torch

    def trial() -> float:
        loss = None
        for _ in range(steps):
            loss = step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return float(loss.detach().float().cpu())

    return trial


def torchvision_available() -> bool:
    return (importlib.util.find_spec("torch") is not None
            and importlib.util.find_spec("torchvision") is not None)


def bench_torch_resnet50(*, batch_size: int = 32, image_size: int = 224, steps: int = 10,
                         repeats: int = 5, precision: str | None = None, classes: int = 1000,
                         device: str | None = None, zoo_name: str = "resnet50",
                         torch_builder: Callable[[int], Any] | None = None,
                         seed: int = 0) -> dict[str, Any]:
    """Training images/s of the zoo ResNet-50 under Keras vs torchvision's ResNet-50, alternately.

    The Keras side uses the current backend (JAX on the GPU machine) with the mixed-precision
    policy ``mixed_<precision>`` (set here, restored after); the torch side uses
    ``torch.autocast`` (+ GradScaler for float16) and channels_last. Same batch,
    image size, classes, optimizer (SGD momentum 0.9) and loss on both sides. The torch loop
    gets its best case: cuDNN autotuning on, steps queued without waiting and synchronised once
    per trial, while Keras' ``train_on_batch`` waits for each step's loss; a ratio near 1 is
    then not flattered.

    Args:
        batch_size, image_size, steps, repeats, classes, seed: see the CLI.
        precision: ``None`` (float32), ``"bfloat16"`` or ``"float16"``, on both sides.
        device: ``"cuda"`` or ``"cpu"``; default: CUDA when available.
        zoo_name: the Keras model (tests use a small one to exercise the torch loop on CPU).
        torch_builder: ``classes -> torch.nn.Module``; default
            ``torchvision.models.resnet50(num_classes=classes)``.

    Returns:
        ``{"keras": {...}, "torch": {...}, "ratio": keras / torch, ...}`` with median and
        per-trial images/s of each side.
    """
    with dtype_policy(precision):
        return _torch_row(batch_size=batch_size, image_size=image_size, steps=steps,
                          repeats=repeats, precision=precision, classes=classes, device=device,
                          zoo_name=zoo_name, torch_builder=torch_builder, seed=seed)


def _torch_row(*, batch_size, image_size, steps, repeats, precision, classes, device, zoo_name,
               torch_builder, seed) -> dict[str, Any]:
    import torch

    if torch_builder is None:
        import torchvision

        def torch_builder(n):
            return torchvision.models.resnet50(num_classes=n)
        torch_name = "torchvision.models.resnet50"
    else:
        torch_name = getattr(torch_builder, "__name__", "custom")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    x_np, y_np = random_batch(batch_size, image_size, classes, seed)

    seed_models(seed)
    model = compile_for_bench(zoo.build(zoo_name, weights=None,
                                        input_shape=(image_size, image_size, 3), classes=classes))
    keras_step, _ = _steps_of(model, keras.ops.convert_to_tensor(x_np),
                              keras.ops.convert_to_tensor(y_np))
    t_step = torch_train_step(torch_builder(classes),
                              torch.from_numpy(x_np).permute(0, 3, 1, 2),  # NHWC -> NCHW
                              torch.from_numpy(y_np).long(), precision=precision, device=device)
    trials = {"keras": repeat_steps(keras_step, steps), "torch": torch_trial(t_step, steps, device)}
    first = _untimed_first_steps({"keras": keras_step, "torch": torch_trial(t_step, 1, device)})
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = time_trials(trials, repeats)
    result = {side: rates(t, batch_size * steps) for side, t in times.items()}
    row = {
        "model": zoo_name, "reference": torch_name, "device": str(device),
        "keras_backend": keras.backend.backend(), "precision": precision or "float32",
        "keras_dtype_policy": keras.mixed_precision.global_policy().name,
        "keras": result["keras"], "torch": result["torch"],
        "ratio": result["keras"]["images_per_s"] / result["torch"]["images_per_s"],
        "first_step_s": first, "jit_compile": bool(model.jit_compile),
        "final_loss": {"keras": keras_step(), "torch": trials["torch"]()},
        "torch_cuda_peak_mb": (torch.cuda.max_memory_allocated() / 2**20
                               if device.type == "cuda" else None),
    }
    row.update(memory_snapshot())
    del model
    keras.backend.clear_session()
    return row


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()
