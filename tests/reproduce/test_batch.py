"""The reproduction batch: the scheduler (stage-1 order, resume, failures), the command line's
dry run, the clean-commit check, and one real tiny run through papermill and the training
notebook.

The scheduler is checked with a scripted executor (no training); the real runs use SynANet
'quick' with configuration overrides that make a run take seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ftcl.cli import main
from ftcl.reproduce import batch
from ftcl.reproduce.batch import run_batch
from ftcl.reproduce.plan import PlannedRun, notebook_parameters, plan
from ftcl.train import store_record

# A run in seconds: tiny embeddings, 2 + 2 iterations, one evaluation.
TINY = {"model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
        "train.batch_size": 4, "train.pretrain_iterations": 2, "train.iterations": 2,
        "train.eval_every": 2}


# ------------------------------------------------------------------------------ scheduler


def _fake_record(run: PlannedRun) -> dict:
    return {"status": "finished", "run_id": run.run_id, "method": run.method,
            "dataset": run.dataset, "profile": run.profile, "seed": run.seed,
            "map": [0.5], "average_map": 0.5, "schedule": {"stage1": {}}}


class ScriptedExecutor:
    """Completes submitted runs in submission order, one per poll; scripted failures and
    Ctrl-C; records what was in flight at each submission."""

    name = "scripted"
    threads = 1

    def __init__(self, runs, capacity=4, fail=(), interrupt_after=None):
        self.by_id = {r.run_id: r for r in runs}
        self.slots, self.fail, self.interrupt_after = capacity, set(fail), interrupt_after
        self.in_flight: list[str] = []
        # (run, runs in flight then, runs finished successfully by then)
        self.submitted: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        self.completed: list[str] = []
        self.closed = False

    def capacity(self):
        return self.slots

    def submit(self, task, stage1=None):
        assert task.parameters["overrides"]["train.progress"] is False
        assert task.parameters["overrides"]["train.num_threads"] == 1
        ok = tuple(c for c in self.completed if c not in self.fail)
        self.submitted.append((task.run_id, tuple(self.in_flight), ok))
        self.in_flight.append(task.run_id)

    def poll(self, timeout=None):
        if self.interrupt_after is not None and len(self.completed) >= self.interrupt_after:
            raise KeyboardInterrupt
        rid = self.in_flight.pop(0)
        self.completed.append(rid)
        run = self.by_id[rid]
        if rid in self.fail:
            return [{"run_id": rid, "ok": False, "record": None, "error": "ValueError: boom",
                     "notebook": '{"cells": []}', "stderr": "last words"}]
        return [{"run_id": rid, "ok": True, "record": _fake_record(run), "error": None,
                 "notebook": '{"cells": []}', "host": "h", "wall_s": 1.0}]

    def cancel(self):
        pass

    def close(self):
        self.closed = True


def _small_plan():
    # 2 seeds x (synthumos14: acmnet, ftcl, stpn, stpn-ftcl; synanet: acmnet, ftcl) = 12 runs
    return plan("quick", seeds=[0, 1], only=["acmnet", "ftcl", "stpn", "stpn-ftcl"],
                with_dose=False)


def _check_one_run_per_cold_group(runs, executor):
    """No run starts while another of its group is in flight, unless one of the group has
    already finished (its stage-1 checkpoint then exists)."""
    group = {r.run_id: r.group for r in runs}
    for rid, flying, succeeded in executor.submitted:
        if any(group[f] == group[rid] for f in flying):
            assert any(group[c] == group[rid] for c in succeeded), rid


def test_batch_writes_records_and_logs_then_skips_them(tmp_path, capsys):
    runs = _small_plan()
    ex = ScriptedExecutor(runs)
    report = run_batch(runs, ex, tmp_path, progress=False)
    assert ex.closed and report.finished == len(runs) and not report.failed
    assert sorted(s for s, *_ in ex.submitted) == sorted(r.run_id for r in runs)
    for r in runs:
        record = json.loads((tmp_path / "quick" / "runs" / f"{r.run_id}.json").read_text())
        assert record["run_id"] == r.run_id
        assert record["reproduce"]["log"] == f"logs/{r.run_id}.ipynb"
        assert (tmp_path / "quick" / "logs" / f"{r.run_id}.ipynb").is_file()
    summary = json.loads((tmp_path / "quick" / "reproduce.json").read_text())
    assert summary["finished"] == len(runs) and summary["runs"] == [r.run_id for r in runs]
    # issue 19, point 4: each record's SHA-256 as written, in sha256sum format
    lines = (tmp_path / "quick" / "records.sha256").read_text().splitlines()
    hashes = dict(reversed(line.split("  ")) for line in lines)
    assert hashes == {f"runs/{f.name}": hashlib.sha256(f.read_bytes()).hexdigest()
                      for f in (tmp_path / "quick" / "runs").glob("*.json")}
    assert len(hashes) == len(runs)
    _check_one_run_per_cold_group(runs, ex)
    # leaders go first: the first submissions are the groups' plain backbones
    first = [s for s, *_ in ex.submitted[:4]]
    assert all(r.plain for r in runs if r.run_id in first)

    again = ScriptedExecutor(runs)
    report = run_batch(runs, again, tmp_path, progress=False)
    assert again.submitted == [] and report.skipped == len(runs) and report.finished == 0
    assert "12 already done" in report.summary()


def test_a_failed_leader_hands_stage1_to_the_next_run_of_its_group(tmp_path, capsys):
    runs = _small_plan()
    leader = runs[0]
    ex = ScriptedExecutor(runs, capacity=8, fail={leader.run_id})
    report = run_batch(runs, ex, tmp_path, progress=False, stream=sys.stdout)
    assert [f["run_id"] for f in report.failed] == [leader.run_id]
    assert report.finished == len(runs) - 1
    assert not (tmp_path / "quick" / "runs" / f"{leader.run_id}.json").exists()
    log = tmp_path / "quick" / "logs" / f"{leader.run_id}.ipynb"
    assert log.is_file()  # the failed run's executed notebook is kept
    out = capsys.readouterr().out
    assert f"FAILED {leader.run_id}" in out and "ValueError: boom" in out
    assert f"executed notebook: {log}" in out and "last words" in out
    _check_one_run_per_cold_group(runs, ex)
    # the group's next run ran alone, then the rest of the group together
    group = [r.run_id for r in runs if r.group == leader.group]
    subs = {rid: flying for rid, flying, _ in ex.submitted}
    second = next(rid for rid, *_ in ex.submitted if rid in group and rid != leader.run_id)
    assert not set(subs[second]) & set(group)


def test_an_interrupted_batch_resumes_without_repeating_a_run(tmp_path):
    runs = _small_plan()
    first = ScriptedExecutor(runs, capacity=2, interrupt_after=5)
    report = run_batch(runs, first, tmp_path, progress=False)
    assert report.interrupted and report.finished == 5 and first.closed
    done = {p.stem for p in (tmp_path / "quick" / "runs").glob("*.json")}
    assert done == set(first.completed)
    second = ScriptedExecutor(runs, capacity=3)
    report = run_batch(runs, second, tmp_path, progress=False)
    assert not report.interrupted and report.skipped == 5
    rerun = {s for s, *_ in second.submitted}
    assert rerun == {r.run_id for r in runs} - done  # in flight at Ctrl-C: run again
    assert len(list((tmp_path / "quick" / "runs").glob("*.json"))) == len(runs)


def test_store_record_moves_an_older_configuration_aside(tmp_path):
    runs_dir = tmp_path / "quick" / "runs"
    old = {"run_id": "synanet-ftcl-seed0-aaaa", "dataset": "synanet", "profile": "quick",
           "method": "ftcl", "seed": 0}
    other_seed = {**old, "run_id": "synanet-ftcl-seed1-bbbb", "seed": 1}
    store_record(old, runs_dir / f"{old['run_id']}.json")
    store_record(other_seed, runs_dir / f"{other_seed['run_id']}.json")
    (tmp_path / "quick" / "logs").mkdir()
    (tmp_path / "quick" / "logs" / f"{old['run_id']}.ipynb").write_text("{}")
    new = {**old, "run_id": "synanet-ftcl-seed0-cccc"}
    store_record(new, runs_dir / f"{new['run_id']}.json")
    assert sorted(p.stem for p in runs_dir.glob("*.json")) == [
        "synanet-ftcl-seed0-cccc", "synanet-ftcl-seed1-bbbb"]
    moved = tmp_path / "quick" / "superseded"
    assert sorted(p.name for p in moved.iterdir()) == [
        "synanet-ftcl-seed0-aaaa.ipynb", "synanet-ftcl-seed0-aaaa.json"]


def test_run_batch_rejects_a_bad_plan(tmp_path):
    runs = _small_plan()
    with pytest.raises(ValueError, match="same run twice"):
        run_batch(runs + runs[:1], ScriptedExecutor(runs), tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="training notebook not found"):
        run_batch(runs, ScriptedExecutor(runs), tmp_path, notebook=tmp_path / "no.py",
                  progress=False)


# ------------------------------------------------------------------------------ command line


def test_cli_dry_run_and_errors(tmp_path, capsys):
    (tmp_path / "quick" / "runs").mkdir(parents=True)
    done = plan("quick", seeds=[0], only=["acmnet"], with_dose=False)[0]
    (tmp_path / "quick" / "runs" / f"{done.run_id}.json").write_text("{}")
    code = main(["reproduce", "--dry-run", "--only", "acmnet", "ftcl", "--seeds", "0",
                 "--results", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
                 "--allow-mixed", "--study", "tables"])  # a dry run checks a clean tree too
    out = capsys.readouterr()
    assert code == 0
    assert "4 runs (4 configurations x 1 seeds) for Tables 1-5 ->" in out.err
    lines = [line.split() for line in out.out.splitlines()[1:]]
    assert [row[0] for row in lines] == [r.run_id for r in plan(
        "quick", seeds=[0], only=["acmnet", "ftcl"], with_dose=False)]
    assert {row[0]: row[2] for row in lines}[done.run_id] == "done"
    # the dose study alone: its grid points of these methods, its own record folder
    assert main(["reproduce", "--dry-run", "--only", "acmnet", "ftcl", "--seeds", "0",
                 "--results", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
                 "--allow-mixed", "--study", "dose"]) == 0
    out = capsys.readouterr()
    rows = [line.split() for line in out.out.splitlines()[1:]]
    assert {row[1] for row in rows} == {"dose"} and "for the dose study ->" in out.err
    assert {row[0]: row[2] for row in rows}[done.run_id] == "todo"  # not in dose/runs/
    assert main(["reproduce", "--only", "nope", "--dry-run"]) == 2
    assert "ftcl: error: --only: unknown method(s) ['nope']" in capsys.readouterr().err
    assert main(["reproduce", "--data-dir", "/x", "--dry-run"]) == 2
    assert "'full' profile" in capsys.readouterr().err


# ------------------------------------------------------------------------------ real runs


@pytest.fixture(scope="module")
def data_cache(tmp_path_factory):
    from ftcl.data import prepare_dataset

    cache = tmp_path_factory.mktemp("ftcl-cache")
    prepare_dataset("synanet", "quick", cache_dir=cache)
    return cache


@pytest.mark.slow
def test_one_tiny_run_through_papermill_and_the_training_notebook(tmp_path, data_cache):
    from ftcl.data import get_spec
    from ftcl.evaluation import evaluate_model
    from ftcl.reproduce.executors import LocalExecutor
    from ftcl.train import load_data, model_from_checkpoint

    run = next(r for r in plan("quick", seeds=[1], only=["acmnet"], overrides=TINY)
               if r.dataset == "synanet")
    results, work = tmp_path / "results", tmp_path / "work"
    report = run_batch([run], LocalExecutor(jobs=1, threads=1), results, device="cpu",
                       cache_dir=str(data_cache), work_dir=str(work), progress=False)
    assert report.finished == 1, report.failed
    record = json.loads((results / "quick" / "runs" / f"{run.run_id}.json").read_text())
    assert record["run_id"] == record["run_name"] == run.run_id
    assert record["status"] == "finished" and record["seed"] == 1 and record["device"] == "cpu"
    assert record["iterations"] == 4 and record["config"]["model"]["embed_dim"] == 8
    assert record["config"]["train"]["num_threads"] == 1
    # the recorded test mAP is what the selected checkpoint scores (independent re-evaluation)
    run_dir = work / "synanet-quick" / run.run_id / "seed1"
    cfg_model, cfg, _ = model_from_checkpoint(run_dir / "best.pt", "cpu")
    import dataclasses

    data = load_data(dataclasses.replace(cfg, cache_dir=str(data_cache)))
    metrics, _ = evaluate_model(cfg_model, data.test, get_spec("synanet", "quick"))
    assert metrics["map"] == pytest.approx(record["map"], abs=1e-12)
    # the executed notebook is the log: parameters injected, outputs kept
    import nbformat

    nb = nbformat.read(results / "quick" / "logs" / f"{run.run_id}.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "train.pretrain_iterations" in injected[0].source
    text = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert run.run_id in text and "stage 1 trained here" in text
    # checkpoints stay out of results/
    assert not list(results.rglob("*.pt")) and (run_dir / "last.pt").is_file()


@pytest.mark.slow
def test_a_failing_notebook_run_reports_its_error_and_keeps_its_log(tmp_path, data_cache):
    from ftcl.paths import training_notebook
    from ftcl.reproduce.executors import RunTask, execute_run

    run = next(r for r in plan("quick", seeds=[0], only=["acmnet"], overrides=TINY)
               if r.dataset == "synanet")
    params = {**notebook_parameters(run, "cpu", str(data_cache), 1), "backbone": "cola"}
    task = RunTask(run.run_id, params, training_notebook().read_text(),
                   work_dir=str(tmp_path), threads=1)
    outcome = execute_run(task)
    assert not outcome["ok"] and outcome["record"] is None
    assert outcome["error"].startswith("ValueError: backbone='cola' does not match method")
    assert '"ename": "ValueError"' in outcome["notebook"]


def test_clean_tree_check(tmp_path, monkeypatch):
    tmp_path = tmp_path / "runs"  # its records.sha256 would be looked up in tmp_path's parent
    tmp_path.mkdir()
    run = plan("quick", seeds=[0], only=["acmnet"])[0]
    monkeypatch.setattr(batch, "git_commit", lambda repo=None: "abc+dirty")
    with pytest.raises(ValueError, match="abc\\+dirty.*commit first"):
        batch.check_clean_tree([run], tmp_path, allow_mixed=False)
    batch.check_clean_tree([run], tmp_path, allow_mixed=True)
    monkeypatch.setattr(batch, "git_commit", lambda repo=None: "abc")
    batch.check_clean_tree([run], tmp_path, allow_mixed=False)
    (tmp_path / "notes.json").write_text("{}")  # not a run record: ignored
    batch.check_clean_tree([run], tmp_path, allow_mixed=False)
    (tmp_path / "synanet-acmnet-seed0-0123456789.json").write_text(
        json.dumps({"provenance": {"git_commit": "old"}}))
    with pytest.raises(ValueError, match="other commit states \\(old\\)"):
        batch.check_clean_tree([run], tmp_path, allow_mixed=False)
    batch.check_clean_tree([], tmp_path, allow_mixed=False)  # nothing to run: no check


def test_a_work_folder_of_another_commit_is_refused(tmp_path, monkeypatch):
    """A finished run left in the work folder by another commit would be taken as done (its old
    record stored as if run now): the batch refuses the folder unless --allow-mixed."""
    runs, work = tmp_path / "runs", tmp_path / "work"
    runs.mkdir()
    run = plan("quick", seeds=[0], only=["acmnet"])[0]
    monkeypatch.setattr(batch, "git_commit", lambda repo=None: "abc")
    batch.check_clean_tree([run], runs, allow_mixed=False, work=work)  # no work folder yet
    folder = work / "synanet-quick" / run.run_id / "seed0"
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps({"provenance": {"git_commit": "abc"}}))
    batch.check_clean_tree([run], runs, allow_mixed=False, work=work)  # this commit's: resumes
    (folder / "record.json").write_text(json.dumps({"provenance": {"git_commit": "old"}}))
    with pytest.raises(ValueError, match=r"work folder .* other commit states \(old\) than "
                                         r"this checkout \(abc\).*empty --work-dir"):
        batch.check_clean_tree([run], runs, allow_mixed=False, work=work)
    batch.check_clean_tree([run], runs, allow_mixed=True, work=work)
    batch.check_clean_tree([], runs, allow_mixed=False, work=work)  # nothing to run: no check


# ------------------------------------------------------------------------------ issue 19


def _batch_command(results, work, cache, *extra, sets=TINY):
    cmd = [sys.executable, "-m", "ftcl", "reproduce", "--device", "cpu", "--threads", "1",
           "--results", str(results), "--work-dir", str(work), "--cache-dir", str(cache),
           "--no-progress", "--no-tables", "--allow-mixed", "--study", "tables", *extra]
    return cmd + [f"--set={k}={v}" for k, v in sets.items()]


def _start(cmd):
    """A batch in its own process group, as a terminal starts it (Ctrl-C reaches the group)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def both_datasets(data_cache):
    """The data cache with SynANet and SynTHUMOS14 'quick' (seed 0)."""
    from ftcl.data import prepare_dataset

    prepare_dataset("synthumos14", "quick", cache_dir=data_cache)
    return data_cache


