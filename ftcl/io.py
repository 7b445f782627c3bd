"""Atomic file writes: a reader never sees a half-written result or checkpoint.

Every writer goes through :func:`atomic_path`: write to a temporary file in the same folder, flush
and fsync it, then ``os.replace`` it onto the target (atomic on POSIX and Windows). If anything
fails midway the temporary file is removed and the previous target, if any, is left untouched.

A process killed mid-write (``kill -9``) cannot remove its temporary file. The writer holds an
advisory lock (``flock``) on it while writing, so :func:`sweep_stale_temp` can tell a live write
from a stale one: the lock is released by the operating system when its holder dies, and a temp
file nobody locks is removed at the next start. :func:`folder_lock` is the same mechanism for a
whole run folder: one live process at a time trains a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success, rename it onto ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    _lock(fd, blocking=True)  # held until the end: marks the temp file as being written
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        try:
            if tmp_path.exists():
                tmp_path.unlink()
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically; return the target path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def atomic_write_json(target: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON (sorted keys, trailing newline) to ``target`` atomically."""
    return atomic_write_text(target, json.dumps(obj, indent=indent, sort_keys=True) + "\n")


def atomic_torch_save(target: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` to ``target`` atomically (checkpoints)."""
    import torch

    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
    return Path(target)


def atomic_save_npy(target: str | os.PathLike, array: Any) -> Path:
    """``np.save`` to ``target`` atomically (the exact file name is kept: no ``.npy`` appended)."""
    import numpy as np

    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
    return Path(target)


# ------------------------------------------------------------------------------ locks

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; see sweep_stale_temp
    fcntl = None  # type: ignore[assignment]

# Without flock (Windows) a temp file is taken as stale only when this old.
_STALE_WITHOUT_LOCKS_S = 24 * 3600.0


def _lock(fd: int, blocking: bool) -> bool:
    """Exclusive ``flock`` on ``fd``; False if another process holds it (non-blocking)."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def sweep_stale_temp(folder: str | os.PathLike) -> list[Path]:
    """Remove the temp files (``.*.tmp``) of interrupted atomic writes in ``folder``.

    A temp file is stale when no live process holds its lock (the writer of :func:`atomic_path`
    holds it until the rename). Returns the removed paths; a missing folder is nothing to do.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.glob(".*.tmp")):
        if not path.is_file():
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # gone meanwhile (its writer renamed it)
            continue
        try:
            if fcntl is None:
                stale = time.time() - os.fstat(fd).st_mtime > _STALE_WITHOUT_LOCKS_S
            else:
                # the same file still at that name (not renamed onto its target meanwhile)
                stale = _lock(fd, blocking=False) and _same_file(path, fd)
            if stale:
                path.unlink(missing_ok=True)
                removed.append(path)
        finally:
            os.close(fd)
    return removed


def _same_file(path: Path, fd: int) -> bool:
    try:
        a, b = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class FolderLocked(ValueError):
    """Another live process holds the lock of a folder (:func:`folder_lock`)."""


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "folder") -> Iterator[Path]:
    """Hold an exclusive lock on ``<folder>/.lock`` for the duration of the block.

    Raises :class:`FolderLocked` (a ``ValueError``) naming the folder and the holder's process id
    if another live process holds it. The operating system releases the lock when its holder
    dies, however it dies (``kill -9`` included), so a stale lock file never blocks a restart.
    Without ``fcntl`` (Windows) the block runs unlocked.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _lock(fd, blocking=False):
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise FolderLocked(f"{what} {folder} is in use by another live process (pid "
                               f"{holder}); wait for it to finish, or stop it, then run again")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race a new holder)
