"""The reproduction batch: every training run Tables 1-5 need, through the training notebook.

``python -m ftcl reproduce --profile quick`` (see :func:`add_arguments`) does four things:

1. **Plan** (:func:`plan`): the runs the paper's tables need, read from the ``table`` field of
   each method in :data:`ftcl.config.METHODS`: Table 2 is the ActivityNet table (``synanet``,
   or ``activitynet13`` with real features), Tables 1 and 3-5 the THUMOS14 tables
   (``synthumos14`` / ``thumos14``); each configuration once per seed.
2. **Identify** each run by :func:`ftcl.runs.run_id`: a readable prefix and a hash of the
   resolved configuration minus the keys in :data:`ftcl.runs.IGNORED_KEYS` (where files go, the
   device, thread counts, progress bars: they do not define the experiment). A changed
   hyper-parameter is a new run; a run whose record exists is skipped, so an interrupted batch
   resumes and a finished run is never repeated. (Code changes do not change the id: start a
   fresh ``--results`` folder to re-run everything with new code.)
3. **Execute** each run as one papermill execution of ``notebooks/04_train.py`` on an executor
   (:mod:`ftcl.executors`: a local process pool, or Ray). Runs of one *stage-1 group* (same
   backbone, data, seed and stage-1 settings: :func:`ftcl.train.stage1_key`) share the trainer's
   cached stage-1 checkpoint, so the plan puts each group's plain-backbone run first and the
   scheduler keeps at most one run of a group in flight until one of them has finished: stage 1
   is trained once, and no two processes write the same checkpoint. On Ray the finished run's
   stage-1 checkpoint travels with its outcome and is placed on the workers of the other runs.
4. **Write** (driver only, atomically): ``<results>/<profile>/runs/<run_id>.json`` (the run
   record), ``logs/<run_id>.ipynb`` (the executed notebook, also for a failed run),
   ``reproduce.json`` (the last batch: counts, wall time, provenance), then Tables 1-5
   (:func:`rebuild_tables`, :func:`ftcl.tables.build_tables`). Checkpoints and the synthetic data
   stay in the work dir and the data cache (default ``$FTCL_CACHE`` or ``~/.cache/ftcl``), out of
   ``results/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .commands import Command
from .config import METHODS, RunConfig, make_config, parse_assignment
from .executors import RunTask, make_executor
from .io import atomic_write_json, atomic_write_text
from .runs import run_id, store_record, work_dir

# The paper's tables by data family: Table 2 is ActivityNet 1.3, the others THUMOS14.
TABLE_FAMILY = {1: "thumos14", 2: "activitynet13", 3: "thumos14", 4: "thumos14", 5: "thumos14"}
# Data family -> (synthetic stand-in, real dataset).
FAMILY_DATASETS = {"thumos14": ("synthumos14", "thumos14"),
                   "activitynet13": ("synanet", "activitynet13")}
# Ten seeds per configuration: the paper's effects are 0.1-2.8 points, and the paired interval
# of ten seeds is what can resolve about one point on the quick profile (ftcl.stats).
DEFAULT_SEEDS = tuple(range(10))
# Data-seed scheme: on synthetic data each training seed draws its own data set,
# ``data_seed = seed`` (unless ``--set data_seed=K`` fixes one data set for all seeds), so that
# no conclusion rests on one draw of the synthetic benchmark. All methods of one seed still share
# that data set, the stage-1 checkpoint and the pair batches: pairing by seed stays valid.
DATA_SEED_SCHEME = "data_seed = seed (synthetic data); real data have no data seed"
# Top-level keys a batch sets itself (per run or by its own options), not through --set.
_BATCH_KEYS = ("method", "dataset", "profile", "seed", "run_name", "out_dir", "device",
               "data_dir", "cache_dir")


def default_notebook() -> Path:
    """The training notebook of this checkout: ``notebooks/04_train.py``."""
    return Path(__file__).resolve().parent.parent / "notebooks" / "04_train.py"


# ------------------------------------------------------------------------------ plan


def tables_of(method: str) -> tuple[int, ...]:
    """The paper's tables a method appears in, from its ``table`` field ("Tables 1-4 ...")."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
    found: set[int] = set()
    for lo, hi in re.findall(r"Tables?\s+(\d+)(?:\s*-\s*(\d+))?", METHODS[method].table):
        found.update(range(int(lo), int(hi or lo) + 1))
    unknown = sorted(found - set(TABLE_FAMILY))
    if not found or unknown:
        raise ValueError(f"method {method!r}: cannot read the paper tables from its table field "
                         f"{METHODS[method].table!r}")
    return tuple(sorted(found))


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One run of the batch: a method on a dataset with a seed, and what it waits for."""

    run_id: str
    method: str
    dataset: str
    profile: str
    seed: int
    tables: tuple[int, ...]
    backbone: str
    data_dir: str | None
    overrides: dict[str, Any]  # the batch's --set overrides (part of the configuration)
    group: str | None  # stage-1 group (runs sharing one stage-1 checkpoint); None: no stage 1
    config: RunConfig = dataclasses.field(compare=False, repr=False)

    @property
    def plain(self) -> bool:
        """A backbone trained alone (no FTCL terms): its group's natural first run."""
        return not self.config.ftcl.enabled


