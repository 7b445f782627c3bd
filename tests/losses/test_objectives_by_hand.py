"""Each backbone objective and the FTCL objective's wiring against element-by-element references
written here: ACM-Net (instance weight, feature-norm hinge), STPN, W-TALC (CASL normaliser and
shared-class count), CoLA (SniCo signs, scores at 0 and 1), InfoNCE; and the FTCL head (which
slots project, which activation, the paper form's edges)."""

from __future__ import annotations

import math

import pytest
import torch

from ftcl.config import FTCLConfig, LossConfig
from ftcl.losses import acmnet_loss, backbone_loss, cola_loss, stpn_loss, total_loss, wtalc_loss
from ftcl.losses.backbones import info_nce
from ftcl.losses.contrast import FTCLObjective, cosine_matrix, proposal_indices
from ftcl.models.base import ModelOutput

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _cos(a, b):
    return float(a @ b) / math.sqrt(float(a @ a) * float(b @ b))


def _output(n=4, t=5, c=3, e=4, seed=0, **extras):
    g = _gen(seed)
    return ModelOutput(cas=torch.rand(n, t, c, generator=g, dtype=F64),
                       attention=torch.rand(n, t, generator=g, dtype=F64),
                       video_scores=torch.rand(n, c, generator=g, dtype=F64),
                       embeddings=torch.rand(n, t, e, generator=g, dtype=F64), extras=extras)


LABELS = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]], dtype=F64)


# ------------------------------------------------------------------------------ backbones


def test_acmnet_by_hand():
    n, t, c = 4, 5, 3
    g = _gen(1)
    probs = torch.softmax(torch.rand(n, 3, c + 1, generator=g, dtype=F64), dim=-1)
    att = torch.rand(n, t, 3, generator=g, dtype=F64)
    inst_cas = torch.rand(n, t, c + 1, generator=g, dtype=F64)
    feats = torch.rand(n, 3, 6, generator=g, dtype=F64) * torch.tensor([3.0, 5.0, 1.0],
                                                                        dtype=F64)[None, :, None]
    out = _output(video_probs=probs, branch_attention=att, instance_cas=inst_cas,
                  branch_features=feats)
    cfg = LossConfig(inst_weight=3.0, guide_weight=0.5, feat_weight=0.25, sparse_weight=0.125,
                     feat_margin=4.0)
    loss, parts = acmnet_loss(out, LABELS, cfg)
    ce = [0.0, 0.0, 0.0]
    for i in range(n):
        y = LABELS[i].tolist()
        targets = [y + [0.0], y + [1.0], [0.0] * c + [1.0]]
        for k, target in enumerate(targets):
            s = sum(target)
            ce[k] -= sum(v / s * math.log(float(probs[i, k, j]) + 1e-10)
                         for j, v in enumerate(target)) / n
    guide = sum(abs(1 - float(inst_cas[i, s, -1]) - float(att[i, s, 0]))
                for i in range(n) for s in range(t)) / n
    feat = 0.0
    for i in range(n):
        ni, nc, nb = (float(feats[i, k].norm()) for k in range(3))
        feat += (max(0.0, 4.0 - ni + nc) + max(0.0, 4.0 - nc + nb) + nb) ** 2 / n
    # sum over time of the instance and context attention, averaged over videos and branches
    sparse = sum(float(att[i, s, 0] + att[i, s, 1]) for i in range(n) for s in range(t)) / (2 * n)
    assert [parts[k].item() for k in ("inst", "cont", "back")] == pytest.approx(ce, rel=1e-12)
    assert parts["guide"].item() == pytest.approx(guide, rel=1e-12)
    assert parts["feat"].item() == pytest.approx(feat, rel=1e-12)
    assert parts["sparse"].item() == pytest.approx(sparse, rel=1e-12)
    want = 3.0 * ce[0] + ce[1] + ce[2] + 0.5 * guide + 0.25 * feat + 0.125 * sparse
    assert loss.item() == pytest.approx(want, rel=1e-12)


