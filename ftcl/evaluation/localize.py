"""From snippet-level class scores to temporal action proposals, as ACM-Net and FTCL do.

The weakly-supervised localizer outputs, for each video, a class activation sequence (CAS)
``cas[t, c]``, a class-agnostic attention ``attention[t]`` and video-level class scores. The
paper (Sec. 3.4, "Action localization") turns them into scored segments with the pipeline of its
backbone (ACM-Net), reproduced here step by step:

1. **Class selection**: keep the classes whose video score is strictly above
   ``class_threshold``; if none is, keep the arg-max class.
2. **Upsampling**: the CAS of the kept classes and the attention are upsampled ``upsample`` times
   by linear interpolation, evaluated at positions ``i / upsample``, ``i = 0 .. T * upsample - 1``
   (the last ``upsample - 1`` points are linear *extrapolations* of the last two samples, exactly
   as ``scipy.interpolate.interp1d(..., fill_value="extrapolate")`` does in the release).
3. **Thresholding**: for every threshold in ``cas_thresholds`` the CAS of each kept class, and for
   every threshold in ``att_thresholds`` the attention, is binarised (``>= threshold``).
4. **Grouping**: runs of at least ``min_length`` consecutive points become proposals.
5. **Outer-inner contrast score**: on the scoring map
   ``cas_weight * CAS + att_weight * attention`` (where the map that was thresholded enters with
   its sub-threshold values set to zero, as in the release), a proposal ``[s, e]`` (inclusive,
   ``n = e - s + 1`` points) scores ``mean(map[s..e]) - mean(map[outer])`` with the outer region
   ``[max(0, floor(s - m n)), s) U (e, min(N - 1, floor(e + m n))]``, ``m = outer_margin`` (0 if the
   outer region is empty), plus ``video_score_weight_* x video score``.
6. **Class-wise NMS**: proposals of all thresholds are pooled per class and hard non-maximum
   suppression removes those whose IoU with a kept, higher-scored proposal is ``>= nms_threshold``.
   The release computes segment areas as ``x2 - x1 + 1`` *on seconds* (a leftover from pixel
   boxes) which inflates the IoU of short segments; ``nms_area_plus_one=True`` reproduces it, the
   default uses the correct IoU.
7. **Seconds**: an upsampled index ``i`` of a video with ``n_snippets`` stored snippets, sampled to
   ``T`` points, is at ``i * frames_per_snippet * n_snippets / (fps * upsample * T)`` seconds; a
   proposal ``[s, e]`` spans ``[time(s), time(e + 1))``.

The output is one row per kept proposal: ``video-id, t-start, t-end, label, score``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd


class SnippetClock(Protocol):
    """What :func:`localize` reads of a dataset spec (a :class:`ftcl.data.spec.DatasetSpec`).

    A protocol rather than an import of the spec, so that ``ftcl.data.spec`` (which takes its
    inference defaults from here) and this module do not import each other.
    """

    fps: float
    frames_per_snippet: int
    inference: InferenceConfig

PREDICTION_COLUMNS = ("video-id", "t-start", "t-end", "label", "score")


def _thresholds(start: float, stop: float, step: float) -> tuple[float, ...]:
    """``start, start + step, ...`` up to ``stop`` inclusive, rounded to 10 decimals."""
    n = int(round((stop - start) / step)) + 1
    return tuple(round(start + i * step, 10) for i in range(n))


@dataclass(frozen=True)
class InferenceConfig:
    """How CAS and attention become proposals (defaults: the release's THUMOS14 settings).

    Attributes
    ----------
    class_threshold : float
        Classes with video score ``> class_threshold`` are localized (else the arg-max class).
    cas_thresholds, att_thresholds : tuple of float
        Binarisation thresholds of the CAS and of the attention (``>=``).
    upsample : int
        Linear-interpolation factor applied before thresholding.
    nms_threshold : float
        Class-wise hard NMS IoU threshold.
    outer_margin : float
        Outer region of the outer-inner contrast, as a fraction of the proposal length.
    min_length : int
        Minimum run length, in upsampled points.
    cas_weight, att_weight : float
        Scoring map ``cas_weight * CAS + att_weight * attention``.
    video_score_weight_cas, video_score_weight_att : float
        Weight of the video class score added to the proposals of each branch.
    zero_below_threshold : bool
        Score proposals on the thresholded map (sub-threshold values set to 0), as the release
        does for the map that was thresholded.
    nms_area_plus_one : bool
        Reproduce the release's ``x2 - x1 + 1`` area quirk in NMS (off: the correct IoU).
    """

    class_threshold: float = 0.25
    cas_thresholds: tuple[float, ...] = (0.15, 0.20)
    att_thresholds: tuple[float, ...] = field(default_factory=lambda: _thresholds(0.15, 0.95, 0.05))
    upsample: int = 20
    nms_threshold: float = 0.55
    outer_margin: float = 0.2
    min_length: int = 2
    cas_weight: float = 1.0
    att_weight: float = 0.0
    video_score_weight_cas: float = 0.0
    video_score_weight_att: float = 0.0
    zero_below_threshold: bool = True
    nms_area_plus_one: bool = False

    def __post_init__(self):
        if self.upsample < 1:
            raise ValueError(f"InferenceConfig.upsample must be >= 1, got {self.upsample}")
        if self.min_length < 1:
            raise ValueError(f"InferenceConfig.min_length must be >= 1, got {self.min_length}")
        if not self.cas_thresholds and not self.att_thresholds:
            raise ValueError("InferenceConfig needs at least one CAS or attention threshold")
        object.__setattr__(self, "cas_thresholds", tuple(float(x) for x in self.cas_thresholds))
        object.__setattr__(self, "att_thresholds", tuple(float(x) for x in self.att_thresholds))


THUMOS14_INFERENCE = InferenceConfig()
"""The release's THUMOS14 settings (ACM-Net ``main_thu.py``)."""

ACTIVITYNET_INFERENCE = InferenceConfig(
    class_threshold=0.10,
    cas_thresholds=(0.005, 0.01, 0.015, 0.02),
    att_thresholds=(0.005, 0.01, 0.015, 0.02),
    upsample=20,
    nms_threshold=0.90,
    outer_margin=0.15,
    cas_weight=0.6,
    att_weight=0.4,
    video_score_weight_cas=0.0,
    video_score_weight_att=0.25,
)
"""The release's ActivityNet 1.3 settings (ACM-Net ``main_act.py``)."""


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------


def upsample_linear(x: np.ndarray, scale: int) -> np.ndarray:
    """Linear interpolation along axis 0 at positions ``i / scale``, ``i < len(x) * scale``.

    Points beyond the last sample are extrapolated from the last two samples (the release's
    ``interp1d(..., fill_value="extrapolate")``); a length-1 input is repeated.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        raise ValueError("upsample_linear: empty input")
    if scale == 1:
        return x.copy()
    pos = np.arange(n * scale) / scale
    if n == 1:
        return np.repeat(x, scale, axis=0)
    i0 = np.minimum(np.floor(pos).astype(np.int64), n - 2)
    w = (pos - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[i0] * (1.0 - w) + x[i0 + 1] * w


def find_runs(mask: np.ndarray, min_length: int = 1) -> tuple[np.ndarray, ...]:
    """Runs of ``True`` along the last axis of ``mask`` (any leading shape).

    Returns ``(*leading_indices, start, end)`` arrays with ``end`` inclusive, ordered by the
    leading indices then by time, keeping runs of at least ``min_length`` points.
    """
    mask = np.asarray(mask, dtype=bool)
    pad = np.zeros(mask.shape[:-1] + (1,), dtype=np.int8)
    d = np.diff(np.concatenate([pad, mask.astype(np.int8), pad], axis=-1), axis=-1)
    starts = np.nonzero(d == 1)
    ends = np.nonzero(d == -1)
    start, end = starts[-1], ends[-1] - 1
    keep = (end - start + 1) >= min_length
    return tuple(a[keep] for a in starts[:-1]) + (start[keep], end[keep])


def outer_inner_scores(
    score_map: np.ndarray, start: np.ndarray, end: np.ndarray, outer_margin: float
) -> np.ndarray:
    """Outer-inner contrast of proposals ``[start, end]`` (inclusive) on a 1-D ``score_map``.

    ``mean(inner) - mean(outer)``, outer = ``[max(0, floor(s - m n)), s) U (e, min(N-1,
    floor(e + m n))]`` with ``n = e - s + 1`` and ``m = outer_margin``; 0 for an empty outer region.
    Vectorised with prefix sums (equal to per-proposal means up to float rounding).
    """
    score_map = np.asarray(score_map, dtype=np.float64)
    n_pts = score_map.shape[0]
    csum = np.concatenate([[0.0], np.cumsum(score_map)])
    length = end - start + 1
    inner = (csum[end + 1] - csum[start]) / length
    o_s = np.maximum(0, np.floor(start - outer_margin * length).astype(np.int64))
    o_e = np.minimum(n_pts - 1, np.floor(end + outer_margin * length).astype(np.int64))
    n_out = (start - o_s) + (o_e - end)
    s_out = (csum[start] - csum[o_s]) + (csum[o_e + 1] - csum[end + 1])
    outer = np.where(n_out > 0, s_out / np.maximum(n_out, 1), 0.0)
    return inner - outer


def nms_1d(
    t_start: np.ndarray,
    t_end: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    area_plus_one: bool = False,
) -> np.ndarray:
    """Hard NMS of 1-D segments; returns kept indices in descending-score order.

    Order of equal scores follows the release's ``scores.argsort()[::-1]``. A segment is suppressed
    when its IoU with a kept one is ``>= threshold``. ``area_plus_one`` uses the release's
    ``x2 - x1 + 1`` lengths and ``max(0, xx2 - xx1 + 1)`` intersections.
    """
    x1 = np.asarray(t_start, dtype=np.float64)
    x2 = np.asarray(t_end, dtype=np.float64)
    plus = 1.0 if area_plus_one else 0.0
    areas = x2 - x1 + plus
    order = np.asarray(scores).argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        inter = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + plus)
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou < threshold]
    return np.asarray(keep, dtype=np.int64)


def select_classes(video_scores: np.ndarray, class_threshold: float) -> np.ndarray:
    """Indices of classes with score ``> class_threshold``, else the arg-max class."""
    video_scores = np.asarray(video_scores)
    if video_scores.max() > class_threshold:
        return np.nonzero(video_scores > class_threshold)[0]
    return np.array([int(np.argmax(video_scores))])


def index_to_seconds(
    index: np.ndarray | float,
    n_snippets: int,
    num_sampled: int,
    upsample: int = 1,
    fps: float = 25.0,
    frames_per_snippet: int = 16,
) -> np.ndarray:
    """Seconds of (upsampled) index ``index`` of a video of ``n_snippets`` sampled to ``T`` points.

    ``index * frames_per_snippet * n_snippets / (fps * upsample * num_sampled)``, the release's
    ``t_factor``: point ``j`` of ``T`` uniformly covers snippet position ``j * n_snippets / T``.
    """
    factor = frames_per_snippet * n_snippets / (fps * upsample * num_sampled)
    return np.asarray(index, dtype=np.float64) * factor


# --------------------------------------------------------------------------------------------
# one video, then many
# --------------------------------------------------------------------------------------------


def _branch_proposals(
    binarised: np.ndarray,
    score_maps: np.ndarray,
    config: InferenceConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of ``binarised [n_thr, N, Cs]`` scored on ``score_maps [n_thr, N, Cs]``.

    Returns (threshold index, class column, start, end, score), ordered by threshold, class, time.
    """
    thr_idx, col, start, end = find_runs(np.moveaxis(binarised, 1, 2), config.min_length)
    scores = np.empty(start.shape, dtype=np.float64)
    for key in {(int(a), int(b)) for a, b in zip(thr_idx, col, strict=True)}:
        sel = (thr_idx == key[0]) & (col == key[1])
        scores[sel] = outer_inner_scores(
            score_maps[key[0], :, key[1]], start[sel], end[sel], config.outer_margin
        )
    return thr_idx, col, start, end, scores


def localize_video(
    cas: np.ndarray,
    attention: np.ndarray,
    video_scores: np.ndarray,
    n_snippets: int,
    config: InferenceConfig,
    fps: float = 25.0,
    frames_per_snippet: int = 16,
) -> list[tuple[int, float, float, float]]:
    """Proposals of one video: a list of ``(class index, t_start, t_end, score)``.

    Grouped by class (ascending), each group in NMS order (descending score).
    """
    cas = np.asarray(cas, dtype=np.float64)
    attention = np.asarray(attention, dtype=np.float64).reshape(-1)
    video_scores = np.asarray(video_scores, dtype=np.float64).reshape(-1)
    n_t = cas.shape[0]
    classes = select_classes(video_scores, config.class_threshold)
    up_cas = upsample_linear(cas[:, classes], config.upsample)  # [N, Cs]
    up_att = upsample_linear(attention, config.upsample)[:, None]  # [N, 1]
    t_factor = index_to_seconds(1.0, n_snippets, n_t, config.upsample, fps, frames_per_snippet)

    parts = []  # (threshold order, class col, start, end, score)
    offset = 0
    if config.cas_thresholds:
        thr = np.asarray(config.cas_thresholds)[:, None, None]
        masks = up_cas[None] >= thr  # [n_thr, N, Cs]
        cas_map = (
            np.where(masks, up_cas[None], 0.0) if config.zero_below_threshold else up_cas[None]
        )
        maps = config.cas_weight * cas_map + config.att_weight * up_att[None]
        ti, col, s, e, sc = _branch_proposals(masks, np.broadcast_to(maps, masks.shape), config)
        sc = sc + config.video_score_weight_cas * video_scores[classes[col]]
        parts.append((ti + offset, col, s, e, sc))
        offset += len(config.cas_thresholds)
    if config.att_thresholds:
        thr = np.asarray(config.att_thresholds)[:, None, None]
        masks_1 = up_att[None] >= thr  # [n_thr, N, 1]
        att_map = (
            np.where(masks_1, up_att[None], 0.0) if config.zero_below_threshold else up_att[None]
        )
        maps = config.cas_weight * up_cas[None] + config.att_weight * att_map  # [n_thr, N, Cs]
        masks = np.broadcast_to(masks_1, maps.shape)
        ti, col, s, e, sc = _branch_proposals(masks, maps, config)
        sc = sc + config.video_score_weight_att * video_scores[classes[col]]
        parts.append((ti + offset, col, s, e, sc))

    ti = np.concatenate([p[0] for p in parts])
    col = np.concatenate([p[1] for p in parts])
    start = np.concatenate([p[2] for p in parts])
    end = np.concatenate([p[3] for p in parts])
    score = np.concatenate([p[4] for p in parts])
    out: list[tuple[int, float, float, float]] = []
    for c in range(len(classes)):
        # the release pools proposals per class in threshold order, then time order
        sel = np.nonzero(col == c)[0]
        if sel.size == 0:
            continue
        sel = sel[np.lexsort((start[sel], ti[sel]))]
        t0, t1 = start[sel] * t_factor, (end[sel] + 1) * t_factor
        keep = nms_1d(t0, t1, score[sel], config.nms_threshold, config.nms_area_plus_one)
        cls = int(classes[c])
        out.extend((cls, float(t0[k]), float(t1[k]), float(score[sel][k])) for k in keep)
    return out


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"localize: {name} contains NaN or inf")
    return arr


