"""The data checks of a run (ftcl.data.checks): the feature-scan cache's content and its
failures, and each refusal with its message."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from ftcl.data.checks import (
    _read_scan_cache,
    check_data,
    check_ground_truth_classes,
    check_pairs,
    scan_features,
)
from ftcl.paths import feature_scan_cache


@pytest.fixture
def data(tiny_config, tiny_data, tmp_path):
    return tiny_data(tiny_config("acmnet", tmp_path))


def test_scan_cache_records_size_and_mtime_per_resolved_path(data, tmp_path):
    ds = data.test
    assert scan_features(ds, tmp_path / "cache") == {"scanned": len(ds), "cached": 0}
    text = feature_scan_cache(tmp_path / "cache").read_text(encoding="utf-8")
    assert text.startswith("{\n\"")  # indent=0: one entry a line
    cache = json.loads(text)
    path = (data.root / "test" / f"{ds.video_ids[0]}.npy").resolve()
    st = path.stat()
    assert cache[str(path)] == [st.st_size, st.st_mtime_ns] and len(cache) == len(ds)


def test_unreadable_cache_is_a_rescan_not_an_error(data, tmp_path):
    cache = feature_scan_cache(tmp_path)
    cache.write_text("[1, 2]", encoding="utf-8")  # not a mapping
    assert _read_scan_cache(cache) == {}
    assert scan_features(data.test, tmp_path)["scanned"] == len(data.test)
    cache.write_text("{broken", encoding="utf-8")
    assert _read_scan_cache(cache) == {}
    assert _read_scan_cache(tmp_path / "missing.json") == {}
    blocked = tmp_path / "a-file"
    blocked.write_text("x")  # the cache folder is a file: nothing can be written there
    assert scan_features(data.test, blocked)["scanned"] == len(data.test)


def test_scan_names_the_video_with_nan_rows(data, tiny_spec, tmp_path):
    import shutil

    import numpy as np

    from ftcl.data import VideoDataset

    root = shutil.copytree(data.root, tmp_path / "copy")  # the shared tiny data stay intact
    vid = data.test.video_ids[1]
    path = root / "test" / f"{vid}.npy"
    arr = np.load(path)
    arr[2] = np.nan
    np.save(path, arr)
    with pytest.raises(ValueError, match=rf"^video {re.escape(repr(vid))}: .* has NaN/inf in "
                                         r"1 rows \(first: \[2\]\)"):
        scan_features(VideoDataset(root, "test", tiny_spec), tmp_path)


def test_ground_truth_without_a_class_is_named(data):
    gt = data.test.ground_truth()
    kept = gt[gt["label"] != data.test.classes[0]]
    fake = SimpleNamespace(ground_truth=lambda: kept, classes=data.test.classes,
                           gt_path=data.test.gt_path, split="test", subset="validation",
                           spec=data.test.spec)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(data.test.gt_path))}: the test ground "
                                         r"truth \(subset 'validation'\) has no instance of 1 of "
                                         rf"the 3 classes of synanet \(e\.g\. "
                                         rf"\[{re.escape(repr(data.test.classes[0]))}\]\); the "
                                         r"mAP needs every class: is the file complete\?$"):
        check_ground_truth_classes(fake)
    check_ground_truth_classes(data.test)


def test_ground_truth_missing_many_classes_names_the_first_three():
    import pandas as pd

    fake = SimpleNamespace(ground_truth=lambda: pd.DataFrame({"label": ["b"]}),
                           classes=["a", "b", "c", "d", "e", "f"], gt_path="gt.json",
                           split="train", subset="training", spec=SimpleNamespace(name="six"))
    with pytest.raises(ValueError) as err:
        check_ground_truth_classes(fake)
    assert str(err.value) == ("gt.json: the train ground truth (subset 'training') has no "
                              "instance of 5 of the 6 classes of six (e.g. ['a', 'c', 'd']); the "
                              "mAP needs every class: is the file complete?")


def test_videos_that_cannot_pair_are_named(data):
    one_class = [v for v, s in zip(data.train.video_ids, data.train.label_sets(), strict=True)
                 if s == data.train.label_sets()[0]]
    bad = SimpleNamespace(train=data.train, root=data.root, fit_ids=one_class)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(data.root / 'split_train.txt'))}: the "
                                         rf"{len(one_class)} training videos the optimiser sees "
                                         r"cannot form video pairs \(PairBatches: .*\); it needs "
                                         r"two videos of one class and two of different classes$"):
        check_pairs(bad, 2)
    check_pairs(data, 2)


def test_check_data_uses_the_configured_cache_and_batch(data, tiny_config, tmp_path,
                                                        monkeypatch):
    cfg = tiny_config("acmnet", tmp_path, cache_dir=str(tmp_path / "cfg-cache"),
                      **{"train.batch_size": 3})
    seen = {}
    import ftcl.data.checks as checks

    real = checks.check_pairs
    monkeypatch.setattr(checks, "check_pairs",
                        lambda d, batch_size, seed=0: seen.setdefault("batch", batch_size)
                        and real(d, batch_size, seed))
    counts = check_data(data, cfg)
    assert counts == {"train": {"scanned": len(data.train), "cached": 0},
                      "test": {"scanned": len(data.test), "cached": 0}}
    assert feature_scan_cache(tmp_path / "cfg-cache").is_file() and seen["batch"] == 3
    other = check_data(data, cfg, cache_dir=tmp_path / "given")  # an explicit folder wins
    assert other["train"]["scanned"] == len(data.train)
    assert check_data(data, cfg)["test"] == {"scanned": 0, "cached": len(data.test)}
    seen.clear()
    check_data(data, None, cache_dir=tmp_path / "third")
    assert seen["batch"] == 2  # without a configuration: the smallest batch


def test_empty_split_is_named(data):
    class Empty:
        root, split = data.root, "test"

        def __len__(self):
            return 0

    bad = SimpleNamespace(train=data.train, test=Empty(), root=data.root, fit_ids=data.fit_ids)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(data.root))}: split 'test' lists no "
                                         r"videos$"):
        check_data(bad)
