"""Every configuration check at its edge (accepted) and just beyond it (refused, naming the key).

ftcl.config.checks: check_choices (the schema's ranges and choices), check_ranges (weights,
decays, margins), check_finite, check_values (all of them, run when a configuration is built)
and check_lengths (the FTCL proposals must fit in T snippets).
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from ftcl import config
from ftcl.config import sections
from ftcl.config.checks import check_choices, check_finite, check_ranges

# key, accepted values (the edge first), refused values, the message
BOUNDS = [
    ("model.embed_dim", [1, None], [0, -3], "must be positive or null"),
    ("model.dropout", [0.0, 0.999], [1.0, -0.01], "must be in [0, 1)"),
    ("model.topk_divisors", [(1, 1, 1)], [(1, 0, 1), (-1, 3, 3)], "must be positive"),
    ("ftcl.fsd_len", [1], [0], "must be >= 1"),
    ("ftcl.lcs_len", [1], [0], "must be >= 1"),
    ("ftcl.proj_dim", [2, 4], [0, 3, -2], "must be even and >= 2"),
    ("ftcl.gamma", [1e-9], [0.0, -1.0], "must be positive"),
    ("ftcl.dtw_gamma", [1e-9], [0.0, -1.0], "must be positive"),
    ("ftcl.drop_quantile", [0.0, 1.0, 0.5], [1.0001, -0.0001], "must be in [0, 1]"),
    ("train.lr", [1e-12], [0.0, -1e-4], "must be positive"),
    ("train.batch_size", [2], [1, 0], "must be >= 2"),
    ("train.pretrain_iterations", [0], [-1], "must be >= 0"),
    ("train.iterations", [0], [-1], "must be >= 0"),
    ("train.stage2_lr", [1e-12, None], [0.0, -1.0], "must be positive or null"),
    ("train.eval_every", [1], [0], "must be >= 1"),
    ("train.holdout_fraction", [1e-9, 0.5, 0.999999], [0.0, 1.0, -0.1], "must be in (0, 1)"),
    ("seed", [0, 2**32 - 1], [-1, 2**32], "must be an integer in [0, 4294967295] (2^32 - 1)"),
    ("data_seed", [None, 0, 2**32 - 1], [-1, 2**32],
     "must be null or an integer in [0, 4294967295] (2^32 - 1)"),
    ("data_version", [1, 2, 3], [0, 4], "must be 1, 2 or 3 (ftcl.data.knobs)"),
    ("train.grad_share_tail", [0.0, 1.0, 0.1], [-1e-9, 1.000001, 1.5], "must be in [0, 1]"),
    ("train.data_on_device", ["auto", True, False], ["yes", "cuda"],
     "must be auto, true or false"),
    # the dose study's oracle and ladder keys (issue 21)
    ("ftcl.oracle", list(sections.ORACLES), ["bogus", "oracle-phase"],
     f"must be one of {sections.ORACLES}"),
    ("ftcl.oracle_snippets", [1, 8], [0, -1], "must be >= 1"),
    ("ftcl.oracle_temperature", [1e-9], [0.0, -0.1], "must be positive"),
    ("ftcl.proposals", ["attention", "planted"], ["topk", ""], "must be attention or planted"),
    ("ftcl.matches", ["dp", "planted"], ["oracle"], "must be dp or planted"),
    ("ftcl.fsd_head", ["projection", "none"], ["linear"], "must be projection or none"),
    ("ftcl.lcs_tau_rule", ["fixed", "quantile"], ["median"], "must be fixed or quantile"),
    ("ftcl.lcs_tau_quantile", [1e-9, 0.5, 0.999999], [0.0, 1.0, -0.5],
     "must be in (0, 1)"),
]

CHOICES = [
    ("model.backbone", sections.BACKBONE_NAMES),
    ("ftcl.action_measure", sections.MEASURES),
    ("ftcl.pair_measure", sections.MEASURES),
    ("ftcl.loss_form", sections.LOSS_FORMS),
    ("ftcl.activation", sections.ACTIVATIONS),
    ("ftcl.lcs_threshold_form", sections.LCS_THRESHOLD_FORMS),
    ("ftcl.background", sections.BACKGROUNDS),
    ("ftcl.term_scale", sections.TERM_SCALES),
    ("train.stage2_schedule", sections.STAGE2_SCHEDULES),
    ("train.selection", sections.SELECTIONS),
    ("train.sampling", sections.SAMPLINGS),
]

# check_ranges beyond check_choices: key, accepted (edge first), refused, message
EXTRA_RANGES = [
    ("train.weight_decay", [0.0], [-1e-9], "must be >= 0"),
    ("train.eval_batch_size", [1], [0], "must be >= 1"),
    ("train.num_threads", [1, None], [0], "must be >= 1 or null"),
    ("ftcl.lambda_fsd", [0.0], [-1e-9], "must be >= 0"),
    ("ftcl.lambda_lcs", [0.0], [-1e-9], "must be >= 0"),
    ("ftcl.fsd_margin", [0.0], [-1e-9], "must be >= 0"),
    ("ftcl.cc_weight", [0.0], [-1e-9], "must be >= 0"),
    ("loss.wtalc_lambda", [0.0, 1.0], [-1e-9, 1.000001], "must be in [0, 1]"),
    ("loss.cola_temperature", [1e-9], [0.0, -1.0], "must be positive"),
]


def with_value(key: str, value, cfg: config.RunConfig | None = None) -> config.RunConfig:
    """``cfg`` (the default ftcl/quick configuration) with ``key`` set, without validating."""
    cfg = cfg or config.make_config()
    section, _, name = key.rpartition(".")
    if not section:
        return dataclasses.replace(cfg, **{name: value})
    part = dataclasses.replace(getattr(cfg, section), **{name: value})
    return dataclasses.replace(cfg, **{section: part})


def _refused(key: str, what: str) -> str:
    return rf"^config key '{re.escape(key)}': {re.escape(what)}"


@pytest.mark.parametrize("key, good, bad, what", BOUNDS, ids=[b[0] for b in BOUNDS])
def test_validate_bounds(key, good, bad, what):
    for value in good:
        check_choices(with_value(key, value))
        config.check_values(with_value(key, value))
    for value in bad:
        with pytest.raises(ValueError, match=_refused(key, what)):
            check_choices(with_value(key, value))
        with pytest.raises(ValueError, match=_refused(key, what)):
            config.check_values(with_value(key, value))


@pytest.mark.parametrize("key, choices", CHOICES, ids=[c[0] for c in CHOICES])
def test_validate_choices(key, choices):
    for value in choices:
        check_choices(with_value(key, value))
    with pytest.raises(ValueError, match=_refused(key, f"must be one of {choices}")):
        check_choices(with_value(key, "bogus"))


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match=_refused("method", "unknown method; choose one of")):
        check_choices(with_value("method", "ftcl-typo"))


def test_stage1_only_needs_a_selection_that_can_use_it():
    only1 = with_value("train.iterations", 0)
    check_choices(only1)  # select_stage1 is on by default
    check_choices(with_value("train.selection", "last", with_value("train.select_stage1",
                                                                     False, only1)))
    with pytest.raises(ValueError, match=_refused(
            "train.iterations", "0 (stage 1 only) needs train.select_stage1 or "
            "train.selection='last'")):
        check_choices(with_value("train.select_stage1", False, only1))
    check_choices(with_value("train.select_stage1", False))  # with stage 2: fine
    check_choices(with_value("train.iterations", 1, with_value("train.select_stage1", False)))


def test_the_lcs_threshold_form_applies_to_the_code_form_only():
    paper = with_value("ftcl.loss_form", "paper")
    check_choices(paper)  # with the default release-ftcl threshold
    with pytest.raises(ValueError, match=_refused(
            "ftcl.lcs_threshold_form", "applies to the code form only (ftcl.loss_form='code'); "
            "the paper form compares the raw cosines with tau") + "$"):
        check_choices(with_value("ftcl.lcs_threshold_form", "release-acmloss", paper))


@pytest.mark.parametrize("key, good, bad, what", EXTRA_RANGES, ids=[r[0] for r in EXTRA_RANGES])
def test_check_ranges_bounds(key, good, bad, what):
    for value in good:
        check_ranges(with_value(key, value))
        config.check_values(with_value(key, value))
    for value in bad:
        message = rf"^config key '{re.escape(key)}'={re.escape(repr(value))}: {re.escape(what)}$"
        with pytest.raises(ValueError, match=message):
            check_ranges(with_value(key, value))
        with pytest.raises(ValueError, match=message):
            config.check_values(with_value(key, value))


def test_check_values_checks_the_run_name():
    with pytest.raises(ValueError, match=re.escape(
            "run_name (--name) '..': must be one plain folder name (no '/', '\\', '..', leading "
            "'~' or surrounding spaces), so that the run folder stays inside the output folder")):
        config.check_values(with_value("run_name", ".."))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_named(value):
    cfg = with_value("ftcl.tau", value)
    with pytest.raises(ValueError, match=rf"^config key 'ftcl.tau'={re.escape(repr(value))}: "
                                         "must be a finite number$"):
        check_finite(cfg)
    with pytest.raises(ValueError, match="^config key 'ftcl.tau'="):
        config.check_values(cfg)
    check_finite(config.make_config())


def test_non_finite_numbers_inside_a_tuple_are_named():
    """A configuration built directly (not through make_config) may hold any tuple."""
    cfg = with_value("model.topk_divisors", (8, math.nan, 3))
    for check in (check_finite, config.check_values):
        with pytest.raises(ValueError, match=r"^config key 'model.topk_divisors'=nan: must be "
                                             "a finite number$"):
            check(cfg)


def test_check_ranges_skips_what_a_configuration_lacks_and_checks_the_rest():
    """Any object with the sections as attributes: a section (loss) or key (the first of the
    table, train.weight_decay) it lacks is skipped, the keys after them still checked."""
    from types import SimpleNamespace

    cfg = config.make_config()
    train = {f.name: getattr(cfg.train, f.name) for f in dataclasses.fields(cfg.train)}
    del train["weight_decay"]
    partial = SimpleNamespace(train=SimpleNamespace(**train), ftcl=cfg.ftcl)
    check_ranges(partial)
    partial.ftcl = dataclasses.replace(cfg.ftcl, lambda_lcs=-1.0)
    with pytest.raises(ValueError, match=r"^config key 'ftcl.lambda_lcs'=-1.0: must be >= 0$"):
        check_ranges(partial)


def test_check_lengths_at_the_edge():
    cfg = config.make_config(overrides={"ftcl.fsd_len": 4, "ftcl.lcs_len": 9})
    config.check_lengths(cfg, 9)  # 2 x 4 <= 9 and 9 <= 9
    config.check_lengths(with_value("ftcl.lcs_len", 8, cfg), 8)  # 2 x 4 == 8
    with pytest.raises(ValueError, match=r"^config key 'ftcl.fsd_len'=4: two proposals of "
                                         r"fsd_len snippets need T >= 8, the data has T=7$"):
        config.check_lengths(with_value("ftcl.lcs_len", 7, cfg), 7)
    with pytest.raises(ValueError, match=r"^config key 'ftcl.lcs_len'=9 exceeds T=8$"):
        config.check_lengths(cfg, 8)
    plain = config.make_config("acmnet", overrides={"ftcl.fsd_len": 50, "ftcl.lcs_len": 50})
    config.check_lengths(plain, 8)  # no FTCL term: no proposals to fit


@pytest.mark.parametrize("measures", [("fsd", "none"), ("none", "lcs")])
def test_check_lengths_applies_when_either_slot_is_on(measures):
    cfg = config.make_config("acmnet", overrides={
        "ftcl.action_measure": measures[0], "ftcl.pair_measure": measures[1],
        "ftcl.fsd_len": 5, "ftcl.lcs_len": 11})
    with pytest.raises(ValueError, match="config key 'ftcl.(fsd|lcs)_len'"):
        config.check_lengths(cfg, 10)


def test_planted_matches_apply_to_the_fsd_and_lcs_measures_only():
    planted = with_value("ftcl.matches", "planted")
    check_choices(planted)  # ftcl: fsd + lcs
    check_choices(with_value("ftcl.pair_measure", "none", planted))
    with pytest.raises(ValueError, match=_refused(
            "ftcl.matches", "'planted' applies to the fsd and lcs measures only")):
        check_choices(with_value("ftcl.pair_measure", "dtw", planted))
    check_choices(with_value("ftcl.pair_measure", "dtw"))  # the DP's own matches: fine


def test_one_stage_folds_stage_1_into_stage_2_once():
    """train.one_stage (Eq. 8 as printed): stage 1's iterations move into stage 2, from scratch
    at train.lr, constant, no stage-1 candidate; folding twice changes nothing."""
    from ftcl.config.build import fold_one_stage

    two = config.make_config("ftcl", "synthumos14", "quick")
    assert fold_one_stage(two) is two  # one_stage off: untouched
    one = with_value("train.one_stage", True, two)
    folded = fold_one_stage(one)
    t = folded.train
    assert t.iterations == two.train.iterations + two.train.pretrain_iterations
    assert (t.pretrain_iterations, t.stage2_lr, t.stage2_schedule, t.select_stage1) == (
        0, None, "constant", False)
    assert fold_one_stage(folded) == folded
    assert (folded.model, folded.ftcl, folded.loss) == (two.model, two.ftcl, two.loss)
    short = fold_one_stage(with_value("train.pretrain_iterations", 1, one)).train
    assert (short.iterations, short.pretrain_iterations) == (two.train.iterations + 1, 0)
    made = config.make_config("ftcl-one-stage", "synthumos14", "quick")
    assert made.train.pretrain_iterations == 0 and made.train.iterations == t.iterations
