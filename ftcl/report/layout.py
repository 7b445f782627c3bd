"""What Tables 1-5 hold: each table's rows, labels and baselines, and the names of the data.

:data:`TABLES` lays out each of the paper's tables (data family, methods, labels, the baseline
each row is compared with, paired by seed); :func:`table_rows` adds the methods of
:data:`ftcl.config.METHODS` beyond the paper that name a table. Building a table from run records
is :mod:`ftcl.report.tables`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from ..config import METHODS

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


def table_rows(key: str) -> list[tuple[str, str | None, bool]]:
    """``(method, baseline, beyond_paper)`` of every measured row of table ``key``.

    The paper's rows (:data:`TABLES`), then every method of :data:`ftcl.config.METHODS` that no
    table lists but whose ``table`` field names this table (e.g. ``"Table 3 (control, beyond
    the paper)"``): a control is compared with FTCL and marked *beyond the paper*; any other such
    method with the table's plain backbone (ACM-Net) where the table has it, else with FTCL.
    """
    spec = TABLES[key]
    rows = [(m, spec.baselines.get(m), False) for m in spec.methods]
    listed = {m for s in TABLES.values() for m in s.methods}
    for method, info in METHODS.items():
        if method in listed or spec.number not in info.tables:
            continue
        control = info.beyond_paper
        base = "ftcl" if control or "acmnet" not in spec.methods else "acmnet"
        rows.append((method, base, control))
    return rows


def row_label(key: str, method: str) -> str:
    """The row's label: the paper's name for it, or the method's name for a row beyond the
    paper's table (its description stands in the table's description column)."""
    spec = TABLES[key]
    return spec.labels.get(method, method)


def threshold_label(t: float) -> str:
    """``0.30000000000000004`` -> ``"0.3"``; ``0.55`` -> ``"0.55"``."""
    return f"{round(float(t), 4):g}"



def method_overview(key: str) -> pd.DataFrame:
    """The configurations behind a table's rows: ``METHODS`` key, label, baseline, description,
    overrides."""
    return pd.DataFrame([
        {"method": m, "row": row_label(key, m), "compared with": base or "",
         "beyond the paper": beyond, "description": METHODS[m].description,
         "overrides": ", ".join(f"{k}={v}" for k, v in METHODS[m].overrides.items())}
        for m, base, beyond in table_rows(key)])
