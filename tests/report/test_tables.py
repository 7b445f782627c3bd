"""Tables 1-5 from run records: loading and validation, aggregation over seeds (checked against
hand-computed means and standard deviations), table layout with labelled reference rows, file
writing, and the mAP-vs-tIoU figure. Records are written by the tests in the trainer's format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ftcl.config import METHODS
from ftcl.io import sha256_file, update_checksums
from ftcl.paths import record_hashes_of_record
from ftcl.report import closing, figures, layout, paper, statistics, tables
from ftcl.report import records as run_records
from ftcl.report import text as report_text

THUMOS_T = [0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6, 0.7000000000000001]
ANET_T = [float(x) for x in np.linspace(0.5, 0.95, 10)]


def make_record(method: str, seed: int, maps: list[float], dataset: str = "synthumos14",
                profile: str = "quick", thresholds: list[float] | None = None,
                average_range: tuple[float, float] = (0.1, 0.7), **changes) -> dict:
    """A run record with the fields and layout :func:`ftcl.train.train` writes."""
    thresholds = THUMOS_T if thresholds is None else thresholds
    t = np.asarray(thresholds)
    inside = (t >= average_range[0] - 1e-9) & (t <= average_range[1] + 1e-9)
    avg = float(np.mean(np.asarray(maps)[inside]))
    metrics = {"tiou_thresholds": thresholds, "map": maps, "average_map": avg,
               "average_range": list(average_range), "classification_map": 0.9, "videos": 50}
    record = {
        "status": "finished", "method": method, "run_name": method,
        "description": METHODS[method].description, "paper_table": METHODS[method].table,
        "backbone": "acmnet", "ftcl_terms": None, "dataset": dataset, "profile": profile,
        "seed": seed, "device": "cpu", "iterations": 250,
        "schedule": {"stage1": {"iterations": 150}, "stage2": {"iterations": 100}},
        "selection": {"rule": "best average mAP on 40 held-out training videos",
                      "reported": "selected", "selected_iteration": 75, "holdout_videos": 40,
                      "fit_videos": 160},
        "tiou_thresholds": thresholds, "map": maps, "average_map": avg,
        "average_range": list(average_range), "classification_map": 0.9,
        "test": {"last": metrics, "selected": metrics}, "history": [], "skipped_steps": 0,
        "wall_time_s": {"stage1": 1.0, "stage2": 1.0, "selection": 0.1, "test": 0.1,
                        "total": 2.2},
        "provenance": {"ftcl_version": "0.1.0", "git_commit": "abc123", "python": "3.11.7",
                       "torch": "2.13.0+cpu", "numpy": "2.4.6", "platform": "Linux",
                       "cpu_count": 2, "torch_threads": 2,
                       "created_utc": "2026-11-23T09:34:56+00:00", "device": "cpu"},
        "config": {"method": method, "dataset": dataset, "profile": profile, "seed": seed},
    }
    record.update(changes)
    return record


def write(runs: Path, record: dict, name: str | None = None) -> Path:
    runs.mkdir(parents=True, exist_ok=True)
    path = runs / (name or f"{record['dataset']}-{record['method']}-seed{record['seed']}.json")
    path.write_text(json.dumps(record), encoding="utf-8")
    if runs.name == "runs":  # the results layout: hashed as the batch writes it (train.record)
        hashes, name = record_hashes_of_record(path)
        update_checksums(hashes, {name: sha256_file(path)})
    return path


def falling(a: float) -> list[float]:
    """mAP a, a-0.01, ..., a-0.06 at the seven THUMOS14 thresholds (average a - 0.03)."""
    return [round(a - 0.01 * i, 10) for i in range(7)]


@pytest.fixture
def results(tmp_path) -> Path:
    """results/quick/runs with ACM-Net and FTCL, 3 seeds each, on SynTHUMOS14."""
    runs = tmp_path / "results" / "quick" / "runs"
    for seed, a in enumerate((0.3, 0.4, 0.6)):
        write(runs, make_record("acmnet", seed, falling(a)))
    for seed, a in enumerate((0.5, 0.5, 0.5)):
        write(runs, make_record("ftcl", seed, falling(a)))
    return tmp_path / "results"


# ------------------------------------------------------------------------------ aggregation


def test_aggregate_matches_hand_computation(results):
    records = run_records.load_records(run_records.find_run_files(results, "quick"))
    stats = statistics.aggregate(records)
    acm = stats[stats["method"] == "acmnet"].set_index("metric")
    # mAP@0.1 over seeds: 30, 40, 60 %: mean 130/3, sample variance (1400/3)/2 = 700/3
    assert acm.loc["mAP@0.1", "mean"] == pytest.approx(130 / 3)
    assert acm.loc["mAP@0.1", "std"] == pytest.approx(math.sqrt(700 / 3))
    assert acm.loc["mAP@0.1", "min"] == pytest.approx(30.0)
    assert acm.loc["mAP@0.1", "max"] == pytest.approx(60.0)
    # mAP@0.7: 24, 34, 54 %
    assert acm.loc["mAP@0.7", "mean"] == pytest.approx(112 / 3)
    # the average over 0.1-0.7 of each seed is a - 0.03: 27, 37, 57 %
    assert acm.loc["avg", "mean"] == pytest.approx(121 / 3)
    assert acm.loc["avg", "std"] == pytest.approx(math.sqrt(700 / 3))
    assert (acm.loc["avg", "min"], acm.loc["avg", "max"]) == pytest.approx((27.0, 57.0))
    assert acm.loc["cls", "mean"] == pytest.approx(90.0)
    assert set(acm["n_seeds"]) == {3} and set(acm["seeds"]) == {"0,1,2"}
    ftcl = stats[stats["method"] == "ftcl"].set_index("metric")
    assert ftcl.loc["avg", "mean"] == pytest.approx(47.0)
    assert ftcl.loc["avg", "std"] == pytest.approx(0.0, abs=1e-12)


def test_single_seed_has_no_std(tmp_path):
    path = write(tmp_path, make_record("acmnet", 4, falling(0.2)))
    stats = statistics.aggregate(run_records.load_records([path])).set_index("metric")
    assert stats.loc["avg", "mean"] == pytest.approx(17.0)
    assert math.isnan(stats.loc["avg", "std"])
    assert stats.loc["avg", "min"] == stats.loc["avg", "max"] == pytest.approx(17.0)


def test_activitynet_average_over_all_ten_thresholds(tmp_path):
    maps = [0.5 - 0.04 * i for i in range(10)]  # 50, 46, ..., 14 %: mean 32 %
    runs = tmp_path / "results" / "quick" / "runs"
    write(runs, make_record("ftcl", 0, maps, dataset="synanet", thresholds=ANET_T,
                            average_range=(0.5, 0.95)))
    table = tables.build_tables(tmp_path / "results", "quick", write=False)["table2"]
    measured = table[(table["row"] == "measured") & (table["method"] == "ftcl")].iloc[0]
    assert measured["AVG 0.5-0.95 (%)"] == pytest.approx(32.0)
    assert measured["mAP@0.55 (%)"] == pytest.approx(46.0)
    assert measured["source"] == "measured, SynANet (quick), 1 seed"
    assert table.attrs["thresholds"] == pytest.approx(ANET_T)
    assert "0.5:0.05:0.95" in table.attrs["caption"]
    # THUMOS-like records do not leak into the ActivityNet table
    assert not (table["source"].str.contains("SynTHUMOS14")).any()


# ------------------------------------------------------------------------------ tables


def test_table1_rows_labels_and_values(results):
    built = tables.build_tables(results, "quick", write=False)
    table = built["table1"]
    measured = table[table["row"] == "measured"].set_index("method")
    assert list(measured.index) == ["acmnet", "ftcl"]
    assert measured.loc["acmnet", "source"] == "measured, SynTHUMOS14 (quick), 3 seeds"
    assert measured.loc["acmnet", "mAP@0.1 (%)"] == pytest.approx(130 / 3)
    assert measured.loc["acmnet", "mAP@0.1 std"] == pytest.approx(math.sqrt(700 / 3))
    assert measured.loc["acmnet", "AVG 0.1-0.7 (%)"] == pytest.approx(121 / 3)
    assert measured.loc["acmnet", "AVG 0.1-0.7 min"] == pytest.approx(27.0)
    assert measured.loc["ftcl", "AVG 0.1-0.7 (%)"] == pytest.approx(47.0)
    assert measured.loc["ftcl", "label"] == "FTCL (ACM-Net + FSD + LCS)"
    # a method's reference rows follow its measured rows
    order = list(zip(table["method"], table["row"], strict=True))
    for i, (method, kind) in enumerate(order):
        if kind == "reference" and method:
            assert (method, "measured") in order[:i]
    attrs = table.attrs
    assert attrs["provenance"]["runs"] == 6
    assert attrs["provenance"]["git_commits"] == ["abc123"]
    assert attrs["provenance"]["devices"] == ["cpu"]
    for text in ("mAP in %", "0.1:0.1:0.7", "0.1-0.7", "SynTHUMOS14 v1 (quick)", "6 run records",
                 "abc123", "ftcl 0.1.0", "Device: cpu", "held-out"):
        assert text in attrs["caption"], text


@pytest.mark.parametrize("key", sorted(layout.TABLES))
def test_every_reference_row_is_shown_and_labelled(results, key):
    table = tables.build_tables(results, "quick", write=False)[key]
    shown = table[table["row"] == "reference"]
    refs = paper.reference_rows(key)
    assert len(shown) == len(refs)
    names = table.attrs["value_columns"]
    lo, hi = table.attrs["average_range"]
    for ref, (_, row) in zip(refs_in_table_order(refs), shown.iterrows(), strict=True):
        assert row["method"] == (ref.method or "")
        assert row["source"] == ref.label
        assert row["source"].startswith("paper (real ") and "I3D features), single run" in \
            row["source"]
        for t, v in ref.map.items():
            column = f"mAP@{layout.threshold_label(t)} (%)"
            if column in row:
                assert row[column] == v
        if ref.average(lo, hi) is not None:
            assert row[names[-1]] == ref.average(lo, hi)
        assert math.isnan(row[f"{names[-1].removesuffix(' (%)')} std"])
    # every method of the paper's table has a measured row (empty when never run), and so has
    # every method beyond the paper that names this table (controls, loss forms)
    measured = set(table.loc[table["row"] == "measured", "method"])
    assert measured == {m for m, _, _ in layout.table_rows(key)}
    assert measured >= set(layout.TABLES[key].methods)


def refs_in_table_order(refs):
    """Reproduced rows in method order of the table, then the paper's other rows."""
    key = refs[0].table
    order = [m for m, _, _ in layout.table_rows(key)]
    mine = sorted((r for r in refs if r.method), key=lambda r: order.index(r.method))
    return mine + [r for r in refs if not r.method]


