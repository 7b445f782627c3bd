"""Tables 1-5 of the paper, rebuilt from run records, with paired differences and the paper's rows.

The batch (:mod:`ftcl.reproduce`) writes one run record per training run to
``<results_dir>/<profile>/runs/<run_id>.json`` (the dict :func:`ftcl.train.train` returns) and then
calls :func:`build_tables`, which

1. reads and validates every record (:func:`load_record`: a corrupt file or a missing field raises
   an error naming the file); writing refuses records of several commits or of a dirty tree
   (:func:`check_single_commit`) unless ``allow_mixed=True``;
2. aggregates the records of each (dataset, method) over seeds (:func:`aggregate`): mean, sample
   standard deviation, min and max of the detection mAP at each tIoU threshold and of its average
   over the paper's range, all in % (the average is recomputed from the per-threshold mAP over
   :attr:`ftcl.data.DatasetSpec.map_average_range`: 0.1-0.7 on THUMOS14-like data, 0.5-0.95 on
   ActivityNet-like data);
3. compares each row with its baseline (:attr:`TableSpec.baselines`; controls "beyond the paper"
   with FTCL) **paired by seed**: the mean difference of the average mAP with its 95 % paired t
   interval (:mod:`ftcl.stats`), beside the paper's own difference (absolute points, from
   :mod:`ftcl.paper_results`) and a verdict that is *supported* / *contradicted* only when the
   interval excludes 0, *unresolved* otherwise;
4. lays out each table (:data:`TABLES`, :func:`table_rows`): measured rows, every row of the
   paper's table labelled "paper (real ... I3D features), single run";
5. writes ``<results_dir>/<profile>/tables/table{1..5}.csv`` and ``.md`` and ``claims.csv``
   atomically; the Markdown carries a caption naming the data, the unit, the thresholds, the
   table's resolution (interval half-width), the device and the provenance, and a paragraph
   generated from the intervals (:func:`claims_paragraph`).

:func:`delta_figure` draws the per-seed paired differences with their interval and the paper's
delta (seaborn, static); :func:`tiou_figure` draws mAP against tIoU (plotly).

The paper reports single runs on the real I3D features; our measured rows are means over seeds on
the data named in the title (by default the synthetic SynTHUMOS14 / SynANet benchmarks), so the
two are compared in direction (does a row beat its baseline, with an interval that excludes 0),
not in absolute value.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import paper_results, stats
from .io import atomic_write_text

REQUIRED_FIELDS = ("status", "method", "dataset", "profile", "seed", "device", "tiou_thresholds",
                   "map", "average_map", "average_range", "classification_map", "provenance")

DATA_NAMES = {
    "synthumos14": "SynTHUMOS14",
    "synanet": "SynANet",
    "thumos14": "THUMOS14 (real I3D features)",
    "activitynet13": "ActivityNet 1.3 (real I3D features)",
}
REAL_DATA_NAMES = {"thumos14": "real THUMOS14 I3D features",
                   "activitynet13": "real ActivityNet 1.3 I3D features"}
# What a table's measured rows were measured on, for its title.
DATA_TITLES = {
    "synthumos14": "SynTHUMOS14: synthetic features on real THUMOS14 annotations",
    "synanet": "SynANet: synthetic features on real ActivityNet 1.3 annotations",
    "thumos14": "THUMOS14: real I3D features",
    "activitynet13": "ActivityNet 1.3: real I3D features",
}
FAMILY_SYNTHETIC = {"thumos14": "synthumos14", "activitynet13": "synanet"}
BEYOND_PAPER = "beyond the paper"


@dataclass(frozen=True)
class TableSpec:
    """One of the paper's tables: which data family, which methods (``METHODS`` keys), labels,
    and the baseline each method is compared with (paired by seed)."""

    key: str
    number: int
    title: str
    family: str  # "thumos14" or "activitynet13" (DatasetSpec.family)
    methods: tuple[str, ...]
    labels: dict[str, str]
    baselines: dict[str, str] = dataclasses.field(default_factory=dict)
    # More of the paper's claims in this table, (method, baseline), shown in the claims
    # paragraph, the figure and the closing note (not as table columns).
    extra_comparisons: tuple[tuple[str, str], ...] = ()

    def label(self, method: str) -> str:
        return self.labels.get(method, method)


TABLES: dict[str, TableSpec] = {
    "table1": TableSpec(
        "table1", 1, "FTCL against its backbone (the paper's Table 1, THUMOS14)", "thumos14",
        ("acmnet", "ftcl"), {"acmnet": "ACM-Net", "ftcl": "FTCL (ACM-Net + FSD + LCS)"},
        {"ftcl": "acmnet"}),
    "table2": TableSpec(
        "table2", 2, "FTCL against its backbone (the paper's Table 2, ActivityNet 1.3)",
        "activitynet13",
        ("acmnet", "ftcl"), {"acmnet": "ACM-Net", "ftcl": "FTCL (ACM-Net + FSD + LCS)"},
        {"ftcl": "acmnet"}),
    "table3": TableSpec(
        "table3", 3, "Ablation of the two contrasting objectives (the paper's Table 3, "
        "THUMOS14)", "thumos14",
        ("acmnet", "ftcl-wo-fsd", "ftcl-wo-lcs", "ftcl-both-fsd", "ftcl-both-lcs", "ftcl"),
        {"acmnet": "Baseline (ACM-Net)", "ftcl-wo-fsd": "w/o FSD", "ftcl-wo-lcs": "w/o LCS",
         "ftcl-both-fsd": "FSD for both", "ftcl-both-lcs": "LCS for both",
         "ftcl": "FTCL (FSD + LCS)"},
        {m: "acmnet" for m in ("ftcl-wo-fsd", "ftcl-wo-lcs", "ftcl-both-fsd", "ftcl-both-lcs",
                               "ftcl")},
        # the paper's ablation claim: the full model beats each variant
        tuple(("ftcl", m) for m in ("ftcl-wo-fsd", "ftcl-wo-lcs", "ftcl-both-fsd",
                                    "ftcl-both-lcs"))),
    "table4": TableSpec(
        "table4", 4, "Other sequence alignments in place of FSD and LCS (the paper's Table 4, "
        "THUMOS14)", "thumos14",
        ("ftcl-dtw", "ftcl-ccdtw", "ftcl-dropdtw", "ftcl"),
        {"ftcl-dtw": "DTW", "ftcl-ccdtw": "CC-DTW", "ftcl-dropdtw": "Drop-DTW",
         "ftcl": "FSD + LCS (FTCL)"},
        {"ftcl-dtw": "ftcl", "ftcl-ccdtw": "ftcl", "ftcl-dropdtw": "ftcl"}),
    "table5": TableSpec(
        "table5", 5, "FTCL as a plug-in on other backbones (the paper's Table 5, THUMOS14)",
        "thumos14",
        ("stpn", "stpn-ftcl", "wtalc", "wtalc-ftcl", "cola", "cola-ftcl", "acmnet", "ftcl"),
        {"stpn": "STPN", "stpn-ftcl": "STPN + FTCL", "wtalc": "W-TALC",
         "wtalc-ftcl": "W-TALC + FTCL", "cola": "CoLA", "cola-ftcl": "CoLA + FTCL",
         "acmnet": "ACM-Net", "ftcl": "ACM-Net + FTCL"},
        {"stpn-ftcl": "stpn", "wtalc-ftcl": "wtalc", "cola-ftcl": "cola", "ftcl": "acmnet"}),
}


def _tables_named(field_text: str) -> set[int]:
    found: set[int] = set()
    for lo, hi in re.findall(r"Tables?\s+(\d+)(?:\s*-\s*(\d+))?", field_text):
        found.update(range(int(lo), int(hi or lo) + 1))
    return found


def table_rows(key: str) -> list[tuple[str, str | None, bool]]:
    """``(method, baseline, beyond_paper)`` of every measured row of table ``key``.

    The paper's rows (:data:`TABLES`), then every method of :data:`ftcl.config.METHODS` that no
    table lists but whose ``table`` field names this table (e.g. ``"Table 3 (control, beyond
    the paper)"``): a control is compared with FTCL and marked *beyond the paper*; any other such
    method with the table's plain backbone (ACM-Net) where the table has it, else with FTCL.
    """
    from .config import METHODS

    spec = TABLES[key]
    rows = [(m, spec.baselines.get(m), False) for m in spec.methods]
    listed = {m for s in TABLES.values() for m in s.methods}
    for method, info in METHODS.items():
        if method in listed or spec.number not in _tables_named(info.table):
            continue
        control = "control" in info.table.lower() or BEYOND_PAPER in info.table.lower()
        base = "ftcl" if control or "acmnet" not in spec.methods else "acmnet"
        rows.append((method, base, control))
    return rows


def row_label(key: str, method: str) -> str:
    """The row's label: the paper's name for it, or the method's name for a row beyond the
    paper's table (its description stands in the table's description column)."""
    spec = TABLES[key]
    return spec.labels.get(method, method)


# ------------------------------------------------------------------------------ run records


@dataclass(frozen=True)
class RunRecord:
    """The fields of one run record the tables use (mAP converted to %)."""

    path: Path
    method: str
    run_name: str
    dataset: str
    profile: str
    family: str
    seed: int
    device: str
    tiou_thresholds: tuple[float, ...]
    map_percent: tuple[float, ...]
    average_percent: float  # recomputed over average_range
    average_range: tuple[float, float]  # the dataset spec's range
    classification_percent: float
    provenance: dict
    selection_rule: str | None
    data_version: int | None = None  # synthetic benchmark version (ftcl.data.knobs); None: real


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def load_record(path: str | Path) -> RunRecord:
    """Read and validate one run record (the JSON :func:`ftcl.train.train` returns).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for
    invalid JSON, a missing field, a run that did not finish, an unknown method or dataset, or
    mAP values that are not fractions in [0, 1] with one value per tIoU threshold.
    """
    from .config import METHODS
    from .data import get_spec
    from .evaluation import average_map
    from .runs import record_data_version

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"run record not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"run record {path} is not valid JSON (corrupt or truncated): {exc}"
                         ) from exc
    if not isinstance(data, dict):
        raise ValueError(f"run record {path} must hold a JSON object, got {type(data).__name__}")

    def bad(what: str) -> ValueError:
        return ValueError(f"run record {path}: {what}")

    missing = [k for k in REQUIRED_FIELDS if k not in data]
    if missing:
        raise bad(f"missing field(s) {missing}")
    if data["status"] != "finished":
        raise bad(f"status is {data['status']!r}, not 'finished' (an interrupted run)")
    method, dataset, profile = data["method"], data["dataset"], data["profile"]
    if method not in METHODS:
        raise bad(f"unknown method {method!r}; known: {sorted(METHODS)}")
    try:
        spec = get_spec(dataset, profile)
    except ValueError as exc:
        raise bad(f"unknown dataset/profile {dataset!r}/{profile!r}: {exc}") from exc
    seed = data["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise bad(f"field 'seed' must be a non-negative integer, got {seed!r}")
    thresholds, maps = data["tiou_thresholds"], data["map"]
    if not isinstance(thresholds, list) or not thresholds or not all(map(_is_number, thresholds)):
        raise bad("field 'tiou_thresholds' must be a non-empty list of numbers")
    if not isinstance(maps, list) or len(maps) != len(thresholds):
        raise bad(f"field 'map' must be a list with one value per tIoU threshold "
                  f"({len(thresholds)}), got {maps!r}")
    if not all(_is_number(v) and 0.0 <= v <= 1.0 for v in maps):
        raise bad(f"field 'map' must hold fractions in [0, 1], got {maps}")
    for key in ("average_map", "classification_map"):
        if not (_is_number(data[key]) and 0.0 <= data[key] <= 1.0):
            raise bad(f"field {key!r} must be a fraction in [0, 1], got {data[key]!r}")
    if not isinstance(data["provenance"], dict):
        raise bad("field 'provenance' must be an object")
    lo, hi = (float(x) for x in spec.map_average_range)
    try:
        avg = average_map(np.asarray(maps, dtype=np.float64), thresholds, (lo, hi))
    except ValueError as exc:
        raise bad(f"no tIoU threshold inside the average range {lo:g}-{hi:g}") from exc
    rec_range = data["average_range"]
    same_range = (isinstance(rec_range, list) and len(rec_range) == 2
                  and np.allclose(rec_range, (lo, hi)))
    if same_range and abs(avg - data["average_map"]) > 1e-6:
        raise bad(f"'average_map'={data['average_map']} is not the mean of 'map' over "
                  f"{lo:g}-{hi:g} ({avg}); the record is inconsistent")
    selection = data.get("selection")
    return RunRecord(
        path=path, method=method, run_name=str(data.get("run_name") or method),
        dataset=dataset, profile=profile, family=spec.family, seed=seed,
        device=str(data["device"]),
        tiou_thresholds=tuple(float(t) for t in thresholds),
        map_percent=tuple(100.0 * float(v) for v in maps),
        average_percent=100.0 * avg, average_range=(lo, hi),
        classification_percent=100.0 * float(data["classification_map"]),
        provenance=dict(data["provenance"]),
        selection_rule=selection.get("rule") if isinstance(selection, dict) else None,
        data_version=record_data_version(data) if spec.synthetic else None,
    )


def find_run_files(results_dir: str | Path = "results", profile: str = "quick") -> list[Path]:
    """The run records ``<results_dir>/<profile>/runs/*.json`` (sorted; empty if none)."""
    runs = Path(results_dir) / profile / "runs"
    return sorted(runs.glob("*.json")) if runs.is_dir() else []


def load_records(paths: Iterable[str | Path]) -> list[RunRecord]:
    """Load and validate records; two records of one (dataset, profile, method, seed) fail."""
    records = [load_record(p) for p in paths]
    seen: dict[tuple, Path] = {}
    for r in records:
        key = (r.dataset, r.profile, r.method, r.seed)
        if key in seen:
            raise ValueError(f"two run records for {r.method} on {r.dataset}/{r.profile} with "
                             f"seed {r.seed}: {seen[key]} and {r.path} (remove one)")
        seen[key] = r.path
    return records


# ------------------------------------------------------------------------------ aggregation


def _stats(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample std (ddof=1; NaN for one value), min and max."""
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else math.nan,
            "min": float(a.min()), "max": float(a.max())}


def threshold_label(t: float) -> str:
    """``0.30000000000000004`` -> ``"0.3"``; ``0.55`` -> ``"0.55"``."""
    return f"{round(float(t), 4):g}"


def aggregate(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Statistics over seeds of each (dataset, profile, method), in %.

    Returns a long table with one row per (dataset, profile, method, metric): ``metric`` is
    ``"mAP@<t>"`` (``tiou`` = t), ``"avg"`` (mean over ``average_range``, ``tiou`` NaN) or
    ``"cls"`` (video classification mAP); columns ``mean``, ``std`` (sample, ddof=1; NaN for one
    seed), ``min``, ``max``, ``n_seeds``, ``seeds`` and ``average_range``.
    """
    columns = ["dataset", "profile", "method", "metric", "tiou", "mean", "std", "min", "max",
               "n_seeds", "seeds", "average_range"]
    groups: dict[tuple[str, str, str], list[RunRecord]] = {}
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


# ------------------------------------------------------------------------------ tables


def _family_thresholds(family: str) -> tuple[tuple[float, ...], tuple[float, float]]:
    from .data import get_spec

    spec = get_spec(family, "full")
    return tuple(float(t) for t in spec.tiou_thresholds), tuple(spec.map_average_range)


def value_columns(thresholds: Sequence[float], average_range: Sequence[float]) -> list[str]:
    """Names of a table's value columns: ``mAP@<t> (%)`` per threshold, then the average."""
    lo, hi = average_range
    return [f"mAP@{threshold_label(t)} (%)" for t in thresholds] + [f"AVG {lo:g}-{hi:g} (%)"]


def _provenance(records: Sequence[RunRecord]) -> dict[str, Any]:
    def distinct(values: Iterable[Any]) -> list[str]:
        return sorted({str(v) for v in values if v not in (None, "")})

    return {
        "runs": len(records),
        "git_commits": distinct(r.provenance.get("git_commit") for r in records),
        "ftcl_versions": distinct(r.provenance.get("ftcl_version") for r in records),
        "torch_versions": distinct(r.provenance.get("torch") for r in records),
        "devices": distinct(r.provenance.get("gpu") or r.device for r in records),
        "selection_rules": distinct(r.selection_rule for r in records),
        "created_utc": distinct(r.provenance.get("created_utc") for r in records),
        "files": [str(r.path) for r in records],
    }


def check_single_data_version(records: Sequence[RunRecord]) -> None:
    """Refuse records of one synthetic data set made with different benchmark versions
    (``data_version``, :mod:`ftcl.data.knobs`): v1 and v2 numbers never share a table."""
    versions: dict[str, set] = {}
    for r in records:
        if r.data_version is not None:
            versions.setdefault(r.dataset, set()).add(r.data_version)
    mixed = {d: sorted(v) for d, v in versions.items() if len(v) > 1}
    if mixed:
        raise ValueError(
            f"run records of {', '.join(sorted(mixed))} come from several data versions "
            f"({mixed}): v1 and v2 of the synthetic benchmark never share a table; move the "
            "older records out of the runs folder (or re-run the batch into a fresh one)")


def check_single_commit(records: Sequence[RunRecord], allow_mixed: bool = False) -> None:
    """Refuse records from more than one git commit, or from a dirty tree (``+dirty``).

    A table regenerated "at one commit" must come from records that all carry the same clean
    commit. ``allow_mixed=True`` lets it pass (the caption then says so).
    """
    if allow_mixed or not records:
        return
    commits = sorted({str(r.provenance.get("git_commit") or "unknown") for r in records})
    dirty = [c for c in commits if c.endswith("+dirty") or c == "unknown"]
    if len(commits) > 1 or dirty:
        raise ValueError(
            f"the {len(records)} run records come from {len(commits)} commit state(s) "
            f"({', '.join(commits)}){'; dirty or unknown: ' + ', '.join(dirty) if dirty else ''}"
            ": tables are written from one clean commit only. Re-run the batch at one clean "
            "commit into a fresh results folder, or pass allow_mixed=True (ftcl reproduce "
            "--allow-mixed) to write them anyway")


def _per_seed(records: Sequence[RunRecord], method: str, dataset: str) -> dict[int, float]:
    return {r.seed: r.average_percent for r in records
            if r.method == method and r.dataset == dataset}


def build_table(key: str, records: Sequence[RunRecord]) -> pd.DataFrame:
    """Table ``key`` (``"table1"`` ... ``"table5"``): measured rows, paired deltas, paper rows.

    Columns: ``row`` (``"measured"`` or ``"reference"``), ``method`` (the ``METHODS`` key; empty
    for a paper row no configuration reproduces), ``label``, ``source`` (where the numbers come
    from), ``n_seeds``, ``seeds``, then for each tIoU threshold and for the average
    ``<name> (%)`` (mean over seeds, or the published value) followed by ``<name> std``,
    ``<name> min``, ``<name> max`` (NaN for reference rows); then the paired comparison of the
    average with the row's baseline (:func:`ftcl.stats.paired_difference`, paired t, 95 %):
    ``baseline``, ``delta``, ``delta low``, ``delta high``, ``delta n``, ``paper delta``
    (absolute, from the paper's own table), ``excludes 0``, ``verdict``
    (:func:`ftcl.stats.verdict`) and ``beyond paper``. Metadata (title, caption, thresholds,
    provenance, the comparisons with their per-seed differences) is in ``DataFrame.attrs``.
    """
    if key not in TABLES:
        raise ValueError(f"unknown table {key!r}; choose one of {sorted(TABLES)}")
    spec = TABLES[key]
    layout = table_rows(key)
    methods = [m for m, _, _ in layout]
    mine = [r for r in records if r.family == spec.family and r.method in methods]
    if mine:
        thresholds, average_range = mine[0].tiou_thresholds, mine[0].average_range
        for r in mine[1:]:
            if len(r.tiou_thresholds) != len(thresholds) or not np.allclose(
                    r.tiou_thresholds, thresholds):
                raise ValueError(f"{key}: run records {mine[0].path} and {r.path} use "
                                 "different tIoU thresholds")
    else:
        thresholds, average_range = _family_thresholds(spec.family)
    names = value_columns(thresholds, average_range)
    stats_frame = aggregate(mine)
    datasets = sorted({r.dataset for r in mine}) or [FAMILY_SYNTHETIC[spec.family]]
    rows: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    for method, baseline, beyond in layout:
        label = row_label(key, method) + (f" ({BEYOND_PAPER})" if beyond else "")
        measured = stats_frame[stats_frame["method"] == method]
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
        for ref in paper_results.reference_rows(key, method):
            rows.append(_reference_row(ref, row_label(key, method), names, thresholds,
                                       average_range))
    measured_methods = {r.method for r in mine}
    for method, baseline in spec.extra_comparisons:  # more of the paper's claims, no own row
        if method in measured_methods and baseline in measured_methods:
            for dataset in sorted({r.dataset for r in mine if r.method == method}):
                comparisons.append(_comparison(key, mine, method, row_label(key, method),
                                               baseline, dataset, False, average_range))
    for ref in paper_results.reference_rows(key):
        if ref.method is None:  # the paper's other rows (other methods, not trained here)
            rows.append(_reference_row(ref, ref.name, names, thresholds, average_range))
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
    table["method"] = table["method"].fillna("")
    for c in ("baseline", "verdict"):
        table[c] = table[c].fillna("")
    prov = _provenance(mine)
    half = [c["half_width"] for c in comparisons if math.isfinite(c["half_width"])]
    table.attrs.update({
        "key": key, "number": spec.number, "title": spec.title, "family": spec.family,
        "data_title": "; ".join(DATA_TITLES.get(d, d) for d in datasets),
        "thresholds": list(thresholds), "average_range": list(average_range),
        "value_columns": names, "provenance": prov, "comparisons": comparisons,
        "resolution": {"median": float(np.median(half)) if half else math.nan,
                       "max": float(max(half)) if half else math.nan,
                       "min": float(min(half)) if half else math.nan},
        "references": [{"method": r.method, "name": r.name, "label": r.label,
                        "url": paper_results.FTCL_PAPER_URL, "location": r.location}
                       for r in paper_results.reference_rows(key)],
        "measured_data": sorted({f"{DATA_NAMES.get(r.dataset, r.dataset)}"
                                 f"{f' v{r.data_version}' if r.data_version else ''} ({r.profile})"
                                 for r in mine}),
    })
    table.attrs["caption"] = caption(table)
    return table


def _comparison(key: str, records: Sequence[RunRecord], method: str, label: str,
                baseline: str, dataset: str, beyond: bool, average_range) -> dict[str, Any]:
    """The paired comparison ``method - baseline`` of the average mAP on ``dataset`` (see
    :func:`build_table`), with the paper's delta and the verdict."""
    diff = stats.paired_difference(_per_seed(records, method, dataset),
                                   _per_seed(records, baseline, dataset))
    paper = None if beyond else paper_results.paper_delta(key, method, baseline,
                                                          tuple(average_range))
    word = stats.verdict(diff, paper) if not beyond else (
        "resolved" if diff.excludes_zero else "unresolved")
    return {"method": method, "label": label, "baseline": baseline,
            "baseline_label": row_label(key, baseline), "dataset": dataset,
            "seeds": list(diff.seeds), "differences": list(diff.differences),
            "mean": diff.mean, "sd": diff.sd, "low": diff.low, "high": diff.high,
            "half_width": diff.half_width, "n": diff.n, "paper_delta": paper,
            "excludes_zero": diff.excludes_zero, "verdict": word, "beyond_paper": beyond,
            "interval": f"{diff.method}, {round(100 * diff.level)} %"}


DELTA_COLUMNS = ["baseline", "delta", "delta low", "delta high", "delta n", "paper delta",
                 "excludes 0", "verdict", "beyond paper"]


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
                f"half-width): {res['median']:.2f} points median, {res['min']:.2f}-"
                f"{res['max']:.2f} over its comparisons; a difference smaller than that cannot "
                "be told from 0. 'paper Δ' is the absolute difference of the paper's own "
                "numbers; 'supported' / 'contradicted': the interval excludes 0 on the paper's "
                "/ the other side; 'unresolved': it contains 0.")
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
    lines += ["", f"Paper rows: {paper_results.FTCL_PAPER}, {paper_results.FTCL_PAPER_URL}, "
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


def build_tables(results_dir: str | Path = "results", profile: str = "quick",
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
        (:func:`check_single_commit`) unless this is True.

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
        write_tables(tables, Path(results_dir) / profile / "tables")
    return tables


def resolve_results_dir(results_dir: str | Path | None = None) -> Path:
    """The results root: ``results_dir`` if given, else the first existing ``results/`` folder
    in the working directory, its parent (a notebook in ``notebooks/``) or the checkout holding
    this package; ``./results`` if none exists."""
    if results_dir is not None:
        return Path(results_dir)
    cwd = Path.cwd()
    candidates = [cwd / "results", cwd.parent / "results",
                  Path(__file__).resolve().parent.parent / "results"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def method_overview(key: str) -> pd.DataFrame:
    """The configurations behind a table's rows: ``METHODS`` key, label, baseline, description,
    overrides."""
    from .config import METHODS

    return pd.DataFrame([
        {"method": m, "row": row_label(key, m), "compared with": base or "",
         "beyond the paper": beyond, "description": METHODS[m].description,
         "overrides": ", ".join(f"{k}={v}" for k, v in METHODS[m].overrides.items())}
        for m, base, beyond in table_rows(key)])


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


# ------------------------------------------------------------------------------ figure


def tiou_figure(table: pd.DataFrame):
    """mAP (%) against tIoU for every row of ``table`` that has per-threshold values.

    Measured rows are solid lines with the seed standard deviation as error bars; reference rows
    are dashed. Returns a :class:`plotly.graph_objects.Figure` (show it with
    :func:`ftcl.viz.to_offline_html` in the book).
    """
    import plotly.graph_objects as go

    a = table.attrs
    names = a["value_columns"][:-1]
    x = [float(threshold_label(t)) for t in a["thresholds"]]
    fig = go.Figure()
    palette = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
               "#000000")
    colour = {m: palette[i % len(palette)] for i, m in enumerate(dict.fromkeys(table["method"]))}
    for _, r in table.iterrows():
        y = [r[n] for n in names]
        if not r["method"] or all(math.isnan(v) for v in y):  # paper rows not trained here
            continue
        measured = r["row"] == "measured"
        std = [r[f"{n.removesuffix(' (%)')} std"] for n in names]
        error = (dict(type="data", array=[0.0 if math.isnan(s) else s for s in std],
                      visible=True) if measured and not all(math.isnan(s) for s in std) else None)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines+markers", error_y=error,
            name=f"{r['label']} ({'measured' if measured else 'published'})",
            line=dict(color=colour[r["method"]], dash="solid" if measured else "dash"),
            hovertext=r["source"], hoverinfo="x+y+text"))
    fig.update_layout(
        title=f"Table {a['number']}: mAP against tIoU", xaxis_title="tIoU threshold",
        yaxis_title="mAP (%)", legend_title="row", template="plotly_white",
        xaxis=dict(tickmode="array", tickvals=x), height=450)
    return fig


def delta_figure(table: pd.DataFrame):
    """Per-seed paired differences of the average mAP to each row's baseline (seaborn).

    One line per comparison: the seeds' differences as dots, their mean with the 95 % paired t
    interval as a bar, the paper's delta (absolute, from its own table) as a red diamond, and 0
    as a dashed line. Returns a :class:`matplotlib.figure.Figure` (static; the book embeds it as
    a PNG).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    a = table.attrs
    comps = a["comparisons"]
    names = [textwrap.fill(f"{c['label']} − {c['baseline_label']}", 42) for c in comps]
    points = pd.DataFrame(
        [{"comparison": n, "Δ AVG (points)": d, "seed": s}
         for n, c in zip(names, comps, strict=True)
         for s, d in zip(c["seeds"], c["differences"], strict=True)],
        columns=["comparison", "Δ AVG (points)", "seed"])
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(9.5, 0.8 * max(len(comps), 1) + 2.0), layout="constrained")
    if comps:
        sns.stripplot(data=points, x="Δ AVG (points)", y="comparison", order=names, ax=ax,
                      color="#0072B2", alpha=0.55, size=6, jitter=0.12, zorder=1)
        for i, c in enumerate(comps):
            if math.isfinite(c["low"]):
                ax.errorbar(c["mean"], i, xerr=[[c["mean"] - c["low"]], [c["high"] - c["mean"]]],
                            fmt="o", color="black", capsize=5, lw=2, ms=7, zorder=3,
                            label="mean, 95 % paired t interval" if i == 0 else None)
            else:
                ax.plot(c["mean"], i, "o", color="black", zorder=3)
            if c["paper_delta"] is not None:
                ax.plot(c["paper_delta"], i, "D", color="#D55E00", ms=8, zorder=4,
                        label="paper Δ (real I3D features, single run)"
                        if not any(x["paper_delta"] is not None for x in comps[:i]) else None)
        ax.axvline(0.0, color="grey", ls="--", lw=1, zorder=0)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize="small",
                  frameon=False)
    else:
        ax.text(0.5, 0.5, "no run records: nothing to compare", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_yticks([])
    n = sorted({c["n"] for c in comps})
    ax.set_title(f"Table {a['number']}: paired differences by seed on "
                 f"{a['data_title'].split(':')[0]} ({', '.join(map(str, n)) or 0} seeds)",
                 fontsize="medium", pad=26)
    ax.set_ylabel("")
    plt.close(fig)
    return fig


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
    batch = Path(results) / profile / "reproduce.json"
    prov = _provenance(records)
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


def figure_png(fig, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes (for a static image in the book:
    ``IPython.display.Image(figure_png(fig))``)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


__all__ = ["DATA_NAMES", "DATA_TITLES", "REQUIRED_FIELDS", "RunRecord", "TABLES", "TableSpec",
           "aggregate", "build_table", "build_tables", "caption", "check_single_commit",
           "closing_note", "closing_note_parts",
           "claims_frame", "claims_paragraph", "delta_figure", "display_frame", "figure_png",
           "find_run_files", "load_record", "load_records", "load_table", "method_overview",
           "resolve_results_dir", "row_label", "seed_frame", "table_rows", "threshold_label",
           "tiou_figure", "to_markdown", "value_columns", "write_tables"]


def load_table(key: str, results_dir: str | Path | None = None, profile: str = "quick"
               ) -> tuple[pd.DataFrame, list[RunRecord]]:
    """What each table chapter starts with: read the run records of ``profile``, build table
    ``key`` and say how many records it read (or that there are none: then only the published
    reference rows are shown). Returns ``(table, records)``.
    """
    # The chapters show whole descriptions, overrides and commits: pandas would cut them at 50
    # characters with "..." (the book lays wide tables out to scroll sideways, book/static).
    pd.set_option("display.max_colwidth", None)
    from .runs import display_path

    results = resolve_results_dir(results_dir)
    run_files = find_run_files(results, profile)
    records = load_records(run_files)
    runs_dir = Path(results) / profile / "runs"
    if run_files:
        print(f"Read {len(run_files)} run records from {display_path(runs_dir)}.")
    else:
        print(f"NO RUN RECORDS for profile {profile!r} in {runs_dir}: run "
              f"`python -m ftcl reproduce --profile {profile}` first. Only the published "
              "reference rows are shown below.")
    return build_table(key, records), records
