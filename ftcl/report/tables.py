"""Tables 1-5 of the paper, rebuilt from run records, with paired differences and the paper's rows.

The batch (:mod:`ftcl.reproduce`) writes one run record per training run to
``<results_dir>/<profile>/runs/<run_id>.json`` (the dict :func:`ftcl.train.train` returns) and then
calls :func:`build_tables`, which

1. reads and validates every record (:func:`ftcl.report.records.load_record`: a corrupt file or a
   missing field raises an error naming the file); writing refuses records of several commits or
   of a dirty tree (:func:`~ftcl.report.records.check_single_commit`) unless ``allow_mixed=True``;
2. aggregates the records of each (dataset, method) over seeds
   (:func:`ftcl.report.statistics.aggregate`): mean, sample
   standard deviation, min and max of the detection mAP at each tIoU threshold and of its average
   over the paper's range, all in % (the average is recomputed from the per-threshold mAP over
   :attr:`ftcl.data.DatasetSpec.map_average_range`: 0.1-0.7 on THUMOS14-like data, 0.5-0.95 on
   ActivityNet-like data);
3. compares each row with its baseline (:attr:`TableSpec.baselines`; controls "beyond the paper"
   with FTCL) **paired by seed**: the mean difference of the average mAP with its 95 % paired t
   interval (:mod:`ftcl.report.statistics`), beside the paper's own difference (absolute points,
   from :mod:`ftcl.report.paper`) and a verdict that is *supported* / *contradicted* only when the
   interval excludes 0, *unresolved* otherwise;
4. lays out each table (:data:`ftcl.report.layout.TABLES`, :func:`~ftcl.report.layout.table_rows`):
   measured rows, every row of the paper's table labelled "paper (real ... I3D features), single
   run";
5. writes ``<results_dir>/<profile>/tables/table{1..5}.csv`` and ``.md`` and ``claims.csv``
   atomically; the Markdown carries a caption naming the data, the unit, the thresholds, the
   table's resolution (interval half-width), the device and the provenance, and a paragraph
   generated from the intervals (:func:`ftcl.report.text.claims_paragraph`).

The figures are :mod:`ftcl.report.figures`, the book's closing note :mod:`ftcl.report.closing`.

The paper reports single runs on the real I3D features; our measured rows are means over seeds on
the data named in the title (by default the synthetic SynTHUMOS14 / SynANet benchmarks), so the
two are compared in direction (does a row beat its baseline, with an interval that excludes 0),
not in absolute value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import get_spec
from ..io import atomic_write_text
from ..paths import RESULTS, display_path, resolve_results_dir, runs_dir, tables_dir
from . import paper, statistics
from .layout import (
    BEYOND_PAPER,
    DATA_NAMES,
    DATA_TITLES,
    FAMILY_SYNTHETIC,
    TABLES,
    row_label,
    table_rows,
    threshold_label,
)
from .records import (
    RunRecord,
    check_single_commit,
    check_single_data_version,
    find_run_files,
    load_records,
    records_provenance,
)
from .text import caption, claims_frame, to_markdown

DELTA_COLUMNS = ["baseline", "delta", "delta low", "delta high", "delta n", "paper delta",
                 "excludes 0", "verdict", "beyond paper"]


def _family_thresholds(family: str) -> tuple[tuple[float, ...], tuple[float, float]]:
    spec = get_spec(family, "full")
    return tuple(float(t) for t in spec.tiou_thresholds), tuple(spec.map_average_range)


def value_columns(thresholds: Sequence[float], average_range: Sequence[float]) -> list[str]:
    """Names of a table's value columns: ``mAP@<t> (%)`` per threshold, then the average."""
    lo, hi = average_range
    return [f"mAP@{threshold_label(t)} (%)" for t in thresholds] + [f"AVG {lo:g}-{hi:g} (%)"]


def _per_seed(records: Sequence[RunRecord], method: str, dataset: str) -> dict[int, float]:
    return {r.seed: r.average_percent for r in records
            if r.method == method and r.dataset == dataset}


def _thresholds(key: str, spec, mine: Sequence[RunRecord]
                ) -> tuple[tuple[float, ...], tuple[float, float]]:
    """The tIoU thresholds and average range of table ``key``: its records' (all alike), or the
    data family's when there is no record."""
    if not mine:
        return _family_thresholds(spec.family)
    thresholds, average_range = mine[0].tiou_thresholds, mine[0].average_range
    for r in mine[1:]:
        if len(r.tiou_thresholds) != len(thresholds) or not np.allclose(
                r.tiou_thresholds, thresholds):
            raise ValueError(f"{key}: run records {mine[0].path} and {r.path} use "
                             "different tIoU thresholds")
    return thresholds, average_range


