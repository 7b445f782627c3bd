"""The fused GPU DP kernel (:mod:`ftcl.dp.cuda_kernels`) against the numba CPU kernels and the
per-cell reference loops.

Without a GPU its logic runs in numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, read when
numba is imported, hence a subprocess), on tiny grids: every recursion, hard and smooth, mixed
lengths, values and gradients. With a GPU the same comparison runs on the device (float32 inputs:
agreement to float32 rounding).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ftcl import dp
from ftcl.dp import cuda_kernels
from ftcl.dp.engine import resolve_backend

ROOT = Path(__file__).resolve().parents[2]

# Runs in a subprocess under the simulator: largest |difference| of values and gradients of the
# "cuda" backend against the numba backend and against ftcl.dp.reference, per case.
_SCRIPT = r"""
import json, sys
import torch
from ftcl import dp
from ftcl.dp import reference as ref
from ftcl.dp import cuda_kernels

CASES = [("fsd", 10.0), ("fsd", None), ("lcs", None), ("lcs", 5.0), ("soft_dtw", 0.5),
         ("soft_dtw", None), ("drop_dtw", 0.5), ("drop_dtw", None), ("soft_dtw_w", 0.5),
         ("drop_dtw_w", 0.5)]
gen = torch.Generator().manual_seed(0)
def rand(*shape, low=-1.0, high=1.0):
    return (low + (high - low) * torch.rand(*shape, generator=gen)).double()

B, M, N = 3, 4, 5
lengths = torch.tensor([[4, 5], [2, 3], [4, 1]])

def inputs(structure):
    if structure == "fsd":
        return [rand(B, M, N) for _ in range(3)], []
    if structure == "lcs":
        c = rand(B, M, N, low=0.0, high=1.0)
        return [torch.where((c - 0.5).abs() < 1e-3, c + 0.01, c)], []
    if structure.startswith("soft_dtw"):
        return [rand(B, M, N, low=0.0, high=2.0)], []
    return [rand(B, M, N, low=0.0, high=2.0)], [rand(B, M, low=0.2, high=1.5),
                                                 rand(B, N, low=0.2, high=1.5)]

def engine(structure, grids, vectors, gamma, backend):
    if structure == "fsd":
        return dp.fsd(*grids, gamma=gamma, lengths=lengths, backend=backend)
    if structure == "lcs":
        return dp.lcs(grids[0], tau=0.5, lengths=lengths, gamma=gamma, backend=backend)
    kw = dict(gamma=gamma, lengths=lengths, backend=backend,
              smoothing="weighted" if structure.endswith("_w") else "logsumexp")
    if structure.startswith("soft_dtw"):
        return dp.soft_dtw(grids[0], **kw)
    return dp.drop_dtw(grids[0], *vectors, **kw)

def reference(structure, grids, vectors, gamma):
    fns = {"fsd": (ref.fsd_reference, {}), "lcs": (ref.lcs_reference, {"tau": 0.5}),
           "soft_dtw": (ref.soft_dtw_reference, {}), "drop_dtw": (ref.drop_dtw_reference, {}),
           "soft_dtw_w": (ref.soft_dtw_reference, {"smoothing": "weighted"}),
           "drop_dtw_w": (ref.drop_dtw_reference, {"smoothing": "weighted"})}
    fn, kw = fns[structure]
    vec = tuple(zip(vectors, (0, 1)))
    return ref.batched(fn, *grids, lengths=lengths, vectors=vec, gamma=gamma, **kw)

def run(fn, tensors):
    leaves = [x.clone().requires_grad_() for x in tensors]
    value = fn(leaves)
    upstream = torch.linspace(0.5, 1.5, B, dtype=torch.float64)
    grads = torch.autograd.grad((value * upstream).sum(), leaves, allow_unused=True)
    return value.detach(), [torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads)]

