"""Triplet loss: loss + gradient of vectorised batch-hard mining against a naive per-anchor loop.

`bench_triplet` times, at one batch size, the naive loop (`naive_batch_hard_triplet_loss`)
against ``TripletLoss(mining="batch_hard")``, eager and XLA-compiled, and batch_all and
semi_hard where their B x B x B tensors fit; the largest intermediate of each comes from
shapes (`triplet_largest_intermediate`) and, under JAX, from XLA's memory analysis
(`xla_temp_bytes`). `format_triplet_table` prints the rows.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Callable

import keras
import numpy as np

from training.bench.timing import (_fmt, _untimed_first_steps, memory_snapshot, time_trials,
                                   value_and_grad)


TRIPLET_BATCH_SIZES = (64, 256, 1024)
TRIPLET_DIM = 128
TRIPLET_PER_IDENTITY = 4  # K images per identity in the P x K batch
TRIPLET_MAX_INTERMEDIATE_BYTES = 2 * 2**30  # batch_all / semi_hard skipped above 2 GiB
FLOAT32_BYTES = 4


def naive_batch_hard_triplet_loss(labels, embeddings, margin: float = 0.2,
                                  distance: str = "squared_l2", soft_margin: bool = False):
    """Batch-hard triplet loss written as a plain Python loop over anchors (the reference).

    The same math as ``TripletLoss(margin, distance, mining="batch_hard")``, one anchor at a
    time: its distances to the whole batch (a row of the distance matrix, O(B)), the largest
    over its positives (same label, not itself), the smallest over its negatives, the hinge
    ``max(0, d_ap - d_an + margin)`` (or ``softplus(d_ap - d_an)``); the loss is the mean over
    the anchors that have both a positive and a negative (0 when none has). Written in
    ``keras.ops``, so it runs and differentiates on every backend; it issues ~10 small ops per
    anchor, which is what the vectorised loss saves.

    Args:
        labels: integer identities ``(B,)`` (read on the host: they pick the indices).
        embeddings: ``(B, D)``.
        margin, distance, soft_margin: as `zoo.losses.triplet.TripletLoss`.

    Returns:
        The scalar loss.

    Example:
        >>> x = np.array([[0., 0.], [0., 1.], [3., 0.], [3., 1.]], "float32")
        >>> float(naive_batch_hard_triplet_loss(np.array([0, 0, 1, 1]), x, margin=1.0))
        0.0
    """
    from keras import ops

    from zoo.losses.distances import check_distance, l2_normalize, safe_sqrt

    check_distance(distance)
    labels = np.asarray(ops.convert_to_numpy(labels)).reshape(-1)
    x = ops.cast(embeddings, "float32")
    if distance == "cosine":
        x = l2_normalize(x)  # the loss's own normalisation (finite gradient at zero)
    sq_norms = ops.sum(ops.square(x), axis=-1)
    total, anchors = ops.zeros(()), 0
    for a in range(len(labels)):
        positives = np.flatnonzero((labels == labels[a]) & (np.arange(len(labels)) != a))
        negatives = np.flatnonzero(labels != labels[a])
        if len(positives) == 0 or len(negatives) == 0:
            continue  # nothing to mine for this anchor
        dots = ops.matmul(x, x[a])                           # (B,): row a of the Gram matrix
        if distance == "cosine":
            d = 1.0 - dots
        else:
            d = ops.maximum(sq_norms - 2.0 * dots + sq_norms[a], 0.0)
            if distance == "l2":
                d = safe_sqrt(d)
        hardest_positive = ops.max(ops.take(d, positives))
        hardest_negative = ops.min(ops.take(d, negatives))
        diff = hardest_positive - hardest_negative
        total = total + (ops.softplus(diff) if soft_margin else ops.relu(diff + margin))
        anchors += 1
    return total / max(anchors, 1)


def triplet_batch(batch_size: int, dim: int, per_identity: int = TRIPLET_PER_IDENTITY,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A P x K batch: ``batch_size // per_identity`` identities, ``per_identity`` each,
    unit-norm Gaussian embeddings ``(B, dim)`` float32 and int32 labels ``(B,)``."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(math.ceil(batch_size / per_identity)), per_identity)
    labels = rng.permutation(labels[:batch_size]).astype("int32")
    x = rng.normal(size=(batch_size, dim)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def triplet_largest_intermediate(mining: str, batch_size: int) -> dict[str, Any]:
    """The largest float32 tensor a triplet loss variant builds, from its shapes.

    ``batch_hard`` works on the B x B distance matrix; ``batch_all`` builds ``D[a, p] - D[a, n]``
    over B x B x B; ``semi_hard`` compares ``D[a, n] > D[a, p]`` over B x B x B; the naive loop
    holds one distance row (B) per anchor, B of them kept for the backward pass (O(B^2) in all).
    The backward pass keeps tensors of the same shapes, a few at a time.
    """
    shape = {"naive": (batch_size,), "batch_hard": (batch_size,) * 2,
             "batch_all": (batch_size,) * 3, "semi_hard": (batch_size,) * 3}[mining]
    return {"shape": list(shape), "bytes": FLOAT32_BYTES * math.prod(shape)}


def xla_temp_bytes(fn: Callable[[Any], Any], x) -> int | None:
    """Under JAX: the scratch memory XLA allocates for ``jit(value_and_grad(fn))(x)``, from the
    compiler's own memory analysis (compiled, never run: safe for B^3 shapes). Else None."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    try:
        analysis = jax.jit(jax.value_and_grad(fn)).lower(x).compile().memory_analysis()
        return None if analysis is None else int(analysis.temp_size_in_bytes)
    except Exception:  # informative only
        return None


