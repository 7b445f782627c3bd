"""The wavefront backend and the masks keep every tensor on the inputs' device.

No GPU is needed to see a tensor made on the wrong device: PyTorch's ``meta`` device (shapes and
dtypes, no data) is a second device on any machine, and mixing it with CPU tensors fails (a CPU
table cannot take meta values, a CPU mask cannot be compared with meta lengths). So the whole
wavefront (forward and backward, one-state and three-state recursions) and the valid-cell masks
run on meta tensors here, and everything they return must be meta tensors of the right shape and
dtype. (Index tensors are exempt: PyTorch indexes a tensor on any device with CPU indices, on a
GPU at the cost of a copy.)
"""

from __future__ import annotations

import pytest
import torch
from torch.overrides import TorchFunctionMode

from ftcl import dp
from ftcl.dp.structures import _prepare_grids, _valid_mask

META = torch.device("meta")


class _DevicesMade(TorchFunctionMode):
    """Records the device of every tensor a torch function returns while it is active."""

    def __init__(self):
        super().__init__()
        self.types: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for x in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(x, torch.Tensor):
                self.types.add(x.device.type)
        return out


def _inputs(rec, dtype):
    b, m, n = 2, 3, 4
    weights = [torch.empty(b, m, n, dtype=dtype, device=META).requires_grad_()
               for _ in range(rec.n_weights)]
    s = len(rec.states)
    row0 = torch.empty(b, s, n + 1, dtype=dtype, device=META).requires_grad_()
    col0 = torch.empty(b, s, m + 1, dtype=dtype, device=META).requires_grad_()
    lengths = torch.tensor([[3, 4], [2, 3]], device=META)
    return weights, row0, col0, lengths


@pytest.mark.parametrize("rec", [dp.FSD, dp.DROP_DTW], ids=lambda r: r.name)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_wavefront_stays_on_the_inputs_device(rec, dtype):
    weights, row0, col0, lengths = _inputs(rec, dtype)
    value = dp.grid_dp(rec, dp.Semiring(10.0), weights, row0, col0, lengths, "wavefront")
    assert (value.device, value.shape, value.dtype) == (META, (2,), dtype)
    grads = torch.autograd.grad(value.sum(), [*weights, row0, col0])
    for x, g in zip([*weights, row0, col0], grads, strict=True):
        assert (g.device, g.shape, g.dtype) == (META, x.shape, dtype)
    value, g_w = dp.grid_dp_gradients(rec, dp.Semiring(), weights, row0, col0, lengths,
                                      "wavefront")
    assert value.device == META and [g.device for g in g_w] == [META] * rec.n_weights
    assert [g.shape for g in g_w] == [(2, 3, 4)] * rec.n_weights


def test_auto_picks_the_wavefront_for_other_devices():
    weights, row0, col0, lengths = _inputs(dp.FSD, torch.float64)
    value = dp.grid_dp(dp.FSD, dp.Semiring(), weights, row0, col0, lengths)
    assert value.device == META


def test_valid_masks_on_the_inputs_device():
    rows, cols = _valid_mask(torch.tensor([[2, 3], [1, 4]]), 3, 4, META)
    assert (rows.device, rows.shape, rows.dtype) == (META, (2, 3), torch.bool)
    assert (cols.device, cols.shape, cols.dtype) == (META, (2, 4), torch.bool)
    rows, cols = _valid_mask(torch.tensor([[2, 3], [1, 4]]), 3, 4, torch.device("cpu"))
    assert rows.tolist() == [[True, True, False], [True, False, False]]
    assert cols.tolist() == [[True, True, True, False], [True, True, True, True]]


def test_prepare_grids_masks_on_the_grids_device():
    """CPU lengths, meta grids: the masks and the cleaned grid are meta tensors."""
    grid = torch.empty(2, 3, 4, device=META)
    (cleaned,), lens, rows, cols = _prepare_grids([("c", grid)], torch.tensor([[2, 4], [3, 1]]))
    assert (cleaned.device, cleaned.shape) == (META, (2, 3, 4))
    assert (rows.device, rows.shape, cols.device, cols.shape) == (META, (2, 3), META, (2, 4))
    assert lens.device == torch.device("cpu")


@pytest.mark.parametrize("rec", [dp.FSD, dp.DROP_DTW], ids=lambda r: r.name)
def test_wavefront_makes_its_tensors_on_the_inputs_device_not_the_default_one(rec):
    """CPU inputs under another default device (``meta``): every tensor the wavefront makes,
    index tensors included, must still be a CPU tensor (no torch call returns a meta tensor), so
    values and gradients come out on the CPU and equal the numba backend's (computed outside the
    context). (A CPU tensor indexed with meta indices does not fail: it reads whatever memory it
    finds, hence the record of every tensor made, not only the values.)"""
    gen = torch.Generator().manual_seed(3)
    b, m, n, s = 2, 3, 4, len(rec.states)
    weights = [torch.randn(b, m, n, generator=gen, dtype=torch.float64).requires_grad_()
               for _ in range(rec.n_weights)]
    row0 = torch.randn(b, s, n + 1, generator=gen, dtype=torch.float64).requires_grad_()
    col0 = torch.randn(b, s, m + 1, generator=gen, dtype=torch.float64).requires_grad_()
    lengths = torch.tensor([[3, 4], [2, 3]])

    def run(backend):
        value = dp.grid_dp(rec, dp.Semiring(10.0), weights, row0, col0, lengths, backend)
        grads = torch.autograd.grad(value.sum(), [*weights, row0, col0])
        hard, g_hard = dp.grid_dp_gradients(rec, dp.Semiring(), weights, row0, col0, lengths,
                                            backend)
        return [value, *grads, hard, *g_hard]

    want = run("numba")
    with torch.device(META), _DevicesMade() as made:
        got = run("wavefront")
    assert made.types == {"cpu"}
    assert [g.device.type for g in got] == ["cpu"] * len(want)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
