"""Edges of the data loaders: feature files (empty, pickled, zero rows, wrong dtype, NaN rows),
snippet sampling at its bounds, the dataset's report and errors, pair batches' rules, and the
packaged THUMOS14 files read afresh (their readers are cached)."""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest
import torch

from ftcl.data import PairBatches, VideoDataset, get_spec
from ftcl.data import annotations as ann
from ftcl.data.features import feature_path, feature_shape, load_features, save_features, split_path
from ftcl.data.fixtures import write_tiny_dataset
from ftcl.data.sampling import random_indices, sample_indices, uniform_indices

D = 4


# ------------------------------------------------------------------------------ feature files


def _npy(tmp_path, array, name="v.npy"):
    path = tmp_path / name
    np.save(path, array)
    return path


def test_feature_file_checks_and_messages(tmp_path):
    empty = tmp_path / "e.npy"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"^video 'e': {re.escape(str(empty))} is empty "
                                         r"\(0 bytes\)$"):
        feature_shape(empty, "e", D)
    short = tmp_path / "s.npy"
    short.write_bytes(_npy(tmp_path, np.ones((2, D), np.float32), "full.npy").read_bytes()[:12])
    with pytest.raises(ValueError, match=rf"^video 's': cannot read {re.escape(str(short))} as "
                                         r"\.npy \(\w+: "):
        feature_shape(short, "s", D)
    pickled = tmp_path / "p.npy"
    pickled.write_bytes(pickle.dumps({"features": [1.0, 2.0]}))  # a pickle named .npy
    for read in (feature_shape, load_features):  # refused before anything is unpickled
        with pytest.raises(ValueError, match=r"^video 'p': cannot read .* as \.npy \(.+\)$"):
            read(pickled, "p", D)
    # an object array: refused without loading its objects
    objects = _npy(tmp_path, np.array([{"a": 1}], dtype=object), "o.npy")
    for read in (feature_shape, load_features):
        with pytest.raises(ValueError, match=r"^video 'o': cannot read .* as \.npy \(.+\)$"):
            read(objects, "o", D)
    none = _npy(tmp_path, np.zeros((0, D), np.float32), "n.npy")
    with pytest.raises(ValueError, match=r"^video 'n': .* has no snippets$"):
        feature_shape(none, "n", D)
    ints = _npy(tmp_path, np.zeros((3, D), np.int64), "i.npy")
    with pytest.raises(ValueError, match=r"^video 'i': .* has dtype int64, expected float32$"):
        feature_shape(ints, "i", D)
    one = _npy(tmp_path, np.ones((1, D), np.float64), "one.npy")  # one snippet: the edge
    assert feature_shape(one, "one", D) == 1
    got = load_features(one, "one", D)
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"] and got.tolist() == [[1.0] * D]


def test_truncated_feature_file_is_named(tmp_path):
    path = _npy(tmp_path, np.ones((50, D), np.float32), "t.npy")
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match=r"^video 't': cannot read .* as \.npy \(\w+: .+\)$"):
        load_features(path, "t", D)


def test_nan_rows_list_the_first_five(tmp_path):
    arr = np.ones((10, D), np.float32)
    arr[[1, 2, 4, 6, 7, 9]] = np.nan
    path = _npy(tmp_path, arr, "nan.npy")
    with pytest.raises(ValueError, match=r"^video 'nan': .* has NaN/inf in 6 rows "
                                         r"\(first: \[1, 2, 4, 6, 7\]\)"):
        load_features(path, "nan", D)


def test_save_features(tmp_path):
    target = tmp_path / "sub" / "x.npy"
    assert save_features(target, np.arange(6, dtype=np.float64).reshape(3, 2)) == target
    back = np.load(target)
    assert back.dtype == np.float32 and back.tolist() == [[0, 1], [2, 3], [4, 5]]
    for bad in (np.zeros(3), np.array([[1.0, np.nan]]), np.zeros((1, 2, 2))):
        with pytest.raises(ValueError, match=rf"^{re.escape(str(target))}: features must be a "
                                             r"finite 2-D array, got \("):
            save_features(target, bad)
    assert np.load(target).tolist() == [[0, 1], [2, 3], [4, 5]]  # left as it was


