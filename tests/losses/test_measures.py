"""Values of every FTCL measure (Table 3-4 variants) against per-cell references on tiny inputs.

``sequence_score`` of dtw, ccdtw (with its cycle-consistency term), dropdtw, fsd, lcs and
meanpool, in both scales, is recomputed pair by pair with the plain loops of ftcl.dp_reference
and cosines, softmaxes and quantiles written out here: a wrong normaliser, axis, sign or
quantile changes a value, not only whether it is finite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ftcl.config import FTCLConfig
from ftcl.dp.reference import (
    drop_dtw_reference,
    fsd_reference,
    lcs_reference,
    soft_dtw_reference,
)
from ftcl.losses.contrast import (
    FTCLObjective,
    cycle_consistency,
    fsd_bound,
    masked_mean,
    proposal_indices,
    sequence_score,
)

F64 = torch.float64
P, M, N, E = 2, 3, 4, 6


def _seqs(seed=0, offset=0.0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(P, M, E, generator=gen, dtype=F64) + offset
    y = torch.rand(P, N, E, generator=gen, dtype=F64) + offset
    return x, y


def _cos(a, b):
    """Cosine of two vectors, written out."""
    return float(a @ b) / (math.sqrt(float(a @ a)) * math.sqrt(float(b @ b)))


def _cos_grid(x, y):
    return torch.tensor([[_cos(x[i], y[j]) for j in range(len(y))] for i in range(len(x))],
                        dtype=F64)


def _cfg(scale, **kw):
    settings = dict(dtw_gamma=0.3, gamma=4.0, tau=0.8, cc_weight=0.7, drop_quantile=0.3)
    return FTCLConfig(term_scale=scale, **{**settings, **kw})


@pytest.mark.parametrize("scale", ["normalised", "raw"])
def test_dtw_score_is_minus_soft_dtw_of_cosine_distances(scale):
    x, y = _seqs()
    score, aux = sequence_score("dtw", x, y, _cfg(scale))
    norm = (M + N - 1) if scale == "normalised" else 1
    for p in range(P):
        want = -soft_dtw_reference(1.0 - _cos_grid(x[p], y[p]), gamma=0.3) / norm
        assert score[p].item() == pytest.approx(want.item(), rel=1e-9, abs=1e-12)
    assert aux.item() == 0.0


def _cycle_reference(alignment, x, y, temperature=0.1):
    """Cycle-back regression, one element at a time."""
    total = 0.0
    m = x.shape[0]
    for i in range(m):
        w = alignment[i] / alignment[i].sum()
        y_hat = sum(w[j] * y[j] for j in range(y.shape[0]))
        logits = [_cos(y_hat, x[k]) / temperature for k in range(m)]
        top = max(logits)
        e = [math.exp(v - top) for v in logits]
        returned = sum(k * e[k] for k in range(m)) / sum(e)
        total += ((returned - i) / m) ** 2
    return total / m


@pytest.mark.parametrize("scale", ["normalised", "raw"])
def test_ccdtw_score_and_cycle_term(scale):
    x, y = _seqs(1)
    cfg = _cfg(scale)
    score, aux = sequence_score("ccdtw", x, y, cfg)
    norm = (M + N - 1) if scale == "normalised" else 1
    want_aux = 0.0
    for p in range(P):
        cost = (1.0 - _cos_grid(x[p], y[p])).requires_grad_()
        value = soft_dtw_reference(cost, gamma=0.3)
        assert score[p].item() == pytest.approx(-value.item() / norm, rel=1e-9)
        (alignment,) = torch.autograd.grad(value, cost)  # the expected soft alignment
        want_aux += _cycle_reference(alignment, x[p], y[p]) / P
    assert aux.item() == pytest.approx(0.7 * want_aux, rel=1e-7)


def test_cycle_consistency_by_hand():
    x, y = _seqs(2)
    gen = torch.Generator().manual_seed(5)
    alignment = torch.rand(P, M, N, generator=gen, dtype=F64)
    got = cycle_consistency(alignment, x, y, temperature=0.25)
    want = sum(_cycle_reference(alignment[p], x[p], y[p], 0.25) for p in range(P)) / P
    assert got.item() == pytest.approx(want, rel=1e-9)
    # a perfect round trip (identity alignment, well-separated x) returns every index home
    eye = torch.eye(3, dtype=F64)[None]
    home = cycle_consistency(eye, eye * 10, eye * 10, temperature=0.01)
    assert home.item() == pytest.approx(0.0, abs=1e-12)


def test_cycle_consistency_makes_its_positions_on_the_inputs_device_not_the_default_one():
    """CPU inputs under another default device (``meta``, which holds no values): the index
    positions must still be a CPU tensor, so the loss is the CPU one (a perfect round trip: 0;
    the identity alignment sent back evenly over 2 snippets:
    ((1/2 - 0)^2 + (1/2 - 1)^2) / 2 / 2^2)."""
    eye = torch.eye(3, dtype=F64)[None]
    flat = torch.ones(1, 2, 3, dtype=F64)
    with torch.device("meta"):
        home = cycle_consistency(eye, eye * 10, eye * 10, temperature=0.01)
        even = cycle_consistency(torch.eye(2, dtype=F64)[None], flat, flat)
    assert home.device.type == even.device.type == "cpu"
    assert home.item() == pytest.approx(0.0, abs=1e-12)
    assert even.item() == pytest.approx(0.0625, rel=1e-12)


@pytest.mark.parametrize("quantile", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("scale", ["normalised", "raw"])
def test_dropdtw_drop_cost_is_the_quantile_of_each_pairs_costs(scale, quantile):
    x, y = _seqs(3)
    cfg = FTCLConfig(term_scale=scale, dtw_gamma=0.3, drop_quantile=quantile)
    score, aux = sequence_score("dropdtw", x, y, cfg)
    norm = (M + N - 1) if scale == "normalised" else 1
    for p in range(P):
        cost = 1.0 - _cos_grid(x[p], y[p])
        drop = float(np.quantile(cost.numpy().ravel(), quantile))  # linear interpolation
        value = drop_dtw_reference(cost, torch.full((M,), drop, dtype=F64),
                                   torch.full((N,), drop, dtype=F64), gamma=0.3)
        assert score[p].item() == pytest.approx(-value.item() / norm, rel=1e-9)
    assert aux.item() == 0.0


@pytest.mark.parametrize("scale", ["normalised", "raw"])
def test_fsd_score_splits_the_projection_in_halves(scale):
    x, y = _seqs(4)
    cfg = _cfg(scale)
    score, _ = sequence_score("fsd", x, y, cfg)
    bound = (M + N - 1) * (2 + math.log(3) / 4.0) if scale == "normalised" else 1.0
    for p in range(P):
        mu = _cos_grid(x[p, :, :3], y[p, :, :3])
        g = _cos_grid(x[p, :, 3:], y[p, :, 3:])
        want = fsd_reference(mu, g, g, gamma=4.0) / bound
        assert score[p].item() == pytest.approx(want.item(), rel=1e-9)


@pytest.mark.parametrize("scale", ["normalised", "raw"])
def test_lcs_score_is_divided_by_the_shorter_length(scale):
    x, y = _seqs(5, offset=1.0)  # cosines near 1: some pass tau
    score, _ = sequence_score("lcs", x, y, _cfg(scale, tau=0.95))
    for p in range(P):
        want = lcs_reference(_cos_grid(x[p], y[p]), tau=0.95)
        assert want > 0
        want = want / min(M, N) if scale == "normalised" else want
        assert score[p].item() == pytest.approx(want.item(), rel=1e-9)


def test_meanpool_and_unknown_measure():
    x, y = _seqs(6)
    score, aux = sequence_score("meanpool", x, y, _cfg("raw"))
    for p in range(P):
        assert score[p].item() == pytest.approx(_cos(x[p].mean(0), y[p].mean(0)), rel=1e-12)
    with pytest.raises(ValueError, match="unknown measure 'dwt'"):
        sequence_score("dwt", x, y, _cfg("raw"))


def test_fsd_bound_by_hand():
    assert fsd_bound(3, 4, 10.0) == pytest.approx(6 * (2 + math.log(3) / 10))
    assert fsd_bound(3, 4, None) == 12.0
    assert fsd_bound(3, 4, math.inf) == 12.0
    assert fsd_bound(1, 1, 1.0) == pytest.approx(2 + math.log(3))


def test_masked_mean():
    v = torch.tensor([1.0, 2.0, 4.0])
    assert masked_mean(v, torch.tensor([True, False, True])).item() == 2.5
    assert masked_mean(v, torch.tensor([False, False, False])).item() == 0.0


def test_proposal_indices_by_hand():
    att = torch.tensor([[0.1, 0.9, 0.5, 0.7, 0.2, 0.9, 0.0, 0.3]])
    # ranks: 1 (0.9), 5 (0.9, tie keeps time order), 3, 2, 7, 4, 0, 6
    paper = proposal_indices(att, 2, lcs_len=4)
    assert paper["action"].tolist() == [[1, 5]]
    assert paper["background"].tolist() == [[0, 6]]  # the two lowest, in time order
    assert paper["lcs"].tolist() == [[1, 2, 3, 5]]
    release = proposal_indices(att, 2, background="release")
    assert release["background"].tolist() == [[2, 3]] and "lcs" not in release
    assert proposal_indices(att, 4)["background"].tolist() == [[0, 4, 6, 7]]  # 2 x 4 == T
    with pytest.raises(ValueError, match=r"fsd_len=5 snippets need T >= 10, got T=8"):
        proposal_indices(att, 5)
    with pytest.raises(ValueError, match="background must be 'paper' or 'release'"):
        proposal_indices(att, 2, background="lowest")


def test_proposal_indices_keep_time_order_among_ties_at_t_24():
    """At T=24 torch's CPU sort without ``stable=True`` reorders equal values (it does not at
    T=8): the proposals must still be the earliest of the tied snippets."""
    att = torch.full((1, 24), 0.5)
    att[0, 20:] = 0.9
    got = proposal_indices(att, 6, lcs_len=8)
    assert got["action"].tolist() == [[0, 1, 20, 21, 22, 23]]
    assert got["lcs"].tolist() == [[0, 1, 2, 3, 20, 21, 22, 23]]
    # lowest attention: the last six of the 20 tied snippets in rank order, i.e. 14 .. 19
    assert got["background"].tolist() == [[14, 15, 16, 17, 18, 19]]
    release = proposal_indices(att, 6, background="release")
    assert release["background"].tolist() == [[2, 3, 4, 5, 6, 7]]


def test_paper_form_hinge_for_a_non_lcs_pair_measure():
    """Paper form, a pair measure without a probability: relu(margin - pos + neg) over all
    positive x negative pairs of the batch."""
    cfg = FTCLConfig(pair_measure="meanpool", loss_form="paper", fsd_margin=0.5, lcs_len=3)
    obj = FTCLObjective(E, cfg)
    x, _ = _seqs(7)
    seq = torch.cat([x, x.flip(0), x[:1]])[:4]  # 4 videos: pairs (0, 2), (1, 3)
    positive = torch.tensor([True, False])
    loss, _ = obj.pair_loss(seq, positive)
    s = [_cos(seq[i].mean(0), seq[i + 2].mean(0)) for i in range(2)]
    assert loss.item() == pytest.approx(max(0.0, 0.5 - s[0] + s[1]), rel=1e-9)
    only_pos, _ = obj.pair_loss(seq, torch.tensor([True, True]))
    assert only_pos.item() == 0.0