def test_paper_rows_from_the_csv_files():
    # Table 1 holds all 30 published rows; two are reproduced here
    t1 = paper.reference_rows("table1")
    assert len(t1) == 30 and {r.method for r in t1} == {None, "acmnet", "ftcl"}
    ftcl = paper.reference_rows("table1", "ftcl")[0]
    assert ftcl.name == "FTCL (Ours)" and ftcl.average(0.1, 0.7) == 43.6
    assert ftcl.map[0.5] == 35.6 and ftcl.average(0.1, 0.5) == 53.8
    # the deltas are absolute differences of the table's numbers (not the text's swapped ones)
    assert paper.paper_delta("table1", "ftcl", "acmnet", (0.1, 0.7)) == 1.0
    assert paper.paper_delta("table2", "ftcl", "acmnet", (0.5, 0.95)) == 0.2
    assert paper.paper_delta("table5", "stpn-ftcl", "stpn", (0.1, 0.7)) == 1.8
    assert paper.paper_delta("table4", "ftcl-dtw", "ftcl", (0.1, 0.7)) == -0.5
    assert paper.paper_delta("table3", "ftcl-wo-fsd", "acmnet", (0.1, 0.7)) == 0.2
    assert paper.paper_delta("table1", "ftcl", "acmnet", (0.3, 0.5)) is None
    for key in layout.TABLES:
        for r in paper.reference_rows(key):
            assert r.method is None or r.method in {m for m, _, _ in layout.table_rows(key)}
            assert r.location.startswith("Table ")
            assert r.family == layout.TABLES[key].family


