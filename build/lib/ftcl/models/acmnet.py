"""ACM-Net (Qu et al., 2021) as FTCL uses it: the backbone of Tables 1-4.

Snippet features go through a temporal convolution (the embedding), a three-branch attention
(action instance / action context / background, softmax over the three), and one snippet
classifier over ``C + 1`` classes (the last is background). Each attention branch weights the
class activation sequence (CAS); top-k pooling over time (k = T // divisor per branch) and a softmax
give three video-level predictions, trained against ``[y, 0]``, ``[y, 1]`` and ``[0, 1]``
(:func:`ftcl.losses.backbones.acmnet_loss`).

At test time the class scores are the softmaxed instance CAS and the attention is the instance
branch, as in the release.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Backbone, ModelOutput


class ACMNet(Backbone):
    """Action-context modelling network.

    Parameters
    ----------
    feature_dim, num_classes, embed_dim
        See :class:`~ftcl.models.base.Backbone`.
    dropout : float
        Dropout probability (0.7 in the release), applied to whole snippets and to the classifier
        input.
    topk_divisors : tuple of int
        ``(instance, context, background)`` divisors; branch ``i`` pools the top ``T // d_i``
        snippets (8 / 3 / 3 on THUMOS14, 2 / 10 / 10 on ActivityNet).
    embed_dropout : bool
        ActivityNet setting of the release: dropout before the embedding and the attention branch.
    """

    name = "acmnet"

    def __init__(self, feature_dim: int, num_classes: int, embed_dim: int, dropout: float = 0.7,
                 topk_divisors: tuple[int, int, int] = (8, 3, 3), embed_dropout: bool = False):
        super().__init__(feature_dim, num_classes, embed_dim)
        if len(topk_divisors) != 3 or min(topk_divisors) < 1:
            raise ValueError(f"topk_divisors must be three positive integers, got {topk_divisors}")
        self.topk_divisors = tuple(int(d) for d in topk_divisors)
        self.embed_dropout = embed_dropout
        self.dropout = nn.Dropout(dropout)
        self.embedding = nn.Sequential(
            nn.Dropout(dropout) if embed_dropout else nn.Identity(),
            nn.Conv1d(feature_dim, embed_dim, kernel_size=3, padding=1),
            nn.ReLU(),
        )
        self.attention = nn.Conv1d(embed_dim, 3, kernel_size=1)
        self.classifier = nn.Linear(embed_dim, num_classes + 1)

    def forward(self, features: Tensor) -> ModelOutput:
        """Run the network on ``features`` ``[B, T, D]``; see :class:`ModelOutput`."""
        self.check_input(features)
        batch, length, _ = features.shape
        emb = self.embedding(features.transpose(1, 2))  # [B, E, T]
        att_in = self.dropout(emb) if self.embed_dropout else emb
        att = torch.softmax(self.attention(att_in), dim=1).transpose(1, 2)  # [B, T, 3]
        emb = emb.transpose(1, 2)  # [B, T, E]

        # Drop whole snippets, then the classifier input (as the release does).
        keep = self.dropout(emb.new_ones(batch, length, 1))
        logits = self.classifier(self.dropout(emb * keep))  # [B, T, C+1]
        # Branch CAS, laid out [B, 3, C+1, T] so that pooling runs along a contiguous axis.
        branch_cas = logits.transpose(1, 2).unsqueeze(1) * att.transpose(1, 2).unsqueeze(2)
        ranked = branch_cas.sort(dim=-1, descending=True).values
        att_order = att.transpose(1, 2).argsort(dim=-1, descending=True, stable=True)  # [B,3,T]
        video_probs, select = [], torch.zeros_like(att_order, dtype=emb.dtype)
        for branch, divisor in enumerate(self.topk_divisors):
            k = max(length // divisor, 1)
            pooled = ranked[:, branch, :, :k].mean(dim=-1)  # top-k mean over time, [B, C+1]
            video_probs.append(torch.softmax(pooled, dim=-1))
            select[:, branch].scatter_(1, att_order[:, branch, :k], 1.0 / k)
        feat_means = select @ emb  # mean embedding of each branch's top-k attended snippets

        inst_cas = torch.softmax(branch_cas[:, 0].transpose(1, 2), dim=-1)  # [B, T, C+1]
        return ModelOutput(
            cas=inst_cas[..., : self.num_classes],
            attention=att[..., 0],
            video_scores=video_probs[0][:, : self.num_classes],
            embeddings=emb,
            extras={
                "video_probs": torch.stack(video_probs, dim=1),  # [B, 3, C+1]
                "branch_attention": att,  # [B, T, 3]
                "instance_cas": inst_cas,  # [B, T, C+1], softmax over C+1
                "branch_features": feat_means,  # [B, 3, E]
            },
        )
