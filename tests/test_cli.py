"""Command line: help texts, configuration handling, errors, evaluate, command registration."""

from __future__ import annotations

import json

import pytest

from ftcl import cli
from ftcl.cli import COMMANDS, Command, build_parser, main, register
from ftcl.config import METHODS


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
    register(Command(name="reproduce", help="reproduce the paper's tables",
                     description="Run every configuration.",
                     add_arguments=lambda p: p.add_argument("--tables", default="1-5"),
                     run=lambda args: calls.append(args.tables) or 0))
    try:
        assert "reproduce" in build_parser().format_help()
        assert main(["reproduce", "--tables", "3"]) == 0
        assert calls == ["3"]
    finally:
        COMMANDS.pop("reproduce")


def test_train_end_to_end_and_evaluate(tmp_path, monkeypatch, capsys):
    """``train`` then ``evaluate`` on the tiny dataset of test_train (data loading patched)."""
    import test_train as tt

    root = tt.prepare_dataset("synanet", "quick", cache_dir=tmp_path / "data",
                              spec=tt.tiny_spec())
    monkeypatch.setattr("ftcl.train.load_data", lambda cfg: tt.tiny_data(root, cfg))
    sets = [f"--set={k}={v}" for k, v in tt.TINY.items() if k != "device"]
    argv = ["train", "--dataset", "synanet", "--method", "acmnet", "--out-dir", str(tmp_path),
            "--device", "cpu", *sets]
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
    best = tmp_path / "synanet-quick" / "acmnet" / "seed0" / "best.pt"
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(best), "--output", str(report), "--device", "cpu"]) == 0
    metrics = json.loads(report.read_text())
    assert len(metrics["map"]) == 10 and metrics["split"] == "test"
    assert cli.COMMANDS["evaluate"].name == "evaluate"


def test_train_and_reproduce_share_the_default_run_folder(monkeypatch, tmp_path):
    """Without --out-dir, `train` uses the batch's work folder ($FTCL_CACHE/reproduce)."""
    from ftcl.executors import default_work_dir

    monkeypatch.setenv("FTCL_CACHE", str(tmp_path))
    args = cli.build_parser().parse_args(["train"])
    cfg = cli.build_config(args)
    assert cfg.out_dir == str(default_work_dir()) == str(tmp_path / "reproduce")
