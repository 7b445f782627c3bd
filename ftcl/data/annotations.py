"""The real annotation files shipped with the package, and the ``gt.json`` reader.

Package data under ``ftcl/data/annotations/`` (licences beside the files):

- ``thumos14/gt.json``, ``split_train.txt``, ``split_test.txt`` (MIT, ``LICENSE.FTCL``): the
  ACM-Net/FTCL release's THUMOS14 annotations, 412 videos (200 validation, 212 test), 6,365
  instances, 20 classes. ``split_test.txt`` lists 210 test videos: ``video_test_0000270`` and
  ``video_test_0001496`` are left out, but their 47 instances stay in the ground truth, as in the
  release (they count as misses).
- ``thumos14/videoname.npy``, ``duration.npy``, ``original_fps.npy``, ``Ambiguous_test.txt`` (MIT,
  ``LICENSE.wtalc``): the W-TALC files with the *true* durations. The ``duration`` of ``gt.json``
  is ``frames / 30``, wrong for the 13 videos at 24 or 25 fps (e.g. ``video_test_0000950``:
  1096.07 s stated, 1315.39 s true). ``Ambiguous_test.txt`` holds the test ``Ambiguous``
  segments, which ``gt.json`` does not contain (excluding predictions that hit them is optional
  and off by default, as in ACM-Net/FTCL; see :func:`ftcl.evaluation.filter_ambiguous`).
- ``activitynet13/action_name.csv`` (MIT, ``LICENSE.BMN``): the 200 ActivityNet 1.3 classes.
- ``activitynet13/synanet_subset.json`` (MIT, ``LICENSE.BMN``): a compact extract of the BSN/BMN
  ``anet_anno_action.json`` for SynANet, made by :func:`build_synanet_extract` (its parameters
  and skip counts are stored in the file under ``"provenance"``).

Known traps of the THUMOS14 files, all handled here or in :class:`ftcl.data.VideoDataset`:
wrong ``gt.json`` durations (use :func:`thumos14_true_durations`); two test videos missing from
the split; annotations past the true video end (test 270, 814, 1081; validation 364, 856: kept in
the ground truth as in the release; the generator clips them to the video and counts them).
"""

from __future__ import annotations

import functools
import json
import os
import warnings
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

GT_JSON = "gt.json"


def annotation_file(*parts: str) -> Path:
    """Path of a packaged annotation file, e.g. ``annotation_file("thumos14", "gt.json")``."""
    path = Path(str(resources.files("ftcl.data").joinpath("annotations", *parts)))
    if not path.exists():
        raise FileNotFoundError(f"packaged annotation file missing: {path}")
    return path


def read_gt_json(path: str | os.PathLike) -> dict:
    """Read and check a ``gt.json``; return its ``database`` (``{video_id: entry}``, file order).

    Each entry must have ``annotations`` (a list of ``{"segment": [start, end], "label"}``);
    ``duration``, ``subset`` and ``frames`` are optional here. Raises ``ValueError`` naming the
    file and the video on malformed entries, ``FileNotFoundError`` if the file is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth file not found: {path}")
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise ValueError(f"{path}: expected a JSON object with a 'database' object")
    db = data["database"]
    for vid, entry in db.items():
        anns = entry.get("annotations") if isinstance(entry, dict) else None
        if not isinstance(anns, list):
            raise ValueError(f"{path}: video {vid!r} has no 'annotations' list")
        for k, ann in enumerate(anns):
            seg = ann.get("segment") if isinstance(ann, dict) else None
            if (
                not isinstance(seg, (list, tuple))
                or len(seg) != 2
                or "label" not in ann
                or not all(isinstance(x, (int, float)) for x in seg)
                or not all(np.isfinite(seg))
            ):
                raise ValueError(f"{path}: video {vid!r} annotation {k} is malformed: {ann!r}")
    return db


def read_split(path: str | os.PathLike) -> list[str]:
    """Video ids of a split file (one a line; blank lines ignored; duplicates are an error)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    ids = [i for i in ids if i]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{path}: duplicate video ids {dup[:5]}")
    return ids


class AnnotationWarning(UserWarning):
    """A ``gt.json`` annotation kept as the official evaluator keeps it, but worth knowing."""


