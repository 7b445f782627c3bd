"""CoLA, snippet contrastive learning (Zhang et al., CVPR 2021), a Table 5 backbone.

A temporal convolution + ReLU embeds each snippet; a 1x1 convolution gives per-snippet class
activations; their sum over classes is the actionness. The video score is the softmax of the mean of
the top ``T // r_easy`` activations per class. Snippets are mined for a contrastive loss:

- easy action / easy background: the top ``T // r_easy`` snippets by actionness, and by
  ``max - actionness`` (after a random snippet dropout, as in CoLA);
- hard action / hard background: the actionness is binarised at its median; the hard action region
  is the binary mask eroded by ``m`` minus eroded by ``M`` (the inner rim of each action), the hard
  background region is the mask dilated by ``M`` minus dilated by ``m`` (the outer rim); the top
  ``T // r_hard`` snippets of each region by actionness are taken.

The losses live in :func:`ftcl.losses.backbones.cola_loss`. At test time ``cas`` is the softmax of
the activations over classes and ``attention`` the actionness rescaled to [0, 1] over time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Backbone, ModelOutput, minmax_normalise, topk_mean


def binary_dilation(mask: Tensor, size: int) -> Tensor:
    """Dilate a 0/1 mask ``[B, T]`` with a window of ``size`` snippets (outside counts as 0).

    The window of position ``t`` covers ``t - size // 2 .. t + (size - 1) - size // 2``.
    """
    if size <= 1:
        return mask
    left = size // 2
    padded = F.pad(mask.unsqueeze(1), (left, size - 1 - left), value=0.0)
    return F.max_pool1d(padded, kernel_size=size, stride=1).squeeze(1)


def binary_erosion(mask: Tensor, size: int) -> Tensor:
    """Erode a 0/1 mask ``[B, T]`` with a window of ``size`` snippets (outside counts as 0)."""
    if size <= 1:
        return mask
    left = size // 2
    padded = F.pad((1.0 - mask).unsqueeze(1), (left, size - 1 - left), value=1.0)
    return 1.0 - F.max_pool1d(padded, kernel_size=size, stride=1).squeeze(1)


def gather_topk(scores: Tensor, embeddings: Tensor, k: int) -> Tensor:
    """Embeddings ``[B, k, E]`` of the ``k`` snippets with the largest ``scores`` ``[B, T]``."""
    k = max(1, min(k, scores.shape[1]))
    idx = scores.topk(k, dim=1).indices
    return embeddings.gather(1, idx.unsqueeze(-1).expand(-1, -1, embeddings.shape[-1]))


class CoLA(Backbone):
    """CoLA network.

    Parameters
    ----------
    feature_dim, num_classes, embed_dim
        See :class:`~ftcl.models.base.Backbone`.
    dropout : float
        Dropout before the classifier and for the easy-snippet mining (0.6 in CoLA).
    r_easy, r_hard : int
        ``k_easy = T // r_easy`` (5), ``k_hard = T // r_hard`` (20).
    kernel_small, kernel_large : int
        The ``m`` and ``M`` of the erosion/dilation that define the hard regions (3 and 6).
    """

    name = "cola"

    def __init__(self, feature_dim: int, num_classes: int, embed_dim: int, dropout: float = 0.6,
                 r_easy: int = 5, r_hard: int = 20, kernel_small: int = 3, kernel_large: int = 6):
        super().__init__(feature_dim, num_classes, embed_dim)
        if min(r_easy, r_hard, kernel_small, kernel_large) < 1 or kernel_large < kernel_small:
            raise ValueError("CoLA needs r_easy, r_hard >= 1 and 1 <= kernel_small <= kernel_large")
        self.r_easy, self.r_hard = r_easy, r_hard
        self.kernel_small, self.kernel_large = kernel_small, kernel_large
        self.embedding = nn.Sequential(
            nn.Conv1d(feature_dim, embed_dim, kernel_size=3, padding=1), nn.ReLU()
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv1d(embed_dim, num_classes, kernel_size=1)

    def forward(self, features: Tensor) -> ModelOutput:
        """Run the network on ``features`` ``[B, T, D]``; see :class:`ModelOutput`."""
        self.check_input(features)
        length = features.shape[1]
        emb = self.embedding(features.transpose(1, 2))  # [B, E, T]
        logits = self.classifier(self.dropout(emb)).transpose(1, 2)  # [B, T, C]
        emb = emb.transpose(1, 2)  # [B, T, E]
        actionness = logits.sum(dim=-1)  # [B, T]
        k_easy = max(length // self.r_easy, 1)
        k_hard = max(length // self.r_hard, 1)
        video_logits = topk_mean(logits, k_easy, dim=1)

        # Easy snippets: top actionness / top reversed actionness after snippet dropout.
        keep = self.dropout(torch.ones_like(actionness))
        reverse = actionness.amax(dim=1, keepdim=True) - actionness
        easy_act = gather_topk(actionness * keep, emb, k_easy)
        easy_bkg = gather_topk(reverse * keep, emb, k_easy)

        # Hard snippets: the inner and outer rims of the median-thresholded actionness.
        with torch.no_grad():
            mask = (actionness > actionness.median(dim=1, keepdim=True).values).to(emb.dtype)
            small, large = self.kernel_small, self.kernel_large
            inner = binary_erosion(mask, small) - binary_erosion(mask, large)
            outer = binary_dilation(mask, large) - binary_dilation(mask, small)
        hard_act = gather_topk(actionness * inner, emb, k_hard)
        hard_bkg = gather_topk(actionness * outer, emb, k_hard)

        return ModelOutput(
            cas=torch.softmax(logits, dim=-1),
            attention=minmax_normalise(actionness, dim=1),
            video_scores=torch.softmax(video_logits, dim=-1),
            embeddings=emb,
            extras={
                "video_logits": video_logits,
                "easy_act": easy_act,
                "easy_bkg": easy_bkg,
                "hard_act": hard_act,
                "hard_bkg": hard_bkg,
            },
        )
