"""A run folder that survives what machines do to it: atomic files, a committed state, resume.

Every file of a run is written to a temporary name in the same folder and renamed into place
(``os.replace``, atomic on POSIX), so a killed process or a full disk leaves either the old file
or the new one, never half of one (timm's ``CheckpointSaver`` does the same for its
``last.pth.tar``). The run's progress lives in ``state.json``, rewritten atomically after every
epoch; it is the commit point:

* ``next_epoch``: the first epoch not yet finished;
* ``rows``: one log row per finished epoch (``log.csv`` is re-drawn from them, so a row never
  goes missing, whatever happened to the CSV file);
* ``best``: per best-checkpoint file, the best monitored value and its epoch. Keras'
  ``ModelCheckpoint`` forgets its best score when a run restarts (``BackupAndRestore`` in Keras
  3.15 stores only the epoch and batch), so a resumed run would overwrite ``best.weights.h5``
  with its first epoch, however bad (Ultralytics restores ``best_fitness`` for the same
  reason; timm does not, and loses its ranking on resume);
* ``checkpoint``: the resume file of the last finished epoch (model + optimizer state);
* ``pending``: renames still to do after the commit (temporary best / last files): the state
  is written first, the renames follow; a process killed in between finishes them on resume.

Disk full: every write that fails with ``ENOSPC`` raises `DiskFullError` ("no space left in
DIR") after removing its temporary file; what was committed before stays as it was.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

STATE = "state.json"
RESUME_DIR = "resume"
STATE_VERSION = 1


class RunError(RuntimeError):
    """A run that cannot go on; the message says why and what to do."""


class DiskFullError(RunError, OSError):
    """A write failed for lack of space; the run folder holds its last committed state."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())


class DivergedError(RunError):
    """The loss became NaN / infinite or grew by orders of magnitude."""


def is_disk_full(error: BaseException) -> bool:
    """Whether an exception (OSError, or h5py's / Keras' wrapping of one) is "no space left"."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(error) or "errno = 28" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def disk_guard(folder: Path) -> Iterator[None]:
    """Turns any "no space left" error inside the block into a `DiskFullError` naming ``folder``."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as e:  # noqa: BLE001 - h5py and TF wrap the OSError in their own types
        if is_disk_full(e):
            raise DiskFullError(errno.ENOSPC, f"no space left in {folder}") from e
        raise


def default_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give (mkstemp's files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def write_temp(final: Path, data: bytes) -> Path:
    """Writes ``data`` to a fresh temporary file beside ``final`` (same folder, so a rename
    into place is atomic) and returns its name; nothing is left behind if the write fails.

    The file gets ``final``'s mode if it exists, else the mode a plain ``open`` would give.
    """
    final = Path(final)
    with disk_guard(final.parent):
        final.parent.mkdir(parents=True, exist_ok=True)
        mode = final.stat().st_mode & 0o777 if final.exists() else default_mode()
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
        except BaseException:
            _remove(tmp)
            raise
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and a rename."""
    os.replace(write_temp(path, data), path)


def atomic_write_text(path: Path, text: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def finite_json(value: Any) -> Any:
    """``value`` with every NaN / infinity replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return finite_json(value.item())
    return value


def write_json(path: Path, value: Any) -> None:
    """Valid JSON (non-finite numbers as null), written atomically."""
    atomic_write_text(path, json.dumps(finite_json(value), indent=2, allow_nan=False) + "\n")


def weights_bytes(model, *, include_optimizer: bool = False) -> bytes:
    """``model``'s ``.weights.h5`` file, built in memory.

    Keras' ``save_weights`` writes through HDF5 straight to disk; on a full disk HDF5 fails
    mid-file and its library then crashes the process at exit (a segfault, seen with h5py
    3.x), so the file is assembled in memory (Keras' own ``H5IOStore`` on a ``BytesIO``) and
    written with plain Python I/O, which fails cleanly. ``save_weights`` also stores the
    optimizer's slots (Adam: twice the model) when the model is compiled: resume files need
    them; best / last files are for inference and fine-tuning, so by default they skip them.
    Both use Keras' private saving functions (Keras is pinned to 3.15; the tests load the
    files back)."""
    from keras.src.saving import saving_lib

    if not model.built:
        raise ValueError(f"{model.name} is not built; nothing to save.")
    optimizer = getattr(model, "optimizer", None)
    skip = set() if include_optimizer or optimizer is None else {id(optimizer)}
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="",
                               visited_saveables=skip)
    finally:
        store.close()
    return buffer.getvalue()


