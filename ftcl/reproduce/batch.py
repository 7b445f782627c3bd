"""The reproduction batch: every training run Tables 1-5 need, through the training notebook.

``python -m ftcl reproduce --profile quick`` (:func:`reproduce`; its options are in
:mod:`ftcl.cli`) does four things:

1. **Plan** (:func:`ftcl.reproduce.plan.plan`): the runs the paper's tables need, each
   configuration once per seed, identified by :func:`ftcl.config.run_id` (a changed
   hyper-parameter is a new run; a run whose record exists is skipped, so an interrupted batch
   resumes and a finished run is never repeated. Code changes do not change the id: start a fresh
   ``--results`` folder and an empty ``--work-dir`` to re-run everything with new code).
2. **Check** before any worker starts (``--dry-run`` runs the same checks): every configuration
   (:func:`ftcl.config.check_values`, run when the plan builds it), the device, ``--jobs`` and
   ``--threads`` against this machine's cores (:func:`check_workers`), the output folders, one
   clean commit for the records and the work folder's finished runs (:func:`check_clean_tree`),
   and each dataset once
   (:func:`ftcl.reproduce.plan.prepare_data`). Then the batch takes its lock on the results and
   work folders (:func:`batch_locks`): a second batch on either says which batch (pid, host,
   start time) holds it and exits.
3. **Execute** each run as one papermill execution of ``notebooks/04_train.py`` on an executor
   (:mod:`ftcl.reproduce.executors`: a local process pool, or Ray). Runs of one *stage-1 group*
   share the trainer's cached stage-1 checkpoint, so the scheduler keeps at most one run of a
   group in flight until one of them has finished: stage 1 is trained once, and no two processes
   write the same checkpoint. On Ray the finished run's stage-1 checkpoint travels with its
   outcome and is placed on the workers of the other runs.
4. **Write** (driver only, atomically): the run record and its mechanism record, as
   ``ftcl train`` writes them (:func:`ftcl.reproduce.run.store_run`, with a ``reproduce`` block:
   the log, executor, host, notebook time), ``logs/<run_id>.ipynb`` (the executed notebook, also
   for a failed run), ``reproduce.json`` (the last batch: counts, wall time, provenance), then
   Tables 1-5 (:func:`rebuild_tables`). Checkpoints and the synthetic data stay in the work dir
   and the data cache (:mod:`ftcl.paths`), out of ``results/``.

Ctrl-C or SIGTERM: the driver alone takes the signal (workers leave it to it); it starts nothing
more, asks each run in flight to stop as ``ftcl train`` does (save ``last.pt``, end the notebook;
:meth:`~ftcl.reproduce.executors.LocalExecutor.stop`, :data:`STOP_GRACE_S`; a second Ctrl-C
stops waiting), and says which runs finished, which were stopped (resumable) and which never
started. The exit status is ``128 + signal``; the same command resumes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from tqdm.std import tqdm  # tqdm.auto warns (with machine paths) in a kernel w/o ipywidgets

from ..analysis import protocol
from ..config import check_device, check_output_dir, check_threads, usable_cores
from ..interrupt import signal_name
from ..io import atomic_write_json, atomic_write_text, folder_lock, lock_holder, sweep_stale_temp
from ..paths import (
    BATCH_LOCK,
    DOSE,
    RESULTS,
    RUN_RECORD,
    RUNS,
    batch_summary_file,
    log_file,
    logs_dir,
    profile_dir,
    runs_dir,
    tables_dir,
    training_notebook,
    work_dir,
)
from ..provenance import git_commit, provenance
from ..report import dose as dose_report
from ..report import tables
from ..report.records import RecordWarning, run_files_in
from .executors import RunTask, make_executor
from .plan import (
    DEFAULT_SEEDS,
    PlannedRun,
    notebook_parameters,
    parse_data_dirs,
    plan,
    prepare_data,
)
from .run import store_run

#: Seconds the driver waits, after Ctrl-C or SIGTERM, for the runs in flight to save and stop.
STOP_GRACE_S = 60.0


@dataclasses.dataclass
class BatchReport:
    """What a batch did (also written as ``<results>/<profile>/reproduce.json``)."""

    planned: int
    skipped: int = 0  # records already present
    finished: int = 0
    failed: list[dict] = dataclasses.field(default_factory=list)  # run_id, error, log
    interrupted: bool = False
    signal: str | None = None  # SIGINT / SIGTERM when interrupted
    stopped: list[dict] = dataclasses.field(default_factory=list)  # run_id, how, log: resumable
    not_started: list[str] = dataclasses.field(default_factory=list)  # run ids
    wall_s: float = 0.0
    executor: str = ""

    @property
    def remaining(self) -> int:
        return self.planned - self.skipped - self.finished

    def summary(self) -> str:
        minutes, seconds = divmod(round(self.wall_s), 60)
        hours, minutes = divmod(minutes, 60)
        state = f"interrupted by {self.signal}" if self.interrupted else "done"
        stopped = (f", {len(self.stopped)} stopped (resumable), {len(self.not_started)} not "
                   "started" if self.interrupted else "")
        return (f"reproduce {state}: {self.planned} runs planned, {self.skipped} already done, "
                f"{self.finished} finished now, {len(self.failed)} failed{stopped}; wall time "
                f"{hours:d}:{minutes:02d}:{seconds:02d} ({self.wall_s:.1f} s)")


class _Scheduler:
    """The driver's bookkeeping while a batch runs: what waits, what runs, which stage-1 groups
    are warm, and what each finished run left (written under ``<results>/<profile>/``)."""

    def __init__(self, todo: Sequence[PlannedRun], executor, results_dir, profile: str,
                 report: BatchReport, task_of, stream: TextIO):
        self.queue, self.in_flight = list(todo), {}
        self.busy: Counter = Counter()  # stage-1 group -> runs in flight
        self.warm: set[str] = set()  # groups whose stage-1 checkpoint exists (a run finished)
        self.stage1: dict[str, dict] = {}  # group -> shipped stage-1 checkpoint (Ray)
        self.ships_stage1 = getattr(executor, "name", "") == "ray"
        self.executor, self.report, self.task_of, self.stream = executor, report, task_of, stream
        self.results_dir, self.profile = results_dir, profile

    def submit_ready(self) -> None:
        """Start runs while there is capacity; a run waits while another run of its stage-1
        group trains that stage 1."""
        capacity, i = self.executor.capacity(), 0
        while len(self.in_flight) < capacity and i < len(self.queue):
            run = self.queue[i]
            if run.group is not None and run.group not in self.warm and self.busy[run.group]:
                i += 1  # its group's stage 1 is being trained by another run
                continue
            self.queue.pop(i)
            want = self.ships_stage1 and run.group is not None and run.group not in self.stage1
            self.executor.submit(self.task_of(run, want),
                                 self.stage1.get(run.group) if self.ships_stage1 else None)
            self.in_flight[run.run_id] = run
            self.busy[run.group] += 1

    def finish(self, outcome: dict, stopping: bool = False) -> str | None:
        """Write what a finished run left; return a failure message (None if it succeeded).
        ``stopping``: the batch asked the run to stop; if it did not finish, it was stopped."""
        run = self.in_flight.pop(outcome["run_id"])
        self.busy[run.group] -= 1
        log = log_file(self.results_dir, self.profile, run.run_id)
        if outcome.get("notebook"):
            atomic_write_text(log, outcome["notebook"])
        if not outcome["ok"] and stopping:
            how = outcome["error"] or "stopped"
            self.report.stopped.append({"run_id": run.run_id, "how": how, "log": str(log)})
            return f"STOPPED {run.run_id}: {how}"
        if not outcome["ok"]:
            where = log if outcome.get("notebook") else "no notebook came back"
            self.report.failed.append({"run_id": run.run_id, "error": outcome["error"],
                                       "log": str(where)})
            message = (f"FAILED {run.run_id} ({run.method} on {run.dataset}, seed "
                       f"{run.seed}): {outcome['error']}\n  executed notebook: {where}")
            if outcome.get("stderr"):
                message += "\n  kernel stderr (last lines):\n    " + \
                    outcome["stderr"].replace("\n", "\n    ")
            return message
        record = {**outcome["record"], "reproduce": {
            "run_id": run.run_id, "log": f"logs/{log.name}", "executor": self.report.executor,
            "host": outcome.get("host"), "notebook_wall_s": outcome.get("wall_s")}}
        for path, supersede in run.record_files(self.results_dir):
            store_run(record, path, supersede=supersede, hashed=True)
        self.report.finished += 1
        if run.group is not None:
            self.warm.add(run.group)
            if outcome.get("stage1"):
                self.stage1.setdefault(run.group, outcome["stage1"])
        return None


def _notebook_source(notebook: str | os.PathLike | None) -> str:
    source = Path(notebook) if notebook else training_notebook()
    if not source.is_file():
        raise FileNotFoundError(f"training notebook not found: {source} (run from a checkout "
                                "of the repository or pass --notebook)")
    return source.read_text(encoding="utf-8")


def run_batch(runs: Sequence[PlannedRun], executor, results_dir: str | os.PathLike = RESULTS,
              *, device: str = "auto", cache_dir: str | None = None,
              work_dir: str | None = None, notebook: str | os.PathLike | None = None,
              progress: bool = True, stream: TextIO | None = None) -> BatchReport:
    """Execute the runs of a plan that have no record yet; write records and logs as they end.

    ``runs``: from :func:`ftcl.reproduce.plan.plan` (all of one profile), in execution order;
    ``executor``: from :func:`ftcl.reproduce.executors.make_executor` (or any object with
    ``capacity``, ``submit``, ``poll``, ``cancel``, ``close`` and optionally ``stop``), closed
    on return; records go to ``<results_dir>/<profile>/runs/``; ``device``, ``cache_dir``,
    ``work_dir`` are passed to every run (device as given: each worker resolves ``auto``
    itself); ``notebook``: the training notebook (default ``notebooks/04_train.py``);
    ``progress``: the overall bar, written with the failures to ``stream`` (default
    ``sys.stderr``). Ctrl-C or SIGTERM stops what is running (resumable) and returns with
    ``interrupted=True``; run the same batch again to resume.
    """
    stream = stream if stream is not None else sys.stderr
    profiles = {r.profile for r in runs}
    if len(profiles) > 1:
        raise ValueError(f"a batch holds runs of one profile, got {sorted(profiles)}")
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise ValueError("the plan holds the same run twice")
    text = _notebook_source(notebook)
    profile = profiles.pop() if profiles else "quick"
    for folder in (profile_dir(results_dir, profile), runs_dir(results_dir, profile),
                   logs_dir(results_dir, profile)):  # temp files of a killed batch's writes
        sweep_stale_temp(folder)
    todo = [r for r in runs if not r.done(results_dir)]
    report = BatchReport(planned=len(runs), skipped=len(runs) - len(todo),
                         executor=getattr(executor, "name", type(executor).__name__))
    threads = getattr(executor, "threads", None)

    def task_of(run: PlannedRun, want_stage1: bool) -> RunTask:
        return RunTask(run.run_id, notebook_parameters(run, device, cache_dir, threads), text,
                       work_dir=work_dir, threads=threads, want_stage1=want_stage1)

    sched = _Scheduler(todo, executor, results_dir, profile, report, task_of, stream)
    t0 = time.perf_counter()
    bar = tqdm(total=len(runs), initial=report.skipped, desc=f"reproduce {profile}", unit="run",
               file=stream, dynamic_ncols=True, disable=not progress)

    def status() -> None:
        bar.set_postfix_str(f"done {report.skipped + report.finished}, running "
                            f"{len(sched.in_flight)}, failed {len(report.failed)}", refresh=True)

    try:
        while sched.queue or sched.in_flight:
            sched.submit_ready()
            status()
            for outcome in executor.poll(timeout=1.0):
                message = sched.finish(outcome)
                if message:
                    bar.write(message, file=stream)
                bar.update(1)
                status()
    except KeyboardInterrupt as exc:
        report.interrupted = True
        report.signal = signal_name(getattr(exc, "signum", signal.SIGINT))
        _stop_in_flight(sched, executor, bar, stream)
    finally:
        executor.close()
        bar.close()
        report.wall_s = time.perf_counter() - t0
    atomic_write_json(batch_summary_file(results_dir, profile), {
        **dataclasses.asdict(report), "wall_s": round(report.wall_s, 1),
        "runs": [r.run_id for r in runs], "provenance": provenance()})
    return report


def _stop_in_flight(sched: _Scheduler, executor, bar, stream: TextIO) -> None:
    """After Ctrl-C or SIGTERM: start nothing more, ask the runs in flight to stop (each saves
    its last.pt) and write what they left; a second Ctrl-C stops waiting."""
    executor.cancel()
    sched.report.not_started = [r.run_id for r in sched.queue]
    sched.queue.clear()
    if sched.in_flight:
        print(f"reproduce: stopping {len(sched.in_flight)} run(s) in flight (each saves a "
              f"resumable checkpoint; up to {STOP_GRACE_S:.0f} s, Ctrl-C again to stop "
              "waiting)", file=stream, flush=True)
    stop = getattr(executor, "stop", None)  # an executor without it: cancel() only
    with contextlib.suppress(KeyboardInterrupt):
        for outcome in stop(STOP_GRACE_S) if stop is not None else []:
            message = sched.finish(outcome, stopping=True)
            if message:
                bar.write(message, file=stream)
    for run_id in list(sched.in_flight):  # never came back: killed
        sched.report.stopped.append({"run_id": run_id, "how": "killed (no answer in time): "
                                     "resumes from its last evaluation", "log": None})


def batch_locks(results: str | os.PathLike, profile: str, work: str | os.PathLike | None,
                local: bool) -> contextlib.ExitStack:
    """The batch's locks on ``<results>/<profile>`` and (local executor) on the work folder:
    a second batch on either is refused by name (``FolderLocked``: pid, host, start time)."""
    stack = contextlib.ExitStack()
    folders = [("results folder", profile_dir(results, profile))]
    if local:
        folders.append(("work folder", work_dir(work)))
    try:
        for what, folder in folders:
            stack.enter_context(folder_lock(folder, what, BATCH_LOCK, "another batch"))
    except BaseException:
        stack.close()
        raise
    return stack


def check_workers(executor: str, jobs: int | None, threads: int | None,
                  runs: Sequence[PlannedRun] = ()) -> None:
    """``--threads``, ``--jobs`` and a ``--set train.num_threads`` between 1 and the cores this
    process may use (local executor), named with the limit; more runs x threads than cores is a
    warning (the runs slow each other down)."""
    if executor != "local":  # Ray sizes its tasks by the cluster's resources
        return
    check_threads(threads, "--threads")
    check_threads(jobs, "--jobs")
    if runs:
        check_threads(runs[0].config.train.num_threads, "--set train.num_threads")
    cores = usable_cores()
    if jobs and threads and jobs * threads > cores:
        warnings.warn(f"--jobs {jobs} x --threads {threads} = {jobs * threads} threads on "
                      f"{cores} core(s): the runs will slow each other down", stacklevel=2)


def rebuild_tables(results_dir: str | os.PathLike, profile: str, allow_mixed: bool = False
                   ) -> list[Path]:
    """Rebuild Tables 1-5 (:func:`ftcl.report.tables.build_tables`) and the selection-protocol
    summary (:func:`ftcl.analysis.protocol.protocol_summary`); return the tables written.

    Refuses (``ValueError``) records from several commits or a dirty tree unless
    ``allow_mixed``.
    """
    tables.build_tables(results_dir, profile, write=True, allow_mixed=allow_mixed)
    protocol.protocol_summary(results_dir, profile, write=True)
    return sorted(tables_dir(results_dir, profile).glob("table*.md"))


def _commit_of(path: Path) -> str:
    """The ``provenance.git_commit`` of a run record file ("unreadable" if it has none)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))["provenance"]["git_commit"]
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable"


