"""FSD (Eq. 2), LCS (Eq. 6), soft-DTW and Drop-DTW as instances of the DP engine.

All score tensors are ``[B, M, N]`` (one ``M x N`` grid per pair of sequences), floating point,
on any device. ``lengths`` (optional, ``[B, 2]`` integers) gives the valid ``(M_b, N_b)`` of each
pair: cells beyond are ignored (they may hold anything, even NaN) and the result equals the one on
the unpadded ``[:M_b, :N_b]`` grid. Indices in docstrings are 1-based as in the paper:
cell ``(i, j)`` is ``x[:, i-1, j-1]``.

Sign conventions (the two families use opposite ones, as their papers do):

- FSD and LCS *maximise* a similarity; ``gamma`` is a sharpness, the smooth max is
  ``smax(x) = (1/gamma) logsumexp(gamma x)`` (:func:`ftcl.dp.semiring.smooth_max`, Eq. 5) and
  ``gamma = None`` (or ``inf``) is the hard max. ``smax >= max``, so smooth values exceed hard
  ones by at most ``log(#paths) / gamma``.
- soft-DTW and Drop-DTW *minimise* a cost; ``gamma`` is a temperature, the smooth min is
  ``softmin(x) = -gamma logsumexp(-x / gamma)`` and ``gamma = None`` is the hard min (the
  ``gamma -> 0`` limit). ``softmin <= min``: a soft-DTW value lies below the DTW cost by up to
  ``gamma log(#paths)`` and can be negative even for non-negative costs (all-zero costs give
  ``-gamma log(#paths)``).

Every ``*_alignment`` function returns the gradient of the value w.r.t. the match scores (``mu``
or ``cost``): the probability that the (Gibbs-distributed) optimal path visits / matches each
cell, and with the hard version the 0/1 indicator of the optimal path (ties: first candidate in
the order of the recursion's terms, see each function). The alignments are not differentiable.

Bad input raises ``ValueError`` naming the argument: wrong rank or mismatched shapes, non-float
dtypes, different devices, empty sequences (``M``, ``N`` or a length equal to 0), an empty batch,
NaN/inf in the valid cells, ``gamma <= 0``, lengths out of ``[1, M] x [1, N]``.
"""

from __future__ import annotations

import math
import numbers

import torch

from ftcl.dp.engine import grid_dp, grid_dp_gradients
from ftcl.dp.recursion import DROP_DTW, FSD, LCS, SOFT_DTW
from ftcl.dp.semiring import Semiring, beta_from_gamma

NEG_INF = -math.inf

# ----------------------------------------------------------------------------- validation


def _check_grid(name: str, x, first: tuple[str, torch.Tensor] | None = None) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{name} must have shape [B, M, N], got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if first is not None:
        ref_name, ref = first
        if x.shape != ref.shape:
            raise ValueError(
                f"{name} has shape {tuple(x.shape)} but {ref_name} has {tuple(ref.shape)}"
            )
        if x.device != ref.device or x.dtype != ref.dtype:
            raise ValueError(
                f"{name} is {x.dtype} on {x.device} but {ref_name} is {ref.dtype} on {ref.device}"
            )
    n_batch, m, n = x.shape
    if n_batch == 0:
        raise ValueError(f"{name} is an empty batch (B = 0)")
    if m == 0 or n == 0:
        raise ValueError(f"{name} has an empty sequence: shape {tuple(x.shape)} (M or N is 0)")


