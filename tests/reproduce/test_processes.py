"""No orphans: a batch's workers and kernels die with it, however it dies (``kill -9``).

Every test runs the processes it kills in a subprocess, bounded by timeouts. A process counts as
gone once it no longer exists or is a zombie (a killed orphan that this container's PID 1 has
not reaped: it runs nothing and holds no resources).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

psutil = pytest.importorskip("psutil")

from ftcl.reproduce.processes import set_parent_death_signal  # noqa: E402

GRACE_S = 5.0  # the bound: nothing of a killed batch is alive after 5 s
TINY = {"model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
        "train.batch_size": 4, "train.pretrain_iterations": 2, "train.iterations": 2,
        "train.eval_every": 2}


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _alive(procs):
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_gone(procs, timeout=GRACE_S):
    deadline = time.monotonic() + timeout
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(procs)


def _session(sid):
    out = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid:
                out.append(p)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            pass
    return out


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# A parent that starts one child (which calls die_with_parent, optionally without prctl, then
# sleeps), prints the child's pid, and sleeps until killed.
_PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(child.pid, flush=True)
time.sleep(120)
"""
_CHILD = """
import os, sys, time
import ftcl.reproduce.processes as ex
if sys.argv[1] == "watchdog":
    ex._PRCTL = None  # the portable fallback alone
ex.die_with_parent()
time.sleep(120)
"""


@pytest.mark.parametrize("mechanism", ["prctl", "watchdog"])
def test_die_with_parent(mechanism):
    if mechanism == "prctl" and not set_parent_death_signal(0):  # 0: disarm, probe support
        pytest.skip("no PR_SET_PDEATHSIG here")
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _CHILD, mechanism], env=_env(),
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    child = psutil.Process(int(parent.stdout.readline()))
    time.sleep(1.0)  # let the child arm itself
    assert _alive([child])
    parent.kill()
    parent.wait(timeout=30)
    assert _wait_gone([child]) == []


def test_die_with_parent_exits_if_the_parent_is_already_gone():
    code = ("import ftcl.reproduce.processes as ex; ex.die_with_parent(parent_pid=-5); "
            "print('survived')")
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and "survived" not in out.stdout


_KERNEL_OWNER = """
import asyncio, time
from ftcl.reproduce.processes import fate_sharing_kernel_manager
km = fate_sharing_kernel_manager()(kernel_name="python3")
asyncio.run(km.start_kernel())
print(km.provisioner.pid, flush=True)
time.sleep(120)
"""


