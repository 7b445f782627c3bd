"""Run keys and model selection of the trainer: what must differ, what must not, and the edges.

- the stage-1 cache key changes with everything stage 1 depends on (the seed above all: a key
  without it would share one stage 1 across seeds and shrink the seed variance) and with nothing
  else (FTCL terms, stage-2 settings);
- the held-out split at a ``.5`` share (Python's ``round``: half to even), and its clamps;
- the stage-2 learning-rate schedules by hand;
- a tie in the held-out score keeps the earlier checkpoint;
- the FTCL head's parameters change in stage 2 (and not in stage 1); the stage-2 optimiser
  starts at the schedule's iteration-0 rate.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ftcl.config import make_config
from ftcl.paths import run_directory
from ftcl.train import Trainer, holdout_split, load_checkpoint, stage1_key
from ftcl.train import trainer as trainer_module
from ftcl.train.schedule import learning_rate

CPU = torch.device("cpu")


def _set(cfg, key, value):
    section, _, name = key.rpartition(".")
    if not section:
        return dataclasses.replace(cfg, **{name: value})
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section),
                                                                    **{name: value})})


# key, a different value: each must change the stage-1 key
STAGE1_INPUTS = [
    ("seed", 1), ("data_seed", 3), ("dataset", "synanet"), ("profile", "full"),
    ("data_dir", "/elsewhere"), ("model.dropout", 0.5), ("model.backbone", "stpn"),
    ("loss.guide_weight", 0.1), ("train.lr", 1e-3), ("train.weight_decay", 0.0),
    ("train.batch_size", 8), ("train.pretrain_iterations", 7), ("train.selection", "last"),
    ("train.holdout_fraction", 0.3), ("train.sampling", "uniform"),
    ("train.deterministic", False),
]
# ... and each of these must not (stage 1 never sees them)
STAGE2_ONLY = [
    ("method", "acmnet"), ("ftcl.action_measure", "none"), ("ftcl.lambda_fsd", 3.0),
    ("ftcl.fsd_len", 2), ("train.iterations", 7), ("train.stage2_lr", 0.1),
    ("train.stage2_schedule", "cosine"), ("train.eval_every", 1), ("out_dir", "/tmp/else"),
    ("run_name", "other"), ("device", "cuda"), ("train.progress", False),
]


def test_stage1_key_changes_with_every_stage1_input():
    cfg = make_config("ftcl")
    base = stage1_key(cfg, CPU, "/data/synthumos14-abc")
    assert len(base) == 16 and int(base, 16) >= 0
    assert stage1_key(cfg, CPU, "/data/synthumos14-abc") == base  # deterministic
    keys = {base}
    for key, value in STAGE1_INPUTS:
        changed = stage1_key(_set(cfg, key, value), CPU, "/data/synthumos14-abc")
        assert changed != base, key
        keys.add(changed)
    assert len(keys) == len(STAGE1_INPUTS) + 1
    assert stage1_key(cfg, torch.device("meta"), "/data/synthumos14-abc") != base  # device type
    assert stage1_key(cfg, CPU, "/data/synthumos14-def") != base  # regenerated data
    assert stage1_key(cfg, CPU, "/other/synthumos14-abc") == base  # only the folder's name
    assert stage1_key(cfg, CPU, None) != base
    seeds = {stage1_key(make_config("ftcl", seed=s), CPU, "/d/x") for s in range(5)}
    assert len(seeds) == 5  # never one stage 1 for several seeds


def test_stage1_key_ignores_what_only_stage2_uses():
    cfg = make_config("ftcl")
    base = stage1_key(cfg, CPU, "/d/x")
    for key, value in STAGE2_ONLY:
        assert stage1_key(_set(cfg, key, value), CPU, "/d/x") == base, key


def test_run_directory():
    cfg = make_config("ftcl", seed=3, out_dir="out")
    assert run_directory(cfg) == Path("out") / "synthumos14-quick" / "ftcl" / "seed3"
    named = dataclasses.replace(cfg, run_name="variant")
    assert run_directory(named) == Path("out") / "synthumos14-quick" / "variant" / "seed3"


@pytest.mark.parametrize("n, fraction, held", [
    (10, 0.25, 2),   # 2.5 rounds half to even: 2
    (6, 0.25, 2),    # 1.5 rounds half to even: 2
    (14, 0.25, 4),   # 3.5: 4
    (4, 0.125, 1),   # 0.5 rounds to 0: at least one is held out
    (4, 0.99, 3),    # 3.96 rounds to 4: at least one is fitted
    (20, 0.2, 4),
    (2, 0.5, 1),
])
def test_holdout_split_sizes_at_the_half(n, fraction, held):
    ids = [f"v{i:02d}" for i in range(n)][::-1]  # any order in, sorted out
    fit, out = holdout_split(ids, fraction)
    assert len(out) == held and len(fit) == n - held
    assert fit == sorted(fit) and out == sorted(out)
    assert sorted(fit + out) == sorted(ids)
    assert holdout_split(list(reversed(ids)), fraction) == (fit, out)  # input order plays no part


def test_holdout_split_is_pinned():
    """The held-out videos are part of every run's identity: a fixed permutation (seed 0)."""
    ids = [f"v{i}" for i in range(10)]
    order = np.random.default_rng(0).permutation(10)
    fit, out = holdout_split(ids, 0.3)
    assert out == sorted(ids[i] for i in order[:3])
    assert out == ["v2", "v4", "v6"]


