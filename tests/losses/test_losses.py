"""Losses: backbone objectives by hand, FTCL terms against per-pair loops on ftcl.dp.reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ftcl import dp
from ftcl.config import MEASURES, FTCLConfig, LossConfig, ModelConfig, make_config
from ftcl.dp.reference import fsd_reference, lcs_reference
from ftcl.losses import FTCLObjective, total_loss
from ftcl.losses.backbones import acmnet_loss, cola_loss, info_nce, stpn_loss, wtalc_loss
from ftcl.losses.contrast import fsd_bound, proposal_indices, sequence_score
from ftcl.models import ModelOutput, build_backbone


@pytest.fixture(autouse=True)
def _float64():
    """These value checks run in double precision (restored afterwards)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _output(n: int, t: int, c: int, e: int, **extras) -> ModelOutput:
    return ModelOutput(cas=torch.rand(n, t, c), attention=torch.rand(n, t),
                       video_scores=torch.rand(n, c), embeddings=torch.randn(n, t, e),
                       extras=extras)


# ------------------------------------------------------------------------- backbone objectives


def test_acmnet_loss_by_hand():
    n, t, c = 4, 10, 3
    probs = torch.full((n, 3, c + 1), 1.0 / (c + 1))
    att = torch.tensor([0.5, 0.3, 0.2]).expand(n, t, 3)
    inst_cas = torch.full((n, t, c + 1), 0.3)
    inst_cas[..., -1] = 0.1
    feats = torch.zeros(n, 3, 7)
    feats[:, 0, 0], feats[:, 1, 1], feats[:, 2, 2] = 60.0, 5.0, 2.0  # norms 60, 5, 2
    out = _output(n, t, c, 7, video_probs=probs, branch_attention=att, instance_cas=inst_cas,
                  branch_features=feats)
    labels = torch.zeros(n, c)
    labels[:, 0] = 1
    labels[0, 1] = 1  # a two-class video: targets are normalised, CE stays log(C+1)
    cfg = LossConfig(inst_weight=2.0, guide_weight=0.1, feat_weight=0.01, sparse_weight=0.5)
    loss, parts = acmnet_loss(out, labels, cfg)
    ce = math.log(c + 1)
    guide = t * abs(1 - 0.1 - 0.5)
    feat = (0 + (50 - 5 + 2) + 2) ** 2  # relu(50-60+5)=0, relu(50-5+2)=47, n_b=2
    sparse = t * (0.5 + 0.3) / 2
    assert parts["inst"].item() == pytest.approx(ce)
    assert parts["guide"].item() == pytest.approx(guide)
    assert parts["feat"].item() == pytest.approx(feat)
    assert parts["sparse"].item() == pytest.approx(sparse)
    expected = 2.0 * ce + ce + ce + 0.1 * guide + 0.01 * feat + 0.5 * sparse
    assert loss.item() == pytest.approx(expected)


def test_acmnet_targets():
    """Instance target [y, 0], context [y, 1], background [0, 1] (each normalised)."""
    n, t, c = 2, 4, 3
    labels = torch.tensor([[1.0, 0, 0], [0, 1.0, 1.0]])
    # Put all probability mass on the right answers: the CE is then the target entropy.
    probs = torch.stack([
        torch.cat([labels, torch.zeros(n, 1)], 1),
        torch.cat([labels, torch.ones(n, 1)], 1),
        torch.cat([torch.zeros(n, c), torch.ones(n, 1)], 1),
    ], 1)
    probs = probs / probs.sum(-1, keepdim=True)
    out = _output(n, t, c, 3, video_probs=probs, branch_attention=torch.rand(n, t, 3),
                  instance_cas=torch.rand(n, t, c + 1), branch_features=torch.zeros(n, 3, 3))
    _, parts = acmnet_loss(out, labels, LossConfig())
    entropy = lambda k: math.log(k)  # noqa: E731 - uniform over k classes
    assert parts["inst"].item() == pytest.approx((entropy(1) + entropy(2)) / 2)
    assert parts["cont"].item() == pytest.approx((entropy(2) + entropy(3)) / 2)
    assert parts["back"].item() == pytest.approx(0.0, abs=1e-8)


