"""Publishes trained weights: a ``.weights.h5`` file, its sha256 and a manifest record.

    python -m training.publish --model lenet5 --weights runs/x/best.weights.h5 --tag mnist \\
        --dataset mnist --split test --metric acc@1=0.991 --metric loss=0.03 \\
        --recipe training/recipes/lenet5_mnist.py [--default] [--copy-to DIR|hf://user/repo]

A weight tag is a record, not just a file (DESIGN.md): `publish` rebuilds the model with
``zoo.build(arch, **builder_args)``, writes ``<out_dir>/<arch>_<tag>.weights.h5`` atomically
(float16 where the outputs allow it, see below), computes its sha256 and writes the record
``"<arch>.<tag>"`` (dataset, split, metrics, recipe, git commit, checksum, size) into the weight
manifest, ``zoo/weights/manifest.json`` by default, so that ``zoo.load(arch, weights=tag)``
finds it in the same process.

float16: Keras writes each variable in its own dtype, so the float32 datasets of the saved file
are rewritten as float16 with h5py (same groups, names, attributes; integer datasets
untouched). Keras 3 loads such a file into float32 variables (``Variable.assign`` casts to the
variable's dtype, on every backend), so nothing changes for the user but the file size. The
file is checked before it is kept: it is loaded into a freshly built model and compared with
the float32 model on a seeded probe batch; if the largest output difference exceeds
``max_abs_diff``, the arg-max of an output changes, or a value overflows float16, the float32
file is published instead (with a logged warning, and noted in the record's ``source``).

Where the record points: a file written to ``zoo/weights/`` is a bundled ``file``; otherwise
the record gets ``url``: the one given, the Hugging Face address when ``copy_to="hf://..."``,
or else the file's own ``file://`` address (usable on this machine only; a warning says so).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

import zoo
from training.checkpoints import atomic_write_text, default_mode
from zoo import weights as W
from zoo.registry import get_entry
from zoo.weights import WeightSpec

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
PREPROCESSING = ("unit", "caffe", "tf")
PROBE_SIZE = 8
PROBE_SEED = 0
_HF_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class UploadError(RuntimeError):
    """The published file could not be copied or uploaded to its target."""


@dataclasses.dataclass
class PublishReport:
    """What `publish` did besides the record: the file, its dtype and the float16 check.

    Attributes:
        spec: the record written to the manifest.
        path: the published weight file.
        dtype: ``"float16"`` or ``"float32"``, the dtype of the floating-point datasets.
        max_abs_diff: largest output difference between the published file (loaded into a
            fresh model) and the source model on the probe batch.
        argmax_agreement: fraction of probe outputs whose arg-max agrees (1.0 when no output
            has more than one channel).
        fallback_reason: why float16 was refused, when it was.
        copies: where the file was copied or uploaded (``copy_to``).
    """

    spec: WeightSpec
    path: Path
    dtype: str
    max_abs_diff: float
    argmax_agreement: float
    fallback_reason: str = ""
    copies: list[str] = dataclasses.field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

def check_tag(tag: Any) -> str:
    """Returns ``tag`` if it is a valid weight tag, else raises a ValueError naming ``tag``."""
    if not isinstance(tag, str) or not TAG_PATTERN.fullmatch(tag) or tag == "default":
        raise ValueError(
            f"`tag` must be 1-64 letters, digits, '_' or '-', starting with a letter or digit, "
            f"and not 'default' (e.g. 'mnist', 'imagenet_a050'). Received: tag={tag!r}.")
    return tag


def _check_metrics(metrics: dict[str, Any], dataset: str) -> dict[str, dict[str, float]]:
    """``{name: value}`` or ``{dataset: {name: value}}`` -> ``{dataset: {name: float}}``."""
    if not isinstance(metrics, dict):
        raise ValueError(f"`metrics` must be a dict {{name: value}} (or {{dataset: {{name: "
                         f"value}}}}). Received: metrics={metrics!r}.")
    nested = bool(metrics) and all(isinstance(v, dict) for v in metrics.values())
    grouped = metrics if nested else {dataset: metrics}
    if not any(grouped.values()):
        raise ValueError(f"`metrics` must hold at least one measured value, e.g. "
                         f"{{'acc@1': 0.99}}. Received: metrics={metrics!r}.")
    out: dict[str, dict[str, float]] = {}
    for ds, values in grouped.items():
        out[str(ds)] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not math.isfinite(float(value)):
                raise ValueError(f"Metric {name!r} must be a finite number. Received: "
                                 f"{name}={value!r}.")
            out[str(ds)][str(name)] = float(value)
    return out


def parse_hf_target(target: str) -> tuple[str, str]:
    """``"hf://user/repo[/folder]"`` -> ``("user/repo", "folder")`` (folder may be ``""``).

    Raises:
        ValueError: the string is not of that form.
    """
    expected = "hf://<user>/<repo>[/<folder>] (e.g. hf://me/zoo-weights or hf://me/zoo/lenet5)"
    if not isinstance(target, str) or not target.startswith("hf://"):
        raise ValueError(f"`copy_to` must be {expected} or a local folder. "
                         f"Received: copy_to={target!r}.")
    parts = target[len("hf://"):].rstrip("/").split("/")
    if len(parts) < 2 or not all(_HF_PART.fullmatch(p) and p not in (".", "..")
                                 for p in parts):
        raise ValueError(f"Malformed Hugging Face target: `copy_to` must be {expected}. "
                         f"Received: copy_to={target!r}.")
    return f"{parts[0]}/{parts[1]}", "/".join(parts[2:])


def git_commit(repo: str | os.PathLike = REPO_ROOT) -> str:
    """``git rev-parse HEAD`` of ``repo``, with ``-dirty`` if tracked files have changes.

    Returns ``"unknown"`` outside a git repository or without git.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


