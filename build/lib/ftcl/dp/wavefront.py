"""The engine's PyTorch backend: an anti-diagonal wavefront, any device, the input dtype.

Cell ``(i, j)`` depends only on ``(i-1, j)``, ``(i, j-1)`` and ``(i-1, j-1)``, so all cells of an
anti-diagonal ``d = i + j`` can be computed at once from diagonals ``d-1`` and ``d-2``. The grid
is stored *skewed*: ``X[..., d, i]`` holds cell ``(i, d - i)``, which turns the three
predecessors into plain slices of the previous two diagonals (the "rotate by 45 degrees" trick of
pytorch-struct). The forward pass loops over the ``M + N - 1`` interior diagonals and keeps the
semiring weights of every edge; the backward pass walks the diagonals in reverse, pushing each
cell's adjoint to its predecessors with those weights (exact, no autograd through the loop).

Memory: ``O(B * (S + #edges + K) * (M + N) * M)`` numbers, i.e. ``O(B * M * N)`` for ``M ~ N``.
"""

from __future__ import annotations

import torch

from ftcl.dp.semiring import Semiring


def _skew_index(m: int, n: int, device: torch.device) -> torch.Tensor:
    """``[M+N+1, M+1]`` flat indices into an ``(M+1) x (N+1)`` grid: ``(d, i) -> (i, d-i)``."""
    d = torch.arange(m + n + 1, device=device).unsqueeze(1)
    i = torch.arange(m + 1, device=device).unsqueeze(0)
    return i * (n + 1) + (d - i).clamp(0, n)  # out-of-grid (d, i) point at some grid cell


def _unskew_index(m: int, n: int, device: torch.device) -> torch.Tensor:
    """``[M, N]`` flat indices into a skewed ``[M+N+1, M+1]`` array: ``(i, j) -> (i+j, i)``."""
    i = torch.arange(1, m + 1, device=device).unsqueeze(1)
    j = torch.arange(1, n + 1, device=device).unsqueeze(0)
    return (i + j) * (m + 1) + i


def forward(rec, semiring: Semiring, lengths, weights, row0, col0):
    """Values ``[B]`` and what :func:`backward` needs (see :func:`ftcl.dp.engine.grid_dp`)."""
    k, n_batch, m, n = weights.shape
    device, dtype = weights.device, weights.dtype
    n_diag = m + n + 1
    padded = torch.nn.functional.pad(weights, (1, 0, 1, 0)).reshape(k, n_batch, -1)
    w = padded[:, :, _skew_index(m, n, device)]  # [K, B, D, M+1]

    n_states = len(rec.states)
    table = torch.zeros(n_batch, n_states, n_diag, m + 1, dtype=dtype, device=device)
    table[:, :, : n + 1, 0] = row0.to(dtype)
    diag = torch.arange(1, m + 1, device=device)
    table[:, :, diag, diag] = col0[:, :, 1:].to(dtype)
    probs = torch.zeros(n_batch, len(rec.edges), n_diag, m + 1, dtype=dtype, device=device)
    groups = [(s, *rec.edges_into(s)) for s in range(n_states)]

    for d in range(2, m + n + 1):
        lo, hi = max(1, d - n), min(m, d - 1) + 1
        for s, first, stop in groups:
            cands = []
            for e in rec.edges[first:stop]:
                x = table[:, e.src, d - e.di - e.dj, lo - e.di : hi - e.di]
                cands.append(x + w[e.weight, :, d, lo:hi] if e.weight >= 0 else x)
            value, p = semiring.sum_and_weights(torch.stack(cands, 1), dim=1)
            if rec.local[s] >= 0:
                value = value + w[rec.local[s], :, d, lo:hi]
            table[:, s, d, lo:hi] = value
            probs[:, first:stop, d, lo:hi] = p

    rows = torch.arange(n_batch, device=device)
    m_b, n_b = lengths[:, 0], lengths[:, 1]
    value = table[rows, rec.final, m_b + n_b, m_b]
    return value, (probs, lengths, (k, n_batch, m, n), row0.dtype, col0.dtype)


def backward(rec, saved, grad):
    """Gradients w.r.t. ``weights``, ``row0``, ``col0`` by the reverse wavefront."""
    probs, lengths, (k, n_batch, m, n), row0_dtype, col0_dtype = saved
    device, dtype = probs.device, probs.dtype
    n_states = len(rec.states)
    n_diag = m + n + 1
    adjoint = torch.zeros(n_batch, n_states, n_diag, m + 1, dtype=dtype, device=device)
    rows = torch.arange(n_batch, device=device)
    m_b, n_b = lengths[:, 0], lengths[:, 1]
    adjoint[rows, rec.final, m_b + n_b, m_b] = grad.to(dtype)
    g_w = torch.zeros(k, n_batch, n_diag, m + 1, dtype=dtype, device=device)
    groups = [(s, *rec.edges_into(s)) for s in reversed(range(n_states))]

    for d in range(m + n, 1, -1):
        lo, hi = max(1, d - n), min(m, d - 1) + 1
        for s, first, stop in groups:
            adj = adjoint[:, s, d, lo:hi]
            if rec.local[s] >= 0:
                g_w[rec.local[s], :, d, lo:hi] += adj
            push = adj.unsqueeze(1) * probs[:, first:stop, d, lo:hi]
            for q, e in enumerate(rec.edges[first:stop]):
                adjoint[:, e.src, d - e.di - e.dj, lo - e.di : hi - e.di] += push[:, q]
                if e.weight >= 0:
                    g_w[e.weight, :, d, lo:hi] += push[:, q]

    g_w = g_w.reshape(k, n_batch, -1)[:, :, _unskew_index(m, n, device)]
    g_row0 = adjoint[:, :, : n + 1, 0].to(row0_dtype)
    g_col0 = torch.zeros(n_batch, n_states, m + 1, dtype=col0_dtype, device=device)
    diag = torch.arange(1, m + 1, device=device)
    g_col0[:, :, 1:] = adjoint[:, :, diag, diag]
    return g_w, g_row0, g_col0
