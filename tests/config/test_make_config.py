"""make_config's refusals word for word, the profile it is asked for, and the skipped-steps rule
at its edges (issue 20)."""

from __future__ import annotations

import pytest

from ftcl.config import METHODS, make_config, too_many_skipped
from ftcl.config.presets import PROFILES


def _message(**kwargs) -> str:
    with pytest.raises(ValueError) as err:
        make_config(**kwargs)
    return str(err.value)


def test_unknown_method_lists_the_methods():
    assert _message(method="ftcl-typo") == (f"unknown method 'ftcl-typo'; choose one of "
                                            f"{sorted(METHODS)}")


def test_overrides_that_are_no_mapping():
    assert _message(method="acmnet", overrides="train.iterations=5") == (
        "overrides must be a mapping of config keys to values (e.g. {'train.iterations': 50}), "
        "got a str: 'train.iterations=5'; with papermill pass it as YAML: "
        "-y \"overrides: {train.iterations: 50}\" (-p passes a string)")


def test_unknown_dataset_or_profile_lists_the_known_pairs():
    known = ", ".join(f"{d}/{p}" for d, p in PROFILES)
    assert "synthumos14/quick" in known and "thumos14/full" in known
    assert _message(dataset="thumos14", profile="quick") == (
        f"unknown dataset/profile thumos14/quick; known: {known}")


@pytest.mark.parametrize("dataset, profile", sorted(PROFILES))
def test_the_configuration_names_its_dataset_and_profile(dataset, profile):
    cfg = make_config("acmnet", dataset, profile)
    assert (cfg.method, cfg.dataset, cfg.profile) == ("acmnet", dataset, profile)


@pytest.mark.parametrize("skipped, steps, too_many", [
    (0, 0, False), (1, 0, False),  # no steps: nothing to judge
    (1, 1, True), (0, 1, False),
    (1, 4, False), (2, 4, True),  # a quarter exactly is still allowed
    (25, 100, False), (26, 100, True),
])
def test_skipped_steps_beyond_a_quarter(skipped, steps, too_many):
    assert too_many_skipped(skipped, steps) is too_many
