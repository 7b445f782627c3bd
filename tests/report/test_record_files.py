"""Which files of a ``runs/`` folder are run records (ftcl.report.records.run_files_in and
_is_run_record), the exact words of its warnings and errors and where the warnings point, the
default profile of find_run_files, and records read under a locale that is not UTF-8 (issue 20:
what a flipped test, a wrong key or a wrong default would change)."""

from __future__ import annotations

import json
import locale
import os
import re
import sys
import warnings
from pathlib import Path

import pytest

from ftcl.io import update_checksums
from ftcl.report import records as run_records
from ftcl.train import store_record

T7 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


def record(seed: int = 0, **changes) -> dict:
    """A valid SynTHUMOS14 record of ACM-Net: mAP 0.3 at every threshold."""
    data = {"status": "finished", "method": "acmnet", "run_name": "acmnet",
            "dataset": "synthumos14", "profile": "quick", "seed": seed, "device": "cpu",
            "tiou_thresholds": list(T7), "map": [0.3] * 7, "average_map": 0.3,
            "average_range": [0.1, 0.7], "classification_map": 0.9,
            "provenance": {"git_commit": "abc123"}}
    data.update(changes)
    return data


@pytest.fixture
def runs(tmp_path) -> Path:
    """results/quick/runs holding one record stored as the batch stores it (hashed)."""
    folder = tmp_path / "results" / "quick" / "runs"
    store_record(record(), folder / "synthumos14-acmnet-seed0-0000000000.json")
    return folder


@pytest.fixture
def ascii_locale():
    """The process's locale encoding set to ASCII (LC_CTYPE=C) for the test, then restored."""
    if sys.flags.utf8_mode:
        pytest.skip("Python's UTF-8 mode ignores the locale's encoding")
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        assert locale.getpreferredencoding(False).lower() in ("ascii", "ansi_x3.4-1968")
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


def stray_message(folder: Path, names: str) -> str:
    return re.escape(f"{folder}: ignored {len(names.split(', '))} file(s) that are not run "
                     "records (no run record inside, not named <run id>.json, not in "
                     f"records.sha256): {names}")


def test_what_counts_as_a_run_record(tmp_path):
    """Without a hash file: a .json object with 'status' and 'method', or invalid JSON, is a
    record; an object lacking either key, a JSON list, a folder, a non-.json file are strays
    named in the warning; a hidden file is skipped silently."""
    folder = tmp_path / "quick" / "runs"
    folder.mkdir(parents=True)
    files = {"a.json": {"status": "x", "method": "y"}, "b.json": {"method": "y"},
             "c.json": {"status": "x"}, "d.json": ["status", "method"],
             "f.txt": {"status": "x", "method": "y"}, ".hidden.json": {"note": 1}}
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content))
    (folder / "e.json").write_text('{"status": "fini')  # truncated: a record, refused later
    (folder / "sub.json").mkdir()
    with pytest.warns(run_records.RecordWarning) as caught:
        found = run_records.run_files_in(folder)
    assert [p.name for p in found] == ["a.json", "e.json"]
    assert len(caught) == 2
    assert re.fullmatch(stray_message(folder, "b.json, c.json, d.json, f.txt, sub.json"),
                        str(caught[0].message))


def test_an_unreadable_json_file_is_a_stray(runs, monkeypatch):
    """A .json file that cannot be read (an OSError) is named as a stray, not taken for a
    record (which the hash check would then refuse)."""
    (runs / "notes.json").write_text("{}")
    read_text = Path.read_text

    def failing(self, *args, **kwargs):
        if self.name == "notes.json":
            raise PermissionError(13, "Permission denied", str(self))
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", failing)
    with pytest.warns(run_records.RecordWarning, match=stray_message(runs, "notes.json")):
        assert len(run_records.run_files_in(runs)) == 1


