"""Every folder and file name the package reads or writes, and the checkout it lives in.

Nothing else in :mod:`ftcl` spells a folder of ``results/``, of the cache or of the checkout;
this module imports nothing of ftcl, so every part may use it.

**Results** (committed, written by the batch and ``ftcl train``)::

    results/<profile>/
        runs/<run_id>.json          one run record per training run (ftcl.train.record)
        logs/<run_id>.ipynb         the executed training notebook of the run (the batch only)
        mechanism/<run_id>.json     the mechanism record of the run (ftcl.analysis.mechanism)
        superseded/                 records of an older configuration of the same run
        tables/                     Tables 1-5 (.csv, .md), claims.csv, protocol.json
        reproduce.json              the last batch: counts, wall time, provenance
        records.sha256              the SHA-256 of each run record as it was written
                                    (sha256sum format: ``sha256sum -c records.sha256``)
        .batch.lock                 held by the batch that is using the folder

**Cache** (``$FTCL_CACHE``, else ``~/.cache/ftcl``): the synthetic data sets, the feature-scan
cache ``validated-features.json`` and the work dir ``reproduce/`` of checkpoints::

    <work dir>/<dataset>-<profile>/<run name>/seed<k>/{record.json,best.pt,last.pt,predictions.csv}
    <work dir>/_stage1/<dataset>-<profile>/<backbone>-seed<k>-<key>.pt
    <work dir>/_logs/, _records/    a batch worker's executed notebook and record
"""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout holding the package (``ftcl/..``): notebooks/, results/, _config.yml.
ROOT = Path(__file__).resolve().parent.parent
#: The environment variable naming the cache folder.
CACHE_VARIABLE = "FTCL_CACHE"

RESULTS = "results"
RUNS = "runs"
LOGS = "logs"
MECHANISM = "mechanism"
SUPERSEDED = "superseded"
TABLES = "tables"
BATCH_SUMMARY = "reproduce.json"
RECORD_HASHES = "records.sha256"
#: Held (flock) by the batch using a results or work folder (:func:`ftcl.io.folder_lock`).
BATCH_LOCK = ".batch.lock"
PROTOCOL = "protocol.json"
DOSE = "dose"  # the dose study (issue 21): <results>/<profile>/dose/{runs,mechanism,dose.csv}
DOSE_TABLE = "dose.csv"
DOSE_PROTOCOL = "PROTOCOL.md"
CALIBRATION = "calibration"  # the dose study's phase-A calibration records

NOTEBOOKS = "notebooks"
#: The training notebook the batch executes once per run (the jupytext source).
TRAINING_NOTEBOOK = f"{NOTEBOOKS}/04_train.py"

FEATURE_SCAN_CACHE = "validated-features.json"
WORK_DIR = "reproduce"
STAGE1 = "_stage1"
WORKER_LOGS = "_logs"
WORKER_RECORDS = "_records"

# Files of one run folder.
RUN_RECORD = "record.json"
BEST = "best.pt"
LAST = "last.pt"
PREDICTIONS = "predictions.csv"


# ------------------------------------------------------------------------------ the cache


def default_cache_dir() -> Path:
    """``$FTCL_CACHE`` if set, else ``~/.cache/ftcl``."""
    env = os.environ.get(CACHE_VARIABLE)
    return Path(env) if env else Path.home() / ".cache" / "ftcl"


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """``cache`` if given, else :func:`default_cache_dir`."""
    return Path(cache) if cache is not None else default_cache_dir()


def feature_scan_cache(cache: str | os.PathLike | None = None) -> Path:
    """The file remembering feature files already scanned for NaN/inf."""
    return cache_dir(cache) / FEATURE_SCAN_CACHE


def default_work_dir() -> Path:
    """Checkpoints of ``ftcl train`` and the batch: ``<cache>/reproduce``."""
    return default_cache_dir() / WORK_DIR


def work_dir(out_dir: str | os.PathLike | None = None) -> Path:
    """Where a run keeps its checkpoints: ``out_dir``, or :func:`default_work_dir`."""
    return Path(out_dir).expanduser() if out_dir else default_work_dir()


