"""Weight tags -> files: bundled with the package, in the cache, or downloaded and verified.

A weight tag is a record, not just a file (as torchvision's ``Weights`` and timm's pretrained
configs are). The records live in ``zoo/weights/manifest.json`` keyed ``"arch.tag"``; each says
which builder arguments the weights need, the input size and preprocessing, the dataset and
measured metrics, the licence, and where the file is (``file`` bundled in ``zoo/weights/`` or
``url``) with its checksum.

Records come from the package's manifest, then the user's own: ``manifest.json`` in the user
weights folder (``$ZOO_WEIGHTS_DIR``, default ``~/.local/share/zoo/weights``; where
``python -m training.publish`` writes by default) and any manifest named in ``$ZOO_MANIFEST``
(paths separated by ``os.pathsep``). A user record's ``file`` lies beside its manifest; a
user record may not replace a package record (it is skipped with a warning).

Resolution order for a tag: the bundled file, then the zoo cache (``$ZOO_CACHE_DIR``, default
``~/.cache/zoo``), then Keras' own cache (``~/.keras/models``, for Keras' ImageNet files), then a
download. Every file is checked against its checksum before it is used.

The downloader is written here rather than calling ``keras.utils.get_file`` because that
function writes straight to the final path and, on a checksum mismatch, raises but leaves the
bad file in the cache; here a download goes to a temporary file that is renamed into place
only after its length and checksum are verified, so the cache never holds a bad file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.client
import json
import logging
import os
import socket
import tempfile
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import keras

logger = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST_PATH = BUNDLED_DIR / "manifest.json"
WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".keras")


class WeightsError(ValueError):
    """A weight tag, file or checksum is wrong."""


class ChecksumError(WeightsError):
    """A file's checksum differs from its record (a corrupt, truncated or replaced file)."""


class DownloadError(OSError):
    """A weight file could not be downloaded (no network, HTTP error, connection cut)."""


@dataclasses.dataclass(frozen=True)
class WeightSpec:
    """One pretrained weight record (``"arch.tag"``).

    Attributes:
        arch: registry name of the architecture.
        tag: the tag, ``<dataset>[_<variant>]`` (``"imagenet"``, ``"mnist"``).
        default: whether ``zoo.load(arch)`` uses this tag when none is given.
        builder_args: the builder arguments these weights need (``{"classes": 1000}``);
            ``zoo.load`` builds with them and rejects a user keyword that contradicts one.
        input_shape: the input the weights were trained at.
        preprocessing: ``"unit"``, ``"caffe"`` or ``"tf"`` (see `zoo.registry.ModelEntry`).
        class_names: label of each output unit, when the record ships them.
        dataset, split: what the metrics were measured on.
        metrics: ``{dataset: {metric: value}}``.
        num_params: parameter count of the model these weights fit.
        recipe: how to reproduce them (a training recipe or the original source).
        commit: the git commit of the code that trained and published them (``git rev-parse
            HEAD``, ``-dirty`` when tracked files had uncommitted changes).
        file: file name in ``zoo/weights/`` when bundled with the package.
        url: where to download the file otherwise.
        sha256, md5: the file's checksum (md5 only where the publisher gives nothing else,
            as Keras does for its ImageNet files).
        notop: optional ``{"url", "sha256"|"md5"}`` of a headless file
            (``include_top=False``), as Keras publishes.
        license, source, notes: provenance.
    """

    arch: str
    tag: str
    default: bool = False
    builder_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    input_shape: tuple[int, int, int] | None = None
    preprocessing: str = "unit"
    class_names: tuple[str, ...] | None = None
    dataset: str = ""
    split: str = ""
    metrics: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    num_params: int | None = None
    recipe: str = ""
    commit: str = ""
    file: str | None = None
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    notop: dict[str, str] | None = None
    file_size_mb: float | None = None
    license: str = ""
    source: str = ""
    notes: str = ""
    # The folder of the manifest the record came from (None: the package's); not stored.
    root: str | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.arch}.{self.tag}"

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "WeightSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(record) - known
        if unknown:
            raise WeightsError(f"Weight record {record.get('arch')}.{record.get('tag')} has "
                               f"unknown fields {sorted(unknown)}; known fields: {sorted(known)}")
        record = dict(record)
        if record.get("input_shape") is not None:
            record["input_shape"] = tuple(record["input_shape"])
        if record.get("class_names") is not None:
            record["class_names"] = tuple(record["class_names"])
        return cls(**record)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items()
                if v not in (None, "", {}) and k != "root"}

    @property
    def folder(self) -> Path:
        """Where the record's ``file`` lies: beside its manifest."""
        return Path(self.root) if self.root else BUNDLED_DIR


