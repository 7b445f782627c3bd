"""Atomic file writes: a reader never sees a half-written result or checkpoint.

Every writer goes through :func:`atomic_path`: write to a temporary file in the same folder, flush
and fsync it, then ``os.replace`` it onto the target (atomic on POSIX and Windows). If anything
fails midway the temporary file is removed and the previous target, if any, is left untouched.

A process killed mid-write (``kill -9``) cannot remove its temporary file. The writer holds an
advisory lock (``flock``) on it while writing, so :func:`sweep_stale_temp` can tell a live write
from a stale one: the lock is released by the operating system when its holder dies, and a temp
file nobody locks is removed at the next start. :func:`folder_lock` is the same mechanism for a
whole run folder: one live process at a time trains a run (and, with its own lock file, one batch
at a time uses a work or results folder).

A write that fails (disk full, a file-size limit, a read-only or unwritable folder) raises
:class:`WriteError`: one line naming the target and the cause; the temporary file is removed and
the previous target, if any, is kept.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# What a failed write means, by errno (the rest: the system's own text).
_WRITE_CAUSES = {
    errno.ENOSPC: "no space left on device (the disk is full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (a file-size limit, e.g. ulimit -f, was reached)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied (the folder is not writable)",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a part of the path is a file, not a folder",
}


class WriteError(OSError):
    """A write that failed, named: ``cannot write <target>: <cause>`` (an ``OSError``)."""

    @classmethod
    def of(cls, target: str | os.PathLike, exc: OSError) -> WriteError:
        if isinstance(exc, WriteError):
            return exc
        cause = _WRITE_CAUSES.get(exc.errno) or exc.strerror
        if not cause:  # a short write (errno unset): the space or a size limit ran out
            cause = f"{exc} (short write: the disk is full or a file-size limit was reached)"
        return cls(exc.errno, f"cannot write {target}: {cause}")

    def __str__(self) -> str:
        return self.strerror or super().__str__()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success, rename it onto ``target``.

    Any ``OSError`` while creating, writing, syncing or renaming the file is raised as
    :class:`WriteError` naming ``target``; the temporary file is removed either way.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteError.of(target, exc) from exc
    _lock(fd, blocking=True)  # held until the end: marks the temp file as being written
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                fh.flush()
                os.fsync(fh.fileno())
            # mkstemp creates 0600 files; give the result the permissions a plain open() would.
            os.chmod(tmp_path, 0o666 & ~_umask())
            os.replace(tmp_path, target)
        except OSError as exc:
            raise WriteError.of(target, exc) from exc
    finally:
        try:
            if tmp_path.exists():
                tmp_path.unlink()
        finally:
            os.close(fd)


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 (hex) of a file's bytes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_SHA256_HEX = re.compile("[0-9a-f]{64}")  # what sha256sum and hashlib's hexdigest write


def read_checksums(path: str | os.PathLike) -> dict[str, str] | None:
    """``{name: sha256}`` of a checksum file in ``sha256sum`` format (``<hex>  <name>`` lines,
    the digest 64 lowercase hex digits); None if there is no such file. Raises ``ValueError``
    naming the file and line if a line is malformed."""
    path = Path(path)
    if not path.is_file():
        return None
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or not _SHA256_HEX.fullmatch(digest) or not name:
            raise ValueError(f"{path}:{n}: not a '<sha256>  <name>' line: {line!r}")
        out[name] = digest
    return out


def update_checksums(path: str | os.PathLike, changes: dict[str, str | None]) -> Path:
    """Set (or with None remove) entries of the checksum file ``path``, atomically and under a
    lock (writers of one results folder may run at once)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise WriteError.of(lock, exc) from exc
    try:
        _lock(fd, blocking=True)
        entries = read_checksums(path) or {}
        for name, digest in changes.items():
            if digest is None:
                entries.pop(name, None)
            else:
                entries[name] = digest
        text = "".join(f"{entries[name]}  {name}\n" for name in sorted(entries))
        return atomic_write_text(path, text)
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
    """``torch.save`` to ``target`` atomically (checkpoints).

    Serialised in memory first, then written as plain bytes: a full disk is then reported by
    the operating system (:class:`WriteError`, "no space left on device") instead of by torch's
    zip writer ("unexpected pos ...").
    """
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())
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


def lock_holder(path: str | os.PathLike) -> str | None:
    """``pid N on HOST, started at T`` of the live holder of the lock file ``path``, or None
    (no such file, or nobody holds it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _lock(fd, blocking=False):
            return None
        return _describe_holder(fd)
    finally:
        os.close(fd)


def _describe_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 256, 0).decode(errors="replace").split()
    except OSError:
        text = []
    if len(text) >= 3:
        return f"pid {text[0]} on {text[1]}, started at {text[2]}"
    return f"pid {text[0]}" if text else "pid unknown"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "folder", name: str = ".lock",
                holder: str = "another live process") -> Iterator[Path]:
    """Hold an exclusive lock on ``<folder>/<name>`` for the duration of the block.

    Raises :class:`FolderLocked` (a ``ValueError``) naming the folder and the holder (``holder``
    names what it is; its pid, host and start time are read from the file) if another live
    process holds it. The operating system releases the lock when its holder dies, however it
    dies (``kill -9`` included), so a stale lock file never blocks a restart. Without ``fcntl``
    (Windows) the block runs unlocked.
    """
    folder = Path(folder)
    path = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise WriteError.of(path, exc) from exc
    try:
        if not _lock(fd, blocking=False):
            raise FolderLocked(f"{what} {folder} is in use by {holder} ({_describe_holder(fd)}); "
                               "wait for it to finish, or stop it, then run again")
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {platform.node() or 'localhost'} {started}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race a new holder)
