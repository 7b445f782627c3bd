"""Proposal generation: hand-made CAS with known proposals, and the release's pipeline as a loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ftcl.data import get_spec
from ftcl.evaluation.localize import (
    ACTIVITYNET_INFERENCE,
    THUMOS14_INFERENCE,
    InferenceConfig,
    find_runs,
    index_to_seconds,
    localize,
    localize_video,
    nms_1d,
    outer_inner_scores,
    select_classes,
    upsample_linear,
)

SIMPLE = InferenceConfig(
    class_threshold=0.25, cas_thresholds=(0.5,), att_thresholds=(), upsample=1, nms_threshold=0.5
)


def test_upsample_linear_hand_values_and_extrapolation():
    x = np.array([0.0, 1.0, 3.0])
    up = upsample_linear(x, 2)
    # positions 0, .5, 1, 1.5, 2, 2.5: the last one extrapolates the last segment (slope 2)
    np.testing.assert_allclose(up, [0.0, 0.5, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(upsample_linear(np.array([[0.3, 0.7]]), 3), [[0.3, 0.7]] * 3)


def test_upsample_linear_equals_scipy_interp1d_extrapolate():
    interpolate = pytest.importorskip("scipy.interpolate")
    rng = np.random.default_rng(0)
    x = rng.random((37, 3))
    f = interpolate.interp1d(np.arange(37), x, kind="linear", axis=0, fill_value="extrapolate")
    np.testing.assert_allclose(upsample_linear(x, 20), f(np.arange(0, 37, 1 / 20)), atol=1e-12)


def test_find_runs():
    mask = np.array([[0, 1, 1, 0, 1, 0, 1, 1, 1], [1, 1, 0, 0, 0, 0, 0, 0, 1]], dtype=bool)
    row, start, end = find_runs(mask, min_length=2)
    assert row.tolist() == [0, 0, 1]
    assert start.tolist() == [1, 6, 0]
    assert end.tolist() == [2, 8, 1]


def ref_outer_inner(scores, start, end, lamb):
    """The release's ``get_proposal_oic`` score for one run (gamma = 0)."""
    idx = np.arange(start, end + 1)
    inner = np.mean(scores[idx])
    n = len(idx)
    o_s = max(0, int(idx[0] - lamb * n))
    o_e = min(int(scores.shape[0] - 1), int(idx[-1] + lamb * n))
    outer = list(range(o_s, int(idx[0]))) + list(range(int(idx[-1] + 1), o_e + 1))
    return inner - (np.mean(scores[outer]) if outer else 0.0)


def test_outer_inner_scores_match_release_formula():
    rng = np.random.default_rng(1)
    x = rng.random(200)
    start = rng.integers(0, 190, 50)
    end = np.minimum(start + rng.integers(1, 40, 50), 199)
    ours = outer_inner_scores(x, start, end, 0.2)
    ref = [ref_outer_inner(x, s, e, 0.2) for s, e in zip(start, end, strict=True)]
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_nms_correct_iou_and_release_quirk():
    t0 = np.array([0.0, 0.2, 2.0, 10.0])
    t1 = np.array([1.0, 1.2, 3.0, 10.5])
    s = np.array([0.9, 0.8, 0.7, 0.6])
    # correct IoU of the first two is 0.8/1.2 = 0.67 -> suppressed at 0.55; the others are disjoint
    assert nms_1d(t0, t1, s, 0.55).tolist() == [0, 2, 3]
    assert nms_1d(t0, t1, s, 0.55, area_plus_one=True).tolist() == [0, 2, 3]
    # disjoint segments 0.5 s apart: IoU 0 (both kept); the release's "+1" areas give an
    # intersection of 1 - 1.5 + 1 = 0.5 and IoU 0.5 / 3.5 = 0.14, which suppresses at 0.1
    a0, a1, sc = np.array([0.0, 1.5]), np.array([1.0, 2.5]), np.array([0.9, 0.8])
    assert nms_1d(a0, a1, sc, 0.1).tolist() == [0, 1]
    assert nms_1d(a0, a1, sc, 0.1, area_plus_one=True).tolist() == [0]
    assert nms_1d(a0, a1, sc, 0.2, area_plus_one=True).tolist() == [0, 1]


