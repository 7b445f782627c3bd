"""The dose study's table, figure and answer (issue 21; book page "Does FTCL act?").

- :func:`build_table`: ``dose.csv``'s rows from the run records of the study (the grid is
  configuration: :mod:`ftcl.config.dose`) and their mechanism records: each arm paired by seed
  with its control, deltas in points of test average mAP with 95 % paired t intervals
  (:func:`ftcl.report.statistics.paired_difference`), for the held-out-selected checkpoint (the
  primary outcome) and the last iterate; the gradient shares; the mechanism measures;
- :func:`figure`: delta against gradient share (log x), one line per form and term, the oracles
  beside them, the paper's +1.0 marked; the ladder and one stage beside;
- :func:`findings_paragraph`: the answer, generated from the table (no typed number).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import dose
from ..io import atomic_write_json, atomic_write_text
from ..paths import DOSE_TABLE, MECHANISM, RUNS, dose_dir, dose_table_file
from .records import run_files_in
from .statistics import paired_difference

PAPER_DELTA = 1.0  # Table 1 of the paper: FTCL - ACM-Net on THUMOS14 (reference only)
SHARE_OF = {"both": "grad_share_both", "fsd": "grad_share_fsd", "lcs": "grad_share_lcs"}


def share(row) -> float:
    """The gradient share a row is plotted at: its terms' (FSD + LCS, FSD, LCS or the oracle)."""
    if str(row["term"]).startswith("oracle"):
        return float(row["grad_share_oracle"])
    if row["term"] in SHARE_OF:
        return float(row[SHARE_OF[row["term"]]])
    both = row.get("grad_share_both")
    return float(both) if both is not None and not _nan(both) else float(row["grad_share_fsd"])


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _label(row) -> str:
    if row["form"] in ("code", "paper"):
        name = {"both": "FSD + LCS", "fsd": "FSD alone", "lcs": "LCS alone"}[row["term"]]
        return f"FTCL {name} ({'release code' if row['form'] == 'code' else 'paper Eq. 4/7'})"
    return str(row["term"])


OUTCOMES = (("", "held-out-selected checkpoint (primary)"), ("_last", "last iterate"))


def figure(table):
    """Delta (test average mAP, points, 95 % paired t interval) against gradient share (log x,
    symmetric-log y): one line per form and term, the oracles dashed beside them; top: the
    held-out-selected checkpoint (the primary outcome), bottom: the last iterate; right: the
    ladder and one stage, both outcomes."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = table.copy()
    data["share"] = [share(r) for _, r in data.iterrows()]
    data["line"] = [_label(r) for _, r in data.iterrows()]
    curves = data[data["form"].isin(["code", "paper", "oracle"])]
    others = data[data["form"].isin(["ladder", "one-stage"])]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9), width_ratios=(2.2, 1), sharex="col",
                             layout="constrained")
    palette = dict(zip(sorted(curves["line"].unique()),
                       sns.color_palette("tab10", curves["line"].nunique()), strict=True))
    for row, (suffix, what) in enumerate(OUTCOMES):
        ax = axes[row, 0]
        for line, part in curves.groupby("line"):
            part = part.sort_values("share")
            mean = part[f"delta_test{suffix}"]
            err = [mean - part[f"ci_low{suffix}"], part[f"ci_high{suffix}"] - mean]
            ax.errorbar(part["share"], mean, yerr=err, ms=4, capsize=3, color=palette[line],
                        fmt="o--" if part["form"].iloc[0] == "oracle" else "o-", label=line)
        _references(ax, horizontal=True)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylabel("arm - control, test avg mAP (points)")
        ax.set_title(f"Dose-response: {what}")
        ax = axes[row, 1]
        if not others.empty:
            y = np.arange(len(others))
            mean = others[f"delta_test{suffix}"]
            ax.errorbar(mean, y, xerr=[mean - others[f"ci_low{suffix}"],
                                       others[f"ci_high{suffix}"] - mean],
                        fmt="o", capsize=3, color="black")
            ax.set_yticks(y, others["term"])
        _references(ax, horizontal=False)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_title(f"Ladder, one stage: {what.split(' (')[0]}", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    axes[1, 0].set_xlabel("gradient share of the term(s): |grad term| / |grad backbone loss| "
                          "(shared parameters, last 10 % of stage 2)")
    axes[1, 1].set_xlabel("arm - control (points)")
    return fig


def _references(ax, horizontal: bool) -> None:
    """Zero and the paper's +1.0 (Table 1, real THUMOS14: a reference, not a target)."""
    line = ax.axhline if horizontal else ax.axvline
    line(0.0, color="grey", lw=0.8)
    line(PAPER_DELTA, color="black", lw=0.8, ls=":", label="paper, Table 1: +1.0")


