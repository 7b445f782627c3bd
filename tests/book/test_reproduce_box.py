"""The "Reproduce this page" box: its durations come from the result files, never typed in."""

from __future__ import annotations

import json

from ftcl.book import reproduce_box
from ftcl.report.layout import TABLES


def _record(path, method, dataset, device, wall, cpus=2):
    path.write_text(json.dumps({
        "method": method, "dataset": dataset, "device": device,
        "reproduce": {"notebook_wall_s": wall}, "provenance": {"cpu_count": cpus}}))


def test_box_sums_the_table_runs_and_reads_the_batch_time(tmp_path):
    runs = tmp_path / "quick" / "runs"
    runs.mkdir(parents=True)
    _record(runs / "a.json", "acmnet", "synthumos14", "cpu", 10.25)
    _record(runs / "b.json", "ftcl", "synthumos14", "cpu", 20.5)
    _record(runs / "c.json", "ftcl", "synanet", "cpu", 1000.0)  # Table 2, not Table 1
    _record(runs / "d.json", "stpn", "synthumos14", "cpu", 500.0)  # Table 5 only
    (tmp_path / "quick" / "reproduce.json").write_text(json.dumps(
        {"wall_s": 123.4, "finished": 4, "provenance": {"cpu_count": 2}}))
    t = reproduce_box.measured_times("table1", tmp_path, "quick")
    assert t["cpu"]["runs"] == 2 and abs(t["cpu"]["sum_s"] - 30.75) < 1e-9
    assert t["gpu"] is None and t["batch"]["wall_s"] == 123.4
    box = reproduce_box.reproduce_box_html("table1", tmp_path, "quick")
    assert "31 s" in box and "2.1 min" in box and "not measured" in box
    assert "--only acmnet ftcl" in box and "notebooks/05_table1_thumos14.py" in box

    _record(runs / "e.json", "ftcl", "synthumos14", "cuda:0", 4.0)
    box = reproduce_box.reproduce_box_html("table1", tmp_path, "quick")
    assert "4 s for its 1 runs on cuda:0" in box


def test_every_table_has_a_chapter_that_draws_the_box():
    for key in TABLES:
        nb = reproduce_box.ROOT / reproduce_box.chapter_notebook(key)
        assert f'reproduce_this_page("{key}"' in nb.read_text()


def test_box_without_results_says_not_measured(tmp_path):
    box = reproduce_box.reproduce_box_html("table3", tmp_path, "quick")
    assert box.count("not measured") >= 2
