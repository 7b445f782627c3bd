"""Run records read back for the tables: validated, one per (dataset, profile, method, seed).

A run record is the JSON the trainer returns (:func:`ftcl.train.record.run_record`), stored as
``<results>/<profile>/runs/<run_id>.json`` with its SHA-256 in
``<results>/<profile>/records.sha256`` (:func:`ftcl.train.record.store_record`).
:func:`find_run_files` lists the records of a folder: files named like a run id or listed in
``records.sha256``; anything else there (a ``notes.json``) is ignored and named in a
:class:`RecordWarning`; a record whose bytes are not those recorded when it was written (edited
by hand), or that the hash file does not list, is refused by name. :func:`load_record` reads one
and refuses a corrupt or inconsistent file with an error naming it (also a run that skipped more
than a quarter of its steps: it learned nothing); :func:`load_records` refuses two records of
one run; :func:`check_single_commit` and :func:`check_single_data_version` refuse record sets a
table must not mix.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import MAX_SKIPPED_FRACTION, METHODS, too_many_skipped
from ..data import get_spec
from ..evaluation.metrics import average_map
from ..io import read_checksums, sha256_file
from ..paths import RESULTS, record_hashes_of_record, runs_dir

#: The file name of a run record: ``<run id>.json`` (:func:`ftcl.config.run_id`:
#: ``<dataset>-<method>-seed<k>-<hash>``; older records and hand-made ones lack the hash).
RUN_RECORD_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*-seed\d+(-[0-9a-f]{10})?\.json$")


class RecordWarning(UserWarning):
    """Something about the records of a results folder the reader should know (not an error)."""

REQUIRED_FIELDS = ("status", "method", "dataset", "profile", "seed", "device", "tiou_thresholds",
                   "map", "average_map", "average_range", "classification_map", "provenance")


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


def record_data_version(record: dict) -> int:
    """The synthetic benchmark version a run record was trained on: its ``data_version`` (run
    records and configurations carry it since version 2 of the data sets), else 1 (older
    records). Use it to keep v1 and v2 records out of one table; the version is also part of
    the configuration hash, so the two never share a run id."""
    if "data_version" in record:
        return int(record["data_version"])
    return int(record.get("config", {}).get("data_version", 1))



def load_record(path: str | Path) -> RunRecord:
    """Read and validate one run record (the JSON :func:`ftcl.train.train` returns).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for
    invalid JSON, a missing field, a run that did not finish, an unknown method or dataset, or
    mAP values that are not fractions in [0, 1] with one value per tIoU threshold.
    """
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
    skipped, steps = data.get("skipped_steps", 0), data.get("iterations", 0)
    if _is_number(skipped) and _is_number(steps) and too_many_skipped(skipped, steps):
        raise bad(f"{skipped} of its {steps} steps were skipped for a non-finite loss (more than "
                  f"{MAX_SKIPPED_FRACTION:.0%}): the run learned nothing and does not count")
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


def _is_run_record(path: Path, listed: set[str]) -> bool:
    """A run record: listed in the hash file, named like a run id, or a ``.json`` file that is
    a JSON object with a record's ``status`` and ``method`` or is not valid JSON at all (a
    truncated record is refused by name, not skipped). Valid JSON of another kind (a
    ``notes.json``) is not a run record."""
    if not path.is_file():
        return False
    if path.name in listed or RUN_RECORD_NAME.match(path.name):
        return True
    if path.suffix != ".json":
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:  # corrupt or truncated (UnicodeDecodeError too)
        return True
    except OSError:
        return False
    return isinstance(data, dict) and "status" in data and "method" in data


def find_run_files(results_dir: str | Path = RESULTS, profile: str = "quick") -> list[Path]:
    """The run records of ``<results_dir>/<profile>/runs/`` (sorted; empty if none), each
    checked against ``records.sha256`` (:func:`run_files_in`)."""
    return run_files_in(runs_dir(results_dir, profile))


def run_files_in(runs: Path) -> list[Path]:
    """The run records of a ``runs/`` folder (sorted; empty if none), each checked against the
    ``records.sha256`` beside the folder (see the module docstring).

    Files that are not run records are left out, named in one :class:`RecordWarning`; a folder
    without ``records.sha256`` (records written before ftcl recorded hashes) is read with one
    :class:`RecordWarning`. Raises ``ValueError`` naming a record that was changed after it was
    written or that the hash file does not list.
    """
    runs = Path(runs)
    if not runs.is_dir():
        return []
    hash_file = record_hashes_of_record(runs / "x.json")[0]
    hashes = read_checksums(hash_file)
    listed = {name.partition("/")[2] for name in hashes or {} if name.startswith(f"{runs.name}/")}
    records, strays = [], []
    for path in sorted(p for p in runs.iterdir() if not p.name.startswith(".")):
        (records if _is_run_record(path, listed) else strays).append(path)
    if strays:
        warnings.warn(f"{runs}: ignored {len(strays)} file(s) that are not run records (no "
                      f"run record inside, not named <run id>.json, not in {hash_file.name}): "
                      f"{', '.join(p.name for p in strays)}", RecordWarning, stacklevel=2)
    if hashes is None:
        if records:
            warnings.warn(f"{runs}: no {hash_file.name} beside it, so its {len(records)} run "
                          "record(s) cannot be checked against what was written (records of "
                          "an ftcl before issue 19)", RecordWarning, stacklevel=2)
        return records
    for path in records:
        recorded = hashes.get(f"{runs.name}/{path.name}")
        if recorded is None:
            raise ValueError(f"run record {path} is not listed in {hash_file}: it was not "
                             "written by the batch or `ftcl train` (copied in or made by "
                             "hand?); remove it, or rerun its run to write it")
        if sha256_file(path) != recorded:
            raise ValueError(f"run record {path} was changed after it was written (its SHA-256 "
                             f"is not the one in {hash_file}): restore it (e.g. git checkout), "
                             "or delete it and rerun the batch to write it again")
    return records


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


def records_provenance(records: Sequence[RunRecord]) -> dict[str, Any]:
    """What a set of records was made with: commits, versions, devices, selection rules."""
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
