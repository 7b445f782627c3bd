"""The engine's plumbing around its backends (ftcl.dp.engine), on a CPU-only machine.

- The ``"cuda"`` branch of the forward and backward passes, with a stand-in for
  :mod:`ftcl.dp.cuda_kernels` that runs the numba kernels: whatever the engine hands the fused
  kernel must give the numba backend's values and gradients (the simulator test of
  tests/dp/test_dp_gpu_kernel.py checks the kernel itself, in a subprocess).
- ``backend="auto"`` on a CUDA device: the fused kernel where it compiles on that device, the
  wavefront where it does not or where numba has no CUDA target.
- Input dtypes numpy lacks (bfloat16): the numba backend computes in float64 and returns the
  input's dtype, for the value and for the gradients; float16 boundary gradients are rounded once.
- ``backend="auto"`` on the CPU without numba: the wavefront.
- Backends agree where weights are shared, and on an infinite upstream gradient.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ftcl import dp
from ftcl.dp import engine

F64 = torch.float64


def _rand(*shape, seed=0, low=-1.0, high=1.0, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(*shape, generator=gen, dtype=F64)).to(dtype)


LENGTHS = torch.tensor([[3, 4], [2, 3]])


@pytest.fixture
def fused(monkeypatch):
    """The fused-kernel module replaced by the numba kernels (as under the simulator: CPU
    tensors accepted); ``asked`` lists the device indices its ``usable`` was asked about."""
    state = SimpleNamespace(usable=True, asked=[], calls=[])

    def forward(*args):
        state.calls.append("forward")
        return engine._NumbaBackend.forward(*args)

    def backward(*args):
        state.calls.append("backward")
        return engine._NumbaBackend.backward(*args)

    def usable(index=None):
        state.asked.append(index)
        return state.usable

    module = SimpleNamespace(simulator=lambda: True, usable=usable, forward=forward,
                             backward=backward)
    monkeypatch.setattr(engine, "_cuda_kernels", lambda: module)
    return state


def _value_and_grads(fn, tensors):
    leaves = [t.clone().requires_grad_() for t in tensors]
    value = fn(*leaves)
    upstream = torch.linspace(0.5, 1.5, value.numel(), dtype=value.dtype)
    grads = torch.autograd.grad((value * upstream).sum(), leaves)
    return value.detach(), grads


CASES = {
    "fsd": (lambda b: lambda mu, g, h: dp.fsd(mu, g, h, gamma=10.0, lengths=LENGTHS, backend=b),
            [_rand(2, 3, 4, seed=k) for k in range(3)]),
    "drop_dtw": (lambda b: lambda c, x, z: dp.drop_dtw(c, x, z, 0.5, lengths=LENGTHS, backend=b),
                 [_rand(2, 3, 4, seed=3, low=0.0, high=2.0), _rand(2, 3, seed=4, low=0.2),
                  _rand(2, 4, seed=5, low=0.2)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_cuda_branch_hands_the_kernel_what_numba_gets(fused, name):
    make, tensors = CASES[name]
    value, grads = _value_and_grads(make("cuda"), tensors)
    assert fused.calls == ["forward", "backward"]  # the fused kernel ran, both ways
    ref_value, ref_grads = _value_and_grads(make("numba"), tensors)
    torch.testing.assert_close(value, ref_value, rtol=0, atol=0)
    for a, b in zip(grads, ref_grads, strict=True):
        assert b.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gradients_without_a_graph_on_the_cuda_branch(fused):
    mu, g, h = CASES["fsd"][1]
    row0, col0 = mu.new_zeros(2, 1, 5), mu.new_zeros(2, 1, 4)
    semiring = dp.Semiring(10.0)
    value, grads = dp.grid_dp_gradients(dp.FSD, semiring, (mu, g, h), row0, col0, LENGTHS,
                                        "cuda")
    assert fused.calls == ["forward", "backward"]
    ref_value, ref_grads = dp.grid_dp_gradients(dp.FSD, semiring, (mu, g, h), row0, col0,
                                                LENGTHS, "numba")
    torch.testing.assert_close(value, ref_value, rtol=0, atol=0)
    torch.testing.assert_close(grads, ref_grads, rtol=0, atol=0)


def test_auto_on_a_cuda_device_asks_that_device(fused):
    assert engine.resolve_backend("auto", torch.device("cuda", 1)) == "cuda"
    assert fused.asked == [1]
    fused.usable = False
    assert engine.resolve_backend("auto", torch.device("cuda", 0)) == "wavefront"
    assert fused.asked == [1, 0]


def test_auto_on_a_cuda_device_without_numba_cuda(monkeypatch):
    monkeypatch.setattr(engine, "_cuda_kernels", lambda: None)
    assert engine.resolve_backend("auto", torch.device("cuda", 0)) == "wavefront"
    with pytest.raises(ValueError, match=r"^backend='cuda' needs CUDA tensors, got device cpu "):
        engine.resolve_backend("cuda", torch.device("cpu"))


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_cuda_on_a_device_without_cuda_names_the_simulator(monkeypatch, device):
    """The whole message: a CPU user is told how to get the simulator (numba's CUDA target
    absent here, so that the CPU case does not depend on NUMBA_ENABLE_CUDASIM)."""
    monkeypatch.setattr(engine, "_cuda_kernels", lambda: None)
    with pytest.raises(ValueError) as info:
        engine.resolve_backend("cuda", torch.device(device))
    assert str(info.value) == (f"backend='cuda' needs CUDA tensors, got device {device} "
                               "(CPU tensors only with NUMBA_ENABLE_CUDASIM=1)")


def test_auto_on_cpu_is_numba_and_names_are_checked():
    assert engine.resolve_backend("auto", torch.device("cpu")) == "numba"
    assert engine.resolve_backend("auto", torch.device("meta")) == "wavefront"
    with pytest.raises(ValueError, match=r"^backend='numba' needs CPU tensors, got device meta$"):
        engine.resolve_backend("numba", torch.device("meta"))


def test_grid_dp_defaults_to_auto_and_runs_the_backend_it_is_given(monkeypatch):
    mu, g, h = CASES["fsd"][1]
    row0, col0 = mu.new_zeros(2, 1, 5), mu.new_zeros(2, 1, 4)
    args = (dp.FSD, dp.Semiring(10.0), (mu, g, h), row0, col0, LENGTHS)
    numba = dp.grid_dp(*args, "numba")
    torch.testing.assert_close(dp.grid_dp(*args), numba, rtol=0, atol=0)  # auto: numba on CPU

    def no_wavefront(*a, **k):
        raise AssertionError("the wavefront ran for backend='numba'")

    monkeypatch.setattr(engine.wavefront, "forward", no_wavefront)
    torch.testing.assert_close(dp.grid_dp(*args, "numba"), numba, rtol=0, atol=0)
    torch.testing.assert_close(dp.grid_dp(*args), numba, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32, torch.float16])
def test_numba_returns_the_input_dtype(dtype):
    """Computed in float64 from the input's values, returned in the input's dtype (bfloat16 has
    no numpy dtype: it goes through float64 both ways)."""
    mu, g, h = (t.to(dtype) for t in CASES["fsd"][1])
    value, grads = _value_and_grads(
        lambda *w: dp.fsd(*w, gamma=10.0, lengths=LENGTHS, backend="numba"), [mu, g, h])
    ref_value, ref_grads = _value_and_grads(
        lambda *w: dp.fsd(*w, gamma=10.0, lengths=LENGTHS, backend="numba"),
        [t.to(F64) for t in (mu, g, h)])
    assert value.dtype == dtype and all(x.dtype == dtype for x in grads)
    torch.testing.assert_close(value, ref_value.to(dtype), rtol=0, atol=0)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b.to(dtype), rtol=0, atol=0)
    row0, col0 = torch.zeros(2, 1, 5, dtype=dtype), torch.zeros(2, 1, 4, dtype=dtype)
    v, gw = dp.grid_dp_gradients(dp.FSD, dp.Semiring(10.0), (mu, g, h), row0, col0, LENGTHS,
                                 "numba")
    assert v.dtype == dtype and all(x.dtype == dtype for x in gw)


# Recursions that share weight tensors: one state whose local score and diagonal edge read the
# same tensor while two edges read another; two states with the same local score. The backward
# pass must add up every use of a weight (no shipped recursion shares a tensor that way).
SHARED = {
    "edges": dp.Recursion("edges", ("a",), (dp.Edge(0, 0, 1, 1, weight=0),
                                             dp.Edge(0, 0, 1, 0, weight=1),
                                             dp.Edge(0, 0, 0, 1, weight=1)), (0,), 2, 0),
    "locals": dp.Recursion("locals", ("a", "b"), (dp.Edge(0, 0, 1, 1), dp.Edge(0, 1, 1, 1),
                                                   dp.Edge(1, 0, 0, 0), dp.Edge(1, 1, 1, 0)),
                           (0, 0), 1, 1),
}


@pytest.mark.parametrize("name", sorted(SHARED))
@pytest.mark.parametrize("beta", [float("inf"), 2.0])
def test_backends_agree_where_weights_are_shared(name, beta):
    rec = SHARED[name]
    w = (_rand(2, 3, 4, seed=7), _rand(2, 3, 4, seed=8))[:rec.n_weights]
    s = len(rec.states)
    row0, col0 = w[0].new_zeros(2, s, 5), w[0].new_zeros(2, s, 4)
    semiring = dp.Semiring(beta)
    results = {b: dp.grid_dp_gradients(rec, semiring, w, row0, col0, LENGTHS, b)
               for b in ("numba", "wavefront")}
    (v_n, g_n), (v_w, g_w) = results["numba"], results["wavefront"]
    torch.testing.assert_close(v_w, v_n, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_w, g_n, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # some cell's weight 0 is used twice on a path: its gradient exceeds one use's
    assert g_n[0].max() > 1.0


def test_auto_on_cpu_falls_back_to_the_wavefront_without_numba(monkeypatch):
    """``"auto"`` picks numba on the CPU only where numba imports (``None`` in sys.modules makes
    ``import numba`` raise ImportError, as on an install without it)."""
    monkeypatch.setitem(sys.modules, "numba", None)
    assert engine._numba_available() is False
    assert engine.resolve_backend("auto", torch.device("cpu")) == "wavefront"
    assert engine.resolve_backend("numba", torch.device("cpu")) == "numba"  # asked for: kept


def test_numba_rounds_the_boundary_gradients_once():
    """The numba backend's gradients w.r.t. ``row0`` and ``col0`` are its float64 adjoints rounded
    once to float16. FSD on one cell with zero boundaries: ``V = smax(row0[0], g + row0[1],
    h + col0[1])`` (beta = 1), so the gradients are ``softmax(0, g, h)``. For these ``(g, h)``
    the diagonal weight of pair 0 and the ``h`` weight of pair 1 lie just below a float16
    rounding midpoint: a float64 -> float32 -> float16 cast (PyTorch's) lands on the midpoint and
    rounds it up, one rounding (numpy's) keeps the lower neighbour."""
    g = torch.tensor([-3.921875, -3.609375], dtype=torch.float16).view(2, 1, 1)
    h = torch.tensor([2.1875, 1.0625], dtype=torch.float16).view(2, 1, 1)
    row0 = torch.zeros(2, 1, 2, dtype=torch.float16, requires_grad=True)
    col0 = torch.zeros(2, 1, 2, dtype=torch.float16, requires_grad=True)
    value = dp.grid_dp(dp.FSD, dp.Semiring(1.0), (torch.zeros_like(g), g, h), row0, col0,
                       torch.ones(2, 2, dtype=torch.int64), "numba")
    g_row0, g_col0 = torch.autograd.grad(value.sum(), [row0, col0])
    z = np.exp(np.array([[0.0, -3.921875, 2.1875], [0.0, -3.609375, 1.0625]]))
    p = (z / z.sum(1, keepdims=True)).astype(np.float16)  # hand softmax, rounded once
    assert g_row0.dtype == g_col0.dtype == torch.float16
    assert g_row0[:, 0].tolist() == p[:, :2].tolist()
    assert g_col0[:, 0].tolist() == [[0.0, p[0, 2]], [0.0, p[1, 2]]]


def test_backends_agree_on_an_infinite_upstream_gradient():
    """With the smooth semiring every cell is on some path with probability > 0: an infinite
    upstream gradient makes every reachable cell's gradient inf, never NaN, in both backends (the
    wavefront's backward touches only grid cells: a column-0 cell's adjoint times a 0 weight
    would be NaN)."""
    weights = [_rand(1, 3, 2, seed=k) for k in range(3)]
    grads = {}
    for backend in ("numba", "wavefront"):
        leaves = [t.clone().requires_grad_() for t in weights]
        row0 = torch.zeros(1, 1, 3, dtype=F64, requires_grad=True)
        col0 = torch.zeros(1, 1, 4, dtype=F64, requires_grad=True)
        value = dp.grid_dp(dp.FSD, dp.Semiring(2.0), leaves, row0, col0,
                           torch.tensor([[3, 2]]), backend)
        grads[backend] = torch.autograd.grad(value, [*leaves, row0, col0],
                                             torch.full((1,), float("inf"), dtype=F64))
    for a, b in zip(grads["wavefront"], grads["numba"], strict=True):
        assert not a.isnan().any()
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert grads["numba"][-1].tolist() == [[[0.0, float("inf"), float("inf"), float("inf")]]]
