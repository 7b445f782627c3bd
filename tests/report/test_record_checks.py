"""Run records read for the tables (ftcl.report.records.load_record and friends): every check at
its edge, every message, what a record yields, and the data-version rule."""

from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace

import pytest

from ftcl.report import records as tables
from ftcl.report import statistics

T7 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


def record(**changes):
    """A valid SynTHUMOS14 record of ACM-Net, seed 0: mAP 30, 29, ..., 24 % (average 27 %)."""
    maps = [0.3 - 0.01 * i for i in range(7)]
    data = {"status": "finished", "method": "acmnet", "run_name": "acmnet",
            "dataset": "synthumos14", "profile": "quick", "seed": 0, "device": "cpu",
            "tiou_thresholds": list(T7), "map": maps, "average_map": sum(maps) / 7,
            "average_range": [0.1, 0.7], "classification_map": 0.9,
            "selection": {"rule": "best average mAP on 40 held-out training videos"},
            "provenance": {"git_commit": "abc"}, "data_version": 2,
            "config": {"data_version": 2}}
    for key, value in changes.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return data


def write(tmp_path, data, name="rec.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def refused(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(ValueError, match=rf"^run record {re.escape(str(path))}: {message}"):
        tables.load_record(path)


def test_a_valid_record(tmp_path):
    r = tables.load_record(write(tmp_path, record(run_name=None)))
    assert (r.method, r.run_name, r.dataset, r.profile, r.family, r.seed, r.device) == (
        "acmnet", "acmnet", "synthumos14", "quick", "thumos14", 0, "cpu")
    assert r.tiou_thresholds == tuple(T7)
    assert r.map_percent == pytest.approx([30.0, 29.0, 28.0, 27.0, 26.0, 25.0, 24.0])
    assert r.average_percent == pytest.approx(27.0) and r.average_range == (0.1, 0.7)
    assert r.classification_percent == pytest.approx(90.0)
    assert r.selection_rule == "best average mAP on 40 held-out training videos"
    assert r.provenance == {"git_commit": "abc"} and r.data_version == 2
    assert tables.load_record(write(tmp_path, record(selection=...))).selection_rule is None
    assert tables.load_record(write(tmp_path, record(selection="last"))).selection_rule is None
    assert tables.load_record(write(tmp_path, record(run_name="v2"))).run_name == "v2"


def test_edges_that_pass(tmp_path):
    maps = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    r = tables.load_record(write(tmp_path, record(map=maps, average_map=1 / 7,
                                                  classification_map=0.0, seed=0)))
    assert r.average_percent == pytest.approx(100 / 7)
    r = tables.load_record(write(tmp_path, record(classification_map=1.0, seed=12)))
    assert r.seed == 12
    # the stored average may differ from the recomputed one by up to 1e-6 (float noise)
    tables.load_record(write(tmp_path, record(average_map=0.27 + 0.9e-6)))
    # a record with another average range is not checked against this one
    odd = record(average_range=[0.3, 0.7], average_map=0.5)
    assert tables.load_record(write(tmp_path, odd)).average_percent == pytest.approx(27.0)


@pytest.mark.parametrize("change, message", [
    (dict(map=...), r"missing field\(s\) \['map'\]$"),
    (dict(provenance=..., seed=...), r"missing field\(s\) \['seed', 'provenance'\]$"),
    (dict(status="stopped"), r"status is 'stopped', not 'finished' \(an interrupted run\)$"),
    (dict(method="acm"), r"unknown method 'acm'; known: \["),
    (dict(dataset="mnist"), r"unknown dataset/profile 'mnist'/'quick': "),
    (dict(profile="huge"), r"unknown dataset/profile 'synthumos14'/'huge': "),
    (dict(seed=-1), r"field 'seed' must be a non-negative integer, got -1$"),
    (dict(seed=True), r"field 'seed' must be a non-negative integer, got True$"),
    (dict(seed=1.0), r"field 'seed' must be a non-negative integer, got 1.0$"),
    (dict(seed="1"), r"field 'seed' must be a non-negative integer, got '1'$"),
    (dict(tiou_thresholds=[]), r"field 'tiou_thresholds' must be a non-empty list of numbers$"),
    (dict(tiou_thresholds="0.1"), r"field 'tiou_thresholds' must be a non-empty list"),
    (dict(tiou_thresholds=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, True]), r"field 'tiou_thresholds'"),
    (dict(tiou_thresholds=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, "0.7"]), r"field 'tiou_thresholds'"),
    (dict(map=[0.1] * 6), r"field 'map' must be a list with one value per tIoU threshold "
                          r"\(7\), got \[0.1, 0.1, 0.1, 0.1, 0.1, 0.1\]$"),
    (dict(map={"0.1": 0.3}), r"field 'map' must be a list with one value per tIoU threshold"),
    (dict(map=[1.01] + [0.0] * 6), r"field 'map' must hold fractions in \[0, 1\], got "
                                   r"\[1.01, 0.0"),
    (dict(map=[-0.01] + [0.0] * 6), r"field 'map' must hold fractions in \[0, 1\]"),
    (dict(map=[False] + [0.0] * 6), r"field 'map' must hold fractions in \[0, 1\]"),
    (dict(average_map=1.01), r"field 'average_map' must be a fraction in \[0, 1\], got 1.01$"),
    (dict(average_map=-0.01), r"field 'average_map' must be a fraction in \[0, 1\], got -0.01$"),
    (dict(average_map="0.27"), r"field 'average_map' must be a fraction in \[0, 1\], got '0.27'$"),
    (dict(classification_map=1.5), r"field 'classification_map' must be a fraction in \[0, 1\], "
                                   r"got 1.5$"),
    (dict(classification_map=-1), r"field 'classification_map' must be a fraction"),
    (dict(provenance=["abc"]), r"field 'provenance' must be an object$"),
    (dict(tiou_thresholds=[0.8, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99]),
     r"no tIoU threshold inside the average range 0.1-0.7$"),
    (dict(average_map=0.27 + 2e-6), r"'average_map'=0.270002 is not the mean of 'map' over "
                                    r"0.1-0.7 \(0.2699+\d*\); the record is inconsistent$"),
])
def test_every_check_names_the_file(tmp_path, change, message):
    refused(tmp_path, record(**change), message)


