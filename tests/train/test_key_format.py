"""The stage-1 cache key's exact derivation, its ``data_dir`` input, and the schedule's edges.

The key names the cached stage-1 file that every method with the same stage-1 settings shares
(:func:`ftcl.train.stage1_key`); a renamed field, another field order or another encoding would
orphan every cached stage 1 of this version, and the key states in one place what stage 1
depends on. The learning-rate tests pin the edges of :func:`ftcl.train.schedule.learning_rate`
that ``tests/train/test_keys.py`` leaves open.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

import ftcl
from ftcl.config import make_config
from ftcl.train import stage1_key
from ftcl.train.schedule import learning_rate

CPU = torch.device("cpu")
STAGE1_TRAIN = ("lr", "weight_decay", "batch_size", "pretrain_iterations", "selection",
                "holdout_fraction", "sampling", "deterministic")


def test_stage1_key_is_the_sha256_of_the_sorted_json_of_the_named_fields():
    """First 16 hex digits of SHA-256 over the key-sorted JSON of exactly these fields, so named:
    the data folder's resolved path, the data root's folder name, the device type, the model and
    loss sections in full, the stage-1 training settings and the ftcl version."""
    cfg = make_config("ftcl", seed=4, overrides={"data_dir": "rel/data", "data_seed": 2})
    payload = {
        "dataset": "synthumos14", "profile": "quick", "data_seed": 2,
        "data_dir": str(Path("rel/data").resolve()), "data_root": "synthumos14-abc",
        "seed": 4, "device": "cpu", "model": dataclasses.asdict(cfg.model),
        "loss": dataclasses.asdict(cfg.loss),
        "train": {k: getattr(cfg.train, k) for k in STAGE1_TRAIN},
        "ftcl_version": ftcl.__version__,
    }
    text = json.dumps(payload, sort_keys=True)
    expected = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert stage1_key(cfg, CPU, "/data/synthumos14-abc") == expected


def test_stage1_key_tells_data_folders_apart_and_not_their_spellings():
    """Two data folders never share a stage 1; one folder, relative or absolute, is one key."""
    def key(data_dir):
        return stage1_key(make_config("ftcl", overrides={"data_dir": data_dir}), CPU, "/d/x")

    assert key("/data/one") != key("/data/two")
    assert key("rel/data") == key(str(Path("rel/data").resolve()))
    assert key(None) != key("/data/one")


def _lr(iteration, **train):
    cfg = make_config("acmnet", overrides={f"train.{k}": v for k, v in train.items()})
    return learning_rate(cfg.train, 2, iteration)


def test_cosine_without_stage2_iterations_is_the_constant_rate():
    """``train.iterations: 0`` (stage 1 and its evaluation only) is valid: the stage-2 optimiser
    is still built, at the plain stage-2 rate, with no division by the zero length."""
    assert _lr(0, stage2_lr=0.01, iterations=0, stage2_schedule="cosine") == 0.01


def test_cosine_over_one_iteration_ends_at_zero():
    """One stage-2 iteration: the full rate at iteration 0, annealed to 0 at its end."""
    one = dict(stage2_lr=0.01, iterations=1, stage2_schedule="cosine")
    assert _lr(0, **one) == pytest.approx(0.01)
    assert _lr(1, **one) == pytest.approx(0.0, abs=1e-15)


def test_warmup_is_a_whole_number_of_iterations():
    """25 iterations: 10 % is 2.5, floored to 2 warm-up iterations (1/2, 2/2 of the rate); the
    cosine starts at iteration 2 over the remaining 23."""
    warm = dict(stage2_lr=0.01, iterations=25, stage2_schedule="warmup-cosine")
    assert [_lr(i, **warm) for i in range(3)] == pytest.approx([0.005, 0.01, 0.01])
    assert _lr(10, **warm) == pytest.approx(0.005 * (1 + math.cos(math.pi * 8 / 23)))


def test_warmup_cosine_over_two_iterations_ends_at_zero():
    """Two iterations: one warm-up iteration, then a cosine over the one left, 0 at the end."""
    two = dict(stage2_lr=0.01, iterations=2, stage2_schedule="warmup-cosine")
    assert [_lr(i, **two) for i in range(3)] == pytest.approx([0.01, 0.01, 0.0], abs=1e-15)
