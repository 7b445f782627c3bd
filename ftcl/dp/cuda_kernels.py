"""Fused GPU kernels (numba.cuda) for the generic grid recursion of :mod:`ftcl.dp.engine`.

One launch computes the forward pass of *all* pairs of a batch, one launch the backward pass:
a thread block per pair, the anti-diagonal loop ``d = 2 .. M_b + N_b`` inside the kernel (the
threads of the block share the cells of a diagonal and meet at a barrier between diagonals).
The torch wavefront (:mod:`ftcl.dp.wavefront`) instead launches a dozen small kernels per
diagonal, which makes it launch-bound on a GPU (issue 12: 37.5 ms for 16 pairs at L = 30).

Same data layout, float64 tables and per-cell arithmetic as the numba CPU kernels
(:mod:`ftcl.dp.kernels`): ``W [K, B, M, N]``, ``V [B, S, M+1, N+1]``, ``P [B, #edges, M, N]``.
The forward cell update is the CPU kernel's, line for line (semiring sum: hard max with the first
maximal candidate, ``(1/beta) logsumexp(beta .)`` or the softmax-weighted mean, Eq. 2/5/6).
The backward pass is the same exact adjoint recursion ``E = d V_final / d V`` (no autograd
through the loop) written as a *gather*: the CPU kernel pushes each cell's adjoint to its
predecessors, which would race between the threads of a diagonal; here each cell pulls from its
successors ``E_s(i, j) = sum_{e: src(e) = s} E_dst(e)(i + di_e, j + dj_e) P_e(i + di_e, j + dj_e)``,
walking the diagonals in reverse. The sums are the same; only the order of the float64 additions
of ``E`` differs (values agree with the CPU kernels to float64 rounding, far below float32's).

Why numba.cuda and not Triton: (1) the recursion arrives as data (edge arrays), and numba.cuda
runs the same scalar per-cell loops as the CPU kernel, with ``syncthreads`` between diagonals,
whereas a Triton program would have to be specialised per recursion and vectorised over a
diagonal with masked gathers; (2) its logic is tested without a GPU in numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``), which ships with numba, already a dependency, so CI installs
nothing more (Triton is not part of the CPU build of torch). The price: compiling for a real GPU
needs NVVM (a CUDA toolkit, or ``pip install numba-cuda[cu12]``/``[cu13]``, the extra
``.[cuda]``); without it :func:`usable` is False and the engine keeps the torch wavefront.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import torch
from numba import cuda

from ftcl.dp.recursion import FSD
from ftcl.dp.semiring import Semiring

THREADS_MAX = 256  # threads per block (float64 registers: stay well under the 64K per block)


def simulator() -> bool:
    """True when numba runs CUDA kernels in its simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    try:
        from numba import config
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return bool(config.ENABLE_CUDASIM)


@cuda.jit(device=True)
def _candidate(W, V, edges, b, e, i, j):
    x = V[b, edges[0, e], i - edges[1, e], j - edges[2, e]]
    if edges[3, e] >= 0:
        x += W[edges[3, e], b, i - 1, j - 1]
    return x


@cuda.jit
def _forward_kernel(W, row0, col0, lengths, edges, states, beta, hard, weighted, V, P):
    # edges: [5, E] = src, di, dj, weight, dst; states: [2, S+1] = start (S+1), local (S)
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    step = cuda.blockDim.x
    n_states = V.shape[1]
    m_b = lengths[b, 0]
    n_b = lengths[b, 1]
    for s in range(n_states):
        for j in range(tid, n_b + 1, step):
            V[b, s, 0, j] = row0[b, s, j]
        for i in range(tid + 1, m_b + 1, step):
            V[b, s, i, 0] = col0[b, s, i]
    cuda.syncthreads()
    for d in range(2, m_b + n_b + 1):
        lo = max(1, d - n_b)
        hi = min(m_b, d - 1)
        for i in range(lo + tid, hi + 1, step):
            j = d - i
            for s in range(n_states):
                first = states[0, s]
                stop = states[0, s + 1]
                best = -math.inf
                arg = first
                for e in range(first, stop):
                    x = _candidate(W, V, edges, b, e, i, j)
                    if x > best:
                        best = x
                        arg = e
                if best == -math.inf or hard:
                    for e in range(first, stop):
                        P[b, e, i - 1, j - 1] = 0.0
                    if best > -math.inf:
                        P[b, arg, i - 1, j - 1] = 1.0
                else:
                    acc = 1.0  # exp(0) for the arg-max candidate
                    for e in range(first, stop):
                        if e != arg:
                            acc += math.exp(beta * (_candidate(W, V, edges, b, e, i, j) - best))
                    inv = 1.0 / acc
                    if weighted:
                        mean = 0.0
                        for e in range(first, stop):
                            x = _candidate(W, V, edges, b, e, i, j)
                            ex = 1.0 if e == arg else math.exp(beta * (x - best))
                            if ex > 0.0:
                                mean += ex * inv * x
                        for e in range(first, stop):
                            x = _candidate(W, V, edges, b, e, i, j)
                            ex = 1.0 if e == arg else math.exp(beta * (x - best))
                            p = ex * inv
                            slope = 1.0 + beta * (x - mean) if p > 0.0 else 0.0
                            P[b, e, i - 1, j - 1] = p * slope
                        best = mean
                    else:
                        for e in range(first, stop):
                            if e == arg:
                                P[b, e, i - 1, j - 1] = inv
                            else:
                                x = _candidate(W, V, edges, b, e, i, j)
                                P[b, e, i - 1, j - 1] = math.exp(beta * (x - best)) * inv
                        best += math.log(acc) / beta
                if states[1, s] >= 0:
                    best += W[states[1, s], b, i - 1, j - 1]
                V[b, s, i, j] = best
        cuda.syncthreads()


