"""Measurements of what the FTCL terms do during training (not part of the objective).

- :func:`term_gradient_norms`: the gradient norm, on the backbone's parameters, of each term of
  Eq. 8 separately (``L_cls``, ``lambda_FSD L_FSD``, ``lambda_LCS L_LCS``) on one batch, and each
  FTCL term's size relative to ``L_cls``'s. The trainer records it at every evaluation
  (``train.grad_norms``), in the run record's ``history``.
- :func:`proposal_purity`: on a dataset with planted snippet labels (the synthetic data,
  :func:`ftcl.data.synthetic.load_snippet_labels`), the share of *action* snippets in the action
  and background proposals of Sec. 3.2, for both background selections (``"paper"``: lowest
  attention; ``"release"``: attention ranks ``fsd_len .. 2 fsd_len - 1``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .losses.backbones import backbone_loss
from .losses.contrast import proposal_indices


def term_gradient_norms(model: torch.nn.Module, objective, backbone: str, loss_cfg,
                        features: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """L2 norms of ``d term / d backbone parameters`` for each term of Eq. 8, on one batch.

    ``features``/``labels`` are the ``cat([a, b])`` batch. Returns ``{"cls": |g_cls|, "fsd":
    |g_fsd|, "lcs": |g_lcs|, "fsd/cls": |g_fsd| / |g_cls|, ...}`` (FTCL keys only for active
    slots; the FTCL terms are weighted by their lambdas, as in the loss). One forward pass in the
    model's current mode; no parameter or ``.grad`` is changed. Callers that must not disturb the
    RNG stream (dropout) wrap it in :func:`ftcl.train.preserved_rng`.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    out = model(features)
    cls, _ = backbone_loss(backbone, out, labels, loss_cfg)
    terms = {"cls": cls}
    if objective is not None:
        ftcl_terms, _ = objective.terms(out, labels)
        terms.update(ftcl_terms)
    norms: dict[str, float] = {}
    names = list(terms)
    for i, name in enumerate(names):
        grads = torch.autograd.grad(terms[name], params, retain_graph=i < len(names) - 1,
                                    allow_unused=True)
        sq = sum(float(g.pow(2).sum()) for g in grads if g is not None)
        norms[name] = sq ** 0.5
    for name in names[1:]:
        norms[f"{name}/cls"] = norms[name] / max(norms["cls"], 1e-12)
    return norms


@torch.no_grad()
def proposal_purity(model: torch.nn.Module, dataset, fsd_len: int,
                    video_ids: list[str] | None = None, root=None,
                    backgrounds: tuple[str, ...] = ("paper", "release"),
                    batch_size: int = 32) -> dict[str, Any]:
    """Share of action snippets in the FTCL proposals of ``model`` on ``dataset``'s videos.

    For each video (sampled as ``dataset`` samples it; the test split samples uniformly) the
    attention picks the action proposal (top ``fsd_len``) and the background proposal of each
    selection in ``backgrounds``; each picked snippet is looked up in the planted snippet labels
    (column ``region`` of :data:`ftcl.data.synthetic.SNIPPET_LABEL_COLUMNS`, ``REGION_ACTION``).
    ``root``: the dataset folder (default ``dataset.root``).

    Returns ``{"action": share, "background/paper": share, "background/release": share,
    "all_snippets": share, "videos": n, "snippets_per_proposal": fsd_len}``; shares are fractions
    over all picked snippets of all videos; ``all_snippets`` is the share of action snippets among
    all sampled snippets (what a random pick would give). For ACM-Net also
    ``"background/acmnet-branch"``: the top ``fsd_len`` snippets of its background attention branch
    (a diagnostic; not a selection the loss offers). The model is put in eval mode for the
    forward pass and restored.
    """
    from .data.synthetic import REGION_ACTION, SNIPPET_LABEL_COLUMNS, load_snippet_labels

    root = dataset.root if root is None else root
    ids = list(dataset.video_ids) if video_ids is None else list(video_ids)
    index = {v: i for i, v in enumerate(dataset.video_ids)}
    region_col = SNIPPET_LABEL_COLUMNS.index("region")
    device = next(model.parameters()).device
    hits = {"action": 0, **{f"background/{b}": 0 for b in backgrounds}}
    total, all_action, all_count = 0, 0, 0
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            items = [dataset[index[v]] for v in chunk]
            feats = torch.stack([it["features"] for it in items]).to(device)
            out = model(feats)
            attention = out.attention.float().cpu()
            branches = out.extras.get("branch_attention")  # ACM-Net: [B, T, 3]
            regions = np.stack([load_snippet_labels(root, dataset.split, v)[:, region_col]
                                [it["sample_index"].numpy()] for v, it in zip(chunk, items,
                                                                  strict=True)])
            is_action = torch.from_numpy(regions == REGION_ACTION)
            all_action += int(is_action.sum())
            all_count += is_action.numel()
            for background in backgrounds:
                picked = proposal_indices(attention, fsd_len, None, background)
                if background == backgrounds[0]:
                    hits["action"] += int(is_action.gather(1, picked["action"]).sum())
                hits[f"background/{background}"] += int(
                    is_action.gather(1, picked["background"]).sum())
            if branches is not None:  # diagnostic only: ACM-Net's background branch
                top_bkg = proposal_indices(branches[..., 2].float().cpu(), fsd_len)["action"]
                hits["background/acmnet-branch"] = hits.get("background/acmnet-branch", 0) + int(
                    is_action.gather(1, top_bkg).sum())
            total += len(chunk) * fsd_len
    finally:
        model.train(was_training)
    return {**{k: v / max(total, 1) for k, v in hits.items()},
            "all_snippets": all_action / max(all_count, 1), "videos": len(ids),
            "snippets_per_proposal": fsd_len}


__all__ = ["proposal_purity", "term_gradient_norms"]
