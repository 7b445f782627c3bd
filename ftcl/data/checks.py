"""Everything a run needs of its data, checked before its first training step.

The per-file checks of :class:`~ftcl.data.VideoDataset` come first (both split files present and
non-empty, every listed video in ``gt.json``, every feature file present, readable and of width
D); :func:`check_data` then checks the opened splits of a run:

- every feature value is finite: each feature file is read in full once; a file that passed is
  remembered by path, size and modification time (``<cache>/validated-features.json``,
  :func:`ftcl.paths.feature_scan_cache`), so the scan costs nothing the second time and is redone
  when the file changes;
- the test ground truth holds at least one instance of every class (Eq. 9's mAP averages over
  the classes of the ground truth: a class without an instance would make every prediction of
  it an error after training);
- the training videos the optimiser sees form both positive (same class set) and negative
  (disjoint class sets) pairs (Sec. 3.3's video pairs).

Each failure is a ``ValueError`` naming the file and the problem. The checks of the configuration
are :mod:`ftcl.config.checks`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..io import atomic_write_json
from ..paths import feature_scan_cache
from .features import feature_path, load_features, split_path
from .pairs import PairBatches, VideoSubset


def _read_scan_cache(path: Path) -> dict:
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
    cache_path = feature_scan_cache(cache_dir)
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
    try:
        PairBatches(VideoSubset(data.train, data.fit_ids), batch_size=batch_size, seed=seed)
    except ValueError as exc:
        raise ValueError(
            f"{split_path(data.root, 'train')}: the {len(data.fit_ids)} training videos the "
            f"optimiser sees cannot form video pairs ({exc}); it needs two videos of one class "
            "and two of different classes") from None


def check_data(data, cfg=None, cache_dir: str | os.PathLike | None = None) -> dict:
    """All checks of the opened data of a run (:class:`ftcl.train.RunData`: ``train``, ``test``,
    ``root``, ``fit_ids``).

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
