"""The release's evaluation protocol, measured on our runs: what selection alone adds.

The authors' release keeps the checkpoint that scores best **on the test split**, and its README
asks to re-seed ACM-Net until it reaches the paper's 42.6. Both are selection on the number being
reported. This package selects on held-out training videos (:mod:`ftcl.train`), and the trainer
also *records* (never uses) the test-split average mAP at each stage-2 evaluation point, so the
two protocols can be compared on the same runs:

(a) :func:`test_selection_gain`: per method, the test-split average mAP of the evaluation point
    that is best on the test split, minus that of the point chosen on held-out videos (what the
    run reports), paired over seeds with a 95 % paired t interval (:mod:`ftcl.report.statistics`);
(b) :func:`best_of_k_gain`: the expected best of ``k`` seeds minus the mean over seeds,
    ``k = 1 .. n`` (exact over all ``k``-subsets,
    :func:`ftcl.report.statistics.expected_best_of_k`).

Both are shown beside the paper's +1.0 (FTCL over ACM-Net, Table 1) in the limitations chapter:
how much of a one-point gain selection alone can make. :func:`protocol_summary` writes them to
``results/<profile>/tables/protocol.json`` after a batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import FTCL_AND_BASELINE
from ..io import atomic_write_json
from ..paths import protocol_file
from ..report import paper, statistics
from ..report.records import find_run_files


def _load(paths: Sequence[Path]) -> list[dict]:
    out = []
    for p in paths:
        data = json.loads(Path(p).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("status") == "finished":
            out.append(data)
    return out


def test_selected(record: dict) -> float | None:
    """Test-split average mAP (%) of the evaluation point best on the test split (the release's
    protocol); None when the record has no test history (older records)."""
    values = [h["test"]["average_map"] for h in record.get("history", []) if "test" in h]
    return 100.0 * max(values) if values else None


def test_selection_gain(records: Sequence[dict], methods: Sequence[str] | None = None
                        ) -> list[dict[str, Any]]:
    """Per (dataset, method): test-selected minus held-out-selected average mAP, paired by seed.

    Returns dicts with ``dataset``, ``method``, ``n``, ``mean``, ``low``, ``high`` (points,
    95 % paired t) and ``differences``; methods without a test history are left out.
    """
    groups: dict[tuple[str, str], tuple[dict, dict]] = {}
    for r in records:
        if methods is not None and r["method"] not in methods:
            continue
        best = test_selected(r)
        if best is None:
            continue
        a, b = groups.setdefault((r["dataset"], r["method"]), ({}, {}))
        a[int(r["seed"])] = best
        b[int(r["seed"])] = 100.0 * float(r["average_map"])
    out = []
    for (dataset, method), (a, b) in sorted(groups.items()):
        d = statistics.paired_difference(a, b)
        out.append({"dataset": dataset, "method": method, "n": d.n, "mean": d.mean,
                    "low": d.low, "high": d.high, "differences": list(d.differences)})
    return out


def best_of_k_gain(records: Sequence[dict], methods: Sequence[str] = FTCL_AND_BASELINE,
                   k_max: int = 10) -> list[dict[str, Any]]:
    """Per (dataset, method) and ``k = 1 .. min(k_max, n)``: expected best of ``k`` seeds minus
    the mean over seeds, of the reported (held-out-selected) average mAP in points."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in records:
        if r["method"] in methods:
            groups.setdefault((r["dataset"], r["method"]), []).append(
                100.0 * float(r["average_map"]))
    out = []
    for (dataset, method), values in sorted(groups.items()):
        mean = sum(values) / len(values)
        for k in range(1, min(k_max, len(values)) + 1):
            out.append({"dataset": dataset, "method": method, "k": k, "n": len(values),
                        "gain": statistics.expected_best_of_k(values, k) - mean})
    return out


def protocol_summary(results_dir: str | Path, profile: str = "quick",
                     write: bool = True) -> dict[str, Any]:
    """(a) and (b) over ``<results_dir>/<profile>/runs/*.json``, beside the paper's +1.0;
    written to ``<results_dir>/<profile>/tables/protocol.json`` when ``write``."""
    records = _load(find_run_files(results_dir, profile))
    summary = {
        "test_selection_gain": test_selection_gain(records),
        "best_of_k_gain": best_of_k_gain(records),
        "paper_gain": paper.paper_delta("table1", "ftcl", "acmnet", (0.1, 0.7)),
        "paper_gain_what": "FTCL - ACM-Net, average mAP 0.1-0.7, the paper's Table 1",
        "interval": f"{statistics.INTERVAL_METHOD}, 95 %",
        "runs": len(records),
        "devices": sorted({str(r.get("device")) for r in records}),
        "git_commits": sorted({str((r.get("provenance") or {}).get("git_commit"))
                               for r in records}),
    }
    if write:
        atomic_write_json(protocol_file(results_dir, profile), summary)
    return summary


