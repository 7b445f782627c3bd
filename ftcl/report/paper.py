"""The FTCL paper's published Tables 1-5, read from the transcribed CSV files shipped as data.

Source: Gao, Chen, Xu, "Fine-grained Temporal Contrastive Learning for Weakly-supervised Temporal
Action Localization", CVPR 2022 (arXiv 2203.16800), Tables 1-5. Every row of every table is
transcribed in ``ftcl/data/paper_tables/*.csv`` (a copy of the project's
``shared/data/paper_tables``; its ``README.md`` travels with it). All values are mAP in % on the
real datasets' I3D features, single runs; an empty cell is a "-" in the paper.

What the README says, and this module keeps:

- Table 1: FTCL 43.6 average mAP (tIoU 0.1-0.7) against ACM-Net 42.6 and FAC-Net 42.2. The
  paper's text swaps the two gains ("1.4% and 1.0%"); the deltas here are computed from the
  table's numbers (+1.0 over ACM-Net), never from the text.
- Table 2: "relative gain of 0.8%" over ACM-Net is 24.8 vs 24.6 average mAP, +0.2 absolute.
- Table 3: the text's gains (0.8%, 1.7%, 2.9%, 6.1%) are *relative*; the deltas here are
  absolute differences of the table's numbers.
- Table 5: the parenthesised gains are absolute (STPN+FTCL 29.0 = +1.8).

Every delta this package reports is an **absolute** difference in mAP points of two of the
table's own numbers (:func:`paper_delta`). Each row is labelled :data:`LABEL`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

FTCL_PAPER = ("Gao, Chen, Xu. Fine-grained Temporal Contrastive Learning for Weakly-supervised "
              "Temporal Action Localization. CVPR 2022 (arXiv 2203.16800)")
FTCL_PAPER_URL = "https://arxiv.org/abs/2203.16800"
LABEL = "paper (real {data} I3D features), single run"

# table key -> (CSV file, the paper's table number, data family)
FILES = {
    "table1": ("table1_thumos14.csv", 1, "thumos14"),
    "table2": ("table2_activitynet13.csv", 2, "activitynet13"),
    "table3": ("table3_ablation_thumos14.csv", 3, "thumos14"),
    "table4": ("table4_dtw_thumos14.csv", 4, "thumos14"),
    "table5": ("table5_plugin_thumos14.csv", 5, "thumos14"),
}
_DATA_NAMES = {"thumos14": "THUMOS14", "activitynet13": "ActivityNet 1.3"}

# The paper's row name -> the ftcl.config.METHODS key it is reproduced by (per table).
METHOD_OF_ROW = {
    "table1": {"ACM-Net": "acmnet", "FTCL (Ours)": "ftcl"},
    "table2": {"ACM-Net": "acmnet", "FTCL (Ours)": "ftcl"},
    "table3": {"ACM-Net": "acmnet", "FTCL(w/o FSD)": "ftcl-wo-fsd",
               "FTCL(w/o LCS)": "ftcl-wo-lcs", "FTCL(both-FSD)": "ftcl-both-fsd",
               "FTCL(both-LCS)": "ftcl-both-lcs", "FTCL": "ftcl"},
    "table4": {"DTW": "ftcl-dtw", "CC-DTW": "ftcl-ccdtw", "Drop-DTW": "ftcl-dropdtw",
               "FTCL": "ftcl"},
    "table5": {"STPN (reproduced)": "stpn", "STPN+FTCL": "stpn-ftcl",
               "W-TALC (reproduced)": "wtalc", "W-TALC+FTCL": "wtalc-ftcl",
               "CoLA (reproduced)": "cola", "CoLA+FTCL": "cola-ftcl"},
}
# Rows a table of ours shows that the paper prints in another table: (our table, from table).
BORROWED = {("table5", "table1"): ("ACM-Net", "FTCL (Ours)")}


@dataclass(frozen=True)
class PaperRow:
    """One published row: mAP (%) per tIoU threshold and its averages, with where it is printed.

    Attributes
    ----------
    table : str
        ``"table1"`` ... ``"table5"``: the reproduced table the row is shown in.
    name : str
        The row's name in the paper (``"FTCL (Ours)"``, ``"CoLA (reproduced)"`` ...).
    method : str or None
        The :data:`ftcl.config.METHODS` key that reproduces it; None for rows not trained here.
    family : str
        ``"thumos14"`` or ``"activitynet13"`` (real I3D features).
    label : str
        :data:`LABEL` with the data filled in.
    location : str
        ``"Table N, row <name>"`` of the paper.
    map : dict of float to float
        mAP in % at each published tIoU threshold.
    averages : dict of (float, float) to float
        Published averages in % over inclusive tIoU ranges, e.g. ``{(0.1, 0.7): 43.6}``.
    extra : dict of str to str
        Other CSV columns (supervision, reference number, venue).
    """

    table: str
    name: str
    method: str | None
    family: str
    label: str
    location: str
    map: dict[float, float] = field(default_factory=dict)
    averages: dict[tuple[float, float], float] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    def average(self, lo: float, hi: float) -> float | None:
        """The published average over tIoU ``lo``-``hi`` (None if the paper gives none)."""
        for (a, b), v in self.averages.items():
            if math.isclose(a, lo) and math.isclose(b, hi):
                return v
        return None


def data_dir() -> Path:
    """The folder of the shipped CSV files (``ftcl/data/paper_tables``)."""
    return Path(str(resources.files("ftcl.data") / "paper_tables"))


def _number(text: str, path: Path, column: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise ValueError(f"{path}: column {column!r} holds {text!r}, not a number") from exc
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{path}: column {column!r} holds {value}, not a mAP in % [0, 100]")
    return value


def read_table(path: str | Path, table: str, family: str, number: int,
               methods: dict[str, str] | None = None) -> list[PaperRow]:
    """Parse one transcribed table: ``map_<t>`` and ``avg_<lo>_<hi>`` columns (mAP in %)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"paper table not found: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "method" not in reader.fieldnames:
            raise ValueError(f"{path}: no 'method' column (header {reader.fieldnames})")
        rows = []
        for line in reader:
            name = line["method"].strip()
            maps, avgs, extra = {}, {}, {}
            for column, text in line.items():
                if column.startswith("map_"):
                    value = _number(text, path, column)
                    if value is not None:
                        maps[round(float(column[4:]), 4)] = value
                elif column.startswith("avg_"):
                    value = _number(text, path, column)
                    lo, hi = column[4:].split("_")
                    if value is not None:
                        avgs[(float(lo), float(hi))] = value
                elif column != "method":
                    extra[column] = (text or "").strip()
            rows.append(PaperRow(
                table=table, name=name, method=(methods or {}).get(name), family=family,
                label=LABEL.format(data=_DATA_NAMES[family]),
                location=f"Table {number}, row {name!r}", map=maps, averages=avgs,
                extra=extra))
    return rows


