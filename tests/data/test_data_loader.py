"""The loader on tiny fixture folders written in the real ACM-Net/FTCL layout, traps included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftcl.data import (
    VideoDataset,
    get_spec,
    prepare_dataset,
    read_gt_json,
    thumos14_ambiguous,
    thumos14_true_durations,
    validate_root,
)
from ftcl.data.annotations import AnnotationWarning, thumos14_database, thumos14_split

D = 8  # the feature width of conftest's thumos_like folder (THUMOS_LIKE_D)


@pytest.fixture
def spec():
    return get_spec("thumos14").replace(feature_dim=D, num_segments=32)


def test_loader_reads_the_real_layout(thumos_like, tmp_path, spec):
    root = thumos_like(tmp_path)
    train = VideoDataset(root, "train", spec, sampling="random")
    assert train.video_ids == ["video_validation_0000051", "video_validation_0000413"]
    item = train[1]
    assert item["features"].shape == (32, D) and item["features"].dtype == torch.float32
    assert item["video_id"] == "video_validation_0000413" and item["index"] == 1
    lab = item["labels"].numpy()
    assert lab.sum() == 2
    assert lab[spec.classes.index("CleanAndJerk")] == 1 and lab[spec.classes.index("HighJump")] == 1
    assert train.n_snippets("video_validation_0000413") == 1121
    stored = np.load(root / "train" / "video_validation_0000413.npy")
    np.testing.assert_array_equal(item["features"].numpy(), stored[item["sample_index"].numpy()])


def test_true_durations_replace_frames_over_30(thumos_like, tmp_path, spec):
    root = thumos_like(tmp_path)
    train = VideoDataset(root, "train", spec)
    assert train.duration("video_validation_0000413") == pytest.approx(718.052, abs=1e-3)
    assert train.report["gt_json_durations_corrected"] == 1
    with pytest.warns(AnnotationWarning, match="end after their video's true end"):
        test = VideoDataset(root, "test", spec)
    assert test.duration("video_test_0000950") == pytest.approx(1315.3933, abs=1e-3)
    # trusting gt.json instead is an explicit choice
    with pytest.warns(AnnotationWarning, match=r"> 1096.07 s"):
        plain = VideoDataset(root, "test", spec.replace(duration_source="gt.json"))
    assert plain.duration("video_test_0000950") == pytest.approx(1096.0667, abs=1e-3)


def test_ground_truth_keeps_left_out_videos_and_past_end_annotations(thumos_like, tmp_path, spec):
    root = thumos_like(tmp_path)
    # issue 19, point 7: kept (as released), and named: gt.json, split, video, index, segment
    with pytest.warns(AnnotationWarning) as caught:
        test = VideoDataset(root, "test", spec)
    (message,) = [str(w.message) for w in caught]
    assert message.startswith(f"{root / 'gt.json'} (test ground truth): 2 annotation(s) end "
                              "after their video's true end (kept, as the release does")
    assert "video 'video_test_0000950' annotation 1 Diving [1300, 1320] > 1315.39 s" in message
    assert "video 'video_test_0000270' annotation 0 Diving [187.3, 193.4] > 176.25 s" in message
    assert test.video_ids == ["video_test_0000950"]
    gt = test.ground_truth()  # the release evaluates against the whole test subset
    assert list(gt.columns) == ["video-id", "t-start", "t-end", "label"]
    assert len(gt) == 4 and set(gt["video-id"]) == {"video_test_0000950", "video_test_0000270"}
    assert gt["t-end"].max() == 1320.0  # not clipped
    assert test.report["ground_truth_videos_not_in_split"] == ["video_test_0000270"]
    assert test.report["annotations_past_video_end"] == 2  # one each in videos 950 and 270
    only_split = test.ground_truth(scope="split")
    assert len(only_split) == 2 and set(only_split["video-id"]) == {"video_test_0000950"}


def test_zero_length_annotation_is_kept_and_counted(thumos_like, tmp_path, spec):
    root = thumos_like(
        tmp_path,
        video_validation_0000051=dict(annotations=[((67.5, 67.5), "Billiards")]),
    )
    with pytest.warns(AnnotationWarning, match=r"1 annotation\(s\) have zero length.*video "
                      r"'video_validation_0000051' annotation 0 Billiards \[67.5, 67.5\]"):
        train = VideoDataset(root, "train", spec)
    assert train.report["zero_length_annotations"] == 1
    assert len(train.ground_truth()) == 3


def test_an_exact_duplicate_annotation_is_kept_and_named(thumos_like, tmp_path, spec):
    root = thumos_like(tmp_path, video_validation_0000051=dict(annotations=[
        ((67.5, 75.9), "Billiards"), ((80.0, 82.0), "Billiards"), ((67.5, 75.9), "Billiards"),
        ((67.5, 75.9), "CleanAndJerk")]))  # same segment, another label: not a duplicate
    with pytest.warns(AnnotationWarning, match=r"1 annotation\(s\) repeat an earlier.*video "
                      r"'video_validation_0000051' annotation 2 Billiards \[67.5, 75.9\] = "
                      r"annotation 0"):
        train = VideoDataset(root, "train", spec)
    assert train.report["duplicate_annotations"] == 1
    assert len(train.ground_truth()) == 6  # kept, as the official evaluator keeps it


def test_generated_data_keeps_the_release_cases_without_warning(thumos_like, tmp_path, spec):
    import warnings

    root = thumos_like(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnnotationWarning)
        test = VideoDataset(root, "test", spec.replace(synthetic=True))
    assert test.report["annotations_past_video_end"] == 2  # still counted


@pytest.mark.parametrize(
    "change, error, pattern",
    [
        (
            dict(annotations=[((1.0, 2.0), "Juggling")]),
            ValueError,
            r"gt.json: video 'video_validation_0000051' annotation 0 has label 'Juggling'",
        ),
        (
            dict(annotations=[((5.0, 2.0), "Billiards")]),
            ValueError,
            r"video 'video_validation_0000051' annotation 0 has end < start \(Billiards \[5, 2\]\)",
        ),
        (
            dict(features=np.zeros((10, D + 1), np.float32)),
            ValueError,
            r"video 'video_validation_0000051'.*shape \(10, 9\), expected \[T_video, 8\]",
        ),
        (
            dict(features=np.zeros((0, D), np.float32)),
            ValueError,
            r"video 'video_validation_0000051'.*no snippets",
        ),
    ],
)
def test_bad_input_is_named(thumos_like, tmp_path, spec, change, error, pattern):
    root = thumos_like(tmp_path, video_validation_0000051=change)
    with pytest.raises(error, match=pattern):
        VideoDataset(root, "train", spec)


def test_missing_feature_file(thumos_like, tmp_path, spec):
    root = thumos_like(tmp_path)
    (root / "train" / "video_validation_0000413.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"video 'video_validation_0000413'.*train"):
        VideoDataset(root, "train", spec)
    with pytest.raises(FileNotFoundError, match="video_validation_0000413"):
        validate_root(root, spec)


def test_nan_rows_are_reported_on_load(thumos_like, tmp_path, spec):
    feats = np.zeros((265, D), np.float32)
    feats[[3, 200]] = np.nan
    feats[7, 2] = np.inf
    root = thumos_like(tmp_path, video_validation_0000051=dict(features=feats))
    train = VideoDataset(root, "train", spec)  # headers are fine
    with pytest.raises(
        ValueError, match=r"'video_validation_0000051'.*NaN/inf in 3 rows.*\[3, 7, 200\]"
    ):
        train[0]
    with pytest.raises(ValueError, match="NaN/inf"):
        validate_root(root, spec, full=True)


def test_split_and_gt_consistency_errors(thumos_like, tmp_path, spec):
    root = thumos_like(tmp_path)
    (root / "split_train.txt").write_text("video_validation_0000051\nvideo_validation_9999999\n")
    with pytest.raises(ValueError, match="video_validation_9999999"):
        VideoDataset(root, "train", spec)
    (root / "split_train.txt").write_text("video_validation_0000051\nvideo_validation_0000051\n")
    with pytest.raises(ValueError, match="duplicate"):
        VideoDataset(root, "train", spec)
    (root / "gt.json").write_text('{"database": {"v": {"annotations": [{"segment": [1]}]}}}')
    with pytest.raises(ValueError, match="video 'v' annotation 0 is malformed"):
        read_gt_json(root / "gt.json")
    with pytest.raises(FileNotFoundError, match="gt.json"):
        read_gt_json(tmp_path / "nowhere" / "gt.json")


def test_prepare_real_dataset_validates(thumos_like, tmp_path, spec):
    with pytest.raises(ValueError, match="data_dir"):
        prepare_dataset("thumos14", spec=spec)
    root = thumos_like(tmp_path)
    assert prepare_dataset("thumos14", data_dir=root, spec=spec) == root
    with pytest.raises(FileNotFoundError):
        prepare_dataset("thumos14", data_dir=tmp_path / "missing", spec=spec)


def test_packaged_thumos14_annotations():
    db = thumos14_database()
    assert len(db) == 412
    assert sum(len(v["annotations"]) for v in db.values()) == 6365
    train, test = thumos14_split("train"), thumos14_split("test")
    assert len(train) == 200 and len(test) == 210
    assert sum(len(db[v]["annotations"]) for v in train) == 3007
    test_subset = [v for v, e in db.items() if e["subset"] == "test"]
    assert sorted(set(test_subset) - set(test)) == ["video_test_0000270", "video_test_0001496"]
    assert sum(len(db[v]["annotations"]) for v in test_subset) == 3358
    true = thumos14_true_durations()
    assert set(true) == set(db)
    # frames / 30 is off by 117-235 s for the 13 videos at 24/25 fps, by up to 1.8 s for 13 more
    off = {v: abs(db[v]["duration"] - true[v]) for v in db}
    assert sum(d > 100 for d in off.values()) == 13 and off["video_test_0000950"] > 200
    assert sum(d > 0.5 for d in off.values()) == 26
    amb = thumos14_ambiguous()
    assert list(amb.columns) == ["video-id", "t-start", "t-end"]
    assert len(amb) > 50 and set(amb["video-id"]) <= set(test_subset) | {"video_test_0001292"}
    assert (amb["t-end"] > amb["t-start"]).all()
