"""A run's identity: what the run id leaves out, what a resume may change, and the committed
records' ids recomputed from their configurations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftcl.config import (
    RESUMABLE_KEYS,
    apply_overrides,
    check_backbone,
    config_diff,
    config_hash,
    from_dict,
    make_config,
    name_run,
    run_id,
    to_dict,
)
from ftcl.report.records import find_run_files, load_records

ROOT = Path(__file__).resolve().parents[2]


def test_run_id_ignores_where_and_how_but_not_what():
    cfg = make_config("ftcl", "synthumos14", "quick", seed=1)
    same = make_config("ftcl", "synthumos14", "quick", seed=1, out_dir="/x", cache_dir="/c",
                       data_dir="/d", device="cpu", run_name="n",
                       overrides={"train.progress": False, "train.num_threads": 3,
                                  "train.eval_batch_size": 7, "train.reuse_stage1": False})
    assert run_id(cfg) == run_id(same) == run_id(name_run(cfg))
    assert name_run(cfg).run_name == run_id(cfg)
    different = [
        make_config("ftcl", "synthumos14", "quick", seed=2),
        make_config("acmnet", "synthumos14", "quick", seed=1),
        make_config("ftcl", "synanet", "quick", seed=1),
        make_config("ftcl", "synthumos14", "full", seed=1),
        make_config("ftcl", "synthumos14", "quick", seed=1, overrides={"train.lr": 3e-4}),
        make_config("ftcl", "synthumos14", "quick", seed=1, overrides={"ftcl.tau": 0.9}),
        make_config("ftcl", "synthumos14", "quick", seed=1, data_seed=5),
    ]
    hashes = {config_hash(c) for c in [cfg, *different]}
    assert len(hashes) == len(different) + 1


def test_a_resume_may_change_exactly_the_keys_the_run_id_leaves_out():
    """Each resumable key, changed, leaves the run id and the resume check alone; a key that
    defines the experiment changes both."""
    cfg = make_config("ftcl", "synthumos14", "quick", seed=1)
    changed = {"out_dir": "/x", "cache_dir": "/c", "data_dir": "/d", "device": "cpu",
               "train.progress": False, "train.reuse_stage1": False,
               "train.eval_batch_size": 7, "train.num_threads": 3,
               "train.data_on_device": True, "train.grad_share_tail": 0.5}
    assert set(changed) == set(RESUMABLE_KEYS)
    for key, value in changed.items():
        other = apply_overrides(cfg, {key: value})
        assert config_diff(to_dict(cfg), to_dict(other)) == [], key
        assert run_id(other) == run_id(cfg), key
    lr = apply_overrides(cfg, {"train.lr": 3e-4})
    assert config_diff(to_dict(cfg), to_dict(lr)) == ["train.lr"] and run_id(lr) != run_id(cfg)


def test_run_id_is_the_same_in_a_fresh_interpreter():
    cfg = make_config("ftcl-dtw", "synanet", "quick", seed=4, overrides={"train.lr": 2e-4})
    code = ("from ftcl.config import make_config, run_id; "
            "print(run_id(make_config('ftcl-dtw', 'synanet', 'quick', seed=4, "
            "overrides={'train.lr': 2e-4})))")
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=ROOT)
    assert out.stdout.strip() == run_id(cfg)


def test_check_backbone():
    cfg = make_config("stpn-ftcl", "synthumos14", "quick")
    check_backbone(cfg, None)
    check_backbone(cfg, "stpn")
    with pytest.raises(ValueError, match="backbone='acmnet' does not match method 'stpn-ftcl'"):
        check_backbone(cfg, "acmnet")


@pytest.mark.parametrize("profile", ["quick"])
def test_committed_records_load_and_their_run_id_is_their_configuration(profile):
    """Every committed run record of results/<profile>/runs loads (the tables' reader), and its
    run id recomputed from its stored configuration is the stored one and its file name."""
    files = find_run_files(ROOT / "results", profile)
    assert files, f"no committed run records in results/{profile}/runs"
    loaded = load_records(files)
    assert len(loaded) == len(files)
    for path in files:
        record = json.loads(path.read_text(encoding="utf-8"))
        cfg = from_dict(record["config"])
        assert run_id(cfg) == record["run_id"] == path.stem, path.name
