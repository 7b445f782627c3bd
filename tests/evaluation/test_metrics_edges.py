"""Edges of the mAP code (ftcl.evaluation.metrics): the official tIoU by hand, classes whose
predictions have no candidate ground truth, object and integer columns, the averaging range's
tolerance, every error message, Ambiguous filtering across videos, tensors in classification
mAP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ftcl.evaluation.metrics import (
    average_map,
    classification_map,
    detection_ap,
    detection_map,
    filter_ambiguous,
    segment_iou,
    segment_iou_matrix,
)

THR = [0.1, 0.5, 0.7]


def gt_frame(rows):
    return pd.DataFrame(rows, columns=["video-id", "t-start", "t-end", "label"])


def pred_frame(rows):
    return pd.DataFrame(rows, columns=["video-id", "t-start", "t-end", "label", "score"])


GT = gt_frame([("A", 0.0, 10.0, "X"), ("A", 20.0, 30.0, "X"), ("B", 5.0, 9.0, "Y"),
               ("C", 1.0, 2.0, "Y")])
PRED = pred_frame([("A", 1.0, 10.0, "X", 0.9), ("A", 22.0, 40.0, "X", 0.8),
                   ("B", 5.0, 8.0, "Y", 0.7), ("C", 0.0, 4.0, "Y", 0.6),
                   ("A", 50.0, 60.0, "Y", 0.95)])


def test_segment_iou_by_hand():
    target = np.array([2.0, 6.0])
    cands = np.array([[0.0, 4.0], [2.0, 6.0], [6.0, 9.0], [3.0, 4.0], [-5.0, 20.0], [7.0, 9.0]])
    # intersections 2, 4, 0, 1, 4, 0 (disjoint: clipped at 0); unions 6, 4, 7, 4, 25, 6
    expected = [2 / 6, 1.0, 0.0, 1 / 4, 4 / 25, 0.0]
    np.testing.assert_allclose(segment_iou(target, cands), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(segment_iou_matrix(cands, target[None])[:, 0], expected,
                               rtol=0, atol=1e-15)
    ints = segment_iou(np.array([2, 6]), np.array([[0, 4], [6, 9]]))
    assert ints.dtype == np.float64 and ints.tolist() == [2 / 6, 0.0]


def test_threshold_zero_matches_a_disjoint_prediction():
    """The official clip(0): a disjoint prediction has tIoU 0 (not below), >= a threshold of 0."""
    gt = gt_frame([("A", 0.0, 1.0, "X")])
    pred = pred_frame([("A", 1.5, 2.0, "X", 0.9)])
    np.testing.assert_array_equal(detection_map(gt, pred, [0.0, 0.1]), [1.0, 0.0])
    assert segment_iou_matrix(np.array([[1.5, 2.0]]), np.array([[0.0, 1.0]])).tolist() == [[0.0]]


def test_class_whose_predictions_have_no_candidate_ground_truth():
    # class Y's only predictions are in video A, which has no Y instance: AP 0, no error
    ap = detection_ap(GT.iloc[:3], PRED.iloc[[0, 4]], THR, unknown_labels="ignore")
    assert ap.index.name == "label" and list(ap.index) == ["X", "Y"]
    assert list(ap.columns) == THR
    np.testing.assert_array_equal(ap.loc["Y"].to_numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ap.loc["X"].to_numpy(), [0.5, 0.5, 0.5])


@pytest.mark.parametrize("convert", [lambda f: f.astype(object), lambda f: f])
def test_object_columns_score_like_floats(convert):
    want = detection_ap(GT, PRED, THR)
    got = detection_ap(convert(GT.copy()), convert(PRED.copy()), THR)
    pd.testing.assert_frame_equal(got, want)
    ints = detection_ap(GT.assign(**{"t-start": GT["t-start"].astype(int),
                                     "t-end": GT["t-end"].astype(int)}), PRED, THR)
    pd.testing.assert_frame_equal(ints, want)


def test_thresholds_of_any_shape_are_flattened():
    want = detection_map(GT, PRED, THR)
    np.testing.assert_array_equal(detection_map(GT, PRED, np.array([THR])), want)
    np.testing.assert_array_equal(detection_map(GT, PRED, (0.1, 0.5, 0.7)), want)


def test_average_map_tolerance_is_inclusive_at_both_ends():
    low, high = 0.3 - 1e-9, 0.6 + 1e-9  # exactly the code's tolerance
    assert average_map(np.array([0.2, 0.4]), [low, high], (0.3, 0.6)) == pytest.approx(0.3)
    assert average_map(np.array([0.2]), [low], (0.3, 0.6)) == 0.2
    assert average_map(np.array([0.4]), [high], (0.3, 0.6)) == 0.4
    with pytest.raises(ValueError,
                       match=r"^no threshold of \[.*0\.1.*, .*0\.9.*\] inside \(0\.3, 0\.6\)$"):
        average_map(np.array([0.5, 0.5]), [0.1, 0.9], (0.3, 0.6))


def test_error_messages_name_the_frame_and_the_problem():
    with pytest.raises(TypeError, match=r"^ground_truth must be a pandas DataFrame, got list$"):
        detection_ap([], PRED, THR)
    with pytest.raises(TypeError, match=r"^predictions must be a pandas DataFrame, got dict$"):
        detection_ap(GT, {}, THR)
    with pytest.raises(ValueError, match=r"^ground_truth is missing columns \['label'\]"):
        detection_ap(GT.drop(columns="label"), PRED, THR)
    with pytest.raises(ValueError, match=r"^predictions is missing columns \['score'\]"):
        detection_ap(GT, PRED.drop(columns="score"), THR)
    for column in ("t-start", "t-end"):
        bad = GT.copy()
        bad.loc[2, column] = np.nan
        bad.loc[3, column] = np.inf
        with pytest.raises(ValueError, match=rf"^ground_truth: non-finite '{column}' in 2 rows "
                                             r"\(e\.g\. 'B'\)$"):
            detection_ap(bad, PRED, THR)
        bad = PRED.copy()
        bad.loc[3, column] = -np.inf
        with pytest.raises(ValueError, match=rf"^predictions: non-finite '{column}' in 1 rows "
                                             r"\(e\.g\. 'C'\)$"):
            detection_ap(GT, bad, THR)
    with pytest.raises(ValueError, match="^tiou_thresholds is empty$"):
        detection_ap(GT, PRED, [])
    with pytest.raises(ValueError, match="^ground_truth is empty$"):
        detection_ap(GT.iloc[:0], PRED, THR)
    bad = GT.copy()
    bad.loc[3, "t-end"] = 0.5
    with pytest.raises(ValueError, match=r"^ground_truth: 1 segments with t-end < t-start "
                                         r"\(e\.g\. 'C'\)$"):
        detection_ap(bad, PRED, THR)
    bad = PRED.copy()
    bad.loc[2, "t-end"] = 5.0
    with pytest.raises(ValueError, match=r"^predictions: 1 segments with t-end <= t-start "
                                         r"\(e\.g\. 'B'\)$"):
        detection_ap(GT, bad, THR)
    with pytest.raises(ValueError, match=r"^predictions is empty \(pass allow_empty=True to "
                                         r"score it as 0\)$"):
        detection_ap(GT, PRED.iloc[:0], THR)
    with pytest.raises(ValueError, match=r"^unknown_labels must be 'raise' or 'ignore', got "
                                         r"'drop'$"):
        detection_ap(GT, PRED, THR, unknown_labels="drop")


def test_unknown_labels_of_mixed_types_are_listed():
    pred = pd.concat([PRED, pred_frame([("A", 1.0, 2.0, 3, 0.1), ("A", 1.0, 2.0, "Z", 0.1)])],
                     ignore_index=True)
    with pytest.raises(ValueError, match=r"labels absent from the ground truth: \[3, 'Z'\]$"):
        detection_ap(GT, pred, THR)
    ignored = detection_ap(GT, pred, THR, unknown_labels="ignore")
    pd.testing.assert_frame_equal(ignored, detection_ap(GT, PRED, THR, unknown_labels="ignore"))


def test_filter_ambiguous_across_videos():
    pred = pred_frame([("A", 0.0, 1.0, "X", 0.9), ("C", 0.0, 1.0, "X", 0.8),
                       ("C", 3.0, 4.0, "X", 0.7), ("D", 2.0, 3.0, "X", 0.6)])
    amb = pd.DataFrame([("B", 0.0, 9.0), ("C", 0.5, 3.5), ("D", 2.5, 2.6)],
                       columns=["video-id", "t-start", "t-end"])
    # B has no prediction (skipped, the others still filtered); both of C overlap; D's one does
    kept, dropped = filter_ambiguous(pred, amb)
    assert dropped == 3 and kept["video-id"].tolist() == ["A"]
    assert list(kept.columns) == list(pred.columns) and list(kept.index) == [0]
    with pytest.raises(ValueError, match="^predictions is missing columns"):
        filter_ambiguous(pred.drop(columns="score"), amb)


def test_classification_map_last_ranked_positive_and_tensors():
    scores = np.array([[0.9], [0.1]])
    labels = np.array([[0], [1]])
    assert classification_map(scores, labels) == pytest.approx(0.5)  # the positive comes last
    t_scores = torch.tensor(scores, requires_grad=True)
    assert classification_map(t_scores, torch.tensor(labels)) == pytest.approx(0.5)
    assert classification_map(scores.astype(np.float32), labels) == pytest.approx(0.5)
    # a soft label of exactly 0.5 is not a positive
    assert classification_map(np.array([[0.9, 0.5], [0.1, 0.4]]),
                              np.array([[0.5, 1.0], [1.0, 0.0]])) == pytest.approx((0.5 + 1) / 2)


def test_classification_map_errors():
    with pytest.raises(ValueError, match=r"^scores \(2, 1\) and labels \(2, 2\) must both be "
                                         r"\[V, C\]$"):
        classification_map(np.zeros((2, 1)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^classification_map: scores contain NaN or inf$"):
        classification_map(np.array([[np.nan]]), np.array([[1]]))
    with pytest.raises(ValueError, match=r"^classification_map: no class has a positive video$"):
        classification_map(np.array([[0.3]]), np.array([[0]]))
