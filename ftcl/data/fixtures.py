"""Tiny datasets in the real ACM-Net/FTCL layout, for tests and examples.

``write_tiny_dataset`` writes exactly what a real feature release contains (``gt.json`` with
``duration = frames / 30`` style fields, split files, ``<split>/<video>.npy``), so code tested on it
is tested on the real format. Values are random unless given. ``write_thumos14_fixture`` writes a
THUMOS14 folder of real video ids, annotations and true durations with random features (the
fail-fast tests and ``benchmarks/bench_bad_inputs.py`` break one thing in it at a time).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .annotations import (
    thumos14_classes,
    thumos14_database,
    thumos14_split,
    thumos14_true_durations,
)


def write_tiny_dataset(
    root: str | os.PathLike, videos: dict, feature_dim: int = 8, seed: int = 0
) -> Path:
    """Write a dataset in the real layout and return its root.

    Parameters
    ----------
    root : path
    videos : dict
        ``{video_id: dict(split, subset, duration, annotations, n_snippets, features=None)}``:
        ``split`` is ``"train"``, ``"test"`` or None (listed in ``gt.json`` only, like THUMOS14's
        two left-out test videos); ``annotations`` a list of ``((start, end), label)``;
        ``features`` an optional ``[n_snippets, D]`` array written as given (any dtype/shape, to
        test bad input).
    feature_dim : int
    seed : int
        Seed of the random features.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    db, splits = {}, {"train": [], "test": []}
    for vid, v in videos.items():
        db[vid] = {
            "duration": v["duration"],
            "frames": int(v["duration"] * 30),
            "subset": v["subset"],
            "annotations": [{"segment": list(s), "label": lab} for s, lab in v["annotations"]],
        }
        if v.get("split"):
            splits[v["split"]].append(vid)
            feats = v.get("features")
            if feats is None:
                feats = rng.standard_normal((v["n_snippets"], feature_dim)).astype(np.float32)
            (root / v["split"]).mkdir(parents=True, exist_ok=True)
            np.save(root / v["split"] / f"{vid}.npy", feats)
    root.mkdir(parents=True, exist_ok=True)
    (root / "gt.json").write_text(
        json.dumps({"taxonomy": [], "version": "TH14", "database": db}), encoding="utf-8"
    )
    for split, ids in splits.items():
        (root / f"split_{split}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    return root


def write_thumos14_fixture(root: str | os.PathLike, per_class: tuple[int, int] = (2, 1),
                           n_snippets: int = 6, seed: int = 0, feature_dim: int = 2048) -> Path:
    """A THUMOS14 folder in the release layout: for each class the first ``per_class`` (train,
    test) videos holding it (real ids, annotations, true durations), random features of width
    ``feature_dim`` (the THUMOS14 spec's 2048 by default), ``n_snippets`` per video."""
    db, true = thumos14_database(), thumos14_true_durations()
    videos = {}
    for split, subset, k in (("train", "validation", per_class[0]),
                             ("test", "test", per_class[1])):
        ids = thumos14_split(split)
        for cls in thumos14_classes():
            holding = [v for v in ids if any(a["label"] == cls for a in db[v]["annotations"])]
            for vid in holding[:k]:
                videos[vid] = dict(split=split, subset=subset, duration=true[vid],
                                   n_snippets=n_snippets,
                                   annotations=[(tuple(a["segment"]), a["label"])
                                                for a in db[vid]["annotations"]])
    return write_tiny_dataset(root, videos, feature_dim=feature_dim, seed=seed)