def _measured_rows(key: str, method: str, baseline: str | None, beyond: bool,
                   stats_frame: pd.DataFrame, mine: Sequence[RunRecord], names: list[str],
                   average_range) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The measured rows of ``method`` in table ``key`` (one per dataset and profile, or an
    empty one) and their comparisons with ``baseline``."""
    label = row_label(key, method) + (f" ({BEYOND_PAPER})" if beyond else "")
    measured = stats_frame[stats_frame["method"] == method]
    rows: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    if measured.empty:  # keep the paper's row order visible: an empty measured row
        rows.append({"row": "measured", "method": method, "label": label,
                     "source": "measured: no run record", "n_seeds": 0, "seeds": "",
                     "baseline": baseline or "", "beyond paper": beyond})
    for (dataset, profile), block in measured.groupby(["dataset", "profile"], sort=True):
        n = int(block["n_seeds"].iloc[0])
        data = f"{DATA_NAMES.get(dataset, dataset)} ({profile})"
        row: dict[str, Any] = {
            "row": "measured", "method": method, "label": label,
            "source": f"measured, {data}, {n} seed{'s' if n != 1 else ''}",
            "n_seeds": n, "seeds": block["seeds"].iloc[0], "baseline": baseline or "",
            "beyond paper": beyond}
        metric_rows = list(block[block["metric"].str.startswith("mAP@")].itertuples())
        metric_rows.append(next(block[block["metric"] == "avg"].itertuples()))
        for name, m in zip(names, metric_rows, strict=True):
            stem = name.removesuffix(" (%)")
            row.update({name: m.mean, f"{stem} std": m.std, f"{stem} min": m.min,
                        f"{stem} max": m.max})
        if baseline is not None:
            comp = _comparison(key, mine, method, label, baseline, dataset, beyond,
                               average_range)
            row.update({"delta": comp["mean"], "delta low": comp["low"],
                        "delta high": comp["high"], "delta n": comp["n"],
                        "paper delta": comp["paper_delta"],
                        "excludes 0": comp["excludes_zero"], "verdict": comp["verdict"]})
            comparisons.append(comp)
        rows.append(row)
    return rows, comparisons


def _frame(rows: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    """The rows in the table's column order, numbers as floats, empty strings for missing text."""
    stat_columns = [f"{n.removesuffix(' (%)')} {s}" for n in names for s in ("std", "min", "max")]
    ordered = ["row", "method", "label", "source", "n_seeds", "seeds"]
    for n in names:
        stem = n.removesuffix(" (%)")
        ordered += [n, f"{stem} std", f"{stem} min", f"{stem} max"]
    ordered += DELTA_COLUMNS
    table = pd.DataFrame(rows, columns=ordered)
    for c in names + stat_columns + ["n_seeds", "delta", "delta low", "delta high", "delta n",
                                     "paper delta"]:
        table[c] = table[c].astype(float)
    # object first: a column of only NaN is float64, and filling it with text is deprecated
    for c in ("method", "baseline", "verdict"):
        table[c] = table[c].astype(object).fillna("")
    return table


def _attrs(key: str, spec, mine: Sequence[RunRecord], thresholds, average_range,
           names: list[str], comparisons: list[dict[str, Any]]) -> dict[str, Any]:
    """A table's metadata (``DataFrame.attrs``), without its caption."""
    datasets = sorted({r.dataset for r in mine}) or [FAMILY_SYNTHETIC[spec.family]]
    half = [c["half_width"] for c in comparisons if math.isfinite(c["half_width"])]
    return {
        "key": key, "number": spec.number, "title": spec.title, "family": spec.family,
        "data_title": "; ".join(DATA_TITLES.get(d, d) for d in datasets),
        "thresholds": list(thresholds), "average_range": list(average_range),
        "value_columns": names, "provenance": records_provenance(mine),
        "comparisons": comparisons,
        "resolution": {"median": float(np.median(half)) if half else math.nan,
                       "max": float(max(half)) if half else math.nan,
                       "min": float(min(half)) if half else math.nan},
        "references": [{"method": r.method, "name": r.name, "label": r.label,
                        "url": paper.FTCL_PAPER_URL, "location": r.location}
                       for r in paper.reference_rows(key)],
        "measured_data": sorted({f"{DATA_NAMES.get(r.dataset, r.dataset)}"
                                 f"{f' v{r.data_version}' if r.data_version else ''} ({r.profile})"
                                 for r in mine}),
    }


