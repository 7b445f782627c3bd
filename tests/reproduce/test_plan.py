"""The plan of the batch: every run of Tables 1-5, stage-1 groups first, data seeds."""

from __future__ import annotations

import pytest

from ftcl.config import DEFAULT_SEEDS, METHODS
from ftcl.report.layout import TABLES
from ftcl.reproduce.plan import PlannedRun, notebook_parameters, parse_data_dirs, plan, tables_of

THUMOS_METHODS = set(METHODS)  # every method appears in a THUMOS14 table (1, 3, 4 or 5)
ANET_METHODS = {"acmnet", "ftcl"}  # Table 2


def test_tables_of_reads_the_method_registry():
    assert tables_of("acmnet") == (1, 2, 3, 4)  # "Tables 1-4 baseline"
    assert tables_of("ftcl") == (1, 2)
    assert tables_of("ftcl-wo-fsd") == (3,)
    assert tables_of("ftcl-dropdtw") == (4,)
    assert tables_of("cola-ftcl") == (5,)
    for method in METHODS:
        assert tables_of(method), method
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        tables_of("nope")


def test_quick_plan_holds_every_run_of_tables_1_to_5():
    runs = plan("quick", seeds=[0, 1, 2])
    pairs = {(r.dataset, r.method) for r in runs}
    expected = ({("synthumos14", m) for m in THUMOS_METHODS}
                | {("synanet", m) for m in ANET_METHODS})
    assert pairs == expected
    assert len(pairs) == 21 and len(runs) == 21 * 3  # 15 THUMOS14 rows + 4 beyond the paper + 2
    assert len({r.run_id for r in runs}) == len(runs)
    for r in runs:
        assert r.profile == "quick" and r.data_dir is None
        assert r.backbone == r.config.model.backbone
        assert r.run_id.startswith(f"{r.dataset}-{r.method}-seed{r.seed}-")
    assert {r.tables for r in runs if r.dataset == "synanet"} == {(2,)}


def test_plan_covers_what_the_tables_module_reads():
    synthetic = {"thumos14": "synthumos14", "activitynet13": "synanet"}
    pairs = {(r.dataset, r.method) for r in plan("quick", seeds=[0])}
    for spec in TABLES.values():
        for method in spec.methods:
            assert (synthetic[spec.family], method) in pairs, (spec.key, method)


def test_plan_puts_each_stage1_group_first_run_first_and_it_is_the_plain_backbone():
    runs = plan("quick", seeds=[0, 1])
    groups: dict[str, list[PlannedRun]] = {}
    for r in runs:
        groups.setdefault(r.group, []).append(r)
    # one group per (dataset, backbone, seed): acmnet methods share one, each Table 5 backbone
    # its own, and seeds never share
    assert len(groups) == 2 * (4 + 1)
    for members in groups.values():
        assert len({(m.dataset, m.backbone, m.seed) for m in members}) == 1
        assert members[0].method == members[0].backbone  # the plain backbone leads
    leaders = [members[0] for members in groups.values()]
    assert runs[:len(leaders)] == sorted(leaders, key=runs.index)  # leaders form a prefix
    acm0 = {r.method for r in runs if r.group == runs[0].group}
    assert acm0 == {m for m in METHODS if METHODS[m].overrides.get("model.backbone", "acmnet")
                    == "acmnet"}


def test_stage1_group_follows_the_stage1_settings():
    base = {r.method: r.group for r in plan("quick", seeds=[0], only=["acmnet", "ftcl"])}
    # an FTCL-only setting leaves stage 1 (and the group) alone; a backbone setting does not
    ftcl_only = {r.method: r.group
                 for r in plan("quick", seeds=[0], only=["acmnet"], overrides={"ftcl.tau": 0.5})}
    assert ftcl_only["acmnet"] == base["acmnet"] == base["ftcl"]
    changed = plan("quick", seeds=[0], only=["acmnet"], overrides={"loss.guide_weight": 0.01})
    assert changed[0].group != base["acmnet"]
    none = plan("quick", seeds=[0], only=["acmnet"], overrides={"train.pretrain_iterations": 0})
    assert none[0].group is None


def test_plan_with_real_features_and_bad_input():
    runs = plan("full", seeds=[0], data_dirs={"thumos14": "/data/T14"})
    assert {r.dataset for r in runs} == {"thumos14"}
    assert {r.data_dir for r in runs} == {"/data/T14"} and len(runs) == len(THUMOS_METHODS)
    assert parse_data_dirs(["/d", "activitynet13=/a"]) == {"thumos14": "/d",
                                                           "activitynet13": "/a"}
    with pytest.raises(ValueError, match="'full' profile"):
        plan("quick", data_dirs={"thumos14": "/d"})
    with pytest.raises(ValueError, match="dataset must be one of"):
        parse_data_dirs(["kinetics=/d"])
    with pytest.raises(ValueError, match="unknown method"):
        plan("quick", only=["ftcl", "nope"])
    with pytest.raises(ValueError, match="repeated"):
        plan("quick", seeds=[0, 0])
    with pytest.raises(ValueError, match="may not set \\['seed'\\]"):
        plan("quick", overrides={"seed": 3})
    with pytest.raises(ValueError, match="unknown config key"):
        plan("quick", overrides={"train.nope": 1})


# ------------------------------------------------------------------------------ seeds and data


def test_default_seeds_and_data_seed_scheme():
    assert DEFAULT_SEEDS == tuple(range(10))
    runs = plan("quick", seeds=[0, 3], only=["acmnet", "ftcl"])
    for r in runs:
        assert r.config.data_seed == r.seed  # each seed draws its own synthetic data set
        assert notebook_parameters(r)["overrides"]["data_seed"] == r.seed
    # all methods of one seed share the data set and the stage-1 checkpoint
    by_seed = {}
    for r in runs:
        by_seed.setdefault((r.dataset, r.seed), set()).add((r.config.data_seed, r.group))
    assert all(len(v) == 1 for v in by_seed.values())
    fixed = plan("quick", seeds=[0, 3], only=["acmnet"], overrides={"data_seed": 5})
    assert {r.config.data_seed for r in fixed} == {5}
    real = plan("full", seeds=[2], data_dirs={"thumos14": "/data/T14"}, only=["acmnet"])
    assert real[0].config.data_seed is None