def save_weights(model, path: Path, *, include_optimizer: bool = False) -> Path:
    """Writes ``model``'s weights to a temporary file beside ``path`` and returns its name
    (the caller renames it into place, see `RunFolder.commit_epoch`)."""
    return write_temp(path, weights_bytes(model, include_optimizer=include_optimizer))


def load_weights(model, path: Path) -> None:
    """Loads a best / last file (no optimizer slots) without touching a compiled model's
    optimizer (Keras would warn that the file holds none)."""
    from keras.src.saving import saving_lib

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        model.load_weights(path)
    else:
        saving_lib.load_weights_only(model, str(path), objects_to_skip=[optimizer])


class RunFolder:
    """The files of one run and its committed `state.json`.

    Args:
        out: the run folder.
        write: False on the non-chief workers of a multi-worker run: nothing is written.
    """

    def __init__(self, out: str | os.PathLike, write: bool = True):
        self.out = Path(out).absolute()  # temporary files come back absolute
        self.write = write
        self.state: dict[str, Any] = self._fresh()

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {"version": STATE_VERSION, "next_epoch": 0, "rows": [], "best": {},
                "ended": [], "checkpoint": None, "checkpoint_phase": None, "pending": {},
                "finished": False, "status": "running"}

    # -- opening ---------------------------------------------------------------------------

    def open(self, recipe: dict[str, Any], *, restart: bool = False,
             may_differ: tuple[str, ...] = ()) -> "RunFolder":
        """Reads the state of an earlier run in this folder (to resume it), or starts afresh.

        Raises:
            RunError: the folder holds a run of another recipe (fields other than
                ``may_differ`` differ), or an unreadable state; ``restart=True`` starts over.
        """
        recipe = json.loads(json.dumps(finite_json(recipe)))  # tuples -> lists, as stored
        if self.write:
            with disk_guard(self.out):
                self.out.mkdir(parents=True, exist_ok=True)
            self._lock()
        path = self.out / STATE
        if restart or not path.exists():
            self.state = self._fresh()
            self.state["recipe"] = recipe
            if restart and self.write:
                self._clear_resume()
            return self
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("version") != STATE_VERSION:
                raise ValueError(f"state version {state.get('version')}")
        except (OSError, ValueError) as e:
            raise RunError(f"{path} cannot be read ({e}); pass --restart to train again in "
                           f"{self.out} or choose another --out.") from e
        if not state.get("next_epoch") and not state.get("finished"):
            # nothing was trained (a run that diverged or was stopped in its first epoch)
            self.state = self._fresh()
            self.state["recipe"] = recipe
            return self
        before = state.get("recipe", {})
        differs = sorted(k for k in set(before) | set(recipe)
                         if k not in may_differ and before.get(k) != recipe.get(k))
        if differs:
            detail = ", ".join(f"{k}: {before.get(k)!r} -> {recipe.get(k)!r}" for k in differs[:4])
            raise RunError(f"{self.out} holds a run of another recipe ({detail}); pass "
                           f"--restart to overwrite it, or choose another --out.")
        state["recipe"] = recipe
        self.state = state
        self._finish_pending()
        return self

    def _lock(self) -> None:
        """Holds ``.lock`` for the life of the process: two runs in one folder would overwrite
        each other's checkpoints."""
        import fcntl

        self._lock_file = open(self.out / ".lock", "a+")  # noqa: SIM115 - held until exit
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise RunError(f"Another training run is using {self.out}; wait for it to end, or "
                           "choose another --out.") from None

    def close(self) -> None:
        """Releases the folder for the next run."""
        lock = getattr(self, "_lock_file", None)
        if lock is not None and not lock.closed:
            lock.close()

    def _finish_pending(self) -> None:
        """Completes the renames of a commit that a killed process left half done."""
        for tmp, final in list(self.state.get("pending", {}).items()):
            tmp_path, final_path = self.out / tmp, self.out / final
            if tmp_path.exists() and self.write:
                os.replace(tmp_path, final_path)
        self.state["pending"] = {}

    def _clear_resume(self) -> None:
        folder = self.out / RESUME_DIR
        if folder.is_dir():
            for f in folder.iterdir():
                _remove(f)
            with contextlib.suppress(OSError):
                folder.rmdir()
        _remove(self.out / STATE)

    # -- the state -------------------------------------------------------------------------

    @property
    def next_epoch(self) -> int:
        return int(self.state["next_epoch"])

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.state["rows"]

    def best(self, file: str) -> dict[str, Any] | None:
        return self.state["best"].get(file)

    def checkpoint_path(self) -> Path | None:
        name = self.state.get("checkpoint")
        return self.out / name if name else None

    def commit(self, **changes: Any) -> None:
        """Updates the state and writes it atomically (the commit point)."""
        self.state.update(changes)
        if self.write:
            write_json(self.out / STATE, self.state)

    # -- one epoch -------------------------------------------------------------------------

    def commit_epoch(self, epoch: int, row: dict[str, Any], *, phase: str, model, export,
                     best_file: str | None, improved: dict[str, Any] | None) -> None:
        """Writes the resume checkpoint, last (and best) weights and the log of one epoch.

        Order: every file that needs space is written under a temporary name first; then the
        state is committed (naming the new resume file and the pending renames); then the
        renames, which need no space. A failure before the commit leaves the previous epoch's
        state and files intact.
        """
        rows = [r for r in self.rows if r["epoch"] < epoch] + [row]
        if not self.write:
            self.state.update(next_epoch=epoch + 1, rows=rows)
            if improved is not None and best_file:
                self.state["best"][best_file] = improved
            return
        written: list[Path] = []
        try:
            # a new name: nothing committed refers to it yet
            resume = self.out / RESUME_DIR / f"epoch-{epoch:04d}.weights.h5"
            atomic_write_bytes(resume, weights_bytes(model, include_optimizer=True))
            written.append(resume)
            pending = {}
            tmp_last = save_weights(export, self.out / "last.weights.h5")
            written.append(tmp_last)
            pending[str(tmp_last.relative_to(self.out))] = "last.weights.h5"
            best = dict(self.state["best"])
            if improved is not None and best_file:
                tmp_best = save_weights(export, self.out / best_file)
                written.append(tmp_best)
                pending[str(tmp_best.relative_to(self.out))] = best_file
                best[best_file] = improved
            old = self.checkpoint_path()
            self.commit(next_epoch=epoch + 1, rows=rows, best=best, pending=pending,
                        checkpoint=str(resume.relative_to(self.out)), checkpoint_phase=phase)
        except BaseException:
            for path in written:
                _remove(path)
            raise
        self._finish_pending()
        if old is not None and old != resume:
            _remove(old)
        self.write_log()

    def write_log(self) -> None:
        """``log.csv`` from the committed rows (every finished epoch, in order)."""
        if not self.write or not self.rows:
            return
        keys: list[str] = []
        for r in self.rows:
            keys.extend(k for k in r if k not in keys)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=keys, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.out / "log.csv", text.getvalue())

    def finish(self, status: str) -> None:
        """Marks the run finished (or stopped, with the reason) and drops the resume file."""
        finished = status == "finished"
        checkpoint = self.checkpoint_path()
        self.commit(finished=finished, status=status,
                    **({"checkpoint": None, "checkpoint_phase": None} if finished else {}))
        if finished and checkpoint is not None and self.write:
            _remove(checkpoint)
            with contextlib.suppress(OSError):
                (self.out / RESUME_DIR).rmdir()


def read_log(path: Path) -> dict[str, list[float]]:
    """``log.csv`` as ``{column: values}`` for the numeric columns (blank cells are NaN)."""
    path = Path(path)
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, list[float]] = {}
    for key in (rows[0] if rows else {}):
        if key in ("epoch", "phase"):
            continue
        try:
            out[key] = [float(r[key]) if r.get(key) not in (None, "") else math.nan for r in rows]
        except ValueError:
            continue  # a text column
    return out
