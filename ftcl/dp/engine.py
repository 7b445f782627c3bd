"""One dynamic-programming engine for every alignment recursion of the companion.

A :class:`Recursion` describes a DP on the ``(M+1) x (N+1)`` grid of two sequences as data: a few
*states* per cell (one table each), and for each state its incoming *edges*. The value of state
``s`` at cell ``(i, j)`` (``i, j >= 1``) is::

    V_s(i, j) = L_s(i, j) + (+)_{e into s} [ V_{src(e)}(i - di_e, j - dj_e) + W_e(i, j) ]

where ``(+)`` is the semiring sum of :mod:`ftcl.dp.semiring` (``max``, or
``smax_beta = (1/beta) logsumexp(beta .)``), ``L_s`` an optional local score and ``W_e`` an
optional edge score, both taken from ``K`` cell-score tensors ``weights[k]`` of shape
``[B, M, N]`` (``weights[k][b, i-1, j-1]`` belongs to cell ``(i, j)``). Row 0 and column 0
hold given boundary values. The DP returns ``V_final(M_b, N_b)`` for each pair ``b`` of the batch.

FSD (Eq. 2), LCS (Eq. 6), soft-DTW and Drop-DTW are instances (see :mod:`ftcl.dp.structures`).

The forward pass and the *exact* backward pass live in a custom ``torch.autograd.Function``; the
backward runs the adjoint recursion in reverse (arg-max path for the hard semiring, expected path
for the smooth one) instead of back-propagating through the loop. Two interchangeable backends
compute them:

- ``"numba"``: compiled per-cell loops (:mod:`ftcl.dp.kernels`), CPU tensors only, float64
  internally; by far the fastest on CPU (no per-operation overhead).
- ``"wavefront"``: plain PyTorch on any device (:mod:`ftcl.dp.wavefront`), every cell of an
  anti-diagonal at once, ``M + N - 1`` steps, in the input dtype.
- ``"cuda"``: fused numba.cuda kernels (:mod:`ftcl.dp.cuda_kernels`), CUDA tensors, one launch
  per forward and one per backward for the whole batch, float64 internally like ``"numba"``
  (CPU tensors only under numba's simulator, ``NUMBA_ENABLE_CUDASIM=1``, for tests).

``backend="auto"`` picks numba for CPU tensors, the fused kernel for CUDA tensors when it
compiles on this machine (:func:`ftcl.dp.cuda_kernels.usable`), and the wavefront otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ftcl.dp import kernels, wavefront
from ftcl.dp.recursion import Recursion
from ftcl.dp.semiring import Semiring

BACKENDS = ("auto", "numba", "wavefront", "cuda")


@functools.cache
def _edge_arrays(rec: Recursion) -> tuple[np.ndarray, ...]:
    """The recursion as int64 arrays for the numba kernels."""
    e_src = np.array([e.src for e in rec.edges], dtype=np.int64)
    e_di = np.array([e.di for e in rec.edges], dtype=np.int64)
    e_dj = np.array([e.dj for e in rec.edges], dtype=np.int64)
    e_w = np.array([e.weight for e in rec.edges], dtype=np.int64)
    s_start = np.array([rec.edges_into(s)[0] for s in range(len(rec.states))] + [len(rec.edges)])
    s_local = np.array(rec.local, dtype=np.int64)
    return e_src, e_di, e_dj, e_w, s_start.astype(np.int64), s_local


def _numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a declared dependency
        return False
    return True


def _cuda_kernels():
    """:mod:`ftcl.dp.cuda_kernels`, or None where numba has no CUDA target."""
    try:
        # optional dependency: numba's CUDA target (imported only when CUDA is in play)
        from ftcl.dp import cuda_kernels
    except ImportError:
        return None
    return cuda_kernels


def _fused_kernel_usable(device: torch.device) -> bool:
    kernels_module = _cuda_kernels()
    return kernels_module is not None and kernels_module.usable(device.index)


def resolve_backend(backend: str, device: torch.device) -> str:
    """``"auto"`` -> ``"numba"`` on CPU (if importable), ``"cuda"`` on CUDA (if the fused kernel
    compiles here), else ``"wavefront"``; validates names."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        if device.type == "cpu":
            return "numba" if _numba_available() else "wavefront"
        if device.type == "cuda":
            return "cuda" if _fused_kernel_usable(device) else "wavefront"
        return "wavefront"
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"backend='numba' needs CPU tensors, got device {device}")
    if backend == "cuda" and device.type != "cuda":
        cuda_kernels = _cuda_kernels()
        if not (device.type == "cpu" and cuda_kernels is not None and cuda_kernels.simulator()):
            raise ValueError(f"backend='cuda' needs CUDA tensors, got device {device} "
                             "(CPU tensors only with NUMBA_ENABLE_CUDASIM=1)")
    return backend