def test_paper_table_errors(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("method,map_0.1\nX,abc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="t.csv.*map_0.1.*abc"):
        paper.read_table(bad, "table1", "thumos14", 1)
    bad.write_text("method,map_0.1\nX,120\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a mAP"):
        paper.read_table(bad, "table1", "thumos14", 1)
    with pytest.raises(FileNotFoundError):
        paper.read_table(tmp_path / "none.csv", "table1", "thumos14", 1)


def test_paired_delta_columns_by_hand(results):
    table = tables.build_tables(results, "quick", write=False)["table1"]
    ftcl = table[(table["row"] == "measured") & (table["method"] == "ftcl")].iloc[0]
    # AVG per seed: ACM-Net 27, 37, 57; FTCL 47, 47, 47 -> differences 20, 10, -10
    sd = math.sqrt(((20 - 20 / 3) ** 2 + (10 - 20 / 3) ** 2 + (-10 - 20 / 3) ** 2) / 2)
    half = 4.302652729749464 * sd / math.sqrt(3)
    assert ftcl["baseline"] == "acmnet"
    assert ftcl["delta"] == pytest.approx(20 / 3)
    assert ftcl["delta low"] == pytest.approx(20 / 3 - half)
    assert ftcl["delta high"] == pytest.approx(20 / 3 + half)
    assert ftcl["paper delta"] == 1.0 and not ftcl["excludes 0"]
    assert ftcl["verdict"] == "unresolved"
    (comp,) = table.attrs["comparisons"]
    assert comp["differences"] == pytest.approx([20.0, 10.0, -10.0])
    assert table.attrs["resolution"]["median"] == pytest.approx(half)
    cap = table.attrs["caption"]
    assert "SynTHUMOS14: synthetic features on real THUMOS14 annotations" in cap
    assert f"{half:.2f} points" in cap and "paired t" in cap and "Device: cpu" in cap
    text = report_text.claims_paragraph(table)
    assert "Unresolved" in text and "paper +1.0" in text and f"{20 / 3:+.2f}" in text
    assert "win" not in text.lower()


def test_supported_and_contradicted_verdicts(tmp_path):
    runs = tmp_path / "results" / "quick" / "runs"
    for seed, a in enumerate((0.30, 0.40, 0.50, 0.35)):
        write(runs, make_record("acmnet", seed, falling(a)))
        write(runs, make_record("ftcl", seed, falling(a + 0.02)))  # +2 points every seed
        write(runs, make_record("ftcl-dtw", seed, falling(a + 0.03)))  # above FTCL
    built = tables.build_tables(tmp_path / "results", "quick", write=False)
    t1 = built["table1"]
    row = t1[(t1["row"] == "measured") & (t1["method"] == "ftcl")].iloc[0]
    assert row["delta"] == pytest.approx(2.0) and row["verdict"] == "supported"
    t4 = built["table4"]
    row = t4[(t4["row"] == "measured") & (t4["method"] == "ftcl-dtw")].iloc[0]
    # the paper has DTW 0.5 below FTCL; here 1 point above on every seed
    assert row["delta"] == pytest.approx(1.0) and row["paper delta"] == -0.5
    assert row["verdict"] == "contradicted"
    assert "Contradicted" in report_text.claims_paragraph(t4)


def test_controls_appear_beyond_the_paper(results, monkeypatch):
    from ftcl import config

    monkeypatch.setitem(config.METHODS, "control-x", config.Method(
        "a control", "Table 3 (control, beyond the paper)", {"model.backbone": "acmnet"}))
    for seed in range(3):
        write(results / "quick" / "runs", make_record("ftcl", seed, falling(0.5))
              | {"method": "control-x"}, name=f"control-{seed}.json")
    table = tables.build_tables(results, "quick", write=False)["table3"]
    row = table[table["method"] == "control-x"].iloc[0]
    assert row["beyond paper"] and row["baseline"] == "ftcl" and "beyond the paper" in row["label"]
    assert row["delta"] == pytest.approx(0.0) and math.isnan(row["paper delta"])
    assert "Beyond the paper" in report_text.claims_paragraph(table)
    assert "control-x" not in set(tables.build_tables(results, "quick", write=False)["table1"]
                                  ["method"])


def test_writing_refuses_mixed_commits(results):
    write(results / "quick" / "runs", make_record(
        "ftcl-dtw", 0, falling(0.3), provenance={"git_commit": "def456+dirty"}))
    with pytest.raises(ValueError, match="2 commit state.*def456\\+dirty.*allow_mixed"):
        tables.build_tables(results, "quick", write=True)
    assert not (results / "quick" / "tables").exists()
    built = tables.build_tables(results, "quick", write=True, allow_mixed=True)
    assert "MIXED commit states" in built["table4"].attrs["caption"]
    tables.build_tables(results, "quick", write=False)  # reading for display is allowed


def test_v1_and_v2_records_never_share_a_table(results):
    """The fixture's records carry no data_version (v1); a v2 record of the same data set is
    refused, for display too; the caption names the version."""
    assert "SynTHUMOS14 v1 (quick)" in tables.build_tables(
        results, "quick", write=False)["table1"].attrs["caption"]
    write(results / "quick" / "runs", make_record("ftcl-dtw", 0, falling(0.3), data_version=2))
    with pytest.raises(ValueError, match="several data versions.*synthumos14"):
        tables.build_tables(results, "quick", write=False)


def test_build_tables_writes_csv_and_markdown(results):
    built = tables.build_tables(results, "quick")
    out = results / "quick" / "tables"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"table{i}.{ext}" for i in range(1, 6) for ext in ("csv", "md")] + ["claims.csv"])
    back = pd.read_csv(out / "table1.csv")
    assert list(back.columns) == list(built["table1"].columns)
    measured = back[back["row"] == "measured"].set_index("method")
    assert measured.loc["acmnet", "AVG 0.1-0.7 (%)"] == pytest.approx(121 / 3)
    md = (out / "table1.md").read_text(encoding="utf-8")
    assert md.startswith("**Table 1: SynTHUMOS14: synthetic features on real THUMOS14")
    assert "| ACM-Net | measured, SynTHUMOS14 (quick), 3 seeds | 43.3 ± 15.3 |" in md
    assert "40.3 ± 15.3 [27.0-57.0]" in md  # AVG: mean ± std [min-max]
    assert "| 47.0 ± 0.0 [47.0-47.0] |" in md
    assert built["table1"].attrs["caption"] in md
    assert "| paper (real THUMOS14 I3D features), single run |" in md
    assert "arxiv.org/abs/2203.16800" in md and "could not be read" not in md
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["verdict"]) <= {"supported", "contradicted", "unresolved",
                                      "no paper claim", "resolved"}
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_no_records_gives_reference_only_tables(tmp_path):
    built = tables.build_tables(tmp_path / "results", "quick", write=False)
    for table in built.values():
        measured = table[table["row"] == "measured"]
        assert set(measured["source"]) == {"measured: no run record"}
        assert measured[table.attrs["value_columns"]].isna().all().all()
        assert "No measured runs were found" in table.attrs["caption"]
    assert run_records.find_run_files(tmp_path / "nowhere", "quick") == []