@cuda.jit
def _backward_kernel(lengths, grad, final, edges, states, P, E, gW, g_row0, g_col0):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    step = cuda.blockDim.x
    n_states = E.shape[1]
    n_edges = edges.shape[1]
    m_b = lengths[b, 0]
    n_b = lengths[b, 1]
    for d in range(m_b + n_b, -1, -1):
        lo = max(0, d - n_b)
        hi = min(m_b, d)
        for i in range(lo + tid, hi + 1, step):
            j = d - i
            interior = i >= 1 and j >= 1
            # reverse state order: a same-cell edge feeds a later state
            for s in range(n_states - 1, -1, -1):
                adj = 0.0
                if s == final and i == m_b and j == n_b:
                    adj = grad[b]
                for e in range(n_edges):
                    if edges[0, e] != s:
                        continue
                    ti = i + edges[1, e]
                    tj = j + edges[2, e]
                    if ti < 1 or tj < 1 or ti > m_b or tj > n_b:
                        continue  # only interior cells of the valid grid push
                    if ti == i and tj == j and not interior:
                        continue
                    adj += E[b, edges[4, e], ti, tj] * P[b, e, ti - 1, tj - 1]
                E[b, s, i, j] = adj
                if interior:
                    if states[1, s] >= 0:
                        gW[states[1, s], b, i - 1, j - 1] += adj
                    for e in range(states[0, s], states[0, s + 1]):
                        if edges[3, e] >= 0:
                            gW[edges[3, e], b, i - 1, j - 1] += adj * P[b, e, i - 1, j - 1]
                elif i == 0:
                    g_row0[b, s, j] = adj
                else:
                    g_col0[b, s, i] = adj
        cuda.syncthreads()


@functools.cache
def _recursion_arrays(rec) -> tuple[np.ndarray, np.ndarray]:
    """``edges [5, E]`` (src, di, dj, weight, dst) and ``states [2, S+1]`` (start, local)."""
    edges = np.array([[e.src, e.di, e.dj, e.weight, e.dst] for e in rec.edges], dtype=np.int64).T
    n = len(rec.states)
    start = [rec.edges_into(s)[0] for s in range(n)] + [len(rec.edges)]
    local = list(rec.local) + [-1]
    return np.ascontiguousarray(edges), np.array([start, local], dtype=np.int64)


