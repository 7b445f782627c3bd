"""The on-disk layout of the ACM-Net/FTCL release, its reader, writer and validation.

A dataset root holds::

    gt.json                     {"database": {video_id: {"duration", "subset", "annotations"}}}
    split_train.txt             one video id a line
    split_test.txt
    train/<video_id>.npy        float32 [T_video, D]: RGB I3D (D/2) then flow I3D (D/2),
    test/<video_id>.npy         one row per 16-frame snippet (0.64 s at 25 fps)

Synthetic datasets add ``phases/<split>/<video_id>.npy`` and ``meta.json``
(:mod:`ftcl.data.synthetic`). Every reader error names the video and the file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..io import atomic_save_npy

SPLITS = ("train", "test")


def feature_path(root: str | os.PathLike, split: str, video_id: str) -> Path:
    """``<root>/<split>/<video_id>.npy``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return Path(root) / split / f"{video_id}.npy"


def split_path(root: str | os.PathLike, split: str) -> Path:
    """``<root>/split_<split>.txt``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return Path(root) / f"split_{split}.txt"


def feature_shape(path: str | os.PathLike, video_id: str, feature_dim: int) -> int:
    """Check a feature file's header (no data read); return its number of snippets.

    Raises ``FileNotFoundError`` if missing, ``ValueError`` (naming the video and the file) if it
    is not a regular file (a folder, a FIFO, a device such as a link to ``/dev/zero``: never
    opened), empty (zero bytes), a ``.npz`` archive, not a ``.npy`` file, shorter than its header
    says (truncated) or longer (bytes after the array), or not a 2-D float array of width
    ``feature_dim`` with at least one row.
    """
    path = Path(path)
    shape, dtype = _npy_header(path, video_id)
    if len(shape) != 2 or shape[1] != feature_dim:
        raise ValueError(
            f"video {video_id!r}: {path} has shape {shape}, expected [T_video, {feature_dim}]"
        )
    if shape[0] < 1:
        raise ValueError(f"video {video_id!r}: {path} has no snippets")
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"video {video_id!r}: {path} has dtype {dtype}, expected float32")
    return int(shape[0])


def _file_kind(path: Path) -> str | None:
    """What ``path`` is if it is not a regular file (``None`` if it is one)."""
    import stat

    mode = path.stat().st_mode
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a character device" if stat.S_ISCHR(mode) else "a block device"
            if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")
    if path.is_symlink():
        kind = f"a link to {os.path.realpath(path)}, {kind}"
    return kind


def _npy_header(path: Path, video_id: str) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` from the ``.npy`` header of ``path``, after checking that the file is
    a regular file whose size is exactly header + data."""
    if not path.exists():  # also a link to nothing
        raise FileNotFoundError(f"feature file of video {video_id!r} not found: {path}")
    kind = _file_kind(path)
    if kind is not None:
        raise ValueError(f"video {video_id!r}: {path} is {kind}, not a regular .npy file")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"video {video_id!r}: {path} is empty (0 bytes)")
    fmt = np.lib.format
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if head == b"PK\x03\x04":
            raise ValueError(f"video {video_id!r}: {path} is a .npz archive (a zip of arrays, "
                             "np.savez), not a .npy array: save the [T_video, D] array alone "
                             "with np.save")
        try:
            version = fmt.read_magic(fh)
            read = fmt.read_array_header_1_0 if version == (1, 0) else \
                fmt.read_array_header_2_0
            shape, fortran, dtype = read(fh)
        except (ValueError, OSError, EOFError) as err:  # EOFError: shorter than a header
            raise ValueError(f"video {video_id!r}: cannot read {path} as .npy "
                             f"({_reason(err)})") from err
        data_start = fh.tell()
    if dtype.hasobject:
        raise ValueError(f"video {video_id!r}: cannot read {path} as .npy "
                         f"({_reason(ValueError('pickled'))})")
    if any(n < 0 for n in shape):
        raise ValueError(f"video {video_id!r}: cannot read {path} as .npy (its header gives a "
                         f"negative size: shape {tuple(shape)})")
    expected = data_start + math.prod(shape) * dtype.itemsize  # exact: no int64 overflow
    if size < expected:
        raise ValueError(f"video {video_id!r}: cannot read {path} as .npy (truncated: the "
                         f"header says {expected} bytes, the file has {size})")
    if size > expected:
        raise ValueError(f"video {video_id!r}: {path} has {size - expected} bytes after its "
                         f"{tuple(shape)} array (junk appended, or a different file written "
                         "over it): rewrite it with np.save")
    return tuple(int(n) for n in shape), dtype


def _reason(err: BaseException) -> str:
    """numpy's reason, without its advice to load pickled data (that would run code)."""
    text = str(err)
    if "pickled" in text:
        return "it holds pickled (object) data, not a float array; pickles are never loaded"
    return f"{type(err).__name__}: {text or 'the file ends early'}"


def load_features(path: str | os.PathLike, video_id: str, feature_dim: int) -> np.ndarray:
    """Load and check one feature file; return float32 ``[T_video, feature_dim]``.

    Raises ``ValueError`` naming the video, the file and the rows if any value is NaN or inf.
    """
    feature_shape(path, video_id, feature_dim)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"video {video_id!r}: cannot read {path} as .npy "
                         f"({_reason(err)})") from err
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        rows = np.nonzero(bad)[0]
        raise ValueError(
            f"video {video_id!r}: {path} has NaN/inf in {rows.size} rows "
            f"(first: {rows[:5].tolist()})"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def save_features(path: str | os.PathLike, features: np.ndarray) -> Path:
    """Write a float32 ``[T_video, D]`` feature file atomically."""
    features = np.asarray(features)
    if features.ndim != 2 or not np.all(np.isfinite(features)):
        raise ValueError(f"{path}: features must be a finite 2-D array, got {features.shape}")
    return atomic_save_npy(path, features.astype(np.float32, copy=False))


def validate_split(
    root: str | os.PathLike, split: str, video_ids: list[str], feature_dim: int, full: bool = False
) -> dict[str, int]:
    """Check every listed video's feature file; return ``{video_id: n_snippets}``.

    ``full=True`` also reads every file and checks for NaN/inf (slow on real data: ~1 GB).
    """
    lengths = {}
    for vid in video_ids:
        path = feature_path(root, split, vid)
        lengths[vid] = (
            load_features(path, vid, feature_dim).shape[0]
            if full
            else feature_shape(path, vid, feature_dim)
        )
    return lengths
