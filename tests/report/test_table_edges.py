"""The tables' provenance block, their tIoU-threshold rule and the comparison's fields, each
against values written out by hand (issue 20: what a wrong key, index or default would change).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from ftcl.report import records as run_records
from ftcl.report import tables

T7 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
# records written by hand, without the hash file of the batch
pytestmark = pytest.mark.filterwarnings("ignore::ftcl.report.records.RecordWarning")


def record(method: str, seed: int, a: float, **changes) -> dict:
    """A valid SynTHUMOS14 record: mAP ``a`` at every threshold (average ``a``)."""
    data = {"status": "finished", "method": method, "run_name": method,
            "dataset": "synthumos14", "profile": "quick", "seed": seed, "device": "cpu",
            "tiou_thresholds": list(T7), "map": [a] * 7, "average_map": a,
            "average_range": [0.1, 0.7], "classification_map": 0.9,
            "selection": {"rule": "best average mAP on held-out videos"},
            "provenance": {"git_commit": "abc123"}}
    data.update(changes)
    return data


def write(folder: Path, data: dict, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{data['dataset']}-{data['method']}-seed{data['seed']}.json")
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_provenance_lists_each_value_once_without_blanks(tmp_path):
    a = write(tmp_path, record("acmnet", 0, 0.3, provenance={
        "git_commit": "c1", "ftcl_version": "0.1.0", "torch": "2.13.0+cpu",
        "created_utc": "2026-11-23T09:00:00+00:00"}))
    b = write(tmp_path, record("acmnet", 1, 0.3, device="cuda", provenance={
        "git_commit": "c2", "ftcl_version": "0.1.0", "torch": "2.13.0", "gpu": "NVIDIA H100",
        "created_utc": ""}))
    c = write(tmp_path, record("ftcl", 0, 0.4, device="cuda", selection="last", provenance={
        "git_commit": "c1", "ftcl_version": None, "torch": "2.13.0", "gpu": "",
        "created_utc": "2026-11-24T10:00:00+00:00"}))
    prov = run_records.records_provenance(run_records.load_records([a, b, c]))
    assert prov == {
        "runs": 3,
        "git_commits": ["c1", "c2"],
        "ftcl_versions": ["0.1.0"],
        "torch_versions": ["2.13.0", "2.13.0+cpu"],
        # the GPU's name where the record has one, else the device the record names
        "devices": ["NVIDIA H100", "cpu", "cuda"],
        "selection_rules": ["best average mAP on held-out videos"],
        "created_utc": ["2026-11-23T09:00:00+00:00", "2026-11-24T10:00:00+00:00"],
        "files": [str(a), str(b), str(c)],
    }


def test_provenance_of_no_records():
    assert run_records.records_provenance([]) == {
        "runs": 0, "git_commits": [], "ftcl_versions": [], "torch_versions": [], "devices": [],
        "selection_rules": [], "created_utc": [], "files": []}


@pytest.mark.parametrize("odd", [1, 2])
def test_a_table_refuses_records_with_other_thresholds(tmp_path, odd):
    """Records of different methods in one table (so that the per-method check of the
    statistics cannot see it): the second or the third differs in one threshold."""
    runs = tmp_path / "results" / "quick" / "runs"
    methods = ["acmnet", "ftcl", "ftcl-wo-fsd"]
    paths = []
    for i, method in enumerate(methods):
        changes = {"tiou_thresholds": T7[:6] + [0.65]} if i == odd else {}
        paths.append(write(runs, record(method, 0, 0.3, **changes)))
    records = run_records.load_records(paths)
    first = next(r for r in records if r.method == "acmnet")
    other = next(r for r in records if r.method == methods[odd])
    assert records[0] is first  # the files are read in this order
    with pytest.raises(ValueError) as err:
        tables.build_table("table3", records)
    assert str(err.value) == (f"table3: run records {first.path} and {other.path} use "
                              "different tIoU thresholds")


def test_a_table_refuses_records_with_fewer_thresholds(tmp_path):
    runs = tmp_path / "results" / "quick" / "runs"
    a = write(runs, record("acmnet", 0, 0.3))
    b = write(runs, record("ftcl", 0, 0.3, tiou_thresholds=T7[:6], map=[0.3] * 6))
    with pytest.raises(ValueError, match=rf"^table1: run records {re.escape(str(a))} and "
                                         rf"{re.escape(str(b))} use different tIoU thresholds$"):
        tables.build_table("table1", run_records.load_records([a, b]))


def test_comparison_fields_by_hand(tmp_path):
    """FTCL - ACM-Net per seed: 47 - 27, 47 - 37, 47 - 57 points = 20, 10, -10."""
    runs = tmp_path / "results" / "quick" / "runs"
    for seed, (acm, ftcl) in enumerate(((0.27, 0.47), (0.37, 0.47), (0.57, 0.47))):
        write(runs, record("acmnet", seed, acm))
        write(runs, record("ftcl", seed, ftcl))
    table = tables.build_tables(tmp_path / "results", write=False)["table1"]
    (comp,) = table.attrs["comparisons"]
    mean = 20 / 3
    sd = math.sqrt(((20 - mean) ** 2 + (10 - mean) ** 2 + (-10 - mean) ** 2) / 2)
    assert comp["seeds"] == [0, 1, 2]
    assert comp["differences"] == pytest.approx([20.0, 10.0, -10.0])
    assert comp["mean"] == pytest.approx(mean) and comp["sd"] == pytest.approx(sd)
    assert comp["n"] == 3 and comp["baseline"] == "acmnet" and comp["dataset"] == "synthumos14"


def test_tables_read_the_profile_asked_for(tmp_path):
    """quick by default; ``full`` reads results/full only."""
    results = tmp_path / "results"
    write(results / "quick" / "runs", record("acmnet", 0, 0.3))
    write(results / "full" / "runs", record("acmnet", 0, 0.5, profile="full"))
    write(results / "full" / "runs", record("acmnet", 1, 0.5, profile="full"))

    def acm_row(built):
        t = built["table1"]
        return t[(t["row"] == "measured") & (t["method"] == "acmnet")].iloc[0]

    quick = acm_row(tables.build_tables(results, write=False))
    assert quick["n_seeds"] == 1 and quick["AVG 0.1-0.7 (%)"] == pytest.approx(30.0)
    full = acm_row(tables.build_tables(results, "full", write=False))
    assert full["n_seeds"] == 2 and full["AVG 0.1-0.7 (%)"] == pytest.approx(50.0)