def check_work_folder(work: Path, here: str) -> None:
    """Refuse a work folder holding finished runs of another commit state than ``here``: the
    batch would take such a run (and its seed's cached stage 1) as done and store its old
    record as if it had run at this commit."""
    # finished runs as ftcl.paths.run_directory lays them out: <dataset>-<profile>/<run>/seed<k>
    records = sorted(work.glob(f"*-*/*/seed*/{RUN_RECORD}")) if work.is_dir() else []
    others = sorted({_commit_of(p) for p in records} - {here})
    if others:
        raise ValueError(f"the work folder {work} holds finished runs of other commit states "
                         f"({', '.join(others)}) than this checkout ({here}); they and their "
                         "cached stage 1 would be reused as if run here: use an empty "
                         "--work-dir, or pass --allow-mixed")


def check_clean_tree(todo: Sequence[PlannedRun], runs_folder: Path, allow_mixed: bool,
                     work: Path | None = None) -> None:
    """Refuse to start runs from a dirty checkout, or from another commit than the records
    already in ``runs_folder`` (the tables are written from one clean commit) or the finished
    runs in the ``work`` folder (:func:`check_work_folder`), unless ``allow_mixed``."""
    if allow_mixed or not todo:
        return
    here = git_commit()
    if here.endswith("+dirty") or here == "unknown":
        raise ValueError(f"the checkout is {here}: commit first (tables are written from one "
                         "clean commit), or pass --allow-mixed")
    if work is not None:
        check_work_folder(work, here)
    folders = [runs_folder, runs_folder.parent / DOSE / RUNS]  # the tables' and the dose study's
    with warnings.catch_warnings():  # the tables name stray files and unverified records
        warnings.simplefilter("ignore", RecordWarning)
        records = [p for f in folders for p in run_files_in(f)]
    others = {_commit_of(path) for path in records} - {here}
    if others:
        listed = ", ".join(sorted(others))
        raise ValueError(f"{runs_folder} holds records of other commit states ({listed}) than "
                         f"this checkout ({here}): use a fresh --results folder (or move the old "
                         "records away), or pass --allow-mixed")