out = {}
STRIDED = [("fsd", 10.0), ("lcs", None), ("drop_dtw", 0.5)]
for threads, (structure, gamma) in [(None, c) for c in CASES] + [(2, c) for c in STRIDED]:
    if threads is not None:  # fewer threads than cells on a diagonal: the strided loop
        cuda_kernels.THREADS_MAX = threads
    grids, vectors = inputs(structure)
    k = len(grids)
    results = {
        name: run(lambda t, b=b: engine(structure, t[:k], t[k:], gamma, b), grids + vectors)
        for name, b in (("cuda", "cuda"), ("numba", "numba"))
    }
    results["reference"] = run(lambda t: reference(structure, t[:k], t[k:], gamma), grids + vectors)
    v, g = results["cuda"]
    name = f"{structure}/{gamma}/threads={threads or 'auto'}"
    out[name] = {
        other: max([float((v - results[other][0]).abs().max())]
                   + [float((a - b).abs().max()) for a, b in zip(g, results[other][1])])
        for other in ("numba", "reference")
    }
    out[name]["nonzero_grad"] = float(sum(x.abs().sum() for x in g))
json.dump(out, sys.stdout)
"""


def test_simulated_kernel_matches_numba_and_reference():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    diffs = json.loads(proc.stdout)
    assert len(diffs) == 13
    for case, d in diffs.items():
        assert d["nonzero_grad"] > 0, case  # the comparison is not between zeros
        assert d["numba"] <= 1e-12, (case, d)  # same float64 arithmetic, summation order aside
        assert d["reference"] <= 1e-9, (case, d)


def test_cuda_backend_needs_cuda_tensors_or_the_simulator():
    x = torch.zeros(1, 2, 2)
    if not cuda_kernels.simulator():
        with pytest.raises(ValueError, match="backend='cuda' needs CUDA tensors"):
            dp.fsd(x, x, x, backend="cuda")
    assert resolve_backend("cuda", torch.device("cuda", 0)) == "cuda"


def test_threads_cover_the_longest_diagonal_in_whole_warps():
    assert cuda_kernels._threads(1, 1) == 32
    assert cuda_kernels._threads(30, 30) == 32
    assert cuda_kernels._threads(40, 100) == 64
    assert cuda_kernels._threads(750, 750) == cuda_kernels.THREADS_MAX


def test_recursion_arrays_describe_the_edges():
    edges, states = cuda_kernels._recursion_arrays(dp.DROP_DTW)
    assert edges.shape == (5, len(dp.DROP_DTW.edges))
    assert edges[:, 3].tolist() == [2, 1, 0, 1, 1]  # src, di, dj, weight, dst of edge 3
    assert states[0].tolist() == [0, 3, 5, 7]  # first edge of each state, then #edges
    assert states[1].tolist() == [0, -1, -1, -1]  # local score per state


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("backend", ["cuda", "auto"])
def test_gpu_dp_agrees_with_cpu(backend):
    if backend == "cuda" and not cuda_kernels.usable():
        pytest.skip("numba.cuda cannot compile here (no NVVM); the engine uses the wavefront")
    device = torch.device("cuda")
    gen = torch.Generator().manual_seed(0)
    n_batch, m, n = 4, 33, 29  # more cells per diagonal than one warp
    lengths = torch.tensor([[33, 29], [10, 29], [33, 3], [1, 1]])
    grids = [torch.rand(n_batch, m, n, generator=gen) * 2 - 1 for _ in range(3)]
    for gamma in (10.0, None):
        cpu = [x.clone().requires_grad_() for x in grids]
        gpu = [x.to(device).requires_grad_() for x in grids]
        v_cpu = dp.fsd(*cpu, gamma=gamma, lengths=lengths, backend="numba")
        v_gpu = dp.fsd(*gpu, gamma=gamma, lengths=lengths.to(device), backend=backend)
        torch.testing.assert_close(v_gpu.cpu(), v_cpu, rtol=1e-6, atol=1e-5)
        g_cpu = torch.autograd.grad(v_cpu.sum(), cpu)
        g_gpu = torch.autograd.grad(v_gpu.sum(), gpu)
        for a, b in zip(g_gpu, g_cpu, strict=True):
            torch.testing.assert_close(a.cpu(), b, rtol=1e-6, atol=1e-5)
    c = torch.rand(n_batch, m, n, generator=gen)
    torch.testing.assert_close(
        dp.lcs(c.to(device), 0.5, lengths.to(device), backend=backend).cpu(),
        dp.lcs(c, 0.5, lengths, backend="numba"), rtol=1e-6, atol=1e-5)