def test_kernel_dies_with_the_process_that_started_it():
    owner = subprocess.Popen([sys.executable, "-c", _KERNEL_OWNER], env=_env(),
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        kernel = psutil.Process(int(owner.stdout.readline()))
        assert _alive([kernel]) and kernel.ppid() == owner.pid
        assert os.getsid(kernel.pid) != owner.pid  # its own session: a group kill misses it
    finally:
        owner.kill()
        owner.wait(timeout=30)
    assert _wait_gone([kernel]) == []


def _batch(tmp_path, *extra):
    cmd = [sys.executable, "-m", "ftcl", "reproduce", "--only", "acmnet", "--seeds", "0",
           "--jobs", "2", "--threads", "1", "--device", "cpu", "--results",
           str(tmp_path / "results"), "--work-dir", str(tmp_path / "work"), "--no-tables",
           "--allow-mixed",  # the checkout may hold uncommitted changes while testing
           "--no-progress", "--study", "tables", *extra]
    for key, value in TINY.items():
        cmd += ["--set", f"{key}={value}"]
    return subprocess.Popen(cmd, env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _tree(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _kernels(pid):
    out = []
    for p in _tree(pid):
        try:
            if "ipykernel" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.parametrize("point", ["workers started", "kernels training"])
def test_kill_9_of_a_batch_leaves_no_process(tmp_path, point):
    """``kill -9`` of ``python -m ftcl reproduce``: within 5 s nothing it started is alive (pool
    workers, resource tracker, papermill kernels), nothing of its session either."""
    batch = _batch(tmp_path)
    try:
        if point == "workers started":
            _wait_for(lambda: len(_tree(batch.pid)) >= 2, 180, "the pool workers")
        else:
            _wait_for(lambda: len(_kernels(batch.pid)) >= 2, 180, "two kernels")
        tree = _tree(batch.pid)
    finally:
        batch.kill()
        batch.wait(timeout=30)
    assert tree
    assert _wait_gone(tree) == []
    assert _alive(_session(batch.pid)) == []


def test_kill_9_of_a_ray_batch_leaves_no_process(tmp_path):
    """The same with ``--executor ray`` on a local Ray instance the batch starts: its GCS,
    raylet, agents, workers and their kernels all end with the driver."""
    pytest.importorskip("ray")
    batch = _batch(tmp_path, "--executor", "ray")
    try:
        _wait_for(lambda: len(_kernels(batch.pid)) >= 1, 300, "a kernel")
        tree = _tree(batch.pid)
    finally:
        batch.kill()
        batch.wait(timeout=30)
    assert len(tree) > 5  # Ray's own processes
    assert _wait_gone(tree) == []


_HOLD_RUN = """
import sys, time
from ftcl.io import folder_lock
with folder_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(300)
"""


def test_restarted_batch_never_trains_a_run_a_live_process_trains(tmp_path):
    """A live process holds a run folder (as an orphan or a second batch would): the batch
    refuses that run with a clear failure and trains the others; once the holder is gone, a
    rerun trains it."""
    from ftcl.reproduce.plan import plan

    runs = [r for r in plan("quick", seeds=[0], only=["acmnet"], overrides=TINY, with_dose=False)]
    held = runs[0]
    folder = tmp_path / "work" / f"{held.dataset}-quick" / held.run_id / "seed0"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_RUN, str(folder)], env=_env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        batch = _batch(tmp_path)
        assert batch.wait(timeout=400) == 1  # a run failed
        records = tmp_path / "results" / "quick" / "runs"
        assert not (records / f"{held.run_id}.json").exists()
        assert all((records / f"{r.run_id}.json").exists() for r in runs[1:])
        log = (tmp_path / "results" / "quick" / "logs" / f"{held.run_id}.ipynb").read_text()
        assert "in use by another live process" in log and f"pid {holder.pid}" in log
    finally:
        holder.kill()
        holder.wait(timeout=30)
    rerun = _batch(tmp_path)
    assert rerun.wait(timeout=400) == 0
    assert (tmp_path / "results" / "quick" / "runs" / f"{held.run_id}.json").exists()


def test_pool_workers_are_armed(tmp_path):
    """The local pool starts its workers with :func:`start_worker` (:func:`die_with_parent`,
    and the terminal's Ctrl-C left to the driver)."""
    from ftcl.reproduce.executors import LocalExecutor
    from ftcl.reproduce.processes import start_worker

    ex = LocalExecutor(jobs=1)
    try:
        assert ex._pool._initializer is start_worker
        assert ex._pool._initargs == (os.getpid(),)
    finally:
        ex.close()


_WORKER = """
import os, signal, subprocess, sys
from ftcl.reproduce.processes import start_worker
start_worker(os.getppid())
os.kill(os.getpid(), signal.SIGINT)  # a terminal's Ctrl-C reaching the whole group
os.kill(os.getpid(), signal.SIGTERM)
child = subprocess.run([sys.executable, "-c", "import signal; "
                        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"],
                       capture_output=True, text=True)
print("alive", child.stdout.strip(), flush=True)
"""


def test_a_worker_leaves_ctrl_c_to_the_driver_but_not_to_its_kernels():
    """Issue 19, point 2: a pool worker survives SIGINT and SIGTERM (no traceback of its own;
    the driver stops its run), and the processes it starts get the default handlers back."""
    out = subprocess.run([sys.executable, "-c", _WORKER], env=_env(), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "alive True", out.stderr
    assert "Traceback" not in out.stderr




# The driver of a local Ray instance, in miniature: it starts a "node" (a process that later
# starts a child of its own, as raylet starts workers) in a new session, hands it to a reaper,
# prints the pids, and sleeps until killed.
_OWNER = """
import os, subprocess, sys, time
from ftcl.reproduce.processes import descendants, start_reaper
node = subprocess.Popen([sys.executable, "-c",
    "import subprocess, sys, time; time.sleep(0.5); "
    "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
    "print(w.pid, flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True,
    start_new_session=True)
reaper = start_reaper({node.pid: descendants(os.getpid())[node.pid]})
worker = node.stdout.readline().strip()
time.sleep(1.5)  # the reaper polls every 0.5 s: it has seen the worker
print(node.pid, worker, reaper.pid, flush=True)
time.sleep(120)
"""


def test_reaper_kills_what_a_dead_driver_started():
    """:func:`ftcl.reproduce.processes.start_reaper` (used for a local Ray instance): processes
    handed to it, and the children they start later, die within 5 s of a kill -9 of the driver."""
    if not os.path.isdir("/proc"):
        pytest.skip("no /proc")
    owner = subprocess.Popen([sys.executable, "-c", _OWNER], env=_env(),
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        pids = [psutil.Process(int(p)) for p in owner.stdout.readline().split()]
        assert len(_alive(pids)) == 3
    finally:
        owner.kill()
        owner.wait(timeout=30)
    assert _wait_gone(pids) == []