def parse_data_dirs(values: Iterable[str]) -> dict[str, str]:
    """``--data-dir`` values ``[DATASET=]DIR`` -> ``{family: dir}`` (bare DIR = thumos14)."""
    dirs: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            name, path = "thumos14", value
        if name not in FAMILY_DATASETS:
            raise ValueError(f"--data-dir {value!r}: dataset must be one of "
                             f"{sorted(FAMILY_DATASETS)} (as thumos14=DIR or activitynet13=DIR)")
        if not path:
            raise ValueError(f"--data-dir {value!r}: no folder given")
        if name in dirs:
            raise ValueError(f"--data-dir given twice for {name}")
        dirs[name] = path
    return dirs


def _stage1_group(cfg: RunConfig) -> str | None:
    if cfg.train.pretrain_iterations == 0 or not cfg.train.reuse_stage1:
        return None
    import torch

    from .train import stage1_key

    # The device type only renames the checkpoint; every run of a batch shares it.
    key = stage1_key(cfg, torch.device("cpu"))
    return f"{cfg.dataset}-{cfg.model.backbone}-seed{cfg.seed}-{key}"


def plan(profile: str = "quick", seeds: Sequence[int] = DEFAULT_SEEDS,
         data_dirs: dict[str, str] | None = None, only: Sequence[str] | None = None,
         overrides: dict[str, Any] | None = None) -> list[PlannedRun]:
    """Every run Tables 1-5 need, in execution order.

    Parameters
    ----------
    profile : str
        ``quick`` or ``full`` (real features have only ``full``).
    seeds : sequence of int
        Each configuration runs once per seed; on synthetic data the seed also selects the
        data set (:data:`DATA_SEED_SCHEME`).
    data_dirs : dict, optional
        ``{family: folder}`` of real features (``thumos14``, ``activitynet13``): those tables
        run on the real data; with any real folder, tables of the other family are left out.
    only : sequence of str, optional
        Keep only these methods.
    overrides : dict, optional
        Configuration overrides applied to every run (part of each run's identity).

    Returns
    -------
    list of PlannedRun
        Each stage-1 group's first run (its plain backbone) comes before all the others, so that
        stage 1 is trained once per group; then seeds, data families and methods in order.
    """
    data_dirs = dict(data_dirs or {})
    overrides = dict(overrides or {})
    unknown = sorted(set(data_dirs) - set(FAMILY_DATASETS))
    if unknown:
        raise ValueError(f"data_dirs: unknown dataset(s) {unknown}; known: "
                         f"{sorted(FAMILY_DATASETS)}")
    if data_dirs and profile != "full":
        raise ValueError(f"profile {profile!r}: real features have only the 'full' profile "
                         "(use --profile full with --data-dir)")
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds {seeds}: need one or more non-negative integers")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds}: a seed is repeated")
    methods = list(METHODS)
    if only:
        bad = sorted(set(only) - set(METHODS))
        if bad:
            raise ValueError(f"--only: unknown method(s) {bad}; choose from {sorted(METHODS)}")
        methods = [m for m in methods if m in set(only)]
    from .config import flatten

    reserved = sorted(k for k in flatten(overrides) if k in _BATCH_KEYS)
    if reserved:
        raise ValueError(f"overrides may not set {reserved}: the batch sets these itself "
                         "(use its options: --seeds, --only, --data-dir, --device...)")
    runs: list[PlannedRun] = []
    for seed in seeds:
        for family, (synthetic, real) in FAMILY_DATASETS.items():
            if data_dirs and family not in data_dirs:
                continue
            dataset = real if family in data_dirs else synthetic
            data_dir = data_dirs.get(family)
            for method in methods:
                tables = tuple(t for t in tables_of(method) if TABLE_FAMILY[t] == family)
                if not tables:
                    continue
                cfg = make_config(method, dataset, profile, overrides=overrides, seed=seed,
                                  data_dir=data_dir,
                                  data_seed=None if data_dir else data_seed_of(seed, overrides))
                runs.append(PlannedRun(run_id(cfg), method, dataset, profile, seed, tables,
                                       cfg.model.backbone, data_dir, overrides,
                                       _stage1_group(cfg), cfg))
    first: dict[str | None, PlannedRun] = {}
    for run in sorted(runs, key=lambda r: not r.plain):  # stable: plain backbones first
        if run.group is not None:
            first.setdefault(run.group, run)
    leaders = [r for r in runs if first.get(r.group) is r]
    return leaders + [r for r in runs if first.get(r.group) is not r]


