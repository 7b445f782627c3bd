"""Run records read back for the tables: validated, one per (dataset, profile, method, seed).

A run record is the JSON the trainer returns (:func:`ftcl.train.record.run_record`), stored as
``<results>/<profile>/runs/<run_id>.json``. :func:`load_record` reads one and refuses a corrupt or
inconsistent file with an error naming it; :func:`load_records` refuses two records of one run;
:func:`check_single_commit` and :func:`check_single_data_version` refuse record sets a table must
not mix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import METHODS
from ..data import get_spec
from ..evaluation.metrics import average_map
from ..paths import RESULTS, runs_dir

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


def find_run_files(results_dir: str | Path = RESULTS, profile: str = "quick") -> list[Path]:
    """The run records ``<results_dir>/<profile>/runs/*.json`` (sorted; empty if none)."""
    runs = runs_dir(results_dir, profile)
    return sorted(runs.glob("*.json")) if runs.is_dir() else []


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