def test_stpn_loss_by_hand():
    out = _output(2, 5, 3, 4, video_logits=torch.zeros(2, 3))
    out.attention = torch.full((2, 5), 0.2)
    labels = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    loss, parts = stpn_loss(out, labels, LossConfig(stpn_sparsity=0.5))
    assert parts["cls"].item() == pytest.approx(math.log(2))
    assert parts["sparsity"].item() == pytest.approx(1.0)
    assert loss.item() == pytest.approx(math.log(2) + 0.5)


def test_wtalc_loss_against_loops():
    torch.manual_seed(0)
    n, t, c, e = 3, 6, 4, 5
    logits, feats = torch.randn(2 * n, t, c), torch.randn(2 * n, t, e)
    video_logits = torch.randn(2 * n, c)
    out = _output(2 * n, t, c, e, logits=logits, video_logits=video_logits, casl_features=feats)
    labels = torch.tensor([[1.0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1],
                           [1.0, 0, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]])
    cfg = LossConfig(wtalc_lambda=0.3, wtalc_margin=0.5)
    loss, parts = wtalc_loss(out, labels, cfg)

    mil = 0.0
    for i in range(2 * n):
        y = labels[i] / labels[i].sum()
        mil -= (y * F.log_softmax(video_logits[i], -1)).sum() / (2 * n)
    terms = []
    cos = lambda a, b: F.cosine_similarity(a, b, dim=0)  # noqa: E731
    for i in range(n):
        for k in range(c):
            if labels[i, k] and labels[i + n, k]:
                fh, fl = [], []
                for v in (i, i + n):
                    a = torch.softmax(logits[v, :, k], 0)
                    fh.append((a[:, None] * feats[v]).sum(0))
                    fl.append(((1 - a)[:, None] * feats[v]).sum(0) / (t - 1))
                d_hh = 1 - cos(fh[0], fh[1])
                terms.append(0.5 * (F.relu(d_hh - (1 - cos(fh[0], fl[1])) + 0.5)
                                    + F.relu(d_hh - (1 - cos(fl[0], fh[1])) + 0.5)))
    casl = torch.stack(terms).mean()  # pairs 0 (class 0) and 1 (class 2) share a class
    assert len(terms) == 2
    assert parts["mil"].item() == pytest.approx(mil.item())
    assert parts["casl"].item() == pytest.approx(casl.item())
    assert loss.item() == pytest.approx(0.3 * mil.item() + 0.7 * casl.item())


def test_info_nce_by_hand_and_cola_loss():
    q, k, neg = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor(
        [[[0.0, 3.0], [-1.0, 0.0]]])
    t = 0.5
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + math.exp(0) + math.exp(-1 / t)))
    assert info_nce(q, k, neg, t).item() == pytest.approx(expected)

    torch.manual_seed(1)
    model = build_backbone("cola", 8, 3, ModelConfig(backbone="cola", embed_dim=6))
    out = model(torch.randn(4, 40, 8))
    labels = torch.eye(3)[[0, 1, 2, 0]]
    loss, parts = cola_loss(out, labels, LossConfig(cola_snico_weight=0.01))
    assert loss.item() == pytest.approx(parts["cls"].item() + 0.01 * parts["snico"].item())


# ------------------------------------------------------------------------- FTCL terms


