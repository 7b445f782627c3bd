"""Tables 1-5 in words: captions, the displayed and Markdown forms, the claims paragraph.

Everything here formats a table built by :func:`ftcl.report.tables.build_table` (its columns and
``attrs``); no number in the text is typed by hand: each comes from the run records or, labelled,
from the paper's own tables (:mod:`ftcl.report.paper`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import paper
from .layout import row_label, threshold_label


def _resolution(res: dict, n: int) -> str:
    """The interval half-widths of a table in words: one value when they all print alike."""
    if n == 1:
        return f"{res['median']:.2f} points"
    if f"{res['min']:.2f}" == f"{res['max']:.2f}":
        return f"{res['median']:.2f} points for each of its {n} comparisons"
    return (f"{res['median']:.2f} points median, {res['min']:.2f}-{res['max']:.2f} over its "
            f"{n} comparisons")


def caption(table: pd.DataFrame) -> str:
    """The caption of a table from :func:`build_table`: data, unit, thresholds, the paired
    comparison and its resolution, the device and the provenance."""
    a = table.attrs
    thresholds = a["thresholds"]
    lo, hi = a["average_range"]
    steps = np.diff(thresholds)
    if len(thresholds) > 2 and np.allclose(steps, steps[0]):
        grid = (f"{threshold_label(thresholds[0])}:{threshold_label(steps[0])}:"
                f"{threshold_label(thresholds[-1])}")
    else:
        grid = ", ".join(threshold_label(t) for t in thresholds)
    p = a["provenance"]
    parts = [f"Table {a['number']} (reproduced) on {a['data_title']}: {a['title']}. Detection "
             f"mAP in % at tIoU thresholds {grid}; AVG is the mean over tIoU {lo:g}-{hi:g} "
             "(the paper's range)."]
    if p["runs"]:
        res = a["resolution"]
        n_seeds = sorted({c["n"] for c in a["comparisons"]})
        parts.append(
            f"Measured rows: {', '.join(a['measured_data'])}; mean ± sample standard deviation "
            f"over seeds (min-max of AVG in brackets), test split; model selection: "
            f"{'; '.join(p['selection_rules']) or 'not recorded'}.")
        if a["comparisons"]:
            parts.append(
                f"Δ: mean paired difference of AVG to the row's baseline over the same seeds "
                f"(same data, stage 1 and batches per seed), with its 95 % paired t interval "
                f"({', '.join(map(str, n_seeds))} seeds). Resolution of this table (interval "
                f"half-width): {_resolution(res, len(a['comparisons']))}; a difference smaller "
                "than that cannot be told from 0. 'paper Δ' is the absolute difference of the "
                "paper's own numbers; 'supported' / 'contradicted': the interval excludes 0 "
                "on the paper's / the other side; 'unresolved': it contains 0.")
        devices = ", ".join(p["devices"])
        parts.append(f"Device: {devices}" + (
            " (numbers from different devices are not comparable run by run)."
            if len(p["devices"]) > 1 else "."))
        mixed = len(p["git_commits"]) > 1 or any(c.endswith("+dirty") for c in p["git_commits"])
        parts.append(
            f"Provenance: {p['runs']} run record{'s' if p['runs'] != 1 else ''}; "
            f"ftcl {', '.join(p['ftcl_versions'])}; git commit {', '.join(p['git_commits'])}"
            + (" (MIXED commit states: not a single-commit regeneration)" if mixed else "")
            + f"; torch {', '.join(p['torch_versions'])}.")
    else:
        parts.append("No measured runs were found for this table.")
    parts.append("Paper rows: the FTCL paper's Table "
                 f"{a['number']} (every row), labelled 'paper (real ... I3D features), single "
                 "run'; they are not measured by this package and not comparable in value with "
                 "rows measured on synthetic data.")
    return " ".join(parts)


def _fmt(x: float, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _signed(x: float, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.{digits}f}"


def display_frame(table: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """The table as strings: ``mean ± std`` per threshold, ``mean ± std [min-max]`` for AVG, then
    ``Δ vs`` (baseline), ``Δ AVG [95 % CI]``, ``paper Δ``, ``interval excludes 0`` and
    ``verdict``."""
    names = table.attrs["value_columns"]
    out = pd.DataFrame({"Method": table["label"], "Numbers from": table["source"]})
    for i, name in enumerate(names):
        stem = name.removesuffix(" (%)")
        cells = []
        for _, r in table.iterrows():
            cell = _fmt(r[name], digits)
            if r["row"] == "measured" and not math.isnan(r[f"{stem} std"]):
                cell += f" ± {_fmt(r[f'{stem} std'], digits)}"
            if r["row"] == "measured" and i == len(names) - 1 and r["n_seeds"] > 1:
                cell += f" [{_fmt(r[f'{stem} min'], digits)}-{_fmt(r[f'{stem} max'], digits)}]"
            cells.append(cell)
        out[stem.removeprefix("mAP@")] = cells
    key = table.attrs["key"]
    vs, delta, paper, excl, word = [], [], [], [], []
    for _, r in table.iterrows():
        has = r["row"] == "measured" and r["baseline"] and not math.isnan(r["delta"])
        vs.append(row_label(key, r["baseline"]) if r["row"] == "measured" and r["baseline"]
                  else "")
        delta.append(f"{_signed(r['delta'])} [{_signed(r['delta low'])}, "
                     f"{_signed(r['delta high'])}]" if has else "")
        paper.append(_signed(r["paper delta"], 1) if r["row"] == "measured"
                     and not math.isnan(r["paper delta"]) else "")
        excl.append(("yes" if r["excludes 0"] else "no") if has else "")
        word.append(r["verdict"] if has else "")
    out["Δ vs"] = vs
    out["Δ AVG [95 % CI]"] = delta
    out["paper Δ"] = paper
    out["CI excludes 0"] = excl
    out["verdict"] = word
    return out


def to_markdown(table: pd.DataFrame, digits: int = 1) -> str:
    """The table as Markdown: a title line, the formatted table, the caption, the verdicts."""
    frame = display_frame(table, digits)
    a = table.attrs
    lines = [f"**Table {a['number']}: {a['data_title']}: {a['title']}** (mAP in %)", ""]
    header = list(frame.columns)
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
    for _, r in frame.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "/") for v in r) + " |")
    lines += ["", a["caption"], "", claims_paragraph(table)]
    lines += ["", f"Paper rows: {paper.FTCL_PAPER}, {paper.FTCL_PAPER_URL}, "
              f"Table {a['number']} (transcribed in ftcl/data/paper_tables/)."]
    return "\n".join(lines) + "\n"


def claims_frame(table: pd.DataFrame) -> pd.DataFrame:
    """One line per comparison of ``table``: the paper's claim and what the interval says."""
    a = table.attrs
    return pd.DataFrame([
        {"table": a["number"], "method": c["method"], "baseline": c["baseline"],
         "dataset": c["dataset"], "comparison": f"{c['label']} − {c['baseline_label']}",
         "paper Δ": c["paper_delta"], "Δ": c["mean"], "95 % CI low": c["low"],
         "95 % CI high": c["high"], "seeds": c["n"], "verdict": c["verdict"],
         "beyond paper": c["beyond_paper"]}
        for c in a["comparisons"]],
        columns=["table", "method", "baseline", "dataset", "comparison", "paper Δ", "Δ",
                 "95 % CI low", "95 % CI high", "seeds", "verdict", "beyond paper"])