# Annotation cases that the official files contain (kept and warned about, see
# :func:`annotation_issues`); ``end < start`` is an error instead.
ISSUE_TEXT = {
    "past_end": "end after their video's true end (kept, as the release does: a part past the "
                "end can never be detected)",
    "zero_length": "have zero length, start == end (kept, as the official evaluator keeps them)",
    "duplicate": "repeat an earlier annotation of their video exactly, same label and segment "
                 "(kept, as the official evaluator keeps them: each is one more instance to find)",
}


def annotation_issues(db: dict, videos, durations: dict[str, float]) -> dict[str, list[str]]:
    """The annotations of ``videos`` (ids of ``db``) that fall under :data:`ISSUE_TEXT`, each
    described as ``video 'id' annotation k [start, end]...``, by case."""
    found: dict[str, list[str]] = {k: [] for k in ISSUE_TEXT}
    for vid in videos:
        seen: dict[tuple, int] = {}
        for k, ann in enumerate(db[vid]["annotations"]):
            s, e = (float(x) for x in ann["segment"])
            where = f"video {vid!r} annotation {k} {ann['label']} [{s:g}, {e:g}]"
            if e > durations[vid] + 1e-6:
                found["past_end"].append(f"{where} > {durations[vid]:.2f} s")
            if e == s:
                found["zero_length"].append(where)
            key = (ann["label"], s, e)
            if key in seen:
                found["duplicate"].append(f"{where} = annotation {seen[key]}")
            seen.setdefault(key, k)
    return found


def warn_annotation_issues(path, split: str, found: dict[str, list[str]]) -> None:
    """One :class:`AnnotationWarning` per case of :func:`annotation_issues` that occurs."""
    for kind, items in found.items():
        if items:
            shown = "; ".join(items[:3]) + (f"; ... ({len(items) - 3} more)" if len(items) > 3
                                            else "")
            warnings.warn(f"{path} ({split} ground truth): {len(items)} annotation(s) "
                          f"{ISSUE_TEXT[kind]}: {shown}", AnnotationWarning, stacklevel=3)


@functools.cache
def thumos14_database() -> dict:
    """The packaged THUMOS14 ``gt.json`` database (do not mutate: cached)."""
    return read_gt_json(annotation_file("thumos14", GT_JSON))


def thumos14_split(split: str) -> list[str]:
    """Packaged ``split_train.txt`` (200 validation videos) or ``split_test.txt`` (210 test)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return read_split(annotation_file("thumos14", f"split_{split}.txt"))


@functools.cache
def thumos14_classes() -> tuple[str, ...]:
    """The 20 THUMOS14 classes, sorted (the order of ACM-Net/FTCL)."""
    db = thumos14_database()
    return tuple(sorted({a["label"] for v in db.values() for a in v["annotations"]}))


def _decode(arr: np.ndarray) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in arr]


@functools.cache
def _thumos14_durations() -> tuple[tuple[str, float], ...]:
    names = _decode(np.load(annotation_file("thumos14", "videoname.npy"), allow_pickle=False))
    dur = np.load(annotation_file("thumos14", "duration.npy"), allow_pickle=False).reshape(-1)
    if len(names) != len(dur):
        raise ValueError("packaged W-TALC videoname.npy and duration.npy differ in length")
    return tuple(zip(names, (float(d) for d in dur), strict=True))


def thumos14_true_durations() -> dict[str, float]:
    """True durations (seconds) of the 412 THUMOS14 videos, from W-TALC's ``duration.npy``."""
    return dict(_thumos14_durations())


def thumos14_ambiguous() -> pd.DataFrame:
    """Test ``Ambiguous`` segments ``video-id, t-start, t-end`` (``Ambiguous_test.txt``)."""
    rows = []
    path = annotation_file("thumos14", "Ambiguous_test.txt")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise ValueError(f"{path}:{n}: expected 'video start end', got {line!r}")
        rows.append((parts[0], float(parts[1]), float(parts[2])))
    return pd.DataFrame(rows, columns=["video-id", "t-start", "t-end"])


@functools.cache
def activitynet_classes() -> tuple[str, ...]:
    """The 200 ActivityNet 1.3 classes, sorted (the order of ACM-Net/FTCL)."""
    names = pd.read_csv(annotation_file("activitynet13", "action_name.csv"))["action"]
    return tuple(sorted(str(n) for n in names))


