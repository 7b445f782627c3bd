"""Overrides word for word (ftcl.config.build): flatten, apply_overrides and _coerce.

An unknown key, section or type is refused with a message naming the key, where it was looked
up and what is valid; a value of a known key is converted only as its type allows (an int is
never taken for a bool, nor a bool for an int, a string for a number, a list of the wrong length
for a tuple).
"""

from __future__ import annotations

import re

import pytest

from ftcl.config import apply_overrides
from ftcl.config.build import _coerce, flatten
from ftcl.config.sections import ModelConfig, RunConfig, TrainConfig

TOP_KEYS = ["cache_dir", "data_dir", "data_seed", "data_version", "dataset", "device", "method",
            "out_dir", "profile", "run_name", "seed"]
MODEL_KEYS = ["backbone", "cola_kernel_large", "cola_kernel_small", "cola_r_easy", "cola_r_hard",
              "dropout", "embed_dim", "embed_dropout", "stpn_hidden", "topk_divisors",
              "wtalc_k_divisor"]
SECTIONS = "['ftcl', 'loss', 'model', 'train']"


def refused(overrides: dict) -> str:
    """The message with which ``apply_overrides`` refuses ``overrides``."""
    with pytest.raises(ValueError) as err:
        apply_overrides(RunConfig(), overrides)
    return str(err.value)


def test_an_unknown_key_lists_the_valid_keys_where_it_was_looked_up():
    assert refused({"bogus": 1}) == (
        f"unknown config key 'bogus'; valid keys at the top level: {TOP_KEYS}")
    assert refused({"model.bogus": 1}) == (
        f"unknown config key 'model.bogus'; valid keys at the section 'model': {MODEL_KEYS}")
    assert refused({"model": {"bogus": 1}}) == refused({"model.bogus": 1})


def test_a_section_name_is_no_top_level_key():
    """Only apply_overrides' own check stands before _coerce; _coerce refuses it too."""
    assert refused({"train": 5}) == "config key 'train' is a section and needs a mapping"
    assert flatten({"train": 5}) == {"train": 5}  # flattened only when it is a mapping
    with pytest.raises(ValueError, match=re.escape(
            f"unknown config key 'train'; valid keys at the top level: {TOP_KEYS}")):
        _coerce(RunConfig, "train", {"lr": 1.0}, "train")


def test_unknown_sections_and_mappings_list_the_sections():
    assert refused({"optim.lr": 1}) == (
        f"unknown config section 'optim' in key 'optim.lr'; sections: {SECTIONS}")
    assert refused({"optim": {"lr": 1}}) == (
        f"unknown config key 'optim': a mapping is only allowed for the sections {SECTIONS}")


def test_null_only_where_the_type_allows_it():
    assert refused({"train.lr": None}) == "config key 'train.lr' cannot be null"
    assert refused({"seed": None}) == "config key 'seed' cannot be null"
    cfg = apply_overrides(RunConfig(), {"train.stage2_lr": None, "data_seed": None})
    assert cfg.train.stage2_lr is None and cfg.data_seed is None


@pytest.mark.parametrize("key, value, hint", [
    ("train.progress", 1, "<class 'bool'>"),  # an int is not a bool
    ("train.batch_size", True, "<class 'int'>"),  # nor a bool an int
    ("train.batch_size", "abc", "<class 'int'>"),
    ("train.batch_size", "5", "<class 'int'>"),  # no string to int
    ("train.batch_size", [], "<class 'int'>"),
    ("train.lr", "fast", "<class 'float'>"),
    ("train.lr", False, "<class 'float'>"),
    ("method", 3, "<class 'str'>"),  # no number to string
    ("model.topk_divisors", [1, 2], "tuple[int, int, int]"),  # the wrong length
    ("model.topk_divisors", [1, 2.5, 3], "tuple[int, int, int]"),
    ("model.topk_divisors", 8, "tuple[int, int, int]"),
])
def test_a_value_of_the_wrong_type_names_the_key_and_the_type(key, value, hint):
    assert refused({key: value}) == f"config key {key!r} expects {hint}, got {value!r}"


def test_values_are_converted_only_as_their_type_allows():
    cfg = apply_overrides(RunConfig(), {
        "train.lr": 3, "train.weight_decay": "1e-3", "train.progress": False,
        "train.batch_size": 7, "run_name": "1e-3", "model.topk_divisors": [4, 2, 2],
        "train.data_on_device": True})
    t = cfg.train
    assert type(t.lr) is float and t.lr == 3.0  # an int is a float
    assert type(t.weight_decay) is float and t.weight_decay == 1e-3  # YAML's 1e-3 string
    assert t.progress is False and type(t.batch_size) is int and t.batch_size == 7
    assert cfg.run_name == "1e-3"  # a string stays a string
    assert cfg.model.topk_divisors == (4, 2, 2)
    assert t.data_on_device is True  # str | bool: the bool kept
    assert _coerce(TrainConfig, "batch_size", 7, "train.batch_size") == 7
    assert _coerce(ModelConfig, "topk_divisors", (1, 1, 1), "model.topk_divisors") == (1, 1, 1)