# ------------------------------------------------------------------------------ the schedule


def _lr(stage, iteration, **train):
    cfg = make_config("acmnet", overrides={f"train.{k}": v for k, v in train.items()})
    return learning_rate(cfg.train, stage, iteration)


def test_learning_rate_schedules_by_hand():
    assert _lr(1, 5, lr=0.3, stage2_lr=0.01) == 0.3
    assert _lr(2, 5, lr=0.3, stage2_lr=None) == 0.3
    assert _lr(2, 5, lr=0.3, stage2_lr=0.01) == 0.01
    cos = dict(lr=0.3, stage2_lr=0.01, iterations=10, stage2_schedule="cosine")
    assert _lr(2, 0, **cos) == pytest.approx(0.01)
    assert _lr(2, 5, **cos) == pytest.approx(0.005)
    assert _lr(2, 2, **cos) == pytest.approx(0.005 * (1 + math.cos(math.pi * 0.2)))
    assert _lr(2, 10, **cos) == pytest.approx(0.0, abs=1e-15)
    warm = dict(lr=0.3, stage2_lr=0.01, iterations=30, stage2_schedule="warmup-cosine")
    # 3 warm-up iterations (10 % of 30): 1/3, 2/3, 3/3 of the rate; then cosine over 27
    assert [_lr(2, i, **warm) for i in range(3)] == pytest.approx([0.01 / 3, 0.02 / 3, 0.01])
    assert _lr(2, 3, **warm) == pytest.approx(0.01)
    assert _lr(2, 12, **warm) == pytest.approx(0.005 * (1 + math.cos(math.pi * 9 / 27)))
    short = dict(lr=0.3, stage2_lr=0.01, iterations=5, stage2_schedule="warmup-cosine")
    assert _lr(2, 0, **short) == pytest.approx(0.01)  # at least one warm-up iteration
    assert _lr(2, 1, **short) == pytest.approx(0.005 * (1 + math.cos(math.pi * 0 / 4)))
    assert _lr(2, 3, **short) == pytest.approx(0.005 * (1 + math.cos(math.pi * 2 / 4)))


# ------------------------------------------------------------------------------ tiny runs

# evaluate every 2 stage-2 iterations (0, 2, 4, 6), no gradient diagnostics
EVERY_2 = {"train.eval_every": 2, "train.grad_norms": False}


@pytest.fixture
def trainer(tiny_config, tiny_data, tmp_path):
    """``trainer(method, **overrides)``: a :class:`Trainer` of a tiny run in ``tmp_path``."""
    def make(method="ftcl", **overrides):
        cfg = tiny_config(method, tmp_path, **{**EVERY_2, **overrides})
        return Trainer(cfg, data=tiny_data(cfg))
    return make


def _head(trainer):
    return {k: v.detach().clone() for k, v in trainer.objective.state_dict().items()}