@lru_cache(maxsize=1)
def _all_rows() -> tuple[PaperRow, ...]:
    rows: list[PaperRow] = []
    for key, (name, number, family) in FILES.items():
        rows += read_table(data_dir() / name, key, family, number, METHOD_OF_ROW[key])
    for (key, source), names in BORROWED.items():
        for row in rows:
            if row.table == source and row.name in names:
                rows.append(PaperRow(
                    table=key, name=row.name, method=row.method, family=row.family,
                    label=row.label, location=f"{row.location} (the paper's Table "
                    f"{FILES[key][1]} does not repeat it)", map=row.map,
                    averages=row.averages, extra=row.extra))
    return tuple(rows)


def reference_rows(table: str, method: str | None = None) -> list[PaperRow]:
    """The paper's rows shown in ``table`` (``"table1"`` ...), optionally of one ``method``."""
    if table not in FILES:
        raise ValueError(f"unknown table {table!r}; choose one of {sorted(FILES)}")
    return [r for r in _all_rows()
            if r.table == table and (method is None or r.method == method)]


def paper_delta(table: str, method: str, baseline: str,
                average_range: tuple[float, float]) -> float | None:
    """The paper's absolute difference ``method - baseline`` of the average mAP (points) over
    ``average_range`` in ``table``; None when either row or its average is not published."""
    a, b = reference_rows(table, method), reference_rows(table, baseline)
    if not a or not b:
        return None
    va, vb = a[0].average(*average_range), b[0].average(*average_range)
    if va is None or vb is None:
        return None
    return round(va - vb, 4)


__all__ = ["BORROWED", "FILES", "FTCL_PAPER", "FTCL_PAPER_URL", "LABEL", "METHOD_OF_ROW",
           "PaperRow", "data_dir", "paper_delta", "read_table", "reference_rows"]
