"""Command line: help texts, configuration handling, errors, evaluate, command registration."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ftcl import cli
from ftcl.cli import COMMANDS, Command, build_parser, main, register
from ftcl.config import METHODS, run_id
from ftcl.paths import default_work_dir, display_path, run_directory


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_commands(capsys):
    text = _help(capsys)
    assert "train" in text and "evaluate" in text and "FTCL" in text


def test_train_help_explains_options_and_examples(capsys):
    text = _help(capsys, "train")
    for word in ("--method", "--dataset", "--seed", "--set", "--device", "--restart",
                 "examples:", "record.json", "resume"):
        assert word in text, word


def test_evaluate_help(capsys):
    text = _help(capsys, "evaluate")
    assert "checkpoint" in text and "--split" in text


def test_list_methods(capsys):
    assert main(["train", "--list-methods"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in METHODS)


def test_show_config_merges_file_and_flags(tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    path.write_text("method: ftcl-wo-lcs\nseed: 3\ntrain:\n  lr: 3e-4\n  iterations: 7\n")
    code = main(["train", "--config", str(path), "--set", "train.iterations=9", "--show-config",
                 "--no-progress"])
    assert code == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["method"] == "ftcl-wo-lcs" and cfg["seed"] == 3
    assert cfg["train"]["lr"] == 3e-4 and cfg["train"]["iterations"] == 9  # --set wins
    assert cfg["ftcl"]["action_measure"] == "fsd" and cfg["ftcl"]["pair_measure"] == "none"
    assert cfg["train"]["progress"] is False


@pytest.mark.parametrize("argv, message", [
    (["train", "--set", "model.widht=3"], "unknown config key 'model.widht'"),
    (["train", "--set", "nonsense"], "not of the form key=value"),
    (["train", "--dataset", "thumos14", "--profile", "quick"], "only the 'full' profile"),
    (["train", "--config", "/nonexistent/cfg.yaml"], "config file not found"),
    (["evaluate", "/nonexistent/best.pt"], "checkpoint not found"),
])
def test_bad_input_is_a_clear_error(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ftcl: error:") and message in err


def test_unknown_yaml_section(tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    path.write_text("optimiser:\n  lr: 1\n")
    assert main(["train", "--config", str(path), "--show-config"]) == 2
    assert "unknown config key 'optimiser'" in capsys.readouterr().err


def test_corrupt_checkpoint(tmp_path, capsys):
    path = tmp_path / "best.pt"
    path.write_bytes(b"\x00" * 64)
    assert main(["evaluate", str(path)]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_a_new_command_is_one_registration(capsys):
    calls = []
    previous = COMMANDS["reproduce"]
    register(Command(name="reproduce", help="reproduce the paper's tables",
                     description="Run every configuration.",
                     add_arguments=lambda p: p.add_argument("--tables", default="1-5"),
                     run=lambda args: calls.append(args.tables) or 0))
    try:
        assert "reproduce" in build_parser().format_help()
        assert main(["reproduce", "--tables", "3"]) == 0
        assert calls == ["3"]
    finally:
        register(previous)


def _run_dir(argv):
    """The run folder ``ftcl train argv`` trains in (named after the run id)."""
    return run_directory(cli.build_config(build_parser().parse_args(argv)))


def test_train_end_to_end_and_evaluate(tiny_cli, tmp_path, capsys):
    """``train`` then ``evaluate`` on the tiny SynANet (conftest: data loading patched)."""
    argv = tiny_cli()
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "average mAP (0.5-0.95)" in out and "classification mAP" in out
    assert "ftcl: training acmnet" in captured.err
    # The same command again: the finished run's record, not "training ...".
    assert main(argv) == 0
    again = capsys.readouterr()
    assert "training" not in again.err and "holds a finished run" in again.err
    assert again.out == out
    best = _run_dir(argv) / "best.pt"
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(best), "--output", str(report), "--device", "cpu"]) == 0
    metrics = json.loads(report.read_text())
    assert len(metrics["map"]) == 10 and metrics["split"] == "test"
    assert cli.COMMANDS["evaluate"].name == "evaluate"


def test_train_and_reproduce_share_the_default_run_folder(monkeypatch, tmp_path):
    """Without --out-dir, `train` uses the batch's work folder ($FTCL_CACHE/reproduce), and
    without --name its run folder is named after the run id, as in the batch."""
    monkeypatch.setenv("FTCL_CACHE", str(tmp_path))
    args = cli.build_parser().parse_args(["train"])
    cfg = cli.build_config(args)
    assert cfg.out_dir == str(default_work_dir()) == str(tmp_path / "reproduce")
    assert cfg.run_name == run_id(cfg)
    named = cli.build_config(cli.build_parser().parse_args(["train", "--name", "mine"]))
    assert named.run_name == "mine" and run_id(named) == run_id(cfg)


def test_train_records_stay_out_of_the_checkout_by_default(tmp_path):
    """Without ``--results`` a single run's records go to ``<out-dir>/results``, never into the
    checkout's committed results/; ``--results DIR`` writes to DIR, as the batch does."""
    parse = build_parser().parse_args
    out = tmp_path / "runs"
    assert cli._train_results(parse(["train", "--out-dir", str(out)])) == out / "results"
    given = parse(["train", "--out-dir", str(out), "--results", "r"])
    assert cli._train_results(given) == Path("r")