def _fmt(row, prefix: str = "") -> str:
    mean, low, high = (row[f"delta_test{prefix}"], row[f"ci_low{prefix}"],
                       row[f"ci_high{prefix}"])
    return f"{_signed(mean)} [{_signed(low)}, {_signed(high)}]"


def _signed(x: float) -> str:
    text = f"{x:+.2f}"
    return "+0.00" if text == "-0.00" else text


def _pct(x: float) -> str:
    return f"{100 * x:.3g} %"


def findings_paragraph(table) -> str:
    """Answer, from ``dose.csv`` alone: does FTCL change the model, at which dose, and does it
    help, hurt or not resolve? (and what each term alone, the oracles, the ladder and one stage
    say)."""
    if table.empty:
        return "No dose records yet: `python -m ftcl reproduce --profile quick` writes them."
    parts = [_form_sentences(table, form, name) for form, name in (
        ("code", "release-code form"), ("paper", "paper form (Eq. 4 / 7)"))]
    parts += [_single_terms(table), _oracle_sentence(table), _ladder_sentence(table),
              _one_stage_sentence(table)]
    return " ".join(p for p in parts if p)


def _with_shares(rows):
    rows = rows.copy()
    rows["share"] = [share(r) for _, r in rows.iterrows()]
    return rows.sort_values("share")


def _form_sentences(table, form: str, name: str) -> str:
    rows = table[(table["form"] == form) & (table["term"] == "both")]
    if rows.empty:
        return ""
    rows = _with_shares(rows)
    changed = rows[rows["verdict_last"] != "unresolved"]
    span = f"{_pct(rows['share'].min())} to {_pct(rows['share'].max())}"
    if changed.empty:
        first = (f"At no dose from {span} of the backbone loss's gradient does FTCL ({name}) "
                 "change the last iterate's test mAP beyond its interval")
    else:
        c = changed.iloc[0]
        first = (f"FTCL ({name}) changes the model from a gradient share of {_pct(c['share'])} "
                 f"on (last iterate {_fmt(c, '_last')} points, {c['verdict_last']}); the doses "
                 f"run span {span}")
    verdicts = rows["verdict"].value_counts().to_dict()
    best, worst = rows.loc[rows["delta_test"].idxmax()], rows.loc[rows["delta_test"].idxmin()]
    return (f"{first}. On the primary outcome (held-out-selected checkpoint) the {len(rows)} "
            "doses give " + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
            + f"; the highest mean is {_fmt(best)} at {_pct(best['share'])}, the lowest "
            f"{_fmt(worst)} at {_pct(worst['share'])} (paper: +1.0 on real THUMOS14).")


def _single_terms(table) -> str:
    parts = []
    for (form, term), rows in table[table["term"].isin(["fsd", "lcs"])].groupby(
            ["form", "term"]):
        rows = _with_shares(rows)
        top = rows.iloc[-1]
        parts.append(f"{term.upper()} alone ({form} form) at its largest dose "
                     f"({_pct(top['share'])}): {_fmt(top)} selected, {_fmt(top, '_last')} last "
                     f"iterate ({top['verdict']} / {top['verdict_last']})")
    return ("Each term alone: " + "; ".join(parts) + ".") if parts else ""


def _oracle_sentence(table) -> str:
    oracles = table[table["form"] == "oracle"]
    parts = [f"{term} {_fmt(b)} at {_pct(share(b))} ({b['verdict']})"
             for term, rows in oracles.groupby("term")
             for b in [rows.loc[rows["delta_test"].idxmax()]]]
    return ("The oracle terms, on the same schedule, reach at their best dose: "
            + "; ".join(parts) + ".") if parts else ""