def _seconds(times: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(times), "trials_s": list(times)}


def bench_triplet(batch_size: int, *, dim: int = TRIPLET_DIM, repeats: int = 5, warmup: int = 1,
                  margin: float = 0.2, distance: str = "squared_l2",
                  per_identity: int = TRIPLET_PER_IDENTITY,
                  max_intermediate_bytes: int = TRIPLET_MAX_INTERMEDIATE_BYTES,
                  compiled: bool = True, seed: int = 0) -> dict[str, Any]:
    """Forward + backward (gradient w.r.t. the embeddings) of batch-hard triplet loss, timed
    against the naive per-anchor loop, plus batch_all and semi_hard where their B^3 fits.

    Sides, timed alternately (`time_trials`, one loss + gradient per trial, ``warmup`` untimed
    rounds first): ``naive`` (`naive_batch_hard_triplet_loss`, eager), ``batch_hard``
    (``TripletLoss(mining="batch_hard")``, eager: the same execution mode as the naive loop),
    ``batch_hard_compiled`` (XLA: ``tf.function(jit_compile=True)`` / ``jax.jit``; not on
    torch), ``batch_all`` and ``semi_hard`` (eager; skipped, with a reason, when one B^3 float32
    tensor would exceed ``max_intermediate_bytes``).

    Args:
        batch_size: B (a P x K batch with K = ``per_identity``).
        dim: embedding size D.
        repeats, warmup: timed and untimed alternating rounds.
        margin, distance: of every loss.
        max_intermediate_bytes: the largest B^3 tensor batch_all / semi_hard may need.
        compiled: also time the XLA-compiled batch-hard loss.

    Returns:
        ``{"batch_size", "dim", "sides": {name: {"median_s", "trials_s", "loss",
        "largest_intermediate"} or {"skipped"}}, "ratio" (naive / batch_hard, median seconds),
        "ratio_compiled" (naive / batch_hard_compiled), "ratio_to_batch_hard" (batch_all and
        semi_hard seconds / batch_hard seconds), "check" (naive vs vectorised loss and gradient
        differences), "xla_temp_bytes", memory}``.
    """
    from zoo.losses.triplet import TripletLoss

    x_np, y_np = triplet_batch(batch_size, dim, per_identity, seed)
    x, labels = keras.ops.convert_to_tensor(x_np), keras.ops.convert_to_tensor(y_np)
    losses: dict[str, Callable[[Any], Any]] = {
        "naive": lambda e: naive_batch_hard_triplet_loss(y_np, e, margin, distance)}
    for mining in ("batch_hard", "batch_all", "semi_hard"):
        loss = TripletLoss(margin=margin, distance=distance, mining=mining)
        losses[mining] = lambda e, loss=loss: loss(labels, e)

    sides: dict[str, dict[str, Any]] = {}
    calls: dict[str, Callable[[], tuple[float, np.ndarray]]] = {}
    for name in ("naive", "batch_hard", "batch_hard_compiled", "batch_all", "semi_hard"):
        mining = "batch_hard" if name == "batch_hard_compiled" else name
        largest = triplet_largest_intermediate(mining, batch_size)
        sides[name] = {"largest_intermediate": largest}
        if largest["bytes"] > max_intermediate_bytes:
            sides[name]["skipped"] = (
                f"one {'x'.join(map(str, largest['shape']))} float32 tensor is "
                f"{largest['bytes'] / 2**30:.1f} GiB > {max_intermediate_bytes / 2**30:g} GiB")
            continue
        f = value_and_grad(losses[mining], compiled=name.endswith("_compiled"))
        if f is None or (name.endswith("_compiled") and not compiled):
            sides[name]["skipped"] = ("not compiled on the torch backend" if f is None
                                      else "compiled side not requested")
            continue
        calls[name] = lambda f=f: f(x)

    first = _untimed_first_steps(calls)  # tracing / XLA compilation
    times = time_trials(calls, repeats, warmup=max(0, warmup - 1))
    results = {name: call() for name, call in calls.items()}
    for name, t in times.items():
        sides[name].update(_seconds(t), loss=results[name][0], first_call_s=first[name])

    hard = sides["batch_hard"]["median_s"]
    row: dict[str, Any] = {
        "batch_size": batch_size, "dim": dim, "per_identity": per_identity, "margin": margin,
        "distance": distance, "repeats": repeats, "warmup": warmup, "sides": sides,
        "ratio": sides["naive"]["median_s"] / hard,
        "ratio_compiled": (sides["naive"]["median_s"] / sides["batch_hard_compiled"]["median_s"]
                           if "median_s" in sides["batch_hard_compiled"] else None),
        "ratio_to_batch_hard": {m: sides[m]["median_s"] / hard if "median_s" in sides[m]
                                else None for m in ("batch_all", "semi_hard")},
        "check": {
            "loss_abs_diff": abs(results["naive"][0] - results["batch_hard"][0]),
            "grad_max_abs_diff": float(np.max(np.abs(results["naive"][1]
                                                     - results["batch_hard"][1]))),
        },
        "xla_temp_bytes": ({m: xla_temp_bytes(losses[m], x)
                            for m in ("batch_hard", "batch_all", "semi_hard")}
                           if keras.backend.backend() == "jax" else None),
    }
    row.update(memory_snapshot())
    return row