@functools.cache
def synanet_selection() -> dict:
    """The packaged SynANet extract (see :func:`build_synanet_extract`; do not mutate: cached)."""
    with open(annotation_file("activitynet13", "synanet_subset.json"), encoding="utf-8") as fh:
        return json.load(fh)


def _synanet_candidates(anno: dict, info: pd.DataFrame, split_train, split_test
                        ) -> tuple[dict[str, dict[str, list[str]]], dict[str, int]]:
    """Rules 1-2 of :func:`build_synanet_extract`: the candidate videos of each subset by class,
    and the count of each kind of skipped video."""
    skipped = {"not_in_annotations": 0, "bad_segment": 0, "multi_class": 0, "no_annotation": 0}
    pools: dict[str, dict[str, list[str]]] = {"training": {}, "validation": {}}
    for subset, split_path in (("training", split_train), ("validation", split_test)):
        for vid in read_split(split_path):
            if vid not in anno or vid not in info.index:
                skipped["not_in_annotations"] += 1
                continue
            if info.loc[vid, "subset"] != subset:
                continue
            anns = anno[vid]["annotations"]
            if not anns:
                skipped["no_annotation"] += 1
                continue
            if any(a["segment"][1] <= a["segment"][0] for a in anns):
                skipped["bad_segment"] += 1
                continue
            labels = {a["label"] for a in anns}
            if len(labels) > 1:
                skipped["multi_class"] += 1
                continue
            pools[subset].setdefault(labels.pop(), []).append(vid)
    return pools, skipped


def build_synanet_extract(
    anet_json: str | os.PathLike,
    video_info_csv: str | os.PathLike,
    split_train: str | os.PathLike,
    split_test: str | os.PathLike,
    n_classes: int = 100,
    train_per_class: int = 20,
    test_per_class: int = 10,
    seed: int = 0,
) -> dict:
    """Select the SynANet videos from the BSN/BMN ActivityNet 1.3 annotations.

    Rules (deterministic; every skip is counted in ``provenance``):

    1. Candidates: ACM-Net's ``split_train.txt`` ids whose BSN subset is ``training`` (train) and
       ``split_test.txt`` ids whose subset is ``validation`` (test), present in the annotations.
    2. Skipped: videos with a segment ``end <= start`` (12 such segments exist), videos with more
       than one class (11), videos without annotations.
    3. Classes: a seeded permutation of the 200 sorted classes; the first ``n_classes`` are kept
       (so a smaller class count is a prefix: SynANet quick uses the first 20).
    4. Videos: per class and split, a permutation seeded by the class name; the first
       ``train_per_class`` / ``test_per_class`` are kept, each with its ``rank`` (so smaller caps
       are prefixes).

    Returns ``{"classes": [...], "videos": {id: {"duration", "subset", "rank", "annotations"}},
    "provenance": {...}}``; write it with :func:`ftcl.io.atomic_write_json`.
    """
    with open(anet_json, encoding="utf-8") as fh:
        anno = json.load(fh)
    info = pd.read_csv(video_info_csv).set_index("video")
    pools, skipped = _synanet_candidates(anno, info, split_train, split_test)
    all_classes = sorted({a["label"] for v in anno.values() for a in v["annotations"]})
    perm = np.random.default_rng(seed).permutation(len(all_classes))
    classes = [all_classes[i] for i in perm[:n_classes]]
    videos = {}
    for cls in classes:
        for subset, cap in (("training", train_per_class), ("validation", test_per_class)):
            cand = sorted(pools[subset].get(cls, []))
            rng = np.random.default_rng([seed, zlib.crc32(cls.encode())])
            for rank, i in enumerate(rng.permutation(len(cand))[:cap]):
                vid = cand[i]
                videos[vid] = {
                    "duration": float(anno[vid]["duration_second"]),
                    "subset": subset,
                    "rank": rank,
                    "annotations": [
                        {
                            "segment": [float(a["segment"][0]), float(a["segment"][1])],
                            "label": a["label"],
                        }
                        for a in anno[vid]["annotations"]
                    ],
                }
    return {
        "classes": classes,
        "videos": videos,
        "provenance": {
            "source": "BSN/BMN anet_anno_action.json + video_info_new.csv (MIT, LICENSE.BMN); "
            "ACM-Net ActivityNet split lists",
            "n_classes": n_classes,
            "train_per_class": train_per_class,
            "test_per_class": test_per_class,
            "seed": seed,
            "skipped_videos": skipped,
        },
    }