def test_load_table_reads_records_and_says_so(results, tmp_path, capsys):
    table, records = tables.load_table("table1", results, "quick")
    assert len(records) == 6
    assert "Read 6 run records" in capsys.readouterr().out
    assert set(table[table["row"] == "measured"]["method"]) == {"acmnet", "ftcl"}
    table, records = tables.load_table("table1", tmp_path / "empty", "quick")
    assert records == [] and "NO RUN RECORDS" in capsys.readouterr().out


# ------------------------------------------------------------------------------ bad records


def test_corrupt_record_error_names_the_file(results):
    """A record cut short after the batch wrote it is named by its hash; one that is not valid
    JSON where no records.sha256 exists (an ftcl before issue 19) is named by the parser."""
    bad = write(results / "quick" / "runs", make_record("acmnet", 9, falling(0.3)),
                "broken-run.json")
    bad.write_text('{"status": "finished", "method": "acm', encoding="utf-8")
    with pytest.raises(ValueError, match="broken-run.json was changed after it was written"):
        tables.build_tables(results, "quick", write=False)
    (results / "quick" / "records.sha256").unlink()
    with pytest.warns(run_records.RecordWarning, match="no records.sha256"), \
            pytest.raises(ValueError, match="broken-run.json.*not valid JSON"):
        tables.build_tables(results, "quick", write=False)


