"""What a table page shows first: the compact table, its caption, and plain words on its verdicts.

A table of :func:`ftcl.tables.build_table` holds every tIoU threshold, the spread, the paper's
rows and the paired comparisons: 2,000 px and more. A reader's first question is shorter: does
the method beat its baseline here, by how much, and does that agree with the paper?

- :func:`compact_frame`: one line per measured row: the method, its average mAP (mean ± sd over
  seeds), the paper's average for the same row, the paired difference to its baseline with the
  95 % interval, the paper's difference, the verdict. Six short columns: they fit the book's
  column at 1400 px, and :func:`compact_html` marks every cell with its column name so that the
  book's stylesheet lays each row out as a card on a phone (390 px).
- :func:`compact_caption`: what the measured rows were measured on (data, profile, seeds), said
  once instead of on every row.
- :func:`plain_words`: generated sentences for the comparisons where the method did nothing at
  all: the same numbers as its baseline on every seed, with how often held-out model selection
  kept the stage-1 checkpoint (the backbone before the method's loss was added).
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..paths import display_path, resolve_results_dir, runs_dir
from . import figures, tables, text
from .layout import method_overview, row_label
from .records import RunRecord, find_run_files, load_records

#: The columns of :func:`compact_frame`, in order.
COMPACT_COLUMNS = ("Method", "AVG mAP (%)", "paper AVG", "Δ [95 % CI]", "paper Δ", "verdict")


def _number(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def compact_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The compact main table of ``table`` (see the module docstring), as strings."""
    a = table.attrs
    avg = a["value_columns"][-1]
    stem = avg.removesuffix(" (%)")
    paper_avg = {r["method"]: r[avg] for _, r in table.iterrows()
                 if r["row"] == "reference" and r["method"] and _number(r[avg])}
    rows = []
    for _, r in table[table["row"] == "measured"].iterrows():
        measured = _number(r[avg])
        has_delta = bool(r["baseline"]) and _number(r["delta"])
        rows.append({
            "Method": r["label"],
            "AVG mAP (%)": (f"{r[avg]:.1f} ± {r[f'{stem} std']:.1f}" if measured
                            and _number(r[f"{stem} std"]) else f"{r[avg]:.1f}" if measured
                            else "no runs"),
            "paper AVG": f"{paper_avg[r['method']]:.1f}" if r["method"] in paper_avg else "–",
            "Δ [95 % CI]": (f"{r['delta']:+.2f} [{r['delta low']:+.2f}, {r['delta high']:+.2f}]"
                            f" vs {row_label(a['key'], r['baseline'])}" if has_delta else "–"),
            "paper Δ": f"{r['paper delta']:+.1f}" if has_delta and _number(r["paper delta"])
            else "–",
            "verdict": r["verdict"] if has_delta else "–",
        })
    return pd.DataFrame(rows, columns=list(COMPACT_COLUMNS))


def compact_caption(table: pd.DataFrame, reading_link: str | None = None) -> str:
    """One paragraph (Markdown): what the compact table's numbers are, the data said once."""
    a = table.attrs
    seeds = sorted({int(n) for n in table.loc[table["row"] == "measured", "n_seeds"]
                    if _number(n) and n > 0})
    lo, hi = a["average_range"]
    if seeds:
        data = (f"Measured on {', '.join(a['measured_data'])}: mean ± sample standard deviation "
                f"over {' or '.join(map(str, seeds))} seeds (test split).")
    else:
        data = "No measured runs yet."
    text = (f"**Table {a['number']}: {a['title']}.** AVG = detection mAP (%) averaged over tIoU "
            f"{lo:g}-{hi:g}. {data} Δ: mean paired difference to the row's baseline over the "
            "same seeds, 95 % paired t interval; paper: the FTCL paper's own numbers (real I3D "
            "features, single runs), comparable with the measured ones in direction only.")
    if reading_link:
        text += f" [How to read this table]({reading_link})."
    return text


