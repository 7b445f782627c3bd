"""The trainer's stage-2 steps one at a time, on a tiny run that never trains.

- the stage-1 optimiser runs at ``train.lr``, not the stage-2 rate;
- the start of stage 2 resets the schedule's position and the divergence counters and reseeds
  every generator from ``derive_seed(seed, "stage", 2)`` with the configured determinism;
- one held-out evaluation: the weights it checks (backbone and FTCL head, the error naming the
  stage's learning-rate setting), the test scores it records before the end of stage 2 only,
  and the time it adds to the run's clocks (a scripted clock).
"""

from __future__ import annotations

import itertools
import random
import types

import numpy as np
import pytest
import torch

from ftcl.seed import derive_seed, seed_everything
from ftcl.train import Trainer
from ftcl.train import trainer as trainer_module
from ftcl.train.guard import TrainingDiverged


@pytest.fixture
def trainer(tiny_config, tiny_data, tmp_path):
    """``trainer(method, **overrides)``: a :class:`Trainer` of a tiny run in ``tmp_path``."""
    def make(method="acmnet", **overrides):
        cfg = tiny_config(method, tmp_path, **{"train.grad_norms": False, **overrides})
        return Trainer(cfg, data=tiny_data(cfg))
    return make


@pytest.fixture
def clock(monkeypatch):
    """The trainer's ``time.perf_counter`` reads 1000, 1005, 1010, ... (5 s a call)."""
    ticks = itertools.count(1000.0, 5.0)
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(
        perf_counter=lambda: next(ticks)))


@pytest.fixture
def determinism():
    """Put torch's determinism settings back as they were after the test."""
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2:]


def _draws():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_stage1_optimiser_runs_at_train_lr(trainer):
    trainer = trainer(**{"train.lr": 1e-4, "train.stage2_lr": 0.05})
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [1e-4]


def test_start_of_stage2_resets_the_position_and_reseeds(trainer):
    """Iteration, epoch, batch position and the guard's counters start at 0 (the pair batches
    of stage 2 begin with their first epoch); the generators are those of the stage-2 seed."""
    trainer = trainer(seed=3, **{"train.select_stage1": False, "train.stage2_lr": 0.05})
    st = trainer.state
    st.iteration, st.epoch, st.position = 4, 2, 3
    st.stage_skipped, st.skip_run, st.first_nonfinite, st.last_finite = 1, 2, [1, 9.0], [3, 1.0]
    trainer._start_stage2()
    assert (st.stage, st.iteration, st.epoch, st.position) == (2, 0, 0, 0)
    assert (st.stage_skipped, st.skip_run, st.first_nonfinite, st.last_finite) == (0, 0, None,
                                                                                   None)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [0.05]
    drawn = _draws()
    seed_everything(derive_seed(3, "stage", 2), trainer.cfg.train.deterministic)
    assert drawn == _draws()


@pytest.mark.parametrize("deterministic", [True, False])
def test_start_of_stage2_keeps_the_configured_determinism(trainer, determinism, deterministic):
    trainer = trainer(**{"train.select_stage1": False, "train.deterministic": deterministic})
    torch.use_deterministic_algorithms(False)
    trainer._start_stage2()
    assert torch.are_deterministic_algorithms_enabled() is deterministic


def test_an_evaluation_records_the_test_scores_and_its_time(trainer, clock):
    """Before the end of stage 2 the test set's map and average mAP are recorded (never used);
    the selection's 5 s and the test evaluation's 5 s are added to the run's clocks."""
    trainer = trainer()
    st = trainer.state
    st.stage, st.iteration, st.elapsed["selection"] = 2, 3, 100.0
    assert "test_history" not in st.elapsed
    trainer._evaluate_selection()
    entry = st.history[-1]
    assert entry["iteration"] == 3 and set(entry["holdout"]) == {"map", "average_map",
                                                                "classification_map"}
    assert set(entry["test"]) == {"map", "average_map"}
    assert (st.elapsed["selection"], st.elapsed["test_history"]) == (105.0, 5.0)
    st.iteration = 5
    trainer._evaluate_selection()
    assert (st.elapsed["selection"], st.elapsed["test_history"]) == (110.0, 10.0)


def test_no_test_scores_at_the_end_or_without_held_out_videos(trainer, clock):
    """The last point's test score is the final record's; ``selection: last`` holds out nothing
    and records no test history."""
    trainer_ = trainer()
    trainer_.state.stage, trainer_.state.iteration = 2, trainer_.cfg.train.iterations
    trainer_._evaluate_selection()
    assert "test" not in trainer_.state.history[-1] and "holdout" in trainer_.state.history[-1]
    last = trainer(**{"train.selection": "last"})
    last.state.stage = 2
    last._evaluate_selection()
    assert "test" not in last.state.history[-1] and "holdout" not in last.state.history[-1]
    assert "test_history" not in last.state.elapsed


@pytest.mark.parametrize("module", ["model", "objective"])
def test_an_evaluation_refuses_broken_weights(trainer, module):
    """A NaN in the backbone or the FTCL head stops the run, naming stage 2's rate setting."""
    trainer = trainer("ftcl", **{"train.stage2_lr": 0.02})
    trainer.state.stage = 2
    name, param = next(iter(getattr(trainer, module).named_parameters()))
    with torch.no_grad():
        param.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=rf"parameter '{name}' holds NaN.*"
                                               r"train\.stage2_lr=0\.02"):
        trainer._evaluate_selection()
