"""Edges of the localization pipeline (ftcl.evaluation.localize): every threshold at its exact
value, the release's defaults rebuilt, the branches' weights and video scores, input types and
errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ftcl.evaluation.localize import (
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

ONE_CAS = InferenceConfig(cas_thresholds=(0.5,), att_thresholds=(), upsample=1, outer_margin=0.0,
                          min_length=1, nms_threshold=0.5)
ONE_ATT = InferenceConfig(cas_thresholds=(), att_thresholds=(0.5,), upsample=1, outer_margin=0.0,
                          min_length=1, nms_threshold=0.5)
SECONDS = 16 / 25  # per point: n_snippets == T, no upsampling


def test_release_defaults_are_rebuilt_on_every_construction():
    cfg = InferenceConfig()
    assert cfg.att_thresholds == (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65,
                                  0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    assert cfg.cas_thresholds == (0.15, 0.2)
    assert (cfg.class_threshold, cfg.upsample, cfg.nms_threshold, cfg.outer_margin,
            cfg.min_length) == (0.25, 20, 0.55, 0.2, 2)


def test_thresholds_become_float_tuples():
    cfg = InferenceConfig(cas_thresholds=[1], att_thresholds=[0, 1])
    assert cfg.cas_thresholds == (1.0,) and cfg.att_thresholds == (0.0, 1.0)
    assert all(type(t) is float for t in cfg.cas_thresholds + cfg.att_thresholds)


def test_config_edges():
    InferenceConfig(upsample=1, min_length=1)
    InferenceConfig(cas_thresholds=(), att_thresholds=(0.5,))
    InferenceConfig(cas_thresholds=(0.5,), att_thresholds=())
    with pytest.raises(ValueError, match=r"^InferenceConfig.upsample must be >= 1, got 0$"):
        InferenceConfig(upsample=0)
    with pytest.raises(ValueError, match=r"^InferenceConfig.min_length must be >= 1, got 0$"):
        InferenceConfig(min_length=0)
    with pytest.raises(ValueError, match="^InferenceConfig needs at least one CAS or attention "
                                         "threshold$"):
        InferenceConfig(cas_thresholds=(), att_thresholds=())


# ------------------------------------------------------------------------------ building blocks


def test_class_score_exactly_at_the_threshold_is_not_kept():
    assert select_classes(np.array([0.25, 0.3]), 0.25).tolist() == [1]
    assert select_classes(np.array([0.5, 0.25, 0.3]), 0.25).tolist() == [0, 2]
    assert select_classes(np.array([0.25, 0.25, 0.1]), 0.25).tolist() == [0]  # arg-max fallback


@pytest.mark.parametrize("plus, t_end", [(False, 2.0), (True, 1.0)])
def test_nms_iou_exactly_at_the_threshold_suppresses(plus, t_end):
    # [0, 4] and [0, 2]: IoU 2 / 4 = 0.5; with the "+1" areas, [0, 3] and [0, 1]: 2 / 4
    t0, t1 = np.array([0.0, 0.0]), np.array([t_end + 2.0, t_end])
    scores = np.array([0.9, 0.8])
    assert nms_1d(t0, t1, scores, 0.5, area_plus_one=plus).tolist() == [0]
    assert nms_1d(t0, t1, scores, 0.5000001, area_plus_one=plus).tolist() == [0, 1]


def test_nms_order_and_empty_input():
    keep = nms_1d([0, 10, 20], [1, 11, 21], [0.1, 0.9, 0.5], 0.5)
    assert keep.tolist() == [1, 2, 0] and keep.dtype == np.int64
    empty = nms_1d(np.zeros(0), np.zeros(0), np.zeros(0), 0.5)
    assert empty.dtype == np.int64 and empty.size == 0


def test_find_runs_defaults_and_non_boolean_masks():
    start_end = find_runs(np.array([0, 2, 0, 5, 5]))  # any non-zero is True; runs of length >= 1
    assert [a.tolist() for a in start_end] == [[1, 3], [1, 4]]
    rows, start, end = find_runs(np.array([[1, 1, 1], [0, 0, 0], [0, 1, 0]]), min_length=1)
    assert (rows.tolist(), start.tolist(), end.tolist()) == ([0, 2], [0, 1], [2, 1])
    rows, start, end = find_runs(np.array([[1, 1, 1], [0, 1, 0]]), min_length=3)
    assert (rows.tolist(), start.tolist(), end.tolist()) == ([0], [0], [2])


def test_outer_region_clipped_at_both_ends_and_empty():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # whole map: no outer region, score = inner mean
    assert outer_inner_scores(x, np.array([0]), np.array([4]), 0.5).tolist() == [3.0]
    # [1, 2] with margin 1: outer [max(0, -1), 1) U (2, min(4, 4)] = {0, 3, 4}
    got = outer_inner_scores(x, np.array([1]), np.array([2]), 1.0)
    assert got == pytest.approx([2.5 - (1 + 4 + 5) / 3])
    got = outer_inner_scores(x.astype(int), np.array([3]), np.array([3]), 1.0)  # {2, 4}
    assert got == pytest.approx([4.0 - 4.0])


def test_upsample_two_points_and_one():
    np.testing.assert_allclose(upsample_linear(np.array([0.0, 1.0]), 3),
                               [0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3])
    np.testing.assert_allclose(upsample_linear(np.array([2.0]), 3), [2.0, 2.0, 2.0])
    same = upsample_linear(np.array([1, 2]), 1)
    assert same.dtype == np.float64 and same.tolist() == [1.0, 2.0]
    x = np.array([1.0, 2.0])
    assert upsample_linear(x, 1) is not x
    with pytest.raises(ValueError, match="^upsample_linear: empty input$"):
        upsample_linear(np.zeros((0, 3)), 2)


def test_index_to_seconds_defaults():
    assert index_to_seconds(10, 100, 50) == pytest.approx(10 * 16 * 100 / (25 * 50))
    assert index_to_seconds(10, 100, 50, 2, fps=10.0, frames_per_snippet=4) == pytest.approx(
        10 * 4 * 100 / (10 * 2 * 50))


# ------------------------------------------------------------------------------ one video


def _video(values, t=8):
    cas = np.zeros((t, 1))
    cas[: len(values), 0] = values
    return cas


def test_cas_value_exactly_at_a_threshold_is_inside():
    cas = _video([0.0, 0.5, 0.5, 0.0, 0.49999, 0.0])
    out = localize_video(cas, np.zeros(8), np.array([0.9]), 8, ONE_CAS)
    assert out == [(0, 1 * SECONDS, 3 * SECONDS, 0.5)]


def test_attention_value_exactly_at_a_threshold_is_inside():
    att = np.array([0.0, 0.5, 0.5, 0.5, 0.0, 0.4, 0.0, 0.0])
    cas = _video([0.2] * 8)
    out = localize_video(cas, att, np.array([0.9]), 8, ONE_ATT)
    assert out == [(0, 1 * SECONDS, 4 * SECONDS, pytest.approx(0.2))]


def test_min_length_exactly():
    cas = _video([0.9, 0.9, 0.0, 0.9, 0.0])
    cfg = InferenceConfig(cas_thresholds=(0.5,), att_thresholds=(), upsample=1, min_length=2,
                          outer_margin=0.0)
    out = localize_video(cas, np.zeros(8), np.array([0.9]), 8, cfg)
    assert [(o[1], o[2]) for o in out] == [(0.0, 2 * SECONDS)]


def test_score_maps_weights_and_video_scores():
    cas = _video([0.0, 0.8, 0.6, 0.0, 0.0, 0.0])
    att = np.array([0.0, 0.9, 0.7, 0.2, 0.0, 0.0, 0.0, 0.0])
    vs = np.array([0.5])
    cfg = InferenceConfig(cas_thresholds=(0.5,), att_thresholds=(), upsample=1, min_length=1,
                          outer_margin=0.0, cas_weight=2.0, att_weight=0.5,
                          video_score_weight_cas=0.3)
    (out,) = localize_video(cas, att, vs, 8, cfg)
    assert out[3] == pytest.approx(2.0 * 0.7 + 0.5 * 0.8 + 0.3 * 0.5)
    cfg = InferenceConfig(cas_thresholds=(), att_thresholds=(0.65,), upsample=1, min_length=1,
                          outer_margin=0.0, cas_weight=2.0, att_weight=0.5,
                          video_score_weight_att=0.4)
    (out,) = localize_video(cas, att, vs, 8, cfg)
    assert out[3] == pytest.approx(2.0 * 0.7 + 0.5 * 0.8 + 0.4 * 0.5)


@pytest.mark.parametrize("branch", ["cas", "att"])
def test_thresholded_map_enters_with_zeros_unless_disabled(branch):
    cas = _video([0.3, 0.8, 0.9, 0.3, 0.0, 0.0])
    att = cas[:, 0].copy()
    thresholds = {"cas_thresholds": (0.5,), "att_thresholds": ()} if branch == "cas" else {
        "cas_thresholds": (), "att_thresholds": (0.5,)}
    weights = {"cas_weight": 1.0, "att_weight": 0.0} if branch == "cas" else {
        "cas_weight": 0.0, "att_weight": 1.0}
    base = dict(upsample=1, min_length=1, outer_margin=1.0, **thresholds, **weights)
    # run [1, 2], outer [max(0, 1 - 2), 1) U (2, min(7, 2 + 2)] = {0, 3, 4}: zeroed below 0.5,
    # or 0.3, 0.3, 0.0
    (zeroed,) = localize_video(cas, att, np.array([0.9]), 8, InferenceConfig(**base))
    (plain,) = localize_video(cas, att, np.array([0.9]), 8,
                              InferenceConfig(zero_below_threshold=False, **base))
    assert zeroed[3] == pytest.approx(0.85 - 0.0)
    assert plain[3] == pytest.approx(0.85 - 0.2)


def test_a_selected_class_without_proposals_does_not_stop_the_next():
    cas = np.zeros((8, 2))
    cas[2:4, 1] = 0.9
    out = localize_video(cas, np.zeros(8), np.array([0.9, 0.8]), 8, ONE_CAS)
    assert [o[0] for o in out] == [1]


def test_release_area_quirk_is_passed_to_nms():
    cas = _video([0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], t=8)
    cas[3, 0] = 0.8  # two one-point runs two points apart: disjoint, IoU 0
    cfg = dict(cas_thresholds=(0.5,), att_thresholds=(), upsample=1, min_length=1,
               outer_margin=0.0, nms_threshold=0.1)
    correct = localize_video(cas, np.zeros(8), np.array([0.9]), 8, InferenceConfig(**cfg))
    quirk = localize_video(cas, np.zeros(8), np.array([0.9]), 8,
                           InferenceConfig(nms_area_plus_one=True, **cfg))
    assert len(correct) == 2 and len(quirk) == 1  # "+1" on 0.64 s segments: they overlap


def test_clock_of_the_video():
    cas = _video([0.0, 0.9, 0.9])
    out = localize_video(cas, np.zeros(8), np.array([0.9]), 20, ONE_CAS, fps=10.0,
                         frames_per_snippet=4)
    step = 4 * 20 / (10.0 * 8)
    assert out == [(0, 1 * step, 3 * step, pytest.approx(0.9))]


def test_column_shaped_attention_and_row_shaped_scores():
    cas = _video([0.0, 0.9, 0.9])
    att = np.array([0.0, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0])
    cfg = InferenceConfig(cas_thresholds=(0.5,), att_thresholds=(0.5,), upsample=1,
                          min_length=1, outer_margin=0.0, att_weight=0.5,
                          video_score_weight_cas=0.1)
    flat = localize_video(cas, att, np.array([0.9]), 8, cfg)
    assert localize_video(cas, att[:, None], np.array([[0.9]]), 8, cfg) == flat


# ------------------------------------------------------------------------------ many videos


def test_spec_supplies_clock_and_defaults_and_config_overrides_it():
    cas = np.zeros((1, 8, 1))
    cas[0, 1:3, 0] = 0.9
    att, vs = np.zeros((1, 8)), np.array([[0.9]])
    spec = SimpleNamespace(fps=10.0, frames_per_snippet=4, inference=ONE_CAS)
    out = localize(cas, att, vs, ["v"], [8], ["a"], spec=spec)
    assert out["t-start"].tolist() == [pytest.approx(1 * 4 / 10)]
    assert out["t-end"].tolist() == [pytest.approx(3 * 4 / 10)]
    other = InferenceConfig(cas_thresholds=(0.95,), att_thresholds=(), upsample=1)
    assert len(localize(cas, att, vs, ["v"], [8], ["a"], spec=spec, config=other)) == 0
    # no spec: THUMOS14's clock (25 fps, 16 frames) and settings (x20, CAS thresholds 0.15 and
    # 0.2): the interpolated CAS 0.9 i / 20 reaches 0.2 at upsampled index 5; that proposal
    # outscores the one of 0.15 (from index 4) and suppresses it
    default = localize(cas, att, vs, ["v"], [8], ["a"])
    assert len(default) == 1 and default["t-start"].iloc[0] == pytest.approx(
        index_to_seconds(5, 8, 8, 20))


def test_tensors_that_require_grad_are_accepted():
    cas = torch.zeros(1, 8, 1, requires_grad=True)
    out = localize(cas + 0.9, torch.zeros(1, 8), torch.full((1, 1), 0.9), ["v"], [8], ["a"],
                   config=ONE_CAS)
    assert len(out) == 1


@pytest.mark.parametrize("n_snippets", [0, -1])
def test_n_snippets_at_and_below_the_edge(n_snippets):
    cas, att, vs = np.full((1, 8, 1), 0.9), np.zeros((1, 8)), np.array([[0.9]])
    assert len(localize(cas, att, vs, ["v"], [1], ["a"], config=ONE_CAS)) == 1
    with pytest.raises(ValueError, match=rf"^localize: video 'v' has n_snippets={n_snippets}$"):
        localize(cas, att, vs, ["v"], [n_snippets], ["a"], config=ONE_CAS)


def test_input_errors_name_the_input():
    cas, att, vs = np.zeros((2, 8, 1)), np.zeros((2, 8)), np.zeros((2, 1))
    with pytest.raises(ValueError,
                       match=r"^localize: cas must be \[V, T, C\], got shape \(8, 1\)$"):
        localize(cas[0], att, vs, ["a", "b"], [8, 8], ["x"])
    with pytest.raises(ValueError, match=r"^localize: video_scores must be \[V, C\] = \(2, 1\), "
                                         r"got \(2, 3\)$"):
        localize(cas, att, np.zeros((2, 3)), ["a", "b"], [8, 8], ["x"])
    with pytest.raises(ValueError, match=r"^localize: 2 videos but 1 video_ids, 2 n_snippets$"):
        localize(cas, att, vs, ["a"], [8, 8], ["x"])
    with pytest.raises(ValueError, match=r"^localize: 2 videos but 2 video_ids, 3 n_snippets$"):
        localize(cas, att, vs, ["a", "b"], [8, 8, 8], ["x"])
    for name, args in (("cas", (cas * np.nan, att, vs)), ("attention", (cas, att + np.inf, vs)),
                       ("video_scores", (cas, att, vs - np.inf))):
        with pytest.raises(ValueError, match=rf"^localize: {name} contains NaN or inf$"):
            localize(*args, ["a", "b"], [8, 8], ["x"])


def test_equal_scores_keep_the_later_pooled_proposal():
    """The release pools a class's proposals CAS thresholds first, then attention thresholds,
    and its NMS visits equal scores from the last pooled: the attention branch's proposal wins."""
    cas = _video([0.0, 0.75, 0.75, 0.75, 0.25])
    att = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    cfg = InferenceConfig(cas_thresholds=(0.5,), att_thresholds=(0.5,), upsample=1,
                          min_length=1, outer_margin=0.0, nms_threshold=0.5,
                          video_score_weight_att=0.25)
    # CAS branch: [1, 3] scores 0.75; attention branch: [1, 4] scores (3 x 0.75 + 0.25) / 4
    # + 0.25 x 0.5 = 0.75 too; IoU 3 / 4 >= 0.5: one is suppressed, the attention one is kept
    out = localize_video(cas, att, np.array([0.5]), 8, cfg)
    assert out == [(0, 1 * SECONDS, 5 * SECONDS, 0.75)]


def test_equal_scores_of_two_branches_in_pooled_order_not_time_order():
    """Pooled by threshold first (the CAS branch's, then the attention's), by time only within a
    threshold: of two separate proposals with equal scores, the attention branch's (earlier in
    time) is visited first by NMS, as the last pooled, and leads the output."""
    cas = _video([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    att = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    cfg = InferenceConfig(cas_thresholds=(0.5,), att_thresholds=(0.5,), upsample=1,
                          min_length=1, outer_margin=0.0, nms_threshold=0.5, att_weight=1.0,
                          zero_below_threshold=False)
    # CAS branch: [5, 6] on cas + att = 1; attention branch: [1, 2] on cas + att = 1
    out = localize_video(cas, att, np.array([0.5]), 8, cfg)
    assert out == [(0, 1 * SECONDS, 3 * SECONDS, 1.0), (0, 5 * SECONDS, 7 * SECONDS, 1.0)]
