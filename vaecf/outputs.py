"""Writing a run's outputs without losing anyone's work.

* Every file is written to a temporary name in the same folder and renamed into place
  (:func:`atomic_write`): a full disk or a crash leaves the old file or none, never half
  a file, and the temporary file is removed on failure.
* :class:`RunFolder` holds an ``--out`` folder for one run: it makes the folder and
  test-writes it, takes an exclusive lock (``fcntl.flock`` on ``.vaecf.lock``, released
  on exit) so a second run on the same folder refuses, and refuses a folder that holds
  earlier results or another run's files unless asked to overwrite them; then
  :meth:`RunFolder.move_aside` moves those old outputs into ``previous-<time>/`` (never
  deletes them), once the new run's inputs are known to be good.
"""
from __future__ import annotations

import datetime
import json
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Callable

try:
    import fcntl
except ImportError:  # Windows: no lock, the other checks still hold
    fcntl = None

__all__ = ["atomic_write", "write_data", "write_json", "save_figure", "RunFolder", "RunFolderBusy",
           "RunFolderTaken"]

LOCK_NAME = ".vaecf.lock"
ASIDE_PREFIX = "previous-"


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path`` (its folder made if need be),
    then rename it to ``path``; the temporary file is removed if anything fails. Its name
    holds the process id, so two processes writing the same file never share one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_data(path: str | os.PathLike, data: str | bytes) -> Path:
    """Text (as UTF-8) or bytes, through a temporary file and a rename."""
    payload = data.encode() if isinstance(data, str) else data
    return atomic_write(path, lambda handle: handle.write(payload))


def write_json(path: str | os.PathLike, value) -> Path:
    """``value`` as indented JSON, through a temporary file and a rename."""
    return write_data(path, json.dumps(value, indent=2))


def save_figure(figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    """A Matplotlib figure as a PNG, through a temporary file and a rename."""
    return atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=dpi))


class RunFolderBusy(RuntimeError):
    """Another run holds the ``--out`` folder."""


class RunFolderTaken(ValueError):
    """The ``--out`` folder holds earlier results or another run's files."""


class RunFolder:
    """An ``--out`` folder held by one run (a context manager; see the module docstring).

    Args:
        out: the folder.
        results: the file that marks a finished run (``results.json``).
        outputs: every file or folder the run writes, ``results`` included.
        overwrite: earlier outputs may be replaced (they are moved aside first).
    """

    def __init__(self, out: str | os.PathLike, results: str, outputs: tuple[str, ...],
                 overwrite: bool = False):
        self.path, self.results, self.outputs = Path(out), results, outputs
        self.overwrite = overwrite
        self._lock = None
        self._created = False
        self._stale: list[Path] = []

    def __enter__(self) -> "RunFolder":
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderTaken(f"--out {self.path} is a file, not a folder: choose another "
                                 "--out.")
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        probe = self.path / ".vaecf-write-test"
        atomic_write(probe, lambda handle: handle.write(b"ok"))
        probe.unlink()
        self._take_lock()
        try:
            self._stale = self._check_contents()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self._release()
        if self._created and [p.name for p in self.path.iterdir()] == [LOCK_NAME]:
            (self.path / LOCK_NAME).unlink()  # a run that wrote nothing leaves no folder
            self.path.rmdir()
        return False

    def _take_lock(self):
        if fcntl is None:
            return
        handle = open(self.path / LOCK_NAME, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunFolderBusy(
                f"another vaecf run (process {holder}) is writing to --out {self.path}; wait "
                "for it to finish, or choose another --out.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def _release(self):
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def _check_contents(self) -> list[Path]:
        """What must be moved aside before writing; refuses what may not be replaced."""
        results = self.path / self.results
        unreadable = []
        if results.exists():
            try:
                json.loads(results.read_text())
            except (OSError, ValueError) as error:
                warnings.warn(f"{results} cannot be read ({type(error).__name__}); it is treated "
                              "as absent and will be moved aside, not overwritten.", stacklevel=3)
                unreadable = [results]
            else:
                if not self.overwrite:
                    raise RunFolderTaken(
                        f"{results} already exists; choose another --out or pass --overwrite "
                        "(which moves the earlier outputs aside).")
        present = [self.path / name for name in self.outputs
                   if name != self.results and (self.path / name).exists()]
        foreign = [p for p in self.path.iterdir() if p.is_file()
                   and p.suffix in (".png", ".json") and p.name not in self.outputs]
        finished_elsewhere = [p for p in present if p.is_file()] + foreign
        if self.overwrite:
            earlier = present + foreign + ([results] if results.exists() else [])
            return sorted(set(earlier))
        if finished_elsewhere and not unreadable:
            names = ", ".join(sorted(p.name for p in finished_elsewhere))
            raise RunFolderTaken(
                f"--out {self.path} holds another run's files ({names}) but no "
                f"{self.results}; choose another --out, or pass --overwrite to move them aside.")
        return unreadable + finished_elsewhere  # the files of the run whose results broke

    def move_aside(self) -> Path | None:
        """Move the earlier outputs into a new ``previous-<time>/`` folder; return it (or
        ``None`` when there was nothing to move)."""
        stale = [p for p in self._stale if p.exists()]
        if not stale:
            return None
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = self.path / f"{ASIDE_PREFIX}{stamp}"
        suffix = 1
        while aside.exists():
            suffix += 1
            aside = self.path / f"{ASIDE_PREFIX}{stamp}-{suffix}"
        aside.mkdir()
        for item in stale:
            os.replace(item, aside / item.name)
        self._stale = []
        return aside