def _check_lengths(lengths, n_batch: int, m: int, n: int) -> torch.Tensor:
    """Validated ``[B, 2]`` int64 CPU tensor of valid lengths (full lengths if ``None``)."""
    if lengths is None:
        return torch.tensor([[m, n]], dtype=torch.int64).expand(n_batch, 2).contiguous()
    lens = torch.as_tensor(lengths)
    if lens.dtype.is_floating_point or lens.dtype.is_complex or lens.dtype == torch.bool:
        raise ValueError(f"lengths must be integers, got dtype {lens.dtype}")
    if tuple(lens.shape) != (n_batch, 2):
        raise ValueError(
            f"lengths must have shape [B, 2] = [{n_batch}, 2], got {tuple(lens.shape)}"
        )
    lens = lens.detach().to("cpu", torch.int64).contiguous()
    bad_m = (lens[:, 0] < 1) | (lens[:, 0] > m)
    bad_n = (lens[:, 1] < 1) | (lens[:, 1] > n)
    if bool(bad_m.any()) or bool(bad_n.any()):
        b = int(torch.nonzero(bad_m | bad_n)[0, 0])
        raise ValueError(
            f"lengths[{b}] = {lens[b].tolist()} is outside [1, {m}] x [1, {n}] "
            "(empty sequences are not allowed)"
        )
    return lens


def _valid_mask(lens: torch.Tensor, m: int, n: int, device: torch.device):
    """``([B, M], [B, N])`` boolean masks of valid rows / columns."""
    lens = lens.to(device)
    rows = torch.arange(m, device=device) < lens[:, :1]
    cols = torch.arange(n, device=device) < lens[:, 1:]
    return rows, cols


