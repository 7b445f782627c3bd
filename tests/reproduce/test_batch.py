"""The reproduction batch: plan, run identity, stage-1 ordering, resume, failures, and one real
tiny run through papermill and the training notebook.

The scheduler is checked with a scripted executor (no training); the real runs use SynANet
'quick' with configuration overrides that make a run take seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftcl import reproduce, runs
from ftcl.config import METHODS, make_config
from ftcl.reproduce import PlannedRun, parse_data_dirs, plan, run_batch, tables_of
from ftcl.runs import IGNORED_KEYS, config_hash, run_id, store_record

ROOT = Path(__file__).resolve().parents[1]

# A run in seconds: tiny embeddings, 2 + 2 iterations, one evaluation.
TINY = {"model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
        "train.batch_size": 4, "train.pretrain_iterations": 2, "train.iterations": 2,
        "train.eval_every": 2}

THUMOS_METHODS = set(METHODS)  # every method appears in a THUMOS14 table (1, 3, 4 or 5)
ANET_METHODS = {"acmnet", "ftcl"}  # Table 2


# ------------------------------------------------------------------------------ plan


def test_tables_of_reads_the_method_registry():
    assert tables_of("acmnet") == (1, 2, 3, 4)  # "Tables 1-4 baseline"
    assert tables_of("ftcl") == (1, 2)
    assert tables_of("ftcl-wo-fsd") == (3,)
    assert tables_of("ftcl-dropdtw") == (4,)
    assert tables_of("cola-ftcl") == (5,)
    for method in METHODS:
        assert tables_of(method), method
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        tables_of("nope")


def test_quick_plan_holds_every_run_of_tables_1_to_5():
    runs = plan("quick", seeds=[0, 1, 2])
    pairs = {(r.dataset, r.method) for r in runs}
    expected = ({("synthumos14", m) for m in THUMOS_METHODS}
                | {("synanet", m) for m in ANET_METHODS})
    assert pairs == expected
    assert len(pairs) == 21 and len(runs) == 21 * 3  # 15 THUMOS14 rows + 4 beyond the paper + 2
    assert len({r.run_id for r in runs}) == len(runs)
    for r in runs:
        assert r.profile == "quick" and r.data_dir is None
        assert r.backbone == r.config.model.backbone
        assert r.run_id.startswith(f"{r.dataset}-{r.method}-seed{r.seed}-")
    assert {r.tables for r in runs if r.dataset == "synanet"} == {(2,)}


def test_plan_covers_what_the_tables_module_reads():
    tables = pytest.importorskip("ftcl.tables")
    synthetic = {"thumos14": "synthumos14", "activitynet13": "synanet"}
    pairs = {(r.dataset, r.method) for r in plan("quick", seeds=[0])}
    for spec in tables.TABLES.values():
        for method in spec.methods:
            assert (synthetic[spec.family], method) in pairs, (spec.key, method)


def test_plan_puts_each_stage1_group_first_run_first_and_it_is_the_plain_backbone():
    runs = plan("quick", seeds=[0, 1])
    groups: dict[str, list[PlannedRun]] = {}
    for r in runs:
        groups.setdefault(r.group, []).append(r)
    # one group per (dataset, backbone, seed): acmnet methods share one, each Table 5 backbone
    # its own, and seeds never share
    assert len(groups) == 2 * (4 + 1)
    for members in groups.values():
        assert len({(m.dataset, m.backbone, m.seed) for m in members}) == 1
        assert members[0].method == members[0].backbone  # the plain backbone leads
    leaders = [members[0] for members in groups.values()]
    assert runs[:len(leaders)] == sorted(leaders, key=runs.index)  # leaders form a prefix
    acm0 = {r.method for r in runs if r.group == runs[0].group}
    assert acm0 == {m for m in METHODS if METHODS[m].overrides.get("model.backbone", "acmnet")
                    == "acmnet"}


def test_stage1_group_follows_the_stage1_settings():
    base = {r.method: r.group for r in plan("quick", seeds=[0], only=["acmnet", "ftcl"])}
    # an FTCL-only setting leaves stage 1 (and the group) alone; a backbone setting does not
    ftcl_only = {r.method: r.group
                 for r in plan("quick", seeds=[0], only=["acmnet"], overrides={"ftcl.tau": 0.5})}
    assert ftcl_only["acmnet"] == base["acmnet"] == base["ftcl"]
    changed = plan("quick", seeds=[0], only=["acmnet"], overrides={"loss.guide_weight": 0.01})
    assert changed[0].group != base["acmnet"]
    none = plan("quick", seeds=[0], only=["acmnet"], overrides={"train.pretrain_iterations": 0})
    assert none[0].group is None


def test_plan_with_real_features_and_bad_input():
    runs = plan("full", seeds=[0], data_dirs={"thumos14": "/data/T14"})
    assert {r.dataset for r in runs} == {"thumos14"}
    assert {r.data_dir for r in runs} == {"/data/T14"} and len(runs) == len(THUMOS_METHODS)
    assert parse_data_dirs(["/d", "activitynet13=/a"]) == {"thumos14": "/d",
                                                           "activitynet13": "/a"}
    with pytest.raises(ValueError, match="'full' profile"):
        plan("quick", data_dirs={"thumos14": "/d"})
    with pytest.raises(ValueError, match="dataset must be one of"):
        parse_data_dirs(["kinetics=/d"])
    with pytest.raises(ValueError, match="unknown method"):
        plan("quick", only=["ftcl", "nope"])
    with pytest.raises(ValueError, match="repeated"):
        plan("quick", seeds=[0, 0])
    with pytest.raises(ValueError, match="may not set \\['seed'\\]"):
        plan("quick", overrides={"seed": 3})
    with pytest.raises(ValueError, match="unknown config key"):
        plan("quick", overrides={"train.nope": 1})


# ------------------------------------------------------------------------------ identity


def test_run_id_ignores_where_and_how_but_not_what():
    cfg = make_config("ftcl", "synthumos14", "quick", seed=1)
    same = make_config("ftcl", "synthumos14", "quick", seed=1, out_dir="/x", cache_dir="/c",
                       data_dir="/d", device="cpu", run_name="n",
                       overrides={"train.progress": False, "train.num_threads": 3,
                                  "train.eval_batch_size": 7, "train.reuse_stage1": False})
    assert run_id(cfg) == run_id(same) == run_id(runs.name_run(cfg))
    assert runs.name_run(cfg).run_name == run_id(cfg)
    different = [
        make_config("ftcl", "synthumos14", "quick", seed=2),
        make_config("acmnet", "synthumos14", "quick", seed=1),
        make_config("ftcl", "synanet", "quick", seed=1),
        make_config("ftcl", "synthumos14", "full", seed=1),
        make_config("ftcl", "synthumos14", "quick", seed=1, overrides={"train.lr": 3e-4}),
        make_config("ftcl", "synthumos14", "quick", seed=1, overrides={"ftcl.tau": 0.9}),
        make_config("ftcl", "synthumos14", "quick", seed=1, data_seed=5),
    ]
    hashes = {config_hash(c) for c in [cfg, *different]}
    assert len(hashes) == len(different) + 1


def test_ignored_keys_are_exactly_what_the_trainer_may_change_on_resume():
    from ftcl.train import _RESUMABLE_CHANGES

    assert set(IGNORED_KEYS) - {"run_name"} == set(_RESUMABLE_CHANGES)


def test_run_id_is_the_same_in_a_fresh_interpreter():
    cfg = make_config("ftcl-dtw", "synanet", "quick", seed=4, overrides={"train.lr": 2e-4})
    code = ("from ftcl.config import make_config; from ftcl.runs import run_id; "
            "print(run_id(make_config('ftcl-dtw', 'synanet', 'quick', seed=4, "
            "overrides={'train.lr': 2e-4})))")
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=ROOT)
    assert out.stdout.strip() == run_id(cfg)


def test_check_backbone():
    cfg = make_config("stpn-ftcl", "synthumos14", "quick")
    runs.check_backbone(cfg, None)
    runs.check_backbone(cfg, "stpn")
    with pytest.raises(ValueError, match="backbone='acmnet' does not match method 'stpn-ftcl'"):
        runs.check_backbone(cfg, "acmnet")


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
    return plan("quick", seeds=[0, 1], only=["acmnet", "ftcl", "stpn", "stpn-ftcl"])


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
    done = plan("quick", seeds=[0], only=["acmnet"])[0]
    (tmp_path / "quick" / "runs" / f"{done.run_id}.json").write_text("{}")
    code = reproduce.main(["--dry-run", "--only", "acmnet", "ftcl", "--seeds", "0",
                           "--results", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    assert "4 runs (4 configurations x 1 seeds)" in out.err
    lines = [line.split() for line in out.out.splitlines()[1:]]
    assert [row[0] for row in lines] == [r.run_id for r in plan("quick", seeds=[0],
                                                                  only=["acmnet", "ftcl"])]
    assert {row[0]: row[2] for row in lines}[done.run_id] == "done"
    assert reproduce.main(["--only", "nope", "--dry-run"]) == 2
    assert "ftcl: error: --only: unknown method(s) ['nope']" in capsys.readouterr().err
    assert reproduce.main(["--data-dir", "/x", "--dry-run"]) == 2
    assert "'full' profile" in capsys.readouterr().err


def test_command_plugs_into_the_ftcl_command_line(monkeypatch):
    from ftcl import cli, commands

    command = reproduce.command()
    assert isinstance(command, commands.Command) and command.name == "reproduce"
    monkeypatch.setitem(cli.COMMANDS, "reproduce", command)
    args = cli.build_parser().parse_args(["reproduce", "--profile", "quick", "--seeds", "0",
                                          "1", "--executor", "ray", "--jobs", "3"])
    assert args._command is command and args.seeds == [0, 1] and args.jobs == 3


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
    from ftcl.executors import LocalExecutor
    from ftcl.train import evaluate, load_data, model_from_checkpoint

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
    metrics, _ = evaluate(cfg_model, data.test, get_spec("synanet", "quick"))
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
    from ftcl.executors import RunTask, execute_run

    run = next(r for r in plan("quick", seeds=[0], only=["acmnet"], overrides=TINY)
               if r.dataset == "synanet")
    params = {**reproduce.notebook_parameters(run, "cpu", str(data_cache), 1), "backbone": "cola"}
    task = RunTask(run.run_id, params, reproduce.default_notebook().read_text(),
                   work_dir=str(tmp_path), threads=1)
    outcome = execute_run(task)
    assert not outcome["ok"] and outcome["record"] is None
    assert outcome["error"].startswith("ValueError: backbone='cola' does not match method")
    assert '"ename": "ValueError"' in outcome["notebook"]


def test_stored_run_page_copies_the_log_behind_a_note(tmp_path):
    import nbformat

    from ftcl.stored_run import stored_run_page

    logs = tmp_path / "quick" / "logs"
    logs.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Training one run"),
                nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "2"}, execution_count=1)])]
    nbformat.write(nb, str(logs / "synthumos14-ftcl-seed0-abc.ipynb"))
    page = stored_run_page(tmp_path, "quick", tmp_path / "page.ipynb")
    out = nbformat.read(page, as_version=4)
    assert out.cells[0].source == "# Training one run"
    assert "synthumos14-ftcl-seed0-abc.ipynb" in out.cells[1].source
    assert out.cells[2].outputs[0]["data"]["text/plain"] == "2"
    with pytest.raises(FileNotFoundError, match="logs"):
        stored_run_page(tmp_path, "quick", tmp_path / "p2.ipynb", method="acmnet")


def test_stored_run_page_refreshes_an_older_log(tmp_path):
    """An older log: its tqdm warning is dropped and its model-selection table re-drawn from the
    run record with the current column titles; the other outputs stay as they ran."""
    import json

    import nbformat

    from ftcl.stored_run import stored_run_page

    logs, runs_dir = tmp_path / "quick" / "logs", tmp_path / "quick" / "runs"
    logs.mkdir(parents=True)
    runs_dir.mkdir(parents=True)
    warning = nbformat.v4.new_output("stream", name="stderr", text=(
        "/home/someone/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: "
        "IProgress not found.\n"))
    kept = nbformat.v4.new_output("stream", name="stdout", text="350 iterations\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Training one run"),
                nbformat.v4.new_code_cell("record = train(cfg)", outputs=[warning, kept]),
                nbformat.v4.new_code_cell("reproduce.history_frame(record)", outputs=[
                    nbformat.v4.new_output("execute_result", data={"text/plain": "loss loss"},
                                           execution_count=3)])]
    nbformat.write(nb, str(logs / "synthumos14-ftcl-seed0-abc.ipynb"))
    (runs_dir / "synthumos14-ftcl-seed0-abc.json").write_text(json.dumps({"history": [
        {"iteration": 25, "holdout": {"average_map": 0.5},
         "train": {"cls": 2.0, "fsd": -3.0, "loss": -0.4, "cls/x": 1.0}}]}))
    out = nbformat.read(stored_run_page(tmp_path, "quick", tmp_path / "page.ipynb"),
                        as_version=4)
    code = [c for c in out.cells if c.cell_type == "code"]
    assert code[0].outputs == [kept]
    table = code[1].outputs[0]["data"]["text/plain"]
    assert "total loss (Eq. 8)" in table and "loss loss" not in table
    assert "backbone loss" in table and "cls/x" not in table
    assert "model-selection table" in out.cells[1].source


def test_display_path_names_no_folder_of_the_machine(tmp_path, monkeypatch):
    from pathlib import Path

    from ftcl.runs import display_path

    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "a" / "b.json") == "a/b.json"
    assert display_path(Path.home() / ".cache" / "ftcl" / "x") == "~/.cache/ftcl/x"
    checkout = Path(__file__).resolve().parents[1]
    assert display_path(checkout / "results" / "quick") == "results/quick"
# ------------------------------------------------------------------------------ seeds and data


def test_default_seeds_and_data_seed_scheme():
    assert reproduce.DEFAULT_SEEDS == tuple(range(10))
    runs = plan("quick", seeds=[0, 3], only=["acmnet", "ftcl"])
    for r in runs:
        assert r.config.data_seed == r.seed  # each seed draws its own synthetic data set
        assert reproduce.notebook_parameters(r)["overrides"]["data_seed"] == r.seed
    # all methods of one seed share the data set and the stage-1 checkpoint
    by_seed = {}
    for r in runs:
        by_seed.setdefault((r.dataset, r.seed), set()).add((r.config.data_seed, r.group))
    assert all(len(v) == 1 for v in by_seed.values())
    fixed = plan("quick", seeds=[0, 3], only=["acmnet"], overrides={"data_seed": 5})
    assert {r.config.data_seed for r in fixed} == {5}
    real = plan("full", seeds=[2], data_dirs={"thumos14": "/data/T14"}, only=["acmnet"])
    assert real[0].config.data_seed is None


def test_clean_tree_check(tmp_path, monkeypatch):
    from ftcl import provenance

    run = plan("quick", seeds=[0], only=["acmnet"])[0]
    monkeypatch.setattr(provenance, "git_commit", lambda repo=None: "abc+dirty")
    with pytest.raises(ValueError, match="abc\\+dirty.*commit first"):
        reproduce.check_clean_tree([run], tmp_path, allow_mixed=False)
    reproduce.check_clean_tree([run], tmp_path, allow_mixed=True)
    monkeypatch.setattr(provenance, "git_commit", lambda repo=None: "abc")
    reproduce.check_clean_tree([run], tmp_path, allow_mixed=False)
    (tmp_path / "old.json").write_text(json.dumps({"provenance": {"git_commit": "old"}}))
    with pytest.raises(ValueError, match="other commit states \\(old\\)"):
        reproduce.check_clean_tree([run], tmp_path, allow_mixed=False)
    reproduce.check_clean_tree([], tmp_path, allow_mixed=False)  # nothing to run: no check
