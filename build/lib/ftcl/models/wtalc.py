"""W-TALC (Paul, Roy, Roy-Chowdhury, ECCV 2018), a Table 5 backbone.

One fully-connected layer + ReLU + dropout embeds each snippet; a linear layer gives per-snippet
class activations. Training uses the k-max multiple-instance-learning loss (mean of the top
``ceil(T / 8)`` activations per class, softmax, cross-entropy) and the co-activity similarity loss
between pairs of videos that share a class (:func:`ftcl.losses.backbones.wtalc_loss`).

Interface choices (W-TALC has neither a [0, 1] CAS nor an attention): ``cas`` is the activation
rescaled to [0, 1] over time per video and class (W-TALC thresholds at a fraction of each video's
range, which this reproduces); ``attention`` is the same rescaling of the maximum activation over
classes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .base import Backbone, ModelOutput, minmax_normalise, topk_mean


class WTALC(Backbone):
    """W-TALC network.

    Parameters
    ----------
    feature_dim, num_classes, embed_dim
        See :class:`~ftcl.models.base.Backbone`.
    dropout : float
        Dropout after the embedding (0.7 in the paper).
    k_divisor : int
        The MIL pooling keeps the top ``ceil(T / k_divisor)`` activations (8 in the paper).
    """

    name = "wtalc"

    def __init__(self, feature_dim: int, num_classes: int, embed_dim: int, dropout: float = 0.7,
                 k_divisor: int = 8):
        super().__init__(feature_dim, num_classes, embed_dim)
        if k_divisor < 1:
            raise ValueError(f"k_divisor must be >= 1, got {k_divisor}")
        self.k_divisor = k_divisor
        self.embedding = nn.Sequential(nn.Linear(feature_dim, embed_dim), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embed_dim, num_classes)

    def forward(self, features: Tensor) -> ModelOutput:
        """Run the network on ``features`` ``[B, T, D]``; see :class:`ModelOutput`."""
        self.check_input(features)
        emb = self.embedding(features)  # [B, T, E]
        dropped = self.dropout(emb)
        logits = self.classifier(dropped)  # [B, T, C]
        k = math.ceil(features.shape[1] / self.k_divisor)
        video_logits = topk_mean(logits, k, dim=1)  # [B, C]
        return ModelOutput(
            cas=minmax_normalise(logits, dim=1),
            attention=minmax_normalise(logits.amax(dim=-1), dim=1),
            video_scores=torch.softmax(video_logits, dim=-1),
            embeddings=emb,
            extras={"logits": logits, "video_logits": video_logits, "casl_features": dropped},
        )
