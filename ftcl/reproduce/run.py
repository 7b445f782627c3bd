"""One run, start to finish, with every artifact it leaves: what ``ftcl train``, the training
notebook and the batch share.

:func:`run_and_record` trains a configuration (:func:`ftcl.train.train`: the run folder with
``record.json``, ``best.pt``, ``last.pt``, ``predictions.csv``), measures the mechanism of the
runs that get it (:data:`ftcl.config.FTCL_AND_BASELINE` on synthetic data,
:func:`ftcl.analysis.mechanism.analyse_run`) and stores the run record and the mechanism record
under ``results/<profile>/`` (:func:`store_run`). The batch's driver stores what a worker's
notebook returned with the same :func:`store_run`, so a run of the batch and the same run of
``python -m ftcl train`` leave the same files (the batch adds its log, ``logs/<run_id>.ipynb``,
and a ``reproduce`` block in the record).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..analysis import mechanism
from ..config import FTCL_AND_BASELINE, RunConfig, name_run, run_id
from ..paths import mechanism_of_record
from ..train import record_destination, store_record, train


def store_run(record: dict, path: str | os.PathLike, supersede: bool = True,
              hashed: bool | None = None) -> tuple[Path, Path | None]:
    """Write a finished run's record to ``path`` (``.../runs/<run_id>.json``,
    :func:`ftcl.train.store_record`, which ``supersede`` and ``hashed`` go to) and, if the run
    was measured, its mechanism record beside it (``.../mechanism/<run_id>.json``). Returns both
    paths (None: no mechanism record)."""
    written = store_record(record, path, supersede=supersede, hashed=hashed)
    if not record.get("mechanism"):
        return written, None
    return written, mechanism.write_record(record["mechanism"], mechanism_of_record(written))


def run_and_record(cfg: RunConfig, results_dir: str | os.PathLike | None = None,
                   record_path: str | os.PathLike | None = None,
                   analyse: Sequence[str] | None = None, resume: bool = True
                   ) -> tuple[dict, Path | None, Path | None]:
    """Train ``cfg``, measure its mechanism if its method is in ``analyse`` (None:
    :data:`~ftcl.config.FTCL_AND_BASELINE`), store its records.

    A configuration without a ``run_name`` gets its run id as the run folder's name
    (:func:`ftcl.config.name_run`), as in the batch. The run record (with ``run_id`` and, for the
    analysed methods, ``mechanism``) goes to ``record_path``, or to
    ``<results_dir>/<profile>/runs/<run_id>.json`` (``results_dir`` None: the checkout's
    ``results/``), where an older configuration of the same run is superseded. Returns
    ``(record, record file, mechanism file)``; a run stopped early (``KeyboardInterrupt`` is
    raised through) stores nothing.
    """
    cfg = cfg if cfg.run_name else name_run(cfg)
    record = {**train(cfg, resume=resume), "run_id": run_id(cfg)}
    if record.get("status") != "finished":
        return record, None, None
    if cfg.method in (FTCL_AND_BASELINE if analyse is None else analyse):
        record["mechanism"] = mechanism.analyse_run(cfg, record)
    path = record_destination(record_path, None if results_dir is None else str(results_dir),
                              cfg)
    written, mech = store_run(record, path, supersede=record_path is None)
    return record, written, mech
