"""Atomic file writes: a reader never sees a half-written result or checkpoint.

Every writer goes through :func:`atomic_path`: write to a temporary file in the same folder, flush
and fsync it, then ``os.replace`` it onto the target (atomic on POSIX and Windows). If anything
fails midway the temporary file is removed and the previous target, if any, is left untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success, rename it onto ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
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
        if tmp_path.exists():
            tmp_path.unlink()


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
