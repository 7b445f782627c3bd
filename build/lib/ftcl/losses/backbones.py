"""Each backbone's own classification objective (L_cls of Eq. 8).

All functions take the outputs for a batch of ``2B`` videos laid out as ``cat([a, b])`` (video
``i`` is paired with video ``i + B``; only W-TALC's co-activity loss uses the pairing) and the
multi-hot labels ``[2B, C]``. They return ``(loss, parts)`` where ``parts`` maps term names to
detached scalars for logging.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import LossConfig
from ..models.base import ModelOutput

_EPS = 1e-10


def normalised_labels(labels: Tensor) -> Tensor:
    """Multi-hot labels divided by their sum (a distribution over the video's classes)."""
    return labels / labels.sum(dim=-1, keepdim=True).clamp_min(_EPS)


def acmnet_loss(out: ModelOutput, labels: Tensor, cfg: LossConfig) -> tuple[Tensor, dict]:
    """ACM-Net: three classification losses + guide + feature-norm + sparsity (release weights).

    - classification: cross-entropy of the instance / context / background video predictions
      (softmax over ``C + 1``) against ``[y, 0]``, ``[y, 1]`` and ``[0, 1]``, each normalised to
      sum to one; the instance term is weighted by ``inst_weight``;
    - guide: ``sum_t |1 - p_t(background) - a_t(instance)|`` with the attention detached;
    - feature norm: with ``n_i, n_c, n_b`` the norms of the mean top-k embedding of each branch,
      ``(relu(m - n_i + n_c) + relu(m - n_c + n_b) + n_b)^2`` (margin ``m = feat_margin``);
    - sparsity: ``sum_t`` of the instance and context attention.
    """
    probs = out.extras["video_probs"]  # [N, 3, C+1]
    zeros, ones = labels.new_zeros(labels.shape[0], 1), labels.new_ones(labels.shape[0], 1)
    targets = torch.stack([
        torch.cat([labels, zeros], dim=-1),
        torch.cat([labels, ones], dim=-1),
        torch.cat([torch.zeros_like(labels), ones], dim=-1),
    ], dim=1)
    targets = normalised_labels(targets)
    ce = -(targets * torch.log(probs + _EPS)).sum(dim=-1).mean(dim=0)  # [3]
    cls = cfg.inst_weight * ce[0] + ce[1] + ce[2]

    att = out.extras["branch_attention"]  # [N, T, 3]
    background = out.extras["instance_cas"][..., -1]  # [N, T]
    guide = (1.0 - background - att[..., 0].detach()).abs().sum(dim=1).mean()

    norms = out.extras["branch_features"].norm(dim=-1)  # [N, 3]
    n_inst, n_cont, n_back = norms.unbind(dim=-1)
    margin = cfg.feat_margin
    feat = (F.relu(margin - n_inst + n_cont) + F.relu(margin - n_cont + n_back) + n_back)
    feat = feat.pow(2).mean()

    sparse = att[..., :2].sum(dim=1).mean()
    loss = cls + cfg.guide_weight * guide + cfg.feat_weight * feat + cfg.sparse_weight * sparse
    parts = {"inst": ce[0], "cont": ce[1], "back": ce[2], "guide": guide, "feat": feat,
             "sparse": sparse}
    return loss, {k: v.detach() for k, v in parts.items()}


def stpn_loss(out: ModelOutput, labels: Tensor, cfg: LossConfig) -> tuple[Tensor, dict]:
    """STPN: multi-label sigmoid cross-entropy + ``beta * ||attention||_1`` (sum over time)."""
    cls = F.binary_cross_entropy_with_logits(out.extras["video_logits"], labels)
    sparsity = out.attention.abs().sum(dim=1).mean()
    loss = cls + cfg.stpn_sparsity * sparsity
    return loss, {"cls": cls.detach(), "sparsity": sparsity.detach()}


def wtalc_loss(out: ModelOutput, labels: Tensor, cfg: LossConfig) -> tuple[Tensor, dict]:
    """W-TALC: ``lambda * L_MILL + (1 - lambda) * L_CASL``.

    - MILL: cross-entropy between the softmax of the k-max pooled activations and the normalised
      labels;
    - CASL (co-activity similarity): for each pair ``(a, b)`` and each class ``c`` they share, with
      ``A = softmax_t`` of the class-``c`` activations, the high- and low-attention features
      ``H = sum_t A_t x_t`` and ``L = sum_t (1 - A_t) x_t / (T - 1)``, and ``d = 1 - cos``::

          0.5 * (relu(d(H_a, H_b) - d(H_a, L_b) + delta) + relu(d(H_a, H_b) - d(L_a, H_b) + delta))

      averaged over (pair, shared class).
    """
    mil = -(normalised_labels(labels) * F.log_softmax(out.extras["video_logits"], dim=-1))
    mil = mil.sum(dim=-1).mean()

    feats, logits = out.extras["casl_features"], out.extras["logits"]  # [N,T,E], [N,T,C]
    n, length = logits.shape[0] // 2, logits.shape[1]
    att = torch.softmax(logits, dim=1)
    high = torch.einsum("ntc,nte->nce", att, feats)
    low = torch.einsum("ntc,nte->nce", (1.0 - att) / max(length - 1, 1), feats)

    def dist(x: Tensor, y: Tensor) -> Tensor:
        return 1.0 - F.cosine_similarity(x, y, dim=-1, eps=1e-8)

    d_hh = dist(high[:n], high[n:])
    delta = cfg.wtalc_margin
    casl = 0.5 * (F.relu(d_hh - dist(high[:n], low[n:]) + delta)
                  + F.relu(d_hh - dist(low[:n], high[n:]) + delta))  # [B, C]
    shared = labels[:n] * labels[n:]
    casl = (casl * shared).sum() / shared.sum().clamp_min(1.0)
    loss = cfg.wtalc_lambda * mil + (1.0 - cfg.wtalc_lambda) * casl
    return loss, {"mil": mil.detach(), "casl": casl.detach()}


def info_nce(query: Tensor, key: Tensor, negatives: Tensor, temperature: float) -> Tensor:
    """InfoNCE with one positive: ``query, key`` ``[N, E]``, ``negatives`` ``[N, K, E]``."""
    query, key = F.normalize(query, dim=-1), F.normalize(key, dim=-1)
    negatives = F.normalize(negatives, dim=-1)
    positive = (query * key).sum(dim=-1, keepdim=True)  # [N, 1]
    negative = torch.einsum("ne,nke->nk", query, negatives)  # [N, K]
    logits = torch.cat([positive, negative], dim=1) / temperature
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target)


