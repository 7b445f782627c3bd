"""One training run's record: what it holds, and where it is stored.

The trainer returns the run record (:func:`run_record`) and writes it as ``record.json`` in the
run folder; a run of the batch or of ``ftcl train`` also stores it as
``<results>/<profile>/runs/<run_id>.json`` (:func:`store_record`, atomically; an older
configuration of the same run moves to ``superseded/``) and records the file's SHA-256 in
``<results>/<profile>/records.sha256``, so that the tables can tell a record as it was written
from one edited by hand. Its identity is :func:`ftcl.config.run_id`; :mod:`ftcl.report.records`
reads it back (and checks those hashes) for the tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..config import (
    LAMBDA_CHOICE,
    LAMBDA_GRID,
    LAMBDA_SOURCE,
    METHODS,
    RunConfig,
    run_id,
    to_dict,
)
from ..io import atomic_write_json, sha256_file, update_checksums
from ..paths import (
    log_of_record,
    portable_path,
    record_file,
    record_hashes_of_record,
    resolve_results_dir,
    superseded_of_record,
)
from ..provenance import provenance
from .diagnostics import average_shares
from .schedule import learning_rate, selection_rule


def _ftcl_terms(cfg: RunConfig) -> dict | None:
    """The FTCL terms of a run and how their weights were chosen (None without FTCL terms)."""
    if not cfg.ftcl.enabled:
        return None
    f = cfg.ftcl
    return {
        "action_measure": f.action_measure, "pair_measure": f.pair_measure,
        "loss_form": f.loss_form, "term_scale": f.term_scale, "background": f.background,
        "lcs_threshold_form": f.lcs_threshold_form, "shuffle_pairs": f.shuffle_pairs,
        "lambda_fsd": f.lambda_fsd, "lambda_lcs": f.lambda_lcs,
        "lambda_grid": list(LAMBDA_GRID.get(cfg.model.backbone, ())),
        "lambda_choice": LAMBDA_CHOICE.get(cfg.model.backbone),
        "lambda_chosen_by": LAMBDA_SOURCE}


def _schedule(cfg: RunConfig, stage1: dict) -> dict:
    n1, n2, t = cfg.train.pretrain_iterations, cfg.train.iterations, cfg.train
    return {
        "stage1": {"iterations": n1, "loss": f"{cfg.model.backbone} objective only",
                   **{k: v for k, v in stage1.items() if k != "iterations"}},
        "stage2": {"iterations": n2, "init": "stage-1 weights" if n1 else "scratch",
                   "loss": "Eq. 8 (backbone objective + FTCL terms)" if cfg.ftcl.enabled
                   else f"{cfg.model.backbone} objective only",
                   "optimizer": f"Adam lr={learning_rate(t, 2, 0)} ({t.stage2_schedule}) "
                                f"wd={t.weight_decay}, fresh at stage start",
                   "batch_size_pairs": t.batch_size},
    }


def run_record(cfg: RunConfig, state, data, device, results: dict, selected: str,
               test_time: float) -> dict:
    """The run record of a finished run.

    ``state``: the trainer's schedule state (history, stage 1, selected iteration, timings);
    ``data``: its :class:`~ftcl.train.data.RunData`; ``results``: the test metrics of the
    ``"last"`` (and ``"selected"``) model; ``selected``: which one is reported.
    """
    report = results[selected]
    method = METHODS[cfg.method]
    n2 = cfg.train.iterations
    return {
        "status": "finished",
        "method": cfg.method, "run_name": cfg.run_name or cfg.method,
        "description": method.description, "paper_table": method.table,
        "backbone": cfg.model.backbone, "ftcl_terms": _ftcl_terms(cfg),
        "dataset": cfg.dataset, "profile": cfg.profile, "seed": cfg.seed,
        "data_version": cfg.data_version,
        "device": str(device),
        "iterations": cfg.train.pretrain_iterations + n2,
        "schedule": _schedule(cfg, state.stage1),
        "selection": {"rule": selection_rule(cfg, len(data.holdout_ids)), "reported": selected,
                      "selected_iteration": state.best_iteration if selected == "selected"
                      else n2, "holdout_videos": len(data.holdout_ids),
                      "fit_videos": len(data.fit_ids)},
        "tiou_thresholds": report["tiou_thresholds"],
        "map": report["map"],
        "average_map": report["average_map"],
        "average_range": report["average_range"],
        "classification_map": report["classification_map"],
        "test": results,
        "history": state.history,
        "grad_shares": {"tail_fraction": cfg.train.grad_share_tail,
                        "iterations": len(state.tail_norms),
                        "mean": average_shares(state.tail_norms)} if state.tail_norms else None,
        "skipped_steps": state.skipped_steps,
        # data: preparing the data set (generating the synthetic one, or checking a cached or
        # real one) before training
        "wall_time_s": {"data": round(data.prepare_s, 3),
                        **{k: round(v, 3) for k, v in state.elapsed.items()},
                        "test": round(test_time, 3),
                        "total": round(data.prepare_s + sum(state.elapsed.values()) + test_time,
                                       3)},
        "provenance": provenance(device=str(device)),
        # where inputs and outputs lived on the machine that ran it: not published as such
        "config": {**to_dict(cfg), **{key: portable_path(getattr(cfg, key))
                                      for key in ("out_dir", "cache_dir", "data_dir")}},
    }


def record_destination(record_path: str | os.PathLike | None, results_dir: str | None,
                       cfg: RunConfig) -> Path:
    """``record_path``, or ``<results>/<profile>/runs/<run_id>.json`` (results: the checkout's,
    :func:`ftcl.paths.resolve_results_dir`)."""
    if record_path:
        return Path(record_path)
    return record_file(resolve_results_dir(results_dir), cfg.profile, run_id(cfg))


def _run_key(data: dict) -> tuple:
    return tuple(data.get(k) for k in ("dataset", "profile", "method", "seed"))


def store_record(record: dict, path: str | os.PathLike, supersede: bool = True,
                 hashed: bool | None = None) -> Path:
    """Write a run record atomically to ``path`` (``.../runs/<run_id>.json``).

    With ``supersede``, records in the same folder for the same dataset, profile, method and seed
    but another run id (an older configuration) move to ``../superseded/`` with their logs, so
    the tables never see two records of one run; they leave ``records.sha256``. With ``hashed``
    (default: ``supersede``; the batch's results layout, the dose study's ``dose/runs/``
    included) the new record's hash enters the ``records.sha256`` beside its folder.
    """
    path = Path(path)
    hashes, name = record_hashes_of_record(path)
    changes: dict[str, str | None] = {}
    if supersede and path.parent.is_dir():
        moved = superseded_of_record(path)
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
                changes[record_hashes_of_record(other)[1]] = None
                log = log_of_record(other)
                if log.is_file():
                    os.replace(log, moved / log.name)
    written = atomic_write_json(path, record)
    if (supersede if hashed is None else hashed):
        update_checksums(hashes, {**changes, name: sha256_file(written)})
    return written


def seal_records(paths) -> Path | None:
    """Enter the hashes of run records ``paths`` (files of one ``runs/`` folder, as they are
    now) in their ``records.sha256``: for records written before ftcl recorded hashes, once,
    by whoever vouches that they are as the batch wrote them. Returns the hash file."""
    paths = [Path(p) for p in paths]
    if not paths:
        return None
    hashes = record_hashes_of_record(paths[0])[0]
    return update_checksums(hashes, {record_hashes_of_record(p)[1]: sha256_file(p)
                                     for p in paths})
