"""Where the runs of a reproduction batch execute: the worker function and two executors.

One training run is one execution of the training notebook (``notebooks/04_train.py``) through
papermill, by :func:`execute_run`, on whatever machine runs it. The function returns everything
the driver needs as plain data (the run record, the executed notebook as text, and, when asked,
the stage-1 checkpoint's bytes): the driver alone writes ``results/``, so a run on a remote Ray
worker lands in the driver's ``results/`` exactly as a local one does.

Executors (:func:`make_executor`):

- :class:`LocalExecutor` (default): a pool of ``jobs`` processes on this machine (``spawn``
  start method), each run pinned to ``threads`` CPU threads;
- :class:`RayExecutor`: each run is one Ray task (``num_gpus=1`` on CUDA, else ``num_cpus``),
  retried up to ``max_retries`` times when its worker dies.

Both expose ``capacity() -> int`` (runs to keep in flight), ``submit(task, stage1=None)``,
``poll(timeout) -> list[dict]`` (outcomes of finished runs), ``cancel()`` and ``close()``; the
scheduling (stage-1 order, resume, progress) is the driver's,
:func:`ftcl.reproduce.batch.run_batch`.

No orphans: workers and kernels die with the driver (:mod:`ftcl.reproduce.processes`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import usable_cores
from ..device import choose_device
from ..io import atomic_path
from ..paths import cache_dir, default_work_dir, resolve_in_work, scrub_paths, worker_files
from .processes import (
    descendants,
    fate_sharing_kernel_manager,
    kernel_processes,
    start_reaper,
    start_worker,
)

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "NUMBA_NUM_THREADS")


@dataclasses.dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to execute one planned run (picklable, no paths of the driver).

    Attributes
    ----------
    run_id : str
        The run's identity (:func:`ftcl.config.run_id`); the notebook must compute the same.
    parameters : dict
        Papermill parameters of the training notebook (``out_dir`` and ``record_path`` are filled
        in on the worker).
    notebook : str
        The training notebook's jupytext (percent) source, sent by the driver so that every
        worker runs the driver's version of it.
    work_dir : str or None
        Checkpoints and stage-1 cache (the trainer's ``out_dir``); None = the worker's default,
        :func:`default_work_dir`.
    threads : int or None
        CPU threads of the run (torch, BLAS, numba); None = library defaults.
    want_stage1 : bool
        Return the stage-1 checkpoint with the outcome (the driver ships it to other workers).
    """

    run_id: str
    parameters: dict[str, Any]
    notebook: str
    work_dir: str | None = None
    threads: int | None = None
    want_stage1: bool = False