# ---------------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------------

def user_weights_dir() -> Path:
    """The user's own weights and manifest: ``$ZOO_WEIGHTS_DIR``, else
    ``$XDG_DATA_HOME/zoo/weights`` (default ``~/.local/share/zoo/weights``)."""
    if os.environ.get("ZOO_WEIGHTS_DIR"):
        return Path(os.environ["ZOO_WEIGHTS_DIR"])
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "zoo" / "weights"


def manifest_paths() -> list[Path]:
    """The manifests read, in order: the package's, the user's, then ``$ZOO_MANIFEST``."""
    extra = [Path(p) for p in os.environ.get("ZOO_MANIFEST", "").split(os.pathsep) if p]
    return [MANIFEST_PATH, user_weights_dir() / "manifest.json", *extra]


def read_manifest(path: Path, root: Path | None = None) -> dict[str, WeightSpec]:
    """The records of one manifest file (``root``: where its files lie, None = the package)."""
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise WeightsError(f"{path} must hold a JSON object {{\"arch.tag\": record}}.")
    records = {}
    for key, record in raw.items():
        spec = WeightSpec.from_dict({**record, "root": str(root) if root else None})
        if spec.key != key:
            raise WeightsError(f"{path}: key {key!r} does not match its record "
                               f"({spec.arch}.{spec.tag})")
        records[key] = spec
    return records


@functools.cache
def _records() -> dict[str, WeightSpec]:
    records = read_manifest(MANIFEST_PATH)
    for path in manifest_paths()[1:]:
        if not path.is_file() or path.resolve() == MANIFEST_PATH.resolve():
            continue
        try:
            user = read_manifest(path, root=path.parent)
        except (OSError, ValueError) as e:  # a broken user manifest must not break `import zoo`
            logger.warning("Ignoring weight manifest %s: %s", path, e)
            continue
        for key, spec in user.items():
            if key in records and records[key].root is None:
                logger.warning("%s: %s is a record of the package; the user record is skipped "
                               "(publish it under another tag).", path, key)
                continue
            records[key] = spec
    return records


def register_weights(spec: WeightSpec, overwrite: bool = False) -> None:
    """Adds a weight record at run time (e.g. weights you host yourself).

    Raises:
        WeightsError: if the key exists and ``overwrite`` is False.
    """
    if spec.key in _records() and not overwrite:
        raise WeightsError(f"Weights {spec.key!r} are already registered.")
    _records()[spec.key] = spec


def unregister_weights(key: str) -> None:
    """Removes a record added with `register_weights` (no error if it is absent)."""
    _records().pop(key, None)


def weight_tags(arch: str) -> list[str]:
    """The weight tags available for ``arch``, default first."""
    specs = [s for s in _records().values() if s.arch == arch]
    return [s.tag for s in sorted(specs, key=lambda s: (not s.default, s.tag))]


def get_weight_spec(arch: str, tag: str = "default") -> WeightSpec:
    """Returns the record ``arch.tag``; ``tag="default"`` picks the architecture's default.

    Raises:
        WeightsError: for an unknown tag, listing the tags that exist.
    """
    tags = weight_tags(arch)
    if tag == "default":
        if not tags:
            raise WeightsError(
                f"{arch} has no pretrained weights. Use zoo.build({arch!r}) for random "
                f"initialisation, or weights=<path to a .weights.h5/.h5/.keras file>.")
        return _records()[f"{arch}.{tags[0]}"]
    key = f"{arch}.{tag}"
    if key not in _records():
        accepted = ", ".join(repr(t) for t in tags) or "none"
        raise WeightsError(
            f"Unknown `weights` tag for {arch}. Received: weights={tag!r}. Accepted: None "
            f"(random initialisation), a path to an existing weight file, or a tag: {accepted}.")
    return _records()[key]


