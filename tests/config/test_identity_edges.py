"""Edges of a run's identity (ftcl.config.identity): configuration differences that a resume
must refuse, and the backbone check's message."""

from __future__ import annotations

import re

import pytest

from ftcl.config import RESUMABLE_KEYS, check_backbone, config_diff, identity, make_config, to_dict


def test_config_diff_names_every_differing_key():
    a = {"a": 1, "b": {"c": 1, "d": 2}, "e": {"f": 1}}
    b = {"a": 2, "b": {"c": 2, "d": 2}, "e": 3, "g": None}
    assert config_diff(a, b) == ["a", "b.c", "e"]  # a mapping against a value: the key itself
    assert config_diff({"a": 1}, {"a": 1, "new": 2}) == ["new"]  # a key only one side has
    assert config_diff({"old": 2, "a": 1}, {"a": 1}) == ["old"]
    assert config_diff({"x": {"y": 1}}, {"x": {"y": 1}}) == []


def test_config_diff_leaves_out_the_resumable_keys():
    cfg = to_dict(make_config("ftcl"))
    moved = to_dict(make_config("ftcl", out_dir="/elsewhere", device="cpu",
                                overrides={"train.num_threads": 3, "train.progress": False}))
    assert config_diff(cfg, moved) == []
    other = to_dict(make_config("ftcl", seed=4, overrides={"train.lr": 1e-3}))
    assert config_diff(cfg, other) == ["seed", "train.lr"]


def test_identity_drops_exactly_the_ignored_keys():
    data = identity(make_config("ftcl"))
    assert "run_name" not in data and "out_dir" not in data
    assert "num_threads" not in data["train"] and "lr" in data["train"]
    for key in RESUMABLE_KEYS:
        section, _, name = key.rpartition(".")
        assert name not in (data[section] if section else data), key


def test_backbone_check_names_both():
    cfg = make_config("stpn")
    check_backbone(cfg, None)
    check_backbone(cfg, "stpn")
    with pytest.raises(ValueError, match=re.escape(
            "backbone='acmnet' does not match method 'stpn', whose backbone is 'stpn' (leave "
            "backbone=None or pick a method of that backbone)")):
        check_backbone(cfg, "acmnet")


def test_config_diff_counts_a_missing_later_key_at_its_earlier_value():
    """A configuration stored before a LATER_KEYS key existed equals one holding its earlier
    value, on either side, and differs from any other value."""
    old = {"ftcl": {"tau": 0.5}, "train": {"lr": 1e-4}}
    new = {"ftcl": {"tau": 0.5, "oracle": "none", "lambda_oracle": 1.0},
           "train": {"lr": 1e-4, "one_stage": False}}
    assert config_diff(old, new) == config_diff(new, old) == []
    moved = {"ftcl": {"tau": 0.5, "oracle": "phase"}, "train": {"lr": 1e-4, "one_stage": True}}
    assert config_diff(old, moved) == config_diff(moved, old) == ["ftcl.oracle", "train.one_stage"]
