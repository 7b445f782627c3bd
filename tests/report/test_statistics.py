"""ftcl.report.statistics against scipy and hand-computed answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ftcl.report import statistics as stats


def test_paired_interval_by_hand():
    # differences 1, 2, 3: mean 2, sd 1, t_{0.975, 2} = 4.302652729749464
    d = stats.paired_difference({0: 11.0, 1: 12.0, 2: 13.0}, {0: 10.0, 1: 10.0, 2: 10.0})
    assert d.seeds == (0, 1, 2) and d.differences == (1.0, 2.0, 3.0)
    assert d.mean == pytest.approx(2.0) and d.sd == pytest.approx(1.0)
    half = 4.302652729749464 / math.sqrt(3)
    assert d.low == pytest.approx(2.0 - half) and d.high == pytest.approx(2.0 + half)
    assert d.half_width == pytest.approx(half)
    assert d.low < 0 and not d.excludes_zero  # low = 2 - 2.484 = -0.484
    assert stats.verdict(d, 1.0) == "unresolved"


def test_interval_matches_scipy_ttest_rel():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for n in (2, 5, 10):
        x, y = rng.normal(40, 8, n), rng.normal(40, 8, n)
        x = x + 0.5 * y  # correlated, as seeds are
        d = stats.paired_difference(dict(enumerate(x)), dict(enumerate(y)))
        ci = scipy_stats.ttest_rel(x, y).confidence_interval(0.95)
        assert d.low == pytest.approx(ci.low) and d.high == pytest.approx(ci.high)
        assert d.mean == pytest.approx(float(np.mean(x - y)))


def test_pairs_only_common_seeds_and_small_n():
    d = stats.paired_difference({0: 1.0, 1: 2.0, 5: 9.0}, {1: 1.0, 0: 0.0, 7: 3.0})
    assert d.seeds == (0, 1) and d.differences == (1.0, 1.0)
    assert d.sd == 0.0 and d.low == d.high == 1.0 and d.excludes_zero
    one = stats.paired_difference({0: 1.0}, {0: 0.0})
    assert one.n == 1 and math.isnan(one.low) and not one.excludes_zero
    assert stats.verdict(one, 1.0) == "unresolved"
    with pytest.raises(ValueError, match="level"):
        stats.paired_difference({0: 1.0}, {0: 0.0}, level=1.0)


def test_verdicts():
    up = stats.paired_difference({s: 1.0 + 0.1 * s for s in range(5)}, {s: 0.0 for s in range(5)})
    down = stats.paired_difference({s: 0.0 for s in range(5)}, {s: 1.0 + 0.1 * s for s in range(5)})
    mixed = stats.paired_difference({0: 1.0, 1: -1.0, 2: 0.5}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert stats.verdict(up, 1.0) == "supported"
    assert stats.verdict(up, -0.5) == "contradicted"
    assert stats.verdict(down, 1.0) == "contradicted"
    assert stats.verdict(mixed, 1.0) == "unresolved"
    assert stats.verdict(up, None) == "no paper claim"
    assert stats.verdict(up, 0.0) == "no paper claim"


def test_expected_best_of_k_against_enumeration():
    v = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]
    for k in range(1, len(v) + 1):
        brute = np.mean([max(c) for c in itertools.combinations(v, k)])
        assert stats.expected_best_of_k(v, k) == pytest.approx(brute)
    assert stats.expected_best_of_k(v, 1) == pytest.approx(np.mean(v))
    assert stats.expected_best_of_k(v, len(v)) == max(v)
    with pytest.raises(ValueError, match="1 <= k"):
        stats.expected_best_of_k(v, 7)