def _ladder_sentence(table) -> str:
    ladder = table[table["form"] == "ladder"].sort_values("term")
    if ladder.empty:
        return ""
    moved = ladder[ladder["verdict"] != "unresolved"]
    steps = "; ".join(f"{r['term']} {_fmt(r)} (last iterate {_fmt(r, '_last')})"
                      for _, r in ladder.iterrows())
    where = (f"the first rung that resolves is {moved.iloc[0]['term']}" if not moved.empty
             else "no rung resolves on the primary outcome")
    return f"Along the ladder from FTCL to the oracle ({steps}), {where}."


def _one_stage_sentence(table) -> str:
    one = table[table["form"] == "one-stage"]
    if one.empty:
        return ""
    return ("One stage from scratch (Eq. 8 as printed) against ACM-Net trained as long: "
            + "; ".join(f"{r['term']} {_fmt(r)} ({r['verdict']})" for _, r in one.iterrows())
            + ".")


# ------------------------------------------------------------------------------ records -> rows


def classify(record: dict) -> tuple[str, str, float | None] | None:
    """The :attr:`DoseRun.key` a run record belongs to (None: not a run of this study).

    Read from the record's configuration: its method, loss form and weights.
    """
    cfg = record.get("config", {})
    ftcl = cfg.get("ftcl", {})
    method = record.get("method")
    for run in dose.dose_runs():
        if run.method != method:
            continue
        if all(_get(cfg, k) == v for k, v in run.overrides.items()) and _only_grid_keys(
                ftcl, run):
            return run.key
    return None


def _get(cfg: dict, key: str) -> Any:
    section, _, name = key.partition(".")
    return cfg.get(section, {}).get(name)


def _only_grid_keys(ftcl: dict, run: dose.DoseRun) -> bool:
    """A record of ``run.method`` without overrides matches only the grid point that sets no
    weight (the controls) or whose weights equal the method's own (``loss_form`` checked)."""
    form = ftcl.get("loss_form", "code")
    if run.form in dose.FORMS:
        return form == run.form
    return True


def _points(record: dict, which: str) -> float:
    """Test average mAP (points) of the ``selected`` or ``last`` model."""
    test = record["test"]
    return 100.0 * (test.get(which) or test["last"])["average_map"]


def _heldout(record: dict, which: str) -> float:
    held = [h for h in record["history"] if "holdout" in h]
    if which == "last":
        return 100.0 * held[-1]["holdout"]["average_map"]
    return 100.0 * max(h["holdout"]["average_map"] for h in held)


def _share(records: Sequence[dict], key: str) -> float:
    values = [r["grad_shares"]["mean"][key] for r in records
              if r.get("grad_shares") and key in r["grad_shares"]["mean"]]
    return float(np.mean(values)) if values else math.nan


def _mechanism(mech: dict[str, dict], records: Sequence[dict], key: str) -> float:
    values = [mech[r["run_id"]]["measures"]["final"].get(key) for r in records
              if r.get("run_id") in mech]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else math.nan


def _verdict(diff) -> str:
    if diff.n < 2 or math.isnan(diff.low):
        return "unresolved"
    return "helps" if diff.low > 0 else "hurts" if diff.high < 0 else "unresolved"


