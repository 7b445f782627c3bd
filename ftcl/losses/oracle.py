"""Oracle stage-2 terms: positive controls that use what the synthetic generator planted.

FTCL (Eq. 2-8) has to *guess* which snippets are action (its proposals, Sec. 3.2) and which
snippets of two videos correspond (its FSD / LCS alignments, Eq. 2 and 6). The synthetic data
know both: every snippet's class, sub-action phase and region
(:data:`ftcl.data.synthetic.SNIPPET_LABEL_COLUMNS`). An oracle term uses them, so it shows what a
feature-level alignment term *could* gain on this benchmark at a given gradient share (issue 21):
if no oracle gains, the benchmark cannot test FTCL; if one gains and FTCL does not, the ladder
between them says which of FTCL's guesses fails.

Terms (``FTCLConfig.oracle``), each weighted by ``lambda_oracle``:

- ``"phase"``: supervised contrastive loss (Khosla et al., NeurIPS 2020) on the snippet
  embeddings (the ones the CAS is computed from, which LCS compares): anchors are planted action
  snippets, positives the other sampled snippets of the same (class, phase), every other sampled
  snippet of the batch (other phases, other classes, background) a negative;
- ``"class"``: the same with the same class as positives;
- ``"action-phase"``: ``"phase"`` among action snippets only (no background in the batch);
- ``"mask"``: binary cross-entropy of the backbone's attention against the planted action mask
  (a localisation oracle, not an alignment one: it supervises the proposals themselves).

Per video ``oracle_snippets`` planted action snippets and as many others are drawn at random
(fewer when the video has fewer), so the contrastive loss compares ``2B x 2 oracle_snippets``
snippets, not all ``2B x T``. The draw uses torch's generator (the training stream).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ORACLES

COL_CLASS, COL_PHASE, COL_INSTANCE, COL_REGION = 0, 1, 2, 3
REGION_ACTION = 1
_PHASE_STRIDE = 64  # key = class * stride + phase (phases per class are far fewer)


def sample_snippets(is_action: Tensor, per_video: int, others: bool = True
                    ) -> tuple[Tensor, Tensor]:
    """Random snippet indices ``[V, n]`` and their validity ``[V, n]``: per video up to
    ``per_video`` action snippets (``is_action`` ``[V, T]``), then, with ``others``, up to
    ``per_video`` non-action snippets. Invalid slots (a video with fewer) are masked."""
    score = torch.rand(is_action.shape, device=is_action.device)
    picks, valid = [], []
    for want in ([True, False] if others else [True]):
        key = torch.where(is_action == want, score, score.new_full((), -1.0))
        top = key.topk(min(per_video, key.shape[1]), dim=1)
        picks.append(top.indices)
        valid.append(top.values >= 0)
    return torch.cat(picks, dim=1), torch.cat(valid, dim=1)


def supervised_contrastive(z: Tensor, keys: Tensor, anchors: Tensor, temperature: float) -> Tensor:
    """SupCon loss of normalised rows ``z`` ``[N, E]`` with integer ``keys`` ``[N]``.

    For each anchor ``i`` (``anchors`` ``[N]`` bool) with at least one positive (another row with
    the same key): ``-mean_{p in P(i)} log softmax_{a != i}(z_i . z_a / temperature)_p``; the
    mean over those anchors (zero, still differentiable, when there is none).
    """
    n = z.shape[0]
    logits = z @ z.T / temperature
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (keys[:, None] == keys[None, :]) & ~eye
    count = positive.sum(dim=1)
    use = anchors & (count > 0)
    if not bool(use.any()):
        return z.sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~positive, 0.0).sum(dim=1) / count.clamp_min(1))
    return per_anchor[use].mean()


def oracle_loss(name: str, embeddings: Tensor, attention: Tensor, planted: Tensor,
                per_video: int = 8, temperature: float = 0.1) -> Tensor:
    """The oracle term ``name`` (see the module doc) on a batch.

    ``embeddings`` ``[V, T, E]``, ``attention`` ``[V, T]`` (the backbone's), ``planted``
    ``[V, T, 4]`` the planted labels of the sampled snippets (class, phase, instance, region).
    """
    if planted is None:
        raise ValueError(f"oracle term {name!r} needs the planted snippet labels of the batch "
                         "(synthetic data only)")
    if planted.shape[:2] != embeddings.shape[:2]:
        raise ValueError(f"planted labels {tuple(planted.shape)} do not match the embeddings "
                         f"{tuple(embeddings.shape)}")
    is_action = planted[..., COL_REGION] == REGION_ACTION
    if name == "mask":
        att = attention.clamp(1e-6, 1.0 - 1e-6)
        return F.binary_cross_entropy(att, is_action.to(att.dtype))
    if name not in ("phase", "class", "action-phase"):
        raise ValueError(f"unknown oracle {name!r}; choose one of {ORACLES}")
    index, valid = sample_snippets(is_action, per_video, others=name != "action-phase")
    dim = embeddings.shape[-1]
    z = embeddings.gather(1, index.unsqueeze(-1).expand(-1, -1, dim))[valid]
    lab = planted.gather(1, index.unsqueeze(-1).expand(-1, -1, planted.shape[-1]))[valid]
    action = lab[:, COL_REGION] == REGION_ACTION
    key = lab[:, COL_CLASS].long()
    if name in ("phase", "action-phase"):
        key = key * _PHASE_STRIDE + lab[:, COL_PHASE].long()
    # non-action snippets are never positives: each gets a key of its own
    own = -1 - torch.arange(key.shape[0], device=key.device)
    key = torch.where(action, key, own)
    return supervised_contrastive(F.normalize(z, dim=-1, eps=1e-8), key, action, temperature)


# ------------------------------------------------------------------------------ the ladder


def planted_keys(planted: Tensor) -> Tensor:
    """``[V, T]`` match keys: ``class * stride + phase`` for planted action snippets, a key of its
    own (negative, unique in the batch) for every other snippet."""
    v, t = planted.shape[:2]
    key = planted[..., COL_CLASS].long() * _PHASE_STRIDE + planted[..., COL_PHASE].long()
    own = -1 - torch.arange(v * t, device=planted.device).view(v, t)
    return torch.where(planted[..., COL_REGION] == REGION_ACTION, key, own)


def planted_proposals(attention: Tensor, planted: Tensor, fsd_len: int,
                      lcs_len: int | None = None) -> dict[str, Tensor]:
    """Ladder rung (a): FTCL's proposals (:func:`ftcl.losses.contrast.proposal_indices`) chosen
    among the *planted* snippets: the action proposal and the LCS sequence are the top-attention
    planted action snippets, the background proposal the top-attention planted non-action
    snippets (the true background FTCL's attention finds most action-like, where its own
    "release" background takes the next-ranked snippets). A video with too few planted snippets
    of a kind fills up with the next by attention. Indices ``[V, n]`` in time order."""
    att = attention.detach()
    is_action = planted[..., COL_REGION] == REGION_ACTION
    act = (att + 2.0 * is_action).argsort(dim=1, descending=True, stable=True)
    bkg = (att + 2.0 * ~is_action).argsort(dim=1, descending=True, stable=True)
    out = {"action": act[:, :fsd_len].sort(dim=1).values,
           "background": bkg[:, :fsd_len].sort(dim=1).values}
    if lcs_len is not None:
        out["lcs"] = act[:, :lcs_len].sort(dim=1).values
    return out


__all__ = ["ORACLES", "oracle_loss", "planted_keys", "planted_proposals", "sample_snippets",
           "supervised_contrastive"]
