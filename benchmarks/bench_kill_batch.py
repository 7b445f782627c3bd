"""``kill -9`` of a reproduction batch: how long until nothing it started is alive.

Usage::

    python benchmarks/bench_kill_batch.py [--executor local|ray] [--repeats 1]

Starts a tiny ``python -m ftcl reproduce`` (acmnet, seeds 0 and 1: four runs, two workers, the
tiny settings of tests/reproduce/test_processes.py) in its own session, waits for a point of the
batch, sends ``SIGKILL`` to the driver, and measures the seconds until every process it had
started (pool workers, the multiprocessing resource tracker, papermill kernels; with Ray its local
cluster) is gone (a zombie counts as gone: it runs nothing). Points: ``workers`` (the pool is up),
``kernels`` (two kernels training), ``first-record`` (one run finished, the next in flight).
Prints one row per point: processes killed with it, seconds until all were gone, survivors.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

# The tiny runs of tests/reproduce/test_processes.py: two + two iterations, 8-wide embeddings.
TINY = {"model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
        "train.batch_size": 4, "train.pretrain_iterations": 2, "train.iterations": 2,
        "train.eval_every": 2}


def _alive(procs):
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _tree(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _kernels(pid):
    return [p for p in _tree(pid) if _cmdline(p).find("ipykernel") >= 0]


def _cmdline(p) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.NoSuchProcess:
        return ""


def start(tmp: Path, executor: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ftcl", "reproduce", "--only", "acmnet", "--seeds", "0", "1",
           "--jobs", "2", "--threads", "1", "--device", "cpu", "--executor", executor,
           "--results", str(tmp / "results"), "--work-dir", str(tmp / "work"), "--no-tables",
           "--no-progress"]
    for key, value in TINY.items():
        cmd += ["--set", f"{key}={value}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def reached(point: str, batch: subprocess.Popen, tmp: Path) -> bool:
    if point == "workers":
        return len(_tree(batch.pid)) >= 2
    if point == "kernels":
        return len(_kernels(batch.pid)) >= 2
    records = tmp / "results" / "quick" / "runs"
    return records.is_dir() and any(records.glob("*.json")) and len(_tree(batch.pid)) >= 2


def measure(point: str, executor: str, timeout: float = 300.0) -> tuple[int, float, list]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        batch = start(tmp, executor)
        deadline = time.monotonic() + timeout
        while not reached(point, batch, tmp):
            if time.monotonic() > deadline or batch.poll() is not None:
                batch.kill()
                return 0, float("nan"), ["point not reached"]
            time.sleep(0.1)
        tree = _tree(batch.pid)
        batch.kill()
        batch.wait()
        t0 = time.monotonic()
        while _alive(tree) and time.monotonic() - t0 < 30:
            time.sleep(0.02)
        seconds = time.monotonic() - t0
        survivors = [f"{p.pid} {p.name()}" for p in _alive(tree)]
        for p in _alive(tree):  # never leave anything behind, even when measuring a failure
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        return len(tree), seconds, survivors


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--executor", default="local", choices=("local", "ray"))
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--points", nargs="+", default=["workers", "kernels", "first-record"])
    args = p.parse_args(argv)
    print("| executor | kill -9 when | processes | s until all gone | alive after |")
    print("|---|---|---|---|---|")
    for point in args.points:
        for _ in range(args.repeats):
            n, seconds, survivors = measure(point, args.executor)
            print(f"| {args.executor} | {point} | {n} | {seconds:.2f} | "
                  f"{', '.join(survivors) or 'none'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