def cola_loss(out: ModelOutput, labels: Tensor, cfg: LossConfig) -> tuple[Tensor, dict]:
    """CoLA: video classification (BCE on the softmaxed scores) + ``w * SniCo``.

    SniCo refines hard snippets against easy ones: hard action vs (easy action, easy background
    negatives) plus hard background vs (easy background, easy action negatives), each an InfoNCE
    on L2-normalised mean embeddings with temperature ``cola_temperature``.
    """
    cls = F.binary_cross_entropy(out.video_scores.clamp(_EPS, 1 - _EPS), normalised_labels(labels))
    x = out.extras
    snico = (info_nce(x["hard_act"].mean(1), x["easy_act"].mean(1), x["easy_bkg"],
                      cfg.cola_temperature)
             + info_nce(x["hard_bkg"].mean(1), x["easy_bkg"].mean(1), x["easy_act"],
                        cfg.cola_temperature))
    loss = cls + cfg.cola_snico_weight * snico
    return loss, {"cls": cls.detach(), "snico": snico.detach()}


BACKBONE_LOSSES = {"acmnet": acmnet_loss, "stpn": stpn_loss, "wtalc": wtalc_loss,
                   "cola": cola_loss}


def backbone_loss(name: str, out: ModelOutput, labels: Tensor, cfg: LossConfig
                  ) -> tuple[Tensor, dict]:
    """The classification objective of backbone ``name`` (see the functions above)."""
    if name not in BACKBONE_LOSSES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONE_LOSSES)}")
    if labels.shape != out.video_scores.shape:
        raise ValueError(f"labels {tuple(labels.shape)} do not match the video scores "
                         f"{tuple(out.video_scores.shape)}")
    return BACKBONE_LOSSES[name](out, labels, cfg)