def data_seed_of(seed: int, overrides: dict[str, Any] | None = None) -> int:
    """The synthetic data seed of training seed ``seed`` (:data:`DATA_SEED_SCHEME`):
    ``overrides["data_seed"]`` if the batch fixes one, else ``seed``."""
    fixed = (overrides or {}).get("data_seed")
    return int(fixed) if fixed is not None else int(seed)


def notebook_parameters(run: PlannedRun, device: str = "auto", cache_dir: str | None = None,
                        threads: int | None = None) -> dict[str, Any]:
    """The training notebook's papermill parameters for ``run`` (``out_dir`` and
    ``record_path`` are set on the worker)."""
    overrides = {**run.overrides, "train.progress": False}
    if run.config.data_seed is not None:
        overrides["data_seed"] = run.config.data_seed
    if threads:
        overrides["train.num_threads"] = threads
    return {"dataset": run.dataset, "data_dir": run.data_dir, "profile": run.profile,
            "method": run.method, "backbone": run.backbone, "seed": run.seed, "device": device,
            "cache_dir": cache_dir, "overrides": overrides, "results_dir": None}


def prepare_data(runs: Sequence[PlannedRun], cache_dir: str | None = None) -> list[Path]:
    """Prepare each dataset of ``runs`` once (generate synthetic data, validate real folders).

    Each is checked as a run would check it (:func:`ftcl.validate.check_data`: splits, ground
    truth, video pairs, finite features), so bad data fails here, before any worker starts.
    """
    from .data import get_spec, prepare_dataset
    from .train import load_data
    from .validate import check_data

    roots, seen = [], set()
    for run in runs:
        cfg = run.config
        key = (cfg.dataset, cfg.profile, cfg.data_dir, cfg.data_seed, cfg.data_version)
        if key not in seen:
            seen.add(key)
            spec = get_spec(cfg.dataset, cfg.profile, data_version=cfg.data_version)
            roots.append(prepare_dataset(cfg.dataset, cfg.profile, data_dir=cfg.data_dir,
                                         seed=cfg.data_seed or 0, cache_dir=cache_dir,
                                         spec=spec))
            cfg = dataclasses.replace(cfg, cache_dir=cache_dir)
            check_data(load_data(cfg), cfg)
    return roots


# ------------------------------------------------------------------------------ the batch


