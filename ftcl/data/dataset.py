"""``VideoDataset``: one split of a dataset in the real layout, sampled to T snippets.

The same class reads the real I3D features and the synthetic ones (they share the layout, see
:mod:`ftcl.data.features`). What it checks when built, each failure naming the video and file:

- the split file lists at least one video;
- every listed video is in ``gt.json``, its feature file exists, is a readable ``.npy`` (not
  empty or truncated) and has width D (header only);
- every annotation label of the split (and of the ground truth it returns) is a class of the spec;
- annotation segments with ``end < start`` are errors; zero-length ones (``end == start``, present
  in the official ActivityNet 1.3 file), ones that end after the video's true end (THUMOS14: 30
  segments of 5 videos) and exact duplicates (same label and segment: 5 in the SynANet extract
  of ActivityNet 1.3) are kept, as the official evaluator keeps them, counted, and, for a
  real-data folder, named in an :class:`~ftcl.data.annotations.AnnotationWarning` (video,
  annotation index, segment).

NaN/inf rows are detected when a video is loaded (``ValueError`` naming the rows); the
trainer scans every file before training (:func:`ftcl.data.checks.check_data`). What it
tolerates is counted in :attr:`VideoDataset.report`: ``gt.json`` durations that differ from the
true ones (THUMOS14: ``frames / 30``), annotations past the true video end (kept, as released),
zero-length annotations, and videos of the ground-truth subset that are not in the split list
(THUMOS14 test: ``video_test_0000270`` and ``video_test_0001496``; their instances stay in the
ground truth and count as misses, as in the release).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ..paths import display_path
from .annotations import (
    GT_JSON,
    annotation_issues,
    read_gt_json,
    read_split,
    thumos14_true_durations,
    warn_annotation_issues,
)
from .features import feature_path, feature_shape, load_features, split_path
from .sampling import SAMPLING_MODES, sample_indices
from .spec import DatasetSpec
from .synthetic import load_snippet_labels


class VideoDataset(Dataset):
    """One split (``train``/``test``) of a dataset root, videos sampled to ``spec.num_segments``.

    Parameters
    ----------
    root : path
        Dataset root (``gt.json``, ``split_<split>.txt``, ``<split>/<video>.npy``).
    split : str
        ``"train"`` or ``"test"``.
    spec : DatasetSpec
    sampling : str
        ``"uniform"`` (test) or ``"random"`` (stratified, training); see :mod:`ftcl.data.sampling`.
    seed : int
        Random sampling of item ``i`` in epoch ``e`` uses ``default_rng([seed, e, i])``: the same
        in every worker and run. Without :meth:`set_epoch` every epoch sees the same sampling (as
        FTCL's dataset, which samples once); call ``set_epoch(e)`` to re-sample (as ACM-Net).
    cache : bool
        Keep loaded (validated) feature arrays in memory.
    planted : bool
        Synthetic data: items also carry ``planted``, the planted labels of the sampled snippets
        (LongTensor ``[T, 4]``: class, phase, instance, region; ``phases/<split>/<video>.npy``),
        for the oracle terms of :mod:`ftcl.losses.oracle`.

    Items are dicts: ``features`` FloatTensor ``[T, D]``, ``labels`` FloatTensor ``[C]``
    (multi-hot),
    ``video_id`` str, ``index`` int, ``sample_index`` LongTensor ``[T]`` (the snippets taken),
    ``n_snippets`` int (the stored length T_video).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        spec: DatasetSpec,
        sampling: str = "uniform",
        seed: int = 0,
        cache: bool = True,
        planted: bool = False,
    ):
        if sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}")
        self.root = Path(root)
        self.split = split
        self.spec = spec
        self.sampling = sampling
        self.seed = int(seed)
        self.epoch = 0
        self.cache = cache
        self.planted = planted
        self._planted: dict[str, np.ndarray] = {}
        self._cache: dict[str, np.ndarray] = {}
        self.classes = list(spec.classes)
        self._class_index = {c: i for i, c in enumerate(self.classes)}
        self.gt_path = self.root / GT_JSON
        self._db = read_gt_json(self.gt_path)
        self.video_ids = read_split(split_path(self.root, split))
        if not self.video_ids:
            raise ValueError(f"{split_path(self.root, split)}: lists no videos (the {split} split "
                             "must hold at least one)")
        missing = [v for v in self.video_ids if v not in self._db]
        if missing:
            raise ValueError(
                f"{split_path(self.root, split)}: {len(missing)} videos not in {self.gt_path} "
                f"(e.g. {missing[0]!r})"
            )
        self.subset = spec.train_subset if split == "train" else spec.test_subset
        self._durations = self._true_durations()
        self._labels = np.zeros((len(self.video_ids), len(self.classes)), dtype=np.float32)
        for i, vid in enumerate(self.video_ids):
            for c in self._video_labels(vid):
                self._labels[i, c] = 1.0
        self._lengths = {
            vid: feature_shape(feature_path(self.root, split, vid), vid, spec.feature_dim)
            for vid in self.video_ids
        }
        self.report = self._make_report()

    # -- annotations ---------------------------------------------------------------------------

    def _video_labels(self, vid: str) -> list[int]:
        out = []
        for k, ann in enumerate(self._db[vid]["annotations"]):
            label = ann["label"]
            if label not in self._class_index:
                raise ValueError(
                    f"{self.gt_path}: video {vid!r} annotation {k} has label {label!r}, "
                    f"not a class of {self.spec.name}"
                )
            s, e = ann["segment"]
            if e < s:
                raise ValueError(f"{self.gt_path}: video {vid!r} annotation {k} has end < start "
                                 f"({label} [{s:g}, {e:g}])")
            out.append(self._class_index[label])
        return out

    def _true_durations(self) -> dict[str, float]:
        if self.spec.duration_source == "wtalc":
            true = thumos14_true_durations()
            missing = [v for v in self._db if v not in true]
            if missing:
                raise ValueError(
                    f"{self.gt_path}: {len(missing)} videos (e.g. {missing[0]!r}) have no W-TALC "
                    "true duration; use a spec with duration_source='gt.json'"
                )
            return {v: true[v] for v in self._db}
        out = {}
        for vid, entry in self._db.items():
            if "duration" not in entry:
                raise ValueError(f"{self.gt_path}: video {vid!r} has no 'duration'")
            out[vid] = float(entry["duration"])
        return out

    def _gt_videos(self, scope: str) -> list[str]:
        if scope == "split":
            return list(self.video_ids)
        if scope != "subset":
            raise ValueError(f"scope must be 'subset' or 'split', got {scope!r}")
        vids = [v for v, e in self._db.items() if e.get("subset") == self.subset]
        if not vids:
            raise ValueError(
                f"{self.gt_path}: no video has subset {self.subset!r}; use scope='split'"
            )
        return vids

    def _make_report(self) -> dict:
        gt_vids = (
            self._gt_videos("subset")
            if any(e.get("subset") == self.subset for e in self._db.values())
            else list(self.video_ids)
        )
        listed = set(self.video_ids)
        for vid in gt_vids:
            self._video_labels(vid)  # validates labels and segments
        issues = annotation_issues(self._db, gt_vids, self._durations)
        if not self.spec.synthetic:  # generated data keeps the release's cases on purpose
            warn_annotation_issues(self.gt_path, self.split, issues)
        wrong = sum(
            abs(float(self._db[v].get("duration", self._durations[v])) - self._durations[v]) > 0.5
            for v in self.video_ids
        )
        return {
            "videos": len(self.video_ids),
            "instances": int(sum(len(self._db[v]["annotations"]) for v in self.video_ids)),
            "ground_truth_videos": len(gt_vids),
            "ground_truth_instances": int(sum(len(self._db[v]["annotations"]) for v in gt_vids)),
            "ground_truth_videos_not_in_split": sorted(set(gt_vids) - listed),
            "annotations_past_video_end": len(issues["past_end"]),
            "zero_length_annotations": len(issues["zero_length"]),
            "duplicate_annotations": len(issues["duplicate"]),
            "gt_json_durations_corrected": int(wrong)
            if self.spec.duration_source == "wtalc"
            else 0,
            "videos_without_labels": int((self._labels.sum(axis=1) == 0).sum()),
        }

    # -- public API ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.video_ids)

    def set_epoch(self, epoch: int) -> None:
        """Select the random sampling of epoch ``epoch`` (no effect with uniform sampling)."""
        self.epoch = int(epoch)

    def pick(self, video_id: str | None = None, parameter: str = "video_id") -> str:
        """``video_id`` if this split lists it, the first video if None; else ``ValueError``
        naming ``parameter`` (e.g. a notebook's ``example_video``), the split and valid ids."""
        if video_id is None:
            return self.video_ids[0]
        if video_id not in self._lengths:
            examples = ", ".join(repr(v) for v in self.video_ids[:3])
            listed = display_path(split_path(self.root, self.split))
            raise ValueError(f"{parameter}={video_id!r} is not a video of the {self.split} split "
                             f"of {self.spec.name} ({listed}, "
                             f"{len(self.video_ids)} videos, e.g. {examples}); pass one of them, "
                             "or None for the first")
        return video_id

    def n_snippets(self, video_id: str) -> int:
        """Stored length ``T_video`` of a video's feature file."""
        return self._lengths[video_id]

    def duration(self, video_id: str) -> float:
        """True duration in seconds (THUMOS14: W-TALC's, not ``gt.json``'s ``frames / 30``)."""
        return self._durations[video_id]

    @property
    def labels(self) -> np.ndarray:
        """Multi-hot video labels ``[V, C]`` (float32, a copy)."""
        return self._labels.copy()

    def label_sets(self) -> list[frozenset[int]]:
        """The set of class indices of each video."""
        return [frozenset(np.nonzero(row)[0].tolist()) for row in self._labels]

    def features(self, video_id: str) -> np.ndarray:
        """The full stored features ``[T_video, D]`` of a video (validated, float32)."""
        arr = self._cache.get(video_id)
        if arr is None:
            arr = load_features(
                feature_path(self.root, self.split, video_id), video_id, self.spec.feature_dim
            )
            if self.cache:
                self._cache[video_id] = arr
        return arr

    def sample_indices(self, index: int) -> np.ndarray:
        """The snippet indices item ``index`` takes in the current epoch."""
        vid = self.video_ids[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return sample_indices(self._lengths[vid], self.spec.num_segments, self.sampling, rng)

    def __getitem__(self, index: int) -> dict:
        vid = self.video_ids[index]
        idx = self.sample_indices(index)
        item = {
            "features": torch.from_numpy(self.features(vid)[idx]),
            "labels": torch.from_numpy(self._labels[index].copy()),
            "video_id": vid,
            "index": index,
            "sample_index": torch.from_numpy(idx),
            "n_snippets": self._lengths[vid],
        }
        if self.planted:
            item["planted"] = torch.from_numpy(self.planted_labels(vid)[idx].astype(np.int64))
        return item

    def planted_labels(self, video_id: str) -> np.ndarray:
        """The planted snippet labels ``[T_video, 4]`` of a synthetic video (cached)."""
        arr = self._planted.get(video_id)
        if arr is None:
            arr = load_snippet_labels(self.root, self.split, video_id)
            if arr.shape[0] != self._lengths[video_id]:
                raise ValueError(f"planted labels of {video_id!r} have {arr.shape[0]} rows, its "
                                 f"features {self._lengths[video_id]}")
            self._planted[video_id] = arr
        return arr

    def ground_truth(self, scope: str = "subset") -> pd.DataFrame:
        """Ground-truth instances ``video-id, t-start, t-end, label`` (label = class name).

        ``scope="subset"`` (default, as the release evaluates): every video of the split's
        ``gt.json`` subset, including videos missing from the split list (their instances are
        misses); ``scope="split"``: only the listed videos. Segments are as annotated (not clipped
        to the video end), in ``gt.json`` order.
        """
        rows = []
        for vid in self._gt_videos(scope):
            self._video_labels(vid)
            for ann in self._db[vid]["annotations"]:
                rows.append((vid, float(ann["segment"][0]), float(ann["segment"][1]), ann["label"]))
        return pd.DataFrame(rows, columns=["video-id", "t-start", "t-end", "label"])