@pytest.mark.parametrize("change, message", [
    ({"drop": "map"}, r"missing field\(s\) \['map'\]"),
    ({"drop": "provenance"}, "missing field"),
    ({"status": "stopped"}, "not 'finished'"),
    ({"method": "nonsense"}, "unknown method"),
    ({"dataset": "mnist"}, "unknown dataset"),
    ({"seed": -1}, "seed"),
    ({"map": [0.1] * 6}, "one value per tIoU threshold"),
    ({"map": [1.5] * 7}, "fractions"),
    ({"average_map": 0.99}, "inconsistent"),
    ({"skipped_steps": 63}, r"63 of its 250 steps were skipped.*learned nothing"),  # > 62.5
])
def test_invalid_record_errors(tmp_path, change, message):
    record = make_record("acmnet", 0, falling(0.3))
    change = dict(change)  # the parameter itself stays intact for a second run in one process
    if "drop" in change:
        del record[change.pop("drop")]
    record.update(change)
    path = write(tmp_path, record, name="odd-record.json")
    with pytest.raises(ValueError, match=message) as info:
        run_records.load_record(path)
    assert "odd-record.json" in str(info.value)


def test_missing_record_file():
    with pytest.raises(FileNotFoundError, match="no-such.json"):
        run_records.load_record("no-such.json")


