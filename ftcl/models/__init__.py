"""Backbones for weakly-supervised temporal action localization, behind one interface.

``build_backbone(name, feature_dim, num_classes, cfg)`` returns a module whose ``forward(features
[B, T, D])`` gives a :class:`ModelOutput` (``cas``, ``attention``, ``video_scores``, ``embeddings``,
``extras``). Backbones: ``"acmnet"`` (Tables 1-4), ``"stpn"``, ``"wtalc"``, ``"cola"`` (Table 5).
Each one's own classification objective is in :mod:`ftcl.losses.backbones`.
"""

from __future__ import annotations

from ..config import ModelConfig
from .acmnet import ACMNet
from .base import Backbone, ModelOutput
from .cola import CoLA
from .stpn import STPN
from .wtalc import WTALC

BACKBONES: dict[str, type[Backbone]] = {
    "acmnet": ACMNet, "stpn": STPN, "wtalc": WTALC, "cola": CoLA,
}


def build_backbone(name: str, feature_dim: int, num_classes: int,
                   cfg: ModelConfig | None = None) -> Backbone:
    """Build the backbone ``name`` for ``feature_dim``-wide features and ``num_classes`` classes.

    ``cfg`` (:class:`ftcl.config.ModelConfig`, defaults if None) supplies the sizes and
    hyper-parameters; ``cfg.embed_dim = None`` means ``embed_dim = feature_dim`` (the release).
    """
    cfg = cfg if cfg is not None else ModelConfig(backbone=name)
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    embed_dim = cfg.embed_dim if cfg.embed_dim is not None else feature_dim
    if name == "acmnet":
        return ACMNet(feature_dim, num_classes, embed_dim, dropout=cfg.dropout,
                      topk_divisors=tuple(cfg.topk_divisors), embed_dropout=cfg.embed_dropout)
    if name == "stpn":
        return STPN(feature_dim, num_classes, embed_dim, hidden=cfg.stpn_hidden,
                    dropout=cfg.dropout)
    if name == "wtalc":
        return WTALC(feature_dim, num_classes, embed_dim, dropout=cfg.dropout,
                     k_divisor=cfg.wtalc_k_divisor)
    return CoLA(feature_dim, num_classes, embed_dim, dropout=cfg.dropout, r_easy=cfg.cola_r_easy,
                r_hard=cfg.cola_r_hard, kernel_small=cfg.cola_kernel_small,
                kernel_large=cfg.cola_kernel_large)


__all__ = ["ACMNet", "BACKBONES", "Backbone", "CoLA", "ModelOutput", "STPN", "WTALC",
           "build_backbone"]
