"""The one interface every backbone implements, so that FTCL plugs into any of them.

A backbone maps snippet features ``[B, T, D]`` to a :class:`ModelOutput`:

- ``cas`` ``[B, T, C]`` in [0, 1]: snippet class scores, read by
  :func:`ftcl.evaluation.localize.localize`;
- ``attention`` ``[B, T]`` in [0, 1]: class-agnostic actionness (FTCL picks its proposals by it);
- ``video_scores`` ``[B, C]`` in [0, 1]: video class scores (class selection, classification mAP);
- ``embeddings`` ``[B, T, E]``: the snippet features the FTCL losses compare (Eq. 2-7);
- ``extras``: whatever the backbone's own classification objective needs (all batched on dim 0).

The FTCL terms only read ``attention`` and ``embeddings``; the rest is the backbone's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn


@dataclass
class ModelOutput:
    """What a backbone returns for a batch of ``B`` videos of ``T`` snippets (see module doc)."""

    cas: Tensor
    attention: Tensor
    video_scores: Tensor
    embeddings: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)

    def select(self, index: slice | Tensor) -> ModelOutput:
        """The outputs of a subset of the videos (``index`` on the batch dimension)."""
        return ModelOutput(
            cas=self.cas[index],
            attention=self.attention[index],
            video_scores=self.video_scores[index],
            embeddings=self.embeddings[index],
            extras={k: v[index] for k, v in self.extras.items()},
        )

    def split(self, n: int) -> tuple[ModelOutput, ModelOutput]:
        """Split a forward pass over ``cat([a, b])`` back into the outputs for ``a`` and ``b``."""
        return self.select(slice(0, n)), self.select(slice(n, None))


class Backbone(nn.Module):
    """Base class: stores the sizes and checks the input of :meth:`forward`.

    Parameters
    ----------
    feature_dim : int
        Width ``D`` of the input snippet features (2048 for I3D RGB+flow).
    num_classes : int
        Number of action classes ``C`` (no background class).
    embed_dim : int
        Width ``E`` of the embeddings the backbone computes (the release uses ``E = D``).
    """

    name = "backbone"

    def __init__(self, feature_dim: int, num_classes: int, embed_dim: int):
        super().__init__()
        for arg, value in (("feature_dim", feature_dim), ("num_classes", num_classes),
                           ("embed_dim", embed_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{arg} must be a positive integer, got {value!r}")
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.embed_dim = embed_dim

    def check_input(self, features: Tensor) -> None:
        """Raise ``ValueError`` unless ``features`` is ``[B, T, feature_dim]`` floating point."""
        if not isinstance(features, Tensor) or features.dim() != 3:
            shape = tuple(features.shape) if isinstance(features, Tensor) else type(features)
            raise ValueError(f"{self.name}: features must be a [B, T, D] tensor, got {shape}")
        if features.shape[-1] != self.feature_dim:
            raise ValueError(
                f"{self.name}: feature width mismatch: the model expects D={self.feature_dim} "
                f"but the features have D={features.shape[-1]} (shape {tuple(features.shape)}); "
                "was the model built for another dataset?"
            )
        if features.shape[1] < 1:
            raise ValueError(f"{self.name}: features have no snippets (T=0)")
        if not torch.is_floating_point(features):
            raise ValueError(f"{self.name}: features must be floating point, got {features.dtype}")


def topk_mean(scores: Tensor, k: int, dim: int = 1) -> Tensor:
    """Mean of the ``k`` largest values along ``dim`` (top-k multiple-instance pooling)."""
    k = max(1, min(int(k), scores.shape[dim]))
    return scores.topk(k, dim=dim).values.mean(dim=dim)


def minmax_normalise(x: Tensor, dim: int = 1, eps: float = 1e-6) -> Tensor:
    """Rescale ``x`` to [0, 1] along ``dim`` (per video): ``(x - min) / (max - min)``."""
    lo = x.amin(dim=dim, keepdim=True)
    hi = x.amax(dim=dim, keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(eps)
