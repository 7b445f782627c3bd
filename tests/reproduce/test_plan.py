"""The plan of the batch: every run of Tables 1-5, stage-1 groups first, data seeds."""

from __future__ import annotations

import pytest

from ftcl.config import DEFAULT_SEEDS, METHODS
from ftcl.report.layout import TABLES
from ftcl.reproduce.plan import PlannedRun, notebook_parameters, parse_data_dirs, plan, tables_of

# every method of the paper's tables appears in a THUMOS14 table (1, 3, 4 or 5); the dose
# study's methods (oracles, ladder, one stage) in none
THUMOS_METHODS = {m for m in METHODS if METHODS[m].tables}
ANET_METHODS = {"acmnet", "ftcl"}  # Table 2


def test_tables_of_reads_the_method_registry():
    assert tables_of("acmnet") == (1, 2, 3, 4)  # "Tables 1-4 baseline"
    assert tables_of("ftcl") == (1, 2)
    assert tables_of("ftcl-wo-fsd") == (3,)
    assert tables_of("ftcl-dropdtw") == (4,)
    assert tables_of("cola-ftcl") == (5,)
    for method in THUMOS_METHODS:
        assert tables_of(method), method
    with pytest.raises(ValueError, match="cannot read the paper tables"):
        tables_of("oracle-phase")
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        tables_of("nope")


def test_quick_plan_holds_every_run_of_tables_1_to_5():
    runs = plan("quick", seeds=[0, 1, 2], with_dose=False)
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
    runs = plan("quick", seeds=[0, 1], with_dose=False)
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
                    == "acmnet" and METHODS[m].tables}


def test_quick_plan_adds_the_dose_study_once_per_configuration(results_dir):
    from ftcl.config import dose

    runs = plan("quick", seeds=[0, 1])
    tables = {r.run_id for r in plan("quick", seeds=[0, 1], with_dose=False)}
    study = [r for r in runs if "dose" in r.studies]
    assert len({r.run_id for r in runs}) == len(runs)  # no run twice
    assert len(study) == 2 * len(dose.dose_runs())  # every grid point, each seed
    # the control and FTCL at its default weight are the tables' runs, written to both folders
    shared = [r for r in study if r.run_id in tables]
    assert {r.method for r in shared} >= {"acmnet", "ftcl"}
    assert all(r.studies == ("tables", "dose") for r in shared)
    assert all(r.dataset == dose.DATASET and r.tables == () for r in study if r not in shared)
    run = next(r for r in study if r.method == "oracle-phase")
    assert notebook_parameters(run)["mechanism_methods"] == ["oracle-phase"]
    assert notebook_parameters(runs[0])["mechanism_methods"] in (None, [runs[0].method])
    files = [p.relative_to(results_dir).as_posix() for p, _ in shared[0].record_files(
        results_dir)]
    assert files == [f"quick/runs/{shared[0].run_id}.json",
                     f"quick/dose/runs/{shared[0].run_id}.json"]
    assert not shared[0].done(results_dir)
    for path, _ in shared[0].record_files(results_dir):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert shared[0].done(results_dir)
    assert not [r for r in plan("full", seeds=[0]) if "dose" in r.studies]
    only = plan("quick", seeds=[0], only=["oracle-class"])
    assert {r.method for r in only} == {"oracle-class"}


def test_stage1_group_follows_the_stage1_settings():
    base = {r.method: r.group for r in plan("quick", seeds=[0], only=["acmnet", "ftcl"],
                                            with_dose=False)}
    # an FTCL-only setting leaves stage 1 (and the group) alone; a backbone setting does not
    ftcl_only = {r.method: r.group
                 for r in plan("quick", seeds=[0], only=["acmnet"], overrides={"ftcl.tau": 0.5},
                               with_dose=False)}
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
