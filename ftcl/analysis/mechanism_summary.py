"""The "Does FTCL align?" chapter from the mechanism records: the summary over seeds, a
paragraph generated from its intervals, and the figure.

The records are :mod:`ftcl.analysis.mechanism`'s (``results/<profile>/mechanism/*.json``);
FTCL is compared with its backbone (:data:`ftcl.config.FTCL_AND_BASELINE`) paired by seed, with
the 95 % paired t intervals of :func:`ftcl.report.statistics.paired_difference`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import pandas as pd

from ..config import FTCL_AND_BASELINE
from ..report.layout import DATA_NAMES
from ..report.statistics import paired_difference
from .mechanism import MECHANISM_MEASURES


def frame(records: Sequence[dict]):
    """Long table: one line per (run, model, measure) with its value."""
    rows = [{"method": r["method"], "dataset": r["dataset"], "seed": r["seed"], "model": model,
             "measure": k, "value": v}
            for r in records for model, m in r["measures"].items() for k, v in m.items()
            if k in MECHANISM_MEASURES and v is not None]
    return pd.DataFrame(rows, columns=["method", "dataset", "seed", "model", "measure", "value"])


def summary(records: Sequence[dict], methods: Sequence[str] = FTCL_AND_BASELINE):
    """Per dataset and measure: each method's mean over seeds (stage-1 and final model), and the
    paired differences, each with its 95 % paired t interval
    (:func:`ftcl.report.statistics.paired_difference`): FTCL - ACM-Net after training, final -
    stage 1 of each method, and the same-phase share minus its chance rate."""
    long = frame(records)
    rows = []
    if long.empty:
        return pd.DataFrame(columns=["dataset", "comparison", "measure", "mean", "low", "high",
                                     "n", "excludes 0"])

    def values(dataset, method, model, measure) -> dict[int, float]:
        sel = long[(long.dataset == dataset) & (long.method == method) & (long.model == model)
                   & (long.measure == measure)]
        return {int(s): float(v) for s, v in zip(sel.seed, sel.value, strict=True)
                if not math.isnan(v)}

    def add(dataset, comparison, measure, x, y):
        d = paired_difference(x, y) if y is not None else paired_difference(
            x, {s: 0.0 for s in x})
        rows.append({"dataset": dataset, "comparison": comparison, "measure": measure,
                     "mean": d.mean, "low": d.low, "high": d.high, "n": d.n,
                     "excludes 0": d.excludes_zero})

    for dataset in sorted(long.dataset.unique()):
        for measure in MECHANISM_MEASURES:
            for method in methods:
                for model in ("stage1", "final"):
                    v = values(dataset, method, model, measure)
                    if v:
                        add(dataset, f"{method} ({model})", measure, v, None)
            if len(methods) >= 2:
                add(dataset, f"{methods[1]} - {methods[0]} (final)", measure,
                    values(dataset, methods[1], "final", measure),
                    values(dataset, methods[0], "final", measure))
            for method in methods:
                add(dataset, f"{method}: final - stage 1", measure,
                    values(dataset, method, "final", measure),
                    values(dataset, method, "stage1", measure))
        for kind in ("lcs", "fsd"):
            for method in methods:
                for model in ("stage1", "final"):
                    add(dataset, f"{method} ({model}): same phase - chance", kind,
                        values(dataset, method, model, f"{kind}_same_phase"),
                        values(dataset, method, model, f"{kind}_chance"))
    out = pd.DataFrame(rows)
    return out[out["n"] > 0].reset_index(drop=True)


LABELS = {
    "lcs_same_phase": "LCS matches with the same planted phase",
    "lcs_chance": "chance rate (LCS grids)",
    "lcs_matches": "LCS matches per pair",
    "fsd_same_phase": "FSD alignment mass on the same planted phase",
    "fsd_chance": "chance rate (FSD grids)",
    "action_purity": "action share of the FSD action proposal",
    "background_proposal_action_share": "action share of the FSD background proposal",
    "action_share": "action share of the video",
    "completeness": "share of an instance's phases the CAS covers",
}


def _interval(row) -> str:
    if not math.isfinite(row["low"]):
        return f"{row['mean']:+.3f} (no interval: {int(row['n'])} seed)"
    return f"{row['mean']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]"


def findings_paragraph(table, methods: Sequence[str] = FTCL_AND_BASELINE) -> str:
    """A paragraph generated from :func:`summary` (no typed numbers): for each data set, whether
    FTCL's alignment pairs the same phases more often than chance and than ACM-Net, whether its
    proposals are purer, and whether its CAS covers more of each instance."""
    if table.empty:
        return ("No mechanism records yet: run `python -m ftcl reproduce` (the training notebook "
                "measures every ACM-Net and FTCL run on synthetic data right after training).")
    base, ftcl = methods[0], methods[1]
    out = []

    def pick(dataset, comparison, measure):
        sel = table[(table.dataset == dataset) & (table.comparison == comparison)
                    & (table.measure == measure)]
        return None if sel.empty else sel.iloc[0]

    def word(row) -> str:
        if row is None or not math.isfinite(row["low"]):
            return "cannot be resolved"
        if not row["excludes 0"]:
            return "is not distinguishable from 0"
        return "is above 0" if row["mean"] > 0 else "is below 0"

    for dataset in sorted(table.dataset.unique()):
        parts = [f"On {DATA_NAMES.get(dataset, dataset)} (95 % paired t intervals over seeds):"]
        for kind, what in (("lcs", "LCS matches"), ("fsd", "FSD alignment mass")):
            r = pick(dataset, f"{ftcl} (final): same phase - chance", kind)
            if r is not None:
                parts.append(f"for FTCL the share of {what} on the same planted phase minus its "
                             f"chance rate is {_interval(r)}, which {word(r)};")
            r = pick(dataset, f"{ftcl} - {base} (final)", f"{kind}_same_phase")
            if r is not None:
                parts.append(f"FTCL minus ACM-Net on that share: {_interval(r)}, which "
                             f"{word(r)};")
        for measure in ("action_purity", "background_proposal_action_share", "completeness"):
            r = pick(dataset, f"{ftcl} - {base} (final)", measure)
            if r is not None:
                parts.append(f"{LABELS[measure]}, FTCL minus ACM-Net: {_interval(r)}, which "
                             f"{word(r)};")
        r = pick(dataset, f"{ftcl}: final - stage 1", "completeness")
        if r is not None:
            parts.append(f"completeness after FTCL training minus before (stage 1): "
                         f"{_interval(r)}, which {word(r)}.")
        out.append(" ".join(parts))
    return " ".join(out)


def figure(records: Sequence[dict], measures: Sequence[str] = (
        "lcs_same_phase", "fsd_same_phase", "action_purity", "completeness")):
    """Per-seed values of ``measures`` for each method and model (stage 1, final), one row of
    panels per data set, with the mean and seaborn's bootstrap 95 % interval over seeds, and the
    chance rate of the phase-agreement measures (the video's action share for the purity) as a
    dashed grey line (seaborn; static)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = frame(records)
    datasets = sorted(long.dataset.unique()) or ["(no records)"]
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(len(datasets), len(measures), squeeze=False,
                             figsize=(3.3 * len(measures), 3.9 * len(datasets)))
    chance_of = {"lcs_same_phase": "lcs_chance", "fsd_same_phase": "fsd_chance",
                 "action_purity": "action_share"}
    for row, dataset in zip(axes, datasets, strict=True):
        for ax, measure in zip(row, measures, strict=True):
            sel = long[(long.measure == measure) & (long.dataset == dataset)].copy()
            if sel.empty:
                ax.text(0.5, 0.5, "no records", ha="center", va="center",
                        transform=ax.transAxes)
            else:
                sel["run"] = sel["method"] + " / " + sel["model"]
                order = [f"{m} / {k}" for m in FTCL_AND_BASELINE for k in ("stage1", "final")
                         if f"{m} / {k}" in set(sel["run"])]
                sns.stripplot(data=sel, x="run", y="value", order=order, ax=ax, alpha=0.45,
                              color="#0072B2", jitter=0.15)
                sns.pointplot(data=sel, x="run", y="value", order=order, ax=ax,
                              errorbar=("ci", 95), color="black", linestyle="none",
                              markers="o", capsize=0.2)
                chance = chance_of.get(measure)
                if chance is not None:
                    level = long[(long.measure == chance) & (long.dataset == dataset)][
                        "value"].mean()
                    if math.isfinite(level):
                        ax.axhline(level, color="grey", ls="--", lw=1)
                ax.tick_params(axis="x", rotation=30)
            name = DATA_NAMES.get(dataset, dataset)
            ax.set_title(textwrap.fill(f"{name}: {LABELS[measure]}", 34), fontsize="small")
            ax.set_xlabel("")
            ax.set_ylabel("share")
    fig.tight_layout()
    plt.close(fig)
    return fig
