"""Trainer: every method learns, exact resume, Ctrl-C, stage-1 reuse, run record, bad input.

Runs on a tiny SynANet (3 classes, 18 training / 9 test videos, D=16, T=24) generated once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal

import pytest
import torch

from ftcl.config import LAMBDA_CHOICE, LAMBDA_GRID, METHODS, make_config
from ftcl.data import VideoSubset
from ftcl.losses import FTCLObjective, total_loss
from ftcl.models import build_backbone
from ftcl.train import (
    Trainer,
    load_checkpoint,
    model_from_checkpoint,
    train,
)


def _state(path):
    return load_checkpoint(path)["model"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ------------------------------------------------------------------------------ learning


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_lowers_its_loss(tiny_config, tiny_data, method):
    """A few Adam steps on one fixed batch of pairs lower the method's full loss (Eq. 8)."""
    cfg = tiny_config(method, "unused", **{"ftcl.tau": 0.5})
    data = tiny_data(cfg)
    torch.manual_seed(0)
    model = build_backbone(cfg.model.backbone, 16, 3, dataclasses.replace(cfg.model, dropout=0.0))
    obj = FTCLObjective(8, cfg.ftcl) if cfg.ftcl.enabled else None
    params = list(model.parameters()) + (list(obj.parameters()) if obj else [])
    opt = torch.optim.Adam(params, lr=5e-3)
    from ftcl.data import PairBatches

    batch = next(iter(PairBatches(data.train, batch_size=8, seed=0)))
    x = torch.cat([batch["features_a"], batch["features_b"]])
    y = torch.cat([batch["labels_a"], batch["labels_b"]])
    planted = torch.cat([batch["planted_a"], batch["planted_b"]]) if "planted_a" in batch else None
    losses = []
    for _ in range(15):
        torch.manual_seed(1)  # the oracle's snippet draw: the same at every step
        loss, _ = total_loss(cfg.model.backbone, model(x), y, cfg.loss, obj, planted)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(map(torch.isfinite, map(torch.tensor, losses)))
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses


# ------------------------------------------------------------------------------ the trainer


def test_run_record_checkpoints_and_stage1_reuse(tiny_config, tiny_data, tmp_path):
    cfg = tiny_config("ftcl", tmp_path)
    record = train(cfg, data=tiny_data(cfg))
    run = tmp_path / "synanet-quick" / "ftcl" / "seed0"
    assert {p.name for p in run.iterdir()} >= {"best.pt", "last.pt", "record.json",
                                              "predictions.csv"}
    assert json.loads((run / "record.json").read_text()) == json.loads(json.dumps(record))
    for key in ("method", "backbone", "dataset", "profile", "seed", "device", "iterations",
                "wall_time_s", "map", "average_map", "classification_map", "provenance",
                "config", "selection", "schedule"):
        assert key in record, key
    assert record["iterations"] == 10 and record["device"] == "cpu"
    assert len(record["map"]) == len(record["tiou_thresholds"]) == 10  # ActivityNet thresholds
    assert record["provenance"]["ftcl_version"] and record["provenance"]["git_commit"]
    assert record["selection"]["holdout_videos"] == 4 and record["schedule"]["stage1"]
    assert [h["iteration"] for h in record["history"]] == [0, 3, 6]  # 0: stage-1 checkpoint
    assert "grad_norms" not in record["history"][0]
    assert {"cls", "fsd", "lcs", "fsd/cls", "lcs/cls"} <= set(record["history"][1]["grad_norms"])
    terms = record["ftcl_terms"]
    assert terms["lambda_fsd"] == terms["lambda_lcs"] == LAMBDA_CHOICE["acmnet"]
    assert terms["lambda_grid"] == list(LAMBDA_GRID["acmnet"]) and terms["lambda_chosen_by"]
    assert (terms["background"], terms["lcs_threshold_form"], terms["term_scale"]) == (
        "paper", "release-ftcl", "normalised")
    assert not record["schedule"]["stage1"]["reused"]
    # no folder of this machine in the record: the stage-1 checkpoint relative to the work
    # folder, the work folder itself without its parents; the data preparation timed
    stage1 = record["schedule"]["stage1"]["path"]
    assert stage1.startswith("_stage1/") and (tmp_path / stage1).is_file()
    assert str(tmp_path) not in json.dumps(record)
    assert record["config"]["out_dir"] == f".../{tmp_path.name}"
    wall = record["wall_time_s"]
    assert wall["data"] >= 0 and wall["total"] >= wall["data"] + wall["stage1"]

    # ACM-Net with the same seed reuses the cached stage 1 (FTCL terms play no part in it).
    base = tiny_config("acmnet", tmp_path)
    rec2 = train(base, data=tiny_data(base))
    assert rec2["schedule"]["stage1"]["reused"]
    assert rec2["schedule"]["stage1"]["key"] == record["schedule"]["stage1"]["key"]
    # ... and a finished run, run again, returns its record without training.
    assert train(base, data=tiny_data(base)) == rec2

    # The checkpoints rebuild the model.
    model, cfg2, ckpt = model_from_checkpoint(run / "best.pt")
    assert cfg2 == cfg and ckpt["kind"] == "model" and model.feature_dim == 16