def test_a_second_batch_on_the_same_folders_is_refused_by_name(tmp_path, data_cache):
    """Point 3: two real batches on one results and work folder."""
    from ftcl.io import lock_holder

    results, work = tmp_path / "results", tmp_path / "work"
    cmd = _batch_command(results, work, data_cache, "--only", "acmnet", "--seeds", "0",
                         sets={**TINY, "train.pretrain_iterations": 100000})
    first = _start(cmd)
    try:
        lock = results / "quick" / ".batch.lock"
        _wait_for(lambda: lock_holder(lock) is not None or first.poll() is not None, 120,
                  "the first batch's lock")
        assert first.poll() is None, first.communicate()[0]
        t0 = time.monotonic()
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert second.returncode == 2 and time.monotonic() - t0 < 120
        line = second.stderr.strip().splitlines()[-1]
        assert line.startswith(f"ftcl: error: results folder {results / 'quick'} is in use by "
                               f"another batch (pid {first.pid} on "), second.stderr
        assert "started at" in line and "Traceback" not in second.stderr
        dry = subprocess.run([*cmd, "--dry-run"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert dry.returncode == 0 and f"note: a batch (pid {first.pid} on" in dry.stderr
        assert first.poll() is None  # the first batch is untouched
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=60)
    assert lock_holder(results / "quick" / ".batch.lock") is None  # released by the OS
    assert not list((results / "quick" / "runs").glob("*.json"))  # nothing half-published


@pytest.mark.slow
def test_ctrl_c_of_a_real_batch_stops_its_runs_resumably(tmp_path, both_datasets):
    """Point 2: Ctrl-C (SIGINT to the batch's process group) while two runs train: no
    traceback, each run saves last.pt where it stopped, the summary names finished, stopped
    and not-started runs, exit 130."""
    from ftcl.train import load_checkpoint

    results, work = tmp_path / "results", tmp_path / "work"
    long = {**TINY, "train.iterations": 100000}  # stage 2 never ends; last.pt every 2 steps
    cmd = _batch_command(results, work, both_datasets, "--only", "acmnet", "ftcl", "--seeds",
                         "0", "--jobs", "2", sets=long)
    planned = plan("quick", seeds=[0], only=["acmnet", "ftcl"], overrides=long)
    leaders = [r for r in planned if r.method == "acmnet"]
    lasts = [work / f"{r.dataset}-quick" / r.run_id / "seed0" / "last.pt" for r in leaders]
    batch_proc = _start(cmd)
    try:
        _wait_for(lambda: all(p.is_file() for p in lasts) or batch_proc.poll() is not None,
                  300, "both runs in stage 2")
        time.sleep(2)
        os.killpg(batch_proc.pid, signal.SIGINT)
        out, _ = batch_proc.communicate(timeout=180)
    finally:
        if batch_proc.poll() is None:
            os.killpg(batch_proc.pid, signal.SIGKILL)
    assert batch_proc.returncode == 130, out
    assert "Traceback" not in out and "Error" not in out.replace("Interrupted", ""), out
    assert ("reproduce interrupted by SIGINT: 4 runs planned, 0 already done, 0 finished now, "
            "0 failed, 2 stopped (resumable), 2 not started") in out
    for run, last in zip(leaders, lasts, strict=True):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"  stopped: {run.run_id}"))
        assert "Interrupted: stopped at stage 2 iteration " in line, line
        iteration = int(line.split("iteration ")[1].split(";")[0])
        state = load_checkpoint(last)["state"]  # saved where it stopped, not at an evaluation
        assert (state["stage"], state["iteration"], state["finished"]) == (2, iteration, False)
        assert (results / "quick" / "logs" / f"{run.run_id}.ipynb").is_file()
    assert not list((results / "quick" / "runs").glob("*.json"))
    assert "not started: 2 run(s)" in out