@dataclasses.dataclass
class BatchReport:
    """What a batch did (also written as ``<results>/<profile>/reproduce.json``)."""

    planned: int
    skipped: int = 0  # records already present
    finished: int = 0
    failed: list[dict] = dataclasses.field(default_factory=list)  # run_id, error, log
    interrupted: bool = False
    wall_s: float = 0.0
    executor: str = ""

    @property
    def remaining(self) -> int:
        return self.planned - self.skipped - self.finished

    def summary(self) -> str:
        minutes, seconds = divmod(round(self.wall_s), 60)
        hours, minutes = divmod(minutes, 60)
        state = "interrupted" if self.interrupted else "done"
        return (f"reproduce {state}: {self.planned} runs planned, {self.skipped} already done, "
                f"{self.finished} finished now, {len(self.failed)} failed; wall time "
                f"{hours:d}:{minutes:02d}:{seconds:02d} ({self.wall_s:.1f} s)")


def _progress(total: int, initial: int, desc: str, stream: TextIO, enabled: bool):
    from tqdm.std import tqdm  # tqdm.auto warns (with machine paths) in a kernel w/o ipywidgets

    return tqdm(total=total, initial=initial, desc=desc, unit="run", file=stream,
                dynamic_ncols=True, disable=not enabled)


def run_batch(runs: Sequence[PlannedRun], executor, results_dir: str | os.PathLike = "results",
              *, device: str = "auto", cache_dir: str | None = None,
              work_dir: str | None = None, notebook: str | os.PathLike | None = None,
              progress: bool = True, stream: TextIO | None = None) -> BatchReport:
    """Execute the runs of a plan that have no record yet; write records and logs as they end.

    Parameters
    ----------
    runs : sequence of PlannedRun
        From :func:`plan` (all of one profile), in execution order.
    executor
        From :func:`ftcl.executors.make_executor` (or any object with ``capacity``, ``submit``,
        ``poll``, ``cancel`` and ``close``); closed on return.
    results_dir : path
        The results root; records go to ``<results_dir>/<profile>/runs/``.
    device, cache_dir, work_dir : optional
        Passed to every run (device string as given: each worker resolves ``auto`` itself).
    notebook : path, optional
        The training notebook (default :func:`default_notebook`).
    progress : bool
        Show the overall bar (done / running / failed).
    stream : text stream, optional
        Where the bar and failures go (default ``sys.stderr``).

    Returns
    -------
    BatchReport
        Ctrl-C cancels what is running and returns with ``interrupted=True``; run the same batch
        again to resume.
    """
    stream = stream if stream is not None else sys.stderr
    profiles = {r.profile for r in runs}
    if len(profiles) > 1:
        raise ValueError(f"a batch holds runs of one profile, got {sorted(profiles)}")
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise ValueError("the plan holds the same run twice")
    source = Path(notebook) if notebook else default_notebook()
    if not source.is_file():
        raise FileNotFoundError(f"training notebook not found: {source} (run from a checkout "
                                "of the repository or pass --notebook)")
    text = source.read_text(encoding="utf-8")
    profile = profiles.pop() if profiles else "quick"
    root = Path(results_dir) / profile
    runs_dir, logs_dir = root / "runs", root / "logs"
    from .io import sweep_stale_temp

    for folder in (root, runs_dir, logs_dir):  # temp files of a killed batch's writes
        sweep_stale_temp(folder)
    todo = [r for r in runs if not (runs_dir / f"{r.run_id}.json").is_file()]
    report = BatchReport(planned=len(runs), skipped=len(runs) - len(todo),
                         executor=getattr(executor, "name", type(executor).__name__))
    threads = getattr(executor, "threads", None)
    ships_stage1 = getattr(executor, "name", "") == "ray"
    queue, in_flight = list(todo), {}
    busy: Counter = Counter()  # stage-1 group -> runs in flight
    warm: set[str] = set()  # groups whose stage-1 checkpoint exists (a run of it finished)
    stage1: dict[str, dict] = {}  # group -> shipped stage-1 checkpoint (Ray)
    t0 = time.perf_counter()
    bar = _progress(len(runs), report.skipped, f"reproduce {profile}", stream, progress)

    def status() -> None:
        bar.set_postfix_str(f"done {report.skipped + report.finished}, running {len(in_flight)}, "
                            f"failed {len(report.failed)}", refresh=True)

    try:
        while queue or in_flight:
            capacity = executor.capacity()
            i = 0
            while len(in_flight) < capacity and i < len(queue):
                run = queue[i]
                if run.group is not None and run.group not in warm and busy[run.group]:
                    i += 1  # its group's stage 1 is being trained by another run
                    continue
                queue.pop(i)
                task = RunTask(run.run_id, notebook_parameters(run, device, cache_dir, threads),
                               text, work_dir=work_dir, threads=threads,
                               want_stage1=ships_stage1 and run.group is not None
                               and run.group not in stage1)
                executor.submit(task, stage1.get(run.group) if ships_stage1 else None)
                in_flight[run.run_id] = run
                busy[run.group] += 1
            status()
            for outcome in executor.poll(timeout=1.0):
                run = in_flight.pop(outcome["run_id"])
                busy[run.group] -= 1
                log = logs_dir / f"{run.run_id}.ipynb"
                if outcome.get("notebook"):
                    atomic_write_text(log, outcome["notebook"])
                if outcome["ok"]:
                    record = {**outcome["record"], "reproduce": {
                        "run_id": run.run_id, "log": f"logs/{log.name}",
                        "executor": report.executor, "host": outcome.get("host"),
                        "notebook_wall_s": outcome.get("wall_s")}}
                    store_record(record, runs_dir / f"{run.run_id}.json")
                    if record.get("mechanism"):  # ftcl.mechanism, measured by the notebook
                        atomic_write_json(root / "mechanism" / f"{run.run_id}.json",
                                          record["mechanism"])
                    report.finished += 1
                    if run.group is not None:
                        warm.add(run.group)
                        if outcome.get("stage1"):
                            stage1.setdefault(run.group, outcome["stage1"])
                else:
                    where = log if outcome.get("notebook") else "no notebook came back"
                    report.failed.append({"run_id": run.run_id, "error": outcome["error"],
                                          "log": str(where)})
                    message = (f"FAILED {run.run_id} ({run.method} on {run.dataset}, seed "
                               f"{run.seed}): {outcome['error']}\n  executed notebook: {where}")
                    if outcome.get("stderr"):
                        message += "\n  kernel stderr (last lines):\n    " + \
                            outcome["stderr"].replace("\n", "\n    ")
                    bar.write(message, file=stream)
                bar.update(1)
                status()
    except KeyboardInterrupt:
        report.interrupted = True
        executor.cancel()
    finally:
        executor.close()
        bar.close()
        report.wall_s = time.perf_counter() - t0
    _write_batch_summary(root, report, runs)
    return report