def load_summary(results_dir: str | Path, profile: str = "quick") -> dict[str, Any]:
    """The stored ``protocol.json`` if there is one, else computed from the run records (not
    written)."""
    path = protocol_file(results_dir, profile)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return protocol_summary(results_dir, profile, write=False)


def markdown(summary: dict[str, Any]) -> str:
    """The limitations chapter's section on the release's protocol, generated from ``summary``
    (:func:`load_summary`): no number in it is typed by hand."""
    paper = summary.get("paper_gain")
    lines = [f"Computed from {summary.get('runs', 0)} run records (device "
             f"{', '.join(summary.get('devices', [])) or 'none'}; "
             f"{summary.get('interval', '')} intervals over seeds). The paper's gain to compare "
             f"with: {'+' if paper and paper > 0 else ''}{paper} points "
             f"({summary.get('paper_gain_what', '')}).", ""]
    gains = summary.get("test_selection_gain", [])
    lines.append("**(a) Selecting the checkpoint on the test split** instead of on held-out "
                 "training videos, same runs (test-selected minus held-out-selected average mAP, "
                 "points):")
    lines.append("")
    if gains:
        lines += ["| data | method | seeds | mean gain | 95 % interval |",
                  "|---|---|---:|---:|---:|"]
        for g in gains:
            interval = (f"[{g['low']:+.2f}, {g['high']:+.2f}]"
                        if g["low"] is not None and g["low"] == g["low"] else "–")
            lines.append(f"| {g['dataset']} | {g['method']} | {g['n']} | {g['mean']:+.2f} | "
                         f"{interval} |")
    else:
        lines.append("*Not measured yet: these run records carry no test-split history (the "
                     "trainer records it at every evaluation point since this version; re-run "
                     "the batch).*")
    lines.append("")
    best = summary.get("best_of_k_gain", [])
    lines.append("**(b) Reporting the best of k seeds** instead of their mean (expected best of "
                 "k minus the mean, exact over all k-subsets of the seeds run, points):")
    lines.append("")
    if best:
        ks = sorted({b["k"] for b in best})
        groups = sorted({(b["dataset"], b["method"]) for b in best})
        lines += ["| data | method | " + " | ".join(f"k={k}" for k in ks) + " |",
                  "|---|---|" + "---:|" * len(ks)]
        for dataset, method in groups:
            cells = {b["k"]: b["gain"] for b in best
                     if b["dataset"] == dataset and b["method"] == method}
            lines.append(f"| {dataset} | {method} | "
                         + " | ".join(f"{cells[k]:+.2f}" if k in cells else "–" for k in ks)
                         + " |")
        top = max(best, key=lambda b: b["k"])
        lines += ["", f"With {top['k']} seeds, reporting the best instead of the mean adds "
                  f"{max(b['gain'] for b in best if b['k'] == top['k']):+.2f} points at most "
                  "among these rows."]
    else:
        lines.append("*No run records.*")
    return "\n".join(lines) + "\n"


def frames(summary: dict[str, Any]):
    """``(test_selection, best_of_k)`` as DataFrames for the book (points; NaN where
    undefined): the same numbers as :func:`markdown`, as HTML tables."""
    import pandas as pd

    gains = pd.DataFrame(
        [{"data": g["dataset"], "method": g["method"], "seeds": g["n"],
          "mean gain (points)": g["mean"], "95 % CI low": g["low"], "95 % CI high": g["high"]}
         for g in summary.get("test_selection_gain", [])],
        columns=["data", "method", "seeds", "mean gain (points)", "95 % CI low",
                 "95 % CI high"])
    best = pd.DataFrame(summary.get("best_of_k_gain", []),
                        columns=["dataset", "method", "k", "n", "gain"])
    if not best.empty:
        best = best.pivot_table(index=["dataset", "method"], columns="k", values="gain")
        best.columns = [f"k={k}" for k in best.columns]
        best = best.reset_index()
    return gains, best


def intro(summary: dict[str, Any]) -> str:
    """The first paragraph of :func:`markdown` (what was read, the paper's gain)."""
    return markdown(summary).split("\n\n")[0]


__all__ = ["best_of_k_gain", "frames", "intro", "load_summary", "markdown", "protocol_summary",
           "test_selected", "test_selection_gain"]