def test_train_leaves_what_the_batch_leaves(tiny_cli, results_dir, capsys):
    """``ftcl train`` stores the run record and the mechanism record under results/, with the
    run id, as the batch's driver stores them (ftcl.reproduce.run.store_run)."""
    argv = tiny_cli(method="ftcl")
    assert main(argv) == 0
    cfg = cli.build_config(build_parser().parse_args(argv))
    record_path = results_dir / "quick" / "runs" / f"{run_id(cfg)}.json"
    record = json.loads(record_path.read_text())
    assert record["run_id"] == record["run_name"] == run_id(cfg)
    assert record == json.loads((_run_dir(argv) / "record.json").read_text()) | {
        "run_id": record["run_id"], "mechanism": record["mechanism"]}
    mechanism = json.loads((results_dir / "quick" / "mechanism" / record_path.name).read_text())
    assert mechanism == record["mechanism"] and mechanism["run_id"] == run_id(cfg)
    assert set(mechanism["measures"]) == {"final", "stage1"}
    assert f"run record: {display_path(record_path)}" in capsys.readouterr().out
    # a method the mechanism does not measure: a run record only
    assert main(tiny_cli(method="stpn")) == 0
    assert len(list((results_dir / "quick" / "runs").glob("*.json"))) == 2
    assert len(list((results_dir / "quick" / "mechanism").glob("*.json"))) == 1


# ------------------------------------------------------------------------------ leftovers of a
# killed run, corrupt caches, what a checkpoint holds


def _stage1_file(tmp_path):
    (path,) = (tmp_path / "runs" / "_stage1").rglob("*.pt")
    return path


def test_stale_temp_files_are_removed_at_the_next_start(tiny_cli, tmp_path, capsys):
    run_dir = _run_dir(tiny_cli())
    run_dir.mkdir(parents=True)
    (run_dir / ".last.pt.abcd1234.tmp").write_bytes(b"half")  # what kill -9 mid-write leaves
    assert main(tiny_cli()) == 0
    assert "left by an interrupted write" in capsys.readouterr().out
    assert not list(run_dir.glob(".*.tmp"))
    stage1_dir = _stage1_file(tmp_path).parent
    (stage1_dir / ".x.pt.0000.tmp").write_bytes(b"half")
    assert main(tiny_cli("--restart")) == 0
    assert not list(stage1_dir.glob(".*.tmp"))


def test_corrupt_stage1_cache_is_named_and_restart_rebuilds_it(tiny_cli, tmp_path, capsys):
    from ftcl.train import load_checkpoint

    assert main(tiny_cli()) == 0
    stage1 = _stage1_file(tmp_path)
    stage1.write_bytes(os.urandom(4096))
    capsys.readouterr()
    assert main(tiny_cli(method="ftcl")) == 2  # another method of the same stage-1 group
    err = capsys.readouterr().err
    assert str(stage1) in err and "--restart" in err and "weights_only" not in err
    assert main(tiny_cli("--restart", method="ftcl")) == 0
    assert load_checkpoint(stage1)["kind"] == "stage1"  # replaced by a good one


def test_random_bytes_checkpoint_error_gives_no_unsafe_advice(tmp_path, capsys):
    path = tmp_path / "best.pt"
    path.write_bytes(os.urandom(4096))
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and str(path) in err
    assert "weights_only" not in err and "False" not in err


