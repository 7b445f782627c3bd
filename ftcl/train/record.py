"""One training run: its identity, its folder and its record.

What the training notebook (``notebooks/04_train.py``) and the batch (:mod:`ftcl.reproduce`)
share:

- **Identity** (:func:`run_id`): a readable prefix and a hash of the resolved configuration minus
  the keys in :data:`IGNORED_KEYS` (where files go, the device, thread counts, progress bars: they
  do not define the experiment). A changed hyper-parameter is a new run.
- **Record** (:func:`store_record`): ``<results>/<profile>/runs/<run_id>.json``, written
  atomically; an older configuration of the same run moves to ``superseded/``.
- **Views** of a record for the notebook: :func:`metrics_frame`, :func:`history_frame`,
  :func:`changed_settings`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .config import RunConfig, to_dict
from .executors import default_work_dir
from .io import atomic_write_json

# Configuration keys that do not define the experiment, left out of the run id: where inputs
# and outputs live, the device (recorded in the run record), threads, progress bars, stage-1
# reuse and the evaluation batch size. The trainer lets exactly these change on resume too.
IGNORED_KEYS = ("run_name", "out_dir", "cache_dir", "data_dir", "device", "train.progress",
                "train.reuse_stage1", "train.eval_batch_size", "train.num_threads",
                "train.data_on_device")

def identity(cfg: RunConfig) -> dict[str, Any]:
    """The part of a configuration that defines the experiment (``to_dict`` minus
    :data:`IGNORED_KEYS`)."""
    data = to_dict(cfg)
    for key in IGNORED_KEYS:
        section, _, name = key.rpartition(".")
        (data[section] if section else data).pop(name, None)
    return data


def config_hash(cfg: RunConfig, length: int = 10) -> str:
    """SHA-256 (hex, first ``length`` digits) of the canonical JSON of :func:`identity`."""
    text = json.dumps(identity(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def run_id(cfg: RunConfig) -> str:
    """``<dataset>-<method>-seed<k>-<hash>``, e.g. ``synthumos14-ftcl-seed0-3f9c2a1b7d``."""
    return f"{cfg.dataset}-{cfg.method}-seed{cfg.seed}-{config_hash(cfg)}"


def name_run(cfg: RunConfig) -> RunConfig:
    """``cfg`` with ``run_name = run_id(cfg)``: each configuration gets its own run folder."""
    return dataclasses.replace(cfg, run_name=run_id(cfg))


def check_backbone(cfg: RunConfig, backbone: str | None) -> None:
    """Raise ``ValueError`` if ``backbone`` is given and is not the backbone of ``cfg``."""
    if backbone is not None and backbone != cfg.model.backbone:
        raise ValueError(f"backbone={backbone!r} does not match method {cfg.method!r}, whose "
                         f"backbone is {cfg.model.backbone!r} (leave backbone=None or pick a "
                         "method of that backbone)")


def display_path(path: str | os.PathLike) -> str:
    """``path`` for printing in a notebook whose output is kept (a log, the book): relative to the
    current folder or to this checkout when inside one of them, else with the home folder
    written ``~`` (so a page names no folder of the machine that built it)."""
    p = Path(path).expanduser().resolve()
    checkout = Path(__file__).resolve().parent.parent
    for base, label in ((Path.cwd(), ""), (checkout, ""), (Path.home(), "~/")):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return f"{label}{rel.as_posix()}" if label else rel.as_posix()
    return p.as_posix()


def work_dir(out_dir: str | os.PathLike | None = None) -> Path:
    """Where a run keeps its checkpoints: ``out_dir``, or :func:`default_work_dir`."""
    return Path(out_dir).expanduser() if out_dir else default_work_dir()


def record_destination(record_path: str | os.PathLike | None, results_dir: str | None,
                       cfg: RunConfig) -> Path:
    """``record_path``, or ``<results>/<profile>/runs/<run_id>.json`` (results: the checkout's)."""
    if record_path:
        return Path(record_path)
    from .tables import resolve_results_dir

    return resolve_results_dir(results_dir) / cfg.profile / "runs" / f"{run_id(cfg)}.json"


def record_data_version(record: dict) -> int:
    """The synthetic benchmark version a run record was trained on: its ``data_version`` (run
    records and configurations carry it since version 2 of the data sets), else 1 (older
    records). Use it to keep v1 and v2 records out of one table; the version is also part of
    the configuration hash, so the two never share a run id."""
    if "data_version" in record:
        return int(record["data_version"])
    return int(record.get("config", {}).get("data_version", 1))


def _run_key(data: dict) -> tuple:
    return tuple(data.get(k) for k in ("dataset", "profile", "method", "seed"))


def store_record(record: dict, path: str | os.PathLike, supersede: bool = True) -> Path:
    """Write a run record atomically to ``path`` (``.../runs/<run_id>.json``).

    With ``supersede``, records in the same folder for the same dataset, profile, method and seed
    but another run id (an older configuration) move to ``../superseded/`` with their logs, so
    the tables never see two records of one run.
    """
    path = Path(path)
    if supersede and path.parent.is_dir():
        moved = path.parent.parent / "superseded"
        for other in sorted(path.parent.glob("*.json")):
            if other.name == path.name:
                continue
            try:
                data = json.loads(other.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if isinstance(data, dict) and _run_key(data) == _run_key(record):
                moved.mkdir(parents=True, exist_ok=True)
                os.replace(other, moved / other.name)
                log = path.parent.parent / "logs" / f"{other.stem}.ipynb"
                if log.is_file():
                    os.replace(log, moved / log.name)
    return atomic_write_json(path, record)


def metrics_frame(record: dict):
    """The record's test-set detection mAP per tIoU threshold (%), and its average, as a table."""
    import pandas as pd

    rows = [{"tIoU": f"{t:.2f}", "mAP (%)": round(100 * m, 2)}
            for t, m in zip(record["tiou_thresholds"], record["map"], strict=True)]
    lo, hi = record["average_range"]
    rows.append({"tIoU": f"avg {lo:g}-{hi:g}", "mAP (%)": round(100 * record["average_map"], 2)})
    return pd.DataFrame(rows).set_index("tIoU").T


# Column titles of the loss parts the trainer logs (ftcl.losses.total_loss): the backbone's own
# objective, the two FTCL terms before their Eq. 8 weights, and the weighted total of Eq. 8.
_LOSS_COLUMNS = {"cls": "backbone loss", "fsd": "L_FSD (unweighted)",
                 "lcs": "L_LCS (unweighted)", "loss": "total loss (Eq. 8)"}


def history_frame(record: dict):
    """Model selection: held-out average mAP (%) at each evaluation, the test split's (recorded
    for :mod:`ftcl.protocol`, never used to select) and the training losses."""
    import pandas as pd

    rows = []
    for entry in record.get("history", []):
        row = {"iteration": entry["iteration"]}
        if "holdout" in entry:
            row["held-out avg mAP (%)"] = round(100 * entry["holdout"]["average_map"], 2)
        if "test" in entry:  # recorded only, never used for selection (ftcl.protocol)
            row["test avg mAP (%), not used"] = round(100 * entry["test"]["average_map"], 2)
        row.update({_LOSS_COLUMNS.get(k, f"loss {k}"): round(v, 4)
                    for k, v in entry.get("train", {}).items() if "/" not in k})
        rows.append(row)
    return pd.DataFrame(rows)


def changed_settings(cfg: RunConfig):
    """The configuration keys where ``cfg`` differs from the THUMOS14 defaults, as a table."""
    import pandas as pd

    from .config import flatten

    def flat(c: RunConfig) -> dict:
        data = to_dict(c)
        sections = {k: data.pop(k) for k in ("model", "loss", "ftcl", "train")}
        return {**data, **flatten(sections)}

    mine, base = flat(cfg), flat(RunConfig())
    rows = [{"key": k, "value": v, "default": base.get(k)} for k, v in mine.items()
            if v != base.get(k) and k not in ("run_name", "out_dir", "cache_dir")]
    return pd.DataFrame(rows)