def test_select_classes():
    assert select_classes(np.array([0.9, 0.1, 0.3]), 0.25).tolist() == [0, 2]
    assert select_classes(np.array([0.1, 0.2, 0.05]), 0.25).tolist() == [1]
    assert select_classes(np.array([0.25, 0.1]), 0.25).tolist() == [0]  # strict >, arg-max fallback


def test_index_to_seconds():
    # 750 points, video of 300 snippets, x20 upsampling: 16 * 300 / (25 * 20 * 750) s per index
    assert index_to_seconds(15000, 300, 750, 20) == pytest.approx(300 * 0.64)
    assert index_to_seconds(20, 300, 750, 20) == pytest.approx(0.64 * 300 / 750)


def test_localize_hand_made_cas_known_proposals():
    t = 10
    cas = np.zeros((1, t, 3))
    cas[0, 2:5, 0] = 1.0  # class 0 at points 2..4
    cas[0, 7:9, 2] = 0.8  # class 2 at points 7..8
    cas[0, 5, 2] = 0.1
    att = np.zeros((1, t))
    vs = np.array([[0.9, 0.1, 0.6]])
    # n_snippets = 20 stored snippets sampled to 10 points: 1.28 s per point
    out = localize(cas, att, vs, ["v"], [20], ["a", "b", "c"], config=SIMPLE)
    assert list(out.columns) == ["video-id", "t-start", "t-end", "label", "score"]
    assert out["label"].tolist() == ["a", "c"]
    np.testing.assert_allclose(out["t-start"], [2 * 1.28, 7 * 1.28])
    np.testing.assert_allclose(out["t-end"], [5 * 1.28, 9 * 1.28])
    # scores: inner mean - outer mean; class 0 outer = points 1 and 5 (margin 0.2 * 3 -> 0): 1 - 0
    # class 2: run 7..8, outer [floor(7 - 0.4), 7) U (8, floor(8.4)] = {6}: 0.8 - 0
    np.testing.assert_allclose(out["score"], [1.0, 0.8])


def test_localize_attention_branch_and_nms_pooling():
    t = 12
    cas = np.full((1, t, 1), 0.05)
    cas[0, 3:8, 0] = 0.9
    att = np.zeros((1, t))
    att[0, 3:8] = 0.95
    cfg = InferenceConfig(cas_thresholds=(0.15, 0.2), att_thresholds=(0.5, 0.6, 0.7), upsample=1)
    out = localize(cas, att, np.array([[0.8]]), ["v"], [t], ["a"], config=cfg)
    # 5 thresholds give the same segment; NMS keeps one
    assert len(out) == 1
    np.testing.assert_allclose(out[["t-start", "t-end"]].to_numpy()[0], [3 * 0.64, 8 * 0.64])


def release_classes(video_scores, threshold):
    """The release's class selection, from its description (independent of ftcl.inference):
    the classes whose video score is above the threshold, else the arg-max class."""
    kept = [c for c, score in enumerate(video_scores) if score > threshold]
    return kept or [max(range(len(video_scores)), key=lambda c: video_scores[c])]


def release_nms(proposals, threshold, area_plus_one=False):
    """Greedy hard NMS over ``[score, t_start, t_end]`` rows, one pair at a time (independent of
    ftcl.inference): visit by descending score, keep a proposal unless its IoU with a kept one
    is at least ``threshold``. Returns the kept rows' indices. Scores must be distinct."""
    plus = 1.0 if area_plus_one else 0.0
    kept = []
    for i in sorted(range(len(proposals)), key=lambda k: -proposals[k][0]):
        _, s1, e1 = proposals[i]
        for j in kept:
            _, s2, e2 = proposals[j]
            inter = max(0.0, min(e1, e2) - max(s1, s2) + plus)
            union = (e1 - s1 + plus) + (e2 - s2 + plus) - inter
            if inter / union >= threshold:
                break
        else:
            kept.append(i)
    return kept