@pytest.mark.parametrize("stop", [2, 7])  # inside stage 1, inside stage 2 (between evaluations)
def test_resume_after_interrupt_equals_uninterrupted(tiny_config, tiny_data, stop, tmp_path):
    ref_cfg = tiny_config("ftcl", tmp_path / "ref")
    ref = train(ref_cfg, data=tiny_data(ref_cfg))
    cfg = tiny_config("ftcl", tmp_path / "cut")
    status = train(cfg, stop_after=stop, data=tiny_data(cfg))
    assert status["status"] == "stopped"
    resumed = train(cfg, data=tiny_data(cfg))  # fresh objects: state from disk only
    run = lambda root: root / "synanet-quick" / "ftcl" / "seed0"  # noqa: E731
    _assert_same_weights(_state(run(tmp_path / "ref") / "last.pt"),
                         _state(run(tmp_path / "cut") / "last.pt"))
    _assert_same_weights(_state(run(tmp_path / "ref") / "best.pt"),
                         _state(run(tmp_path / "cut") / "best.pt"))
    assert resumed["history"] == ref["history"]
    assert resumed["map"] == ref["map"]


def test_ctrl_c_leaves_a_resumable_checkpoint(tiny_config, tiny_data, tmp_path, monkeypatch):
    ref_cfg = tiny_config("acmnet", tmp_path / "ref")
    train(ref_cfg, data=tiny_data(ref_cfg))
    cfg = tiny_config("acmnet", tmp_path / "cut")
    calls = {"n": 0}
    original = Trainer._step

    def step_then_ctrl_c(self, batch, use_objective):
        out = original(self, batch, use_objective)
        calls["n"] += 1
        if calls["n"] == 6:
            os.kill(os.getpid(), signal.SIGINT)  # delivered to the trainer's handler
        return out

    monkeypatch.setattr(Trainer, "_step", step_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt, match="resumable checkpoint"):
        train(cfg, data=tiny_data(cfg))
    run = tmp_path / "cut" / "synanet-quick" / "acmnet" / "seed0"
    state = load_checkpoint(run / "last.pt")["state"]
    assert (state["stage"], state["iteration"]) == (2, 2)
    monkeypatch.setattr(Trainer, "_step", original)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    train(cfg, data=tiny_data(cfg))
    _assert_same_weights(_state(tmp_path / "ref" / "synanet-quick" / "acmnet" / "seed0"
                                / "last.pt"), _state(run / "last.pt"))


def test_selection_last_has_no_holdout(tiny_config, tiny_data, tmp_path):
    cfg = tiny_config("acmnet", tmp_path, **{"train.selection": "last"})
    record = train(cfg, data=tiny_data(cfg))
    assert record["selection"]["reported"] == "last" and record["selection"]["holdout_videos"] == 0
    assert record["selection"]["fit_videos"] == 18