def localize(
    cas: Any,
    attention: Any,
    video_scores: Any,
    video_ids: Sequence[str],
    n_snippets: Sequence[int],
    classes: Sequence[str],
    spec: SnippetClock | None = None,
    config: InferenceConfig | None = None,
) -> pd.DataFrame:
    """Proposals of a batch of videos as a ``video-id, t-start, t-end, label, score`` frame.

    Parameters
    ----------
    cas : array or Tensor ``[V, T, C]``
        Snippet class scores in [0, 1] (the background column, if any, removed).
    attention : array or Tensor ``[V, T]``
        Class-agnostic (instance) attention in [0, 1].
    video_scores : array or Tensor ``[V, C]``
        Video-level class scores in [0, 1].
    video_ids : sequence of str
    n_snippets : sequence of int
        Stored length ``T_video`` of each video's feature file (converts indices to seconds).
    classes : sequence of str
        Class names, in column order of ``cas``.
    spec : DatasetSpec (any :class:`SnippetClock`), optional
        Supplies ``fps``, ``frames_per_snippet`` and the default ``config``.
    config : InferenceConfig, optional
        Overrides ``spec.inference``; the THUMOS14 settings if both are None.
    """
    cas_np = _to_numpy(cas, "cas")
    att_np = _to_numpy(attention, "attention")
    vs_np = _to_numpy(video_scores, "video_scores")
    if cas_np.ndim != 3:
        raise ValueError(f"localize: cas must be [V, T, C], got shape {cas_np.shape}")
    n_v, n_t, n_c = cas_np.shape
    if att_np.shape != (n_v, n_t):
        raise ValueError(f"localize: attention must be [V, T] = {(n_v, n_t)}, got {att_np.shape}")
    if vs_np.shape != (n_v, n_c):
        raise ValueError(f"localize: video_scores must be [V, C] = {(n_v, n_c)}, got {vs_np.shape}")
    if len(video_ids) != n_v or len(n_snippets) != n_v:
        raise ValueError(
            f"localize: {n_v} videos but {len(video_ids)} video_ids, {len(n_snippets)} n_snippets"
        )
    if len(classes) != n_c:
        raise ValueError(f"localize: cas has {n_c} classes but {len(classes)} class names")
    if config is None:
        config = spec.inference if spec is not None else THUMOS14_INFERENCE
    fps = spec.fps if spec is not None else 25.0
    fps_snip = spec.frames_per_snippet if spec is not None else 16
    rows = []
    for v in range(n_v):
        if int(n_snippets[v]) < 1:
            raise ValueError(f"localize: video {video_ids[v]!r} has n_snippets={n_snippets[v]}")
        for cls, t0, t1, sc in localize_video(
            cas_np[v], att_np[v], vs_np[v], int(n_snippets[v]), config, fps, fps_snip
        ):
            rows.append((video_ids[v], t0, t1, classes[cls], sc))
    return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