def run_directory(cfg) -> Path:
    """``<out_dir>/<dataset>-<profile>/<run_name or method>/seed<seed>`` of a run configuration."""
    return (Path(cfg.out_dir) / f"{cfg.dataset}-{cfg.profile}" / (cfg.run_name or cfg.method)
            / f"seed{cfg.seed}")


def stage1_checkpoint(cfg, key: str) -> Path:
    """The cached stage-1 checkpoint of ``cfg`` with stage-1 key ``key``."""
    return (Path(cfg.out_dir) / STAGE1 / f"{cfg.dataset}-{cfg.profile}"
            / f"{cfg.model.backbone}-seed{cfg.seed}-{key}.pt")


def worker_files(work: str | os.PathLike, run_id: str) -> tuple[Path, Path]:
    """A batch worker's executed notebook and run record of ``run_id`` under ``work``."""
    work = Path(work)
    return work / WORKER_LOGS / f"{run_id}.ipynb", work / WORKER_RECORDS / f"{run_id}.json"


# ------------------------------------------------------------------------------ results


def resolve_results_dir(results_dir: str | os.PathLike | None = None) -> Path:
    """The results root: ``results_dir`` if given, else the first existing ``results/`` folder
    in the working directory, its parent (a notebook in ``notebooks/``) or the checkout holding
    this package; ``./results`` if none exists."""
    if results_dir is not None:
        return Path(results_dir)
    cwd = Path.cwd()
    candidates = [cwd / RESULTS, cwd.parent / RESULTS, ROOT / RESULTS]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def profile_dir(results_dir: str | os.PathLike, profile: str) -> Path:
    """``<results>/<profile>``."""
    return Path(results_dir) / profile


def runs_dir(results_dir: str | os.PathLike, profile: str) -> Path:
    return profile_dir(results_dir, profile) / RUNS


def logs_dir(results_dir: str | os.PathLike, profile: str) -> Path:
    return profile_dir(results_dir, profile) / LOGS


def mechanism_dir(results_dir: str | os.PathLike, profile: str) -> Path:
    return profile_dir(results_dir, profile) / MECHANISM


def tables_dir(results_dir: str | os.PathLike, profile: str) -> Path:
    return profile_dir(results_dir, profile) / TABLES


def batch_summary_file(results_dir: str | os.PathLike, profile: str) -> Path:
    return profile_dir(results_dir, profile) / BATCH_SUMMARY


def protocol_file(results_dir: str | os.PathLike, profile: str) -> Path:
    return tables_dir(results_dir, profile) / PROTOCOL


def dose_dir(results_dir: str | os.PathLike, profile: str) -> Path:
    """``<results>/<profile>/dose``: the dose study's protocol, records and ``dose.csv``."""
    return profile_dir(results_dir, profile) / DOSE


def dose_record_file(results_dir: str | os.PathLike, profile: str, run_id: str) -> Path:
    """``<results>/<profile>/dose/runs/<run_id>.json`` (its mechanism record beside, in
    ``dose/mechanism/``, as :func:`mechanism_of_record` names it)."""
    return dose_dir(results_dir, profile) / RUNS / f"{run_id}.json"


def dose_calibration_dir(results_dir: str | os.PathLike, profile: str) -> Path:
    """``<results>/<profile>/dose/calibration``: data family, schedule, oracle and share studies
    (``benchmarks/dose_calibration.py``)."""
    return dose_dir(results_dir, profile) / CALIBRATION


def dose_table_file(results_dir: str | os.PathLike, profile: str) -> Path:
    return dose_dir(results_dir, profile) / DOSE_TABLE


def record_hashes_file(results_dir: str | os.PathLike, profile: str) -> Path:
    """``<results>/<profile>/records.sha256``: each run record's hash as it was written."""
    return profile_dir(results_dir, profile) / RECORD_HASHES


def record_hashes_of_record(record_path: str | os.PathLike) -> tuple[Path, str]:
    """The ``records.sha256`` of a run record ``.../runs/<run_id>.json`` and the record's name
    in it (``runs/<run_id>.json``)."""
    p = Path(record_path)
    return p.parent.parent / RECORD_HASHES, f"{p.parent.name}/{p.name}"