def claims_paragraph(table: pd.DataFrame) -> str:
    """A paragraph, generated from the computed intervals, on which of the paper's claims in
    this table the reproduction supports, contradicts or cannot resolve."""
    a = table.attrs
    comps = a["comparisons"]
    if not comps:
        return (f"No paired comparison could be computed for Table {a['number']} (no run "
                "records): the reproduction says nothing about its claims yet.")

    def item(c: dict) -> str:
        paper = ("" if c["paper_delta"] is None
                 else f"paper {c['paper_delta']:+.1f}, ")
        interval = (f"[{c['low']:+.2f}, {c['high']:+.2f}]" if math.isfinite(c["low"])
                    else "no interval (fewer than 2 seeds)")
        return (f"{c['label']} − {c['baseline_label']} ({paper}here {c['mean']:+.2f}, "
                f"95 % CI {interval}, {c['n']} seeds)")

    groups: dict[str, list[str]] = {}
    for c in comps:
        groups.setdefault("beyond" if c["beyond_paper"] else c["verdict"], []).append(item(c))
    sentences = [f"On {a['data_title']}, with 95 % paired t intervals over seeds:"]
    wording = {
        "supported": "Supported in direction (the interval excludes 0 on the paper's side)",
        "contradicted": "Contradicted (the interval excludes 0 on the other side)",
        "unresolved": "Unresolved (the interval contains 0)",
        "no paper claim": "No paper number to compare",
        "beyond": "Beyond the paper (controls, compared with FTCL)",
    }
    for word in ("supported", "contradicted", "unresolved", "no paper claim", "beyond"):
        if word in groups:
            sentences.append(f"{wording[word]}: {'; '.join(groups[word])}.")
    res = a["resolution"]
    if math.isfinite(res["median"]):
        sentences.append(f"This table resolves differences of about {res['median']:.2f} points "
                         "(median interval half-width); the paper's effects in this table are "
                         + ", ".join(f"{c['paper_delta']:+.1f}" for c in comps
                                     if c["paper_delta"] is not None) + " points."
                         if any(c["paper_delta"] is not None for c in comps) else
                         f"This table resolves differences of about {res['median']:.2f} points.")
    sentences.append("Only the direction is judged: the measured data are synthetic, so the "
                     "size of an effect is not comparable with the paper's.")
    return " ".join(sentences)
