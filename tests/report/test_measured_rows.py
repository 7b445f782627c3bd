"""The measured rows of a table (ftcl.report.tables._measured_rows and build_table) against values
written out by hand: the empty row of a method without records, the name of a data set the
layout does not know, which data sets the paper's extra comparisons cover, and the refusal of an
unknown table (issue 20: what a wrong key, default or comparison would change)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ftcl.report import tables
from ftcl.report.records import RunRecord

T7 = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
EMPTY = {"row": "measured", "source": "measured: no run record", "n_seeds": 0.0, "seeds": ""}


def run(method: str, seed: int, avg: float, dataset: str = "synthumos14") -> RunRecord:
    """A SynTHUMOS14-family run record of ``method``: ``avg`` % at every threshold."""
    return RunRecord(
        path=Path(f"{dataset}-{method}-seed{seed}.json"), method=method, run_name=method,
        dataset=dataset, profile="quick", family="thumos14", seed=seed, device="cpu",
        tiou_thresholds=T7, map_percent=(avg,) * 7, average_percent=avg,
        average_range=(0.1, 0.7), classification_percent=90.0,
        provenance={"git_commit": "abc123"}, selection_rule=None)


def measured(table) -> list[dict]:
    rows = table[table["row"] == "measured"]
    return rows[["row", "method", "label", "source", "n_seeds", "seeds", "baseline",
                 "beyond paper"]].to_dict("records")


def test_rows_without_records_keep_their_place():
    """Table 1 without records: one empty measured row per method, with label and baseline."""
    assert measured(tables.build_table("table1", [])) == [
        {**EMPTY, "method": "acmnet", "label": "ACM-Net", "baseline": "",
         "beyond paper": False},
        {**EMPTY, "method": "ftcl", "label": "FTCL (ACM-Net + FSD + LCS)",
         "baseline": "acmnet", "beyond paper": False}]


def test_an_empty_row_beyond_the_paper():
    """Table 3's last control, without records: labelled and flagged beyond the paper."""
    last = measured(tables.build_table("table3", []))[-1]
    assert last == {**EMPTY, "method": "control-stage1-only",
                    "label": "control-stage1-only (beyond the paper)", "baseline": "ftcl",
                    "beyond paper": True}


def test_a_data_set_the_layout_does_not_name_keeps_its_own_name():
    """A record of a data set without a display name ("mydata") is described by its key."""
    records = [run(m, s, a, dataset="mydata") for m, a in (("acmnet", 30.0), ("ftcl", 33.0))
               for s in (0, 1)]
    rows = measured(tables.build_table("table1", records))
    assert [r["source"] for r in rows] == ["measured, mydata (quick), 2 seeds"] * 2
    assert [r["seeds"] for r in rows] == ["0,1", "0,1"]


def test_extra_comparisons_cover_the_data_sets_of_their_method():
    """Table 3's extra claims (FTCL against each variant) are compared on the data sets FTCL
    was measured on (SynTHUMOS14, and a second one), not on those of the other rows (a third
    data set only ACM-Net has)."""
    records = [run("ftcl", s, 33.0 + s, d) for d in ("synthumos14", "other") for s in (0, 1)]
    records += [run("ftcl-wo-fsd", s, 31.0, d) for d in ("synthumos14", "other") for s in (0, 1)]
    records += [run("acmnet", s, 30.0, "third") for s in (0, 1)]
    table = tables.build_table("table3", records)
    extra = [(c["method"], c["baseline"], c["dataset"], c["n"], c["mean"])
             for c in table.attrs["comparisons"] if c["baseline"] == "ftcl-wo-fsd"]
    assert extra == [("ftcl", "ftcl-wo-fsd", "other", 2, pytest.approx(2.5)),
                     ("ftcl", "ftcl-wo-fsd", "synthumos14", 2, pytest.approx(2.5))]


def test_an_unknown_table_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="^" + re.escape(
            "unknown table 'table9'; choose one of ['table1', 'table2', 'table3', 'table4', "
            "'table5']") + "$"):
        tables.build_table("table9", [])