def test_split_names_are_checked(tmp_path):
    for fn in (split_path, lambda r, s: feature_path(r, s, "v")):
        with pytest.raises(ValueError, match=r"^split must be one of \('train', 'test'\), got "
                                             r"'val'$"):
            fn(tmp_path, "val")


# ------------------------------------------------------------------------------ sampling


def test_sampling_bounds():
    assert uniform_indices(1, 1).tolist() == [0]
    assert uniform_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]
    rng = np.random.default_rng(0)
    assert random_indices(1, 1, rng).tolist() == [0]
    assert random_indices(1, 3, rng).tolist() == [0, 0, 0]
    for fn in (uniform_indices, lambda a, b: random_indices(a, b, rng)):
        for length, n in ((0, 3), (3, 0), (-1, 2)):
            with pytest.raises(ValueError, match=rf"^length and num_segments must be >= 1, got "
                                                 rf"{length}, {n}$"):
                fn(length, n)


def test_random_indices_draw_one_offset_per_stratum():
    idx = random_indices(400, 4, np.random.default_rng(3))
    assert [i // 100 for i in idx] == [0, 1, 2, 3]  # one point per stratum of 100
    assert len({int(i) % 100 for i in idx}) == 4  # each with its own draw


def test_sample_indices_errors():
    assert sample_indices(10, 5).tolist() == [0, 2, 4, 6, 8]
    with pytest.raises(ValueError, match=r"^random sampling needs an rng$"):
        sample_indices(10, 5, "random")
    with pytest.raises(ValueError, match=r"^unknown sampling mode 'stride'; expected one of "
                                         r"\('uniform', 'random'\)$"):
        sample_indices(10, 5, "stride")


# ------------------------------------------------------------------------------ the dataset


def _videos(**changes):
    videos = {
        "video_validation_0000051": dict(split="train", subset="validation", duration=100.0,
                                         annotations=[((10.0, 20.0), "Billiards")],
                                         n_snippets=20),
        "video_validation_0000052": dict(split="train", subset="validation", duration=50.0,
                                         annotations=[((1.0, 50.0 + 2e-6), "Diving"),
                                                      ((3.0, 3.0), "Diving")], n_snippets=9),
        "video_validation_0000053": dict(split="train", subset="validation", duration=60.0,
                                         annotations=[], n_snippets=9),
        "video_validation_0000054": dict(split=None, subset="validation", duration=30.0,
                                         annotations=[((1.0, 2.0), "Diving"),
                                                      ((2.0, 30.0), "Diving")]),
    }
    for vid, c in changes.items():
        videos[vid].update(c)
    return videos


@pytest.fixture
def spec():
    return get_spec("thumos14").replace(feature_dim=D, num_segments=8,
                                        duration_source="gt.json")


def test_report_counts(tmp_path, spec):
    root = write_tiny_dataset(tmp_path, _videos(), feature_dim=D)
    ds = VideoDataset(root, "train", spec)
    expected = {
        "videos": 3, "instances": 3, "ground_truth_videos": 4, "ground_truth_instances": 5,
        "ground_truth_videos_not_in_split": ["video_validation_0000054"],
        "annotations_past_video_end": 1,  # 50 + 2e-6 > 50 + 1e-6; 30.0 == 30.0 is not past
        "zero_length_annotations": 1, "gt_json_durations_corrected": 0,
        "videos_without_labels": 1}
    assert {k: ds.report.get(k) for k in expected} == expected
    assert ds.labels.dtype == np.float32
    assert ds[0]["n_snippets"] == 20 and ds[1]["n_snippets"] == 9


def test_report_without_the_split_subset_uses_the_listed_videos(tmp_path, spec):
    videos = _videos()
    for v in videos.values():
        v["subset"] = "other"
    ds = VideoDataset(write_tiny_dataset(tmp_path, videos, feature_dim=D), "train", spec)
    assert ds.report["ground_truth_videos"] == 3
    assert ds.report["ground_truth_videos_not_in_split"] == []
    with pytest.raises(ValueError, match=r"gt.json: no video has subset 'validation'; use "
                                         r"scope='split'$"):
        ds.ground_truth()
    assert ds.ground_truth("split")["t-start"].tolist() == [10.0, 1.0, 3.0]
    with pytest.raises(ValueError, match=r"^scope must be 'subset' or 'split', got 'all'$"):
        ds.ground_truth("all")


def test_wtalc_durations_correct_gt_json(tmp_path, spec):
    true = ann.thumos14_true_durations()
    vid = "video_validation_0000051"
    videos = {vid: dict(split="train", subset="validation", duration=true[vid] + 0.6,
                        annotations=[((1.0, 2.0), "Billiards")], n_snippets=5),
              "video_validation_0000052": dict(split="train", subset="validation",
                                               duration=true["video_validation_0000052"] + 0.5,
                                               annotations=[((1.0, 2.0), "Diving")],
                                               n_snippets=5)}
    root = write_tiny_dataset(tmp_path / "a", videos, feature_dim=D)
    ds = VideoDataset(root, "train", spec.replace(duration_source="wtalc"))
    assert ds.report["gt_json_durations_corrected"] == 1  # 0.6 s off; 0.5 s is not > 0.5
    assert ds.duration(vid) == true[vid]
    videos["video_unknown_1"] = dict(split="train", subset="validation", duration=9.0,
                                     annotations=[], n_snippets=5)
    videos["video_unknown_2"] = dict(split=None, subset="validation", duration=9.0,
                                     annotations=[])
    root = write_tiny_dataset(tmp_path / "b", videos, feature_dim=D)
    with pytest.raises(ValueError, match=r"gt.json: 2 videos \(e.g. 'video_unknown_1'\) have no "
                                         r"W-TALC true duration; use a spec with "
                                         r"duration_source='gt.json'$"):
        VideoDataset(root, "train", spec.replace(duration_source="wtalc"))


def test_missing_duration_and_sampling_errors(tmp_path, spec):
    root = write_tiny_dataset(tmp_path, _videos(), feature_dim=D)
    with pytest.raises(ValueError, match=r"^sampling must be one of \('uniform', 'random'\), got "
                                         r"'all'$"):
        VideoDataset(root, "train", spec, sampling="all")
    gt = (root / "gt.json").read_text().replace('"duration": 60.0, ', "")
    (root / "gt.json").write_text(gt)
    with pytest.raises(ValueError, match=r"gt.json: video 'video_validation_0000053' has no "
                                         r"'duration'$"):
        VideoDataset(root, "train", spec)


def test_empty_split_is_named(tmp_path, spec):
    root = write_tiny_dataset(tmp_path, _videos(), feature_dim=D)
    (root / "split_train.txt").write_text("\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(root / 'split_train.txt'))}: lists "
                                         r"no videos \(the train split must hold at least "
                                         r"one\)$"):
        VideoDataset(root, "train", spec)


def test_defaults_seed_and_cache(tmp_path, spec):
    root = write_tiny_dataset(tmp_path, _videos(), feature_dim=D)
    ds = VideoDataset(root, "train", spec, sampling="random")
    same = VideoDataset(root, "train", spec, sampling="random", seed=0)
    assert ds.seed == 0
    assert torch.equal(ds[0]["sample_index"], same[0]["sample_index"])
    vid = ds.video_ids[0]
    assert ds.features(vid) is ds.features(vid)  # cached by default
    fresh = VideoDataset(root, "train", spec, cache=False)
    assert fresh.features(vid) is not fresh.features(vid)
    np.testing.assert_array_equal(fresh.features(vid), ds.features(vid))


# ------------------------------------------------------------------------------ pair batches


class Sets:
    """A stand-in dataset: label sets only, features that name the video."""

    def __init__(self, sets):
        self.sets = [frozenset(s) for s in sets]

    def label_sets(self):
        return self.sets

    def __getitem__(self, i):
        lab = torch.zeros(4)
        lab[list(self.sets[i])] = 1
        return {"features": torch.full((2, 1), float(i)), "labels": lab}


def test_pair_rules_and_defaults():
    # 0 has no label: pairs with nothing, and the pairs after it are still found
    pb = PairBatches(Sets([(), {0}, {0}, {1}, {0, 1}]))
    assert (pb.batch_size, pb.seed) == (16, 0)
    assert pb.positive_pairs.tolist() == [[1, 2]]
    assert pb.negative_candidates.tolist() == [[1, 3], [2, 3]]
    assert pb.positive_pairs.dtype == pb.negative_candidates.dtype == np.int64
    one = PairBatches(Sets([{0}, {0}, {1}]), batch_size=1)  # one negative candidate: enough
    assert one.negative_candidates.tolist() == [[0, 2], [1, 2]]
    batches = list(one)
    assert len(batches) == 2 and all(len(b["positive"]) == 1 for b in batches)
    b = batches[0]
    assert {"features_a", "features_b", "labels_a", "labels_b", "positive", "index_a",
            "index_b"} <= set(b)
    assert b["features_b"][0, 0, 0].item() == b["index_b"][0].item()
    with pytest.raises(ValueError, match=r"^batch_size must be >= 1, got 0$"):
        PairBatches(Sets([{0}, {0}, {1}]), batch_size=0)
    with pytest.raises(ValueError, match=r"^PairBatches: 1 positive pairs and 0 negative "
                                         r"candidates; need both$"):
        PairBatches(Sets([{0}, {0}]))


def test_negatives_are_drawn_without_replacement():
    pb = PairBatches(Sets([{0}, {0}, {0}, {1}, {2}, {3}]), batch_size=64)
    pairs, positive = pb.epoch_pairs()
    keys = [tuple(sorted(p)) for p in pairs.tolist()]
    assert int(positive.sum()) == len(pb.positive_pairs) == 3
    assert len(keys) == 2 * len(pb.positive_pairs) and len(set(keys)) == len(keys)


# ------------------------------------------------------------------------------ packaged files


def test_packaged_readers_read_afresh():
    ann._thumos14_durations.cache_clear()
    durations = ann.thumos14_true_durations()
    assert len(durations) == 412 and all(v.startswith("video_") for v in durations)
    assert ann.thumos14_split("train")[:1] and ann.thumos14_split("test")[:1]
    with pytest.raises(ValueError, match=r"^split must be 'train' or 'test', got 'val'$"):
        ann.thumos14_split("val")
    with pytest.raises(FileNotFoundError, match=r"^packaged annotation file missing: .*nope"):
        ann.annotation_file("thumos14", "nope.txt")


def test_ambiguous_segments_and_a_bad_line(tmp_path, monkeypatch):
    path = ann.annotation_file("thumos14", "Ambiguous_test.txt")
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.split()]
    amb = ann.thumos14_ambiguous()
    assert len(amb) == len(lines) and list(amb.columns) == ["video-id", "t-start", "t-end"]
    bad = tmp_path / "Ambiguous_test.txt"
    bad.write_text("video_test_1 1.0 2.0\n\nvideo_test_2 3.0\nvideo_test_3 1 2\n",
                   encoding="utf-8")
    monkeypatch.setattr(ann, "annotation_file", lambda *parts: bad)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(bad))}:3: expected 'video start "
                                         r"end', got 'video_test_2 3.0'$"):
        ann.thumos14_ambiguous()
    bad.write_text("video_test_1 1.0 2.0\n\n  \nvideo_test_3 1 2\n", encoding="utf-8")
    assert ann.thumos14_ambiguous()["video-id"].tolist() == ["video_test_1", "video_test_3"]