def test_nan_in_a_record_is_refused(tmp_path):
    data = json.dumps(record()).replace('"classification_map": 0.9', '"classification_map": NaN')
    refused(tmp_path, data, r"field 'classification_map' must be a fraction in \[0, 1\], got nan$")


def test_files_that_are_not_records(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"^run record not found: "
                                                rf"{re.escape(str(tmp_path / 'x.json'))}$"):
        tables.load_record(tmp_path / "x.json")
    path = write(tmp_path, '{"status": "fini')
    with pytest.raises(ValueError, match=rf"^run record {re.escape(str(path))} is not valid JSON "
                                         r"\(corrupt or truncated\): "):
        tables.load_record(path)
    path.write_bytes(b'{"status": "\xff\xfe"}')
    with pytest.raises(ValueError, match=r"is not valid JSON \(corrupt or truncated\): "):
        tables.load_record(path)
    path = write(tmp_path, "[1, 2]")
    with pytest.raises(ValueError, match=rf"^run record {re.escape(str(path))} must hold a JSON "
                                         r"object, got list$"):
        tables.load_record(path)


def test_data_version_of_synthetic_and_real_records(tmp_path):
    v1 = record(data_version=..., config={})
    assert tables.load_record(write(tmp_path, v1)).data_version == 1
    real = record(dataset="thumos14", profile="full")
    assert tables.load_record(write(tmp_path, real)).data_version is None


def test_data_version_from_the_configuration(tmp_path):
    """A record without a top-level data_version takes its configuration's, else 1."""
    from_config = record(data_version=..., config={"data_version": 2})
    assert tables.record_data_version(from_config) == 2
    assert tables.load_record(write(tmp_path, from_config)).data_version == 2
    assert tables.record_data_version({"config": {"seed": 3}}) == 1
    assert tables.record_data_version({"data_version": 3, "config": {"data_version": 2}}) == 3


def test_missing_step_counts_skip_the_skipped_steps_check(tmp_path):
    """A record without 'skipped_steps' counts as none skipped, one without 'iterations' as
    of unknown length: neither is refused for skipped steps (2 steps with 1 skipped would be)."""
    assert tables.load_record(write(tmp_path, record(iterations=2))).seed == 0
    assert tables.load_record(write(tmp_path, record(skipped_steps=1))).seed == 0
    refused(tmp_path, record(iterations=2, skipped_steps=1),
            r"1 of its 2 steps were skipped for a non-finite loss \(more than 25%\): the run "
            r"learned nothing and does not count$")


def test_the_average_may_differ_by_exactly_1e6(tmp_path):
    """The stored average may be off the recomputed one by 1e-6 itself (0 against 1e-6)."""
    zero = record(map=[0.0] * 7, average_map=1e-6)
    assert tables.load_record(write(tmp_path, zero)).average_percent == 0.0
    refused(tmp_path, record(map=[0.0] * 7, average_map=1.1e-6), r"'average_map'=1.1e-06 is not")