def test_duplicate_seed_is_an_error(results):
    write(results / "quick" / "runs", make_record("acmnet", 1, falling(0.2)), name="again.json")
    with pytest.raises(ValueError, match="two run records for acmnet.*seed 1"):
        tables.build_tables(results, "quick", write=False)


# ------------------------------------------------------------------------------ figure


def test_tiou_figure_small_multiples(results):
    table = tables.build_tables(results, "quick", write=False)["table5"]
    fig = figures.tiou_figure(table)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["STPN + FTCL vs STPN", "W-TALC + FTCL vs W-TALC", "CoLA + FTCL vs CoLA",
                      "ACM-Net + FTCL vs ACM-Net"]  # one panel per backbone, not 16 traces
    panel = {t.xaxis: [] for t in fig.data}
    for t in fig.data:
        panel[t.xaxis].append(t)
    acm = next(t for t in panel["x4"] if t.name == "baseline, measured")
    assert list(acm.x) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    assert acm.y[0] == pytest.approx(130 / 3)  # mAP@0.1 of the seeds: 30, 40, 60
    assert acm.error_y.array[0] == pytest.approx(math.sqrt(700 / 3))
    cola = next(t for t in panel["x3"] if t.name == "baseline, paper")
    assert cola.line.dash == "dash"
    # the paper's Table 5 CoLA row publishes 0.1, 0.3, 0.5, 0.7 only: a line through those
    assert list(cola.x) == pytest.approx([0.1, 0.3, 0.5, 0.7])
    assert list(cola.y) == pytest.approx([66.1, 52.1, 34.3, 13.1])
    assert sorted({t.name for t in fig.data if t.showlegend}) == [
        "baseline, measured", "baseline, paper", "row, measured", "row, paper"]
    assert fig.layout.yaxis.title.text == "mAP (%)"