def _write_batch_summary(root: Path, report: BatchReport, runs: Sequence[PlannedRun]) -> None:
    from .provenance import provenance

    atomic_write_json(root / "reproduce.json", {
        **dataclasses.asdict(report), "wall_s": round(report.wall_s, 1),
        "runs": [r.run_id for r in runs], "provenance": provenance()})


def rebuild_tables(results_dir: str | os.PathLike, profile: str, allow_mixed: bool = False
                   ) -> list[Path] | None:
    """Rebuild Tables 1-5 (:func:`ftcl.tables.build_tables`) and the selection-protocol summary
    (:func:`ftcl.protocol.protocol_summary`); None if the tables module is absent.

    Refuses (``ValueError``) records from several commits or a dirty tree unless
    ``allow_mixed``.
    """
    try:
        from . import protocol, tables
    except ImportError:
        return None
    tables.build_tables(results_dir, profile, write=True, allow_mixed=allow_mixed)
    protocol.protocol_summary(results_dir, profile, write=True)
    out = Path(results_dir) / profile / "tables"
    return sorted(out.glob("table*.md"))


# ------------------------------------------------------------------------------ command line

HELP = "run every training run of Tables 1-5 through the training notebook (papermill)"
DESCRIPTION = (
    "Plan every training run the paper's Tables 1-5 need (each method of ftcl.config.METHODS on "
    "its tables' data, once per seed), execute each through notebooks/04_train.py with "
    "papermill on a local process pool or a Ray cluster, and write results/<profile>/: run "
    "records (runs/), executed notebooks (logs/) and the tables (tables/). Runs whose record "
    "exists are skipped: an interrupted batch resumes where it stopped.")
