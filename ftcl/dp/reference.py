"""The recursions of :mod:`ftcl.dp`, written for reading: one pair, one cell at a time.

Each function takes the ``[M, N]`` grid of one pair (torch tensors; autograd flows through, so
the same code is also the gradient reference) and fills a table cell by cell exactly as the
equation reads. Indices are 1-based in the tables (row 0 / column 0 are the boundary), so cell
``(i, j)`` of a table uses ``x[i - 1, j - 1]``. Slow (a Python loop over cells, one tiny torch
operation each) and meant only for the tests and the derivation chapter.

Also here: brute-force enumeration of all alignment paths on tiny grids (the hard value is the
best path, the smooth value the log-sum-exp over paths) and the textbook integer LCS of two
strings. Nothing here imports :mod:`ftcl.dp`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

INF = math.inf


# ----------------------------------------------------------------------------- smooth max / min


def smax(values: list[torch.Tensor], gamma: float | None) -> torch.Tensor:
    """Smooth max ``(1/gamma) log sum_k exp(gamma v_k)`` (Eq. 5 with the 1/gamma); hard if None."""
    v = torch.stack(values)
    if gamma is None or math.isinf(gamma):
        return v.max()
    return torch.logsumexp(gamma * v, 0) / gamma


def softmin(values: list[torch.Tensor], gamma: float | None, smoothing="logsumexp"):
    """Smooth min ``-gamma log sum_k exp(-v_k / gamma)`` (gamma a temperature); hard if None.

    ``smoothing="weighted"``: ``sum_k softmax(-v / gamma)_k v_k`` (Hadji et al. 2021), with
    infinite candidates left out (they get weight 0).
    """
    v = torch.stack(values)
    if gamma is None:
        return v.min()
    if smoothing == "weighted":
        finite = v[torch.isfinite(v)]
        return (torch.softmax(-finite / gamma, 0) * finite).sum()
    return -gamma * torch.logsumexp(-v / gamma, 0)


def _const(x: torch.Tensor, value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=x.dtype, device=x.device)


# ----------------------------------------------------------------------------- recursions


def fsd_reference(mu, g, h, gamma: float | None = 10.0) -> torch.Tensor:
    """FTCL Eq. 2 for one pair: ``S(i,j) = mu_ij + smax(S(i-1,j-1), g_ij + S(i-1,j),
    h_ij + S(i,j-1))``, ``S(0,:) = S(:,0) = 0``; returns ``S(M, N)``."""
    m, n = mu.shape
    zero = _const(mu, 0.0)
    S = [[zero] * (n + 1) for _ in range(m + 1)]
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            diagonal = S[i - 1][j - 1]
            from_above = g[i - 1, j - 1] + S[i - 1][j]
            from_left = h[i - 1, j - 1] + S[i][j - 1]
            S[i][j] = mu[i - 1, j - 1] + smax([diagonal, from_above, from_left], gamma)
    return S[m][n]


def lcs_reference(c, tau: float = 0.92, gamma: float | None = None) -> torch.Tensor:
    """FTCL Eq. 6 for one pair: ``R(i,j) = R(i-1,j-1) + c_ij`` if ``c_ij > tau`` else
    ``smax(R(i-1,j), R(i,j-1))`` (hard max if ``gamma`` is None); ``R(0,:) = R(:,0) = 0``."""
    m, n = c.shape
    zero = _const(c, 0.0)
    R = [[zero] * (n + 1) for _ in range(m + 1)]
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            if c[i - 1, j - 1] > tau:
                R[i][j] = R[i - 1][j - 1] + c[i - 1, j - 1]
            else:
                R[i][j] = smax([R[i - 1][j], R[i][j - 1]], gamma)
    return R[m][n]


def soft_dtw_reference(cost, gamma: float | None = 0.1, smoothing="logsumexp") -> torch.Tensor:
    """Soft-DTW for one pair: ``R(i,j) = cost_ij + softmin(R(i-1,j-1), R(i-1,j), R(i,j-1))``,
    ``R(0,0) = 0``, ``R(i,0) = R(0,j) = inf``; hard DTW if ``gamma`` is None."""
    m, n = cost.shape
    R = [[_const(cost, INF)] * (n + 1) for _ in range(m + 1)]
    R[0][0] = _const(cost, 0.0)
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            R[i][j] = cost[i - 1, j - 1] + softmin(
                [R[i - 1][j - 1], R[i - 1][j], R[i][j - 1]], gamma, smoothing
            )
    return R[m][n]


def drop_dtw_reference(
    cost, drop_x, drop_z, gamma: float | None = 0.1, smoothing="logsumexp"
) -> torch.Tensor:
    """Two-sided Drop-DTW for one pair (Dvornik et al. 2021, Algorithm 1 with drops on both
    sides): match-ended ``Dp``, drop-ended ``Dm`` and ``D = softmin(Dp, Dm)``::

        Dp(i,j) = cost_ij + softmin(D(i-1,j-1), Dp(i-1,j), Dp(i,j-1))
        Dm(i,j) = softmin(D(i-1,j) + drop_x_i, D(i,j-1) + drop_z_j)

    ``D(0,0) = 0``; on row / column 0 only drops: ``D(i,0) = Dm(i,0) = drop_x_1 + ... + drop_x_i``
    (likewise ``D(0,j)``) and ``Dp = inf``. Returns ``D(M, N)``. ``smoothing`` as in
    :func:`softmin`.
    """
    m, n = cost.shape
    inf = _const(cost, INF)
    Dp = [[inf] * (n + 1) for _ in range(m + 1)]
    Dm = [[inf] * (n + 1) for _ in range(m + 1)]
    D = [[inf] * (n + 1) for _ in range(m + 1)]
    D[0][0] = _const(cost, 0.0)
    for i in range(1, m + 1):
        Dm[i][0] = D[i][0] = D[i - 1][0] + drop_x[i - 1]
    for j in range(1, n + 1):
        Dm[0][j] = D[0][j] = D[0][j - 1] + drop_z[j - 1]
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            Dp[i][j] = cost[i - 1, j - 1] + softmin(
                [D[i - 1][j - 1], Dp[i - 1][j], Dp[i][j - 1]], gamma, smoothing
            )
            drops = [D[i - 1][j] + drop_x[i - 1], D[i][j - 1] + drop_z[j - 1]]
            Dm[i][j] = softmin(drops, gamma, smoothing)
            D[i][j] = softmin([Dp[i][j], Dm[i][j]], gamma, smoothing)
    return D[m][n]


def batched(fn: Callable[..., torch.Tensor], *grids, lengths=None, vectors=(), **kwargs):
    """Apply a one-pair reference to each pair of a batch, on its unpadded ``[:M_b, :N_b]`` grid.

    ``grids`` are ``[B, M, N]`` tensors; ``vectors`` are ``(tensor, axis)`` pairs of ``[B, M]``
    (axis 0) or ``[B, N]`` (axis 1) tensors cut to ``M_b`` / ``N_b``, passed after the grids.
    Returns the stacked ``[B]`` values.
    """
    n_batch, m, n = grids[0].shape
    out = []
    for b in range(n_batch):
        m_b, n_b = (m, n) if lengths is None else (int(lengths[b][0]), int(lengths[b][1]))
        args = [x[b, :m_b, :n_b] for x in grids]
        args += [v[b, : (m_b if axis == 0 else n_b)] for v, axis in vectors]
        out.append(fn(*args, **kwargs))
    return torch.stack(out)


# ----------------------------------------------------------------------------- brute force


def monotone_paths(m: int, n: int, start: str) -> Iterator[list[tuple[int, int, str]]]:
    """All paths of (1-based) cells ending at ``(m, n)`` with steps (1,1), (1,0), (0,1).

    Each path is a list of ``(i, j, step)`` in increasing order, ``step`` in
    ``{"diag", "down", "right"}`` naming the move *into* the cell. ``start="boundary"`` (FSD, LCS):
    a path enters the grid from any cell of row 0 or column 0 (each entry move counted
    separately, as the recursion with a zero boundary does). ``start="corner"`` (DTW): paths start
    at cell (1, 1) (whose step is ``"diag"``, from (0, 0)).
    """

    def back(i: int, j: int) -> Iterator[list[tuple[int, int, str]]]:
        for step, (pi, pj) in (
            ("diag", (i - 1, j - 1)),
            ("down", (i - 1, j)),
            ("right", (i, j - 1)),
        ):
            if start == "corner":
                if (pi, pj) == (0, 0):
                    yield [(i, j, step)]
                elif pi >= 1 and pj >= 1:
                    for path in back(pi, pj):
                        yield path + [(i, j, step)]
            elif pi == 0 or pj == 0:
                yield [(i, j, step)]
            else:
                for path in back(pi, pj):
                    yield path + [(i, j, step)]

    yield from back(m, n)


def fsd_path_scores(mu, g, h) -> list[tuple[torch.Tensor, list[tuple[int, int, str]]]]:
    """Score of every FSD path: sum of ``mu`` over its cells plus ``g`` / ``h`` of its down /
    right moves."""
    m, n = mu.shape
    out = []
    for path in monotone_paths(m, n, "boundary"):
        score = _const(mu, 0.0)
        for i, j, step in path:
            score = score + mu[i - 1, j - 1]
            if step == "down":
                score = score + g[i - 1, j - 1]
            elif step == "right":
                score = score + h[i - 1, j - 1]
        out.append((score, path))
    return out


def fsd_brute_force(mu, g, h, gamma: float | None = None) -> torch.Tensor:
    """Eq. 2 by enumeration: max (or smooth max) over all paths of the path score."""
    return smax([s for s, _ in fsd_path_scores(mu, g, h)], gamma)


def fsd_best_path(mu, g, h) -> torch.Tensor:
    """0/1 ``[M, N]`` indicator of the best FSD path (brute force; assumes a unique best)."""
    score, path = max(fsd_path_scores(mu, g, h), key=lambda sp: float(sp[0]))
    out = torch.zeros_like(mu)
    for i, j, _ in path:
        out[i - 1, j - 1] = 1.0
    return out


def lcs_brute_force(c, tau: float = 0.92, gamma: float | None = None) -> torch.Tensor:
    """Eq. 6 by enumeration: paths that step diagonally exactly out of matched cells
    (``c > tau``, scoring ``c``) and down / right out of unmatched ones (scoring 0)."""
    m, n = c.shape
    scores = []
    for path in monotone_paths(m, n, "boundary"):
        # a matched cell is entered diagonally, an unmatched one from above or the left
        if all(bool(c[i - 1, j - 1] > tau) == (step == "diag") for i, j, step in path):
            score = _const(c, 0.0)
            for i, j, step in path:
                if step == "diag":
                    score = score + c[i - 1, j - 1]
            scores.append(score)
    return smax(scores, gamma)


def soft_dtw_brute_force(cost, gamma: float | None = 0.1) -> torch.Tensor:
    """Soft-DTW by enumeration: softmin over DTW paths from (1,1) to (M,N) of the summed cost."""
    m, n = cost.shape
    totals = []
    for path in monotone_paths(m, n, "corner"):
        total = _const(cost, 0.0)
        for i, j, _ in path:
            total = total + cost[i - 1, j - 1]
        totals.append(total)
    return softmin(totals, gamma)


def drop_dtw_brute_force(cost, drop_x, drop_z, gamma: float | None = 0.1) -> torch.Tensor:
    """Drop-DTW by enumeration of all move sequences from (0,0) to (M,N).

    Moves: match diagonally (any time), extend a match down or right (only right after a match),
    drop ``x_i`` (down) or drop ``z_j`` (right); matching cell ``(i, j)`` costs ``cost_ij``.
    """
    m, n = cost.shape
    totals: list[torch.Tensor] = []

    def walk(i: int, j: int, state: str, total: torch.Tensor) -> None:
        if (i, j) == (m, n):
            totals.append(total)
            return
        if i < m and j < n:
            walk(i + 1, j + 1, "match", total + cost[i, j])
        if state == "match" and i < m:
            walk(i + 1, j, "match", total + cost[i, j - 1])
        if state == "match" and j < n:
            walk(i, j + 1, "match", total + cost[i - 1, j])
        if i < m:
            walk(i + 1, j, "drop", total + drop_x[i])
        if j < n:
            walk(i, j + 1, "drop", total + drop_z[j])

    walk(0, 0, "start", _const(cost, 0.0))
    return softmin(totals, gamma)


# ----------------------------------------------------------------------------- classic LCS


def lcs_length(a, b) -> int:
    """Textbook integer LCS length of two sequences (e.g. strings)."""
    L = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                L[i][j] = L[i - 1][j - 1] + 1
            else:
                L[i][j] = max(L[i - 1][j], L[i][j - 1])
    return L[len(a)][len(b)]


def match_matrix(a, b, dtype=torch.float64) -> torch.Tensor:
    """``[len(a), len(b)]`` 0/1 similarity: 1 where the elements are equal."""
    return torch.tensor([[1.0 if x == y else 0.0 for y in b] for x in a], dtype=dtype)
