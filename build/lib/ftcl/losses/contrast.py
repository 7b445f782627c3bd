"""The FTCL terms: FSD contrasting (Eq. 2-4), LCS contrasting (Eq. 6-7) and their sum (Eq. 8).

Both terms compare *sequences of snippets* of two videos with a dynamic program from
:mod:`ftcl.dp`, batched over all pairs of the batch at once (one call per term, not one per pair).

**FSD slot** (action vs background, Eq. 2-4). The proposals come from the attention: the top
``fsd_len`` snippets (in time order) are a video's action proposal, the next ``fsd_len`` its
"background" proposal (as in the release). One linear layer maps each snippet's embedding to
``proj_dim`` numbers, split in halves: ``f_mu`` and ``f_g`` (``f_h = f_g``). The match score
``mu(i, j)`` is the cosine similarity of the ``f_mu`` halves, the insert/delete score ``g = h`` that
of the ``f_g`` halves (in the paper form, after an activation sigma). ``FSD = ftcl.dp.fsd(mu, g, g,
gamma)``. The contrast: same-class action/action pairs must score higher than action/background.

**LCS slot** (same- vs different-class videos, Eq. 6-7). The top ``lcs_len`` (J) attended snippets
of each video, in time order, their cosine-similarity matrix ``c``, ``LCS = ftcl.dp.lcs(c, tau)``.
The contrast: pairs sharing a class must have a longer common subsequence than pairs sharing none.

A pair counts as positive when the two videos share at least one class (as in the release).

**Two forms** (``FTCLConfig.loss_form``):

- ``"code"`` (the authors' release): each term is ``mean(score of negatives) - mean(score of
  positives)``; in the FSD slot a negative pair compares the action proposal of ``a`` with the
  background proposal of ``b``; LCS similarities are rescaled ``5 * max(0, c - 0.8)`` first
  (``lcs_rescale``); no activation on the projections.
- ``"paper"``: Eq. 4 as a ranking hinge over the positive pairs,
  ``relu(margin - FSD(A_a, A_b) + FSD(A_a, B_b))``; Eq. 7 as a binary cross-entropy on
  ``r = LCS / J`` (the paper's ``r`` normalised to [0, 1]) with target 1 for positive pairs.

**Table 3-4 variants.** Each slot takes any *measure*: ``fsd``, ``lcs``, ``dtw`` (soft-DTW on cosine
distances, score = ``-soft_dtw``), ``ccdtw`` (soft-DTW + a cycle-consistency term on its alignment),
``dropdtw`` (Drop-DTW, drop cost = a quantile of each pair's costs), or ``none``. The FSD slot
always compares projected proposals, the LCS slot raw embeddings (the ``fsd`` measure projects
them, as it needs ``f_mu`` and ``f_g``). In the paper form, a measure other than ``lcs`` in the LCS
slot has no probability to put in Eq. 7, so it uses the ranking hinge between all positive and
negative pairs of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import FTCLConfig
from ..models.base import ModelOutput

_EPS = 1e-6


def cosine_matrix(x: Tensor, y: Tensor) -> Tensor:
    """Cosine similarities ``[P, M, N]`` between the rows of ``x`` ``[P, M, E]`` and ``y``."""
    return F.normalize(x, dim=-1, eps=1e-8) @ F.normalize(y, dim=-1, eps=1e-8).transpose(1, 2)


def select_by_attention(attention: Tensor, embeddings: Tensor,
                        spans: list[tuple[int, int]]) -> list[Tensor]:
    """For each ``(start, count)``: the embeddings ``[B, count, E]`` of the snippets ranked
    ``start .. start+count-1`` by attention, in time order.

    The ranking is on the detached attention (selection passes no gradient); one sort and one
    gather serve all spans.
    """
    order = attention.detach().argsort(dim=1, descending=True, stable=True)
    idx = torch.cat([order[:, s:s + c].sort(dim=1).values for s, c in spans], dim=1)
    picked = embeddings.gather(1, idx.unsqueeze(-1).expand(-1, -1, embeddings.shape[-1]))
    return list(picked.split([c for _, c in spans], dim=1))


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values[mask]`` (zero, still differentiable, when the mask is empty)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def _activation(name: str, x: Tensor) -> Tensor:
    if name == "relu":
        return F.relu(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    return x


def cycle_consistency(alignment: Tensor, x: Tensor, y: Tensor, temperature: float = 0.1) -> Tensor:
    """Cycle-back regression on a soft alignment (CC-DTW, after Hadji et al., CVPR 2021).

    Each ``x_i`` goes to ``y`` through the row-normalised alignment, ``y_hat_i = sum_j a_ij y_j``,
    and comes back by a softmax over cosine similarities to ``x``; the loss is the mean squared
    error between the returned (soft) index and ``i``, in units of the sequence length.
    """
    weights = alignment / alignment.sum(dim=-1, keepdim=True).clamp_min(_EPS)
    y_hat = weights @ y  # [P, M, E]
    back = torch.softmax(cosine_matrix(y_hat, x) / temperature, dim=-1)  # [P, M, M]
    positions = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)
    returned = back @ positions
    return ((returned - positions) / x.shape[1]).pow(2).mean()


def sequence_score(measure: str, x: Tensor, y: Tensor, cfg: FTCLConfig) -> tuple[Tensor, Tensor]:
    """Similarity ``[P]`` of the sequences ``x`` ``[P, M, E]`` and ``y`` ``[P, N, E]`` under
    ``measure`` (higher = more alike), and an auxiliary loss (non-zero for ``ccdtw`` only).

    For ``fsd``, ``x`` and ``y`` are projections whose halves are ``f_mu`` and ``f_g``.
    """
    from .. import dp

    zero = x.new_zeros(())
    if measure == "fsd":
        half = x.shape[-1] // 2
        mu = cosine_matrix(x[..., :half], y[..., :half])
        g = cosine_matrix(x[..., half:], y[..., half:])
        return dp.fsd(mu, g, g, gamma=cfg.gamma), zero
    if measure == "lcs":
        c = cosine_matrix(x, y)
        if cfg.loss_form == "code" and cfg.lcs_rescale:
            c = 5.0 * F.relu(c - 0.8)
        return dp.lcs(c, tau=cfg.tau), zero
    cost = 1.0 - cosine_matrix(x, y)
    if measure == "dtw":
        return -dp.soft_dtw(cost, gamma=cfg.dtw_gamma), zero
    if measure == "ccdtw":
        score = -dp.soft_dtw(cost, gamma=cfg.dtw_gamma)
        alignment = dp.soft_dtw_alignment(cost, gamma=cfg.dtw_gamma)
        return score, cfg.cc_weight * cycle_consistency(alignment, x, y)
    if measure == "dropdtw":
        drop = torch.quantile(cost.detach().flatten(1), cfg.drop_quantile, dim=1)  # [P]
        drop_x = drop[:, None].expand(-1, cost.shape[1]).contiguous()
        drop_z = drop[:, None].expand(-1, cost.shape[2]).contiguous()
        return -dp.drop_dtw(cost, drop_x, drop_z, gamma=cfg.dtw_gamma), zero
    raise ValueError(f"unknown measure {measure!r}")


class FTCLObjective(nn.Module):
    """The FTCL terms of Eq. 8 (without L_cls): ``lambda_FSD * L_FSD + lambda_LCS * L_LCS``.

    Holds the one linear projection (``f_mu | f_g``) when a slot needs it. Call it with the
    backbone's output on ``cat([a, b])`` (``2B`` videos) and the multi-hot labels ``[2B, C]``.

    Parameters
    ----------
    embed_dim : int
        Width of the backbone's embeddings.
    cfg : FTCLConfig
        Measures, weights, lengths and the loss form.
    """

    def __init__(self, embed_dim: int, cfg: FTCLConfig):
        super().__init__()
        self.cfg = cfg
        needs_projection = cfg.action_measure != "none" or cfg.pair_measure == "fsd"
        self.projection = nn.Linear(embed_dim, cfg.proj_dim) if needs_projection else None

    def project(self, x: Tensor) -> Tensor:
        """``[f_mu(x) | f_g(x)]`` (through sigma in the paper form)."""
        z = self.projection(x)
        return _activation(self.cfg.activation, z) if self.cfg.loss_form == "paper" else z

    def forward(self, out: ModelOutput, labels: Tensor) -> tuple[Tensor, dict]:
        """Return ``(lambda_FSD * L_FSD + lambda_LCS * L_LCS, parts)``."""
        cfg = self.cfg
        n = labels.shape[0] // 2
        if labels.shape[0] != 2 * n or n == 0:
            raise ValueError(f"FTCL needs pairs laid out as cat([a, b]); got {labels.shape[0]} "
                             "videos")
        positive = (labels[:n] * labels[n:]).sum(dim=-1) > 0
        total = out.embeddings.new_zeros(())
        parts: dict[str, Tensor] = {}
        spans = []
        if cfg.action_measure != "none":
            spans += [(0, cfg.fsd_len), (cfg.fsd_len, cfg.fsd_len)]
        if cfg.pair_measure != "none":
            spans.append((0, cfg.lcs_len))
        picked = select_by_attention(out.attention, out.embeddings, spans)
        if cfg.action_measure != "none":
            loss, aux = self.action_background_loss(picked[0], picked[1], positive)
            total = total + cfg.lambda_fsd * loss + aux
            parts["fsd"] = loss.detach()
        if cfg.pair_measure != "none":
            loss, aux = self.pair_loss(picked[-1], positive)
            total = total + cfg.lambda_lcs * loss + aux
            parts["lcs"] = loss.detach()
        return total, parts

    def action_background_loss(self, action: Tensor, background: Tensor, positive: Tensor
                               ) -> tuple[Tensor, Tensor]:
        """FSD contrasting (Eq. 4): action/action of positive pairs vs action/background.

        ``action``, ``background``: the proposals ``[2B, fsd_len, E]`` of the ``cat([a, b])``
        videos.
        """
        cfg, n = self.cfg, positive.shape[0]
        action, background = self.project(torch.cat([action, background])).chunk(2)
        act_a, act_b, bkg_b = action[:n], action[n:], background[n:]
        if cfg.loss_form == "code":
            other = torch.where(positive[:, None, None], act_b, bkg_b)
            score, aux = sequence_score(cfg.action_measure, act_a, other, cfg)
            return masked_mean(score, ~positive) - masked_mean(score, positive), aux
        if not positive.any():
            zero = action.sum() * 0.0
            return zero, zero
        x = act_a[positive]
        score, aux = sequence_score(cfg.action_measure, torch.cat([x, x]),
                                    torch.cat([act_b[positive], bkg_b[positive]]), cfg)
        same, diff = score.chunk(2)
        return F.relu(cfg.fsd_margin - same + diff).mean(), aux

    def pair_loss(self, seq: Tensor, positive: Tensor) -> tuple[Tensor, Tensor]:
        """LCS contrasting (Eq. 7): pairs sharing a class vs pairs sharing none.

        ``seq``: the top ``lcs_len`` attended snippets ``[2B, J, E]`` of the ``cat([a, b])``
        videos, in time order.
        """
        cfg, n = self.cfg, positive.shape[0]
        if cfg.pair_measure == "fsd":
            seq = self.project(seq)
        score, aux = sequence_score(cfg.pair_measure, seq[:n], seq[n:], cfg)
        if cfg.loss_form == "code":
            return masked_mean(score, ~positive) - masked_mean(score, positive), aux
        if cfg.pair_measure == "lcs":
            r = (score / cfg.lcs_len).clamp(_EPS, 1.0 - _EPS)
            return F.binary_cross_entropy(r, positive.to(r.dtype)), aux
        pos, neg = score[positive], score[~positive]
        if pos.numel() == 0 or neg.numel() == 0:
            return score.sum() * 0.0, aux
        return F.relu(cfg.fsd_margin - pos[:, None] + neg[None, :]).mean(), aux