def test_video_subset_keeps_parent_indices(tiny_config, tiny_data):
    cfg = tiny_config("acmnet", "unused")
    data = tiny_data(cfg)
    sub = VideoSubset(data.train, data.fit_ids[:3])
    assert len(sub) == 3 and sub[1]["video_id"] == data.fit_ids[1]
    assert sub.label_sets()[2] == data.train.label_sets()[sub.indices[2]]


# ------------------------------------------------------------------------------ bad input


def test_corrupt_and_foreign_checkpoints(tiny_config, tiny_data, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="cannot be read"):
        load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an ftcl checkpoint"):
        load_checkpoint(tmp_path / "other.pt")

    # A run folder holding another backbone's checkpoint is refused, naming both.
    cfg = tiny_config("acmnet", tmp_path, **{"train.iterations": 3, "train.eval_every": 3})
    train(cfg, data=tiny_data(cfg))
    other = tiny_config("stpn", tmp_path, run_name="acmnet",
                        **{"train.iterations": 3, "train.eval_every": 3})
    with pytest.raises(ValueError, match="'acmnet' model but the configuration asks for 'stpn'"):
        train(other, data=tiny_data(other))

    # Same run folder, different configuration: refused, naming the keys.
    changed = tiny_config("acmnet", tmp_path, **{"train.iterations": 3, "train.eval_every": 3,
                                                 "train.lr": 1e-3})
    with pytest.raises(ValueError, match="train.lr"):
        train(changed, data=tiny_data(changed))


def test_feature_width_mismatch_with_checkpoint(tiny_config, tiny_data, tmp_path):
    cfg = tiny_config("acmnet", tmp_path, **{"train.iterations": 3, "train.eval_every": 3})
    data = tiny_data(cfg)
    train(cfg, data=data)
    wide = dataclasses.replace(data, spec=data.spec.replace(feature_dim=32))
    with pytest.raises(ValueError, match="trained on D=16"):
        train(cfg, data=wide)


def test_config_errors():
    with pytest.raises(ValueError, match="unknown config key 'train.learning_rate'"):
        make_config("ftcl", overrides={"train.learning_rate": 1.0})
    with pytest.raises(ValueError, match="unknown method"):
        make_config("ftcl++")
    with pytest.raises(ValueError, match="'ftcl.loss_form'"):
        make_config("ftcl", overrides={"ftcl": {"loss_form": "poem"}})
    with pytest.raises(ValueError, match="expects"):
        make_config("ftcl", overrides={"train.iterations": "many"})
    with pytest.raises(ValueError, match="unknown dataset/profile"):
        make_config("ftcl", "thumos14", "quick")


def test_proposals_must_fit_in_t(tiny_config, tiny_data, tmp_path):
    cfg = tiny_config("ftcl", tmp_path, **{"ftcl.lcs_len": 30})
    with pytest.raises(ValueError, match="lcs_len"):
        Trainer(cfg, data=tiny_data(cfg))


# ------------------------------------------------------------------ issue 10: selection, controls


def test_selection_considers_the_stage1_checkpoint(tiny_config, tiny_data, tmp_path):
    """Iteration 0 (the stage-1 weights) is evaluated and wins where stage 2 only damages: a
    stage-2 learning rate of 50 wrecks the model, so the held-out score cannot improve on it."""
    cfg = tiny_config("acmnet", tmp_path, **{"train.stage2_lr": 50.0})
    record = train(cfg, data=tiny_data(cfg))
    history = record["history"]
    assert history[0]["iteration"] == 0 and "holdout" in history[0]
    best = max(h["holdout"]["average_map"] for h in history)
    assert history[0]["holdout"]["average_map"] == best
    assert record["selection"]["selected_iteration"] == 0
    run = tmp_path / "synanet-quick" / "acmnet" / "seed0"
    stage1 = tmp_path / record["schedule"]["stage1"]["path"]  # relative to the work folder
    _assert_same_weights(_state(run / "best.pt"), _state(stage1))
    assert "iteration 0" in record["selection"]["rule"]
    assert "lr=50.0" in record["schedule"]["stage2"]["optimizer"]

    # Without select_stage1 the first candidate is iteration 3.
    cfg = tiny_config("acmnet", tmp_path / "no0", **{"train.stage2_lr": 50.0,
                                                    "train.select_stage1": False})
    record = train(cfg, data=tiny_data(cfg))
    assert record["history"][0]["iteration"] == 3
    assert record["selection"]["selected_iteration"] in (3, 6)