# ---------------------------------------------------------------------------------------------
# Files: cache, checksums, download
# ---------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """The zoo's download cache: ``$ZOO_CACHE_DIR`` or ``~/.cache/zoo``."""
    return Path(os.environ.get("ZOO_CACHE_DIR") or Path.home() / ".cache" / "zoo")


def _keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _expected_digest(resource: dict[str, Any]) -> tuple[str, str] | None:
    if resource.get("sha256"):
        return "sha256", resource["sha256"]
    if resource.get("md5"):
        return "md5", resource["md5"]
    return None


def _verify(path: Path, resource: dict[str, Any]) -> None:
    expected = _expected_digest(resource)
    if expected is None:
        return
    algorithm, digest = expected
    actual = file_digest(path, algorithm)
    if actual != digest:
        raise ChecksumError(f"{path} has {algorithm} {actual}, expected {digest}: the file is "
                            "corrupt, truncated or not the published one.")


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None,
             md5: str | None = None, progress: bool = True, timeout: float = 30.0) -> Path:
    """Downloads ``url`` to ``dest`` atomically, verifying length and checksum.

    The bytes go to a temporary file beside ``dest``; it is renamed to ``dest`` only when the
    byte count matches ``Content-Length`` and the checksum matches. On any failure the
    temporary file is removed and ``dest`` is left as it was.

    Args:
        url: ``http(s)://`` or ``file://`` address.
        dest: final path.
        sha256, md5: expected checksum (sha256 preferred). Without one, the file's sha256 is
            logged so that a record can be written for it.
        progress: show a tqdm progress bar on stderr.
        timeout: seconds to wait for the server.

    Returns:
        ``dest`` as a Path.

    Raises:
        DownloadError: no network, HTTP error, or the connection closed early (truncated).
        ChecksumError: the downloaded bytes do not match the checksum.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    algorithm, expected = ("sha256", sha256) if sha256 else ("md5", md5) if md5 else ("sha256", None)
    hasher = hashlib.new(algorithm)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    received = 0
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, \
                    os.fdopen(fd, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=f"zoo: {dest.name}", disable=not progress, leave=False) as bar:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        hasher.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
        except urllib.error.HTTPError as e:
            raise DownloadError(f"Could not download {url}: HTTP {e.code} {e.reason}.") from e
        except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise DownloadError(
                f"Could not download {url}: {reason}. Is this machine offline? Download the "
                f"file elsewhere and place it at {dest}, or pass weights=<local path>.") from e
        except http.client.IncompleteRead as e:
            raise DownloadError(f"Download of {url} was cut off after "
                                f"{received + len(e.partial)} bytes (truncated).") from e
        if total is not None and received != total:
            raise DownloadError(f"Download of {url} was truncated: received {received} of "
                                f"{total} bytes.")
        actual = hasher.hexdigest()
        if expected is not None and actual != expected:
            raise ChecksumError(f"Downloaded {url} has {algorithm} {actual}, expected "
                                f"{expected}; the file was discarded.")
        if expected is None:
            logger.warning("%s has no published checksum; its sha256 is %s", url, actual)
        os.replace(tmp_name, dest)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return dest


def _resource(spec: WeightSpec, include_top: bool = True) -> dict[str, Any]:
    """The record's file entry (``file`` or ``url``, checksums): the headless one
    (``spec.notop``) when ``include_top`` is False and the record has one."""
    if not include_top and spec.notop:
        return dict(spec.notop)
    return {"file": spec.file, "url": spec.url, "sha256": spec.sha256, "md5": spec.md5}


def local_candidates(spec: WeightSpec, include_top: bool = True) -> list[Path]:
    """Where `resolve_file` looks for the record's file before downloading, in its order:
    the bundled file, else the zoo cache and Keras' cache. Nothing is read or verified."""
    resource = _resource(spec, include_top)
    if resource.get("file"):
        return [spec.folder / resource["file"]]
    if not resource.get("url"):
        return []
    fname = resource["url"].rsplit("/", 1)[-1]
    return [cache_dir() / spec.arch / fname, _keras_cache_dir() / fname]


def is_cached(spec: WeightSpec, include_top: bool = True) -> bool:
    """Whether the record's file is on this machine (no download needed; not verified)."""
    return any(path.is_file() for path in local_candidates(spec, include_top))


