"""The learning rate of each iteration and the selection rule (ftcl.train.schedule)."""

from __future__ import annotations

import dataclasses

import pytest

from ftcl.config import make_config
from ftcl.train.schedule import learning_rate, selection_rule


def test_stage2_cosine_schedule():
    cfg = make_config("acmnet", "synanet", "quick", overrides={
        "train.stage2_lr": 1e-3, "train.stage2_schedule": "cosine", "train.iterations": 6})
    lrs = [learning_rate(cfg.train, 2, i) for i in range(6)]
    assert lrs[0] == pytest.approx(1e-3) and lrs == sorted(lrs, reverse=True)
    assert lrs[3] == pytest.approx(0.5e-3) and learning_rate(cfg.train, 1, 0) == cfg.train.lr
    warm = dataclasses.replace(cfg.train, iterations=20, stage2_schedule="warmup-cosine")
    lrs = [learning_rate(warm, 2, i) for i in range(20)]  # 2 warm-up steps (10 %), then cosine
    assert lrs[:3] == pytest.approx([0.5e-3, 1e-3, 1e-3]) and lrs[2:] == sorted(lrs[2:])[::-1]
    constant = dataclasses.replace(cfg.train, stage2_schedule="constant", stage2_lr=None)
    assert {learning_rate(constant, 2, i) for i in range(6)} == {cfg.train.lr}


def test_selection_rule_says_what_selects():
    cfg = make_config("ftcl", "synanet", "quick")
    rule = selection_rule(cfg, 12)
    assert "12 held-out training videos" in rule and "iteration 0" in rule
    assert "every 25 stage-2 iterations" in rule and "test set not used" in rule
    last = make_config("ftcl", "synanet", "quick", overrides={"train.selection": "last"})
    assert selection_rule(last, 0) == "last checkpoint (no selection)"
