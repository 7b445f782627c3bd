"""FTCLObjective.terms under the oracle / ladder keys (issue 21), pinned against a wiring written
out here: which keys the returned dicts hold, the oracle term's weight, the planted proposals and
planted match keys it feeds the FSD / LCS terms, and the oracle loss against the SupCon definition
(with ``oracle_snippets >= T`` every snippet is drawn, so the draw does not matter)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ftcl.config import make_config
from ftcl.losses import FTCLObjective
from ftcl.losses.contrast import gather_snippets, masked_mean, sequence_score
from ftcl.losses.oracle import oracle_loss
from ftcl.models.base import ModelOutput

T = 6


def _batch():
    """4 videos (pairs 0-2 positive, 1-3 negative) of T=6 snippets, planted labels by hand."""
    g = torch.Generator().manual_seed(3)
    emb = torch.randn(4, T, 5, generator=g)
    att = torch.rand(4, T, generator=g)
    labels = torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1]])
    region = torch.tensor([[1, 1, 0, 1, 0, 0], [0, 1, 1, 0, 0, 1],
                           [1, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0]])
    phase = torch.tensor([[0, 1, 0, 2, 0, 0], [0, 0, 1, 0, 0, 2],
                          [0, 0, 1, 2, 0, 0], [0, 0, 0, 1, 1, 0]])
    cls = torch.tensor([0, 0, 0, 1])[:, None].expand(4, T)
    planted = torch.stack([cls, phase, torch.zeros_like(cls), region], dim=-1).float()
    out = ModelOutput(cas=torch.zeros(4, T, 2), attention=att, video_scores=torch.zeros(4, 2),
                      embeddings=emb)
    return out, labels, planted


def _supcon(z, keys, anchors, temperature):
    n, losses = len(z), []
    for i in range(n):
        pos = [p for p in range(n) if p != i and keys[p] == keys[i]]
        if not anchors[i] or not pos:
            continue
        denom = sum(math.exp(float(z[i] @ z[a]) / temperature) for a in range(n) if a != i)
        losses.append(-sum(float(z[i] @ z[p]) / temperature - math.log(denom) for p in pos)
                      / len(pos))
    return sum(losses) / len(losses)


def _oracle_reference(name, emb, planted, temperature):
    z = F.normalize(emb.reshape(-1, emb.shape[-1]), dim=-1)
    lab = planted.reshape(-1, 4).long()
    action = lab[:, 3] == 1
    keep = action if name == "action-phase" else torch.ones_like(action)
    keys = []
    for i, row in enumerate(lab.tolist()):
        key = (row[0], row[1]) if name in ("phase", "action-phase") else (row[0],)
        keys.append(key if action[i] else ("own", i))
    idx = keep.nonzero().flatten().tolist()
    return _supcon(z[idx], [keys[i] for i in idx], action[idx].tolist(), temperature)


@pytest.mark.parametrize("name", ["phase", "class", "action-phase"])
def test_oracle_loss_is_supcon_over_every_snippet(name):
    """Pins oracle_loss's keys (class*stride+phase vs class), own keys of background and the
    action-phase restriction, and the temperature, against the per-anchor SupCon definition."""
    out, _, planted = _batch()
    got = oracle_loss(name, out.embeddings, out.attention, planted, per_video=T, temperature=0.3)
    want = _oracle_reference(name, out.embeddings, planted, 0.3)
    assert float(got) == pytest.approx(want, rel=1e-5)
    default = oracle_loss(name, out.embeddings, out.attention, planted, per_video=T)
    assert float(default) == pytest.approx(_oracle_reference(name, out.embeddings, planted, 0.1),
                                           rel=1e-5)


def test_mask_oracle_clamps_and_error_messages():
    """Pins the mask oracle's clamp at 1e-6 and oracle_loss's exact error messages."""
    out, _, planted = _batch()
    att = (planted[..., 3] == 1).float()  # perfect attention: only the clamp keeps it finite
    got = oracle_loss("mask", out.embeddings, att, planted)
    assert float(got) == pytest.approx(-math.log(1.0 - 1e-6), rel=2e-2)
    with pytest.raises(ValueError) as err:
        oracle_loss("phase", out.embeddings, att, None)
    assert str(err.value) == ("oracle term 'phase' needs the planted snippet labels of the batch "
                              "(synthetic data only)")
    with pytest.raises(ValueError) as err:
        oracle_loss("phase", out.embeddings, att, planted[:, :3])
    assert str(err.value) == ("planted labels (4, 3, 4) do not match the embeddings (4, 6, 5)")
    with pytest.raises(ValueError, match=r"^unknown oracle 'nope'; choose one of \("):
        oracle_loss("nope", out.embeddings, att, planted)


def _planted_index(att, planted, n):
    """Top-n planted action (resp. non-action) snippets by attention, in time order."""
    act, bkg = [], []
    for a, p in zip(att.tolist(), planted[..., 3].tolist(), strict=True):
        order = sorted(range(T), key=lambda t: -a[t])
        act.append(sorted([t for t in order if p[t] == 1][:n]))
        bkg.append(sorted([t for t in order if p[t] != 1][:n]))
    return torch.tensor(act), torch.tensor(bkg)


def _keys(planted, index):
    k = planted[..., 0].long() * 64 + planted[..., 1].long()
    own = -1 - torch.arange(4 * T).view(4, T)
    return torch.where(planted[..., 3] == 1, k, own).gather(1, index)


@pytest.mark.parametrize("form", ["code", "paper"])
@pytest.mark.parametrize("oracle", ["none", "class"])
def test_ladder_terms_match_a_wiring_by_hand(form, oracle):
    """Pins terms' keys, the oracle weight and parts, and that the planted proposals and planted
    match keys reach the FSD and LCS terms (fsd_head none: no parameters, so exact values)."""
    out, labels, planted = _batch()
    cfg = make_config("ladder-c", overrides={
        "ftcl.fsd_len": 2, "ftcl.lcs_len": 2, "ftcl.loss_form": form, "ftcl.oracle": oracle,
        "ftcl.lambda_oracle": 0.7, "ftcl.oracle_snippets": T, "ftcl.oracle_temperature": 0.3,
        "ftcl.lambda_fsd": 2.0, "ftcl.lambda_lcs": 3.0, "ftcl.term_scale": "raw"}).ftcl
    assert cfg.proposals == "planted" and cfg.matches == "planted"
    objective = FTCLObjective(5, cfg)
    terms, parts = objective.terms(out, labels, planted)
    want_keys = {"fsd", "lcs"} | ({"oracle"} if oracle != "none" else set())
    assert set(terms) == want_keys and set(parts) == want_keys
    if oracle != "none":
        ref = _oracle_reference(oracle, out.embeddings, planted, 0.3)
        assert float(parts["oracle"]) == pytest.approx(ref, rel=1e-5)
        assert float(terms["oracle"]) == pytest.approx(0.7 * ref, rel=1e-5)
    act, bkg = _planted_index(out.attention, planted, 2)
    e = torch.cat([out.embeddings, out.embeddings], dim=-1)  # headless: [x | x]
    a, b = gather_snippets(e, act), gather_snippets(e, bkg)
    ka, kb = _keys(planted, act), _keys(planted, bkg)
    positive = torch.tensor([True, False])
    if form == "code":
        other = torch.stack([a[2], b[3]])
        k_other = torch.stack([ka[2], kb[3]])
        match = ka[:2, :, None] == k_other[:, None, :]
        s, _ = sequence_score(cfg.action_measure, a[:2], other, cfg, match)
        fsd = masked_mean(s, ~positive) - masked_mean(s, positive)
    else:
        match = torch.stack([ka[0][:, None] == ka[2][None, :], ka[0][:, None] == kb[2][None, :]])
        s, _ = sequence_score(cfg.action_measure, torch.stack([a[0], a[0]]),
                              torch.stack([a[2], b[2]]), cfg, match)
        fsd = F.relu(cfg.fsd_margin - s[0] + s[1]).mean()
    assert float(parts["fsd"]) == pytest.approx(float(fsd), abs=1e-5)
    assert float(terms["fsd"]) == pytest.approx(2.0 * float(fsd), abs=1e-5)
    seq = gather_snippets(out.embeddings, act)
    kl = _keys(planted, act)
    s, _ = sequence_score(cfg.pair_measure, seq[:2], seq[2:], cfg,
                          kl[:2, :, None] == kl[2:, None, :])
    if form == "code":
        lcs = masked_mean(s, ~positive) - masked_mean(s, positive)
    else:
        r = (s / 2).clamp(1e-6, 1 - 1e-6)
        lcs = F.binary_cross_entropy(r, positive.float())
    assert float(parts["lcs"]) == pytest.approx(float(lcs), abs=1e-4)
    total, _ = objective(out, labels, planted)
    assert float(total) == pytest.approx(sum(float(v) for v in terms.values()), abs=1e-5)


def test_oracle_alone_has_only_the_oracle_key():
    """With both measures off, terms holds the oracle term only; planted proposals need labels."""
    out, labels, planted = _batch()
    cfg = make_config("ladder-c", overrides={
        "ftcl.fsd_len": 2, "ftcl.lcs_len": 2, "ftcl.oracle": "mask", "ftcl.lambda_oracle": 0.5,
        "ftcl.action_measure": "none", "ftcl.pair_measure": "none"}).ftcl
    terms, parts = FTCLObjective(5, cfg).terms(out, labels, planted)
    assert set(terms) == {"oracle"} and set(parts) == {"oracle"}
    ref = oracle_loss("mask", out.embeddings, out.attention, planted)
    assert float(terms["oracle"]) == pytest.approx(0.5 * float(ref))
    cfg2 = make_config("ladder-c", overrides={"ftcl.fsd_len": 2, "ftcl.lcs_len": 2}).ftcl
    with pytest.raises(ValueError) as err:
        FTCLObjective(5, cfg2).terms(out, labels, None)
    assert str(err.value) == ("ftcl.proposals / ftcl.matches = 'planted' need the planted "
                              "snippet labels of the batch (synthetic data only)")


# ------------------------------------------------------------ issue 20: what the survivors missed


def test_planted_mismatch_scores_minus_one_in_fsd():
    """One snippet each, equal embeddings, the cell not a planted match: mu = -1 replaces the
    cosine 1, g = 1, so FSD = -1 + (1/gamma) log(exp(0) + 2 exp(gamma g)) (Eq. 2, S(0, .) = 0)."""
    cfg = make_config("ladder-c", overrides={"ftcl.term_scale": "raw", "ftcl.gamma": 10.0}).ftcl
    x = torch.tensor([[[1.0, 0.0, 1.0, 0.0]]])  # [f_mu | f_g]
    score, _ = sequence_score("fsd", x, x.clone(), cfg, torch.tensor([[[False]]]))
    assert float(score) == pytest.approx(-1.0 + math.log(1.0 + 2.0 * math.exp(10.0)) / 10.0,
                                         abs=1e-5)


def test_planted_mismatch_scores_minus_one_in_lcs():
    """Below tau = -1.5 every cell matches: a planted mismatch keeps the similarity -1 (still
    above tau, so the one-cell LCS is -1), not the cosine 1."""
    cfg = make_config("ladder-c", overrides={"ftcl.term_scale": "raw", "ftcl.tau": -1.5}).ftcl
    x = torch.ones(1, 1, 3)
    score, _ = sequence_score("lcs", x, x.clone(), cfg, torch.tensor([[[False]]]))
    assert float(score) == pytest.approx(-1.0)


def test_quantile_tau_rule_replaces_the_fixed_tau():
    """Cosines 0.5 on the diagonal, 0 elsewhere: the median of the 9 (0) is tau, so the three
    diagonal cells match (LCS 1.5), where the fixed tau 0.92 matches none."""
    x = torch.eye(6)[:3].unsqueeze(0)
    y = (0.5 * torch.eye(6)[:3] + math.sqrt(0.75) * torch.eye(6)[3:]).unsqueeze(0)
    over = {"ftcl.term_scale": "raw", "ftcl.tau": 0.92}
    quantile = make_config("ladder-d", overrides=over).ftcl
    fixed = make_config("ladder-d", overrides={**over, "ftcl.lcs_tau_rule": "fixed"}).ftcl
    assert float(sequence_score("lcs", x, y, quantile)[0]) == pytest.approx(1.5, abs=1e-5)
    assert float(sequence_score("lcs", x, y, fixed)[0]) == pytest.approx(0.0)


def test_terms_with_both_slots_off_need_no_planted_labels():
    """With both measures and the oracle off, terms returns nothing, even under the planted
    ladder keys, and so never asks for the planted labels."""
    out, labels, _ = _batch()
    cfg = make_config("ladder-c", overrides={"ftcl.action_measure": "none",
                                             "ftcl.pair_measure": "none"}).ftcl
    assert cfg.proposals == "planted" and cfg.matches == "planted"
    assert FTCLObjective(5, cfg).terms(out, labels, None) == ({}, {})


def test_planted_matches_cut_lcs_cells_in_terms():
    """All embeddings equal (every cosine 1 > tau): only the planted matches limit LCS. Each
    video has two planted action snippets (the LCS sequence, J=2). Pair 0 (positive) has phases
    (0, 1) vs (1, 0) of class 0: the matches are the anti-diagonal, LCS 1 (without them 2);
    pair 1 (negative) has class 0 vs class 1: no match, LCS 0 (without them 2). Code form:
    L_LCS = mean(negatives) - mean(positives) = 0 - 1."""
    region = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]])
    phase = torch.tensor([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    cls = torch.tensor([0, 0, 0, 1])[:, None].expand(4, 4)
    planted = torch.stack([cls, phase, torch.zeros_like(cls), region], dim=-1).float()
    att = torch.rand(4, 4, generator=torch.Generator().manual_seed(0))
    out = ModelOutput(cas=torch.zeros(4, 4, 2), attention=att,
                      video_scores=torch.zeros(4, 2), embeddings=torch.ones(4, 4, 3))
    labels = torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1]])
    cfg = make_config("ladder-b", overrides={
        "ftcl.action_measure": "none", "ftcl.fsd_len": 2, "ftcl.lcs_len": 2,
        "ftcl.term_scale": "raw", "ftcl.lambda_lcs": 3.0, "ftcl.tau": 0.92}).ftcl
    terms, parts = FTCLObjective(3, cfg).terms(out, labels, planted)
    assert set(terms) == {"lcs"}
    assert float(parts["lcs"]) == pytest.approx(-1.0, abs=1e-5)
    assert float(terms["lcs"]) == pytest.approx(-3.0, abs=1e-5)


def test_total_loss_hands_the_planted_labels_to_the_objective():
    """Eq. 8 with the mask oracle: total - L_cls = lambda_oracle x BCE(attention, planted
    action mask), the BCE written out here."""
    from ftcl.config import LossConfig, ModelConfig
    from ftcl.losses import total_loss
    from ftcl.models import build_backbone

    torch.manual_seed(0)
    model = build_backbone("acmnet", 16, 2, ModelConfig(embed_dim=5)).eval()
    _, labels, planted = _batch()
    out = model(torch.randn(4, T, 16))
    cfg = make_config("acmnet", overrides={"ftcl.oracle": "mask", "ftcl.lambda_oracle": 0.5,
                                           "ftcl.action_measure": "none",
                                           "ftcl.pair_measure": "none"}).ftcl
    loss, parts = total_loss("acmnet", out, labels, LossConfig(), FTCLObjective(5, cfg), planted)
    a, y = out.attention.detach().double(), (planted[..., 3] == 1).double()
    bce = float(-(y * a.log() + (1 - y) * (1 - a).log()).mean())
    assert float(parts["oracle"]) == pytest.approx(bce, rel=1e-5)
    assert float(loss.detach() - parts["cls"]) == pytest.approx(0.5 * bce, rel=1e-4)