def resolve_file(spec: WeightSpec, include_top: bool = True, progress: bool = True) -> Path:
    """Returns a verified local path for a record's file, downloading it if needed.

    Args:
        spec: the weight record.
        include_top: pick the headless file (``spec.notop``) when False and one exists.
        progress: show a progress bar while downloading.

    Raises:
        ChecksumError: a bundled file is corrupt.
        DownloadError: the file is in no cache and cannot be downloaded.
    """
    resource = _resource(spec, include_top)
    if resource.get("file"):
        path = spec.folder / resource["file"]
        if not path.exists():
            raise WeightsError(f"The file of {spec.key} is missing: {path}. " +
                               ("Reinstall the package." if spec.root is None else
                                "Publish it again (python -m training.publish)."))
        _verify(path, resource)
        return path
    url = resource.get("url")
    if not url:
        raise WeightsError(f"Weight record {spec.key} has neither `file` nor `url`.")
    cached, keras_cached = local_candidates(spec, include_top)
    for candidate in (cached, keras_cached):
        if candidate.exists():
            try:
                _verify(candidate, resource)
                return candidate
            except ChecksumError:
                logger.warning("Ignoring %s: checksum mismatch; downloading again.", candidate)
                if candidate == cached:
                    candidate.unlink()
    logger.info("Downloading %s weights from %s", spec.key, url)
    return download(url, cached, sha256=resource.get("sha256"), md5=resource.get("md5"),
                    progress=progress)


# ---------------------------------------------------------------------------------------------
# Loading into a model
# ---------------------------------------------------------------------------------------------

def _is_path(weights: Any) -> bool:
    return isinstance(weights, os.PathLike) or (
        isinstance(weights, str) and (os.sep in weights or weights.endswith(WEIGHT_SUFFIXES)))


def _canonical(value: Any) -> Any:
    """Tuples and lists compare equal (a record read from JSON holds lists)."""
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def check_weights_arg(arch: str, weights: Any, **builder_args: Any) -> None:
    """Validates a builder's ``weights=`` argument before the model is built.

    Accepted: ``None``, a path to an existing ``.weights.h5`` / ``.h5`` / ``.keras`` file, or
    a tag of ``arch`` whose ``builder_args`` agree with the given ones.

    Raises:
        ValueError: naming ``weights``, the value and what is accepted, or the builder
            argument that contradicts the weight record.
    """
    if weights is None:
        return
    if _is_path(weights):
        path = Path(weights)
        if not path.is_file():
            raise WeightsError(f"`weights` file not found. Received: weights={str(weights)!r}.")
        if not str(path).endswith(WEIGHT_SUFFIXES):
            raise WeightsError(f"`weights` must be a {', '.join(WEIGHT_SUFFIXES)} file. "
                               f"Received: weights={str(weights)!r}.")
        return
    if not isinstance(weights, str):
        raise WeightsError(f"`weights` must be None, a tag or a file path. "
                           f"Received: weights={weights!r}.")
    spec = get_weight_spec(arch, weights)
    include_top = builder_args.get("include_top", True)
    for key, needed in spec.builder_args.items():
        if key == "classes" and not include_top:
            continue  # a headless model has no classifier to size
        if key in builder_args and _canonical(builder_args[key]) != _canonical(needed):
            raise WeightsError(
                f"weights={weights!r} for {arch} need {key}={needed!r}"
                f"{' with include_top=True' if key == 'classes' else ''}. "
                f"Received: {key}={builder_args[key]!r}.")


def apply_weights(model: keras.Model, arch: str, weights: Any, *, include_top: bool = True,
                  **builder_args: Any) -> keras.Model:
    """The last step of every builder: loads ``weights`` (None, tag or path) into ``model``.

    A headless model (``include_top=False``) takes its weights from the record's headless
    file if there is one, else from the full file through `transfer_by_name`. A model loaded
    from a tag keeps its record as ``model.zoo_weights`` (a `WeightSpec`).
    """
    if weights is None:
        return model
    if _is_path(weights):
        load_weights_file(model, weights, arch)
        return model
    spec = get_weight_spec(arch, weights)
    model.zoo_weights = spec  # the record travels with the model (zoo.metric.verify reads it)
    if include_top or spec.notop:
        load_weights_file(model, resolve_file(spec, include_top=include_top), arch)
        return model
    from zoo.registry import get_entry

    full_args = {**builder_args, **spec.builder_args, "include_top": True, "weights": None}
    full_args["input_shape"] = spec.input_shape
    full_args.pop("input_tensor", None)
    full_args.pop("pooling", None)
    full = get_entry(arch).builder(**full_args)
    load_weights_file(full, resolve_file(spec), arch)
    report = transfer_by_name(full, model)
    if report.missing:
        raise WeightsError(f"weights={weights!r}: {len(report.missing)} layers of the headless "
                           f"{arch} found no weights in the full model: {report.missing[:5]}")
    return model