def record_file(results_dir: str | os.PathLike, profile: str, run_id: str) -> Path:
    """``<results>/<profile>/runs/<run_id>.json``."""
    return runs_dir(results_dir, profile) / f"{run_id}.json"


def log_file(results_dir: str | os.PathLike, profile: str, run_id: str) -> Path:
    """``<results>/<profile>/logs/<run_id>.ipynb``."""
    return logs_dir(results_dir, profile) / f"{run_id}.ipynb"


def log_of_record(record_path: str | os.PathLike) -> Path:
    """The executed notebook beside a run record ``.../runs/<run_id>.json``."""
    p = Path(record_path)
    return p.parent.parent / LOGS / f"{p.stem}.ipynb"


def mechanism_of_record(record_path: str | os.PathLike) -> Path:
    """``.../mechanism/<run_id>.json`` beside a run record ``.../runs/<run_id>.json``."""
    p = Path(record_path)
    return p.parent.parent / MECHANISM / p.name


def superseded_of_record(record_path: str | os.PathLike) -> Path:
    """The ``superseded/`` folder beside the ``runs/`` folder of a run record."""
    return Path(record_path).parent.parent / SUPERSEDED


# ------------------------------------------------------------------------------ the checkout


def training_notebook() -> Path:
    """``notebooks/04_train.py`` of this checkout."""
    return ROOT / TRAINING_NOTEBOOK


def notebooks_dir(root: str | os.PathLike | None = None) -> Path:
    return (Path(root) if root is not None else ROOT) / NOTEBOOKS


def display_path(path: str | os.PathLike) -> str:
    """``path`` for printing in a notebook whose output is kept (a log, the book): relative to the
    current folder or to this checkout when inside one of them, else with the home folder
    written ``~`` (so a page names no folder of the machine that built it)."""
    p = Path(path).expanduser().resolve()
    for base, label in ((Path.cwd(), ""), (ROOT, ""), (Path.home(), "~/")):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return f"{label}{rel.as_posix()}" if label else rel.as_posix()
    return p.as_posix()


def portable_path(path: str | os.PathLike | None) -> str | None:
    """``path`` as a file this package publishes may name it (a run record, a training log): no
    folder of the machine that wrote it. Inside this checkout: relative to it; under the home
    folder: ``~/...``; elsewhere only its last part, after ``.../``. None stays None."""
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.is_absolute():
        return p.as_posix()
    p = p.resolve()
    for base, label in ((ROOT, ""), (Path.home(), "~/")):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return f"{label}{rel.as_posix()}" if label else (rel.as_posix() or ".")
    return f".../{p.name}"


def relative_to_work(path: str | os.PathLike, out_dir: str | os.PathLike | None) -> str:
    """A file under the work folder (checkpoints, the stage-1 cache) named relative to it, as
    run records store it; a file outside it: :func:`portable_path`."""
    work = work_dir(out_dir).expanduser().resolve()
    try:
        return Path(path).expanduser().resolve().relative_to(work).as_posix()
    except ValueError:
        return portable_path(path)


def resolve_in_work(path: str | os.PathLike | None, out_dir: str | os.PathLike | None
                    ) -> Path | None:
    """The file a run record names (:func:`relative_to_work`): relative paths are in the work
    folder; absolute ones (records of older versions) are taken as they are."""
    if not path:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else work_dir(out_dir) / p


def scrub_paths(text: str, folders) -> str:
    """``text`` with every absolute ``folders`` path written as :func:`portable_path` writes it
    (longest first, so a folder inside another is replaced whole)."""
    pairs = []
    for folder in folders:
        if folder is None:
            continue
        for form in {str(Path(folder).expanduser()), str(Path(folder).expanduser().resolve())}:
            if Path(form).is_absolute() and form not in ("/", ""):
                pairs.append((form, portable_path(form)))
    for old, new in sorted(set(pairs), key=lambda pair: -len(pair[0])):
        text = text.replace(old, new)
    return text