# ------------------------------------------------------------------------------ more edges


def test_validate_split_reads_headers_or_everything(tmp_path):
    from ftcl.data.features import validate_split

    (tmp_path / "train").mkdir()
    np.save(tmp_path / "train" / "a.npy", np.ones((5, D), np.float32))
    bad = np.ones((7, D), np.float32)
    bad[3] = np.nan
    np.save(tmp_path / "train" / "b.npy", bad)
    assert validate_split(tmp_path, "train", ["a", "b"], D) == {"a": 5, "b": 7}  # headers only
    assert validate_split(tmp_path, "train", ["a"], D, full=True) == {"a": 5}
    with pytest.raises(ValueError, match=r"^video 'b': .* has NaN/inf in 1 rows"):
        validate_split(tmp_path, "train", ["a", "b"], D, full=True)
    (tmp_path / "train" / "c.npy").write_bytes(b"")
    for full in (False, True):
        with pytest.raises(ValueError, match=r"^video 'c': .* is empty \(0 bytes\)$"):
            validate_split(tmp_path, "train", ["c"], D, full=full)


def test_random_points_never_pass_the_last_snippet():
    """(j + u) L / T can round up to L for u just below 1: the index is clamped to L - 1."""
    class AlmostOne:
        def random(self, n):
            return np.full(n, 1.0 - 2.0 ** -53)

    for length, n in ((10, 3), (7, 5), (1000, 750), (3, 7)):
        idx = random_indices(length, n, AlmostOne())
        assert idx.max() == length - 1 and idx.min() >= 0


