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
download. Every file is checked against its checksum before it is used, and must open as a
weight file (`weight_file_problem`): records without a checksum (Keras' MobileNet files) are
checked that way only.

The downloader is written here rather than calling ``keras.utils.get_file`` because that
function writes straight to the final path and, on a checksum mismatch, raises but leaves the
bad file in the cache; here a download goes to a temporary file that is renamed into place
only after its length and checksum are verified and it opens as weights, so the cache never
holds a bad file: not an HTML page served with status 200, not a transfer cut short without
``Content-Length``. A bad file found in the zoo cache is deleted and downloaded again.

A file that does not fit the model is refused before anything is loaded, with the first layer
whose shapes differ (its name in the model and its path in the file) and both shapes
(`weights_file_mismatch`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.client
import json
import logging
import os
import re
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import keras

from zoo import imagenet as _imagenet

logger = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST_PATH = BUNDLED_DIR / "manifest.json"
WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".keras")

# Label sets a record may name instead of listing them: ``"class_names": "imagenet"``.
LABEL_SETS = {"imagenet": _imagenet.class_names}


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
        class_names: label of each output unit, when the record ships them. A manifest may
            name a label set of `LABEL_SETS` instead of listing it (``"class_names":
            "imagenet"``: the 1000 ImageNet names of `zoo.imagenet.class_names`); the
            attribute always holds the names.
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

    def __post_init__(self) -> None:
        names = self.class_names
        if isinstance(names, str):
            if names not in LABEL_SETS:
                raise WeightsError(
                    f"Weight record {self.arch}.{self.tag}: `class_names` must be a list of "
                    f"names or the name of a label set ({', '.join(map(repr, LABEL_SETS))}). "
                    f"Received: class_names={names!r}")
            object.__setattr__(self, "class_names", tuple(LABEL_SETS[names]()))
        elif names is not None and not isinstance(names, tuple):
            object.__setattr__(self, "class_names", tuple(names))

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
        args = record.get("builder_args")
        if args and "num_classes" in args:  # the segmentation builders' old name (issue 16)
            args = dict(args)
            args.setdefault("classes", args.pop("num_classes"))
            args.pop("num_classes", None)
            record["builder_args"] = args
        return cls(**record)

    def to_dict(self) -> dict[str, Any]:
        """The record as a manifest stores it: empty fields dropped, a known label set
        written by its name (``"class_names": "imagenet"``)."""
        record = {k: v for k, v in dataclasses.asdict(self).items()
                  if v not in (None, "", {}) and k != "root"}
        for name, names in LABEL_SETS.items():
            if self.class_names == tuple(names()):
                record["class_names"] = name
        return record

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


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _size_text(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    return f"{size / 1e3:.1f} KB" if size < 1e6 else f"{size / 1e6:.1f} MB"


def _what_is(path: Path) -> str:
    """What a file looks like from its first bytes: ``an HTML page of 1.2 KB``."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(512)
    text = head.lstrip().lower()
    if size == 0:
        return "an empty file"
    if head.startswith(_HDF5_SIGNATURE):
        kind = "an HDF5 file"
    elif head.startswith(b"PK\x03\x04"):
        kind = "a zip archive"
    elif text.startswith(b"<!doctype html") or b"<html" in text[:200]:
        kind = "an HTML page"
    elif text.startswith(b"<"):
        kind = "an XML document"
    elif text.startswith((b"{", b"[")):
        kind = "a JSON document"
    else:
        kind = "a file"
    described = f"{kind} of {_size_text(size)}"
    if kind not in ("an HDF5 file", "a zip archive"):
        start = " ".join(head.decode("utf-8", "ignore").split())
        if start and all(c.isprintable() for c in start):  # text: show how it begins
            described += f" starting {start[:60]!r}"
    return described


def _count_arrays(f: Any) -> int:
    import h5py

    count = 0

    def visit(_: str, obj: Any) -> None:
        nonlocal count
        count += isinstance(obj, h5py.Dataset) and obj.size > 0

    f.visititems(visit)
    return count


def weight_file_problem(path: str | os.PathLike, kind: str | None = None) -> str | None:
    """Why ``path`` is not a weight file, or None when it opens as one.

    A ``.weights.h5`` / ``.h5`` file must open as HDF5 (h5py) and hold at least one weight
    array; a ``.keras`` file must be a zip with Keras' ``config.json`` and a
    ``model.weights.h5`` that does. Only the file's structure is read, not its arrays, so
    this is cheap even for large files. It is what keeps HTML pages (a proxy's or captive
    portal's answer, an error page served with status 200), truncated transfers and other
    junk out of the cache when a record has no checksum.

    Args:
        path: the file.
        kind: the format, a suffix of `WEIGHT_SUFFIXES`; default from ``path``'s name.

    Returns:
        None, or what the file is: ``"an HTML page of 1.2 KB starting '<!DOCTYPE html>...',
        not HDF5"``.
    """
    import h5py

    path = Path(path)
    kind = kind or next((s for s in WEIGHT_SUFFIXES if path.name.endswith(s)), "")
    if not path.is_file():
        return "no such file"
    try:
        if kind == ".keras":
            if not zipfile.is_zipfile(path):
                return f"{_what_is(path)}, not a .keras (zip) archive"
            with zipfile.ZipFile(path) as archive:
                entries = set(archive.namelist())
                missing = sorted({"config.json", "model.weights.h5"} - entries)
                if missing:
                    return (f"a zip archive of {_size_text(path.stat().st_size)} without "
                            f"Keras' {', '.join(missing)}, not a .keras file")
                with archive.open("model.weights.h5") as inner, h5py.File(inner, "r") as f:
                    if not _count_arrays(f):
                        return "a .keras file without weight arrays"
            return None
        if not h5py.is_hdf5(path):
            return f"{_what_is(path)}, not HDF5"
        with h5py.File(path, "r") as f:
            if not _count_arrays(f):
                return f"an HDF5 file of {_size_text(path.stat().st_size)} without weight arrays"
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError) as e:
        reason = str(e).split("\n")[0]
        return f"{_what_is(path)} that does not open (truncated or damaged: {reason})"
    return None


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None,
             md5: str | None = None, progress: bool = True, timeout: float = 30.0,
             check_weights: bool = True) -> Path:
    """Downloads ``url`` to ``dest`` atomically, verifying length, checksum and content.

    The bytes go to a temporary file beside ``dest``; it is renamed to ``dest`` only when the
    byte count matches ``Content-Length``, the checksum matches and, for a weight file
    (``dest`` ends in ``.weights.h5``, ``.h5`` or ``.keras``), the file opens as one
    (`weight_file_problem`): an HTML page served with status 200 or a transfer cut short
    without ``Content-Length`` never reaches ``dest``, checksum or not. On any failure the
    temporary file is removed and ``dest`` is left as it was.

    Args:
        url: ``http(s)://`` or ``file://`` address.
        dest: final path.
        sha256, md5: expected checksum (sha256 preferred). Without one, the file's sha256 is
            logged so that a record can be written for it.
        progress: show a tqdm progress bar on stderr.
        timeout: seconds to wait for the server.
        check_weights: open a weight file before keeping it (see above).

    Returns:
        ``dest`` as a Path.

    Raises:
        DownloadError: no network, HTTP error, the connection closed early (truncated), or
            what arrived is not a weight file.
        ChecksumError: the downloaded bytes do not match the checksum.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    algorithm, expected = (("sha256", sha256) if sha256 else ("md5", md5) if md5
                           else ("sha256", None))
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
        kind = next((s for s in WEIGHT_SUFFIXES if dest.name.endswith(s)), None)
        problem = weight_file_problem(tmp_name, kind) if check_weights and kind else None
        if problem:
            hint = (" A proxy, captive portal or error page may have answered instead of the "
                    "server." if "HTML" in problem or "XML" in problem else "")
            raise DownloadError(f"Downloaded {url} is not a weight file: it is {problem}. "
                                f"Nothing was kept: {dest} was not written.{hint}")
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

    A file found in a cache is used only if its checksum matches (when the record has one)
    and it opens as a weight file (`weight_file_problem`). A bad file in the zoo cache (from
    an older zoo that kept whatever arrived, or copied there by hand) is deleted and
    downloaded again, once, with a warning that names it; a bad file in Keras' cache
    (``~/.keras/models``) is left in place, with a warning, and the file is downloaded into
    the zoo cache.

    Args:
        spec: the weight record.
        include_top: pick the headless file (``spec.notop``) when False and one exists.
        progress: show a progress bar while downloading.

    Raises:
        ChecksumError: a bundled file is corrupt.
        WeightsError: a bundled file is missing or does not open as weights.
        DownloadError: the file is in no cache and cannot be downloaded.
    """
    resource = _resource(spec, include_top)
    if resource.get("file"):
        path = spec.folder / resource["file"]
        if not path.exists():
            raise WeightsError(f"The file of {spec.key} is missing: {path}. " + _refetch(spec))
        _verify(path, resource)
        problem = weight_file_problem(path)
        if problem:
            raise WeightsError(f"The file of {spec.key}, {path}, is not a weight file: it is "
                               f"{problem}. " + _refetch(spec))
        return path
    url = resource.get("url")
    if not url:
        raise WeightsError(f"Weight record {spec.key} has neither `file` nor `url`.")
    cached, keras_cached = local_candidates(spec, include_top)
    deleted = ""
    for candidate in (cached, keras_cached):
        if not candidate.exists():
            continue
        try:
            _verify(candidate, resource)
            problem = weight_file_problem(candidate)
        except ChecksumError as e:
            problem = f"its checksum differs from the record's ({e})"
        if problem is None:
            return candidate
        if candidate == cached:
            logger.warning("Deleting the cached %s: it is not the weight file of %s (it is %s); "
                           "downloading it again.", candidate, spec.key, problem)
            candidate.unlink()
            deleted = f" (The cached copy {candidate} was deleted: it is {problem}.)"
        else:
            logger.warning("Ignoring %s in Keras' cache: it is not the weight file of %s (it is "
                           "%s). Delete it; zoo downloads its own copy.", candidate, spec.key,
                           problem)
    logger.info("Downloading %s weights from %s", spec.key, url)
    try:
        return download(url, cached, sha256=resource.get("sha256"), md5=resource.get("md5"),
                        progress=progress)
    except DownloadError as e:
        if not deleted:
            raise
        raise DownloadError(f"{e}{deleted}") from e


def _refetch(spec: WeightSpec) -> str:
    return ("Reinstall the package." if spec.root is None else
            "Publish it again (python -m training.publish).")


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
    model.zoo_weights = spec  # the record travels with the model (zoo.embeddings.verify reads it)
    if include_top or spec.notop:
        load_weights_file(model, resolve_file(spec, include_top=include_top), arch)
        return model
    from zoo.registry import get_entry

    # the full model is the record's: `classes` of a headless call sizes nothing (as in
    # keras.applications, include_top=False ignores it), so it must not size this classifier
    head_free = {k: v for k, v in builder_args.items() if k != "classes"}
    full_args = {**head_free, **spec.builder_args, "include_top": True, "weights": None}
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


# What a weight file holds, layer by layer, against what a model needs: the first layer whose
# arrays differ, both shapes, and the layers only one side has.

@dataclasses.dataclass
class _LayerArrays:
    """The weight arrays of one layer, as a file holds them or as a model needs them."""

    name: str                        # the layer's name (in the model; in the file for a file)
    where: str                       # where its arrays lie in the file
    names: list[str]                 # each array's name ("kernel"; "vars/0" in a .weights.h5)
    shapes: list[tuple[int, ...]]
    ordered: bool = True             # arrays pair up by position (else compared as a multiset)


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(int(d) for d in shape))


def _arrays_text(layer: _LayerArrays) -> str:
    return ", ".join(f"{n} {_shape_text(s)}" for n, s in zip(layer.names, layer.shapes)) or "none"


def _layer_difference(got: _LayerArrays, want: _LayerArrays) -> str | None:
    """How the file's arrays of one layer differ from the model's (None: they agree)."""
    label = (f"Layer {want.name!r}" + (f" (in the file: {got.where})" if got.where != want.name
                                        else ""))
    if got.ordered and want.ordered and len(got.shapes) == len(want.shapes):
        for name, file_shape, model_shape in zip(want.names, got.shapes, want.shapes):
            if tuple(file_shape) != tuple(model_shape):
                return (f"{label} {name}: the file has {_shape_text(file_shape)}, the model "
                        f"{_shape_text(model_shape)}.")
        return None
    if sorted(map(tuple, got.shapes)) == sorted(map(tuple, want.shapes)):
        return None
    arrays = "array" if len(got.shapes) == 1 else "arrays"
    return (f"{label}: the file has {len(got.shapes)} {arrays} ({_arrays_text(got)}), the "
            f"model needs {len(want.shapes)} ({_arrays_text(want)}).")


def _names_text(layers: list[_LayerArrays], in_file: bool, limit: int = 8) -> str:
    names = [layer.where if in_file or layer.where == layer.name else
             f"{layer.name} ({layer.where})" for layer in layers]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "none"


def _compare_layers(got: list[_LayerArrays], want: list[_LayerArrays], by: str) -> str | None:
    """Why the file's layers (``got``) do not fit the model's (``want``); None if they do.

    ``by="order"`` pairs the layers with weights in order (how Keras loads a legacy ``.h5``
    and how a ``.keras`` model's weights are copied); ``by="path"`` pairs them by their path
    in the file (a ``.weights.h5``)."""
    got = [layer for layer in got if layer.shapes]
    want = [layer for layer in want if layer.shapes]
    if by == "path":
        in_file = {layer.where: layer for layer in got}
        pairs = [(in_file[layer.where], layer) for layer in want if layer.where in in_file]
        paths = {layer.where for layer in want}
        only_file = [layer for layer in got if layer.where not in paths]
        only_model = [layer for layer in want if layer.where not in in_file]
    else:
        pairs = list(zip(got, want))
        file_names, model_names = {layer.name for layer in got}, {layer.name for layer in want}
        only_file = [layer for layer in got if layer.name not in model_names]
        only_model = [layer for layer in want if layer.name not in file_names]
    details = []
    for file_layer, model_layer in pairs:
        difference = _layer_difference(file_layer, model_layer)
        if difference:
            details.append(f"First difference: {difference}")
            break
    if len(got) != len(want) or (by == "path" and (only_file or only_model)):
        details.append(f"The file has {len(got)} layers with weights, the model {len(want)}; "
                       f"only in the file: {_names_text(only_file, True)}; only in the "
                       f"model: {_names_text(only_model, False)}.")
    return " ".join(details) or None


def _snake_case(name: str) -> str:
    """Keras' ``to_snake_case``: how a ``.weights.h5`` file names a layer (by its class)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _path_key(path: str) -> list[Any]:
    """Sorts ``vars/2`` before ``vars/10``."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.split("/")]


def _native_file_layers(group: Any, prefix: str = "layers") -> list[_LayerArrays]:
    """The layers of a Keras 3 ``.weights.h5`` (or of the one in a ``.keras`` zip): each group
    under ``layers/`` with the arrays below it; a nested model's layers one by one."""
    import h5py

    layers = []
    if prefix not in group or not isinstance(group[prefix], h5py.Group):
        return layers
    for key in sorted(group[prefix], key=_path_key):
        item = group[f"{prefix}/{key}"]
        if not isinstance(item, h5py.Group):
            continue
        where = f"{prefix}/{key}"
        if "layers" in item and isinstance(item["layers"], h5py.Group):
            layers += _native_file_layers(group, f"{where}/layers")
            own = item["vars"] if "vars" in item else None
        else:
            own = item
        arrays: list[tuple[str, tuple[int, ...]]] = []
        if own is not None:
            own.visititems(lambda name, obj: arrays.append((name, tuple(obj.shape)))
                           if isinstance(obj, h5py.Dataset) else None)
        arrays.sort(key=lambda a: _path_key(a[0]))
        if arrays:
            ordered = all(re.fullmatch(r"vars/\d+", name) for name, _ in arrays)
            layers.append(_LayerArrays(key, where, [n for n, _ in arrays],
                                       [s for _, s in arrays], ordered))
    return layers


def _native_model_layers(model: Any, prefix: str = "layers", outer: str = ""
                         ) -> list[_LayerArrays]:
    """Where a model's layers go in a ``.weights.h5`` and the arrays each needs: Keras names
    them by class (``conv2d``, ``conv2d_1``, ...), in the order of ``model.layers``."""
    layers, used = [], Counter()
    for layer in model.layers:
        base = _snake_case(type(layer).__name__)
        key = base if not used[base] else f"{base}_{used[base]}"
        used[base] += 1
        where, name = f"{prefix}/{key}", f"{outer}{layer.name}"
        if isinstance(layer, keras.Model) and hasattr(layer, "layers") and layer.layers:
            layers += _native_model_layers(layer, f"{where}/layers", f"{name}/")
            continue
        variables = list(layer.weights)  # the order Keras saves them in
        simple = not getattr(layer, "_layers", None)
        layers.append(_LayerArrays(name, where, [v.name for v in variables],
                                   [tuple(v.shape) for v in variables], ordered=simple))
    return layers


def _legacy_file_layers(path: Path) -> list[_LayerArrays] | None:
    """The layers of a legacy ``.h5`` (``layer_names`` / ``weight_names`` attributes, as
    keras.applications' files), in the file's order; None if it has no such attributes."""
    import h5py

    def names(attrs: Any, key: str) -> list[str]:
        values = attrs.get(key, [])
        return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]

    with h5py.File(path, "r") as f:
        group = f
        if "layer_names" not in f.attrs and "model_weights" in f:
            group = f["model_weights"]
        if "layer_names" not in group.attrs:
            return None
        layers = []
        for layer_name in names(group.attrs, "layer_names"):
            layer_group = group[layer_name]
            weight_names = names(layer_group.attrs, "weight_names")
            layers.append(_LayerArrays(layer_name, layer_name,
                                       [w.split("/")[-1].split(":")[0] for w in weight_names],
                                       [tuple(layer_group[w].shape) for w in weight_names]))
        return layers


def _model_layers(model: Any) -> list[_LayerArrays]:
    """A model's layers with their arrays in Keras' legacy order (trainable, then the rest)."""
    layers = []
    for layer in model.layers:
        variables = list(layer.trainable_weights) + list(layer.non_trainable_weights)
        layers.append(_LayerArrays(layer.name, layer.name, [v.name for v in variables],
                                   [tuple(v.shape) for v in variables]))
    return layers


def weights_file_mismatch(model: keras.Model, path: str | os.PathLike) -> str | None:
    """Why the weight file at ``path`` does not fit ``model``, or None when it does.

    The answer names the first layer whose arrays differ, in the model and in the file, with
    both shapes (``Layer 'predictions' (in the file: layers/dense_1) kernel: the file has
    (84, 10), the model (84, 3).``) and, when the number of layers with weights differs, the
    layers only one side has. Layers are paired as Keras pairs them when it loads: by their
    path (class name and order) in a ``.weights.h5``, by order in a legacy ``.h5``; a
    ``.keras`` file is read through its ``model.weights.h5``.

    Raises:
        OSError: the file does not open (see `weight_file_problem`).
    """
    import h5py

    path = Path(path)
    name = str(path)
    if name.endswith(".keras"):
        with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as inner, \
                h5py.File(inner, "r") as f:
            return _compare_layers(_native_file_layers(f), _native_model_layers(model), "path")
    if name.endswith(".weights.h5"):
        with h5py.File(path, "r") as f:
            return _compare_layers(_native_file_layers(f), _native_model_layers(model), "path")
    legacy = _legacy_file_layers(path)
    if legacy is None:
        return None  # not the legacy layout: Keras' own loader reports what is wrong
    return _compare_layers(legacy, _model_layers(model), "order")


def load_weights_file(model: keras.Model, path: str | os.PathLike, arch: str | None = None) -> None:
    """Loads a ``.weights.h5``, legacy ``.h5`` or ``.keras`` file into ``model``, strictly.

    The file is compared with the model layer by layer first (`weights_file_mismatch`), so a
    file that does not fit leaves the model untouched and the error names the first layer
    whose shapes differ; Keras itself ignores extra layers in a ``.weights.h5`` file and
    half-loads a legacy ``.h5`` before it stops. Of a ``.keras`` file only the weights are read
    (``keras.Model.load_weights``): its model is not rebuilt, so no code in it runs.

    Raises:
        ValueError: the file is unreadable or was saved from another architecture.
    """
    path = Path(path)
    name = arch or model.name
    expected = "a file saved from the same architecture with the same builder arguments"

    def mismatch(detail: str) -> WeightsError:
        return WeightsError(f"`weights` file does not fit {name}. Received: weights={str(path)!r}. "
                            f"{detail} Expected {expected}.")

    if not str(path).endswith(WEIGHT_SUFFIXES):
        raise WeightsError(f"`weights` must be a {', '.join(WEIGHT_SUFFIXES)} file. "
                           f"Received: weights={str(path)!r}.")
    problem = weight_file_problem(path)
    if problem:
        raise WeightsError(f"`weights` file is not a readable weight file. Received: "
                           f"weights={str(path)!r} ({problem}).")
    try:
        detail = weights_file_mismatch(model, path)
        if detail:
            raise mismatch(detail)
        model.load_weights(path)  # a .keras file too: its weights only, no model is built
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
