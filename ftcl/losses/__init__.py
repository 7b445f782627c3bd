"""Losses: each backbone's classification objective and the FTCL terms (Eq. 2-8).

- :mod:`ftcl.losses.backbones`: L_cls of ACM-Net, STPN, W-TALC and CoLA.
- :mod:`ftcl.losses.contrast`: FSD contrasting (Eq. 2-4), LCS contrasting (Eq. 6-7), the Table 3-4
  variants, and :class:`FTCLObjective` (``lambda_FSD L_FSD + lambda_LCS L_LCS``).

The full objective of Eq. 8 is :func:`total_loss`.
"""

from __future__ import annotations

from torch import Tensor

from ..config import LossConfig
from ..models.base import ModelOutput
from .backbones import (
    BACKBONE_LOSSES,
    acmnet_loss,
    backbone_loss,
    cola_loss,
    stpn_loss,
    wtalc_loss,
)
from .contrast import FTCLObjective, sequence_score


def total_loss(backbone: str, out: ModelOutput, labels: Tensor, cfg: LossConfig,
               objective: FTCLObjective | None = None,
               planted: Tensor | None = None) -> tuple[Tensor, dict]:
    """Eq. 8: ``L = L_cls + lambda_FSD L_FSD + lambda_LCS L_LCS`` (FTCL terms if ``objective``).

    ``out`` and ``labels`` cover ``2B`` videos laid out as ``cat([a, b])``; ``planted`` their
    planted snippet labels (synthetic data), needed by the oracle terms only
    (:mod:`ftcl.losses.oracle`). Returns the loss and a dict of detached parts (``"cls"`` is the
    whole backbone objective).
    """
    loss, parts = backbone_loss(backbone, out, labels, cfg)
    parts = {"cls": loss.detach(), **{f"cls/{k}": v for k, v in parts.items()}}
    if objective is not None:
        extra, ftcl_parts = objective(out, labels, planted)
        loss = loss + extra
        parts.update(ftcl_parts)
    parts["loss"] = loss.detach()
    return loss, parts


__all__ = ["BACKBONE_LOSSES", "FTCLObjective", "acmnet_loss", "backbone_loss", "cola_loss",
           "sequence_score", "stpn_loss", "total_loss", "wtalc_loss"]
