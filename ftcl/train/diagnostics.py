"""What the FTCL terms do during training, measured (not part of the objective).

:func:`term_gradient_norms`: the gradient norm, on the backbone's parameters, of each term of
Eq. 8 separately (``L_cls``, ``lambda_FSD L_FSD``, ``lambda_LCS L_LCS``) on one batch, and each
FTCL term's size relative to ``L_cls``'s. The trainer records it at every evaluation
(``train.grad_norms``), in the run record's ``history``. What the trained model's proposals hold
is measured after training, in :mod:`ftcl.analysis.purity`.
"""

from __future__ import annotations

import torch

from ..losses.backbones import backbone_loss


def term_gradient_norms(model: torch.nn.Module, objective, backbone: str, loss_cfg,
                        features: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """L2 norms of ``d term / d backbone parameters`` for each term of Eq. 8, on one batch.

    ``features``/``labels`` are the ``cat([a, b])`` batch. Returns ``{"cls": |g_cls|, "fsd":
    |g_fsd|, "lcs": |g_lcs|, "fsd/cls": |g_fsd| / |g_cls|, ...}`` (FTCL keys only for active
    slots; the FTCL terms are weighted by their lambdas, as in the loss). One forward pass in the
    model's current mode; no parameter or ``.grad`` is changed. Callers that must not disturb the
    RNG stream (dropout) wrap it in :func:`ftcl.seed.preserved_rng`.
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
