"""Issue 19, point 4: tampered and stray records.

Records are written as the batch and ``ftcl train`` write them (:func:`ftcl.train.store_record`,
which enters each one's SHA-256 in ``records.sha256``); the tables then refuse, by name, a record
edited afterwards (in range and self-consistent, so that only the hash can tell) or one the hash
file does not list, and ignore, naming it, a file of ``runs/`` that is not a run record. The
hashes are checked independently with ``hashlib`` and, where it exists, ``sha256sum -c``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import warnings

import pytest

from ftcl.paths import ROOT
from ftcl.report import records as run_records
from ftcl.report import tables
from ftcl.train import seal_records, store_record

THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


def _record(method: str, seed: int, a: float) -> dict:
    """A valid SynTHUMOS14 run record with mAP a at every tIoU (so the average is a)."""
    return {"status": "finished", "method": method, "dataset": "synthumos14",
            "profile": "quick", "seed": seed, "device": "cpu", "iterations": 350,
            "skipped_steps": 0, "tiou_thresholds": THRESHOLDS, "map": [a] * 7,
            "average_map": a, "average_range": [0.1, 0.7], "classification_map": 0.8,
            "provenance": {"git_commit": "abc123"}, "run_name": method}


@pytest.fixture
def stored(tmp_path):
    """results/quick with ACM-Net and FTCL, seeds 0-1, stored as the batch stores them."""
    runs = tmp_path / "results" / "quick" / "runs"
    paths = {}
    for method, a in (("acmnet", 0.3), ("ftcl", 0.35)):
        for seed in (0, 1):
            path = runs / f"synthumos14-{method}-seed{seed}-{seed:010d}.json"
            paths[(method, seed)] = store_record(_record(method, seed, a), path)
    return tmp_path / "results", paths


def _hash_lines(results):
    text = (results / "quick" / "records.sha256").read_text()
    return dict(reversed(line.split("  ")) for line in text.splitlines())


def test_each_record_is_hashed_as_written(stored):
    results, paths = stored
    assert _hash_lines(results) == {f"runs/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
                                    for p in paths.values()}
    if shutil.which("sha256sum"):  # the file is in sha256sum's own format
        check = subprocess.run(["sha256sum", "-c", "--quiet", "records.sha256"],
                               cwd=results / "quick", capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a verified folder raises no warning
        assert len(run_records.find_run_files(results, "quick")) == 4


def test_a_hand_edited_record_is_refused_by_name(stored):
    results, paths = stored
    path = paths[("acmnet", 1)]
    original = path.read_bytes()
    data = json.loads(original)
    data["map"], data["average_map"] = [0.99] * 7, 0.99  # in range and self-consistent
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    run_records.load_record(path)  # the record alone looks fine...
    with pytest.raises(ValueError, match=f"run record {path} was changed after it was written"):
        tables.build_tables(results, "quick", write=False)  # ...but not its hash
    path.write_bytes(original)  # restored: published again
    tables.build_tables(results, "quick", write=False)


def test_a_record_the_hash_file_does_not_list_is_refused(stored):
    results, paths = stored
    copied = paths[("ftcl", 0)].with_name("synthumos14-ftcl-seed2-0000000002.json")
    copied.write_text(json.dumps(_record("ftcl", 2, 0.9)))
    with pytest.raises(ValueError, match=f"run record {copied} is not listed in"):
        run_records.find_run_files(results, "quick")


def test_a_stray_file_is_ignored_and_named(stored):
    results, _ = stored
    runs = results / "quick" / "runs"
    (runs / "notes.json").write_text('{"note": "look at seed 3"}\n')
    (runs / "README.txt").write_text("my notes")
    with pytest.warns(run_records.RecordWarning, match="ignored 2 file.*README.txt, notes.json"):
        found = run_records.find_run_files(results, "quick")
    assert len(found) == 4
    with pytest.warns(run_records.RecordWarning):
        tables.build_tables(results, "quick", write=False)  # the tables build


def test_a_folder_without_hashes_is_read_with_a_warning(stored):
    results, _ = stored
    (results / "quick" / "records.sha256").unlink()
    with pytest.warns(run_records.RecordWarning, match="no records.sha256.*4 run record"):
        assert len(run_records.find_run_files(results, "quick")) == 4


def test_a_superseded_record_leaves_the_hash_file(stored):
    results, paths = stored
    newer = paths[("ftcl", 0)].with_name("synthumos14-ftcl-seed0-ffffffffff.json")
    store_record(_record("ftcl", 0, 0.4), newer)
    hashes = _hash_lines(results)
    assert f"runs/{newer.name}" in hashes and f"runs/{paths[('ftcl', 0)].name}" not in hashes
    assert len(run_records.find_run_files(results, "quick")) == 4


def test_sealing_records_written_before_hashes(tmp_path):
    runs = tmp_path / "quick" / "runs"
    runs.mkdir(parents=True)
    path = runs / "synthumos14-acmnet-seed0-0000000000.json"
    path.write_text(json.dumps(_record("acmnet", 0, 0.3)))
    seal_records([path])
    assert run_records.find_run_files(tmp_path, "quick") == [path]


def test_the_committed_records_match_their_hashes():
    """results/quick: every committed run record is the one the batch wrote."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", run_records.RecordWarning)
        found = run_records.find_run_files(ROOT / "results", "quick")
    assert len(found) == len(_hash_lines(ROOT / "results")) == 210
