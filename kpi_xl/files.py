"""Common helpers for the files kpi_xl writes: whole files only, inside the output folder,
one run per output folder at a time.

* ``replacing(path)`` yields a temporary name in the same folder; when the block ends
  without an error the file is flushed to disk and renamed over ``path`` in one step, so
  a reader (or a run killed half-way) sees the old file or the new one, never a part.
  The final name is never a symbolic link followed out of the folder: a link there is
  refused with a sentence, and the temporary file is created exclusively (``O_EXCL``).
* ``write_bytes`` / ``open_replacing`` are the same for bytes and text writers.
* ``Claims`` refuses to write one output twice in a run (names compared as a
  case-insensitive file system would: ``Billing`` and ``billing`` are one file on Windows
  and macOS).
* ``folder_lock(folder)`` holds ``<folder>/.kpi-xl.lock`` (an OS lock, released when the
  process ends, even by a kill); a second run waits a bounded time, then stops with a
  sentence. Re-entrant within a process, so ``run`` can hold it around ``send``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import IO, Iterator

from .errors import KpiXlError


class OutputError(KpiXlError, RuntimeError):
    """An output cannot be written safely (a symlink, a second write, a busy folder)."""


class FolderBusy(OutputError):
    """Another run holds the output folder's lock."""


# ------------------------------------------------------------------ whole files
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _check_target(path: Path) -> None:
    if path.is_symlink():
        raise OutputError(f"refusing to write {path}: it is a symbolic link (to "
                          f"{os.readlink(path)}); kpi_xl writes its outputs only as files "
                          "inside the output folder")
    if path.exists() and not path.is_file():
        raise OutputError(f"refusing to write {path}: something other than a file is there")


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed over ``path`` when the block succeeds,
    removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_target(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)           # as open() would have made it, not mkstemp's 0600
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _check_target(path)
        os.replace(tmp, path)        # a rename replaces a link there, never follows it
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _sync_folder(path.parent)


@contextlib.contextmanager
def open_replacing(path: str | os.PathLike, mode: str = "w", **kw) -> Iterator[IO]:
    """``open(path, mode)`` through ``replacing``: the file appears whole or not at all."""
    with replacing(path) as tmp, open(tmp, mode, **kw) as f:
        yield f


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _sync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_NUMBER_V = re.compile(rb"<v>(-?[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?)</v>")


def workbook_digest(data: bytes) -> str:
    """SHA-256 of a workbook's content: its parts by name, cached numbers to 12
    significant digits. A regenerated workbook whose figures differ only in the last bits
    of a float (a parallel sum adds in another order) keeps its digest; a corrected
    figure changes it."""
    import io

    h = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in sorted(z.namelist()):
            part = z.read(name)
            if name.endswith(".xml"):
                part = _NUMBER_V.sub(lambda m: b"<v>" + format(float(m.group(1)), ".12g")
                                     .encode() + b"</v>", part)
            h.update(name.encode("utf-8") + b"\0" + part + b"\0")
    return h.hexdigest()


def check_workbook(name: str, data: bytes) -> str | None:
    """None if ``data`` is a whole .xlsx (a zip whose members are intact and that
    openpyxl opens as a workbook); else a sentence naming the file and the damage."""
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            bad = z.testzip()
            if bad is not None:
                return f"{name} is damaged: its part {bad} does not match its checksum"
            if "xl/workbook.xml" not in z.namelist():
                return f"{name} is not a workbook (no xl/workbook.xml)"
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        return f"{name} is damaged (not a whole .xlsx file: {e})"
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True)
        names = wb.sheetnames
        wb.close()
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, OSError) as e:
        return f"{name} is damaged (its workbook structure cannot be read: {e})"
    if not names:
        return f"{name} is damaged (it has no sheets)"
    return None


# ------------------------------------------------------------------ one output, once
class Claims:
    """The outputs of one run: claiming a path twice (case-insensitively) is refused."""

    def __init__(self):
        self.taken: dict[str, Path] = {}

    def claim(self, path: str | os.PathLike, what: str = "") -> Path:
        path = Path(path)
        key = os.path.normcase(os.path.abspath(path)).casefold()
        if key in self.taken:
            raise OutputError(f"refusing to write {path.name} twice in one run"
                              + (f" ({what})" if what else "") + f": {self.taken[key]} is "
                              "already one of this run's outputs")
        self.taken[key] = path
        return path


# ------------------------------------------------------------------ one run per folder
_held: dict[str, list] = {}          # lock path -> [file object, depth]
_held_guard = threading.Lock()


def _try_lock(f) -> bool:
    try:
        import fcntl
    except ImportError:              # Windows
        import msvcrt

        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, *, wait: float = 30.0,
                poll: float = 0.1) -> Iterator[Path]:
    """Hold ``<folder>/.kpi-xl.lock`` for the block. Waits at most ``wait`` seconds for
    another run to finish, then raises ``FolderBusy`` naming the folder and the holder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".kpi-xl.lock"
    key = os.path.abspath(path)
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            mine = True
        else:
            mine = False
    if mine:
        try:
            yield path
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        raise OutputError(f"cannot lock the output folder {folder}: {e.strerror} ({path})"
                          ) from None
    f = os.fdopen(fd, "r+")
    end = time.monotonic() + wait
    try:
        while not _try_lock(f):
            if time.monotonic() >= end:
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise FolderBusy(f"another kpi-xl run is using {folder} ({holder}); nothing was "
                                 f"done: wait for it to finish and run again")
            time.sleep(poll)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        f.flush()
        with _held_guard:
            _held[key] = [f, 1]
        try:
            yield path
        finally:
            with _held_guard:
                del _held[key]
    finally:
        f.close()                    # closing releases the lock