def test_stpn_by_hand():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0], [1.0, 1.0, 1.0], [-1.0, 0.0, 3.0]],
                          dtype=F64)
    out = _output(seed=2, video_logits=logits)
    out.attention = out.attention * 2 - 1  # signed: the L1 norm takes absolute values
    loss, parts = stpn_loss(out, LABELS, LossConfig(stpn_sparsity=0.3))
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    bce = sum(-(y * math.log(sig(x)) + (1 - y) * math.log(1 - sig(x)))
              for row, lab in zip(logits.tolist(), LABELS.tolist(), strict=True)
              for x, y in zip(row, lab, strict=True)) / 12
    l1 = float(out.attention.abs().sum()) / 4
    assert parts["cls"].item() == pytest.approx(bce, rel=1e-12)
    assert parts["sparsity"].item() == pytest.approx(l1, rel=1e-12)
    assert loss.item() == pytest.approx(bce + 0.3 * l1, rel=1e-12)


def _casl_reference(feats, logits, labels, margin):
    n2, t, c = logits.shape
    n = n2 // 2
    total, count = 0.0, 0
    for i in range(n):
        for k in range(c):
            if labels[i, k] * labels[i + n, k] == 0:
                continue
            hl = {}
            for v in (i, i + n):
                a = torch.softmax(logits[v, :, k], dim=0)
                hl[v] = (sum(a[s] * feats[v, s] for s in range(t)),
                         sum((1 - a[s]) * feats[v, s] for s in range(t)) / (t - 1))
            d = lambda x, y: 1 - _cos(x, y)  # noqa: E731
            (ha, la), (hb, lb) = hl[i], hl[i + n]
            total += 0.5 * (max(0.0, d(ha, hb) - d(ha, lb) + margin)
                            + max(0.0, d(ha, hb) - d(la, hb) + margin))
            count += 1
    return total / max(count, 1)


@pytest.mark.parametrize("pair_labels", [
    [[1, 0, 1], [0, 1, 0], [1, 1, 1], [0, 0, 1]],   # pair 0 shares classes 0 and 2
    [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]],   # exactly one shared class
])
def test_wtalc_by_hand(pair_labels):
    labels = torch.tensor(pair_labels, dtype=F64)
    g = _gen(3)
    n2, t, c, e = 4, 7, 3, 5  # T != number of pairs, T != C
    logits = torch.randn(n2, t, c, generator=g, dtype=F64) * 2
    feats = torch.randn(n2, t, e, generator=g, dtype=F64)
    video_logits = torch.randn(n2, c, generator=g, dtype=F64)
    out = _output(seed=3, logits=logits, casl_features=feats, video_logits=video_logits)
    cfg = LossConfig(wtalc_lambda=0.25, wtalc_margin=0.75)
    loss, parts = wtalc_loss(out, labels, cfg)
    mil = 0.0
    for i in range(n2):
        lse = math.log(sum(math.exp(float(x)) for x in video_logits[i]))
        mil -= sum(float(labels[i, k]) / float(labels[i].sum()) * (float(video_logits[i, k]) - lse)
                   for k in range(c)) / n2
    casl = _casl_reference(feats, logits, labels, 0.75)
    assert casl > 0
    assert parts["mil"].item() == pytest.approx(mil, rel=1e-12)
    assert parts["casl"].item() == pytest.approx(casl, rel=1e-9)
    assert loss.item() == pytest.approx(0.25 * mil + 0.75 * casl, rel=1e-9)


def test_info_nce_by_hand_with_unnormalised_inputs():
    g = _gen(4)
    q, k = torch.randn(3, 4, generator=g, dtype=F64) * 3, torch.randn(3, 4, generator=g, dtype=F64)
    neg = torch.randn(3, 2, 4, generator=g, dtype=F64) * 5
    got = info_nce(q, k, neg, 0.5)
    want = 0.0
    for i in range(3):
        logits = [_cos(q[i], k[i]) / 0.5] + [_cos(q[i], neg[i, j]) / 0.5 for j in range(2)]
        want += -(logits[0] - math.log(sum(math.exp(x) for x in logits))) / 3
    assert got.item() == pytest.approx(want, rel=1e-12)