# ----------------------------------------------------------------------------- numba backend
# Conversions are done in numpy (single-threaded): tiny multi-threaded torch ops stall when the
# cores are shared, and at training sizes they would cost more than the kernels.


def _to_numpy64(x: torch.Tensor) -> np.ndarray:
    x = x.detach()
    if x.dtype not in (torch.float64, torch.float32, torch.float16):
        x = x.to(torch.float64)
    return x.numpy()


def _from_numpy(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    if dtype in (torch.float64, torch.float32, torch.float16):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=_NUMPY_DTYPES[dtype]))
    return torch.from_numpy(a).to(dtype)


_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32, torch.float16: np.float16}


class _NumbaBackend:
    """Compiled per-cell loops on CPU; float64 tables whatever the input dtype."""

    @staticmethod
    def forward(rec, semiring, lengths, weights, row0, col0):
        n_batch, m, n = weights[0].shape
        w = np.empty((len(weights), n_batch, m, n))
        for k, x in enumerate(weights):
            w[k] = _to_numpy64(x)
        r0 = np.ascontiguousarray(_to_numpy64(row0), dtype=np.float64)
        c0 = np.ascontiguousarray(_to_numpy64(col0), dtype=np.float64)
        lens = lengths.numpy()
        e_src, e_di, e_dj, e_w, s_start, s_local = _edge_arrays(rec)
        table = np.empty((n_batch, len(rec.states), m + 1, n + 1))
        probs = np.empty((n_batch, len(rec.edges), m, n))
        kernels.forward_kernel(
            w,
            r0,
            c0,
            lens,
            e_src,
            e_di,
            e_dj,
            e_w,
            s_start,
            s_local,
            semiring.beta,
            semiring.weighted,
            table,
            probs,
        )
        value = table[np.arange(n_batch), rec.final, lens[:, 0], lens[:, 1]]
        return _from_numpy(value, weights[0].dtype), (probs, lens, w.shape, table.shape)

    @staticmethod
    def backward(rec, saved, grad, dtypes):
        probs, lens, w_shape, table_shape = saved
        g = np.ascontiguousarray(_to_numpy64(grad), dtype=np.float64)
        adjoint = np.zeros(table_shape)
        g_w = np.zeros(w_shape)
        g_row0 = np.zeros(table_shape[:2] + (table_shape[3],))
        g_col0 = np.zeros(table_shape[:3])
        e_src, e_di, e_dj, e_w, s_start, s_local = _edge_arrays(rec)
        kernels.backward_kernel(
            lens, g, rec.final, e_src, e_di, e_dj, e_w, s_start, s_local, probs,
            adjoint, g_w, g_row0, g_col0,
        )  # fmt: skip
        w_dtype, row0_dtype, col0_dtype = dtypes
        g_ws = tuple(_from_numpy(a, w_dtype) for a in g_w)
        return g_ws, _from_numpy(g_row0, row0_dtype), _from_numpy(g_col0, col0_dtype)


# ----------------------------------------------------------------------------- autograd


def _run_forward(rec, semiring, backend, lengths, weights, row0, col0):
    if backend == "numba":
        return _NumbaBackend.forward(rec, semiring, lengths.cpu(), weights, row0, col0)
    if backend == "cuda":
        return _cuda_kernels().forward(rec, semiring, lengths, weights, row0, col0)
    lengths = lengths.to(weights[0].device)
    stacked = torch.stack(weights)
    return wavefront.forward(rec, semiring, lengths, stacked, row0, col0)


