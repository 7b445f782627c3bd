"""Everything a run needs, checked before its first training step (fail fast, name the culprit).

The trainer (:class:`ftcl.train.Trainer`) calls :func:`check_settings` before it reads any data
and :func:`check_data` once the splits are open; the batch (``ftcl reproduce``) calls the same
checks in its driver before any worker starts. Each failure is a ``ValueError`` (or
``FileNotFoundError``) naming the file or the setting and the problem, so ``ftcl`` ends with
``ftcl: error: ...`` in seconds instead of after stage 1.

Settings (:func:`check_settings`):

- every number of the configuration is finite (``--set train.lr=inf`` is refused here, not as
  "mu contains NaN or inf" in stage 2), and in range (the ranges :func:`ftcl.config.validate`
  checks, plus non-negative weights, decays and margins);
- the device name is one torch knows and this machine has (``--device tpu`` / ``gpu`` /
  ``cuda`` without CUDA);
- the output folder can be created and written (an ``--out-dir`` naming a file is refused);
- the run name is one plain folder name, so the run folder stays inside the output folder
  (``--name ../../../escape`` is refused).

Data (:func:`check_data`; the per-file checks of :class:`ftcl.data.VideoDataset` come first:
both split files present and non-empty, every listed video in ``gt.json``, every feature file
present, readable and of width D):

- every feature value is finite: each feature file is read in full once; a file that passed is
  remembered by path, size and modification time (``<cache>/validated-features.json``), so the
  scan costs nothing the second time and is redone when the file changes;
- the test ground truth holds at least one instance of every class (Eq. 9's mAP averages over
  the classes of the ground truth: a class without an instance would make every prediction of
  it an error after training);
- the training videos the optimiser sees form both positive (same class set) and negative
  (disjoint class sets) pairs (Sec. 3.3's video pairs).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

DEVICE_TYPES = ("cpu", "cuda", "mps")
FEATURE_SCAN_CACHE = "validated-features.json"

# Range checks beyond ftcl.config.validate: (section, key) -> (test, what).
_RANGES = {
    ("train", "weight_decay"): (lambda v: v >= 0, "must be >= 0"),
    ("train", "eval_batch_size"): (lambda v: v >= 1, "must be >= 1"),
    ("train", "num_threads"): (lambda v: v is None or v >= 1, "must be >= 1 or null"),
    ("ftcl", "lambda_fsd"): (lambda v: v >= 0, "must be >= 0"),
    ("ftcl", "lambda_lcs"): (lambda v: v >= 0, "must be >= 0"),
    ("ftcl", "fsd_margin"): (lambda v: v >= 0, "must be >= 0"),
    ("ftcl", "cc_weight"): (lambda v: v >= 0, "must be >= 0"),
    ("loss", "wtalc_lambda"): (lambda v: 0 <= v <= 1, "must be in [0, 1]"),
    ("loss", "cola_temperature"): (lambda v: v > 0, "must be positive"),
}


# ------------------------------------------------------------------------------ settings


def _numbers(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of every field of a (nested) configuration dataclass."""
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out += _numbers(value, f"{key}.")
        else:
            out.append((key, value))
    return out


def check_finite(cfg) -> None:
    """Raise ``ValueError`` naming the first configuration key holding NaN or inf."""
    for key, value in _numbers(cfg):
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"config key {key!r}={v!r}: must be a finite number")


def check_ranges(cfg) -> None:
    """:func:`ftcl.config.validate` plus the ranges it leaves out (see :data:`_RANGES`)."""
    from .config import validate

    validate(cfg)
    for (section, name), (ok, what) in _RANGES.items():
        sec = getattr(cfg, section, None)
        if sec is None or not hasattr(sec, name):
            continue
        value = getattr(sec, name)
        if not ok(value):
            raise ValueError(f"config key '{section}.{name}'={value!r}: {what}")