def ref_release_pipeline(cas, att, vs, n_snippets, cfg):
    """A plain transcription of the release's THUMOS14 test loop for one video."""
    interpolate = pytest.importorskip("scipy.interpolate")

    def up(a):
        f = interpolate.interp1d(
            np.arange(a.shape[0]), a, kind="linear", axis=0, fill_value="extrapolate"
        )
        return f(np.arange(0, a.shape[0], 1 / cfg.upsample))

    t = cas.shape[0]
    cls = release_classes(vs, cfg.class_threshold)
    icas = up(cas[:, cls])
    iatt = up(np.repeat(att[:, None], len(cls), axis=1))
    t_factor = 16 * n_snippets / (25 * cfg.upsample * t)
    props = {}
    for branch, thresholds in (("cas", cfg.cas_thresholds), ("att", cfg.att_thresholds)):
        for thr in thresholds:
            src = icas if branch == "cas" else iatt
            tmp = src.copy()
            tmp[tmp < thr] = 0
            for i, c in enumerate(cls):
                pos = np.where(tmp[:, i] >= thr)[0]
                if pos.size == 0:
                    continue
                groups = np.split(pos, np.where(np.diff(pos) != 1)[0] + 1)
                score_map = tmp[:, i] if branch == "cas" else icas[:, i]
                for g in groups:
                    if len(g) < 2:
                        continue
                    sc = ref_outer_inner(score_map, g[0], g[-1], cfg.outer_margin)
                    props.setdefault(int(c), []).append(
                        [sc, g[0] * t_factor, (g[-1] + 1) * t_factor]
                    )
    out = []
    for c, p in props.items():
        keep = release_nms(p, cfg.nms_threshold, cfg.nms_area_plus_one)
        out += [(c, p[k][1], p[k][2], p[k][0]) for k in keep]
    return sorted(out)


@pytest.mark.parametrize("quirk", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_localize_video_equals_release_pipeline(seed, quirk):
    rng = np.random.default_rng(seed)
    t, c = 60, 4
    kernel = np.ones(5) / 5
    cas = np.stack([np.convolve(rng.random(t + 4), kernel, "valid") for _ in range(c)], 1)
    cas = cas / cas.max()
    att = np.convolve(rng.random(t + 4), kernel, "valid")
    att = att / att.max()
    # two classes above the threshold; then none (the arg-max class, 2, is localized)
    for vs in (np.array([0.9, 0.1, 0.4, 0.2]), np.array([0.1, 0.05, 0.2, 0.15])):
        cfg = InferenceConfig(upsample=5, cas_thresholds=(0.3, 0.5),
                              att_thresholds=(0.4, 0.6, 0.8), nms_area_plus_one=quirk,
                              nms_threshold=0.9 if quirk else 0.55)
        ours = sorted(localize_video(cas, att, vs, 93, cfg))
        ref = ref_release_pipeline(cas, att, vs, 93, cfg)
        assert len(ours) == len(ref) > 3
        assert {r[0] for r in ref} == set(release_classes(vs, cfg.class_threshold))
        np.testing.assert_allclose(np.array(ours), np.array(ref), atol=1e-9)


def test_localize_accepts_tensors_and_checks_shapes():
    cas = torch.rand(2, 16, 3)
    att = torch.rand(2, 16)
    vs = torch.rand(2, 3)
    out = localize(
        cas, att, vs, ["a", "b"], [30, 40], ["x", "y", "z"], spec=get_spec("synthumos14")
    )
    assert isinstance(out, pd.DataFrame)
    assert (out["t-end"] > out["t-start"]).all()
    with pytest.raises(ValueError, match="attention"):
        localize(cas, att[:, :5], vs, ["a", "b"], [30, 40], ["x", "y", "z"])
    with pytest.raises(ValueError, match="class names"):
        localize(cas, att, vs, ["a", "b"], [30, 40], ["x", "y"])
    with pytest.raises(ValueError, match="NaN"):
        localize(cas * float("nan"), att, vs, ["a", "b"], [30, 40], ["x", "y", "z"])


def test_release_settings():
    assert (
        THUMOS14_INFERENCE.att_thresholds[0] == 0.15
        and THUMOS14_INFERENCE.att_thresholds[-1] == 0.95
    )
    assert len(THUMOS14_INFERENCE.att_thresholds) == 17
    assert THUMOS14_INFERENCE.cas_thresholds == (0.15, 0.2)
    assert ACTIVITYNET_INFERENCE.nms_threshold == 0.9
    assert get_spec("synanet").inference == ACTIVITYNET_INFERENCE