# ---------------------------------------------------------------------------------------------
# The file: float32 -> float16 and the probe check
# ---------------------------------------------------------------------------------------------

def convert_to_float16(src: str | os.PathLike, dst: str | os.PathLike) -> list[str]:
    """Copies a Keras ``.weights.h5`` file with its float32 datasets stored as float16.

    Groups, dataset names, shapes and attributes are copied as they are; datasets of any
    other dtype (integers, bfloat16, float64) are copied unchanged.

    Returns:
        The names of float32 datasets with finite values that overflow float16 (magnitude
        above 65504); empty when the conversion is faithful up to rounding.
    """
    import h5py

    overflow: list[str] = []
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        for key, value in fin.attrs.items():
            fout.attrs[key] = value

        def copy(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Group):
                group = fout.require_group(name)
                for key, value in obj.attrs.items():
                    group.attrs[key] = value
                return
            data = obj[()]
            if obj.dtype == np.float32:
                with np.errstate(over="ignore"):
                    half = np.asarray(data, dtype=np.float16)
                if np.any(np.isfinite(data) & ~np.isfinite(half)):
                    overflow.append(name)
                data = half
            options = {}
            if obj.compression:
                options = {"compression": obj.compression,
                           "compression_opts": obj.compression_opts, "chunks": obj.chunks}
            dataset = fout.create_dataset(name, data=data, **options)
            for key, value in obj.attrs.items():
                dataset.attrs[key] = value

        fin.visititems(copy)
    return overflow


def _probe_batch(model: keras.Model, input_shape: tuple[int, ...], preprocessing: str,
                 size: int = PROBE_SIZE, seed: int = PROBE_SEED) -> list[np.ndarray]:
    """Seeded uniform images in the range the model expects: [0, 1] for ``"unit"``, [-1, 1]
    for ``"tf"``, about [-128, 128] for ``"caffe"`` (mean-subtracted 0-255)."""
    rng = np.random.default_rng(seed)
    batches = []
    for i, tensor in enumerate(model.inputs):
        shape = tuple(input_shape) if i == 0 else tuple(tensor.shape[1:])
        if any(d is None for d in shape):
            raise ValueError(f"Input {i} of {model.name} has an undefined shape {shape}; "
                             "cannot draw a probe batch.")
        x = rng.random((size, *shape), dtype=np.float32)
        if preprocessing == "tf":
            x = 2.0 * x - 1.0
        elif preprocessing == "caffe":
            x = 255.0 * x - 127.5
        batches.append(x)
    return batches


def _outputs(model: keras.Model, probe: list[np.ndarray]) -> list[np.ndarray]:
    out = model(probe[0] if len(probe) == 1 else probe, training=False)
    return [np.asarray(keras.ops.convert_to_numpy(o), dtype=np.float64)
            for o in keras.tree.flatten(out)]


def compare_outputs(reference: list[np.ndarray], other: list[np.ndarray]) -> tuple[float, float]:
    """Largest absolute difference (inf if any value is not finite) and arg-max agreement
    over the last axis of outputs with more than one channel."""
    diff = 0.0
    agree, total = 0, 0
    for a, b in zip(reference, other, strict=True):
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return math.inf, 0.0
        diff = max(diff, float(np.max(np.abs(a - b))) if a.size else 0.0)
        if a.ndim >= 2 and a.shape[-1] > 1:
            agree += int(np.sum(np.argmax(a, -1) == np.argmax(b, -1)))
            total += int(np.prod(a.shape[:-1]))
    return diff, (agree / total if total else 1.0)


def _build(arch: str, builder_args: dict[str, Any]) -> keras.Model:
    try:
        return zoo.build(arch, **builder_args)
    except TypeError as e:
        raise ValueError(f"zoo.build({arch!r}) does not accept `builder_args` "
                         f"{builder_args!r}: {e}") from e


def _check_file(arch: str, builder_args: dict[str, Any], path: Path, probe: list[np.ndarray],
                reference: list[np.ndarray]) -> tuple[float, float]:
    """Loads ``path`` into a freshly built model and compares its outputs with ``reference``."""
    fresh = _build(arch, builder_args)
    W.load_weights_file(fresh, path, arch)
    return compare_outputs(reference, _outputs(fresh, probe))


