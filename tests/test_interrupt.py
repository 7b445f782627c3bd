"""Issue 19, point 2: SIGTERM stops a run as Ctrl-C does, and nothing is lost.

In this process (tiny SynANet, conftest): a SIGTERM delivered during stage 2 ends ``ftcl train``
with status 143 and one line, after saving ``last.pt`` at the iteration it arrived; the same
command then says where it resumes and ends with the record of an uninterrupted run. In a real
process: ``kill -TERM`` of ``python -m ftcl train`` in the middle of stage 1 (which saves nothing
on its own before its end), then the same command again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ftcl.cli import main
from ftcl.interrupt import Interrupted, StopRequest, signals_interrupt
from ftcl.train import Trainer, load_checkpoint


def test_sigterm_is_a_stop_request_and_a_repeated_one_is_the_same_request():
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)  # a scheduler signalling every process: ignored
        with pytest.raises(Interrupted, match="second Ctrl-C") as err:
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C aborts at once
        assert err.value.exit_code == 130
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_sigterm_outside_training_raises_interrupted():
    with signals_interrupt(), pytest.raises(Interrupted) as err:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    assert err.value.exit_code == 143 and err.value.signal_name == "SIGTERM"


def test_sigterm_saves_and_the_same_command_resumes(tiny_cli, train_run_dir, tmp_path,
                                                    monkeypatch, capsys):
    reference = tiny_cli("--out-dir", str(tmp_path / "reference"), "--results",
                         str(tmp_path / "ref-results"))
    assert main(reference) == 0
    ref_out = capsys.readouterr().out.splitlines()
    argv = tiny_cli()
    original, calls = Trainer._step, {"n": 0}

    def step_then_sigterm(self, batch, use_objective):
        out = original(self, batch, use_objective)
        calls["n"] += 1
        if calls["n"] == 6:  # stage 1 has 4 iterations: the 2nd of stage 2
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    monkeypatch.setattr(Trainer, "_step", step_then_sigterm)
    assert main(argv) == 143
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith("ftcl: SIGTERM received: stopped at stage 2 iteration 2")
    assert "resumable checkpoint" in line and line.endswith("run the same command again to "
                                                            "resume")
    run_dir = train_run_dir(argv)
    state = load_checkpoint(run_dir / "last.pt")["state"]
    assert (state["stage"], state["iteration"], state["finished"]) == (2, 2, False)
    assert not (run_dir / "record.json").exists()
    monkeypatch.setattr(Trainer, "_step", original)
    assert main(argv) == 0
    resumed = capsys.readouterr()
    assert "ftcl: resuming from stage 2 iteration 2" in resumed.out
    # the metrics lines equal the uninterrupted run's (bit-identical resume)
    assert [ln for ln in resumed.out.splitlines() if "mAP" in ln] == \
        [ln for ln in ref_out if "mAP" in ln]


@pytest.mark.slow
def test_kill_term_of_a_real_training_run(tmp_path, tiny):
    """``kill -TERM`` of ``python -m ftcl train`` during a long stage 1, then the same command:
    it resumes from the iteration the signal stopped, and finishes."""
    from ftcl.data import prepare_dataset

    cache = tmp_path / "cache"
    prepare_dataset("synanet", "quick", cache_dir=cache)
    sets = [f"--set={k}={v}" for k, v in tiny.overrides.items() if k != "device"]
    cmd = [sys.executable, "-m", "ftcl", "train", "--dataset", "synanet", "--method", "acmnet",
           "--device", "cpu", "--out-dir", str(tmp_path / "runs"), "--results",
           str(tmp_path / "results"), "--cache-dir", str(cache), "--no-progress", *sets,
           "--set", "train.pretrain_iterations=100000", "--set", "train.num_threads=1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    first = proc.stdout.readline()  # printed once the training stack is imported
    assert first.startswith("ftcl: training acmnet on synanet/quick"), first
    time.sleep(8)  # the data checks, then stage 1 (ms an iteration)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    out = first + out
    assert proc.returncode == 143, out
    assert "Traceback" not in out
    stopped = out.strip().splitlines()[-1]
    assert stopped.startswith("ftcl: SIGTERM received: stopped at stage 1 iteration "), out
    iteration = int(stopped.split("iteration ")[1].split(";")[0])
    last = next((tmp_path / "runs").rglob("last.pt"))
    state = load_checkpoint(last)["state"]
    assert (state["stage"], state["iteration"]) == (1, iteration) and iteration > 0
    # The same command again: it says where it resumes (then we stop it again, at once).
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        first = ""
        deadline = time.monotonic() + 60
        while "resuming" not in first and time.monotonic() < deadline:
            first += proc.stdout.readline()
        assert f"ftcl: resuming from stage 1 iteration {iteration}" in first
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert load_checkpoint(last)["state"]["iteration"] >= iteration