def build_table(key: str, records: Sequence[RunRecord]) -> pd.DataFrame:
    """Table ``key`` (``"table1"`` ... ``"table5"``): measured rows, paired deltas, paper rows.

    Columns: ``row`` (``"measured"`` or ``"reference"``), ``method`` (the ``METHODS`` key; empty
    for a paper row no configuration reproduces), ``label``, ``source`` (where the numbers come
    from), ``n_seeds``, ``seeds``, then for each tIoU threshold and for the average
    ``<name> (%)`` (mean over seeds, or the published value) followed by ``<name> std``,
    ``<name> min``, ``<name> max`` (NaN for reference rows); then the paired comparison of the
    average with the row's baseline (:func:`ftcl.report.statistics.paired_difference`, paired t,
    95 %): ``baseline``, ``delta``, ``delta low``, ``delta high``, ``delta n``, ``paper delta``
    (absolute, from the paper's own table), ``excludes 0``, ``verdict``
    (:func:`ftcl.report.statistics.verdict`) and ``beyond paper``. Metadata (title, caption,
    thresholds, provenance, the comparisons with their per-seed differences) is in
    ``DataFrame.attrs``.
    """
    if key not in TABLES:
        raise ValueError(f"unknown table {key!r}; choose one of {sorted(TABLES)}")
    spec = TABLES[key]
    layout = table_rows(key)
    methods = [m for m, _, _ in layout]
    mine = [r for r in records if r.family == spec.family and r.method in methods]
    thresholds, average_range = _thresholds(key, spec, mine)
    names = value_columns(thresholds, average_range)
    stats_frame = statistics.aggregate(mine)
    rows: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    for method, baseline, beyond in layout:
        measured, compared = _measured_rows(key, method, baseline, beyond, stats_frame, mine,
                                            names, average_range)
        rows += measured
        comparisons += compared
        for ref in paper.reference_rows(key, method):
            rows.append(_reference_row(ref, row_label(key, method), names, thresholds,
                                       average_range))
    measured_methods = {r.method for r in mine}
    for method, baseline in spec.extra_comparisons:  # more of the paper's claims, no own row
        if method in measured_methods and baseline in measured_methods:
            for dataset in sorted({r.dataset for r in mine if r.method == method}):
                comparisons.append(_comparison(key, mine, method, row_label(key, method),
                                               baseline, dataset, False, average_range))
    for ref in paper.reference_rows(key):
        if ref.method is None:  # the paper's other rows (other methods, not trained here)
            rows.append(_reference_row(ref, ref.name, names, thresholds, average_range))
    table = _frame(rows, names)
    table.attrs.update(_attrs(key, spec, mine, thresholds, average_range, names, comparisons))
    table.attrs["caption"] = caption(table)
    return table


def _comparison(key: str, records: Sequence[RunRecord], method: str, label: str,
                baseline: str, dataset: str, beyond: bool, average_range) -> dict[str, Any]:
    """The paired comparison ``method - baseline`` of the average mAP on ``dataset`` (see
    :func:`build_table`), with the paper's delta and the verdict."""
    diff = statistics.paired_difference(_per_seed(records, method, dataset),
                                        _per_seed(records, baseline, dataset))
    published = None if beyond else paper.paper_delta(key, method, baseline,
                                                      tuple(average_range))
    word = statistics.verdict(diff, published) if not beyond else (
        "resolved" if diff.excludes_zero else "unresolved")
    return {"method": method, "label": label, "baseline": baseline,
            "baseline_label": row_label(key, baseline), "dataset": dataset,
            "seeds": list(diff.seeds), "differences": list(diff.differences),
            "mean": diff.mean, "sd": diff.sd, "low": diff.low, "high": diff.high,
            "half_width": diff.half_width, "n": diff.n, "paper_delta": published,
            "excludes_zero": diff.excludes_zero, "verdict": word, "beyond_paper": beyond,
            "interval": f"{diff.method}, {round(100 * diff.level)} %"}