def _fmt_bytes(n: float) -> str:
    """``4096`` -> ``"4 KiB"``: binary units, at most one decimal."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if n == int(n) else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def format_triplet_table(rows: list[dict[str, Any]]) -> str:
    """The triplet rows as an aligned text table of ratios and largest intermediates."""
    header = ("B", "naive/hard", "naive/hard XLA", "hard XLA speed-up", "all/hard",
              "semi/hard", "largest hard", "largest all, semi", "|dloss|", "|dgrad|")
    lines = [header]
    for r in rows:
        s = r["sides"]
        xla = s["batch_hard_compiled"].get("median_s")
        lines.append((
            str(r["batch_size"]), _fmt(r["ratio"], ".1f"), _fmt(r["ratio_compiled"], ".1f"),
            _fmt(s["batch_hard"]["median_s"] / xla if xla else None, ".1f"),
            _fmt(r["ratio_to_batch_hard"]["batch_all"], ".2f"),
            _fmt(r["ratio_to_batch_hard"]["semi_hard"], ".2f"),
            _fmt_bytes(s["batch_hard"]["largest_intermediate"]["bytes"]),
            _fmt_bytes(s["batch_all"]["largest_intermediate"]["bytes"])
            + (" (skipped)" if "skipped" in s["batch_all"] else ""),
            _fmt(r["check"]["loss_abs_diff"], ".1e"), _fmt(r["check"]["grad_max_abs_diff"], ".1e")))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in lines)


def _triplet_section(args, note: Callable[[str], None],
                     save: Callable[[dict], None], result: dict[str, Any]) -> None:
    """The triplet rows of `main` (``--suite triplet``), saved after each batch size."""
    result["triplet"] = []
    for b in args.triplet_batch_sizes:
        print(f"... triplet loss B={b} D={args.triplet_dim}", flush=True)
        row = bench_triplet(b, dim=args.triplet_dim, repeats=args.repeats, seed=args.seed,
                            distance=args.triplet_distance, compiled=True)
        for m in ("batch_all", "semi_hard", "batch_hard_compiled"):
            if "skipped" in row["sides"][m]:
                note(f"triplet B={b}: {m} skipped: {row['sides'][m]['skipped']}")
        result["triplet"].append(row)
        save(result)