def test_ftcl_head_trains_in_stage2_only(trainer):
    """Stage 1 optimises the backbone at ``train.lr``; stage 2 the backbone and the FTCL head,
    starting at the schedule's iteration-0 rate (cosine: the full stage-2 rate; iteration 1's
    would be 0.5 * (1 + cos(pi / 6)) of it), also in ``last.pt`` when a run stops there."""
    trainer = trainer("ftcl", **{"train.stage2_schedule": "cosine", "train.weight_decay": 1e-3})
    cfg = trainer.cfg.train
    group = trainer.optimizer.param_groups[0]  # stage 1: the backbone at train.lr
    assert (group["lr"], group["weight_decay"]) == (cfg.lr, 1e-3)
    initial = _head(trainer)
    assert initial and all(v.abs().sum() > 0 for v in initial.values())
    assert trainer.run(stop_after=4)["status"] == "stopped"  # stage 1 done, stage 2 not begun
    after1 = _head(trainer)
    assert all(torch.equal(initial[k], after1[k]) for k in initial)  # stage 1: head untouched
    optimised = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert {id(p) for p in trainer.objective.parameters()} <= optimised  # stage 2: the head ...
    assert {id(p) for p in trainer.model.parameters()} <= optimised  # ... and the backbone
    base = cfg.stage2_lr if cfg.stage2_lr is not None else cfg.lr
    saved = load_checkpoint(trainer.run_dir / "last.pt")["optimizer"]["param_groups"]
    for group in (*trainer.optimizer.param_groups, *saved):
        assert (group["lr"], group["weight_decay"]) == (pytest.approx(base), 1e-3)
    backbone = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    trainer.run()
    after2 = _head(trainer)
    for k in initial:
        assert not torch.allclose(initial[k], after2[k]), f"FTCL head {k} did not train"
    moved = [k for k, v in trainer.model.state_dict().items()
             if v.is_floating_point() and not torch.equal(backbone[k], v)]
    assert moved, "the backbone did not train in stage 2"


def test_a_tie_keeps_the_earlier_checkpoint(trainer, tmp_path, monkeypatch):
    """Held-out scores 0.5 (iteration 0), 0.7 (2), 0.7 (4), 0.6 (6): iteration 2 is selected."""
    scores = iter([0.5, 0.7, 0.7, 0.6])
    real = trainer_module.evaluate_model

    def scripted(model, dataset, spec, video_ids=None, *args, **kwargs):
        metrics, proposals = real(model, dataset, spec, video_ids, *args, **kwargs)
        if video_ids is not None:  # the held-out evaluation
            metrics = {**metrics, "average_map": next(scores)}
        return metrics, proposals

    monkeypatch.setattr(trainer_module, "evaluate_model", scripted)
    real_step = Trainer._step

    def step(self, batch, use_objective):  # train as usual, report fixed losses
        real_step(self, batch, use_objective)
        return {"cls": 0.5, "loss": 1.5 + self.state.iteration % 2}

    monkeypatch.setattr(Trainer, "_step", step)
    record = trainer("acmnet").run()
    assert [h["holdout"]["average_map"] for h in record["history"]] == [0.5, 0.7, 0.7, 0.6]
    # the mean training losses since the previous evaluation (none before iteration 0)
    assert "train" not in record["history"][0]
    assert [h["train"] for h in record["history"][1:]] == [{"cls": 0.5, "loss": 2.0}] * 3
    assert [h["iteration"] for h in record["history"]] == [0, 2, 4, 6]
    assert record["selection"]["selected_iteration"] == 2
    best = load_checkpoint(tmp_path / "synanet-quick" / "acmnet" / "seed0" / "best.pt")
    assert best["iteration"] == 2 and best["holdout_average_map"] == 0.7


def test_selection_last_reports_the_last_model(trainer, tmp_path):
    record = trainer("acmnet", **{"train.selection": "last"}).run()
    assert record["selection"]["reported"] == "last"
    assert record["selection"]["selected_iteration"] == 6
    assert record["map"] == record["test"]["last"]["map"] and "selected" not in record["test"]
    assert not (tmp_path / "synanet-quick" / "acmnet" / "seed0" / "best.pt").exists()
    assert isinstance(pd.read_csv(tmp_path / "synanet-quick" / "acmnet" / "seed0"
                                  / "predictions.csv"), pd.DataFrame)


def test_selection_rule_in_words():
    from ftcl.train.schedule import selection_rule

    cfg = make_config("acmnet", overrides={"train.eval_every": 25})
    assert selection_rule(cfg, 40) == (
        "best average mAP on 40 held-out training videos, evaluated every 25 stage-2 iterations "
        "and at iteration 0 (the stage-1 checkpoint) (test set not used)")
    no0 = make_config("acmnet", overrides={"train.eval_every": 5, "train.select_stage1": False})
    assert selection_rule(no0, 3) == ("best average mAP on 3 held-out training videos, evaluated "
                                      "every 5 stage-2 iterations (test set not used)")
    last = make_config("acmnet", overrides={"train.selection": "last"})
    assert selection_rule(last, 0) == "last checkpoint (no selection)"