def _pair_batch(n=4, t=20, e=8, c=3, seed=0):
    """Embeddings/attention for 2n videos; pairs (i, i+n): even i positive, odd i negative."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(2 * n, c)
    for i in range(n):
        labels[i, i % c] = 1
        labels[i + n, i % c if i % 2 == 0 else (i + 1) % c] = 1
    labels[0, (0 + 1) % c] = 1  # a two-class video still shares a class with its partner
    # Positive embeddings (ReLU-like), so that cosine similarities are high and LCS matches.
    emb = torch.rand(2 * n, t, e, generator=g) + 0.5
    att = torch.rand(2 * n, t, generator=g)  # distinct values: no ties in the ranking
    out = ModelOutput(cas=torch.rand(2 * n, t, c), attention=att,
                      video_scores=torch.rand(2 * n, c), embeddings=emb.requires_grad_())
    return out, labels


def _top(att, emb, start, count):
    order = sorted(range(len(att)), key=lambda i: -float(att[i]))
    idx = sorted(order[start:start + count])
    return emb[idx]


def _lowest(att, emb, count):
    idx = sorted(sorted(range(len(att)), key=lambda i: float(att[i]))[:count])
    return emb[idx]


def _fsd_max(m, n, gamma):
    """Written out independently of ftcl: (m+n-1) cells of mu <= 1, each entered by a gap of
    g <= 1, and log(3)/gamma per cell from the smooth max."""
    return (m + n - 1) + (m + n - 1) + (m + n - 1) * math.log(3) / gamma


def _cos(x, y):
    return F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).T


def _reference_terms(obj, out, labels, cfg):
    """FSD and LCS slot losses computed pair by pair with the reference recursions."""
    n = labels.shape[0] // 2
    pos = [bool((labels[i] * labels[i + n]).sum() > 0) for i in range(n)]
    proj = obj.project if obj.projection is not None else (lambda x: x)
    half = cfg.proj_dim // 2

    norm = cfg.term_scale == "normalised"

    def fsd(x, y):
        mu, g = _cos(x[:, :half], y[:, :half]), _cos(x[:, half:], y[:, half:])
        value = fsd_reference(mu, g, g, gamma=cfg.gamma)
        return value / _fsd_max(len(x), len(y), cfg.gamma) if norm else value

    def lcs(x, y):
        c = _cos(x, y)
        if cfg.loss_form == "code" and cfg.lcs_threshold_form == "release-acmloss":
            c = 5 * F.relu(c - 0.8)
        value = lcs_reference(c, tau=cfg.tau)
        return value / cfg.lcs_len if norm else value

    att, emb = out.attention, out.embeddings
    act = [proj(_top(att[v], emb[v], 0, cfg.fsd_len)) for v in range(2 * n)]
    if cfg.background == "paper":
        bkg = [proj(_lowest(att[v], emb[v], cfg.fsd_len)) for v in range(2 * n)]
    else:
        bkg = [proj(_top(att[v], emb[v], cfg.fsd_len, cfg.fsd_len)) for v in range(2 * n)]
    seq = [_top(att[v], emb[v], 0, cfg.lcs_len) for v in range(2 * n)]
    if cfg.loss_form == "code":
        fsd_s = [fsd(act[i], act[i + n] if pos[i] else bkg[i + n]) for i in range(n)]
        lcs_s = [lcs(seq[i], seq[i + n]) for i in range(n)]

        def contrast(s):
            p = [s[i] for i in range(n) if pos[i]]
            q = [s[i] for i in range(n) if not pos[i]]
            return sum(q) / len(q) - sum(p) / len(p)

        return contrast(fsd_s), contrast(lcs_s)
    hinge = [F.relu(cfg.fsd_margin - fsd(act[i], act[i + n]) + fsd(act[i], bkg[i + n]))
             for i in range(n) if pos[i]]
    bce = []
    for i in range(n):
        r = lcs(seq[i], seq[i + n]) / (1 if norm else cfg.lcs_len)
        r = r.clamp(1e-6, 1 - 1e-6)
        bce.append(-torch.log(r) if pos[i] else -torch.log(1 - r))
    return sum(hinge) / len(hinge), sum(bce) / len(bce)


@pytest.mark.parametrize("scale", ["normalised", "raw"])
@pytest.mark.parametrize("background", ["paper", "release"])
@pytest.mark.parametrize("form", ["code", "paper"])
def test_ftcl_terms_match_per_pair_reference(form, background, scale):
    cfg = FTCLConfig(action_measure="fsd", pair_measure="lcs", loss_form=form, fsd_len=3,
                     lcs_len=6, tau=0.85, proj_dim=10, activation="tanh", background=background,
                     term_scale=scale, lambda_fsd=0.8, lambda_lcs=0.1)
    torch.manual_seed(0)
    obj = FTCLObjective(8, cfg)
    out, labels = _pair_batch()
    total, parts = obj(out, labels)
    ref_fsd, ref_lcs = _reference_terms(obj, out, labels, cfg)
    assert parts["fsd"].item() == pytest.approx(ref_fsd.item(), rel=1e-6)
    assert parts["lcs"].item() == pytest.approx(ref_lcs.item(), rel=1e-6)
    assert total.item() == pytest.approx(0.8 * ref_fsd.item() + 0.1 * ref_lcs.item(), rel=1e-6)
    assert parts["lcs"].item() != 0.0  # the test inputs do produce matches


def test_release_acmloss_lcs_rescale():
    """``lcs_threshold_form="release-acmloss"``: ``c -> 5 max(0, c - 0.8)`` before ``c > tau``."""
    cfg = FTCLConfig(action_measure="none", pair_measure="lcs", loss_form="code", lcs_len=5,
                     tau=0.92, lcs_threshold_form="release-acmloss")
    obj = FTCLObjective(8, cfg)
    out, labels = _pair_batch(seed=3)
    out.embeddings = (out.embeddings.detach() + 20.0).requires_grad_()  # cosines close to 1
    _, parts = obj(out, labels)
    _, ref = _reference_terms(obj, out, labels, cfg)
    assert parts["lcs"].item() == pytest.approx(ref.item(), rel=1e-6)


def test_ftcl_gradients_reach_f_mu_f_g_and_the_backbone():
    torch.manual_seed(0)
    model = build_backbone("acmnet", 16, 3, ModelConfig(embed_dim=12, dropout=0.0))
    cfg = FTCLConfig(action_measure="fsd", pair_measure="lcs", proj_dim=8, fsd_len=3, lcs_len=6,
                     tau=0.5)
    obj = FTCLObjective(12, cfg)
    x = torch.randn(8, 20, 16)
    labels = torch.eye(3)[[0, 1, 2, 0, 0, 2, 2, 1]]
    loss, _ = obj(model(x), labels)  # FTCL terms only, no classification loss
    loss.backward()
    w = obj.projection.weight.grad
    assert w[:4].abs().sum() > 0, "no gradient to f_mu"
    assert w[4:].abs().sum() > 0, "no gradient to f_g"
    assert model.embedding[1].weight.grad.abs().sum() > 0, "no gradient to the backbone"

    # The LCS term alone also reaches the backbone (through the matched similarities).
    model.zero_grad()
    only_lcs = FTCLObjective(12, FTCLConfig(pair_measure="lcs", lcs_len=6, tau=0.5))
    loss, parts = only_lcs(model(x), labels)
    loss.backward()
    assert model.embedding[1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("form", ["code", "paper"])
@pytest.mark.parametrize("measure", [m for m in MEASURES if m != "none"])
def test_every_measure_in_every_slot(measure, form):
    cfg = FTCLConfig(action_measure=measure, pair_measure=measure, loss_form=form, fsd_len=3,
                     lcs_len=6, tau=0.5, proj_dim=8)
    torch.manual_seed(0)
    obj = FTCLObjective(8, cfg)
    out, labels = _pair_batch()
    loss, parts = obj(out, labels)
    assert torch.isfinite(loss) and set(parts) == {"fsd", "lcs"}
    loss.backward()
    assert out.embeddings.grad.abs().sum() > 0


def test_positive_pairs_share_a_class():
    """The contrast of a batch with only positive pairs has no negative mean: it is -mean(pos)."""
    cfg = FTCLConfig(pair_measure="lcs", lcs_len=4, tau=0.5)
    obj = FTCLObjective(8, cfg)
    out, _ = _pair_batch(n=2)
    labels = torch.tensor([[1.0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1.0]])  # both share a class
    _, parts = obj(out, labels)
    assert parts["lcs"].item() < 0


def test_total_loss_is_eq8():
    torch.manual_seed(0)
    model = build_backbone("acmnet", 16, 3, ModelConfig(embed_dim=12))
    fcfg = FTCLConfig(action_measure="fsd", pair_measure="lcs", proj_dim=8, fsd_len=3,
                      lcs_len=6, tau=0.5)
    obj = FTCLObjective(12, fcfg)
    x, labels = torch.randn(8, 20, 16), torch.eye(3)[[0, 1, 2, 0, 0, 2, 2, 1]]
    model.eval()
    out = model(x)
    loss, parts = total_loss("acmnet", out, labels, LossConfig(), obj)
    cls, _ = acmnet_loss(out, labels, LossConfig())
    extra, ftcl_parts = obj(out, labels)
    assert loss.item() == pytest.approx(cls.item() + extra.item())
    assert extra.item() == pytest.approx(0.8 * ftcl_parts["fsd"].item()
                                         + 0.1 * ftcl_parts["lcs"].item())


def test_objective_needs_pairs():
    obj = FTCLObjective(8, FTCLConfig(pair_measure="lcs", lcs_len=3))
    out, _ = _pair_batch(n=2)
    with pytest.raises(ValueError, match="pairs"):
        obj(out.select(slice(0, 3)), torch.eye(3))


# ------------------------------------------------------------------ issue 10: defaults, bounds


def _pair_with_cosine(cos: float, j: int = 4, e: int = 16) -> torch.Tensor:
    """Two sequences ``[2, j, e]``: snippet k of one has cosine ``cos`` with snippet k of the
    other and 0 with the others (orthogonal directions)."""
    base = torch.eye(e)
    a = base[:j]
    b = cos * base[:j] + math.sqrt(1 - cos ** 2) * base[j:2 * j]
    return torch.stack([a, b]).requires_grad_()


def test_default_lcs_matches_a_same_class_pair_at_cosine_095():
    """With the defaults (release FTCLLoss: raw c > tau = 0.92) a same-class pair whose matched
    cosines are 0.95 gives a non-zero LCS term with a gradient; the release's ACMLoss rescale
    (5 (c - 0.8) = 0.75 < 0.92) finds no match at all."""
    cfg = make_config("ftcl").ftcl
    assert cfg.lcs_threshold_form == "release-ftcl" and cfg.tau == 0.92
    seq = _pair_with_cosine(0.95)
    loss, _ = FTCLObjective(16, cfg).pair_loss(seq, torch.tensor([True]))
    # Only a positive pair: loss = -LCS / J = -(4 * 0.95) / 4.
    assert loss.item() == pytest.approx(-0.95, abs=1e-9)
    loss.backward()
    assert seq.grad.abs().sum() > 0

    acm = FTCLConfig(**{**cfg.__dict__, "lcs_threshold_form": "release-acmloss"})
    seq = _pair_with_cosine(0.95)
    loss, _ = FTCLObjective(16, acm).pair_loss(seq, torch.tensor([True]))
    assert loss.item() == 0.0


@pytest.mark.parametrize("m,n", [(5, 5), (3, 7), (1, 4)])
def test_fsd_is_bounded_as_documented(m, n):
    """FSD in [-min(m, n), fsd_bound]; all-ones scores reach at least the hard maximum
    2 (m + n - 1); the normalised score lies in [-min(m, n) / bound, 1]."""
    gamma = 10.0
    bound = fsd_bound(m, n, gamma)
    assert bound == pytest.approx(_fsd_max(m, n, gamma))
    g = torch.Generator().manual_seed(m * 10 + n)
    mu = torch.rand(64, m, n, generator=g) * 2 - 1
    gap = torch.rand(64, m, n, generator=g) * 2 - 1
    mu[0], gap[0] = 1.0, 1.0
    mu[1], gap[1] = -1.0, -1.0
    value = dp.fsd(mu, gap, gap, gamma=gamma)
    assert value.max() <= bound + 1e-9 and value.min() >= -min(m, n) - 1e-9
    assert value[0] >= 2 * (m + n - 1) - 1e-9
    cfg = FTCLConfig(action_measure="fsd", proj_dim=8)
    x, y = torch.randn(16, m, 8), torch.randn(16, n, 8)
    score, _ = sequence_score("fsd", x, y, cfg)
    assert score.max() <= 1 + 1e-9 and score.min() >= -min(m, n) / bound - 1e-9
    raw, _ = sequence_score("fsd", x, y, FTCLConfig(proj_dim=8, term_scale="raw"))
    assert torch.allclose(score * bound, raw)


def test_paper_background_takes_the_lowest_alpha_snippets():
    alpha = torch.tensor([[0.9, 0.1, 0.5, 0.05, 0.8, 0.3, 0.7, 0.2]])
    paper = proposal_indices(alpha, fsd_len=2, lcs_len=3, background="paper")
    assert paper["action"].tolist() == [[0, 4]]  # alpha 0.9, 0.8 (time order)
    assert paper["background"].tolist() == [[1, 3]]  # alpha 0.1, 0.05: the lowest two
    assert paper["lcs"].tolist() == [[0, 4, 6]]
    release = proposal_indices(alpha, fsd_len=2, background="release")
    assert release["background"].tolist() == [[2, 6]]  # ranks 3-4: alpha 0.7, 0.5
    with pytest.raises(ValueError, match="background"):
        proposal_indices(alpha, 2, background="context")
    assert make_config("ftcl").ftcl.background == "paper"


def test_meanpool_control_is_the_cosine_of_the_means():
    x, y = torch.randn(3, 4, 6), torch.randn(3, 5, 6)
    score, _ = sequence_score("meanpool", x, y, FTCLConfig())
    ref = [_cos(x[i].mean(0, keepdim=True), y[i].mean(0, keepdim=True)).item() for i in range(3)]
    assert score.tolist() == pytest.approx(ref)


def test_shuffled_pairs_permute_the_pair_labels():
    """Same inputs, same RNG: only the positive/negative labels of the pairs differ."""
    cfg = FTCLConfig(pair_measure="lcs", lcs_len=4, tau=0.5)
    out, labels = _pair_batch(n=4)
    _, base = FTCLObjective(8, cfg)(out, labels)
    shuffled = FTCLConfig(**{**cfg.__dict__, "shuffle_pairs": True})
    values = set()
    for seed in range(6):
        torch.manual_seed(seed)
        _, parts = FTCLObjective(8, shuffled)(out, labels)
        values.add(round(parts["lcs"].item(), 12))
    assert len(values) > 1 and any(v != round(base["lcs"].item(), 12) for v in values)


def test_shuffled_pairs_draw_the_permutation_on_the_labels_device_not_the_default_one():
    """CPU inputs under another default device (``meta``, which holds no values): the shuffle's
    permutation is still drawn on the CPU, from the CPU generator (its one draw), so the loss is
    that of the unshuffled objective on the pairs' labels reordered by the same torch.randperm."""
    cfg = FTCLConfig(pair_measure="meanpool", lcs_len=4)
    shuffled = FTCLConfig(**{**cfg.__dict__, "shuffle_pairs": True})
    out, labels = _pair_batch(n=4)
    torch.manual_seed(0)
    objective = FTCLObjective(8, shuffled)
    for seed in range(3):
        torch.manual_seed(seed)
        perm = torch.randperm(4)
        drawn = torch.get_rng_state()  # the CPU generator after the one draw
        _, want = FTCLObjective(8, cfg)(out, torch.cat([labels[:4][perm], labels[4:][perm]]))
        torch.manual_seed(seed)
        with torch.device("meta"):
            _, got = objective(out, labels)
        assert torch.equal(torch.get_rng_state(), drawn)  # a meta draw would leave it unused
        assert got["lcs"].device.type == "cpu"
        assert got["lcs"].item() == pytest.approx(want["lcs"].item(), rel=1e-6)