def _run_backward(rec, backend, saved, grad, dtypes):
    if backend == "numba":
        return _NumbaBackend.backward(rec, saved, grad, dtypes)
    if backend == "cuda":
        return _cuda_kernels().backward(rec, saved, grad, dtypes)
    g_w, g_row0, g_col0 = wavefront.backward(rec, saved, grad)
    return tuple(g_w.unbind(0)), g_row0, g_col0


class _GridDP(torch.autograd.Function):
    """Value of a :class:`Recursion`; backward = the exact adjoint recursion."""

    @staticmethod
    def forward(ctx, rec, semiring, backend, lengths, row0, col0, *weights):
        value, saved = _run_forward(rec, semiring, backend, lengths, weights, row0, col0)
        ctx.rec, ctx.backend, ctx.saved = rec, backend, saved
        ctx.dtypes = (weights[0].dtype, row0.dtype, col0.dtype)
        ctx.device = weights[0].device
        return value.to(ctx.device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        g_w, g_row0, g_col0 = _run_backward(ctx.rec, ctx.backend, ctx.saved, grad, ctx.dtypes)
        g_w = tuple(g.to(ctx.device) for g in g_w)
        return None, None, None, None, g_row0.to(ctx.device), g_col0.to(ctx.device), *g_w


def _check_weights(rec: Recursion, weights) -> tuple[torch.Tensor, ...]:
    weights = tuple(weights)
    if len(weights) != rec.n_weights:
        raise ValueError(f"{rec.name}: expected {rec.n_weights} weight tensors, got {len(weights)}")
    return weights


def grid_dp(
    rec: Recursion,
    semiring: Semiring,
    weights: Sequence[torch.Tensor],
    row0: torch.Tensor,
    col0: torch.Tensor,
    lengths: torch.Tensor,
    backend: str = "auto",
) -> torch.Tensor:
    """Differentiable ``V_final(M_b, N_b)`` for each pair.

    Parameters
    ----------
    rec : Recursion
    semiring : Semiring
        The semiring sum (hard max, log-sum-exp with inverse temperature beta) or the
        softmax-weighted mean (see :class:`ftcl.dp.semiring.Semiring`).
    weights : sequence of ``K`` Tensors ``[B, M, N]``
        Cell scores (finite; same dtype and device).
    row0, col0 : Tensor ``[B, S, N+1]``, ``[B, S, M+1]``
        Boundary values of every state on row 0 and column 0 (``-inf`` allowed; the corner is
        read from ``row0``).
    lengths : LongTensor ``[B, 2]``
        Valid ``(M_b, N_b)``, ``1 <= M_b <= M``, ``1 <= N_b <= N`` (validated by the callers).
    backend : {"auto", "numba", "wavefront", "cuda"}

    Returns
    -------
    Tensor ``[B]``, differentiable w.r.t. ``weights``, ``row0`` and ``col0``.
    """
    weights = _check_weights(rec, weights)
    backend = resolve_backend(backend, weights[0].device)
    return _GridDP.apply(rec, semiring, backend, lengths, row0, col0, *weights)


def grid_dp_gradients(
    rec: Recursion,
    semiring: Semiring,
    weights: Sequence[torch.Tensor],
    row0: torch.Tensor,
    col0: torch.Tensor,
    lengths: torch.Tensor,
    backend: str = "auto",
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Value and ``d value / d weights[k]`` for every ``k``, without an autograd graph.

    With the hard semiring the gradient of a local score is the 0/1 indicator of the optimal
    path (traceback); with the smooth one, the probability that the path visits the cell.
    """
    weights = _check_weights(rec, weights)
    backend = resolve_backend(backend, weights[0].device)
    device = weights[0].device
    with torch.no_grad():
        value, saved = _run_forward(rec, semiring, backend, lengths, weights, row0, col0)
        grad = torch.ones_like(value)
        dtypes = (weights[0].dtype, row0.dtype, col0.dtype)
        g_w, _, _ = _run_backward(rec, backend, saved, grad, dtypes)
    return value.to(device), tuple(g.to(device) for g in g_w)
