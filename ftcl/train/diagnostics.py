"""What the FTCL terms do during training, measured (not part of the objective).

:func:`term_gradient_norms`: the gradient norm, on the backbone's parameters, of each term of
Eq. 8 separately (``L_cls``, ``lambda_FSD L_FSD``, ``lambda_LCS L_LCS``, an oracle term) on one
batch, each term's size relative to ``L_cls``'s, and its **gradient share** (issue 21: the same
ratio on the parameters both reach). The trainer records it at every evaluation
(``train.grad_norms``, the run record's ``history``) and at every
iteration of the last part of stage 2 (``train.grad_share_tail``, the record's ``grad_shares``).
What the trained model's proposals hold is measured after training, in
:mod:`ftcl.analysis.purity`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..losses.backbones import backbone_loss


def term_gradient_norms(model: torch.nn.Module, objective, backbone: str, loss_cfg,
                        features: torch.Tensor, labels: torch.Tensor,
                        planted: torch.Tensor | None = None) -> dict[str, float]:
    """L2 norms of ``d term / d backbone parameters`` for each term of Eq. 8, on one batch.

    ``features``/``labels`` are the ``cat([a, b])`` batch (``planted``: its snippet labels, for
    oracle terms). Returns ``{"cls": |g_cls|, "fsd": |g_fsd|, "lcs": |g_lcs|, "fsd/cls": |g_fsd| /
    |g_cls|, ...}`` over all backbone parameters (FTCL keys only for active slots; the terms are
    weighted by their lambdas, as in the loss), and the **gradient shares** of issue 21:
    ``"share/<term>"`` = ``|g_term| / |g_cls|`` on the backbone parameters that both reach (those
    with a gradient from both; for ACM-Net's FTCL terms the embedding layer), ``"share/both"`` the
    same for the sum of the FSD and LCS terms (when both are active), and ``"head/<term>"`` the
    norm of the term's gradient on the objective's own parameters (FSD's projection head), which
    the shares leave out. One forward pass in the model's current mode; no parameter or ``.grad``
    is changed. Callers that must not disturb the RNG stream (dropout) wrap it in
    :func:`ftcl.seed.preserved_rng`.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    head = [p for p in objective.parameters() if p.requires_grad] if objective is not None else []
    out = model(features)
    cls, _ = backbone_loss(backbone, out, labels, loss_cfg)
    terms = {"cls": cls}
    if objective is not None:
        ftcl_terms, _ = objective.terms(out, labels, planted)
        terms.update(ftcl_terms)
    names = list(terms)
    grads: dict[str, list] = {}
    norms: dict[str, float] = {}
    for i, name in enumerate(names):
        wrt = params + (head if name != "cls" else [])
        g = torch.autograd.grad(terms[name], wrt, retain_graph=i < len(names) - 1,
                                allow_unused=True)
        grads[name] = list(g[:len(params)])
        norms[name] = _norm(grads[name])
        if head and name != "cls" and any(x is not None for x in g[len(params):]):
            norms[f"head/{name}"] = _norm(g[len(params):])
    for name in names[1:]:
        norms[f"{name}/cls"] = norms[name] / max(norms["cls"], 1e-12)
        norms[f"share/{name}"] = _shared_ratio(grads[name], grads["cls"])
    if "fsd" in grads and "lcs" in grads:
        both = [None if a is None and b is None else (0 if a is None else a) + (0 if b is None
                else b) for a, b in zip(grads["fsd"], grads["lcs"], strict=True)]
        norms["share/both"] = _shared_ratio(both, grads["cls"])
    return norms


def _norm(grads) -> float:
    return sum(float(g.pow(2).sum()) for g in grads if g is not None) ** 0.5


def _shared_ratio(term: list, cls: list) -> float:
    """``|term| / |cls|`` over the parameters with a gradient from both (0 if none is shared)."""
    pairs = [(a, b) for a, b in zip(term, cls, strict=True) if a is not None and b is not None]
    if not pairs:
        return 0.0
    return _norm([a for a, _ in pairs]) / max(_norm([b for _, b in pairs]), 1e-12)


def average_shares(entries: list[dict]) -> dict[str, float]:
    """Mean of each ``share/...`` and ``.../cls`` key over several :func:`term_gradient_norms`
    results (the trainer's average over the last part of stage 2, issue 21)."""
    keys = sorted({k for e in entries for k in e if "/" in k})
    return {k: float(np.mean([e[k] for e in entries if k in e])) for k in keys}


def tail_start(iterations: int, fraction: float) -> int:
    """First stage-2 iteration (1-based, counted after its update) of the last ``fraction`` of
    ``iterations`` (at least one iteration)."""
    return iterations - max(1, math.ceil(fraction * iterations)) + 1


__all__ = ["average_shares", "tail_start", "term_gradient_norms"]