def check_device(name: Any, setting: str = "device") -> None:
    """Raise ``ValueError`` unless ``name`` is ``auto``/None or a device this machine has."""
    import torch

    if name is None or str(name) == "auto":
        return
    hint = f"use auto, {', '.join(DEVICE_TYPES)} or cuda:N"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{setting}={str(name)!r} is not a device name; {hint}") from None
    if device.type not in DEVICE_TYPES:
        raise ValueError(f"{setting}={str(name)!r}: device type {device.type!r} is not "
                         f"supported; {hint}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{setting}={str(name)!r} requested but CUDA is not available "
                             "here; use auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{setting}={str(name)!r}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise ValueError(f"{setting}={str(name)!r} requested but MPS is not available here")
    if device.type == "cpu" and device.index not in (None, 0):
        raise ValueError(f"{setting}={str(name)!r}: there is one CPU device; use cpu")


def check_output_dir(path: str | os.PathLike, setting: str = "out_dir") -> Path:
    """Create ``path`` if needed; raise ``ValueError`` if it is a file, cannot be created or
    is not writable. Returns the path."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{setting} {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{setting} {path}: cannot create the folder "
                         f"({exc.strerror or type(exc).__name__}: {exc.filename or path})"
                         ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{setting} {path}: the folder is not writable")
    return path


def check_run_name(name: str | None, setting: str = "run_name (--name)") -> None:
    """Raise ``ValueError`` unless ``name`` (None = the method's name) is one plain folder name."""
    if name is None:
        return
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or name != name.strip() or Path(name).is_absolute() or name.startswith("~"))
    if bad:
        raise ValueError(f"{setting} {name!r}: must be one plain folder name (no '/', "
                         "'\\', '..', leading '~' or surrounding spaces), so that the run folder "
                         "stays inside the output folder")


def check_settings(cfg) -> None:
    """All checks of the configuration alone: numbers, ranges, device, output folder, run name.

    Creates ``cfg.out_dir`` (the run would create it anyway).
    """
    check_finite(cfg)
    check_ranges(cfg)
    check_device(cfg.device)
    check_run_name(cfg.run_name)
    out = check_output_dir(cfg.out_dir)
    from .train import run_directory

    run_dir = run_directory(cfg).expanduser().resolve()
    if out.resolve() not in run_dir.parents:
        raise ValueError(f"run folder {run_dir} is not inside out_dir {out.resolve()}")
    for part in run_dir.relative_to(out.resolve()).parts:  # e.g. a file named like the dataset
        out = out / part
        if out.exists() and not out.is_dir():
            raise ValueError(f"run folder {run_directory(cfg)}: {out} exists and is not a folder")


# ------------------------------------------------------------------------------ data


def _scan_cache_path(cache_dir: str | os.PathLike | None) -> Path:
    from .data.prepare import default_cache_dir

    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / FEATURE_SCAN_CACHE


def _read_scan_cache(path: Path) -> dict:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def scan_features(dataset, cache_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """Read every feature file of ``dataset`` (a :class:`~ftcl.data.VideoDataset`) in full once.

    Raises ``ValueError`` naming the video, the file and the rows holding NaN/inf. Files that
    passed are remembered by resolved path, size and ``st_mtime_ns`` in
    ``<cache_dir>/validated-features.json`` (default cache folder if None) and skipped next
    time. Returns ``{"scanned": n, "cached": m}``.
    """
    from .data.features import feature_path, load_features
    from .io import atomic_write_json

    cache_path = _scan_cache_path(cache_dir)
    seen = _read_scan_cache(cache_path)
    new, counts = {}, {"scanned": 0, "cached": 0}
    for vid in dataset.video_ids:
        path = feature_path(dataset.root, dataset.split, vid)
        st = path.stat()
        key, stamp = str(path.resolve()), [st.st_size, st.st_mtime_ns]
        if seen.get(key) == stamp:
            counts["cached"] += 1
            continue
        load_features(path, vid, dataset.spec.feature_dim)  # raises on NaN/inf rows
        new[key] = stamp
        counts["scanned"] += 1
    if new:
        merged = {**_read_scan_cache(cache_path), **new}  # re-read: parallel runs write it too
        try:
            atomic_write_json(cache_path, merged, indent=0)
        except OSError:  # a read-only cache only costs a rescan next time
            pass
    return counts


def check_ground_truth_classes(dataset) -> None:
    """Raise ``ValueError`` naming ``gt.json`` if a class has no instance in its ground truth."""
    gt = dataset.ground_truth()
    present = set(gt["label"])
    missing = [c for c in dataset.classes if c not in present]
    if missing:
        raise ValueError(
            f"{dataset.gt_path}: the {dataset.split} ground truth (subset {dataset.subset!r}) has "
            f"no instance of {len(missing)} of the {len(dataset.classes)} classes of "
            f"{dataset.spec.name} (e.g. {missing[:3]}); the mAP needs every class: is the file "
            "complete?")


def check_pairs(data, batch_size: int, seed: int = 0) -> None:
    """Raise ``ValueError`` naming the split file if the fit videos give no positive or no
    negative pair (:class:`ftcl.data.PairBatches`)."""
    from .data import PairBatches
    from .data.features import split_path
    from .train import VideoSubset

    try:
        PairBatches(VideoSubset(data.train, data.fit_ids), batch_size=batch_size, seed=seed)
    except ValueError as exc:
        raise ValueError(
            f"{split_path(data.root, 'train')}: the {len(data.fit_ids)} training videos the "
            f"optimiser sees cannot form video pairs ({exc}); it needs two videos of one class "
            "and two of different classes") from None


def check_data(data, cfg=None, cache_dir: str | os.PathLike | None = None) -> dict:
    """All checks of the opened data of a run (:class:`ftcl.train.RunData`).

    ``cache_dir``: where the feature-scan cache lives (default ``cfg.cache_dir``, else the default
    cache folder). Returns the scan counts per split.
    """
    if cache_dir is None and cfg is not None:
        cache_dir = cfg.cache_dir
    for dataset in (data.train, data.test):
        if len(dataset) == 0:  # VideoDataset refuses this already; kept for other datasets
            raise ValueError(f"{dataset.root}: split {dataset.split!r} lists no videos")
    check_ground_truth_classes(data.test)
    check_pairs(data, cfg.train.batch_size if cfg is not None else 2)
    return {ds.split: scan_features(ds, cache_dir) for ds in (data.train, data.test)}


def check_run(cfg):
    """:func:`check_settings`, open the data (:func:`ftcl.train.load_data`), :func:`check_data`.

    Returns the opened :class:`~ftcl.train.RunData`.
    """
    from .train import load_data

    check_settings(cfg)
    data = load_data(cfg)
    check_data(data, cfg)
    return data


__all__ = ["check_data", "check_device", "check_finite", "check_ground_truth_classes",
           "check_output_dir", "check_pairs", "check_ranges", "check_run", "check_run_name",
           "check_settings", "scan_features"]