@pytest.mark.slow
def test_a_diverged_run_is_reported_failed_and_not_published(tmp_path, data_cache):
    """Point 1: in the batch, a run whose loss diverges is FAILED with the trainer's line."""
    from ftcl.reproduce.executors import LocalExecutor

    run = next(r for r in plan("quick", seeds=[0], only=["acmnet"],
                               overrides={**TINY, "train.lr": 1e30}) if r.dataset == "synanet")
    results = tmp_path / "results"
    report = run_batch([run], LocalExecutor(jobs=1, threads=1), results, device="cpu",
                       cache_dir=str(data_cache), work_dir=str(tmp_path / "work"),
                       progress=False)
    assert report.finished == 0 and [f["run_id"] for f in report.failed] == [run.run_id]
    assert report.failed[0]["error"].startswith(
        "TrainingDiverged: training diverged in stage 1 at iteration 2: loss nan")
    assert not (results / "quick" / "runs" / f"{run.run_id}.json").exists()
    assert (results / "quick" / "logs" / f"{run.run_id}.ipynb").is_file()


def test_the_dry_run_runs_the_data_checks_of_a_real_batch(tmp_path, capsys):
    """Point 5: ``--dry-run`` refuses what the batch would refuse, bad data included."""
    from ftcl.data.fixtures import write_thumos14_fixture

    root = write_thumos14_fixture(tmp_path / "thumos")
    argv = ["reproduce", "--profile", "full", "--data-dir", f"thumos14={root}", "--only",
            "acmnet", "--seeds", "0", "--results", str(tmp_path / "results"), "--allow-mixed",
            "--cache-dir", str(tmp_path / "cache"), "--study", "tables", "--dry-run"]
    assert main(argv) == 0
    capsys.readouterr()
    feature = root / "test" / f"{(root / 'split_test.txt').read_text().split()[0]}.npy"
    feature.write_bytes(b"")
    assert main(argv) == 2
    assert f"ftcl: error: video {feature.stem!r}: {feature} is empty (0 bytes)" in \
        capsys.readouterr().err
