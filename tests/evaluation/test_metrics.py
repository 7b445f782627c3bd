"""Detection mAP against hand-computed APs and against the official algorithm, line by line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ftcl.evaluation.metrics import (
    average_map,
    classification_map,
    detection_ap,
    detection_map,
    filter_ambiguous,
    interpolated_ap,
)

THR = [0.1, 0.3, 0.5, 0.7]


def gt_frame(rows):
    return pd.DataFrame(rows, columns=["video-id", "t-start", "t-end", "label"])


def pred_frame(rows):
    return pd.DataFrame(rows, columns=["video-id", "t-start", "t-end", "label", "score"])


# ------------------------------------------------------------------------------------------------
# an independent reference: the official ActivityNet algorithm, written as a plain loop
# (Python 3 port of compute_average_precision_detection / interpolated_prec_rec / segment_iou)
# ------------------------------------------------------------------------------------------------


def ref_segment_iou(target_segment, candidate_segments):
    tt1 = np.maximum(target_segment[0], candidate_segments[:, 0])
    tt2 = np.minimum(target_segment[1], candidate_segments[:, 1])
    segments_intersection = (tt2 - tt1).clip(0)
    segments_union = (
        (candidate_segments[:, 1] - candidate_segments[:, 0])
        + (target_segment[1] - target_segment[0])
        - segments_intersection
    )
    return segments_intersection.astype(float) / segments_union


def ref_interpolated_prec_rec(prec, rec):
    mprec = np.hstack([[0], prec, [0]])
    mrec = np.hstack([[0], rec, [1]])
    for i in range(len(mprec) - 1)[::-1]:
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1::] != mrec[0:-1])[0] + 1
    return np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx])


def ref_ap_class(ground_truth, prediction, tiou_thresholds):
    ap = np.zeros(len(tiou_thresholds))
    if prediction.empty:
        return ap
    npos = float(len(ground_truth))
    lock_gt = np.ones((len(tiou_thresholds), len(ground_truth))) * -1
    sort_idx = prediction["score"].values.argsort()[::-1]
    prediction = prediction.loc[sort_idx].reset_index(drop=True)
    tp = np.zeros((len(tiou_thresholds), len(prediction)))
    fp = np.zeros((len(tiou_thresholds), len(prediction)))
    ground_truth_gbvn = ground_truth.groupby("video-id")
    for idx, this_pred in prediction.iterrows():
        try:
            ground_truth_videoid = ground_truth_gbvn.get_group(this_pred["video-id"])
        except KeyError:
            fp[:, idx] = 1
            continue
        this_gt = ground_truth_videoid.reset_index()
        tiou_arr = ref_segment_iou(
            this_pred[["t-start", "t-end"]].values, this_gt[["t-start", "t-end"]].values
        )
        tiou_sorted_idx = tiou_arr.argsort()[::-1]
        for tidx, tiou_thr in enumerate(tiou_thresholds):
            for jdx in tiou_sorted_idx:
                if tiou_arr[jdx] < tiou_thr:
                    fp[tidx, idx] = 1
                    break
                if lock_gt[tidx, this_gt.loc[jdx]["index"]] >= 0:
                    continue
                tp[tidx, idx] = 1
                lock_gt[tidx, this_gt.loc[jdx]["index"]] = idx
                break
            if fp[tidx, idx] == 0 and tp[tidx, idx] == 0:
                fp[tidx, idx] = 1
    tp_cumsum = np.cumsum(tp, axis=1).astype(float)
    fp_cumsum = np.cumsum(fp, axis=1).astype(float)
    recall_cumsum = tp_cumsum / npos
    precision_cumsum = tp_cumsum / (tp_cumsum + fp_cumsum)
    for tidx in range(len(tiou_thresholds)):
        ap[tidx] = ref_interpolated_prec_rec(precision_cumsum[tidx, :], recall_cumsum[tidx, :])
    return ap


def ref_detection_map(gt, pred, tiou_thresholds):
    activity_index = {}
    for lab in gt["label"]:
        activity_index.setdefault(lab, len(activity_index))
    gt = gt.assign(label=gt["label"].map(activity_index))
    pred = pred.assign(label=pred["label"].map(activity_index))
    ap = np.zeros((len(tiou_thresholds), len(activity_index)))
    gt_by_label = gt.groupby("label")
    pred_by_label = pred.groupby("label")
    for cidx in activity_index.values():
        try:
            p = pred_by_label.get_group(cidx).reset_index(drop=True)
        except KeyError:
            p = pred.iloc[:0]
        ap[:, cidx] = ref_ap_class(
            gt_by_label.get_group(cidx).reset_index(drop=True), p, tiou_thresholds
        )
    return ap.mean(axis=1)


# ------------------------------------------------------------------------------------------------
# hand-computed cases
# ------------------------------------------------------------------------------------------------


def test_hand_computed_duplicates_and_missing_class():
    gt = gt_frame(
        [("A", 0.0, 10.0, "X"), ("A", 20.0, 30.0, "X"), ("B", 0.0, 5.0, "X"), ("B", 1.0, 2.0, "Y")]
    )
    pred = pred_frame(
        [
            ("A", 0.0, 10.0, "X", 0.9),  # TP
            ("A", 0.0, 10.0, "X", 0.8),  # duplicate of a matched instance: FP
            ("B", 0.0, 5.0, "X", 0.7),  # TP
            ("C", 0.0, 5.0, "X", 0.6),  # video without ground truth: FP
        ]
    )
    # precision 1, 1/2, 2/3, 1/2 at recall 1/3, 1/3, 2/3, 2/3 -> AP = 1/3 * 1 + 1/3 * 2/3
    ap_x = 1 / 3 + 2 / 9
    ap = detection_ap(gt, pred, [0.5])
    assert list(ap.index) == ["X", "Y"]
    assert ap.loc["X", 0.5] == pytest.approx(ap_x, abs=1e-12)
    assert ap.loc["Y", 0.5] == 0.0  # a class with no predictions
    assert detection_map(gt, pred, [0.5])[0] == pytest.approx(ap_x / 2, abs=1e-12)


def test_threshold_is_inclusive_and_thresholds_independent():
    gt = gt_frame([("A", 0.0, 10.0, "X")])
    pred = pred_frame([("A", 0.0, 5.0, "X", 1.0)])  # tIoU exactly 0.5
    np.testing.assert_array_equal(detection_map(gt, pred, [0.4, 0.5, 0.6]), [1.0, 1.0, 0.0])


def test_score_ties_follow_official_argsort_reversed():
    # equal scores: argsort() -> [0, 1], reversed -> the *second* prediction is ranked first.
    gt = gt_frame([("A", 0.0, 10.0, "X")])
    pred = pred_frame([("A", 50.0, 60.0, "X", 0.5), ("A", 0.0, 10.0, "X", 0.5)])
    # official order: TP then FP -> AP 1 (np.argsort(-s) would give FP then TP -> AP 0.5)
    assert detection_map(gt, pred, [0.5])[0] == 1.0
    assert ref_detection_map(gt, pred, [0.5])[0] == 1.0


def test_ground_truth_ties_follow_official_order():
    # p0 overlaps g0 and g1 with the same tIoU 1/3; the official order picks g1 (argsort reversed),
    # which leaves g0 free for p1 -> both true positives.
    gt = gt_frame([("A", 0.0, 10.0, "X"), ("A", 10.0, 20.0, "X")])
    pred = pred_frame([("A", 5.0, 15.0, "X", 0.9), ("A", 0.0, 10.0, "X", 0.8)])
    assert detection_map(gt, pred, [0.3])[0] == 1.0
    assert ref_detection_map(gt, pred, [0.3])[0] == 1.0


def test_highest_tiou_unmatched_ground_truth_is_taken():
    gt = gt_frame([("A", 0.0, 10.0, "X"), ("A", 2.0, 12.0, "X")])
    pred = pred_frame([("A", 2.0, 12.0, "X", 0.9), ("A", 0.0, 10.0, "X", 0.8)])
    # p0 takes g1 (tIoU 1) not g0 (2/3); p1 then takes g0: AP 1 at 0.7
    assert detection_map(gt, pred, [0.7])[0] == 1.0


def test_zero_length_ground_truth_counts_as_a_miss():
    gt = gt_frame([("A", 5.0, 5.0, "X"), ("A", 0.0, 10.0, "X")])
    pred = pred_frame([("A", 0.0, 10.0, "X", 0.9)])
    np.testing.assert_allclose(detection_map(gt, pred, THR), 0.5)


def test_interpolated_ap_matches_reference():
    rng = np.random.default_rng(0)
    for _ in range(20):
        tp = rng.random(30) < 0.5
        prec = np.cumsum(tp) / np.arange(1, 31)
        rec = np.cumsum(tp) / 40
        assert interpolated_ap(prec, rec) == ref_interpolated_prec_rec(prec, rec)


# ------------------------------------------------------------------------------------------------
# against the reference on random data (ties in scores and in tIoU, videos without ground truth)
# ------------------------------------------------------------------------------------------------


def random_case(rng, n_videos=12, n_classes=4, n_gt=60, n_pred=400):
    vids = [f"v{i}" for i in range(n_videos)]
    classes = [f"c{i}" for i in range(n_classes)]
    gt_rows = []
    for _ in range(n_gt):
        s = float(rng.integers(0, 40))
        gt_rows.append((rng.choice(vids), s, s + float(rng.integers(1, 10)), rng.choice(classes)))
    gt = gt_frame(gt_rows)
    pred_rows = []
    for _ in range(n_pred):
        s = float(rng.integers(0, 40)) / 2
        vid = rng.choice(vids + ["no-gt-video"])
        score = round(float(rng.random()), 1)  # many ties
        pred_rows.append((vid, s, s + float(rng.integers(1, 12)) / 2, rng.choice(classes), score))
    pred = pred_frame(pred_rows)
    return gt, pred[pred["label"].isin(gt["label"].unique())].reset_index(drop=True)


@pytest.mark.parametrize("seed", range(4))
def test_equals_official_algorithm_exactly(seed):
    rng = np.random.default_rng(seed)
    gt, pred = random_case(rng)
    thresholds = np.arange(0.1, 1.0, 0.1)  # the release's values (0.30000000000000004, ...)
    ours = detection_map(gt, pred, thresholds)
    ref = ref_detection_map(gt, pred, thresholds)
    np.testing.assert_array_equal(ours, ref)  # identical, not just close
    assert ours.max() > 0.05  # the case is not degenerate


def test_prediction_order_within_class_matters_only_through_ties():
    rng = np.random.default_rng(7)
    gt, pred = random_case(rng)
    pred["score"] = pred["score"] + rng.random(len(pred)) * 1e-3  # no ties
    shuffled = pred.sample(frac=1.0, random_state=1).reset_index(drop=True)
    np.testing.assert_array_equal(detection_map(gt, pred, THR), detection_map(gt, shuffled, THR))


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------


def test_bad_input_errors():
    gt = gt_frame([("A", 0.0, 10.0, "X")])
    pred = pred_frame([("A", 0.0, 10.0, "X", 0.9)])
    with pytest.raises(ValueError, match="empty"):
        detection_map(gt, pred.iloc[:0], THR)
    np.testing.assert_array_equal(detection_map(gt, pred.iloc[:0], THR, allow_empty=True), 0.0)
    with pytest.raises(ValueError, match="absent from the ground truth"):
        detection_map(gt, pred_frame([("A", 0.0, 1.0, "Z", 0.5)]), THR)
    extra = pred_frame([("A", 50.0, 60.0, "Z", 0.95), ("A", 0.0, 10.0, "X", 0.9)])
    np.testing.assert_array_equal(detection_map(gt, extra, THR, unknown_labels="ignore"), 1.0)
    with pytest.raises(ValueError, match="t-end <= t-start.*'A'"):
        detection_map(gt, pred_frame([("A", 3.0, 3.0, "X", 0.5)]), THR)
    with pytest.raises(ValueError, match="t-end < t-start.*'B'"):
        detection_map(gt_frame([("B", 5.0, 4.0, "X")]), pred, THR)
    with pytest.raises(ValueError, match="non-finite 'score'"):
        detection_map(gt, pred_frame([("A", 0.0, 1.0, "X", float("nan"))]), THR)
    with pytest.raises(ValueError, match="missing columns"):
        detection_map(gt, pred.drop(columns="score"), THR)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def test_average_map_range():
    thr = np.arange(0.1, 1.0, 0.1)
    maps = np.arange(9) / 10.0
    assert average_map(maps, thr, (0.1, 0.7)) == pytest.approx(np.mean(maps[:7]))
    with pytest.raises(ValueError):
        average_map(maps, thr, (0.95, 0.99))


def test_filter_ambiguous():
    pred = pred_frame(
        [
            ("A", 0.0, 1.0, "X", 0.9),
            ("A", 1.0, 2.0, "X", 0.8),
            ("A", 5.0, 6.0, "X", 0.7),
            ("B", 0.0, 1.0, "X", 0.6),
        ]
    )
    amb = pd.DataFrame([("A", 0.5, 1.0)], columns=["video-id", "t-start", "t-end"])
    kept, n = filter_ambiguous(pred, amb)
    assert n == 1  # only the overlapping one; touching at 1.0 is not an overlap
    assert kept["score"].tolist() == [0.8, 0.7, 0.6]


def test_classification_map_hand_computed():
    scores = np.array([[0.9, 0.1], [0.8, 0.5], [0.7, 0.5], [0.6, 0.2]])
    labels = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    # class 0: positives at ranks 1 and 3 -> (1 + 2/3) / 2; class 1: tie of ranks 2-3 holds the
    # positive -> precision 1/2 at recall 1 (ties grouped, as sklearn)
    assert classification_map(scores, labels) == pytest.approx(((1 + 2 / 3) / 2 + 0.5) / 2)
    # a class without positives is skipped
    assert classification_map(scores[:, :1], labels[:, :1]) == pytest.approx((1 + 2 / 3) / 2)
    with pytest.raises(ValueError):
        classification_map(scores, labels[:, :1])