def test_tiou_figure_says_when_curves_are_identical(tmp_path):
    runs = tmp_path / "results" / "quick" / "runs"
    for seed, a in enumerate((0.3, 0.4, 0.6)):
        write(runs, make_record("acmnet", seed, falling(a)))
        write(runs, make_record("ftcl", seed, falling(a)))
    table = tables.build_tables(tmp_path / "results", "quick", write=False)["table1"]
    (title,) = [a.text for a in figures.tiou_figure(table).layout.annotations]
    assert title.endswith("(identical curves)")


# ------------------------------------------------------------------------------ notebooks


@pytest.mark.slow
def test_table_notebook_reads_records_through_papermill(results, tmp_path):
    papermill = pytest.importorskip("papermill")
    jupytext = pytest.importorskip("jupytext")
    source = Path(__file__).resolve().parents[2] / "notebooks" / "05_table1_thumos14.py"
    out = tmp_path / "05_out.ipynb"
    papermill.execute_notebook(jupytext.read(source), str(out), kernel_name="python3",
                               parameters={"results_dir": str(results), "profile": "quick"},
                               progress_bar=False, cwd=str(tmp_path))
    text = out.read_text(encoding="utf-8")
    assert "Read from 6 run records in" in text
    assert "Measured on SynTHUMOS14 v1 (quick)" in text and "over 3 seeds" in text
    assert 'data-label=\\"AVG mAP (%)\\">40.3 ± 15.3' in text  # the compact table
    assert "43.3 ± 15.3" in text  # mAP@0.1 in the folded detail
    assert "paper (real THUMOS14 I3D features), single run" in text
    assert "S-CNN" in text and "Unresolved" in text and "image/png" in text
    assert 'id=\\"table1-tiou\\"' in text or 'id="table1-tiou"' in text


def test_closing_note_counts_each_claim_once(results):
    note = closing.closing_note(results, "quick")
    # FTCL - ACM-Net appears in Tables 1, 3 and 5 but is one claim
    assert "Of the paper's 1 distinct claims" in note and "1 unresolved" in note
    assert note.count("| +1.0 | +6.67 |") == 3 and "abc123" in note


def test_table3_also_compares_ftcl_with_each_variant(results):
    for seed, a in enumerate((0.3, 0.4, 0.6)):
        write(results / "quick" / "runs", make_record("ftcl-wo-fsd", seed, falling(a + 0.01)))
    table = tables.build_tables(results, "quick", write=False)["table3"]
    comps = {(c["method"], c["baseline"]): c for c in table.attrs["comparisons"]}
    extra = comps[("ftcl", "ftcl-wo-fsd")]
    # the paper: FTCL 43.6 vs w/o FSD 42.8 -> +0.8; here 47 - (a + 1 - 3) per seed
    assert extra["paper_delta"] == pytest.approx(0.8)
    assert extra["differences"] == pytest.approx([19.0, 9.0, -11.0])
    assert ("ftcl", "ftcl-wo-lcs") not in comps  # no records of w/o LCS: no comparison
    assert "FTCL (FSD + LCS) − w/o FSD" in report_text.claims_paragraph(table)


def test_committed_tables_are_what_the_committed_records_give(tmp_path):
    """Tables 1-5, claims.csv and protocol.json regenerated from the committed run records of
    results/quick are byte-identical to the committed ones: every number in them was produced
    by this code from those records."""
    import filecmp
    import shutil

    from ftcl.analysis import protocol

    committed = Path(__file__).resolve().parents[2] / "results" / "quick"
    shutil.copytree(committed / "runs", tmp_path / "quick" / "runs")
    shutil.copyfile(committed / "records.sha256", tmp_path / "quick" / "records.sha256")
    tables.build_tables(tmp_path, "quick", write=True)
    protocol.protocol_summary(tmp_path, "quick", write=True)
    names = sorted(p.name for p in (committed / "tables").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "quick" / "tables").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(committed / "tables", tmp_path / "quick" / "tables",
                                               names, shallow=False)
    assert mismatch == [] and errors == [] and match == names


# ------------------------------------------------------------------------------ table pages


