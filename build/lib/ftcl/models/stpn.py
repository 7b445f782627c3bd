"""STPN, sparse temporal pooling network (Nguyen et al., CVPR 2018), a Table 5 backbone.

A small attention module scores each snippet (``lambda_t`` in [0, 1], sigmoid); the video feature is
the attention-weighted temporal average of the snippet features; a linear classifier with a
sigmoid gives multi-label video scores. The objective is binary cross-entropy plus an L1 sparsity
penalty on the attention (:func:`ftcl.losses.backbones.stpn_loss`). The temporal class activation
map is ``lambda_t * sigmoid(w_c . x_t)``.

Difference from the original: STPN classifies the frozen input features directly. FTCL needs
trainable embeddings to compare, so (as for every plug-in backbone here) the input first goes
through one linear layer + ReLU (width ``embed_dim``); attention and classifier read that.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Backbone, ModelOutput


class STPN(Backbone):
    """Sparse temporal pooling network.

    Parameters
    ----------
    feature_dim, num_classes, embed_dim
        See :class:`~ftcl.models.base.Backbone`.
    hidden : int
        Width of the attention module's hidden layer (256 in the paper).
    dropout : float
        Dropout on the pooled video feature.
    """

    name = "stpn"

    def __init__(self, feature_dim: int, num_classes: int, embed_dim: int, hidden: int = 256,
                 dropout: float = 0.5):
        super().__init__(feature_dim, num_classes, embed_dim)
        self.embedding = nn.Sequential(nn.Linear(feature_dim, embed_dim), nn.ReLU())
        self.attention = nn.Sequential(
            nn.Linear(embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1), nn.Sigmoid()
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embed_dim, num_classes)

    def forward(self, features: Tensor) -> ModelOutput:
        """Run the network on ``features`` ``[B, T, D]``; see :class:`ModelOutput`."""
        self.check_input(features)
        emb = self.embedding(features)  # [B, T, E]
        att = self.attention(emb).squeeze(-1)  # [B, T]
        pooled = (att.unsqueeze(-1) * emb).mean(dim=1)  # attention-weighted temporal average
        video_logits = self.classifier(self.dropout(pooled))  # [B, C]
        snippet_scores = torch.sigmoid(self.classifier(emb))  # [B, T, C]
        return ModelOutput(
            cas=att.unsqueeze(-1) * snippet_scores,  # T-CAM
            attention=att,
            video_scores=torch.sigmoid(video_logits),
            embeddings=emb,
            extras={"video_logits": video_logits},
        )
