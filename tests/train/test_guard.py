"""Issue 19, point 1: a run that learned nothing fails by name and publishes nothing.

The guard's rules are checked on hand-made loss sequences (their thresholds counted by hand);
the whole path on the tiny SynANet through ``ftcl train``: a learning rate of 1e30 (the loss is
finite once, then NaN: the weights are inf) and features of 1e30 (never finite) exit with status
3 and a line naming the stage, the iteration and the loss, and leave no run record, no record in
results/, no ``best.pt`` and no stage-1 cache entry.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ftcl.cli import main
from ftcl.config import MAX_SKIPPED_FRACTION
from ftcl.train.guard import MAX_CONSECUTIVE_SKIPS, DivergenceGuard, TrainingDiverged


def _state(stage=1):
    return SimpleNamespace(stage=stage, iteration=0, stage_skipped=0, skip_run=0,
                           first_nonfinite=None, last_finite=None)


def _feed(guard, losses):
    for loss in losses:
        guard.st.iteration += 1
        guard.step(loss)


def test_twenty_non_finite_losses_in_a_row_end_the_run_at_once():
    guard = DivergenceGuard(_state(), 1e30, "train.lr")
    _feed(guard, [2.5] + [math.nan] * (MAX_CONSECUTIVE_SKIPS - 1))  # 19 in a row: not yet
    with pytest.raises(TrainingDiverged) as err:
        _feed(guard, [math.inf])  # the 20th
    text = str(err.value)
    assert "stage 1 at iteration 2: loss nan" in text  # the first of the run, by hand
    assert "20 steps in a row" in text and "last finite loss was 2.5 at iteration 1" in text
    assert "train.lr=1e+30" in text and "No run record" in text
    assert TrainingDiverged.exit_code == 3


def test_a_finite_loss_resets_the_run_but_not_the_stage_count():
    guard = DivergenceGuard(_state(2), 1e-4, "train.stage2_lr")
    pattern = [math.nan] * (MAX_CONSECUTIVE_SKIPS - 1) + [1.0]  # never 20 in a row
    _feed(guard, pattern * 3)
    assert guard.st.stage_skipped == 3 * (MAX_CONSECUTIVE_SKIPS - 1)
    # 57 of 60 steps skipped: more than a quarter, so the stage fails at its end
    with pytest.raises(TrainingDiverged, match=r"57 of its 60 steps .* skipped, more than 25%"):
        guard.end_of_stage()


@pytest.mark.parametrize("skipped, steps, fails", [(25, 100, False), (26, 100, True),
                                                   (0, 0, False), (1, 3, True)])
def test_the_threshold_is_a_quarter_of_the_stage(skipped, steps, fails):
    assert MAX_SKIPPED_FRACTION == 0.25
    st = _state()
    st.iteration, st.stage_skipped = steps, skipped
    guard = DivergenceGuard(st, 1e-3, "train.lr")
    if fails:
        with pytest.raises(TrainingDiverged):
            guard.end_of_stage()
    else:
        guard.end_of_stage()


def test_non_finite_weights_are_named():
    model = torch.nn.Linear(2, 2)
    guard = DivergenceGuard(_state(), 1e-3, "train.lr")
    guard.weights(model, None)  # finite: nothing
    with torch.no_grad():
        model.bias[1] = math.inf
    with pytest.raises(TrainingDiverged, match="parameter 'bias' holds NaN/inf"):
        guard.weights(model)


def _nothing_published(run_dir, results_dir, out):
    assert not (run_dir / "record.json").exists() and not (run_dir / "best.pt").exists()
    assert not list(results_dir.rglob("*.json"))  # no run record in results/
    assert not list((out / "_stage1").rglob("*.pt"))  # no broken stage 1 cached


def test_a_diverging_learning_rate_fails_with_status_3(tiny_cli, tmp_path, results_dir,
                                                       train_run_dir, capsys):
    argv = tiny_cli("--set", "train.lr=1e30", method="ftcl")
    assert main(argv) == 3
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if ln.startswith("ftcl: error:"))
    assert re.search(r"training diverged in stage 1 at iteration \d+: loss (nan|inf)", line)
    assert "train.lr=1e+30" in line
    _nothing_published(train_run_dir(argv), results_dir, tmp_path / "runs")


def test_features_of_1e30_fail_with_status_3(tiny_cli, tmp_path, results_dir, tiny_data,
                                             tiny_root, train_run_dir, monkeypatch, capsys):
    import shutil

    root = shutil.copytree(tiny_root, tmp_path / "huge")
    for path in root.glob("*/*.npy"):
        features = np.load(path)
        np.save(path, (np.sign(features) + 0.5).astype(np.float32) * np.float32(1e30))
    for where in ("ftcl.train.trainer", "ftcl.train.checkpoints"):
        monkeypatch.setattr(f"{where}.load_data", lambda cfg: tiny_data(cfg, root))
    argv = tiny_cli(method="ftcl")
    assert main(argv) == 3
    line = next(ln for ln in capsys.readouterr().err.splitlines() if "error" in ln)
    assert "training diverged in stage 1 at iteration 1: loss nan" in line
    assert "the loss was never finite" in line and "features" in line
    _nothing_published(train_run_dir(argv), results_dir, tmp_path / "runs")