def test_foreign_pickle_is_refused_by_weights_only_loading(tmp_path, capsys):
    import pathlib

    import torch

    path = tmp_path / "best.pt"
    torch.save({"format": "ftcl-checkpoint", "x": pathlib.PurePosixPath("a")}, path)
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not allowed in a checkpoint" in err and "weights_only" not in err


def test_evaluate_reports_what_the_checkpoint_holds(tiny_cli, tmp_path, capsys):
    assert main(tiny_cli(method="ftcl")) == 0
    stage1 = _stage1_file(tmp_path)
    best = _run_dir(tiny_cli(method="ftcl")) / "best.pt"
    out1, out2 = tmp_path / "s1.json", tmp_path / "best.json"
    capsys.readouterr()
    assert main(["evaluate", str(stage1), "--device", "cpu", "--output", str(out1)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert "acmnet (stage 1: acmnet objective only, 4 iterations)" in line and "ftcl" not in line
    assert main(["evaluate", str(best), "--device", "cpu", "--output", str(out2)]) == 0
    assert "ftcl (stage 2, selected at iteration" in capsys.readouterr().out
    s1, s2 = json.loads(out1.read_text()), json.loads(out2.read_text())
    assert (s1["method"], s1["checkpoint_kind"]) == ("acmnet", "stage1")
    assert (s2["method"], s2["checkpoint_kind"]) == ("ftcl", "model")


def test_evaluate_refuses_a_data_dir_it_would_ignore(tiny_cli, tmp_path, capsys):
    assert main(tiny_cli()) == 0
    best = _run_dir(tiny_cli()) / "best.pt"
    capsys.readouterr()
    assert main(["evaluate", str(best), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--data-dir {tmp_path}" in err and "synthetic data (synanet)" in err


def test_train_refuses_a_run_folder_a_live_process_holds(tiny_cli, tmp_path, capsys):
    import subprocess
    import sys

    run_dir = _run_dir(tiny_cli())
    code = ("import sys, time\nfrom ftcl.io import folder_lock\n"
            "with folder_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(60)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(tiny_cli()) == 2
        err = capsys.readouterr().err
        assert (f"run folder {run_dir} is in use by another live process (pid {holder.pid} on "
                in err)
        assert not (run_dir / "last.pt").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert main(tiny_cli()) == 0


@pytest.mark.parametrize("argv, message", [
    (["--device", "tpu"], "--device='tpu' is not a device name"),
    (["--set", "train.lr=inf"], "'train.lr'=inf: must be a finite number"),
    (["--set", "train.weight_decay=-1"], "'train.weight_decay'=-1.0: must be >= 0"),
    # issue 19, point 5: bounded by the cores (100000 crashed torch, 5000 stalled it)
    (["--threads", "100000"], "--threads=100000: must be between 1 and the"),
    (["--jobs", "100000"], "--jobs=100000: must be between 1 and the"),
    (["--set", "train.num_threads=5000"], "train.num_threads=5000: must be between 1 and the"),
])
def test_reproduce_refuses_bad_settings_before_any_worker(argv, message, tmp_path, capsys):
    assert main(["reproduce", *argv, "--results", str(tmp_path / "r"), "--dry-run"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_reproduce_refuses_a_results_folder_that_is_a_file(tmp_path, capsys):
    (tmp_path / "r").write_text("x")
    assert main(["reproduce", "--only", "acmnet", "--seeds", "0", "--results",
                 str(tmp_path / "r")]) == 2
    assert f"--results {tmp_path / 'r'}: exists and is not a folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------ issue 19, point 6


def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes(tiny_cli, train_run_dir,
                                                            monkeypatch, capsys):
    """ENOSPC at the second write of last.pt (stage 2, iteration 6): exit 1, one line naming the
    file; the last.pt of iteration 3 is intact, no temporary file, and the run resumes."""
    import contextlib
    import errno

    from ftcl import io
    from ftcl.train import load_checkpoint

    real, saves = io.atomic_path, {"n": 0}

    @contextlib.contextmanager
    def disk_full_at_second_last_pt(target):
        with real(target) as tmp:
            yield tmp
            if Path(target).name == "last.pt":
                saves["n"] += 1
                if saves["n"] == 2:  # the file is written: the sync finds the disk full
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io, "atomic_path", disk_full_at_second_last_pt)
    argv = tiny_cli()
    run_dir = train_run_dir(argv)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"ftcl: error: cannot write {run_dir / 'last.pt'}: no space left on "
                       "device (the disk is full)")
    assert not any("Traceback" in line for line in err)
    assert load_checkpoint(run_dir / "last.pt")["state"]["iteration"] == 3
    assert not list(run_dir.glob(".*.tmp")) and not (run_dir / "record.json").exists()
    monkeypatch.setattr(io, "atomic_path", real)
    assert main(argv) == 0
    assert "ftcl: resuming from stage 2 iteration 3" in capsys.readouterr().out


def _read_only(folder: Path, monkeypatch) -> None:
    """Make ``folder`` read-only: by its permissions, and for root (whom permissions do not
    stop) by what ``os.access`` answers for it (simulated)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == folder
                            else real(p, mode, **kw))


def test_a_read_only_cache_is_named_before_generating(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "ro-cache"
    _read_only(cache, monkeypatch)
    argv = ["train", "--dataset", "synanet", "--method", "acmnet", "--device", "cpu",
            "--out-dir", str(tmp_path / "runs"), "--results", str(tmp_path / "results"),
            "--cache-dir", str(cache)]
    try:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(f"ftcl: error: synthetic data cache {cache}: not writable")
        assert list(cache.iterdir()) == []  # nothing half-generated
        blocker = tmp_path / "a_file"
        blocker.write_text("x")
        argv[argv.index("--cache-dir") + 1] = str(blocker / "cache")
        assert main(argv) == 2
        assert f"synthetic data cache {blocker / 'cache'}: cannot create it" in \
            capsys.readouterr().err
    finally:
        cache.chmod(0o755)


def test_evaluate_checks_its_output_folder_before_evaluating(tiny_cli, train_run_dir,
                                                            tmp_path, monkeypatch, capsys):
    argv = tiny_cli()
    assert main(argv) == 0
    best = train_run_dir(argv) / "best.pt"
    capsys.readouterr()
    ro = tmp_path / "ro"
    _read_only(ro, monkeypatch)
    try:
        assert main(["evaluate", str(best), "--device", "cpu", "--output",
                     str(ro / "m.json")]) == 2
        out = capsys.readouterr()
        assert out.err.strip() == (f"ftcl: error: --output {ro / 'm.json'}: its folder {ro}: "
                                   "the folder is not writable")
        assert "mAP" not in out.out  # refused before evaluating
    finally:
        ro.chmod(0o755)


@pytest.mark.slow
def test_ftcl_train_on_a_full_tmpfs(tmp_path, tiny):
    """A real full disk: ``ftcl train --out-dir`` on a 64 kB tmpfs in a private mount
    namespace (``unshare -rm``; skipped where the system does not allow it)."""
    import shutil
    import subprocess
    import sys

    from ftcl.data import prepare_dataset

    if not shutil.which("unshare") or subprocess.run(
            ["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("no unprivileged mount namespace here")
    cache = tmp_path / "cache"
    prepare_dataset("synanet", "quick", cache_dir=cache)
    disk = tmp_path / "disk"
    disk.mkdir()
    sets = " ".join(f"--set={k}={v}" for k, v in tiny.overrides.items() if k != "device")
    script = (f"mount -t tmpfs -o size=64k tmpfs {disk} || exit 99; "
              f"{sys.executable} -m ftcl train --dataset synanet --method acmnet --device cpu "
              f"--no-progress --out-dir {disk}/runs --results {disk}/results --cache-dir {cache} "
              f"{sets}; rc=$?; echo temp files: $(find {disk} -name '*.tmp' | wc -l); exit $rc")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, capture_output=True,
                         text=True, timeout=300)
    if out.returncode == 99:
        pytest.skip("tmpfs cannot be mounted here")
    assert out.returncode == 1, out.stdout + out.stderr
    line = next(ln for ln in out.stderr.splitlines() if ln.startswith("ftcl: error:"))
    assert f"cannot write {disk}/" in line and line.endswith("no space left on device (the "
                                                              "disk is full)")
    assert "Traceback" not in out.stderr and "temp files: 0" in out.stdout
