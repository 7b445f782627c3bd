"""The book's closing note: every claim of Tables 1-5 with its measured paired difference, its
95 % interval and the verdict, and the batch that produced them, generated from the run records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..paths import batch_summary_file, resolve_results_dir
from .layout import TABLES
from .records import find_run_files, load_records, records_provenance
from .tables import build_table
from .text import claims_frame


def closing_note(results_dir: str | Path | None = None, profile: str = "quick") -> str:
    """The book's closing note, generated: every paper claim of Tables 1-5 with the measured
    paired difference, its 95 % interval and the verdict, and the batch that produced them
    (runs, commits, device, wall time from ``reproduce.json``), as Markdown."""
    text, table = closing_note_parts(results_dir, profile)
    if table.empty:
        return text + "\n\nNo comparison could be computed (no run records).\n"
    rows = ["| table | comparison | paper Δ | Δ here | 95 % CI | seeds | verdict |",
            "|---:|---|---:|---:|---:|---:|---|"]
    for _, c in table.iterrows():
        rows.append("| " + " | ".join(str(v) for v in c) + " |")
    return text + "\n\n" + "\n".join(rows) + "\n"


def closing_note_parts(results_dir: str | Path | None = None, profile: str = "quick"
                       ) -> tuple[str, pd.DataFrame]:
    """:func:`closing_note` as ``(text, table)``: the Markdown paragraph and the claims as a
    DataFrame of strings (for an HTML table in the book)."""
    results = resolve_results_dir(results_dir)
    records = load_records(find_run_files(results, profile))
    built = {key: build_table(key, records) for key in TABLES}
    claims = pd.concat([claims_frame(t) for t in built.values()], ignore_index=True)
    lines = []
    batch = batch_summary_file(results, profile)
    prov = records_provenance(records)
    if batch.is_file():
        info = json.loads(batch.read_text(encoding="utf-8"))
        minutes = info.get("wall_s", 0.0) / 60.0
        lines.append(f"The last batch ({batch.parent.name}): {info.get('planned')} runs planned, "
                     f"{info.get('finished')} finished, {info.get('skipped')} already done, "
                     f"wall time {minutes:.1f} min on executor {info.get('executor')}.")
    lines.append(f"Tables read {prov['runs']} run records; git commit(s) "
                 f"{', '.join(prov['git_commits']) or 'none'}; device(s) "
                 f"{', '.join(prov['devices']) or 'none'}.")
    columns = ["table", "comparison", "paper Δ", "Δ here", "95 % CI", "seeds", "verdict"]
    if claims.empty:
        return " ".join(lines), pd.DataFrame(columns=columns)
    claims["beyond paper"] = claims["beyond paper"].astype(bool)
    distinct = claims[~claims["beyond paper"]].drop_duplicates(["dataset", "method", "baseline"])
    counts = distinct["verdict"].value_counts()
    lines.append(f"Of the paper's {len(distinct)} distinct claims (a comparison repeated in "
                 "several tables counts once): " + ", ".join(
        f"{int(counts.get(v, 0))} {v}" for v in ("supported", "contradicted", "unresolved")
        ) + " (95 % paired t intervals over seeds; direction only).")
    rows = []
    for _, c in claims.iterrows():
        paper = "–" if c["paper Δ"] is None or pd.isna(c["paper Δ"]) else f"{c['paper Δ']:+.1f}"
        ci = ("–" if pd.isna(c["95 % CI low"])
              else f"[{c['95 % CI low']:+.2f}, {c['95 % CI high']:+.2f}]")
        verdict = c["verdict"] + (" (beyond the paper)" if c["beyond paper"] else "")
        rows.append([str(c["table"]), c["comparison"], paper, f"{c['Δ']:+.2f}", ci,
                     str(c["seeds"]), verdict])
    return " ".join(lines), pd.DataFrame(rows, columns=columns)