@functools.cache
def _device_recursion(rec, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    edges, states = _recursion_arrays(rec)
    return torch.from_numpy(edges).to(device), torch.from_numpy(states).to(device)


def _threads(m: int, n: int) -> int:
    """Threads per block: the longest diagonal (``min(M, N) + 1`` cells), in warps, capped."""
    need = min(m, n) + 1
    return int(min(THREADS_MAX, 32 * -(-need // 32)))


class _Launcher:
    """Launch on torch's current stream (CUDA) or on numpy views of CPU tensors (simulator)."""

    def __init__(self, device: torch.device):
        self.cuda = cuda
        self.sim = device.type != "cuda"
        if self.sim and not simulator():
            raise ValueError("the CUDA DP kernel needs CUDA tensors (or NUMBA_ENABLE_CUDASIM=1)")
        self.device = device

    def array(self, t: torch.Tensor):
        return t.numpy() if self.sim else self.cuda.as_cuda_array(t)

    def launch(self, kernel, n_blocks: int, threads: int, *args) -> None:
        args = tuple(self.array(a) if isinstance(a, torch.Tensor) else a for a in args)
        if self.sim:
            kernel[n_blocks, threads](*args)
            return
        stream = self.cuda.external_stream(torch.cuda.current_stream(self.device).cuda_stream)
        kernel[n_blocks, threads, stream](*args)


def forward(rec, semiring, lengths, weights, row0, col0):
    """Values ``[B]`` (dtype of the weights) and what :func:`backward` needs.

    ``weights`` is a sequence of ``K`` tensors ``[B, M, N]``; every tensor on one CUDA device
    (or on the CPU under the simulator).
    """
    device = weights[0].device
    launcher = _Launcher(device)
    n_batch, m, n = weights[0].shape
    w = torch.stack([x.detach() for x in weights]).to(torch.float64).contiguous()
    r0 = row0.detach().to(torch.float64).contiguous()
    c0 = col0.detach().to(torch.float64).contiguous()
    lens = lengths.to(device=device, dtype=torch.int64).contiguous()
    edges, states = _device_recursion(rec, device)
    table = torch.empty(n_batch, len(rec.states), m + 1, n + 1, dtype=torch.float64, device=device)
    probs = torch.zeros(n_batch, len(rec.edges), m, n, dtype=torch.float64, device=device)
    launcher.launch(_forward_kernel, n_batch, _threads(m, n), w, r0, c0, lens, edges, states,
                    float(semiring.beta), bool(semiring.hard), bool(semiring.weighted),
                    table, probs)
    rows = torch.arange(n_batch, device=device)
    value = table[rows, rec.final, lens[:, 0], lens[:, 1]]
    return value.to(weights[0].dtype), (probs, lens, tuple(w.shape), tuple(table.shape))


def backward(rec, saved, grad, dtypes):
    """Gradients w.r.t. the ``K`` weights, ``row0`` and ``col0`` by the adjoint recursion."""
    probs, lens, w_shape, table_shape = saved
    device = probs.device
    launcher = _Launcher(device)
    g = grad.detach().to(device=device, dtype=torch.float64).contiguous()
    adjoint = torch.zeros(table_shape, dtype=torch.float64, device=device)
    g_w = torch.zeros(w_shape, dtype=torch.float64, device=device)
    g_row0 = torch.zeros(table_shape[:2] + (table_shape[3],), dtype=torch.float64, device=device)
    g_col0 = torch.zeros(table_shape[:3], dtype=torch.float64, device=device)
    edges, states = _device_recursion(rec, device)
    launcher.launch(_backward_kernel, table_shape[0], _threads(w_shape[2], w_shape[3]), lens, g,
                    int(rec.final), edges, states, probs, adjoint, g_w, g_row0, g_col0)
    w_dtype, row0_dtype, col0_dtype = dtypes
    return (tuple(x.to(w_dtype) for x in g_w.unbind(0)), g_row0.to(row0_dtype),
            g_col0.to(col0_dtype))


@functools.cache
def usable(device_index: int | None = None) -> bool:
    """Whether the kernels compile and run on this machine's GPU (checked once per process).

    False without a GPU, without numba's CUDA target, or without NVVM (compiling needs a CUDA
    toolkit or the ``numba-cuda`` wheels); the engine then keeps the torch wavefront.
    """
    if simulator():
        return False  # the simulator runs CPU tensors only when asked for explicitly
    if not torch.cuda.is_available():
        return False
    try:
        if not cuda.is_available():
            return False
        device = torch.device("cuda", torch.cuda.current_device() if device_index is None
                              else device_index)
        x = torch.zeros(1, 1, 1, device=device)
        zeros = torch.zeros(1, 1, 2, device=device)
        lens = torch.ones(1, 2, dtype=torch.int64)
        _, saved = forward(FSD, Semiring(10.0), lens, (x, x, x), zeros, zeros)
        backward(FSD, saved, torch.ones(1, device=device), (x.dtype,) * 3)
        torch.cuda.synchronize(device)
    except Exception as exc:  # noqa: BLE001 - any failure means: use the fallback
        warnings.warn(f"ftcl.dp: the numba.cuda DP kernel is unavailable ({exc!s:.200}); "
                      "using the torch wavefront on CUDA", RuntimeWarning, stacklevel=2)
        return False
    return True
