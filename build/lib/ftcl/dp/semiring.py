"""The (max, +) semiring and its smoothed version, the (log-sum-exp_beta, +) semiring.

Every recursion in :mod:`ftcl.dp` is written as a *maximisation*: a table cell is a local score
plus the semiring "sum" of its predecessors' scores (plus edge scores). Two semirings are used:

- ``beta = inf`` (hard): the "sum" is ``max``; its gradient is the one-hot arg-max (first
  maximal candidate on ties), so back-propagating gives the optimal path.
- ``0 < beta < inf`` (smooth): the "sum" is ``smax_beta(x) = (1/beta) * log sum_k exp(beta x_k)``;
  its gradient is ``softmax(beta x)``, so back-propagating gives the expected path (the
  "alignment" under the Gibbs distribution over paths).

``smax_beta`` is always within ``log(K) / beta`` of the hard max over ``K`` candidates
(``max <= smax_beta <= max + log(K)/beta``), so it tends to ``max`` as ``beta`` grows.

Minimisations (soft-DTW, Drop-DTW) are run as maximisations of negated costs:
``softmin_gamma(x) = -gamma * log sum exp(-x / gamma) = -smax_{1/gamma}(-x)``.

A third aggregator, not a semiring, is available for the DTW family: the *softmax-weighted mean*
``wmax_beta(x) = sum_k softmax(beta x)_k x_k`` (``weighted=True``). Negated, it is the smooth min
``sum_k softmax(-x/gamma)_k x_k`` of Hadji et al. (2021) and of the Drop-DTW code (``minProb``):
it lies between the min and the max of its arguments (so a DTW built on it is never below the
hard DTW, and never negative for non-negative costs), but it does not distribute over ``+``, so
the result is not a log-sum-exp over paths and its gradient is not an expected alignment. Its
derivative is ``softmax(beta x)_k * (1 + beta * (x_k - wmax_beta(x)))``, which can be negative.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Semiring:
    """The max semiring (``beta = inf``) or the log-sum-exp semiring with inverse temperature beta.

    Parameters
    ----------
    beta : float
        Inverse temperature, ``> 0``; ``math.inf`` gives the hard max.
    weighted : bool
        Replace log-sum-exp by the softmax-weighted mean (see the module docstring); no effect
        with the hard max.
    """

    beta: float = math.inf
    weighted: bool = False

    def __post_init__(self) -> None:
        if not (self.beta > 0):  # also rejects NaN
            raise ValueError(f"beta must be > 0 (inf for the hard max), got {self.beta!r}")

    @property
    def hard(self) -> bool:
        """True for the (max, +) semiring."""
        return math.isinf(self.beta)

    def sum(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """Semiring sum over ``dim``: ``max`` or ``(1/beta) logsumexp(beta x)``."""
        return self.sum_and_weights(x, dim)[0]

    def sum_and_weights(self, x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Semiring sum and its gradient w.r.t. ``x`` (one-hot arg-max, or ``softmax(beta x)``).

        Where every candidate is ``-inf`` the sum is ``-inf`` and the weights are all 0.
        ``-inf`` candidates get weight 0.
        """
        if self.hard:
            value, index = x.max(dim)  # first maximal index on ties
            weights = torch.zeros_like(x).scatter_(dim, index.unsqueeze(dim), 1.0)
            weights = weights * torch.isfinite(value).unsqueeze(dim)
            return value, weights
        z = x * self.beta
        value = torch.logsumexp(z, dim)
        weights = torch.exp(z - value.unsqueeze(dim))
        weights = torch.nan_to_num(weights, nan=0.0)  # all -inf: (-inf) - (-inf)
        if not self.weighted:
            return value / self.beta, weights
        used = weights > 0
        safe_x = torch.where(used, x, torch.zeros_like(x))
        mean = (weights * safe_x).sum(dim)
        mean = torch.where(used.any(dim), mean, torch.full_like(mean, -math.inf))
        slope = 1 + self.beta * (safe_x - mean.unsqueeze(dim))
        return mean, torch.where(used, weights * slope, torch.zeros_like(weights))


def beta_from_gamma(gamma: float | None, name: str = "gamma") -> float:
    """Validate a smoothing parameter (``None``/``inf``: hard, else ``> 0``); return it as float.

    Raises
    ------
    ValueError
        If ``gamma`` is not a number, is NaN, or is ``<= 0``.
    """
    if gamma is None:
        return math.inf
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise ValueError(f"{name} must be a positive number or None, got {gamma!r}")
    gamma = float(gamma)
    if not gamma > 0:  # also NaN
        raise ValueError(f"{name} must be > 0 (None or inf for the hard version), got {gamma!r}")
    return gamma


def smooth_max(x: torch.Tensor, gamma: float | None, dim: int = -1) -> torch.Tensor:
    """Smooth maximum ``(1/gamma) * logsumexp(gamma * x)`` over ``dim`` (FTCL Eq. 5).

    Parameters
    ----------
    x : Tensor
        Candidates.
    gamma : float or None
        Sharpness ``> 0``; ``None`` or ``inf`` gives the hard ``max``.
    dim : int
        Dimension to reduce.

    Notes
    -----
    The paper's Eq. 5 prints ``log sum_k exp(gamma a_k)`` without the ``1/gamma`` factor and sets
    gamma = 10; the authors' code computes ``0.1 * logsumexp(a / 0.1)``, i.e. this function with
    ``gamma = 10``. With the factor, ``max(x) <= smooth_max(x) <= max(x) + log(K)/gamma`` for
    ``K`` candidates, so it tends to ``max`` as ``gamma -> inf``.
    """
    beta = beta_from_gamma(gamma)
    return Semiring(beta).sum(x, dim)
