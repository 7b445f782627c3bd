"""Compiled CPU kernels (numba) for the generic grid recursion of :mod:`ftcl.dp.engine`.

One forward kernel and one backward kernel serve every recursion (FSD, LCS, soft-DTW,
Drop-DTW): the recursion arrives as small integer arrays (its edges), so numba compiles each
kernel once (float64 tables, int64 indices) and caches the machine code on disk.

Layout (all C-contiguous numpy arrays):

- ``W``: ``[K, B, M, N]`` float64, the cell scores; ``W[k, b, i-1, j-1]`` belongs to cell (i, j).
- ``V``: ``[B, S, M+1, N+1]`` float64, the tables of the ``S`` states (row 0 / column 0 are the
  boundary, copied from ``row0 [B, S, N+1]`` and ``col0 [B, S, M+1]``).
- ``P``: ``[B, #edges, M, N]`` float64, the semiring weight of every edge at every cell.
- ``lengths``: ``[B, 2]`` int64, valid (M_b, N_b); cells beyond are never read or written.
- the edges ``e`` into state ``s`` are ``s_start[s] <= e < s_start[s+1]``: candidate
  ``V[b, e_src[e], i - e_di[e], j - e_dj[e]] + W[e_w[e], b, i-1, j-1]`` (no weight if
  ``e_w[e] < 0``); ``s_local[s]`` is the weight added after the semiring sum (or ``-1``).

The backward kernel pushes the adjoint ``E = d V_final(M_b, N_b) / d V`` from each cell to its
predecessors in reverse topological order, weighted by ``P`` (one-hot arg-max, or
``softmax(beta * candidates)``): the expected-alignment recursion of soft-DTW implementations,
generalised to several states.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def forward_kernel(
    W, row0, col0, lengths, e_src, e_di, e_dj, e_w, s_start, s_local, beta, weighted, V, P
):
    """Fill ``V`` and ``P`` (see the module docstring); ``beta = inf`` is the hard max.

    ``P[b, e, i-1, j-1]`` is the derivative of the semiring sum of state ``dst(e)`` at ``(i, j)``
    w.r.t. candidate ``e``: one-hot on the first maximal candidate if ``beta`` is inf, else
    ``softmax(beta * candidates)``; all 0 where every candidate is ``-inf``. With ``weighted``
    (finite beta) the sum is the softmax-weighted mean ``m = sum_e p_e x_e`` and
    ``P = p_e * (1 + beta * (x_e - m))``.
    """
    n_batch = V.shape[0]
    n_states = V.shape[1]
    hard = math.isinf(beta)
    cand = np.empty(e_src.shape[0])
    expo = np.empty(e_src.shape[0])
    for b in range(n_batch):
        m_b = lengths[b, 0]
        n_b = lengths[b, 1]
        Vb = V[b]
        Wb = W[:, b]
        Pb = P[b]
        for s in range(n_states):
            for j in range(n_b + 1):
                Vb[s, 0, j] = row0[b, s, j]
            for i in range(1, m_b + 1):
                Vb[s, i, 0] = col0[b, s, i]
        for i in range(1, m_b + 1):
            for j in range(1, n_b + 1):
                for s in range(n_states):
                    first = s_start[s]
                    stop = s_start[s + 1]
                    best = -np.inf
                    arg = first
                    for e in range(first, stop):
                        x = Vb[e_src[e], i - e_di[e], j - e_dj[e]]
                        if e_w[e] >= 0:
                            x += Wb[e_w[e], i - 1, j - 1]
                        cand[e] = x
                        if x > best:
                            best = x
                            arg = e
                    if best == -np.inf or hard:
                        for e in range(first, stop):
                            Pb[e, i - 1, j - 1] = 0.0
                        if best > -np.inf:
                            Pb[arg, i - 1, j - 1] = 1.0
                    else:
                        acc = 1.0  # exp(0) for the arg-max candidate
                        for e in range(first, stop):
                            if e != arg:
                                expo[e] = math.exp(beta * (cand[e] - best))
                                acc += expo[e]
                        expo[arg] = 1.0
                        inv = 1.0 / acc
                        if weighted:
                            mean = 0.0
                            for e in range(first, stop):
                                if expo[e] > 0.0:
                                    mean += expo[e] * inv * cand[e]
                            for e in range(first, stop):
                                p = expo[e] * inv
                                slope = 1.0 + beta * (cand[e] - mean) if p > 0.0 else 0.0
                                Pb[e, i - 1, j - 1] = p * slope
                            best = mean
                        else:
                            for e in range(first, stop):
                                Pb[e, i - 1, j - 1] = expo[e] * inv
                            best += math.log(acc) / beta
                    if s_local[s] >= 0:
                        best += Wb[s_local[s], i - 1, j - 1]
                    Vb[s, i, j] = best


@njit(cache=True, nogil=True)
def backward_kernel(
    lengths, grad, final, e_src, e_di, e_dj, e_w, s_start, s_local, P, E, gW, g_row0, g_col0
):
    """Adjoint recursion: push ``E = grad * d V_final(M_b, N_b) / d V`` back through ``P``.

    Fills ``gW [K, B, M, N]`` and the boundary gradients ``g_row0 [B, S, N+1]``,
    ``g_col0 [B, S, M+1]``; all outputs and ``E [B, S, M+1, N+1]`` must be zero on entry.
    ``g_col0[:, :, 0]`` stays 0: the corner (0, 0) is reported once, in ``g_row0[:, :, 0]``.
    """
    n_batch = E.shape[0]
    n_states = E.shape[1]
    for b in range(n_batch):
        m_b = lengths[b, 0]
        n_b = lengths[b, 1]
        Eb = E[b]
        Pb = P[b]
        gWb = gW[:, b]
        Eb[final, m_b, n_b] = grad[b]
        for i in range(m_b, 0, -1):
            for j in range(n_b, 0, -1):
                # reverse state order: a same-cell edge feeds a later state
                for s in range(n_states - 1, -1, -1):
                    adj = Eb[s, i, j]
                    if adj == 0.0:
                        continue
                    if s_local[s] >= 0:
                        gWb[s_local[s], i - 1, j - 1] += adj
                    for e in range(s_start[s], s_start[s + 1]):
                        p = Pb[e, i - 1, j - 1]
                        if p == 0.0:
                            continue
                        push = adj * p
                        Eb[e_src[e], i - e_di[e], j - e_dj[e]] += push
                        if e_w[e] >= 0:
                            gWb[e_w[e], i - 1, j - 1] += push
        for s in range(n_states):
            for j in range(n_b + 1):
                g_row0[b, s, j] = Eb[s, 0, j]
            for i in range(1, m_b + 1):
                g_col0[b, s, i] = Eb[s, i, 0]