def test_annotation_end_exactly_at_the_tolerance_is_not_past_the_end(tmp_path, spec):
    videos = _videos()
    videos["video_validation_0000052"]["annotations"] = [((1.0, 50.0 + 1e-6), "Diving")]
    ds = VideoDataset(write_tiny_dataset(tmp_path, videos, feature_dim=D), "train", spec)
    assert ds.report["annotations_past_video_end"] == 0


def test_wtalc_video_without_gt_json_duration_counts_as_not_corrected(tmp_path, spec):
    true = ann.thumos14_true_durations()
    vid = "video_validation_0000051"
    videos = {vid: dict(split="train", subset="validation", duration=true[vid] + 3.0,
                        annotations=[((1.0, 2.0), "Billiards")], n_snippets=5),
              "video_validation_0000052": dict(split="train", subset="validation", duration=1.0,
                                               annotations=[((1.0, 2.0), "Diving")],
                                               n_snippets=5)}
    root = write_tiny_dataset(tmp_path, videos, feature_dim=D)
    gt = json.loads((root / "gt.json").read_text())
    del gt["database"]["video_validation_0000052"]["duration"]
    (root / "gt.json").write_text(json.dumps(gt))
    ds = VideoDataset(root, "train", spec.replace(duration_source="wtalc"))
    assert ds.report["gt_json_durations_corrected"] == 1