def print_plan(runs: Sequence[PlannedRun], results_dir: str | os.PathLike, profile: str) -> None:
    """The plan, one line per run: id, tables, done/todo, stage-1 group."""
    width = max((len(r.run_id) for r in runs), default=10)
    print(f"{'run id':<{width}}  tables  status  stage-1 group")
    for r in runs:
        done = "done" if r.done(results_dir) else "todo"
        table_numbers = ",".join(map(str, r.tables)) or "dose"
        print(f"{r.run_id:<{width}}  {table_numbers:<6}  {done:<6}  {r.group or '-'}")


def reproduce(profile: str = "quick", seeds: Sequence[int] = DEFAULT_SEEDS, *,
              data_dirs: Sequence[str] = (), only: Sequence[str] | None = None,
              overrides: dict[str, Any] | None = None, results: str = RESULTS,
              device: str = "auto", executor: str = "local", address: str | None = None,
              jobs: int | None = None, runs_per_gpu: int = 1, threads: int | None = None,
              max_retries: int = 2, work: str | None = None, cache_dir: str | None = None,
              notebook: str | None = None, dry_run: bool = False, write_tables: bool = True,
              allow_mixed: bool = False, progress: bool = True, study: str = "all") -> int:
    """``ftcl reproduce``: plan, check, run the batch, rebuild the tables (see the module
    docstring; the arguments are the command's options). Returns the exit status (1: a run
    failed, 130/143: interrupted by SIGINT/SIGTERM)."""
    check_device(device, "--device")
    runs = plan(profile, seeds, parse_data_dirs(data_dirs), only, overrides or {},
                with_dose=study in ("all", "dose"), with_tables=study in ("all", "tables"))
    root, runs_folder = profile_dir(results, profile), runs_dir(results, profile)
    n_configs = len({(r.dataset, r.method, json.dumps(r.overrides, sort_keys=True))
                     for r in runs})
    n_dose = sum("dose" in r.studies for r in runs)
    what = {"all": "Tables 1-5" + (f" and the dose study ({n_dose} runs)" if n_dose else ""),
            "tables": "Tables 1-5", "dose": "the dose study"}[study]
    print(f"reproduce {profile}: {len(runs)} runs ({n_configs} configurations x "
          f"{len(seeds)} seeds) for {what} -> {root}", file=sys.stderr)
    check_workers(executor, jobs, threads, runs)
    check_output_dir(results, "--results")
    if work:
        check_output_dir(work, "--work-dir")
    todo = [r for r in runs if not r.done(results)]
    check_clean_tree(todo, runs_folder, allow_mixed, work_dir(work))
    if dry_run:
        for what, folder in (("results", root), ("work", work_dir(work))):
            holder = lock_holder(folder / BATCH_LOCK)
            if holder:
                print(f"note: a batch ({holder}) is using the {what} folder {folder}",
                      file=sys.stderr)
        if executor == "local" and todo:  # the data checks of a real batch
            prepare_data(todo, cache_dir, generate=False)
        print_plan(runs, results, profile)
        return 0
    with batch_locks(results, profile, work, executor == "local"):
        if executor == "local" and todo:
            prepare_data(todo, cache_dir)  # once here, not once per parallel worker
        pool = make_executor(executor, device=device, jobs=jobs, threads=threads,
                             address=address, max_retries=max_retries,
                             runs_per_gpu=runs_per_gpu)
        where = work_dir(work) if work or executor == "local" else (
            "each worker's ~/.cache/ftcl/reproduce")
        print(f"executor {pool.name}: {pool.capacity()} run(s) at once, "
              f"{getattr(pool, 'threads', None) or 'default'} thread(s) each; "
              f"checkpoints in {where}", file=sys.stderr)
        report = run_batch(runs, pool, results, device=device, cache_dir=cache_dir,
                           work_dir=work, notebook=notebook, progress=progress)
        print(report.summary())
        for failure in report.failed:
            print(f"  failed: {failure['run_id']}: {failure['error']} (notebook: "
                  f"{failure['log']})")
        if report.interrupted:
            for stopped in report.stopped:
                print(f"  stopped: {stopped['run_id']}: {stopped['how']}")
            if report.not_started:
                print(f"  not started: {len(report.not_started)} run(s), e.g. "
                      f"{', '.join(report.not_started[:3])}")
            print(f"interrupted by {report.signal}: run the same command again to resume",
                  file=sys.stderr)
            return 128 + signal.Signals[report.signal].value
        if write_tables and study != "dose":
            written = rebuild_tables(results, profile, allow_mixed=allow_mixed)
            print(f"tables: {len(written)} written to {tables_dir(results, profile)}")
        if write_tables and n_dose:
            print(f"dose study: {dose_report.write_table(results, profile)}")
    return 1 if report.failed else 0