def _h5_weight_shapes(path: Path) -> list[tuple[int, ...]]:
    import h5py

    shapes: list[tuple[int, ...]] = []
    with h5py.File(path, "r") as f:
        if "layers" not in f:
            return shapes
        f["layers"].visititems(
            lambda name, obj: shapes.append(tuple(obj.shape))
            if isinstance(obj, h5py.Dataset) else None)
    return shapes


def load_weights_file(model: keras.Model, path: str | os.PathLike, arch: str | None = None) -> None:
    """Loads a ``.weights.h5``, legacy ``.h5`` or ``.keras`` file into ``model``, strictly.

    Keras raises on most mismatches but silently ignores extra layers in a ``.weights.h5``
    file, so their shapes are compared first. A ``.keras`` file is opened with
    ``safe_mode=True`` (no arbitrary code).

    Raises:
        ValueError: the file is unreadable or was saved from another architecture.
    """
    path = Path(path)
    name = arch or model.name
    expected = "a file saved from the same architecture with the same builder arguments"

    def mismatch(detail: str) -> WeightsError:
        return WeightsError(f"`weights` file does not fit {name}. Received: weights={str(path)!r}. "
                            f"{detail} Expected {expected}.")

    try:
        if str(path).endswith(".keras"):
            saved = keras.saving.load_model(path, compile=False, safe_mode=True)
            got = [tuple(w.shape) for w in saved.weights]
            want = [tuple(w.shape) for w in model.weights]
            if got != want:
                raise mismatch(f"It holds {len(got)} weight arrays, the model has {len(want)} "
                               "(or their shapes differ).")
            model.set_weights(saved.get_weights())
            return
        if str(path).endswith(".weights.h5"):
            got = Counter(_h5_weight_shapes(path))
            want = Counter(tuple(w.shape) for w in model.weights)
            if got != want:
                raise mismatch(f"It holds {sum(got.values())} weight arrays, the model has "
                               f"{sum(want.values())} (or their shapes differ).")
        elif not str(path).endswith(".h5"):
            raise WeightsError(f"`weights` must be a {', '.join(WEIGHT_SUFFIXES)} file. "
                               f"Received: weights={str(path)!r}.")
        model.load_weights(path)
    except WeightsError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise mismatch(str(e).split("\n")[0]) from e
    except OSError as e:
        raise WeightsError(f"`weights` file is not a readable weight file. Received: "
                           f"weights={str(path)!r} ({e}).") from e


@dataclasses.dataclass
class TransferReport:
    """What `transfer_by_name` did: layer names matched, skipped (shape differs) and missing."""

    matched: list[str]
    shape_mismatch: list[str]
    missing: list[str]

    def __str__(self) -> str:
        return (f"{len(self.matched)} layers matched, {len(self.shape_mismatch)} differ in "
                f"shape, {len(self.missing)} have no source layer")


def transfer_by_name(src: keras.Model, dst: keras.Model) -> TransferReport:
    """Copies weights layer by layer where the names and shapes agree.

    This is the one way to move weights between different layouts (a classifier into a
    headless model, a backbone into a U-Net encoder); within one layout use the file formats.

    Returns:
        A `TransferReport` (also logged).
    """
    source = {layer.name: layer for layer in src.layers if layer.weights}
    report = TransferReport([], [], [])
    for layer in dst.layers:
        if not layer.weights:
            continue
        other = source.get(layer.name)
        if other is None:
            report.missing.append(layer.name)
            continue
        values = other.get_weights()
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            report.shape_mismatch.append(layer.name)
            continue
        layer.set_weights(values)
        report.matched.append(layer.name)
    logger.info("transfer_by_name %s -> %s: %s", src.name, dst.name, report)
    return report