_READ_IN_ASCII_LOCALE = r"""
import sys
from ftcl.data.annotations import read_gt_json, read_split
db = read_gt_json(sys.argv[1] + "/gt.json")
ids = read_split(sys.argv[1] + "/split.txt")
assert ids == ["v\u00e9"], ids
assert db["v\u00e9"]["annotations"][0]["label"] == "Caf\u00e9", db
"""


def test_annotation_files_are_read_as_utf8_whatever_the_locale(tmp_path):
    import os
    import subprocess
    import sys

    db = {"database": {"v\u00e9": {"annotations": [{"label": "Caf\u00e9", "segment": [1, 2]}]}}}
    (tmp_path / "gt.json").write_text(json.dumps(db, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "split.txt").write_text("v\u00e9\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "LC_ALL": "C", "LANG": "C",
           "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    proc = subprocess.run([sys.executable, "-c", _READ_IN_ASCII_LOCALE, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # and in this process (which also lets a mutation run relate this test to the readers)
    assert ann.read_split(tmp_path / "split.txt") == ["v\u00e9"]
    assert ann.read_gt_json(tmp_path / "gt.json") == db["database"]


def test_duplicate_ids_list_the_first_five(tmp_path):
    path = tmp_path / "split_train.txt"
    path.write_text("".join(f"v{i}\nv{i}\n" for i in range(7)), encoding="utf-8")
    with pytest.raises(ValueError, match=r"duplicate video ids \['v0', 'v1', 'v2', 'v3', 'v4'\]$"):
        ann.read_split(path)