def build_table(records: Iterable[dict], mechanism: Iterable[dict] = ()):
    """``dose.csv``'s rows (a :class:`pandas.DataFrame`, :data:`ftcl.config.dose.COLUMNS`) from
    run records.

    Records outside the study are ignored; each arm is paired by seed with its control (two-stage
    arms with ``acmnet``, one-stage arms with ``acmnet-one-stage``); a grid point without records
    is left out.
    """
    import pandas as pd

    groups: dict[tuple, dict[int, dict]] = {}
    for record in records:
        key = classify(record)
        if key is not None:
            groups.setdefault(key, {})[int(record["seed"])] = record
    mech = {m["run_id"]: m for m in mechanism if m.get("run_id")}
    rows = []
    for run in dose.dose_runs():
        if run.form in ("control",) or (run.form == "one-stage" and run.scale is None):
            continue
        arm = groups.get(run.key, {})
        control = groups.get(("one-stage", "acmnet", None) if run.form == "one-stage"
                             else ("control", "acmnet", None), {})
        seeds = sorted(set(arm) & set(control))
        if not seeds:
            continue
        recs = [arm[s] for s in seeds]

        def diff(fn, which, arm=arm, control=control, seeds=seeds):
            return paired_difference({s: fn(arm[s], which) for s in seeds},
                                     {s: fn(control[s], which) for s in seeds})

        test, last = diff(_points, "selected"), diff(_points, "last")
        ftcl = recs[0]["config"]["ftcl"]
        rows.append({
            "form": run.form, "term": run.term, "scale": run.scale,
            "lambda_fsd": ftcl["lambda_fsd"] if ftcl["action_measure"] != "none" else 0.0,
            "lambda_lcs": ftcl["lambda_lcs"] if ftcl["pair_measure"] != "none" else 0.0,
            "grad_share_fsd": _share(recs, "share/fsd"),
            "grad_share_lcs": _share(recs, "share/lcs"),
            "n_seeds": len(seeds),
            "delta_heldout": diff(_heldout, "selected").mean,
            "delta_test": test.mean, "ci_low": test.low, "ci_high": test.high,
            "lambda_oracle": ftcl.get("lambda_oracle") if ftcl.get("oracle", "none") != "none"
            else None,
            "grad_share_both": _share(recs, "share/both"),
            "grad_share_oracle": _share(recs, "share/oracle"),
            "delta_test_last": last.mean, "ci_low_last": last.low, "ci_high_last": last.high,
            "delta_heldout_last": diff(_heldout, "last").mean,
            "selected_iter0": sum(r["selection"]["selected_iteration"] == 0 for r in recs),
            **{k: _mechanism(mech, recs, k) for k in ("lcs_same_phase", "fsd_same_phase",
                                                       "action_purity", "completeness")},
            "verdict": _verdict(test), "verdict_last": _verdict(last),
        })
    return pd.DataFrame(rows, columns=list(dose.COLUMNS))


def short_answer(table) -> str:
    """Two sentences for the book's opening: FTCL's verdicts over its doses (both forms, FSD +
    LCS) and the best oracle, from ``dose.csv``; empty without rows."""
    ftcl = table[table["form"].isin(["code", "paper"]) & (table["term"] == "both")]
    if ftcl.empty:
        return ""
    shares = [share(r) for _, r in ftcl.iterrows()]
    counts = ftcl["verdict"].value_counts().to_dict()
    best = ftcl.loc[ftcl["delta_test"].idxmax()]
    text = (f"**Does FTCL act?** With a stage 2 in the release's proportion and FTCL's weights "
            f"scaled so that its terms hold {_pct(min(shares))} to {_pct(max(shares))} of the "
            f"gradient, its {len(ftcl)} doses (both loss forms) against ACM-Net continued "
            f"identically: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
            + f" (best {_fmt(best)} points at {_pct(share(best))}).")
    oracles = table[table["form"] == "oracle"]
    if not oracles.empty:
        top = oracles.loc[oracles["delta_test"].idxmax()]
        text += (f" An oracle term that knows the planted structure gains {_fmt(top)} points "
                 f"({top['term']}, {_pct(share(top))} of the gradient).")
    return text


def load_study(results_dir, profile: str = "quick") -> tuple[list[dict], list[dict]]:
    """The dose study's run records (each checked against ``dose/records.sha256``,
    :func:`ftcl.report.records.run_files_in`) and mechanism records
    (``<results>/<profile>/dose/``)."""
    folder = dose_dir(results_dir, profile)
    records = [json.loads(p.read_text(encoding="utf-8")) for p in run_files_in(folder / RUNS)]
    mechanism = [json.loads(p.read_text(encoding="utf-8"))
                 for p in sorted((folder / MECHANISM).glob("*.json"))]
    return records, mechanism


def write_table(results_dir, profile: str = "quick") -> Path:
    """Build ``dose.csv`` from the study's records and write it (atomic), with
    ``dose.json`` beside it: the commits and devices of the records it was built from."""
    records, mechanism = load_study(results_dir, profile)
    table = build_table(records, mechanism)
    path = dose_table_file(results_dir, profile)
    atomic_write_text(path, table.to_csv(index=False, float_format="%.6g"))
    atomic_write_json(path.with_suffix(".json"), {
        "table": DOSE_TABLE, "records": len(records), "rows": len(table),
        "commits": sorted({(r.get("provenance") or {}).get("git_commit", "unknown")
                           for r in records}),
        "devices": sorted({str(r.get("device")) for r in records}),
        "protocol": "PROTOCOL.md (committed before the records)"})
    return path


__all__ = ["PAPER_DELTA", "build_table", "classify", "figure", "findings_paragraph",
           "load_study", "share", "short_answer", "write_table"]