EPILOG = """\
examples:
  python -m ftcl reproduce --profile quick               # the quick batch on this machine
  python -m ftcl reproduce --dry-run                     # show the plan and what is done
  python -m ftcl reproduce --only acmnet ftcl --seeds 0  # part of it
  python -m ftcl reproduce --profile full --device cuda \\
      --data-dir thumos14=/data/THUMOS14 --data-dir activitynet13=/data/ANet
  ray start --head                                       # then, on a Ray cluster:
  python -m ftcl reproduce --executor ray --address auto --device cuda

Checkpoints and synthetic data stay out of results/: in --work-dir (default
$FTCL_CACHE/reproduce or ~/.cache/ftcl/reproduce) and the data cache.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``ftcl reproduce``."""
    p.add_argument("--profile", default="quick", choices=("quick", "full"),
                   help="quick (default; synthetic data, minutes on a CPU) or full")
    p.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS), metavar="K",
                   help="seeds of every configuration (default: 0-9; on synthetic data each "
                        "seed also draws its own data set, data_seed = seed)")
    p.add_argument("--data-dir", action="append", default=[], metavar="[DATASET=]DIR",
                   help="real features in the release layout; DATASET is thumos14 (default) or "
                        "activitynet13 (repeatable); needs --profile full")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local process pool (default) or a Ray cluster")
    p.add_argument("--address", default=None,
                   help="Ray cluster address (e.g. auto, 10.0.0.1:6379); default: a local Ray")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="runs at once (default: local cores // threads, 1 on CUDA; Ray: cluster)")
    p.add_argument("--runs-per-gpu", type=int, default=1, metavar="N",
                   help="CUDA: N runs share each GPU at once (processes; default 1)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads per run (default 1 on CPU)")
    p.add_argument("--max-retries", type=int, default=2, metavar="N",
                   help="Ray: retries of a run whose worker dies (default 2)")
    p.add_argument("--only", nargs="+", default=None, metavar="METHOD",
                   help="only these methods (see 'ftcl train --list-methods')")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration key in every run (part of the run identity)")
    p.add_argument("--results", default="results", metavar="DIR",
                   help="results root (default: results); writes DIR/<profile>/")
    p.add_argument("--work-dir", default=None, metavar="DIR",
                   help="checkpoints (default: $FTCL_CACHE/reproduce or ~/.cache/ftcl/reproduce)")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="synthetic data cache (default: $FTCL_CACHE or ~/.cache/ftcl)")
    p.add_argument("--notebook", default=None, metavar="PATH",
                   help="training notebook (default: notebooks/04_train.py of this checkout)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    p.add_argument("--no-tables", action="store_true", help="do not rebuild the tables")
    p.add_argument("--allow-mixed", action="store_true",
                   help="write the tables even from records of several commits or a dirty "
                        "tree (refused by default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _print_plan(runs: Sequence[PlannedRun], runs_dir: Path) -> None:
    width = max((len(r.run_id) for r in runs), default=10)
    print(f"{'run id':<{width}}  tables  status  stage-1 group")
    for r in runs:
        done = "done" if (runs_dir / f"{r.run_id}.json").is_file() else "todo"
        tables = ",".join(map(str, r.tables))
        print(f"{r.run_id:<{width}}  {tables:<6}  {done:<6}  {r.group or '-'}")


def check_clean_tree(todo: Sequence[PlannedRun], runs_dir: Path, allow_mixed: bool) -> None:
    """Refuse to start runs from a dirty checkout, or from another commit than the records
    already in ``runs_dir`` (the tables are written from one clean commit), unless
    ``allow_mixed``."""
    if allow_mixed or not todo:
        return
    import json

    from .provenance import git_commit

    here = git_commit()
    if here.endswith("+dirty") or here == "unknown":
        raise ValueError(f"the checkout is {here}: commit first (tables are written from one "
                         "clean commit), or pass --allow-mixed")
    others = set()
    for path in sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []:
        try:
            others.add(json.loads(path.read_text(encoding="utf-8"))["provenance"]["git_commit"])
        except (OSError, ValueError, KeyError, TypeError):
            others.add("unreadable")
    others.discard(here)
    if others:
        listed = ", ".join(sorted(others))
        raise ValueError(f"{runs_dir} holds records of other commit states ({listed}) than this "
                         f"checkout ({here}): use a fresh --results folder (or move the old "
                         "records away), or pass --allow-mixed")


def run(args: argparse.Namespace) -> int:
    """Run ``ftcl reproduce`` with parsed ``args``; return the exit status (1: a run failed,
    130: interrupted)."""
    from .validate import check_device, check_finite, check_output_dir, check_ranges

    check_device(args.device, "--device")
    overrides = dict(parse_assignment(text) for text in args.overrides)
    runs = plan(args.profile, args.seeds, parse_data_dirs(args.data_dir), args.only, overrides)
    for r in runs:  # --set train.lr=inf is refused here, not in every run's stage 2
        check_finite(r.config)
        check_ranges(r.config)
    root = Path(args.results) / args.profile
    n_configs = len({(r.dataset, r.method) for r in runs})
    print(f"reproduce {args.profile}: {len(runs)} runs ({n_configs} configurations x "
          f"{len(args.seeds)} seeds) for Tables 1-5 -> {root}", file=sys.stderr)
    if args.dry_run:
        _print_plan(runs, root / "runs")
        return 0
    check_output_dir(args.results, "--results")
    if args.work_dir:
        check_output_dir(args.work_dir, "--work-dir")
    todo = [r for r in runs if not (root / "runs" / f"{r.run_id}.json").is_file()]
    check_clean_tree(todo, root / "runs", getattr(args, "allow_mixed", False))
    if args.executor == "local" and todo:
        prepare_data(todo, args.cache_dir)  # once here, not once per parallel worker
    executor = make_executor(args.executor, device=args.device, jobs=args.jobs,
                             threads=args.threads, address=args.address,
                             max_retries=args.max_retries,
                             runs_per_gpu=getattr(args, "runs_per_gpu", 1))
    where = work_dir(args.work_dir) if args.work_dir or args.executor == "local" else (
        "each worker's ~/.cache/ftcl/reproduce")
    print(f"executor {executor.name}: {executor.capacity()} run(s) at once, "
          f"{getattr(executor, 'threads', None) or 'default'} thread(s) each; "
          f"checkpoints in {where}", file=sys.stderr)
    report = run_batch(runs, executor, args.results, device=args.device,
                       cache_dir=args.cache_dir, work_dir=args.work_dir,
                       notebook=args.notebook, progress=not args.no_progress)
    print(report.summary())
    for failure in report.failed:
        print(f"  failed: {failure['run_id']}: {failure['error']} (notebook: {failure['log']})")
    if report.interrupted:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    if not args.no_tables:
        written = rebuild_tables(args.results, args.profile,
                                 allow_mixed=getattr(args, "allow_mixed", False))
        if written is None:
            print("tables: ftcl.tables is not available; records are in "
                  f"{root / 'runs'}", file=sys.stderr)
        else:
            print(f"tables: {len(written)} written to {root / 'tables'}")
    return 1 if report.failed else 0


def command() -> Command:
    """The ``reproduce`` :class:`ftcl.commands.Command`."""
    return Command(name="reproduce", help=HELP, description=DESCRIPTION,
                   add_arguments=add_arguments, run=run, epilog=EPILOG)


def main(argv: Sequence[str] | None = None) -> int:
    """``ftcl reproduce`` on its own (same options and errors as ``python -m ftcl reproduce``)."""
    parser = argparse.ArgumentParser(prog="ftcl reproduce", description=DESCRIPTION,
                                     epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"ftcl: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