def test_info_nce_makes_its_target_on_the_logits_device_not_the_default_one():
    """CPU inputs under another default device (``meta``, which holds no values): the target
    must still be a CPU tensor, so the loss is the CPU value written out by hand."""
    q, k = torch.tensor([[1.0, 0.0]], dtype=F64), torch.tensor([[2.0, 0.0]], dtype=F64)
    neg = torch.tensor([[[0.0, 3.0], [-1.0, 0.0]]], dtype=F64)
    with torch.device("meta"):
        got = info_nce(q, k, neg, 0.5)
    assert got.device.type == "cpu"
    assert got.item() == pytest.approx(-2.0 + math.log(math.exp(2.0) + 1.0 + math.exp(-2.0)),
                                       rel=1e-12)

def test_cola_by_hand_with_scores_at_zero_and_one():
    g = _gen(5)
    parts_in = {k: torch.randn(4, 3, 6, generator=g, dtype=F64)
                for k in ("hard_act", "easy_act", "hard_bkg", "easy_bkg")}
    out = _output(seed=5, **parts_in)
    # a score of 0 where the label is 1/2 and a score of 1 where it is 1/2 (row 1): the clamp,
    # not BCE's own log clip at -100, decides those terms
    out.video_scores = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [0.9, 0.1, 0.0],
                                     [0.0, 0.0, 1.0]], dtype=F64)
    cfg = LossConfig(cola_snico_weight=0.5, cola_temperature=0.2)
    loss, parts = cola_loss(out, LABELS, cfg)
    eps = 1e-10
    bce = 0.0
    for i in range(4):
        y = LABELS[i] / LABELS[i].sum()
        for k in range(3):
            p = min(max(float(out.video_scores[i, k]), eps), 1 - eps)
            bce -= (float(y[k]) * math.log(p) + (1 - float(y[k])) * math.log(1 - p)) / 12

    def nce(query, key, negatives):
        total = 0.0
        for i in range(4):
            logits = [_cos(query[i], key[i]) / 0.2] + [_cos(query[i], negatives[i, j]) / 0.2
                                                      for j in range(negatives.shape[1])]
            total += -(logits[0] - math.log(sum(math.exp(x) for x in logits))) / 4
        return total

    x = parts_in
    snico = (nce(x["hard_act"].mean(1), x["easy_act"].mean(1), x["easy_bkg"])
             + nce(x["hard_bkg"].mean(1), x["easy_bkg"].mean(1), x["easy_act"]))
    assert parts["cls"].item() == pytest.approx(bce, rel=1e-9)
    assert parts["snico"].item() == pytest.approx(snico, rel=1e-9)
    assert loss.item() == pytest.approx(bce + 0.5 * snico, rel=1e-9)