@contextlib.contextmanager
def _thread_environment(threads: int | None) -> Iterator[None]:
    """Set the thread-count variables a kernel inherits; restore them on exit."""
    if not threads:
        yield
        return
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    os.environ.update({k: str(threads) for k in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's file descriptor 2 (inherited by the kernel) to ``path``.

    The kernel's own chatter (ipykernel notices, the interrupt jupyter_client sends before a
    shutdown, a crash's last words) goes to the run's ``.stderr`` file, not the batch's terminal.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as fh:
            os.dup2(fh.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _describe(exc: BaseException) -> str:
    """One readable line for an exception raised by papermill or the kernel."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename is not None:
        cell = getattr(exc, "exec_count", None)
        return f"{ename}: {evalue} (in cell [{cell}] of the notebook)"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _stage1_payload(record: dict, work_dir: Path) -> dict | None:
    """The stage-1 checkpoint a finished run used, as ``{"relpath", "data"}`` (or None)."""
    path = resolve_in_work((record.get("schedule", {}).get("stage1", {}) or {}).get("path"),
                           work_dir)
    if path is None or not path.is_file():
        return None
    try:
        relpath = Path(path).resolve().relative_to(work_dir.resolve())
    except ValueError:  # not inside the work dir: nothing another worker could place
        return None
    return {"relpath": relpath.as_posix(), "data": Path(path).read_bytes()}


def place_stage1(stage1: dict | None, work_dir: str | os.PathLike) -> Path | None:
    """Write a shipped stage-1 checkpoint under ``work_dir`` unless it is already there."""
    if not stage1:
        return None
    relpath = Path(stage1["relpath"])
    if relpath.is_absolute() or ".." in relpath.parts:
        raise ValueError(f"stage-1 checkpoint path {relpath} must be relative to the work dir")
    target = Path(work_dir) / relpath
    if not target.exists():
        with atomic_path(target) as tmp:
            tmp.write_bytes(stage1["data"])
    return target


def execute_run(task: RunTask, stage1: dict | None = None) -> dict:
    """Execute one run's training notebook with papermill on this machine.

    Never raises for a failing run: the outcome says what failed. The executed notebook is kept
    under ``<work_dir>/_logs/`` and returned as text; the kernel's stderr goes next to it
    (``<run_id>.stderr``), and its last lines come back with a failure.

    Parameters
    ----------
    task : RunTask
        The run.
    stage1 : dict, optional
        A stage-1 checkpoint shipped from another worker (``{"relpath", "data"}``); placed under
        the work dir first, so that this run reuses it instead of training stage 1 again.

    Returns
    -------
    dict
        ``run_id``, ``ok``, ``record`` (the run record, or None), ``notebook`` (the executed
        notebook as JSON text, or None), ``error`` (one line, or None), ``stage1`` (when
        ``task.want_stage1``), ``host``, ``pid`` and ``wall_s``.
    """
    import jupytext  # optional dependency (the book extra): only a worker executes notebooks
    import papermill

    t0 = time.perf_counter()
    work_dir = Path(task.work_dir) if task.work_dir else default_work_dir()
    work_dir = work_dir.expanduser().resolve()
    log_path, record_path = worker_files(work_dir, task.run_id)
    stderr_path = log_path.with_suffix(".stderr")
    outcome: dict[str, Any] = {"run_id": task.run_id, "ok": False, "record": None,
                               "notebook": None, "error": None, "stderr": None, "stage1": None,
                               "host": platform.node(), "pid": os.getpid()}
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (log_path, record_path, stderr_path):
            stale.unlink(missing_ok=True)
        place_stage1(stage1, work_dir)
        parameters = {**task.parameters, "out_dir": str(work_dir),
                      "record_path": str(record_path)}
        notebook = jupytext.reads(task.notebook, fmt="py:percent")
        with _thread_environment(task.threads), _stderr_to(stderr_path):
            papermill.execute_notebook(notebook, str(log_path), parameters=parameters,
                                       kernel_name="python3", progress_bar=False,
                                       log_output=False, cwd=str(work_dir),
                                       kernel_manager_class=fate_sharing_kernel_manager())
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("run_id") != task.run_id:
            raise ValueError(f"the notebook computed run id {record.get('run_id')!r}, the driver "
                             f"planned {task.run_id!r}: driver and worker run different ftcl "
                             "versions?")
        outcome.update(ok=True, record=record)
        if task.want_stage1:
            outcome["stage1"] = _stage1_payload(record, work_dir)
    except Exception as exc:  # a failing run is an outcome, not a crash of the batch
        outcome["error"] = _describe(exc)
        outcome["stderr"] = _tail(stderr_path) or None
    if log_path.is_file():  # published as the run's log: no folder of this machine in it
        outcome["notebook"] = scrub_paths(log_path.read_text(encoding="utf-8"),
                                          [work_dir, cache_dir(task.parameters.get("cache_dir"))])
    outcome["wall_s"] = round(time.perf_counter() - t0, 3)
    return outcome


def failed_outcome(run_id: str, error: str) -> dict:
    """The outcome of a run whose task itself was lost (worker died, retries exhausted...)."""
    return {"run_id": run_id, "ok": False, "record": None, "notebook": None, "error": error,
            "stderr": None, "stage1": None, "host": None, "pid": None, "wall_s": None}


# ------------------------------------------------------------------------------ local


class LocalExecutor:
    """Runs in a pool of ``jobs`` worker processes on this machine.

    Each worker waits on the papermill kernel that trains one run; ``threads`` sizes the kernel's
    thread pools. ``jobs=1`` runs one run at a time (CPU-only laptops, a single GPU).
    """

    name = "local"

    def __init__(self, jobs: int = 1, threads: int | None = None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if jobs < 1:
            raise ValueError(f"jobs={jobs}: need at least one worker")
        self.jobs, self.threads = jobs, threads
        # Workers die with this process (die_with_parent), and their kernels with them; a
        # terminal's Ctrl-C is the driver's to handle (start_worker).
        self._pool = ProcessPoolExecutor(max_workers=jobs,
                                         mp_context=multiprocessing.get_context("spawn"),
                                         initializer=start_worker, initargs=(os.getpid(),))
        self._futures: dict[Any, str] = {}

    def capacity(self) -> int:
        return self.jobs

    def submit(self, task: RunTask, stage1: dict | None = None) -> None:
        self._futures[self._pool.submit(execute_run, task, stage1)] = task.run_id

    def poll(self, timeout: float | None = None) -> list[dict]:
        from concurrent.futures import FIRST_COMPLETED, wait

        if not self._futures:
            return []
        done, _ = wait(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        outcomes = []
        for future in done:
            run_id = self._futures.pop(future)
            try:
                outcomes.append(future.result())
            except Exception as exc:  # the worker process died (BrokenProcessPool...)
                outcomes.append(failed_outcome(run_id, f"worker lost: {_describe(exc)}"))
        return outcomes

    def cancel(self) -> None:
        """Cancel the runs that have not started (they are forgotten)."""
        for future in [f for f in self._futures if f.cancel()]:
            del self._futures[future]

    def stop(self, grace: float) -> list[dict]:
        """Stop the runs in flight the way ``ftcl train`` stops on SIGTERM: each kernel saves
        its run's ``last.pt`` and ends its notebook (:mod:`ftcl.interrupt`); return their
        outcomes. What has not come back after ``grace`` seconds is killed."""
        import signal

        for pid in kernel_processes(os.getpid()):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        outcomes, deadline = [], time.monotonic() + grace
        while self._futures and time.monotonic() < deadline:
            outcomes += self.poll(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        if self._futures:
            self._kill_workers()
        return outcomes

    def _kill_workers(self) -> None:
        for process in list(getattr(self._pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                process.kill()  # its kernel follows (PR_SET_PDEATHSIG)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------------------ ray


class RayExecutor:
    """Runs each run as one Ray task on a cluster (``address``) or a local Ray instance (None).

    A task asks for ``1 / runs_per_gpu`` GPU (and ``cpus_per_run`` CPUs) on CUDA (``device``
    ``cuda``, or ``auto`` on a cluster with GPUs), else ``cpus_per_run`` CPUs;
    a task whose worker or node dies is retried up to ``max_retries`` times (the retry resumes
    from the run's last checkpoint when it lands on a machine that has it). ``capacity`` follows
    the cluster's resources as nodes join or leave, capped by ``jobs``.
    """

    name = "ray"

    def __init__(self, address: str | None = None, device: str = "auto",
                 cpus_per_run: int = 1, max_retries: int = 2, jobs: int | None = None,
                 runs_per_gpu: int = 1):
        try:
            import ray
        except ImportError as exc:
            raise ValueError("--executor ray needs Ray: pip install -e '.[ray]'") from exc
        if max_retries < 0:
            raise ValueError(f"max_retries={max_retries}: must be >= 0")
        self._ray = ray
        before = set(descendants(os.getpid()))
        ray.init(address=address, log_to_driver=False, ignore_reinit_error=True,
                 configure_logging=False)
        # A local Ray instance is ours: it must not outlive this process (kill -9 included).
        self._reaper = None
        if address is None:
            started = {p: t for p, t in descendants(os.getpid()).items() if p not in before}
            self._reaper = start_reaper(started)
        # "auto" follows the cluster (a GPU per run if it has GPUs), as each worker will.
        use_gpu = str(device).startswith("cuda") or (
            device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
        self.use_gpu, self.cpus_per_run, self.jobs = use_gpu, cpus_per_run, jobs
        self.threads = cpus_per_run
        self._remote = ray.remote(execute_run)
        self.runs_per_gpu = runs_per_gpu
        self._options = {"num_gpus": 1 / runs_per_gpu if use_gpu else 0, "num_cpus": cpus_per_run,
                         "max_retries": max_retries, "retry_exceptions": False}
        self._refs: dict[Any, str] = {}
        self._shared: dict[int, Any] = {}  # id(stage1 dict) -> its ObjectRef (put once)

    def capacity(self) -> int:
        resources = self._ray.cluster_resources()
        if self.use_gpu:
            slots = int(resources.get("GPU", 0) * self.runs_per_gpu)
        else:
            slots = int(resources.get("CPU", 0)) // max(1, self.cpus_per_run)
        slots = max(1, slots)
        return min(slots, self.jobs) if self.jobs else slots

    def submit(self, task: RunTask, stage1: dict | None = None) -> None:
        arg = None
        if stage1 is not None:  # one copy in the object store, however many runs need it
            key = id(stage1)
            if key not in self._shared:
                self._shared[key] = (self._ray.put(stage1), stage1)
            arg = self._shared[key][0]
        ref = self._remote.options(**self._options, name=f"ftcl:{task.run_id}").remote(task, arg)
        self._refs[ref] = task.run_id

    def poll(self, timeout: float | None = None) -> list[dict]:
        if not self._refs:
            return []
        ready, _ = self._ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready:  # collect everything else that is done too
            ready, _ = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        outcomes = []
        for ref in ready:
            run_id = self._refs.pop(ref)
            try:
                outcomes.append(self._ray.get(ref))
            except self._ray.exceptions.RayError as exc:  # worker/node lost after all retries
                outcomes.append(failed_outcome(run_id, f"Ray task failed: {_describe(exc)}"))
        return outcomes

    def cancel(self) -> None:
        for ref in self._refs:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)

    def stop(self, grace: float) -> list[dict]:
        """Ray tasks are cancelled (:meth:`cancel`); their last evaluation's ``last.pt`` stays
        on their workers."""
        self.cancel()
        return []

    def close(self) -> None:
        self._ray.shutdown()
        if self._reaper is not None:  # kills whatever of the local instance is left
            self._reaper.stdin.close()
            self._reaper.wait(timeout=30)
            self._reaper = None


def make_executor(name: str, *, device: str = "auto", jobs: int | None = None,
                  threads: int | None = None, address: str | None = None,
                  max_retries: int = 2, runs_per_gpu: int = 1):
    """Build the executor ``name`` (``local`` or ``ray``) for a batch on ``device``.

    Local: ``jobs`` defaults to ``usable_cores() // threads`` on the CPU and to ``runs_per_gpu``
    on CUDA (that many run processes share the GPU: one run alone leaves most of it idle);
    ``threads`` to 1 on the CPU (small runs scale better as parallel runs than as threads) and
    to the machine's cores shared by the runs of the GPU on CUDA. Ray: ``jobs`` defaults to what
    the cluster holds, ``threads`` (CPUs per task) to 1, and a task on CUDA asks for
    ``1 / runs_per_gpu`` GPU. ``device`` is resolved here for the local machine only (a Ray
    driver may have no GPU while its workers do).
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads={threads}: must be >= 1")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs={jobs}: must be >= 1")
    if runs_per_gpu < 1:
        raise ValueError(f"runs_per_gpu={runs_per_gpu}: must be >= 1")
    if name == "local":
        cuda = choose_device(device).type == "cuda"
        if threads is None:
            threads = max(1, usable_cores() // runs_per_gpu) if cuda else 1
        if jobs is None:
            jobs = runs_per_gpu if cuda else max(1, usable_cores() // threads)
        return LocalExecutor(jobs=jobs, threads=threads)
    if name == "ray":
        return RayExecutor(address=address, device=device, cpus_per_run=threads or 1,
                           max_retries=max_retries, jobs=jobs, runs_per_gpu=runs_per_gpu)
    raise ValueError(f"unknown executor {name!r}; choose 'local' or 'ray'")