def _reference_row(ref, label: str, names: list[str], thresholds, average_range
                   ) -> dict[str, Any]:
    row: dict[str, Any] = {"row": "reference", "method": ref.method or "", "label": label,
                           "source": ref.label, "n_seeds": math.nan, "seeds": ""}
    published = {round(t, 4): v for t, v in ref.map.items()}
    for name, t in zip(names, thresholds, strict=False):
        row[name] = published.get(round(t, 4), math.nan)
    average = ref.average(*average_range)
    if average is not None:
        row[names[-1]] = average
    return row


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """Write each table as ``<key>.csv`` (numbers) and ``<key>.md`` (with caption), atomically,
    and ``claims.csv``: every comparison of every table with its verdict."""
    out_dir = Path(out_dir)
    written = []
    for key, table in tables.items():
        written.append(atomic_write_text(out_dir / f"{key}.csv", table.to_csv(index=False)))
        written.append(atomic_write_text(out_dir / f"{key}.md", to_markdown(table)))
    claims = pd.concat([claims_frame(t) for t in tables.values()], ignore_index=True)
    written.append(atomic_write_text(out_dir / "claims.csv", claims.to_csv(index=False)))
    return written


def build_tables(results_dir: str | Path = RESULTS, profile: str = "quick",
                 write: bool = True, allow_mixed: bool = False) -> dict[str, pd.DataFrame]:
    """Build Tables 1-5 from ``<results_dir>/<profile>/runs/*.json``.

    Parameters
    ----------
    results_dir : path
        The results root (``results/``).
    profile : str
        ``quick`` or ``full``: which sub-folder to read.
    write : bool
        Also write ``<results_dir>/<profile>/tables/table{1..5}.csv`` and ``.md`` (atomic).
    allow_mixed : bool
        Writing refuses records from more than one commit or from a dirty tree
        (:func:`ftcl.report.records.check_single_commit`) unless this is True.

    Returns
    -------
    dict of str to DataFrame
        ``{"table1": ..., ..., "table5": ...}`` (see :func:`build_table`). A table without any
        run record holds only its reference rows, and its caption says so.
    """
    records = load_records(find_run_files(results_dir, profile))
    check_single_data_version(records)
    if write:
        check_single_commit(records, allow_mixed)
    tables = {key: build_table(key, records) for key in TABLES}
    if write:
        write_tables(tables, tables_dir(results_dir, profile))
    return tables


def load_table(key: str, results_dir: str | Path | None = None, profile: str = "quick"
               ) -> tuple[pd.DataFrame, list[RunRecord]]:
    """What each table chapter starts with: read the run records of ``profile``, build table
    ``key`` and say how many records it read (or that there are none: then only the published
    reference rows are shown). Returns ``(table, records)``.
    """
    # The chapters show whole descriptions, overrides and commits: pandas would cut them at 50
    # characters with "..." (the book lays wide tables out to scroll sideways, book/static).
    pd.set_option("display.max_colwidth", None)
    results = resolve_results_dir(results_dir)
    run_files = find_run_files(results, profile)
    records = load_records(run_files)
    folder = runs_dir(results, profile)
    if run_files:
        print(f"Read {len(run_files)} run records from {display_path(folder)}.")
    else:
        print(f"NO RUN RECORDS for profile {profile!r} in {folder}: run "
              f"`python -m ftcl reproduce --profile {profile}` first. Only the published "
              "reference rows are shown below.")
    return build_table(key, records), records


def seed_frame(key: str, records: Sequence[RunRecord]) -> pd.DataFrame:
    """One line per run of table ``key``: data, method, seed, AVG and classification mAP (%),
    device, git commit and the record file."""
    spec = TABLES[key]
    methods = [m for m, _, _ in table_rows(key)]
    runs = sorted((r for r in records if r.family == spec.family and r.method in methods),
                  key=lambda r: (methods.index(r.method), r.dataset, r.seed))
    lo, hi = _family_thresholds(spec.family)[1]
    return pd.DataFrame([
        {"row": row_label(key, r.method), "data": f"{DATA_NAMES.get(r.dataset, r.dataset)} "
         f"({r.profile})", "seed": r.seed, f"AVG {lo:g}-{hi:g} (%)": r.average_percent,
         "classification mAP (%)": r.classification_percent, "device": r.device,
         "git commit": r.provenance.get("git_commit", ""), "record": r.path.name}
        for r in runs],
        columns=["row", "data", "seed", f"AVG {lo:g}-{hi:g} (%)", "classification mAP (%)",
                 "device", "git commit", "record"])
