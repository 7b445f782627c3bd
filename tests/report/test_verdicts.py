"""Verdict words against hand-computed intervals, and the edges of ftcl.report.statistics."""

from __future__ import annotations

import math
import warnings

import pytest

from ftcl.report import statistics as stats

# t_{0.975, 2} and t_{0.95, 2} (tables; scipy.stats.t.ppf agrees to 15 digits)
T975_2 = 4.302652729749464
T95_2 = 2.919985580355516


def _diff(values):
    """Paired difference of ``values`` against zeros, seeds 0..n-1."""
    return stats.paired_difference(dict(enumerate(values)), {s: 0.0 for s in range(len(values))})


# differences, paper delta, hand-computed interval (mean -+ t sd / sqrt(3)), verdict
CASES = [
    # mean 0.6, sd 0.1: 0.6 -+ 4.3027 * 0.1 / sqrt 3 = [0.3516, 0.8484]: above 0, below 1
    ((0.5, 0.6, 0.7), 2.8, (0.35158, 0.84842), "supported"),
    ((0.5, 0.6, 0.7), -0.4, (0.35158, 0.84842), "contradicted"),
    # mean -0.6: the mirror image
    ((-0.5, -0.6, -0.7), -1.0, (-0.84842, -0.35158), "supported"),
    ((-0.5, -0.6, -0.7), 0.1, (-0.84842, -0.35158), "contradicted"),
    # mean 1, sd 1: 1 -+ 2.4841 = [-1.4841, 3.4841] contains 0
    ((0.0, 1.0, 2.0), 1.0, (-1.48414, 3.48414), "unresolved"),
    ((0.0, -1.0, -2.0), -1.0, (-3.48414, 1.48414), "unresolved"),
]


@pytest.mark.parametrize("values, paper, interval, word", CASES)
def test_verdict_words_against_hand_computed_intervals(values, paper, interval, word):
    d = _diff(values)
    assert (d.low, d.high) == pytest.approx(interval, abs=1e-5)
    assert d.excludes_zero == (word != "unresolved")
    assert stats.verdict(d, paper) == word


def test_interval_touching_zero_is_unresolved():
    touching = stats.PairedDifference((0, 1, 2), (1.0, 2.0, 3.0), 2.0, 1.0, 0.0, 4.0)
    assert not touching.excludes_zero
    assert stats.verdict(touching, 1.0) == "unresolved"
    below = stats.PairedDifference((0, 1, 2), (-1.0, -2.0, -3.0), -2.0, 1.0, -4.0, 0.0)
    assert not below.excludes_zero
    assert stats.verdict(below, -1.0) == "unresolved"
    just_above = stats.PairedDifference((0, 1), (1.0, 1.0), 1.0, 0.0, 1e-12, 2.0)
    assert just_above.excludes_zero and stats.verdict(just_above, 1.0) == "supported"


def test_no_paper_claim_for_missing_zero_or_nan_delta():
    d = _diff((0.5, 0.6, 0.7))
    for paper in (None, 0.0, -0.0, math.nan, math.inf):
        assert stats.verdict(d, paper) == "no paper claim"


def test_level_changes_the_interval():
    d = stats.paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 0.0, 2: 0.0}, level=0.9)
    half = T95_2 / math.sqrt(3)
    assert d.level == 0.9
    assert (d.low, d.high) == pytest.approx((2.0 - half, 2.0 + half))
    assert _diff((1.0, 2.0, 3.0)).half_width == pytest.approx(T975_2 / math.sqrt(3))


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5])
def test_level_outside_the_open_unit_interval_is_refused(level):
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        stats.paired_difference({0: 1.0, 1: 2.0}, {0: 0.0, 1: 0.0}, level=level)


def test_small_samples_are_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "mean of empty slice" / "ddof" warnings
        none = stats.paired_difference({0: 1.0}, {1: 1.0})
        one = stats.paired_difference({0: 3.0}, {0: 1.0})
    assert none.n == 0 and math.isnan(none.mean) and math.isnan(none.sd)
    assert math.isnan(none.low) and math.isnan(none.high)
    assert one.n == 1 and one.mean == 2.0 and math.isnan(one.sd) and math.isnan(one.low)


def test_non_finite_values_are_named():
    with pytest.raises(ValueError, match="^paired_difference: non-finite values$"):
        stats.paired_difference({0: math.nan, 1: 1.0}, {0: 0.0, 1: 0.0})


def test_t_quantile_needs_one_degree_of_freedom():
    assert stats.t_quantile(0.975, 2) == pytest.approx(T975_2)
    with pytest.raises(ValueError, match="t quantile needs df >= 1, got 0"):
        stats.t_quantile(0.975, 0)


def _runs(method, values):
    from types import SimpleNamespace

    return [SimpleNamespace(method=method, dataset="synthumos14", seed=s, average_percent=v)
            for s, v in enumerate(values)]


def test_comparisons_beyond_the_paper_say_resolved_or_unresolved():
    from ftcl.report import tables

    base = _runs("ftcl", [40.0, 41.0, 42.0])
    up = _runs("control-meanpool", [41.0, 42.1, 42.9])  # +1, +1.1, +0.9
    mixed = _runs("control-meanpool", [41.0, 40.0, 42.5])  # +1, -1, +0.5
    args = ("table3", "control-meanpool", "label", "ftcl", "synthumos14", True, (0.1, 0.7))
    resolved = tables._comparison(args[0], base + up, *args[1:])
    assert resolved["verdict"] == "resolved" and resolved["paper_delta"] is None
    assert resolved["beyond_paper"] and resolved["excludes_zero"]
    assert resolved["differences"] == pytest.approx([1.0, 1.1, 0.9])
    assert tables._comparison(args[0], base + mixed, *args[1:])["verdict"] == "unresolved"


def test_a_paper_comparison_takes_the_papers_delta():
    from ftcl.report import paper, tables

    acm = _runs("acmnet", [40.0, 41.0, 42.0])
    ftcl = _runs("ftcl", [41.0, 42.1, 42.9])
    comp = tables._comparison("table1", acm + ftcl, "ftcl", "FTCL", "acmnet", "synthumos14",
                              False, (0.1, 0.7))
    delta = paper.paper_delta("table1", "ftcl", "acmnet", (0.1, 0.7))
    assert delta is not None and delta > 0
    assert comp["paper_delta"] == delta and comp["verdict"] == "supported"
    assert comp["interval"] == "paired t, 95 %" and comp["n"] == 3