def test_compact_table_by_hand(results):
    from ftcl.report import pages

    page = pages.table_page("table1", results, "quick")
    frame = pages.compact_frame(page.table)
    assert list(frame.columns) == list(pages.COMPACT_COLUMNS)
    acm, ftcl = frame.iloc[0], frame.iloc[1]
    # ACM-Net AVG per seed: 27, 37, 57 (%); FTCL: 47 on every seed
    assert acm["Method"] == "ACM-Net" and acm["AVG mAP (%)"] == "40.3 ± 15.3"
    assert acm["Δ [95 % CI]"] == "–" and acm["verdict"] == "–"
    assert ftcl["AVG mAP (%)"] == "47.0 ± 0.0"
    # differences +20, +10, -10: mean +6.667, sd 15.275,
    # t(2) half-width 4.3027 * 15.275 / sqrt(3) = 37.946
    assert ftcl["Δ [95 % CI]"] == "+6.67 [-31.28, +44.61] vs ACM-Net"
    assert ftcl["verdict"] == "unresolved"
    paper = {r["method"]: r for _, r in page.table.iterrows() if r["row"] == "reference"}
    avg = page.table.attrs["value_columns"][-1]
    assert ftcl["paper AVG"] == f"{paper['ftcl'][avg]:.1f}"
    assert ftcl["paper Δ"] == f"{paper['ftcl'][avg] - paper['acmnet'][avg]:+.1f}"


def test_compact_html_labels_every_cell(results):
    from ftcl.report import pages

    frame = pages.compact_frame(pages.table_page("table1", results, "quick").table)
    html = pages.compact_html(frame)
    assert html.count("<td ") == frame.size
    for col in frame.columns:
        assert html.count(f'data-label="{col}"') == len(frame)
    assert 'class="verdict-unresolved"' in html and '<span class="ftcl-vs">vs ACM-Net' in html


def test_plain_words_when_the_method_did_nothing(tmp_path):
    from ftcl.report import pages

    runs = tmp_path / "results" / "quick" / "runs"
    for seed, a in enumerate((0.3, 0.4, 0.6)):
        write(runs, make_record("acmnet", seed, falling(a)))
        kept = {"rule": "held-out", "reported": "selected", "selected_iteration": 0 if seed else 25}
        write(runs, make_record("ftcl", seed, falling(a), selection=kept))
    page = pages.table_page("table1", tmp_path / "results", "quick")
    words = pages.plain_words(page.table, page.records)
    assert "**FTCL (ACM-Net + FSD + LCS) did nothing here.**" in words
    assert "exactly that of ACM-Net (Δ = 0 on every seed" in words
    assert "stage-1 checkpoint in 2 of its 3 runs" in words
    assert "did nothing here" in page.summary()


def test_plain_words_empty_when_the_method_acted(results):
    from ftcl.report import pages

    page = pages.table_page("table1", results, "quick")
    assert pages.plain_words(page.table, page.records) == ""


def test_table_page_parts(results):
    from ftcl.report import pages

    page = pages.table_page("table1", results, "quick")
    summary = page.summary()
    assert "Measured on SynTHUMOS14" in summary and "over 3 seeds" in summary
    assert "Read from 6 run records in" in summary
    detail = page.detail_html()
    assert detail.startswith('<details class="ftcl-detail">') and "Every row of the paper" in detail
    assert "...</td>" not in detail  # nothing cut
    runs = page.runs_html()
    assert runs.count("<details") == 2 and "The 6 training runs" in runs
    assert page.delta_png().startswith(b"\x89PNG")


def test_bottom_line_counts_and_links(results):
    from ftcl.report import pages

    built = tables.build_tables(results, "quick", write=False)
    text = pages.bottom_line(built)
    assert text.startswith("**Bottom line.** On SynTHUMOS14 ([Table 1](../notebooks/05_table1")
    assert "FTCL changes ACM-Net's average mAP by +6.67 points (95 % CI [-31.28, +44.61], " \
           "3 seeds)" in text
    assert "0 supported, 0 contradicted, 1 unresolved ([Table 1](" in text
    empty = pages.bottom_line(tables.build_tables(results.parent / "none", "quick", write=False))
    assert "no run records" in empty