def test_duplicate_seeds_name_both_files(tmp_path):
    a = write(tmp_path, record(), "a.json")
    b = write(tmp_path, record(), "b.json")
    c = write(tmp_path, record(seed=1), "c.json")
    assert [r.seed for r in tables.load_records([a, c])] == [0, 1]
    with pytest.raises(ValueError, match=rf"^two run records for acmnet on synthumos14/quick with "
                                         rf"seed 0: {re.escape(str(a))} and {re.escape(str(b))} "
                                         r"\(remove one\)$"):
        tables.load_records([a, c, b])
    other = write(tmp_path, record(profile="full"), "d.json")
    assert len(tables.load_records([a, other])) == 2  # another profile: another table


def _versions(*pairs):
    return [SimpleNamespace(dataset=d, data_version=v) for d, v in pairs]


def test_one_data_version_per_synthetic_data_set():
    tables.check_single_data_version(_versions(("synthumos14", 2), ("synthumos14", 2),
                                               ("synanet", 1), ("thumos14", None)))
    tables.check_single_data_version(_versions(("thumos14", None), ("synthumos14", 1)))
    with pytest.raises(ValueError, match=r"^run records of synanet, synthumos14 come from several "
                                         r"data versions \(\{'synthumos14': \[1, 2\], 'synanet': "
                                         r"\[1, 2\]\}\): v1 and v2 of the synthetic benchmark "
                                         r"never share a table; move the older records out of "
                                         r"the runs folder \(or re-run the batch into a fresh "
                                         r"one\)$"):
        tables.check_single_data_version(_versions(("synthumos14", 2), ("synthumos14", 1),
                                                   ("synanet", 2), ("synanet", 1)))


def test_statistics_of_one_and_several_values():
    assert statistics._stats([2.0, 4.0, 9.0]) == pytest.approx(
        {"mean": 5.0, "std": math.sqrt(13.0), "min": 2.0, "max": 9.0})
    one = statistics._stats([3])
    assert (one["mean"], one["min"], one["max"]) == (3.0, 3.0, 3.0) and math.isnan(one["std"])


def test_statistics_of_two_values_and_no_warning_for_one():
    import warnings

    two = statistics._stats([1, 4])
    assert two == pytest.approx({"mean": 2.5, "std": math.sqrt(4.5), "min": 1.0, "max": 4.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns for ddof=1 on one value
        assert math.isnan(statistics._stats([7.0])["std"])


def test_aggregate_layout_and_values(tmp_path):
    maps = [0.3 - 0.01 * i for i in range(7)]
    paths = [write(tmp_path, record(seed=s, map=[m + 0.1 * s for m in maps],
                                    average_map=sum(maps) / 7 + 0.1 * s), f"r{s}.json")
             for s in (2, 0, 1)]
    agg = statistics.aggregate(tables.load_records(paths))
    assert list(agg.columns) == ["dataset", "profile", "method", "metric", "tiou", "mean", "std",
                                 "min", "max", "n_seeds", "seeds", "average_range"]
    assert agg["metric"].tolist() == [f"mAP@{t:g}" for t in T7] + ["avg", "cls"]
    assert agg["tiou"].tolist()[:7] == T7 and agg["tiou"][7:].isna().all()
    assert set(agg["average_range"]) == {"0.1-0.7"} and set(agg["seeds"]) == {"0,1,2"}
    first = agg.iloc[0]
    assert (first["mean"], first["min"], first["max"], first["n_seeds"]) == pytest.approx(
        (40.0, 30.0, 50.0, 3))
    assert first["std"] == pytest.approx(10.0)


def test_aggregate_refuses_records_of_one_method_with_other_thresholds(tmp_path):
    a = write(tmp_path, record(), "a.json")
    b = write(tmp_path, record(seed=1), "b.json")
    c = write(tmp_path, record(seed=2, tiou_thresholds=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65]),
              "c.json")
    d = write(tmp_path, record(seed=3, tiou_thresholds=T7[:6], map=[0.3] * 6, average_map=0.3),
              "d.json")
    for odd in (c, d):  # the second or the third record differs in a value, or in the count
        for group in ([a, odd], [a, b, odd]):
            with pytest.raises(ValueError, match=rf"^run records {re.escape(str(a))} and "
                                                 rf"{re.escape(str(odd))} \(acmnet on "
                                                 r"synthumos14\) use different tIoU thresholds$"):
                statistics.aggregate(tables.load_records(group))
