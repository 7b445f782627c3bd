"""The FTCL terms: FSD contrasting (Eq. 2-4), LCS contrasting (Eq. 6-7) and their sum (Eq. 8).

Both terms compare *sequences of snippets* of two videos with a dynamic program from
:mod:`ftcl.dp`, batched over all pairs of the batch at once (one call per term, not one per pair).

**FSD slot** (action vs background, Eq. 2-4). The proposals come from the attention (the
backbone's importance score alpha; ACM-Net's instance branch): the top ``fsd_len`` snippets (in
time order) are a video's action proposal. Its background proposal (``FTCLConfig.background``):
``"paper"`` (default, Sec. 3.2: the ``fsd_len`` snippets of *lowest* alpha) or ``"release"`` (the
release's ranks ``fsd_len .. 2 fsd_len - 1``: the next-best attended snippets, mostly action
snippets too; :func:`ftcl.analysis.purity.proposal_purity` measures both). One linear layer maps
each snippet's embedding to ``proj_dim`` numbers, split in halves: ``f_mu`` and ``f_g``
(``f_h = f_g``). The match score ``mu(i, j)`` is the cosine similarity of the ``f_mu`` halves,
the insert/delete score ``g = h`` that of the ``f_g`` halves (in the paper form, after an
activation sigma). ``FSD = ftcl.dp.fsd(mu, g, g, gamma)``. The contrast: same-class
action/action pairs must score higher than action/background.

**LCS slot** (same- vs different-class videos, Eq. 6-7). The top ``lcs_len`` (J) attended snippets
of each video, in time order, their cosine-similarity matrix ``c``, ``LCS = ftcl.dp.lcs(c, tau)``.
The contrast: pairs sharing a class must have a longer common subsequence than pairs sharing none.

A pair counts as positive when the two videos share at least one class (as in the release).

**Scale** (``FTCLConfig.term_scale``). ``"normalised"`` (default): FSD is divided by its attainable
maximum :func:`fsd_bound` (so it lies in ``[-min(M, N) / bound, 1]``), LCS by J (``r = LCS / J`` in
``[0, 1]``), the DTW scores by the longest path ``M + N - 1``; each term's size then does not
depend on the proposal length, and one lambda per backbone (``ftcl.config.LAMBDA_CHOICE``) sets its
weight against that backbone's loss. ``"raw"``: the release's unnormalised scores.

**Two forms** (``FTCLConfig.loss_form``):

- ``"code"`` (the authors' release): each term is ``mean(score of negatives) - mean(score of
  positives)``; in the FSD slot a negative pair compares the action proposal of ``a`` with the
  background proposal of ``b``; no activation on the projections. The LCS test
  (``lcs_threshold_form``) is the release's ``FTCLLoss`` (``"release-ftcl"``, default, its
  documented ``--ftcl`` path: raw cosine, ``c > tau``) or its ``ACMLoss`` (``"release-acmloss"``,
  used without ``--ftcl``: ``c -> 5 max(0, c - 0.8)`` first, a match needs ``c > 0.984``).
- ``"paper"``: Eq. 4 as a ranking hinge over the positive pairs,
  ``relu(margin - FSD(A_a, A_b) + FSD(A_a, B_b))``; Eq. 7 as a binary cross-entropy on
  ``r = LCS / J`` (the paper's ``r`` normalised to [0, 1]) with target 1 for positive pairs.

**Table 3-4 variants.** Each slot takes any *measure*: ``fsd``, ``lcs``, ``dtw`` (soft-DTW on cosine
distances, score = ``-soft_dtw``), ``ccdtw`` (soft-DTW + a cycle-consistency term on its alignment),
``dropdtw`` (Drop-DTW, drop cost = a quantile of each pair's costs), ``meanpool`` (a control, not
in the paper: cosine of the two sequences' mean vectors, no alignment), or ``none``. The FSD slot
always compares projected proposals, the LCS slot raw embeddings (the ``fsd`` measure projects
them, as it needs ``f_mu`` and ``f_g``). In the paper form, a measure other than ``lcs`` in the LCS
slot has no probability to put in Eq. 7, so it uses the ranking hinge between all positive and
negative pairs of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import dp
from ..config import FTCLConfig
from ..models.base import ModelOutput
from .oracle import oracle_loss, planted_keys, planted_proposals

_EPS = 1e-6


def cosine_matrix(x: Tensor, y: Tensor) -> Tensor:
    """Cosine similarities ``[P, M, N]`` between the rows of ``x`` ``[P, M, E]`` and ``y``."""
    return F.normalize(x, dim=-1, eps=1e-8) @ F.normalize(y, dim=-1, eps=1e-8).transpose(1, 2)


def lcs_similarity(x: Tensor, y: Tensor, cfg: FTCLConfig) -> Tensor:
    """The similarities LCS (Eq. 6) tests against ``tau``: cosine ``c`` ``[P, M, N]``, or, on the
    release's ACMLoss path (``lcs_threshold_form="release-acmloss"``, code form),
    ``5 max(0, c - 0.8)``."""
    c = cosine_matrix(x, y)
    if cfg.loss_form == "code" and cfg.lcs_threshold_form == "release-acmloss":
        c = 5.0 * F.relu(c - 0.8)
    return c


def proposal_indices(attention: Tensor, fsd_len: int, lcs_len: int | None = None,
                     background: str = "paper") -> dict[str, Tensor]:
    """Snippet indices ``[B, n]`` (time order) of the FTCL proposals, ranked on ``attention``.

    ``"action"``: the top ``fsd_len`` by attention; ``"background"``: the ``fsd_len`` of lowest
    attention (``background="paper"``, Sec. 3.2) or ranks ``fsd_len .. 2 fsd_len - 1``
    (``"release"``); ``"lcs"``: the top ``lcs_len`` (if given). Ties keep time order (stable sort);
    the attention is detached (selection passes no gradient).
    """
    if background not in ("paper", "release"):
        raise ValueError(f"background must be 'paper' or 'release', got {background!r}")
    order = attention.detach().argsort(dim=1, descending=True, stable=True)
    length = order.shape[1]
    if 2 * fsd_len > length:
        raise ValueError(f"two proposals of fsd_len={fsd_len} snippets need T >= {2 * fsd_len}, "
                         f"got T={length}")
    bkg = order[:, length - fsd_len:] if background == "paper" else order[:, fsd_len:2 * fsd_len]
    out = {"action": order[:, :fsd_len].sort(dim=1).values, "background": bkg.sort(dim=1).values}
    if lcs_len is not None:
        out["lcs"] = order[:, :lcs_len].sort(dim=1).values
    return out


def gather_snippets(embeddings: Tensor, index: Tensor) -> Tensor:
    """``embeddings[b, index[b, k]]`` -> ``[B, n, E]``."""
    return embeddings.gather(1, index.unsqueeze(-1).expand(-1, -1, embeddings.shape[-1]))


def fsd_bound(m: int, n: int, gamma: float | None) -> float:
    """The attainable maximum of ``ftcl.dp.fsd`` on ``[m, n]`` grids with scores in ``[-1, 1]``.

    A path from the zero boundary visits at most ``m + n - 1`` cells (each adds ``mu <= 1``) and
    can enter every one of them by an insert/delete step (each adds ``g <= 1``; the staircase from
    ``S(0, 1)``): the hard maximum is ``2 (m + n - 1)``, reached when all scores are 1. The smooth
    max (Eq. 5, ``(1/gamma) logsumexp`` of three terms) adds at most ``log(3) / gamma`` per cell.
    Bound: ``(m + n - 1) (2 + log(3) / gamma)``. The value is at least ``-min(m, n)`` (the
    diagonal path with ``mu = -1``; the smooth max is >= the max).
    """
    import math

    soft = 0.0 if gamma is None or math.isinf(gamma) else math.log(3.0) / gamma
    return (m + n - 1) * (2.0 + soft)


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


def sequence_score(measure: str, x: Tensor, y: Tensor, cfg: FTCLConfig,
                   match: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Similarity ``[P]`` of the sequences ``x`` ``[P, M, E]`` and ``y`` ``[P, N, E]`` under
    ``measure`` (higher = more alike), and an auxiliary loss (non-zero for ``ccdtw`` only).

    For ``fsd``, ``x`` and ``y`` are projections whose halves are ``f_mu`` and ``f_g``.
    ``match`` ``[P, M, N]`` (ladder rung (b), ``matches="planted"``): only these cells may match;
    the others get similarity -1 (FSD's ``mu``, LCS's ``c``: below any threshold). LCS's threshold
    is ``tau``, or with ``lcs_tau_rule="quantile"`` (rung (d)) the ``lcs_tau_quantile`` of the
    batch's similarities (detached).
    """
    zero = x.new_zeros(())
    norm = cfg.term_scale == "normalised"
    m, n = x.shape[1], y.shape[1]
    if measure == "meanpool":
        return F.cosine_similarity(x.mean(dim=1), y.mean(dim=1), dim=-1, eps=1e-8), zero
    if measure == "fsd":
        half = x.shape[-1] // 2
        mu = cosine_matrix(x[..., :half], y[..., :half])
        g = cosine_matrix(x[..., half:], y[..., half:])
        if match is not None:
            mu = torch.where(match, mu, mu.new_full((), -1.0))
        score = dp.fsd(mu, g, g, gamma=cfg.gamma)
        return (score / fsd_bound(m, n, cfg.gamma) if norm else score), zero
    if measure == "lcs":
        c = lcs_similarity(x, y, cfg)
        tau = cfg.tau
        if cfg.lcs_tau_rule == "quantile":
            tau = float(torch.quantile(c.detach().flatten().float(), cfg.lcs_tau_quantile))
        if match is not None:
            c = torch.where(match, c, c.new_full((), -1.0))
        score = dp.lcs(c, tau=tau)
        return (score / min(m, n) if norm else score), zero
    cost = 1.0 - cosine_matrix(x, y)
    scale = 1.0 / (m + n - 1) if norm else 1.0
    if measure == "dtw":
        return -scale * dp.soft_dtw(cost, gamma=cfg.dtw_gamma), zero
    if measure == "ccdtw":
        score = -scale * dp.soft_dtw(cost, gamma=cfg.dtw_gamma)
        alignment = dp.soft_dtw_alignment(cost, gamma=cfg.dtw_gamma)
        return score, cfg.cc_weight * cycle_consistency(alignment, x, y)
    if measure == "dropdtw":
        drop = torch.quantile(cost.detach().flatten(1), cfg.drop_quantile, dim=1)  # [P]
        drop_x = drop[:, None].expand(-1, cost.shape[1]).contiguous()
        drop_z = drop[:, None].expand(-1, cost.shape[2]).contiguous()
        return -scale * dp.drop_dtw(cost, drop_x, drop_z, gamma=cfg.dtw_gamma), zero
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
        needs_projection = ((cfg.action_measure != "none" or cfg.pair_measure == "fsd")
                            and cfg.fsd_head == "projection")
        self.projection = nn.Linear(embed_dim, cfg.proj_dim) if needs_projection else None

    def project(self, x: Tensor) -> Tensor:
        """``[f_mu(x) | f_g(x)]`` (through sigma in the paper form); without the head (ladder rung
        (c), ``fsd_head="none"``) ``[x | x]``: ``mu = g`` = the embeddings' cosine."""
        if self.projection is None:
            return torch.cat([x, x], dim=-1)
        z = self.projection(x)
        return _activation(self.cfg.activation, z) if self.cfg.loss_form == "paper" else z

    def forward(self, out: ModelOutput, labels: Tensor, planted: Tensor | None = None
                ) -> tuple[Tensor, dict]:
        """Return ``(lambda_FSD * L_FSD + lambda_LCS * L_LCS, parts)`` (+ the oracle term)."""
        terms, parts = self.terms(out, labels, planted)
        total = out.embeddings.new_zeros(())
        for term in terms.values():
            total = total + term
        return total, parts

    def terms(self, out: ModelOutput, labels: Tensor, planted: Tensor | None = None
              ) -> tuple[dict[str, Tensor], dict]:
        """The weighted terms ``{"fsd": lambda_FSD L_FSD (+ aux), "lcs": ..., "oracle": ...}``
        (with graph) and the detached unweighted losses (``parts``); keys only for the active
        slots. ``planted``: the batch's planted snippet labels ``[2B, T, 4]`` (oracle terms,
        :mod:`ftcl.losses.oracle`)."""
        cfg = self.cfg
        n = labels.shape[0] // 2
        if labels.shape[0] != 2 * n or n == 0:
            raise ValueError(f"FTCL needs pairs laid out as cat([a, b]); got {labels.shape[0]} "
                             "videos")
        positive = (labels[:n] * labels[n:]).sum(dim=-1) > 0
        if cfg.shuffle_pairs:  # control: the pair labels no longer say which videos match
            positive = positive[torch.randperm(n, device=positive.device)]
        terms: dict[str, Tensor] = {}
        parts: dict[str, Tensor] = {}
        if cfg.oracle != "none":
            loss = oracle_loss(cfg.oracle, out.embeddings, out.attention, planted,
                               cfg.oracle_snippets, cfg.oracle_temperature)
            terms["oracle"] = cfg.lambda_oracle * loss
            parts["oracle"] = loss.detach()
        if cfg.action_measure == "none" and cfg.pair_measure == "none":
            return terms, parts
        lcs_len = cfg.lcs_len if cfg.pair_measure != "none" else None
        if cfg.proposals == "planted":
            index = planted_proposals(out.attention, self._planted(planted), cfg.fsd_len, lcs_len)
        else:
            index = proposal_indices(out.attention, cfg.fsd_len, lcs_len, cfg.background)
        keys = None
        if cfg.matches == "planted":
            every = planted_keys(self._planted(planted))
            keys = {k: every.gather(1, v) for k, v in index.items()}
        if cfg.action_measure != "none":
            loss, aux = self.action_background_loss(
                gather_snippets(out.embeddings, index["action"]),
                gather_snippets(out.embeddings, index["background"]), positive,
                None if keys is None else (keys["action"], keys["background"]))
            terms["fsd"] = cfg.lambda_fsd * loss + aux
            parts["fsd"] = loss.detach()
        if cfg.pair_measure != "none":
            loss, aux = self.pair_loss(gather_snippets(out.embeddings, index["lcs"]), positive,
                                       None if keys is None else keys["lcs"])
            terms["lcs"] = cfg.lambda_lcs * loss + aux
            parts["lcs"] = loss.detach()
        return terms, parts

    @staticmethod
    def _planted(planted: Tensor | None) -> Tensor:
        if planted is None:
            raise ValueError("ftcl.proposals / ftcl.matches = 'planted' need the planted snippet "
                             "labels of the batch (synthetic data only)")
        return planted

    def action_background_loss(self, action: Tensor, background: Tensor, positive: Tensor,
                               keys: tuple[Tensor, Tensor] | None = None
                               ) -> tuple[Tensor, Tensor]:
        """FSD contrasting (Eq. 4): action/action of positive pairs vs action/background.

        ``action``, ``background``: the proposals ``[2B, fsd_len, E]`` of the ``cat([a, b])``
        videos; ``keys``: their planted match keys (ladder rung (b)).
        """
        cfg, n = self.cfg, positive.shape[0]
        action, background = self.project(torch.cat([action, background])).chunk(2)
        act_a, act_b, bkg_b = action[:n], action[n:], background[n:]
        k_act_a = k_act_b = k_bkg_b = None
        if keys is not None:
            k_act_a, k_act_b, k_bkg_b = keys[0][:n], keys[0][n:], keys[1][n:]
        if cfg.loss_form == "code":
            other = torch.where(positive[:, None, None], act_b, bkg_b)
            match = None
            if keys is not None:
                k_other = torch.where(positive[:, None], k_act_b, k_bkg_b)
                match = k_act_a[:, :, None] == k_other[:, None, :]
            score, aux = sequence_score(cfg.action_measure, act_a, other, cfg, match)
            return masked_mean(score, ~positive) - masked_mean(score, positive), aux
        if not positive.any():
            zero = action.sum() * 0.0
            return zero, zero
        x = act_a[positive]
        match = None
        if keys is not None:
            kx = k_act_a[positive]
            match = torch.cat([kx[:, :, None] == k_act_b[positive][:, None, :],
                               kx[:, :, None] == k_bkg_b[positive][:, None, :]])
        score, aux = sequence_score(cfg.action_measure, torch.cat([x, x]),
                                    torch.cat([act_b[positive], bkg_b[positive]]), cfg, match)
        same, diff = score.chunk(2)
        return F.relu(cfg.fsd_margin - same + diff).mean(), aux

    def pair_loss(self, seq: Tensor, positive: Tensor, keys: Tensor | None = None
                  ) -> tuple[Tensor, Tensor]:
        """LCS contrasting (Eq. 7): pairs sharing a class vs pairs sharing none.

        ``seq``: the top ``lcs_len`` attended snippets ``[2B, J, E]`` of the ``cat([a, b])``
        videos, in time order; ``keys`` their planted match keys (ladder rung (b)).
        """
        cfg, n = self.cfg, positive.shape[0]
        if cfg.pair_measure == "fsd":
            seq = self.project(seq)
        match = None if keys is None else keys[:n, :, None] == keys[n:, None, :]
        score, aux = sequence_score(cfg.pair_measure, seq[:n], seq[n:], cfg, match)
        if cfg.loss_form == "code":
            return masked_mean(score, ~positive) - masked_mean(score, positive), aux
        if cfg.pair_measure == "lcs":
            r = score if cfg.term_scale == "normalised" else score / seq.shape[1]
            r = r.clamp(_EPS, 1.0 - _EPS)
            return F.binary_cross_entropy(r, positive.to(r.dtype)), aux
        pos, neg = score[positive], score[~positive]
        if pos.numel() == 0 or neg.numel() == 0:
            return score.sum() * 0.0, aux
        return F.relu(cfg.fsd_margin - pos[:, None] + neg[None, :]).mean(), aux