def test_backbone_loss_errors_and_total_loss_parts():
    out = _output(seed=6, video_logits=torch.zeros(4, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"^unknown backbone 'bmn'; choose one of \['acmnet', "
                                         r"'cola', 'stpn', 'wtalc'\]$"):
        backbone_loss("bmn", out, LABELS, LossConfig())
    with pytest.raises(ValueError, match=r"^labels \(4, 2\) do not match the video scores "
                                         r"\(4, 3\)$"):
        backbone_loss("stpn", out, LABELS[:, :2], LossConfig())
    loss, parts = total_loss("stpn", out, LABELS, LossConfig())
    cls, stpn_parts = stpn_loss(out, LABELS, LossConfig())
    assert set(parts) == {"cls", "cls/cls", "cls/sparsity", "loss"}
    assert parts["cls"] == cls and parts["loss"] == loss == cls
    assert parts["cls/sparsity"] == stpn_parts["sparsity"]


# ------------------------------------------------------------------------------ FTCL head


def test_which_slots_project():
    assert FTCLObjective(4, FTCLConfig(pair_measure="lcs")).projection is None
    assert FTCLObjective(4, FTCLConfig(pair_measure="dtw")).projection is None
    assert FTCLObjective(4, FTCLConfig(pair_measure="fsd", proj_dim=6)).projection.out_features == 6
    assert FTCLObjective(4, FTCLConfig(action_measure="dtw")).projection is not None


@pytest.mark.parametrize("activation, fn", [("relu", torch.relu), ("tanh", torch.tanh),
                                            ("sigmoid", torch.sigmoid), ("none", lambda z: z)])
def test_paper_form_activation_and_code_form_linear(activation, fn):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4)
    paper = FTCLObjective(4, FTCLConfig(action_measure="fsd", loss_form="paper",
                                        activation=activation, proj_dim=6))
    z = paper.projection(x)
    torch.testing.assert_close(paper.project(x), fn(z))
    code = FTCLObjective(4, FTCLConfig(action_measure="fsd", loss_form="code",
                                       activation=activation, proj_dim=6))
    torch.testing.assert_close(code.project(x), code.projection(x))


def _pairs(n_pos, n_neg, t=8, e=4, seed=7):
    """``cat([a, b])`` outputs: n_pos pairs sharing class 0, then n_neg pairs sharing none."""
    n = n_pos + n_neg
    labels = torch.zeros(2 * n, 2)
    labels[:n_pos, 0] = labels[n:n + n_pos, 0] = 1
    labels[n_pos:n, 0] = labels[n + n_pos:, 1] = 1
    g = _gen(seed)
    out = ModelOutput(cas=torch.rand(2 * n, t, 2, generator=g),
                      attention=torch.rand(2 * n, t, generator=g),
                      video_scores=torch.rand(2 * n, 2, generator=g),
                      embeddings=torch.rand(2 * n, t, e, generator=g) + 0.1)
    return out, labels


def test_paper_form_fsd_hinge_over_three_positive_pairs():
    torch.manual_seed(0)
    cfg = FTCLConfig(action_measure="meanpool", loss_form="paper", fsd_len=2, proj_dim=4,
                     activation="none", fsd_margin=0.5)
    obj = FTCLObjective(4, cfg)
    out, labels = _pairs(3, 1)
    _, parts = obj(out, labels)
    index = proposal_indices(out.attention, 2)
    proj = obj.project
    act = proj(out.embeddings[torch.arange(8)[:, None], index["action"]])
    bkg = proj(out.embeddings[torch.arange(8)[:, None], index["background"]])
    hinge = [max(0.0, 0.5 - _cos(act[i].mean(0), act[i + 4].mean(0))
                 + _cos(act[i].mean(0), bkg[i + 4].mean(0))) for i in range(3)]
    assert parts["fsd"].item() == pytest.approx(sum(hinge) / 3, rel=1e-5)


def test_paper_form_without_positive_pairs_is_zero():
    obj = FTCLObjective(4, FTCLConfig(action_measure="fsd", loss_form="paper", fsd_len=2,
                                      proj_dim=4))
    out, labels = _pairs(0, 2)
    out.embeddings.requires_grad_()
    total, parts = obj(out, labels)
    assert parts["fsd"].item() == 0.0 and total.item() == 0.0
    total.backward()  # still part of the graph
    assert out.embeddings.grad is not None