# ---------------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------------

def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        logger.info("Manifest %s does not exist yet; starting a new one.", path)
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"Manifest {path} is not valid JSON ({e}); expected an object "
                         "{\"arch.tag\": record}.") from e
    if not isinstance(raw, dict):
        raise ValueError(f"Manifest {path} must hold a JSON object {{\"arch.tag\": record}}; "
                         f"it holds a {type(raw).__name__}.")
    return raw


def update_manifest(record: dict[str, Any], manifest_path: str | os.PathLike) -> dict[str, Any]:
    """Inserts or replaces ``record`` under ``"<arch>.<tag>"``, atomically.

    The other entries keep their content and order (a replaced entry keeps its position);
    when the record is the default, every other record of the same architecture loses its
    ``default`` flag. Written with ``indent=2`` and a trailing newline.

    Returns:
        The manifest as it was before the update.
    """
    spec = WeightSpec.from_dict(record)  # rejects unknown fields
    path = Path(manifest_path)
    before = _read_manifest(path)
    manifest = json.loads(json.dumps(before))
    if spec.default:
        for key, other in manifest.items():
            if key != spec.key and isinstance(other, dict) and other.get("arch") == spec.arch \
                    and other.get("default"):
                logger.info("%s is no longer the default weights of %s.", key, spec.arch)
                other["default"] = False
    manifest[spec.key] = record
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
    return before


def _refresh_registry(spec: WeightSpec, written_real: bool, register: bool,
                      runtime_only: dict[str, WeightSpec]) -> None:
    """Makes ``zoo.load`` see the new record in this process."""
    if written_real:  # a manifest zoo reads: read them all again
        W._records.cache_clear()
        reloaded = W._records()
        for key, other in runtime_only.items():  # keep records added with register_weights
            if key not in reloaded:
                if spec.default and other.arch == spec.arch and other.default:
                    other = dataclasses.replace(other, default=False)
                W.register_weights(other)
        return
    if register:
        if spec.default:
            for other in list(W._records().values()):
                if other.arch == spec.arch and other.default and other.key != spec.key:
                    W.register_weights(dataclasses.replace(other, default=False), overwrite=True)
        W.register_weights(spec, overwrite=True)


# ---------------------------------------------------------------------------------------------
# Copies
# ---------------------------------------------------------------------------------------------

