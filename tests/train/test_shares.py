"""Gradient shares (ftcl.train.diagnostics), planted labels in the batches, the one-stage
protocol and older checkpoints in the trainer (issue 21)."""

from __future__ import annotations

import math

import pytest
import torch

from ftcl.config import LATER_KEYS, from_dict, make_config, run_id, to_dict
from ftcl.data import PairBatches, VideoDataset
from ftcl.data.synthetic import load_snippet_labels
from ftcl.losses import FTCLObjective
from ftcl.models import build_backbone
from ftcl.train import load_checkpoint, train
from ftcl.train.diagnostics import average_shares, tail_start, term_gradient_norms

#: the trainer's tiny runs here: 10 stage-2 iterations (a tail of 1), 3 oracle snippets
MORE = {"train.iterations": 10, "train.eval_every": 5, "ftcl.oracle_snippets": 3}


def test_shares_are_ratios_on_the_parameters_both_terms_reach(acm_batch):
    cfg = make_config("ftcl", overrides={"model.embed_dim": 8, "ftcl.proj_dim": 8,
                                         "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
                                         "model.dropout": 0.0})
    torch.manual_seed(0)
    model = build_backbone("acmnet", 16, 3, cfg.model)
    objective = FTCLObjective(8, cfg.ftcl)
    feats, labels = acm_batch
    got = term_gradient_norms(model, objective, "acmnet", cfg.loss, feats, labels)
    # by hand: the FTCL terms reach the embedding convolution only
    from ftcl.losses.backbones import backbone_loss

    emb = list(model.embedding.parameters())
    out = model(feats)
    cls, _ = backbone_loss("acmnet", out, labels, cfg.loss)
    terms, _ = objective.terms(out, labels)

    def norm(loss):
        grads = torch.autograd.grad(loss, emb, retain_graph=True)
        return math.sqrt(sum(float(g.pow(2).sum()) for g in grads))

    assert got["share/fsd"] == pytest.approx(norm(terms["fsd"]) / norm(cls), rel=1e-6)
    assert got["share/lcs"] == pytest.approx(norm(terms["lcs"]) / norm(cls), rel=1e-6)
    assert got["share/both"] == pytest.approx(
        norm(terms["fsd"] + terms["lcs"]) / norm(cls), rel=1e-6)
    assert got["head/fsd"] > 0 and "head/lcs" not in got
    assert average_shares([got, got])["share/fsd"] == pytest.approx(got["share/fsd"])


def test_tail_starts_in_the_last_fraction():
    assert tail_start(100, 0.1) == 91  # iterations 91..100: ten
    assert tail_start(10, 0.1) == 10 and tail_start(7, 0.0001) == 7  # at least one
    assert tail_start(14, 0.5) == 8


def test_planted_labels_travel_with_the_sampled_snippets(tiny_root, tiny_spec):
    ds = VideoDataset(tiny_root, "train", tiny_spec, sampling="random", seed=3, planted=True)
    item = ds[2]
    full = load_snippet_labels(tiny_root, "train", item["video_id"])
    assert torch.equal(item["planted"], torch.from_numpy(full[item["sample_index"].numpy()]
                                                         .astype("int64")))
    batch = next(iter(PairBatches(ds, batch_size=2, seed=0)))
    assert batch["planted_a"].shape == (2, 24, 4)
    assert "planted" not in VideoDataset(tiny_root, "train", tiny_spec)[2]


@pytest.mark.parametrize("method, overrides, key", [
    ("acmnet", {"ftcl.oracle": "phase", "ftcl.lambda_oracle": 0.5}, "share/oracle"),
    ("ftcl", {}, "share/both"),
    ("ladder-b", {}, "share/both"),
])
def test_record_holds_the_tail_average_of_the_shares(method, overrides, key, tiny_config,
                                                     tiny_data, tmp_path):
    cfg = tiny_config(method, tmp_path, **MORE, **overrides)
    record = train(cfg, data=tiny_data(cfg))
    shares = record["grad_shares"]
    assert shares["iterations"] == 1 and shares["tail_fraction"] == 0.1  # ceil(0.1 x 10)
    assert shares["mean"][key] > 0
    assert key in record["history"][-1]["grad_norms"]
    if method == "acmnet":
        assert record["ftcl_terms"] is not None and "oracle" in record["history"][1]["train"]


def test_tail_measurement_leaves_the_training_unchanged(tiny_config, tiny_data, tmp_path):
    runs = []
    for tail in (0.0, 0.5):
        cfg = tiny_config("ftcl", tmp_path / str(tail), **MORE, **{"train.grad_share_tail": tail})
        runs.append(train(cfg, data=tiny_data(cfg)))
    assert runs[0]["grad_shares"] is None and runs[1]["grad_shares"]["iterations"] == 5
    assert runs[0]["history"][-1]["holdout"] == runs[1]["history"][-1]["holdout"]
    assert runs[0]["average_map"] == runs[1]["average_map"]


def test_records_and_checkpoints_from_before_the_new_keys_still_fit(tiny_config, tiny_data,
                                                                    tmp_path):
    cfg = tiny_config("ftcl", tmp_path, **{"train.iterations": 10, "train.eval_every": 5})
    old = to_dict(cfg)
    for key in LATER_KEYS:
        section, _, name = key.partition(".")
        del old[section][name]
    assert run_id(from_dict(old)) == run_id(cfg)  # an older record keeps its run id
    # a checkpoint written before the keys existed resumes
    train(cfg, data=tiny_data(cfg), stop_after=8)
    path = tmp_path / "synanet-quick" / "ftcl" / "seed0" / "last.pt"
    ckpt = load_checkpoint(path)
    ckpt["config"] = old
    torch.save(ckpt, path)
    assert train(cfg, data=tiny_data(cfg))["status"] == "finished"


def test_one_stage_trains_from_scratch_for_both_stages_iterations(tiny_config, tiny_data,
                                                                  tmp_path):
    cfg = tiny_config("ftcl-one-stage", tmp_path, **MORE)
    assert (cfg.train.pretrain_iterations, cfg.train.iterations) == (0, 14)
    assert not cfg.train.select_stage1 and cfg.train.stage2_lr is None
    assert make_config("ftcl-one-stage", "synthumos14", "full").train.iterations == 6250 + 2700
    record = train(cfg, data=tiny_data(cfg))
    assert record["schedule"]["stage2"]["init"] == "scratch"
    assert [h["iteration"] for h in record["history"]] == [5, 10, 14]
    assert record["selection"]["selected_iteration"] in (5, 10, 14)
