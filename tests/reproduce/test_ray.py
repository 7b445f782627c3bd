"""The reproduction batch on a real Ray cluster that loses a worker node mid-batch (issue 6).

A head node and one extra worker node are started with ``ray start`` on this machine (one CPU
each, own temp dir and ports); a batch of 4 tiny runs goes through it while a watcher kills the
worker node (its raylet and every process under it, as a machine loss would) as soon as a
training kernel runs there. Every run must then have exactly one record, equal in mAP to the
same run executed by the local executor. The cluster is torn down at the end whatever happens:
only the processes of this cluster are killed (``ray stop`` would end every Ray instance of the
machine).

Ray turns a loopback ``--node-ip-address`` into the host's own address, so the nodes listen on
the machine's IP; nothing leaves the machine. Deselect with ``-m "not ray"`` (or ``not slow``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from ftcl.reproduce.plan import plan  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.ray]

TINY = {"model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
        "train.batch_size": 4, "train.pretrain_iterations": 2, "train.iterations": 2,
        "train.eval_every": 2}
BATCH_TIMEOUT_S = 900  # a hung cluster fails the test instead of hanging CI
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args: str, env: dict) -> None:
    exe = Path(sys.executable).parent / "ray"
    out = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        raise RuntimeError(f"ray {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")


def _processes(marks: list[str]) -> list:
    """Processes whose command line holds one of ``marks``, and all their descendants."""
    found = {}
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(m in " ".join(p.info["cmdline"] or []) for m in marks):
                for q in [p, *p.children(recursive=True)]:
                    found[q.pid] = q
        except psutil.Error:
            continue
    return list(found.values())


def _kill(procs: list) -> None:
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=15)


def _raylets(marks: list[str]) -> set[int]:
    return {p.pid for p in _processes(marks) if p.name() == "raylet"}


def cluster_environment() -> dict[str, str]:
    """Variables for every process of the test cluster and its driver: token authentication
    with a fresh token (the nodes listen on the machine's address, and Ray 2.60 otherwise
    switches token auth on or off depending on whether ``~/.ray/auth_token`` exists, which a
    head and an extra node do not read the same way), no usage statistics."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0"}


@contextlib.contextmanager
def local_cluster(variables: dict[str, str]):
    """A head node and one worker node on this machine; every process of it killed on exit."""
    temp = tempfile.mkdtemp(prefix="ftclray", dir="/tmp")  # short: it holds unix sockets
    port = _free_port()
    marks = [temp, f":{port}"]
    env = {**os.environ, **variables}
    common = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats",
              f"--dashboard-agent-listen-port={_free_port()}"]
    try:
        _ray("start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
             f"--temp-dir={temp}", "--include-dashboard=false",
             f"--dashboard-port={_free_port()}", f"--ray-client-server-port={_free_port()}",
             *common, env=env)
        head = _raylets(marks)
        common[-1] = f"--dashboard-agent-listen-port={_free_port()}"
        _ray("start", f"--address=127.0.0.1:{port}", *common, env=env)
        worker = _raylets(marks) - head
        assert len(head) == 1 and len(worker) == 1, (head, worker)
        yield SimpleNamespace(address=f"127.0.0.1:{port}", worker_raylet=worker.pop())
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _kill(_processes(marks))
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def cluster():
    variables = cluster_environment()
    with local_cluster(variables) as c:
        c.env = {**os.environ, **variables}  # for the driver, which joins with the token
        yield c


def _kill_node_when_busy(raylet_pid: int, deadline: float, result: dict) -> None:
    """Wait until a training kernel runs under the worker node, then kill the whole node."""
    try:
        raylet = psutil.Process(raylet_pid)
        while time.monotonic() < deadline:
            tree = raylet.children(recursive=True)
            kernels = [p for p in tree if "ipykernel_launcher" in " ".join(p.cmdline())]
            if kernels:
                time.sleep(1.0)  # let it get into training
                victims = [raylet, *raylet.children(recursive=True)]
                _kill(victims)
                result.update(killed=len(victims), kernels=len(kernels))
                return
            time.sleep(0.2)
    except psutil.Error as exc:
        result["error"] = repr(exc)


def _reproduce(tmp_path: Path, name: str, *options: str, env: dict) -> tuple[str, float]:
    """``python -m ftcl reproduce`` on the 4 tiny runs; return its output and wall time."""
    tiny = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    cmd = [sys.executable, "-m", "ftcl", "reproduce", "--only", "acmnet", "ftcl", "--seeds", "0",
           *tiny, "--device", "cpu", "--no-progress", "--no-tables", "--allow-mixed",
           "--study", "tables", "--results", str(tmp_path / name),
           "--work-dir", str(tmp_path / f"work-{name}"), "--cache-dir", str(tmp_path / "cache"),
           *options]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BATCH_TIMEOUT_S,
                         cwd=ROOT)
    wall = time.perf_counter() - t0
    assert out.returncode == 0, f"{' '.join(cmd)}\n{out.stdout}\n{out.stderr}"
    return out.stdout, wall


def _records(tmp_path: Path, name: str) -> dict[str, dict]:
    runs = tmp_path / name / "quick" / "runs"
    return {p.stem: json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))}


def test_batch_survives_losing_a_worker_node_and_matches_the_local_executor(cluster, tmp_path):
    from ftcl.data import prepare_dataset

    for dataset in ("synthumos14", "synanet"):  # once, before the workers start
        prepare_dataset(dataset, "quick", cache_dir=tmp_path / "cache")
    runs = plan("quick", seeds=[0], only=["acmnet", "ftcl"], overrides=TINY, with_dose=False)
    assert len(runs) == 4

    killed: dict = {}
    watcher = threading.Thread(target=_kill_node_when_busy, daemon=True,
                               args=(cluster.worker_raylet, time.monotonic() + 300, killed))
    watcher.start()
    out, ray_s = _reproduce(tmp_path, "ray", "--executor", "ray", "--address", cluster.address,
                            "--max-retries", "3", env=cluster.env)
    watcher.join(timeout=5)
    assert killed.get("kernels"), f"the worker node was never seen training: {killed}"
    assert "4 finished now, 0 failed" in out, out

    on_ray = _records(tmp_path, "ray")
    assert sorted(on_ray) == sorted(r.run_id for r in runs)  # each run exactly once
    assert not (tmp_path / "ray" / "quick" / "superseded").exists()
    for r in runs:
        assert (tmp_path / "ray" / "quick" / "logs" / f"{r.run_id}.ipynb").is_file()

    out, local_s = _reproduce(tmp_path, "local", "--executor", "local", "--jobs", "2",
                              env=cluster.env)
    here = _records(tmp_path, "local")
    assert sorted(here) == sorted(on_ray)
    for run_id, record in on_ray.items():
        assert record["reproduce"]["executor"] == "ray"
        assert here[run_id]["reproduce"]["executor"] == "local"
        assert record["map"] == here[run_id]["map"], run_id
        assert record["average_map"] == here[run_id]["average_map"], run_id
    print(f"\ntiny batch of 4 runs (command wall time): ray {ray_s:.1f} s with the worker node "
          f"killed mid-batch, local {local_s:.1f} s")

    # a restarted driver finds every run done and submits nothing
    out, _ = _reproduce(tmp_path, "ray", "--executor", "ray", "--address", cluster.address,
                        env=cluster.env)
    assert "4 already done, 0 finished now" in out, out
