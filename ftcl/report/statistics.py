"""Paired comparisons over seeds: the statistics behind the reproduced Tables 1-5.

Every method of a table is trained once per seed, and all methods of one seed share the same
synthetic data set, the same stage-1 checkpoint and the same pair batches (see
:mod:`ftcl.reproduce`). The seed-to-seed spread of one method (several points of mAP) is
therefore mostly shared between methods; the *paired* difference ``d_s = x_s - y_s`` of two
methods on the same seed ``s`` removes it. The paper's effects are 0.1-2.8 points of average mAP
(Tables 1-5), so the question each row answers is whether the interval of the mean paired
difference excludes 0, and on which side.

The interval is the **paired t interval** (Student's t on the per-seed differences):
``mean(d) +- t_{n-1, 1-alpha/2} * sd(d) / sqrt(n)``, sd with ``ddof=1``. It assumes the seed
differences are independent draws from one distribution (they are: each seed draws its own data
set, initialisation and batches); with 10 seeds it is the standard choice and matches
:func:`scipy.stats.ttest_rel`'s confidence interval (tested).

:func:`verdict` turns an interval and the paper's delta into one word: ``supported`` (the interval
excludes 0 on the paper's side), ``contradicted`` (it excludes 0 on the other side) or
``unresolved`` (it contains 0). Never "win": a mean above the baseline with an interval that
contains 0 says nothing.

:func:`expected_best_of_k` is the selection effect of reporting the best of ``k`` seeds (as the
release's README invites for ACM-Net), computed exactly over all ``k``-subsets of the seeds run.

:func:`aggregate` gives each method's statistics over seeds (mean, sample sd, min, max) from the
run records (:mod:`ftcl.report.records`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .layout import threshold_label

INTERVAL_METHOD = "paired t"
VERDICTS = ("supported", "contradicted", "unresolved", "no paper claim")


def t_quantile(q: float, df: int) -> float:
    """Quantile ``q`` of Student's t with ``df`` degrees of freedom (:func:`scipy.stats.t.ppf`)."""
    from scipy.stats import t

    if df < 1:
        raise ValueError(f"t quantile needs df >= 1, got {df}")
    return float(t.ppf(q, df))


@dataclass(frozen=True)
class PairedDifference:
    """The paired difference ``x - y`` over the seeds both were run with.

    Attributes
    ----------
    seeds : tuple of int
        Seeds present in both (sorted).
    differences : tuple of float
        ``x_s - y_s`` per seed, in the order of ``seeds``.
    mean, sd : float
        Mean and sample standard deviation (``ddof=1``; NaN for one seed) of the differences.
    low, high : float
        The ``level`` paired t interval of the mean (NaN for fewer than two seeds).
    level : float
        Coverage of the interval (0.95).
    method : str
        ``"paired t"``.
    """

    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean: float
    sd: float
    low: float
    high: float
    level: float = 0.95
    method: str = INTERVAL_METHOD

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def half_width(self) -> float:
        """Half the interval's width: the smallest effect this comparison can resolve."""
        return (self.high - self.low) / 2.0

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies entirely above or below 0 (False if undefined)."""
        return bool(self.n >= 2 and (self.low > 0.0 or self.high < 0.0))


def paired_difference(x: Mapping[int, float], y: Mapping[int, float],
                      level: float = 0.95) -> PairedDifference:
    """Paired difference ``x - y`` of two methods' per-seed values with its ``level`` interval.

    Parameters
    ----------
    x, y : mapping of int to float
        ``{seed: value}`` (e.g. average mAP in %). Only seeds present in both are paired.
    level : float
        Interval coverage in (0, 1).

    Returns
    -------
    PairedDifference
        Mean, sd and the paired t interval; with fewer than two common seeds, NaN interval.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    seeds = tuple(sorted(set(x) & set(y)))
    d = np.array([float(x[s]) - float(y[s]) for s in seeds], dtype=np.float64)
    if d.size and not np.all(np.isfinite(d)):
        raise ValueError("paired_difference: non-finite values")
    n = d.size
    mean = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    if n > 1:
        half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
        low, high = mean - half, mean + half
    else:
        low = high = math.nan
    return PairedDifference(seeds, tuple(float(v) for v in d), mean, sd, low, high, level)