def copy_to_dir(path: Path, sha256: str, folder: str | os.PathLike) -> Path:
    """Copies ``path`` into ``folder`` (atomically) with a ``<name>.sha256`` file beside it,
    in ``sha256sum`` format."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"`copy_to` must be a folder or hf://<user>/<repo>. Received: "
                         f"copy_to={str(folder)!r}, which is a file.")
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / path.name
    if dest.resolve() != path.resolve():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            if W.file_digest(tmp) != sha256:
                raise UploadError(f"could not copy to {folder}: the copy's sha256 differs.")
            os.chmod(tmp, default_mode())
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    atomic_write_text(folder / f"{path.name}.sha256", f"{sha256}  {path.name}\n")
    return dest


def hf_url(repo_id: str, path_in_repo: str) -> str:
    """The download address of a file in a Hugging Face model repository."""
    return f"https://huggingface.co/{repo_id}/resolve/main/{path_in_repo}"


def upload_to_hf(path: Path, target: str) -> str:
    """Uploads ``path`` to ``hf://<user>/<repo>[/<folder>]``; returns its download URL.

    Raises:
        UploadError: ``huggingface_hub`` is missing, offline mode is on, no token is set, or
            the upload fails ("could not upload to hf://...: <reason>").
    """
    repo_id, folder = parse_hf_target(target)
    path_in_repo = f"{folder}/{path.name}" if folder else path.name

    def fail(reason: str) -> UploadError:
        return UploadError(f"could not upload to {target}: {reason}. The file stays at {path}.")

    try:
        import huggingface_hub
        from huggingface_hub import constants
    except ImportError as e:
        raise fail("huggingface_hub is not installed (pip install huggingface_hub)") from e
    if constants.HF_HUB_OFFLINE:
        raise fail("HF_HUB_OFFLINE is set (offline mode)")
    if not huggingface_hub.get_token():
        raise fail("no Hugging Face token (set HF_TOKEN or run `hf auth login`)")
    try:
        huggingface_hub.HfApi().upload_file(
            path_or_fileobj=str(path), path_in_repo=path_in_repo, repo_id=repo_id,
            repo_type="model", commit_message=f"Add {path.name}")
    except Exception as e:  # network, auth, missing repo: all reported the same way
        detail = str(e).splitlines()[0] if str(e).strip() else repr(e)
        raise fail(f"{type(e).__name__}: {detail}") from e
    return hf_url(repo_id, path_in_repo)


# ---------------------------------------------------------------------------------------------
# publish
# ---------------------------------------------------------------------------------------------

def publish(model_or_weights_path: keras.Model | str | os.PathLike, *, arch: str, tag: str,
            out_dir: str | os.PathLike, dataset: str, split: str, metrics: dict[str, Any],
            recipe: str, builder_args: dict[str, Any] | None = None,
            input_shape: tuple[int, ...] | None = None, preprocessing: str = "unit",
            class_names: list[str] | tuple[str, ...] | None = None, float16: bool = True,
            max_abs_diff: float = 1e-2, min_agreement: float = 1.0, default: bool = False,
            license: str = "",
            notes: str = "", manifest_path: str | os.PathLike | None = None,
            copy_to: str | os.PathLike | None = None, url: str | None = None,
            register: bool = False) -> WeightSpec:
    """Writes a weight file, its sha256 and its manifest record; see `publish_report`.

    Example:
        >>> model = zoo.build("lenet5")  # ... trained ...
        >>> spec = publish(model, arch="lenet5", tag="mnist", out_dir="zoo/weights",
        ...                dataset="mnist", split="test", metrics={"acc@1": 0.991},
        ...                recipe="training/recipes/lenet5_mnist.py",
        ...                builder_args={"classes": 10}, default=True)
        >>> zoo.load("lenet5", weights="mnist")  # same process, same outputs
    """
    return publish_report(
        model_or_weights_path, arch=arch, tag=tag, out_dir=out_dir, dataset=dataset,
        split=split, metrics=metrics, recipe=recipe, builder_args=builder_args,
        input_shape=input_shape, preprocessing=preprocessing, class_names=class_names,
        float16=float16, max_abs_diff=max_abs_diff, min_agreement=min_agreement,
        default=default, license=license,
        notes=notes, manifest_path=manifest_path, copy_to=copy_to, url=url,
        register=register).spec


def publish_report(model_or_weights_path: keras.Model | str | os.PathLike, *, arch: str,
                   tag: str, out_dir: str | os.PathLike, dataset: str, split: str,
                   metrics: dict[str, Any], recipe: str,
                   builder_args: dict[str, Any] | None = None,
                   input_shape: tuple[int, ...] | None = None, preprocessing: str = "unit",
                   class_names: list[str] | tuple[str, ...] | None = None,
                   float16: bool = True, max_abs_diff: float = 1e-2,
                   min_agreement: float = 1.0, default: bool = False,
                   license: str = "", notes: str = "",
                   manifest_path: str | os.PathLike | None = None,
                   copy_to: str | os.PathLike | None = None, url: str | None = None,
                   register: bool = False) -> PublishReport:
    """Publishes weights as ``<out_dir>/<arch>_<tag>.weights.h5`` plus a manifest record.

    Steps: build ``zoo.build(arch, **builder_args)`` and load the weights file into it (or
    take the given model); save its weights atomically; with ``float16``, convert the file
    and keep it only if a freshly built model loaded from it reproduces the float32 outputs
    on a seeded probe batch (``max_abs_diff``, same arg-max), else keep float32 with a
    warning; check that the kept file, loaded into ``zoo.build(arch, **builder_args)``,
    reproduces the model; copy or upload it (``copy_to``); write the record (with the git
    commit and sha256) into the manifest.

    Args:
        model_or_weights_path: a trained ``keras.Model`` or a ``.weights.h5`` / ``.h5`` /
            ``.keras`` file of ``arch`` built with ``builder_args``.
        arch: registry name (``"lenet5"``).
        tag: the weight tag (``"mnist"``); letters, digits, ``_`` and ``-``.
        out_dir: folder of the published file; ``zoo/weights`` bundles it with the package.
        dataset, split: what ``metrics`` were measured on.
        metrics: ``{name: value}`` (stored as ``{dataset: {name: value}}``) or already
            ``{dataset: {name: value}}``.
        recipe: how to reproduce the weights (a recipe path).
        builder_args: the builder arguments the weights need (``{"classes": 10}``); the record
            pins them and ``zoo.load`` builds with them.
        input_shape: the input the weights were trained at; default: the model's input shape.
        preprocessing: ``"unit"``, ``"caffe"`` or ``"tf"``.
        class_names: label of each output unit.
        float16: store float32 variables as float16 when the check passes.
        max_abs_diff: largest output difference the float16 file may cause on the probe.
        min_agreement: share of the probe's arg-maxes (per image; per pixel for dense
            outputs) that must not change; 1.0 for classifiers, a little less for
            segmentation, where a few pixels with tied scores may flip.
        default: make this the architecture's default tag (others lose the flag).
        license, notes: provenance text.
        manifest_path: manifest to update; default ``zoo/weights/manifest.json``.
        copy_to: a local folder (the file plus ``<file>.sha256``) or
            ``hf://<user>/<repo>[/<folder>]`` (needs network and a token).
        url: where the file will be downloaded from (recorded as ``url``), when the file is
            not bundled; overrides the address derived from ``copy_to``.
        register: with a ``manifest_path`` other than the package's, also register the
            record in this process (`zoo.weights.register_weights`) so ``zoo.load`` sees it.
            Writing the package's manifest always refreshes the in-process records.

    Returns:
        A `PublishReport` whose ``spec`` is the record written.

    Raises:
        ValueError: an unknown ``arch`` (close names listed), a bad ``tag``, ``metrics``,
            ``preprocessing``, ``input_shape``, ``class_names`` or ``copy_to``; a weights file
            of another architecture; weights that ``builder_args`` do not reproduce.
        UploadError: ``copy_to`` failed (the file and the manifest are left as they were
            before the copy: the file written, the manifest not yet updated).
    """
    # --- validate everything that can be checked before any work
    arch = get_entry(arch).name  # unknown arch -> ValueError listing close names
    check_tag(tag)
    builder_args = dict(builder_args or {})
    if "weights" in builder_args:
        raise ValueError("`builder_args` must not contain `weights`: they are what is being "
                         f"published. Received: builder_args={builder_args!r}.")
    try:
        json.dumps(builder_args)
    except TypeError as e:
        raise ValueError(f"`builder_args` must be JSON values (numbers, strings, lists) to go "
                         f"into the manifest. Received: builder_args={builder_args!r}.") from e
    if preprocessing not in PREPROCESSING:
        raise ValueError(f"`preprocessing` must be one of {PREPROCESSING}. Received: "
                         f"preprocessing={preprocessing!r}.")
    if not isinstance(dataset, str) or not dataset:
        raise ValueError(f"`dataset` must be a non-empty name. Received: dataset={dataset!r}.")
    metrics = _check_metrics(metrics, dataset)
    if not (isinstance(min_agreement, (int, float)) and 0 <= min_agreement <= 1):
        raise ValueError(f"`min_agreement` must be a number in [0, 1]. Received: "
                         f"min_agreement={min_agreement!r}.")
    if not (isinstance(max_abs_diff, (int, float)) and max_abs_diff >= 0):
        raise ValueError(f"`max_abs_diff` must be a number >= 0. Received: "
                         f"max_abs_diff={max_abs_diff!r}.")
    hf_target = None
    if copy_to is not None and str(copy_to).startswith("hf:"):
        hf_target = str(copy_to)
        parse_hf_target(hf_target)
    elif copy_to is not None and Path(copy_to).exists() and not Path(copy_to).is_dir():
        raise ValueError(f"`copy_to` must be a folder or hf://<user>/<repo>. Received: "
                         f"copy_to={str(copy_to)!r}, which is a file.")
    manifest = Path(out_dir) / "manifest.json" if manifest_path is None else Path(manifest_path)
    real_manifest = manifest.resolve() == W.MANIFEST_PATH.resolve()
    if real_manifest and not license:
        raise ValueError(f"`license` is required for a record in the package manifest "
                         f"{W.MANIFEST_PATH} (every shipped record names its licence). "
                         "Received: license=''.")
    read_by_zoo = manifest.resolve() in {p.resolve() for p in W.manifest_paths()}
    if read_by_zoo and not real_manifest:  # a user record may not shadow a package one
        package = W.read_manifest(W.MANIFEST_PATH)
        if f"{arch}.{tag}" in package:
            raise ValueError(f"{arch}.{tag} is a record of the package; publish your weights "
                             f"under another tag (tags of {arch}: "
                             f"{sorted(s.tag for s in package.values() if s.arch == arch)}).")

    # --- the source model
    if isinstance(model_or_weights_path, keras.Model):
        model = model_or_weights_path
        origin = f"a {model.name} model"
    elif isinstance(model_or_weights_path, (str, os.PathLike)):
        source_path = Path(model_or_weights_path)
        if not source_path.is_file():
            raise ValueError(f"Weights file not found. Received: {str(source_path)!r}.")
        model = _build(arch, builder_args)
        W.load_weights_file(model, source_path, arch)  # another arch -> WeightsError
        origin = source_path.name
    else:
        raise ValueError("`model_or_weights_path` must be a keras.Model or a weight file path. "
                         f"Received: {type(model_or_weights_path).__name__}.")
    model_shape = tuple(model.inputs[0].shape[1:])
    if input_shape is None:
        if any(d is None for d in model_shape):
            raise ValueError(f"{arch} takes inputs of shape {model_shape}; pass `input_shape` "
                             "(the size the weights were trained at).")
        input_shape = model_shape
    try:
        input_shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"`input_shape` must be a tuple of integers (height, width, channels). "
                         f"Received: input_shape={input_shape!r}.") from None
    if len(input_shape) != len(model_shape) or any(
            m is not None and m != d for m, d in zip(model_shape, input_shape)):
        raise ValueError(f"`input_shape` {input_shape} does not fit the model's input "
                         f"{model_shape}.")
    if class_names is not None:
        class_names = tuple(str(c) for c in class_names)
        units = model.outputs[0].shape[-1] if len(model.outputs) == 1 else None
        if units is not None and len(class_names) != units:
            raise ValueError(f"`class_names` has {len(class_names)} names but the model has "
                             f"{units} output units.")

    probe = _probe_batch(model, input_shape, preprocessing)
    reference = _outputs(model, probe)

    # --- the file
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{arch}_{tag}.weights.h5"
    temps = []

    def temp(kind: str) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{final.stem}.{kind}.", suffix=".weights.h5",
                                    dir=out_dir)
        os.close(fd)
        temps.append(Path(name))
        return Path(name)

    try:
        f32 = temp("f32")
        model.save_weights(f32)
        kept, dtype, diff, agreement, reason = f32, "float32", 0.0, 1.0, ""
        if float16:
            f16 = temp("f16")
            overflow = convert_to_float16(f32, f16)
            if overflow:
                reason = f"values beyond float16's range in {overflow[:3]}"
            else:
                diff16, agree16 = _check_file(arch, builder_args, f16, probe, reference)
                if diff16 <= max_abs_diff and agree16 >= min_agreement:
                    kept, dtype, diff, agreement = f16, "float16", diff16, agree16
                else:
                    reason = (f"max abs output difference {diff16:.3g} (max_abs_diff="
                              f"{max_abs_diff:g}), arg-max agreement {agree16:.3%} on the probe "
                              f"(min_agreement={min_agreement:g})")
            if reason:
                logger.warning("%s.%s: float16 refused (%s); publishing float32.",
                               arch, tag, reason)
        if dtype == "float32":
            diff, agreement = _check_file(arch, builder_args, f32, probe, reference)
            tolerance = 1e-5 * (1.0 + max(float(np.max(np.abs(r))) for r in reference))
            if diff > tolerance or agreement < 1.0:
                raise ValueError(
                    f"The weights, loaded into zoo.build({arch!r}, **{builder_args!r}), do not "
                    f"reproduce the model's outputs (max abs difference {diff:.3g}). Pass the "
                    "`builder_args` the model was built with (e.g. classes, "
                    "classifier_activation).")
        os.chmod(kept, default_mode())
        os.replace(kept, final)
    except W.WeightsError as e:
        if isinstance(model_or_weights_path, keras.Model):  # a path was checked on load
            raise ValueError(f"The given model does not fit zoo.build({arch!r}, "
                             f"**{builder_args!r}): {e}") from e
        raise
    finally:
        for path in temps:
            if path.exists():
                path.unlink()

    sha256 = W.file_digest(final)
    size_mb = round(final.stat().st_size / 2**20, 3)
    logger.info("Wrote %s (%s, %.3f MiB, sha256 %s)", final, dtype, size_mb, sha256)

    # --- copies (before the manifest: a record must not point at a failed upload)
    copies: list[str] = []
    if hf_target is not None:
        uploaded = upload_to_hf(final, hf_target)
        copies.append(uploaded)
        url = url or uploaded
    elif copy_to is not None:
        copies.append(str(copy_to_dir(final, sha256, copy_to)))

    # --- the record
    commit = git_commit()
    how = f"float16 (max abs output difference {diff:.2g} on a probe batch of {PROBE_SIZE})" \
        if dtype == "float16" else "float32" + (f" (float16 refused: {reason})" if reason else "")
    record: dict[str, Any] = {
        "arch": arch, "tag": tag, "default": bool(default), "builder_args": builder_args,
        "input_shape": list(input_shape), "preprocessing": preprocessing,
        "class_names": list(class_names) if class_names is not None else None,
        "dataset": dataset, "split": split, "metrics": metrics,
        "num_params": int(model.count_params()), "recipe": recipe, "commit": commit,
    }
    if url is None and final.parent.resolve() == manifest.parent.resolve():
        record["file"] = final.name  # beside its manifest: bundled, or the user's folder
    else:
        if url is None:
            url = final.resolve().as_uri()
            logger.warning("%s.%s points at %s, which only this machine can read; pass url= "
                           "or copy_to='hf://...' for a record others can use.", arch, tag, url)
        record["url"] = url
    record.update({
        "sha256": sha256, "file_size_mb": size_mb, "license": license,
        "source": f"published by training.publish from {origin} at commit {commit[:7]}"
                  f"{'-dirty' if commit.endswith('-dirty') else ''}; {how}",
        "notes": notes,
    })
    spec = WeightSpec.from_dict(record)
    record = spec.to_dict()  # keeps default=False explicit, drops empty fields
    if not real_manifest:
        spec = dataclasses.replace(spec, root=str(manifest.parent.resolve()))
    try:
        runtime_only = {k: s for k, s in W._records().items()} if real_manifest else {}
    except (OSError, ValueError):
        runtime_only = {}
    before = update_manifest(record, manifest)
    runtime_only = {k: s for k, s in runtime_only.items() if k not in before}
    logger.info("Manifest %s: %s %s.", manifest, "replaced" if spec.key in before else "added",
                spec.key)
    _refresh_registry(spec, real_manifest or read_by_zoo, register, runtime_only)
    return PublishReport(spec=spec, path=final, dtype=dtype, max_abs_diff=diff,
                         argmax_agreement=agreement, fallback_reason=reason, copies=copies)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def _parse_value(text: str) -> Any:
    """``"10"`` -> 10, ``"false"`` -> False, ``"[1, 2]"`` -> [1, 2], else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "null"):
            return None
        return text