@pytest.mark.parametrize("positive, want", [(True, -math.log(1e-6)), (False, -math.log(1e-6))])
def test_paper_form_lcs_probability_is_kept_off_0_and_1(positive, want):
    """r = 0 for a positive pair (no match) or r = 1 for a negative one (all match) costs
    -log(1e-6), not the -log(0) that BCE would clip at 100."""
    cfg = FTCLConfig(pair_measure="lcs", loss_form="paper", lcs_len=3, tau=0.5)
    obj = FTCLObjective(4, cfg)
    same = torch.ones(1, 3, 4, dtype=F64)
    if positive:  # orthogonal sequences: no match at all, r = 0
        seq = torch.cat([same * torch.tensor([1.0, 0, 0, 0], dtype=F64),
                         same * torch.tensor([0, 1.0, 0, 0], dtype=F64)])
    else:  # identical sequences: every snippet matches, r = 1
        seq = torch.cat([same, same])
    loss, _ = obj.pair_loss(seq, torch.tensor([positive]))
    assert loss.item() == pytest.approx(want, rel=1e-9)


def test_fsd_in_the_pair_slot_projects_first():
    torch.manual_seed(0)
    cfg = FTCLConfig(pair_measure="fsd", loss_form="code", lcs_len=3, proj_dim=4, gamma=10.0,
                     term_scale="raw")
    obj = FTCLObjective(4, cfg)
    out, labels = _pairs(1, 1)
    seq = out.embeddings[:, :3]
    loss, _ = obj.pair_loss(seq, torch.tensor([True, False]))
    from ftcl.dp.reference import fsd_reference

    z = obj.project(seq)
    score = []
    for i in range(2):
        mu = cosine_matrix(z[i:i + 1, :, :2], z[i + 2:i + 3, :, :2])[0]
        g = cosine_matrix(z[i:i + 1, :, 2:], z[i + 2:i + 3, :, 2:])[0]
        score.append(fsd_reference(mu, g, g, gamma=10.0))
    assert loss.item() == pytest.approx((score[1] - score[0]).item(), rel=1e-5)


def test_terms_keys_weights_and_auxiliary_term():
    torch.manual_seed(0)
    cfg = FTCLConfig(action_measure="ccdtw", pair_measure="ccdtw", fsd_len=2, lcs_len=3,
                     proj_dim=4, lambda_fsd=0.5, lambda_lcs=0.25, cc_weight=2.0)
    obj = FTCLObjective(4, cfg)
    out, labels = _pairs(1, 1)
    terms, parts = obj.terms(out, labels)
    assert set(terms) == set(parts) == {"fsd", "lcs"}
    index = proposal_indices(out.attention, 2, 3)
    emb = out.embeddings
    pick = lambda k: emb.gather(1, index[k].unsqueeze(-1).expand(-1, -1, 4))  # noqa: E731
    _, aux_fsd = obj.action_background_loss(pick("action"), pick("background"),
                                            torch.tensor([True, False]))
    _, aux_lcs = obj.pair_loss(pick("lcs"), torch.tensor([True, False]))
    assert aux_fsd.item() > 0 and aux_lcs.item() > 0
    assert terms["fsd"].item() == pytest.approx(0.5 * parts["fsd"].item() + aux_fsd.item())
    assert terms["lcs"].item() == pytest.approx(0.25 * parts["lcs"].item() + aux_lcs.item())
    only_lcs = FTCLObjective(4, FTCLConfig(pair_measure="lcs", lcs_len=3, fsd_len=2))
    assert set(only_lcs.terms(out, labels)[0]) == {"lcs"}


@pytest.mark.parametrize("n_videos", [0, 3])
def test_terms_need_an_even_number_of_videos(n_videos):
    obj = FTCLObjective(4, FTCLConfig(pair_measure="lcs", lcs_len=3, fsd_len=2))
    out, labels = _pairs(1, 1)
    with pytest.raises(ValueError, match=rf"^FTCL needs pairs laid out as cat\(\[a, b\]\); got "
                                         rf"{n_videos} videos$"):
        obj.terms(out, labels[:n_videos])


def test_cosine_of_a_near_zero_vector_is_near_zero():
    tiny = torch.full((1, 1, 3), 1e-10, dtype=F64)
    unit = torch.ones(1, 1, 3, dtype=F64)
    assert cosine_matrix(tiny, unit).abs().max().item() < 0.05
    assert cosine_matrix(unit, tiny).abs().max().item() < 0.05