def compact_html(frame: pd.DataFrame) -> str:
    """``frame`` (:func:`compact_frame`) as an HTML table whose cells carry their column name
    (``data-label``, for the phone layout) and whose verdict cell carries ``verdict-<word>``."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for col, value in row.items():
            cls = f' class="verdict-{html.escape(str(value))}"' if col == "verdict" else ""
            text = html.escape(str(value))
            if col == "Δ [95 % CI]" and " vs " in text:  # the baseline on a line of its own
                delta, baseline = text.split(" vs ", 1)
                text = (f'<span class="ftcl-nowrap">{delta}</span><br>'
                        f'<span class="ftcl-vs">vs {baseline}</span>')
            cells.append(f'<td data-label="{html.escape(col)}"{cls}>{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="ftcl-compact"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def selected_iteration(record: RunRecord) -> int | None:
    """The stage-2 iteration whose checkpoint held-out selection kept (0: the stage-1
    checkpoint), from the run record's ``selection`` block; None when it does not say."""
    data = json.loads(record.path.read_text(encoding="utf-8"))
    selection = data.get("selection")
    value = selection.get("selected_iteration") if isinstance(selection, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _selected_iterations(records: Sequence[RunRecord], method: str, dataset: str
                         ) -> list[int | None]:
    return [selected_iteration(r) for r in records
            if r.method == method and r.dataset == dataset]


def plain_words(table: pd.DataFrame, records: Sequence[RunRecord]) -> str:
    """Sentences (Markdown), generated, for the rows of ``table`` whose method did nothing:

    - its average mAP equals its baseline's on every seed (Δ = 0 on every seed);
    - held-out model selection kept the stage-1 checkpoint (iteration 0: the backbone before the
      method's own loss was added) in every run, or in some runs (counted per method).

    Empty when none of this happens."""
    sentences, partial, seen = [], [], set()
    for c in table.attrs["comparisons"]:
        if (c["method"], c["dataset"]) in seen:
            continue
        seen.add((c["method"], c["dataset"]))
        chosen = _selected_iterations(records, c["method"], c["dataset"])
        kept = sum(1 for s in chosen if s == 0)
        if c["differences"] and all(d == 0.0 for d in c["differences"]):
            why = (f" Model selection kept the stage-1 checkpoint in {kept} of its "
                   f"{len(chosen)} runs." if kept else "")
            sentences.append(f"**{c['label']} did nothing here.** On each of the {c['n']} seeds "
                             f"its average mAP is exactly that of {c['baseline_label']} (Δ = 0 "
                             f"on every seed, so the interval is [0, 0]).{why}")
        elif chosen and kept == len(chosen):
            sentences.append(f"**{c['label']} did nothing here.** Model selection on the "
                             "held-out training videos kept the stage-1 checkpoint in every one "
                             f"of its {kept} runs: its numbers are the backbone's before the "
                             "method's own loss was added.")
        elif kept:
            partial.append(f"{c['label']} {kept} of {len(chosen)}")
    if partial:
        sentences.append("Model selection on the held-out training videos kept the stage-1 "
                         "checkpoint (the backbone before the method's own loss was added) in "
                         f"some runs: {'; '.join(partial)}. Those runs report the backbone "
                         "itself, so a row's Δ mixes runs where the method acted with runs "
                         "where it did not.")
    return "\n\n".join(sentences)


#: The book page of each table (path from the book's root, without suffix).
TABLE_PAGES = {"table1": "notebooks/05_table1_thumos14",
               "table2": "notebooks/06_table2_activitynet",
               "table3": "notebooks/07_table3_ablation", "table4": "notebooks/08_table4_dtw",
               "table5": "notebooks/09_table5_plugin"}


def bottom_line(tables: dict[str, pd.DataFrame], prefix: str = "../") -> str:
    """The book's opening paragraph (Markdown), generated from the computed intervals: the
    headline comparison (FTCL against its backbone, Tables 1 and 2), and how many of the paper's
    distinct claims in Tables 1-5 are supported, contradicted or unresolved, with links to the
    table pages (``prefix`` + :data:`TABLE_PAGES` + ``.html``)."""
    def link(key: str) -> str:
        return f"[Table {tables[key].attrs['number']}]({prefix}{TABLE_PAGES[key]}.html)"

    comps = [(key, c) for key, t in tables.items() for c in t.attrs["comparisons"]]
    if not comps:
        return ("**Bottom line:** no run records were found, so the reproduction says nothing "
                "about the paper's claims yet (see How to reproduce).")
    heads = []
    for key in ("table1", "table2"):
        for c in (tables[key].attrs["comparisons"] if key in tables else []):
            if c["method"] != "ftcl" or c["baseline"] != "acmnet" or not math.isfinite(c["low"]):
                continue
            data = tables[key].attrs["data_title"].split(":")[0]
            paper = ("" if c["paper_delta"] is None else
                     f", where the paper reports {c['paper_delta']:+.1f} on the real features")
            if c["differences"] and all(d == 0.0 for d in c["differences"]):
                change = (f"leaves ACM-Net's average mAP unchanged on every one of {c['n']} "
                          "seeds (Δ = 0)")
            else:
                change = (f"changes ACM-Net's average mAP by {c['mean']:+.2f} points (95 % CI "
                          f"[{c['low']:+.2f}, {c['high']:+.2f}], {c['n']} seeds)")
            heads.append(f"On {data} ({link(key)}), FTCL {change}{paper}: {c['verdict']}.")
    distinct: dict[tuple, tuple[str, dict]] = {}
    for key, c in comps:
        if not c["beyond_paper"]:
            distinct.setdefault((c["dataset"], c["method"], c["baseline"]), (key, c))
    counts = {w: sum(1 for _, c in distinct.values() if c["verdict"] == w)
              for w in ("supported", "contradicted", "unresolved")}
    where = {w: sorted({k for k, c in distinct.values() if c["verdict"] == w},
                       key=list(TABLE_PAGES).index) for w in counts}
    parts = [f"{n} {w}" + (f" ({', '.join(link(k) for k in where[w])})" if n else "")
             for w, n in counts.items()]
    text = "**Bottom line.** " + " ".join(heads) + (" " if heads else "")
    text += (f"Of the paper's {len(distinct)} distinct claims in Tables 1-5 (a comparison that "
             f"appears in several tables counts once): {', '.join(parts)}, by 95 % paired t "
             "intervals over seeds, judging the direction only. The measured numbers come from "
             "synthetic stand-ins for the paper's data, so they test whether the method's "
             "effect appears there, not the paper's values.")
    return text


def _details(summary: str, body: str) -> str:
    return (f'<details class="ftcl-detail"><summary>{html.escape(summary)}</summary>'
            f"{body}</details>")


@dataclasses.dataclass
class TablePage:
    """What a table chapter shows, built once from the run records (:func:`table_page`).

    The chapter displays, in order: :attr:`compact_html` (the compact main table),
    :meth:`summary` (caption, plain words, the claims paragraph), :meth:`detail_html` (every row
    and threshold, folded), :meth:`delta_png` and :meth:`tiou_figure`, :meth:`runs_html` (the
    runs and the configurations, folded).
    """

    key: str
    table: pd.DataFrame
    records: list[RunRecord]
    source: str  # where the records were read, for the caption ("results/quick/runs")
    reading_link: str | None = None

    @property
    def compact_html(self) -> str:
        return compact_html(compact_frame(self.table))

    def summary(self) -> str:
        """Markdown: the caption (with where the records came from), the plain words when the
        method did nothing, and the generated claims paragraph."""
        n = len({r.path for r in self.records})
        read = (f" Read from {n} run records in `{self.source}`." if n else
                f" No run records in `{self.source}`: run `python -m ftcl reproduce --profile "
                f"{self.records_profile}` first; only the paper's rows are shown.")
        parts = [compact_caption(self.table, self.reading_link) + read,
                 plain_words(self.table, self.records), text.claims_paragraph(self.table)]
        return "\n\n".join(p for p in parts if p)

    @property
    def records_profile(self) -> str:
        return Path(self.source).parent.name or "quick"

    def detail_html(self) -> str:
        """Every row of the paper's table (the measured rows labelled "measured": the data is in
        the caption) at every tIoU threshold, with the full caption, folded."""
        frame = text.display_frame(self.table)
        measured = (self.table["row"] == "measured").to_numpy()
        frame.loc[measured, "Numbers from"] = "measured"
        body = frame.to_html(index=False, escape=True, border=0, na_rep="–")
        caption = html.escape(self.table.attrs["caption"])
        return _details(f"Every row of the paper's Table {self.table.attrs['number']} and every "
                        "tIoU threshold", body + f"<p>{caption}</p>")

    def delta_png(self) -> bytes:
        return figures.figure_png(figures.delta_figure(self.table))

    def tiou_figure(self):
        return figures.tiou_figure(self.table)

    def runs_html(self) -> str:
        """The runs behind the measured rows and what each row trains, folded."""
        runs = tables.seed_frame(self.key, self.records).round(2)
        rows = method_overview(self.key)
        return (_details(f"The {len(runs)} training runs behind the measured rows",
                         runs.to_html(index=False, border=0))
                + _details("What each row trains (ftcl.config.METHODS)",
                           rows.to_html(index=False, border=0)))


def table_page(key: str, results_dir: str | Path | None = None, profile: str = "quick",
               reading_link: str | None = None) -> TablePage:
    """Read the run records of ``profile`` and build table ``key``'s page (quietly: where the
    records came from is said in the caption)."""
    results = resolve_results_dir(results_dir)
    records = load_records(find_run_files(results, profile))
    return TablePage(key, tables.build_table(key, records), records,
                     display_path(runs_dir(results, profile)), reading_link)