def test_a_hash_entry_below_runs_does_not_list_a_file_of_runs(runs):
    """records.sha256 names files by their path below the profile folder: an entry
    ``runs/old/notes.json`` lists no ``runs/notes.json``, which stays a stray."""
    update_checksums(runs.parent / "records.sha256", {"runs/old/notes.json": "0" * 64})
    (runs / "notes.json").write_text('{"note": "seed 3"}')
    with pytest.warns(run_records.RecordWarning, match=stray_message(runs, "notes.json")):
        assert len(run_records.run_files_in(runs)) == 1


def test_a_hidden_file_is_not_named(runs):
    """A hidden file of runs/ (an editor's or an atomic write's leftover) is passed over
    without a warning."""
    (runs / ".synthumos14-acmnet-seed0-0000000000.json.swp").write_text("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(run_records.run_files_in(runs)) == 1


def test_the_warnings_point_at_the_caller(runs, monkeypatch):
    """Both warnings of run_files_in name the line that called it (stacklevel 2). The stack
    level is read from the call too: under mutmut a trampoline frame sits between the caller
    and run_files_in, so the warning's file is checked only outside it."""
    levels, real_warn = [], warnings.warn

    def warn(*args, stacklevel=1, **kwargs):
        levels.append(stacklevel)
        real_warn(*args, stacklevel=stacklevel + 1, **kwargs)  # + this wrapper's frame

    monkeypatch.setattr(run_records.warnings, "warn", warn)
    (runs / "notes.json").write_text("{}")
    with pytest.warns(run_records.RecordWarning) as caught:
        run_records.run_files_in(runs)
    (runs.parent / "records.sha256").unlink()
    (runs / "notes.json").unlink()
    with pytest.warns(run_records.RecordWarning) as unhashed:
        run_records.run_files_in(runs)
    assert levels == [2, 2]
    if "MUTANT_UNDER_TEST" not in os.environ:
        assert [w.filename for w in [*caught, *unhashed]] == [__file__, __file__]


def test_the_messages_in_full(runs):
    """The words of the refusals and of the warning for a folder without hashes."""
    hash_file = runs.parent / "records.sha256"
    path = runs / "synthumos14-acmnet-seed0-0000000000.json"
    path.write_text(path.read_text() + " ")
    with pytest.raises(ValueError, match="^" + re.escape(
            f"run record {path} was changed after it was written (its SHA-256 is not the one "
            f"in {hash_file}): restore it (e.g. git checkout), or delete it and rerun the "
            "batch to write it again") + "$"):
        run_records.run_files_in(runs)
    hash_file.write_text("")
    with pytest.raises(ValueError, match="^" + re.escape(
            f"run record {path} is not listed in {hash_file}: it was not written by the batch "
            "or `ftcl train` (copied in or made by hand?); remove it, or rerun its run to "
            "write it") + "$"):
        run_records.run_files_in(runs)
    hash_file.unlink()
    with pytest.warns(run_records.RecordWarning, match="^" + re.escape(
            f"{runs}: no records.sha256 beside it, so its 1 run record(s) cannot be checked "
            "against what was written (records of an ftcl before issue 19)") + "$"):
        run_records.run_files_in(runs)


def test_find_run_files_reads_the_quick_profile_by_default(runs):
    results = runs.parent.parent
    assert run_records.find_run_files(results) == sorted(runs.iterdir())


def test_a_utf8_note_is_a_stray_in_an_ascii_locale(runs, ascii_locale):
    """Files are read as UTF-8 whatever the locale: a notes.json with an umlaut is valid JSON
    (a stray), not a corrupt record."""
    (runs / "notes.json").write_text('{"note": "r\u00e9sum\u00e9"}', encoding="utf-8")
    with pytest.warns(run_records.RecordWarning, match=stray_message(runs, "notes.json")):
        assert len(run_records.run_files_in(runs)) == 1


def test_a_utf8_record_loads_in_an_ascii_locale(tmp_path, ascii_locale):
    """load_record reads UTF-8 whatever the locale: a run name with an umlaut survives."""
    path = tmp_path / "rec.json"
    path.write_text(json.dumps(record(run_name="m\u00fcde"), ensure_ascii=False),
                    encoding="utf-8")
    assert run_records.load_record(path).run_name == "m\u00fcde"