def _clean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the padded cells (``mask`` False): they may hold anything, even NaN."""
    return x if mask is None else x.masked_fill(~mask, 0.0)


def _require_finite(named: list[tuple[str, torch.Tensor]]) -> None:
    """Raise a ValueError naming the first tensor holding NaN or inf."""
    for name, x in named:
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or inf (in its valid cells)")


def _prepare_grids(named: list[tuple[str, torch.Tensor]], lengths):
    """Validate score grids and lengths; return cleaned grids, lengths, and row/col masks.

    The caller checks finiteness (:func:`_require_finite`) on the cleaned grids.
    """
    first = named[0]
    for k, (name, x) in enumerate(named):
        _check_grid(name, x, None if k == 0 else first)
    n_batch, m, n = first[1].shape
    lens = _check_lengths(lengths, n_batch, m, n)
    padded = lengths is not None and bool(((lens[:, 0] < m) | (lens[:, 1] < n)).any())
    rows = cols = mask = None
    if padded:
        rows, cols = _valid_mask(lens, m, n, first[1].device)
        mask = rows.unsqueeze(2) & cols.unsqueeze(1)
    grids = [_clean(x, mask) for _, x in named]
    return grids, lens, rows, cols


SMOOTHINGS = ("logsumexp", "weighted")


def _dtw_semiring(gamma, smoothing: str) -> Semiring:
    """Soft-min of temperature ``gamma`` (None = hard) as a semiring on negated costs."""
    if smoothing not in SMOOTHINGS:
        raise ValueError(f"smoothing must be one of {SMOOTHINGS}, got {smoothing!r}")
    if gamma is None:
        return Semiring(math.inf)
    value = beta_from_gamma(gamma)
    if math.isinf(value):
        raise ValueError("gamma must be a finite temperature > 0 (None for hard DTW), got inf")
    return Semiring(1.0 / value, weighted=smoothing == "weighted")


def _check_tau(tau) -> float:
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not math.isfinite(tau):
        raise ValueError(f"tau must be a finite number, got {tau!r}")
    return float(tau)


def _zero_boundary(x: torch.Tensor, n_states: int = 1):
    n_batch, m, n = x.shape
    row0 = x.new_zeros(n_batch, n_states, n + 1)
    col0 = x.new_zeros(n_batch, n_states, m + 1)
    return row0, col0


def _dtw_boundary(x: torch.Tensor):
    """``V(0,0) = 0``, ``-inf`` elsewhere on row 0 / column 0 (paths start at (1, 1))."""
    n_batch, m, n = x.shape
    row0 = x.new_full((n_batch, 1, n + 1), NEG_INF)
    col0 = x.new_full((n_batch, 1, m + 1), NEG_INF)
    row0[:, :, 0] = 0.0
    col0[:, :, 0] = 0.0
    return row0, col0


# ----------------------------------------------------------------------------- FSD (Eq. 2)


def _fsd_inputs(mu, g, h, gamma, lengths):
    beta = beta_from_gamma(gamma)
    (mu, g, h), lens, _, _ = _prepare_grids([("mu", mu), ("g", g), ("h", h)], lengths)
    _require_finite([("mu", mu), ("g", g), ("h", h)])
    row0, col0 = _zero_boundary(mu)
    return beta, (mu, g, h), row0, col0, lens


def fsd(mu, g, h, gamma: float | None = 10.0, lengths=None, *, backend: str = "auto"):
    """Fine-grained Sequence Distance, FTCL Eq. 2 (value to *maximise*; higher = more similar).

    ``S(i,j) = mu_ij + smax(S(i-1,j-1), g_ij + S(i-1,j), h_ij + S(i,j-1))`` with
    ``S(0,:) = S(:,0) = 0``; returns ``S(M_b, N_b)``. ``smax`` is the smooth max of Eq. 5 with
    the ``1/gamma`` factor (:func:`ftcl.dp.semiring.smooth_max`).

    Parameters
    ----------
    mu : Tensor ``[B, M, N]``
        Match scores ``mu_ij`` (Eq. 3: ``f_mu`` similarity of snippet i of one video and j of
        the other).
    g, h : Tensor ``[B, M, N]``
        Insert / delete scores ``g_ij`` (step ``(i-1,j) -> (i,j)``) and ``h_ij``
        (step ``(i,j-1) -> (i,j)``); FTCL uses ``g = h``.
    gamma : float or None
        Sharpness of the smooth max (paper: 10, the release's temperature 0.1). ``None`` or
        ``inf``: hard max (ties: diagonal, then ``(i-1,j)``, then ``(i,j-1)``).
    lengths : LongTensor ``[B, 2]``, optional
        Valid ``(M_b, N_b)`` per pair.
    backend : {"auto", "numba", "wavefront", "cuda"}
        See :mod:`ftcl.dp.engine`.

    Returns
    -------
    Tensor ``[B]``, differentiable w.r.t. ``mu``, ``g`` and ``h`` (exact reverse recursion).
    """
    beta, weights, row0, col0, lens = _fsd_inputs(mu, g, h, gamma, lengths)
    return grid_dp(FSD, Semiring(beta), weights, row0, col0, lens, backend)


def fsd_alignment(mu, g, h, gamma: float | None = 10.0, lengths=None, *, backend: str = "auto"):
    """``d S(M_b, N_b) / d mu``: the soft alignment of Eq. 2, ``[B, M, N]`` in ``[0, 1]``.

    Entry ``(i, j)`` is the probability that the path visits cell ``(i, j)`` under the Gibbs
    distribution ``p(path) ~ exp(gamma * score(path))``; with ``gamma=None`` it is the 0/1
    indicator of the optimal path (traceback), a monotone chain of cells from row 1 or column 1
    to ``(M_b, N_b)``. Padded cells are 0. Not differentiable.
    """
    beta, weights, row0, col0, lens = _fsd_inputs(mu, g, h, gamma, lengths)
    _, grads = grid_dp_gradients(FSD, Semiring(beta), weights, row0, col0, lens, backend)
    return grads[0]


# ----------------------------------------------------------------------------- LCS (Eq. 6)


def _lcs_inputs(c, tau, gamma, lengths):
    beta = beta_from_gamma(gamma)
    tau = _check_tau(tau)
    (c,), lens, _, _ = _prepare_grids([("c", c)], lengths)
    _require_finite([("c", c)])
    match = c > tau
    diag = torch.where(match, c, torch.full_like(c, NEG_INF))
    gap = torch.where(match, torch.full_like(c, NEG_INF), torch.zeros_like(c))
    row0, col0 = _zero_boundary(c)
    return beta, (diag, gap), row0, col0, lens


def lcs(c, tau: float = 0.92, lengths=None, gamma: float | None = None, *, backend: str = "auto"):
    """Differentiable longest common subsequence, FTCL Eq. 6 (value to *maximise*).

    ``R(i,j) = R(i-1,j-1) + c_ij`` if ``c_ij > tau`` (strict, as in the release) else
    ``max(R(i-1,j), R(i,j-1))``, with ``R(0,:) = R(:,0) = 0``; returns ``R(M_b, N_b)``: the
    total similarity of the best common subsequence of matched (``c > tau``) pairs. With 0/1
    similarities and ``0 <= tau < 1`` it is the classic LCS length.

    Parameters
    ----------
    c : Tensor ``[B, M, N]``
        Similarities (FTCL: cosine similarities of the embedded snippets).
    tau : float
        Match threshold (release: 0.92).
    lengths : LongTensor ``[B, 2]``, optional
    gamma : float or None
        ``None`` (default, the paper): hard max, ties go to ``R(i-1,j)``; the gradient w.r.t.
        ``c`` is 1 on the matched cells of the optimal path. A finite ``gamma`` replaces the max
        of the unmatched branch by ``smooth_max`` (``(1/gamma) logsumexp(gamma .)``); the match
        test ``c > tau`` stays hard (it is piecewise constant: no gradient flows through it), so
        the value is ``(1/gamma) log sum_paths exp(gamma * sum of matched c on the path)`` over
        the paths allowed by the test, and the gradient is the probability that each matched
        cell is used.
    backend : {"auto", "numba", "wavefront", "cuda"}

    Returns
    -------
    Tensor ``[B]``, differentiable w.r.t. ``c``.
    """
    beta, weights, row0, col0, lens = _lcs_inputs(c, tau, gamma, lengths)
    return grid_dp(LCS, Semiring(beta), weights, row0, col0, lens, backend)


def lcs_path(c, tau: float = 0.92, lengths=None, *, backend: str = "auto"):
    """The mined common subsequence: matched ``(i, j)`` pairs (0-based) of the hard Eq. 6.

    Traceback of the hard recursion (ties to ``R(i-1,j)``), obtained as the arg-max path of the
    reverse recursion. Returns one list per pair, increasing in ``i`` and ``j``, of length equal
    to the number of matches of the optimal subsequence, all within the valid lengths.
    """
    beta, weights, row0, col0, lens = _lcs_inputs(c, tau, None, lengths)
    _, grads = grid_dp_gradients(LCS, Semiring(beta), weights, row0, col0, lens, backend)
    used = (grads[0] > 0).cpu()
    return [[(int(i), int(j)) for i, j in torch.nonzero(u).tolist()] for u in used]


# ----------------------------------------------------------------------------- soft-DTW


def _soft_dtw_inputs(cost, gamma, lengths, smoothing):
    semiring = _dtw_semiring(gamma, smoothing)
    (cost,), lens, _, _ = _prepare_grids([("cost", cost)], lengths)
    _require_finite([("cost", cost)])
    row0, col0 = _dtw_boundary(cost)
    return semiring, (-cost,), row0, col0, lens


def soft_dtw(
    cost,
    gamma: float | None = 0.1,
    lengths=None,
    *,
    smoothing: str = "logsumexp",
    backend: str = "auto",
):
    """Soft-DTW (Cuturi and Blondel 2017; the differentiable DTW of Hadji et al. 2021, ref. [25]).

    A *minimisation*: ``R(i,j) = cost_ij + softmin(R(i-1,j-1), R(i-1,j), R(i,j-1))`` with
    ``softmin(x) = -gamma logsumexp(-x / gamma)``, ``R(0,0) = 0``, ``R(i,0) = R(0,j) = +inf``;
    returns ``R(M_b, N_b)``, i.e. ``-gamma log sum_paths exp(-cost(path) / gamma)`` over the
    monotone paths from (1, 1) to (M_b, N_b) with steps (1,0), (0,1), (1,1).

    Parameters
    ----------
    cost : Tensor ``[B, M, N]``
        Pairwise costs (e.g. ``1 - cosine similarity``).
    gamma : float or None
        Temperature ``> 0`` (the opposite convention to FSD's gamma); ``None`` gives the exact
        DTW cost, the ``gamma -> 0`` limit (ties: diagonal, ``(i-1,j)``, ``(i,j-1)``). The soft
        value is at most the DTW cost and can be negative (see the module docstring).
    lengths : LongTensor ``[B, 2]``, optional
        Unequal lengths are fine (no ``inf`` is returned).
    smoothing : {"logsumexp", "weighted"}
        ``"logsumexp"`` (default): the soft-min above (Cuturi and Blondel). ``"weighted"``: the
        smooth min of Hadji et al. (2021), ``sum_k softmax(-x / gamma)_k x_k``, a weighted mean
        of the candidates: the value is then at least the DTW cost (never negative for
        non-negative costs), but it is no longer a soft-min over paths and its gradient is not
        an expected alignment (see :mod:`ftcl.dp.semiring`).
    backend : {"auto", "numba", "wavefront", "cuda"}

    Returns
    -------
    Tensor ``[B]``, differentiable w.r.t. ``cost``.
    """
    semiring, weights, row0, col0, lens = _soft_dtw_inputs(cost, gamma, lengths, smoothing)
    return -grid_dp(SOFT_DTW, semiring, weights, row0, col0, lens, backend)


def soft_dtw_alignment(
    cost,
    gamma: float | None = 0.1,
    lengths=None,
    *,
    smoothing: str = "logsumexp",
    backend: str = "auto",
):
    """``d soft_dtw / d cost``: expected alignment ``[B, M, N]`` (0/1 DTW path if ``gamma=None``).

    Every path visits (1, 1) and (M_b, N_b) and every row and column, so those two cells are 1
    and each valid row / column sums to at least 1. (With ``smoothing="weighted"`` this is just
    the gradient: entries may be negative or exceed 1.)
    """
    semiring, weights, row0, col0, lens = _soft_dtw_inputs(cost, gamma, lengths, smoothing)
    _, grads = grid_dp_gradients(SOFT_DTW, semiring, weights, row0, col0, lens, backend)
    return grads[0]


# ----------------------------------------------------------------------------- Drop-DTW


def _drop_dtw_inputs(cost, drop_x, drop_z, gamma, lengths, smoothing):
    semiring = _dtw_semiring(gamma, smoothing)
    (cost,), lens, rows, cols = _prepare_grids([("cost", cost)], lengths)
    n_batch, m, n = cost.shape
    for name, x, size in (("drop_x", drop_x, m), ("drop_z", drop_z, n)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if tuple(x.shape) != (n_batch, size):
            raise ValueError(f"{name} must have shape [{n_batch}, {size}], got {tuple(x.shape)}")
        if x.device != cost.device or x.dtype != cost.dtype:
            raise ValueError(
                f"{name} is {x.dtype} on {x.device} but cost is {cost.dtype} on {cost.device}"
            )
    drop_x, drop_z = _clean(drop_x, rows), _clean(drop_z, cols)
    _require_finite([("cost", cost), ("drop_x", drop_x), ("drop_z", drop_z)])
    weights = (
        -cost,
        -drop_x.unsqueeze(2).expand(-1, -1, n),
        -drop_z.unsqueeze(1).expand(-1, m, -1),
    )
    never = cost.new_full((n_batch, 1), NEG_INF)
    start = cost.new_zeros(n_batch, 1)
    row_drop = -torch.cumsum(drop_z, 1)  # dropping z_1..z_j before anything else
    col_drop = -torch.cumsum(drop_x, 1)
    row0 = torch.stack(
        [
            never.expand(-1, n + 1),
            torch.cat([never, row_drop], 1),
            torch.cat([start, row_drop], 1),
        ],
        1,
    )
    col0 = torch.stack(
        [
            never.expand(-1, m + 1),
            torch.cat([never, col_drop], 1),
            torch.cat([start, col_drop], 1),
        ],
        1,
    )
    return semiring, weights, row0, col0, lens


def drop_dtw(
    cost,
    drop_x,
    drop_z,
    gamma: float | None = 0.1,
    lengths=None,
    *,
    smoothing: str = "logsumexp",
    backend: str = "auto",
):
    """Drop-DTW (Dvornik et al., NeurIPS 2021, ref. [14]): DTW that may drop outliers at a cost.

    A *minimisation* over alignments in which every element of both sequences is either matched
    or dropped. Two tables (Drop-DTW's "match-ended" ``D+`` and "drop-ended" ``D-``) and their
    soft-min ``D``::

        D+(i,j) = cost_ij + softmin(D(i-1,j-1), D+(i-1,j), D+(i,j-1))
        D-(i,j) = softmin(D(i-1,j) + drop_x_i, D(i,j-1) + drop_z_j)
        D(i,j)  = softmin(D+(i,j), D-(i,j))

    with ``D(0,0) = 0``, ``D(i,0) = D-(i,0) = drop_x_1 + ... + drop_x_i``,
    ``D(0,j) = D-(0,j) = drop_z_1 + ... + drop_z_j``, ``D+ = +inf`` on row/column 0; returns
    ``D(M_b, N_b)``. Matches are contiguous runs (an element may match several consecutive
    elements of the other sequence). This is the symmetric, two-sided form of the paper's
    Algorithm 1 (which drops only from one sequence and keeps the same ``D+``/``D-``/``D``
    tables); with ``drop_x`` very large it reduces to that algorithm with our second sequence
    as the paper's ``X``.

    Parameters
    ----------
    cost : Tensor ``[B, M, N]``
        Match costs.
    drop_x : Tensor ``[B, M]``
        Cost of dropping element i of the first sequence.
    drop_z : Tensor ``[B, N]``
        Cost of dropping element j of the second sequence.
    gamma : float or None
        Temperature of the soft-min (``None``: hard min, ties: ``D+`` before ``D-``, diagonal
        first, drop of x before drop of z).
    lengths : LongTensor ``[B, 2]``, optional
    smoothing : {"logsumexp", "weighted"}
        The soft-min: log-sum-exp (default) or the softmax-weighted mean used by the Drop-DTW
        code (``minProb``) and Hadji et al. (see :func:`soft_dtw`).
    backend : {"auto", "numba", "wavefront", "cuda"}

    Returns
    -------
    Tensor ``[B]``, differentiable w.r.t. ``cost``, ``drop_x`` and ``drop_z``.
    """
    semiring, weights, row0, col0, lens = _drop_dtw_inputs(
        cost, drop_x, drop_z, gamma, lengths, smoothing
    )
    return -grid_dp(DROP_DTW, semiring, weights, row0, col0, lens, backend)


def drop_dtw_alignment(
    cost,
    drop_x,
    drop_z,
    gamma: float | None = 0.1,
    lengths=None,
    *,
    smoothing: str = "logsumexp",
    backend: str = "auto",
):
    """``d drop_dtw / d cost``: probability that each pair ``(i, j)`` is matched ``[B, M, N]``.

    With ``gamma=None``, the 0/1 matches of the optimal alignment (dropped elements have empty
    rows / columns). With ``smoothing="weighted"``, just the gradient (not a probability).
    """
    semiring, weights, row0, col0, lens = _drop_dtw_inputs(
        cost, drop_x, drop_z, gamma, lengths, smoothing
    )
    _, grads = grid_dp_gradients(DROP_DTW, semiring, weights, row0, col0, lens, backend)
    return grads[0]