@pytest.mark.parametrize("method", ["control-meanpool", "control-shuffled-pairs",
                                    "control-stage1-only"])
def test_controls_build_train_and_write_a_record(tiny_config, tiny_data, method, tmp_path):
    assert METHODS[method].table == "Table 3 (control, beyond the paper)"
    assert make_config(method).train.iterations == (0 if method == "control-stage1-only" else 100)
    # TINY's user-level "train.iterations" would override the method's 0: keep the method's.
    extra = {"train.iterations": 0} if method == "control-stage1-only" else {}
    cfg = tiny_config(method, tmp_path, **extra)
    record = train(cfg, data=tiny_data(cfg))
    run = tmp_path / "synanet-quick" / method / "seed0"
    assert (run / "record.json").is_file() and record["method"] == method
    assert 0.0 <= record["average_map"] <= 1.0
    if method == "control-stage1-only":
        assert record["iterations"] == 4 and record["schedule"]["stage2"]["iterations"] == 0
        assert [h["iteration"] for h in record["history"]] == [0]
        assert record["selection"]["selected_iteration"] == 0
        stage1 = tmp_path / record["schedule"]["stage1"]["path"]  # relative to the work dir
        _assert_same_weights(_state(run / "last.pt"), _state(stage1))
    else:
        assert record["ftcl_terms"]["shuffle_pairs"] == (method == "control-shuffled-pairs")
        measure = "meanpool" if method == "control-meanpool" else "fsd"
        assert record["ftcl_terms"]["action_measure"] == measure
        assert "fsd/cls" in record["history"][-1]["grad_norms"]


def test_paper_form_is_its_own_method():
    cfg = make_config("ftcl-paper-form")
    assert cfg.ftcl.loss_form == "paper" and make_config("ftcl").ftcl.loss_form == "code"
    with pytest.raises(ValueError, match="'ftcl.background'"):
        make_config("ftcl", overrides={"ftcl.background": "context"})
    with pytest.raises(ValueError, match="'ftcl.lcs_threshold_form'"):
        make_config("ftcl", overrides={"ftcl.lcs_threshold_form": "rescale"})
    with pytest.raises(ValueError, match="'train.iterations'"):
        make_config("acmnet", overrides={"train.iterations": 0, "train.select_stage1": False})


def test_every_evaluation_uses_the_configured_batch_size(tiny_config, tiny_data, tmp_path,
                                                         monkeypatch):
    """train.eval_batch_size bounds the memory of every evaluation: the held-out ones that
    select the model, the test-set history and the final test (evaluate_model's own default,
    32, would pass the tiny runs' numbers unchanged, so the size itself is checked)."""
    import ftcl.train.trainer as trainer_module

    sizes = []
    real = trainer_module.evaluate_model

    def spy(model, dataset, spec, video_ids=None, batch_size=32, inference=None):
        sizes.append((dataset.split if video_ids is None else "holdout", batch_size))
        return real(model, dataset, spec, video_ids, batch_size, inference)

    monkeypatch.setattr(trainer_module, "evaluate_model", spy)
    cfg = tiny_config("acmnet", tmp_path, **{"train.eval_batch_size": 5})
    train(cfg, data=tiny_data(cfg))
    assert ("holdout", 5) in sizes and ("test", 5) in sizes
    assert {size for _, size in sizes} == {5}