def verdict(diff: PairedDifference, paper_delta: float | None) -> str:
    """What the interval says about the paper's claim that the difference is ``paper_delta``.

    ``"supported"``: the interval excludes 0 on the side of ``paper_delta``;
    ``"contradicted"``: it excludes 0 on the other side; ``"unresolved"``: it contains 0 (or
    is undefined); ``"no paper claim"``: the paper gives no delta (or a delta of 0).
    Only the direction is judged: the benchmarks here are synthetic, so the size of an effect is
    not comparable with the paper's.
    """
    if paper_delta is None or not math.isfinite(paper_delta) or paper_delta == 0.0:
        return "no paper claim"
    if not diff.excludes_zero:
        return "unresolved"
    return "supported" if (diff.mean > 0) == (paper_delta > 0) else "contradicted"


def expected_best_of_k(values: Sequence[float], k: int) -> float:
    """Expected maximum of ``k`` values drawn without replacement from ``values``.

    Exact over all ``C(n, k)`` subsets: with the values sorted ascending, the ``i``-th (1-based)
    is the maximum of ``C(i-1, k-1)`` of them, so
    ``E[max] = sum_i v_(i) C(i-1, k-1) / C(n, k)``. ``k = 1`` gives the mean, ``k = n`` the
    maximum. ``expected_best_of_k(v, k) - mean(v)`` is what reporting the best of ``k`` seeds
    adds on average.
    """
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = v.size
    if not 1 <= k <= n:
        raise ValueError(f"best of k: need 1 <= k <= {n} (the number of values), got k={k}")
    weights = np.array([math.comb(i - 1, k - 1) for i in range(1, n + 1)], dtype=np.float64)
    return float((weights * v).sum() / math.comb(n, k))


# ------------------------------------------------------------------------------ over seeds


def _stats(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample std (ddof=1; NaN for one value), min and max."""
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else math.nan,
            "min": float(a.min()), "max": float(a.max())}


def aggregate(records: Sequence) -> pd.DataFrame:
    """Statistics over seeds of each (dataset, profile, method), in %.

    ``records``: :class:`ftcl.report.records.RunRecord` s. Returns a long table with one row per
    (dataset, profile, method, metric): ``metric`` is
    ``"mAP@<t>"`` (``tiou`` = t), ``"avg"`` (mean over ``average_range``, ``tiou`` NaN) or
    ``"cls"`` (video classification mAP); columns ``mean``, ``std`` (sample, ddof=1; NaN for one
    seed), ``min``, ``max``, ``n_seeds``, ``seeds`` and ``average_range``.
    """
    columns = ["dataset", "profile", "method", "metric", "tiou", "mean", "std", "min", "max",
               "n_seeds", "seeds", "average_range"]
    groups: dict[tuple[str, str, str], list] = {}
    for r in records:
        groups.setdefault((r.dataset, r.profile, r.method), []).append(r)
    rows = []
    for (dataset, profile, method), group in sorted(groups.items()):
        group = sorted(group, key=lambda r: r.seed)
        thresholds = group[0].tiou_thresholds
        for r in group[1:]:
            if len(r.tiou_thresholds) != len(thresholds) or not np.allclose(
                    r.tiou_thresholds, thresholds):
                raise ValueError(f"run records {group[0].path} and {r.path} ({method} on "
                                 f"{dataset}) use different tIoU thresholds")
        base = {"dataset": dataset, "profile": profile, "method": method,
                "n_seeds": len(group), "seeds": ",".join(str(r.seed) for r in group),
                "average_range": "{:g}-{:g}".format(*group[0].average_range)}
        for i, t in enumerate(thresholds):
            rows.append({**base, "metric": f"mAP@{threshold_label(t)}", "tiou": t,
                         **_stats([r.map_percent[i] for r in group])})
        rows.append({**base, "metric": "avg", "tiou": math.nan,
                     **_stats([r.average_percent for r in group])})
        rows.append({**base, "metric": "cls", "tiou": math.nan,
                     **_stats([r.classification_percent for r in group])})
    return pd.DataFrame(rows, columns=columns)