def _key_value(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{what} must be NAME=VALUE. Received: {text!r}.")
    return key.strip(), value.strip()


NOT_METRICS = ("n", "num_examples", "pairs", "same_pairs", "images", "boxes",
               "detections")  # counts, not measurements


def read_metrics_json(path: str | os.PathLike) -> tuple[dict[str, float], dict[str, str]]:
    """Reads a ``metrics.json`` written by ``python -m training.evaluate`` (or any
    ``{"acc@1": 0.99, ...}`` file).

    Returns:
        ``(metrics, context)``: the top-level numbers (``acc@1``, ``acc@5``, ``error``, ...;
        the example count ``n`` and nested tables such as ``per_class`` are left out), and
        the ``model``, ``dataset`` and ``split`` strings the report names, if any.
    """
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError(f"--metrics-json {path} must hold a JSON object {{name: value}}.")
    metrics: dict[str, float] = {}
    skipped = []
    for name, value in raw.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and name not in NOT_METRICS:
            metrics[name] = float(value)
        else:
            skipped.append(name)
    context = {k: raw[k] for k in ("model", "dataset", "split") if isinstance(raw.get(k), str)}
    logger.info("--metrics-json %s: metrics %s; left out %s", path, sorted(metrics), skipped)
    return metrics, context


def pin_input_shape(arch: str, builder_args: dict[str, Any],
                    input_shape: tuple[int, ...]) -> dict[str, Any]:
    """``builder_args`` with ``input_shape`` added where the model built without it would take
    another (fully defined) size, so that the record builds the model the weights fit.

    A model whose default input has free sides (a fully convolutional network) keeps them."""
    import inspect

    if "input_shape" in builder_args:
        return builder_args
    if "input_shape" not in inspect.signature(get_entry(arch).builder).parameters:
        return builder_args
    default = tuple(_build(arch, builder_args).inputs[0].shape[1:])
    if all(d is not None for d in default) and default != tuple(input_shape):
        return {**builder_args, "input_shape": [int(d) for d in input_shape]}
    if default[-1] is not None and default[-1] != input_shape[-1]:  # free sides, other channels
        return {**builder_args, "input_shape": [*default[:-1], int(input_shape[-1])]}
    return builder_args


def _from_run(args: argparse.Namespace) -> dict[str, Any]:
    """Fills the flags a run folder answers (``--run``); flags given explicitly win."""
    run = Path(args.run)
    config_path = run / "model.json"
    if not config_path.is_file():
        raise ValueError(f"--run {run}: not a run folder of training.train (no model.json).")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if args.model and args.model != config["model"]:
        raise ValueError(f"--model {args.model} differs from the run's model {config['model']}.")
    args.model = config["model"]
    args.weights = args.weights or str(run / "best.weights.h5")
    args.recipe = args.recipe or str((run / "recipe.json").resolve())
    if not args.metrics_json and not args.metric:
        found = run / "eval" / "test" / "metrics.json"
        if not found.is_file():
            raise ValueError(f"--run {run}: no test metrics yet; run `python -m "
                             f"training.evaluate {run}` first (it writes {found}), or give "
                             "--metric NAME=VALUE.")
        args.metrics_json = str(found)
    return {"builder_args": {k: v for k, v in config.get("builder_args", {}).items()
                             if k != "input_shape"},
            "input_shape": tuple(config["input_shape"]) if config.get("input_shape") else None,
            "class_names": config.get("class_names")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.publish", description=__doc__.splitlines()[0])
    parser.add_argument("--run", metavar="DIR",
                        help="a run folder of training.train: model, weights (best), recipe, "
                             "builder arguments, input shape, class names and the metrics of "
                             "`python -m training.evaluate DIR` come from it")
    parser.add_argument("--model", help="architecture (registry name)")
    parser.add_argument("--weights", help="trained .weights.h5/.h5/.keras file")
    parser.add_argument("--tag", required=True, help="weight tag, e.g. mnist")
    parser.add_argument("--dataset", help="dataset of the metrics (default: --metrics-json's)")
    parser.add_argument("--split", help="split of the metrics (default: --metrics-json's)")
    parser.add_argument("--metric", action="append", default=[], metavar="NAME=VALUE",
                        help="a measured metric (repeatable): --metric acc@1=0.991")
    parser.add_argument("--metrics-json", metavar="FILE",
                        help="JSON {name: value} from the evaluate CLI; --metric overrides")
    parser.add_argument("--recipe", help="how to reproduce the weights")
    parser.add_argument("--builder-arg", action="append", default=[], metavar="NAME=VALUE",
                        help="builder argument the weights need (repeatable): classes=10")
    parser.add_argument("--input-shape", metavar="H,W,C",
                        help="input size the weights were trained at, e.g. 32,32,1 (also "
                             "pinned as a builder argument where the model's default differs)")
    parser.add_argument("--preprocessing", default="unit", choices=PREPROCESSING)
    parser.add_argument("--class-names", metavar="FILE", help="text file, one label a line")
    parser.add_argument("--float32", action="store_true", help="do not convert to float16")
    parser.add_argument("--max-abs-diff", type=float, default=1e-2,
                        help="largest output change float16 may cause (default 1e-2)")
    parser.add_argument("--min-agreement", type=float, default=1.0,
                        help="share of probe arg-maxes float16 must keep (default 1; e.g. "
                             "0.999 for segmentation, per pixel)")
    parser.add_argument("--default", action="store_true", help="make it the default tag")
    parser.add_argument("--out", default=None,
                        help="output folder (default: the user weights folder, "
                             "$ZOO_WEIGHTS_DIR or ~/.local/share/zoo/weights, which zoo.load "
                             "reads; zoo/weights bundles the file with the package)")
    parser.add_argument("--manifest", help="manifest to update (default: OUT/manifest.json)")
    parser.add_argument("--copy-to", metavar="DIR|hf://USER/REPO[/FOLDER]")
    parser.add_argument("--url", help="download address to record (file not bundled)")
    parser.add_argument("--license", default="")
    parser.add_argument("--notes", default="")
    return parser


def main(argv: list[str] | None = None) -> WeightSpec:
    """Runs the CLI; returns the record written. Errors exit with status 2 and a message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        run = _from_run(args) if args.run else {}
        for flag in ("model", "weights", "recipe"):
            if not getattr(args, flag):
                raise ValueError(f"Give --{flag} (or --run DIR, a run folder that names it).")
        metrics, context = read_metrics_json(args.metrics_json) if args.metrics_json \
            else ({}, {})
        for key, given in (("model", args.model), ("dataset", args.dataset),
                           ("split", args.split)):
            if given and context.get(key, given) != given:
                raise ValueError(f"--{key} {given!r} differs from the {key} "
                                 f"{context[key]!r} that {args.metrics_json} was measured on.")
        dataset, split = args.dataset or context.get("dataset"), args.split or context.get("split")
        if not dataset or not split:
            raise ValueError("Give --dataset and --split (or a --metrics-json report naming them).")
        for item in args.metric:
            name, value = _key_value(item, "--metric")
            try:
                metrics[name] = float(value)
            except ValueError:
                raise ValueError(f"--metric {item!r}: the value must be a number.") from None
        if not metrics:
            raise ValueError("No metrics: give --metric NAME=VALUE or --metrics-json FILE.")
        builder_args = dict(run.get("builder_args", {}))
        given = dict(_key_value(item, "--builder-arg") for item in args.builder_arg)
        builder_args.update({k: _parse_value(v) for k, v in given.items()})
        input_shape = run.get("input_shape")
        if args.input_shape:
            try:
                input_shape = tuple(int(d) for d in args.input_shape.split(","))
            except ValueError:
                raise ValueError(f"--input-shape must be H,W,C integers (e.g. 32,32,1). "
                                 f"Received: {args.input_shape!r}.") from None
        if input_shape is not None:
            builder_args = pin_input_shape(args.model, builder_args, input_shape)
        class_names = run.get("class_names")
        if args.class_names:
            class_names = [line.strip() for line in
                           Path(args.class_names).read_text(encoding="utf-8").splitlines()
                           if line.strip()]
        out = args.out or str(W.user_weights_dir())
        report = publish_report(
            args.weights, arch=args.model, tag=args.tag, out_dir=out,
            dataset=dataset, split=split, metrics=metrics, recipe=args.recipe,
            builder_args=builder_args, input_shape=input_shape,
            preprocessing=args.preprocessing, class_names=class_names,
            float16=not args.float32, max_abs_diff=args.max_abs_diff,
            min_agreement=args.min_agreement, default=args.default,
            license=args.license, notes=args.notes, manifest_path=args.manifest,
            copy_to=args.copy_to, url=args.url)
    except (ValueError, OSError, argparse.ArgumentTypeError, UploadError) as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    spec = report.spec
    print(f"published {spec.key}{' (default)' if spec.default else ''}")
    print(f"  file     {report.path}")
    print(f"  size     {spec.file_size_mb:.3f} MiB ({report.path.stat().st_size} bytes)")
    print(f"  sha256   {spec.sha256}")
    print(f"  dtype    {report.dtype}" + (f" (float16 refused: {report.fallback_reason})"
                                         if report.fallback_reason else ""))
    print(f"  check    max abs output diff {report.max_abs_diff:.3g}, arg-max agreement "
          f"{report.argmax_agreement:.0%} on {PROBE_SIZE} probe inputs")
    print(f"  record   {spec.file or spec.url} in "
          f"{args.manifest or Path(args.out or W.user_weights_dir()) / 'manifest.json'}")
    print(f"  load     zoo.load({spec.key!r})")
    for copy in report.copies:
        print(f"  copy     {copy}")
    return spec


if __name__ == "__main__":
    main(sys.argv[1:])
