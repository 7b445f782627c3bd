"""Detection mAP with the ActivityNet protocol, and video-level classification mAP.

Every mAP in the paper's tables (Tables 1-5) is the ActivityNet detection metric as implemented
by the official ``eval_detection.py`` (ActivityNet Challenge; copied by ACM-Net and FTCL). This
module computes the same numbers, bit for bit, only faster:

- per class, predictions are sorted by descending score with the official
  ``scores.argsort()[::-1]`` (numpy's default sort, reversed: equal scores keep the official
  order, which is *not* the order of ``np.argsort(-scores)``);
- each prediction, in that order and independently for every tIoU threshold, is matched to the
  ground-truth instance of its video and class with the highest tIoU among those not yet matched,
  if that tIoU is ``>= threshold`` (ground-truth ties in the official ``tiou.argsort()[::-1]``
  order); otherwise it is a false positive. Predictions in a video without ground truth of that
  class are false positives;
- AP is the all-point interpolated area under the precision-recall curve (VOC 2011);
- mAP is the mean over the classes of the ground truth (a class without predictions has AP 0).

Ground truth with zero length (``t-end == t-start``, present in the official ActivityNet 1.3
annotations) is kept, as the official code does: it counts in the number of positives and can
never be matched. Ground truth with ``t-end < t-start`` and predictions with ``t-end <= t-start``
are errors.

Vectorisation: tIoU matrices are computed per (class, video) block and the greedy matching, the
only inherently sequential part, runs in a small compiled loop (numba) over all thresholds at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd

GT_COLUMNS = ("video-id", "t-start", "t-end", "label")
PRED_COLUMNS = ("video-id", "t-start", "t-end", "label", "score")


def _check_frame(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing columns {missing} (has {list(df.columns)})")
    for c in columns:
        if c in ("t-start", "t-end", "score"):
            vals = df[c].to_numpy(dtype=np.float64)
            bad = ~np.isfinite(vals)
            if bad.any():
                vid = df["video-id"].to_numpy()[np.argmax(bad)]
                raise ValueError(
                    f"{name}: non-finite {c!r} in {int(bad.sum())} rows (e.g. {vid!r})"
                )


def segment_iou(target: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """tIoU of one segment ``[start, end]`` with ``candidates [N, 2]`` (the official formula)."""
    tt1 = np.maximum(target[0], candidates[:, 0])
    tt2 = np.minimum(target[1], candidates[:, 1])
    inter = (tt2 - tt1).clip(0)
    union = (candidates[:, 1] - candidates[:, 0]) + (target[1] - target[0]) - inter
    return inter.astype(float) / union


def segment_iou_matrix(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """tIoU matrix ``[P, G]``, each row computed with the same arithmetic as :func:`segment_iou`."""
    tt1 = np.maximum(pred[:, None, 0], gt[None, :, 0])
    tt2 = np.minimum(pred[:, None, 1], gt[None, :, 1])
    inter = (tt2 - tt1).clip(0)
    union = (gt[None, :, 1] - gt[None, :, 0]) + (pred[:, None, 1] - pred[:, None, 0]) - inter
    return inter / union


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """All-point interpolated AP (VOC 2011), identical to the official ``interpolated_prec_rec``."""
    mprec = np.hstack([[0], precision, [0]])
    mrec = np.hstack([[0], recall, [1]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.where(mrec[1::] != mrec[0:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


@numba.njit(cache=True)
def _greedy_match(offsets, cand_gt, cand_tiou, thresholds, n_gt):  # pragma: no cover - compiled
    n_pred = offsets.shape[0] - 1
    n_thr = thresholds.shape[0]
    tp = np.zeros((n_thr, n_pred), dtype=np.float64)
    lock = np.zeros((n_thr, n_gt), dtype=np.bool_)
    for q in range(n_pred):
        for k in range(n_thr):
            thr = thresholds[k]
            for j in range(offsets[q], offsets[q + 1]):
                if cand_tiou[j] < thr:
                    break
                g = cand_gt[j]
                if lock[k, g]:
                    continue
                lock[k, g] = True
                tp[k, q] = 1.0
                break
    return tp


def average_precision_class(
    gt_video: np.ndarray,
    gt_segments: np.ndarray,
    pred_video: np.ndarray,
    pred_segments: np.ndarray,
    pred_scores: np.ndarray,
    tiou_thresholds: np.ndarray,
) -> np.ndarray:
    """AP of one class at every threshold (the official ``compute_average_precision_detection``).

    Parameters
    ----------
    gt_video, pred_video : int arrays
        Video codes (any integers; equal codes mean the same video).
    gt_segments, pred_segments : float arrays ``[N, 2]``
        ``[t-start, t-end]`` in seconds, in the order of the input frames.
    pred_scores : float array
    tiou_thresholds : float array ``[K]``

    Returns
    -------
    ndarray ``[K]``
    """
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64)
    n_thr = thresholds.shape[0]
    npos = float(len(gt_video))
    if len(pred_video) == 0:
        return np.zeros(n_thr)
    order = np.asarray(pred_scores).argsort()[::-1]
    pv = np.asarray(pred_video)[order]
    ps = np.asarray(pred_segments, dtype=np.float64)[order]
    n_pred = len(order)

    # candidate ground truths of every prediction, sorted by the official tIoU order
    q_parts, g_parts, t_parts = [], [], []
    gt_by_video = pd.Series(np.arange(len(gt_video))).groupby(np.asarray(gt_video)).indices
    pred_by_video = pd.Series(np.arange(n_pred)).groupby(pv).indices
    for vid, q_idx in pred_by_video.items():
        g_idx = gt_by_video.get(vid)
        if g_idx is None:
            continue
        tiou = segment_iou_matrix(ps[q_idx], np.asarray(gt_segments, dtype=np.float64)[g_idx])
        srt = tiou.argsort(axis=1)[:, ::-1]
        q_parts.append(np.repeat(q_idx, len(g_idx)))
        g_parts.append(g_idx[srt].ravel())
        t_parts.append(np.take_along_axis(tiou, srt, axis=1).ravel())
    if q_parts:
        q_all = np.concatenate(q_parts)
        by_q = np.argsort(q_all, kind="stable")
        cand_gt = np.concatenate(g_parts)[by_q].astype(np.int64)
        cand_tiou = np.concatenate(t_parts)[by_q]
        counts = np.bincount(q_all, minlength=n_pred)
    else:
        cand_gt = np.zeros(0, dtype=np.int64)
        cand_tiou = np.zeros(0, dtype=np.float64)
        counts = np.zeros(n_pred, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    tp = _greedy_match(offsets, cand_gt, cand_tiou, thresholds, max(len(gt_video), 1))
    fp = 1.0 - tp

    tp_cumsum = np.cumsum(tp, axis=1).astype(float)
    fp_cumsum = np.cumsum(fp, axis=1).astype(float)
    recall = tp_cumsum / npos
    precision = tp_cumsum / (tp_cumsum + fp_cumsum)
    return np.array([interpolated_ap(precision[k], recall[k]) for k in range(n_thr)])


def detection_ap(
    ground_truth: pd.DataFrame,
    predictions: pd.DataFrame,
    tiou_thresholds: Sequence[float],
    allow_empty: bool = False,
    unknown_labels: str = "raise",
) -> pd.DataFrame:
    """AP per class (rows, order of first appearance in ``ground_truth``) and threshold (columns).

    Parameters
    ----------
    ground_truth : DataFrame
        Columns ``video-id, t-start, t-end, label``.
    predictions : DataFrame
        Columns ``video-id, t-start, t-end, label, score``; every label must occur in
        ``ground_truth`` (as the official evaluator requires).
    tiou_thresholds : sequence of float
    allow_empty : bool
        Return zeros for an empty prediction set instead of raising ``ValueError``.
    unknown_labels : str
        ``"raise"`` (default, as the official evaluator) if a prediction's label has no ground
        truth; ``"ignore"`` drops those predictions (they cannot change the mAP, a mean over the
        ground truth's classes), e.g. when evaluating a subset of videos.
    """
    _check_frame(ground_truth, GT_COLUMNS, "ground_truth")
    _check_frame(predictions, PRED_COLUMNS, "predictions")
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
    if thresholds.size == 0:
        raise ValueError("tiou_thresholds is empty")
    if len(ground_truth) == 0:
        raise ValueError("ground_truth is empty")
    gt_seg = ground_truth[["t-start", "t-end"]].to_numpy(dtype=np.float64)
    bad = gt_seg[:, 1] < gt_seg[:, 0]
    if bad.any():
        vid = ground_truth["video-id"].to_numpy()[np.argmax(bad)]
        raise ValueError(
            f"ground_truth: {int(bad.sum())} segments with t-end < t-start (e.g. {vid!r})"
        )
    pr_seg = predictions[["t-start", "t-end"]].to_numpy(dtype=np.float64)
    bad = pr_seg[:, 1] <= pr_seg[:, 0]
    if bad.any():
        vid = predictions["video-id"].to_numpy()[np.argmax(bad)]
        raise ValueError(
            f"predictions: {int(bad.sum())} segments with t-end <= t-start (e.g. {vid!r})"
        )
    classes = list(pd.unique(ground_truth["label"]))
    unknown = sorted(set(pd.unique(predictions["label"])) - set(classes), key=str)
    if unknown and unknown_labels == "raise":
        raise ValueError(f"predictions have labels absent from the ground truth: {unknown}")
    if unknown_labels not in ("raise", "ignore"):
        raise ValueError(f"unknown_labels must be 'raise' or 'ignore', got {unknown_labels!r}")
    if unknown:
        predictions = predictions[predictions["label"].isin(classes)].reset_index(drop=True)
        pr_seg = predictions[["t-start", "t-end"]].to_numpy(dtype=np.float64)
    if len(predictions) == 0 and not allow_empty:
        raise ValueError("predictions is empty (pass allow_empty=True to score it as 0)")

    videos = pd.concat([ground_truth["video-id"], predictions["video-id"]], ignore_index=True)
    codes, _ = pd.factorize(videos.astype(str))
    gt_codes, pr_codes = codes[: len(ground_truth)], codes[len(ground_truth) :]
    gt_lab = ground_truth["label"].to_numpy()
    pr_lab = predictions["label"].to_numpy()
    pr_score = predictions["score"].to_numpy(dtype=np.float64)
    gt_groups = pd.Series(np.arange(len(gt_lab))).groupby(gt_lab).indices
    pr_groups = pd.Series(np.arange(len(pr_lab))).groupby(pr_lab).indices if len(pr_lab) else {}

    ap = np.zeros((len(thresholds), len(classes)))
    for ci, cls in enumerate(classes):
        g = gt_groups[cls]
        p = pr_groups.get(cls, np.zeros(0, dtype=np.int64))
        ap[:, ci] = average_precision_class(
            gt_codes[g], gt_seg[g], pr_codes[p], pr_seg[p], pr_score[p], thresholds
        )
    return pd.DataFrame(ap.T, index=pd.Index(classes, name="label"), columns=thresholds)


def detection_map(
    ground_truth: pd.DataFrame,
    predictions: pd.DataFrame,
    tiou_thresholds: Sequence[float],
    allow_empty: bool = False,
    unknown_labels: str = "raise",
) -> np.ndarray:
    """Detection mAP (fractions in [0, 1]) at each tIoU threshold (ActivityNet protocol).

    See :func:`detection_ap` for the inputs; the result is the mean over the ground truth's
    classes, computed exactly as the official ``ap.mean(axis=1)``.
    """
    ap = detection_ap(ground_truth, predictions, tiou_thresholds, allow_empty, unknown_labels)
    return np.ascontiguousarray(ap.to_numpy().T).mean(axis=1)


def average_map(
    maps: np.ndarray, tiou_thresholds: Sequence[float], average_range: tuple[float, float]
) -> float:
    """Mean of ``maps`` over the thresholds inside ``average_range`` (inclusive, e.g. 0.1-0.7)."""
    thr = np.asarray(tiou_thresholds, dtype=np.float64)
    sel = (thr >= average_range[0] - 1e-9) & (thr <= average_range[1] + 1e-9)
    if not sel.any():
        raise ValueError(f"no threshold of {list(thr)} inside {average_range}")
    return float(np.mean(np.asarray(maps)[sel]))


def filter_ambiguous(
    predictions: pd.DataFrame, ambiguous: pd.DataFrame
) -> tuple[pd.DataFrame, int]:
    """Drop predictions that intersect an ``Ambiguous`` segment of their video.

    The W-TALC convention (any positive overlap removes the prediction). Off by default in
    ACM-Net/FTCL and in this package; returns the kept predictions and how many were dropped.
    """
    _check_frame(predictions, PRED_COLUMNS, "predictions")
    keep = np.ones(len(predictions), dtype=bool)
    amb = ambiguous.groupby("video-id")[["t-start", "t-end"]]
    vids = predictions["video-id"].to_numpy()
    seg = predictions[["t-start", "t-end"]].to_numpy(dtype=np.float64)
    for vid, block in amb:
        rows = np.nonzero(vids == vid)[0]
        if rows.size == 0:
            continue
        a = block.to_numpy(dtype=np.float64)
        inter = np.minimum(seg[rows, None, 1], a[None, :, 1]) - np.maximum(
            seg[rows, None, 0], a[None, :, 0]
        )
        keep[rows[(inter > 0).any(axis=1)]] = False
    return predictions[keep].reset_index(drop=True), int((~keep).sum())


def _average_precision_ranking(scores: np.ndarray, positive: np.ndarray) -> float:
    """Non-interpolated AP of a ranking, ties grouped (as sklearn's ``average_precision_score``)."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], positive[order].astype(np.float64)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def classification_map(scores: np.ndarray, labels: np.ndarray) -> float:
    """Video-level classification mAP: mean over classes with a positive video of the AP.

    ``scores`` and ``labels`` are ``[V, C]`` (labels multi-hot). AP is the non-interpolated
    average precision with tied scores grouped, as ``sklearn.metrics.average_precision_score``.
    Classes without any positive video are skipped (their AP is undefined). Unlike ACM-Net's
    THUMOS14 script, no CliffDiving/Diving score swap is applied.
    """
    if hasattr(scores, "detach"):
        scores = scores.detach().cpu().numpy()
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels) > 0.5
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must both be [V, C]")
    if not np.all(np.isfinite(scores)):
        raise ValueError("classification_map: scores contain NaN or inf")
    aps = [
        _average_precision_ranking(scores[:, c], labels[:, c])
        for c in range(scores.shape[1])
        if labels[:, c].any()
    ]
    if not aps:
        raise ValueError("classification_map: no class has a positive video")
    return float(np.mean(aps))
