"""The documented defaults of every ftcl.dp function (gamma, tau, smoothing, backend), and the
backend a caller names reaching the engine (a name it does not know is refused)."""

from __future__ import annotations

import pytest
import torch

from ftcl import dp

F64 = torch.float64


def _rand(*shape, seed=0, low=-1.0, high=1.0):
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(*shape, generator=gen, dtype=F64)


MU, G, H = (_rand(2, 3, 4, seed=k) for k in range(3))
C = _rand(2, 3, 4, seed=3, low=0.85, high=1.0)  # around the default tau 0.92
COST = _rand(2, 3, 4, seed=4, low=0.0, high=2.0)
DROP_X, DROP_Z = _rand(2, 3, seed=5, low=0.2, high=1.5), _rand(2, 4, seed=6, low=0.2, high=1.5)

# name -> (call with defaults, call with the documented defaults spelt out, the same with
# another value, to show the comparison can tell them apart)
CALLS = {
    "fsd": (lambda: dp.fsd(MU, G, H), lambda: dp.fsd(MU, G, H, 10.0, backend="numba"),
            lambda: dp.fsd(MU, G, H, 11.0)),
    "fsd_alignment": (lambda: dp.fsd_alignment(MU, G, H),
                      lambda: dp.fsd_alignment(MU, G, H, 10.0, backend="numba"),
                      lambda: dp.fsd_alignment(MU, G, H, 1.0)),
    "lcs": (lambda: dp.lcs(C), lambda: dp.lcs(C, 0.92, gamma=None, backend="numba"),
            lambda: dp.lcs(C, 0.95)),
    "lcs_path": (lambda: dp.lcs_path(C), lambda: dp.lcs_path(C, 0.92, backend="numba"),
                 lambda: dp.lcs_path(C, 0.99)),
    "soft_dtw": (lambda: dp.soft_dtw(COST),
                 lambda: dp.soft_dtw(COST, 0.1, smoothing="logsumexp", backend="numba"),
                 lambda: dp.soft_dtw(COST, 1.1)),
    "soft_dtw_alignment": (lambda: dp.soft_dtw_alignment(COST),
                           lambda: dp.soft_dtw_alignment(COST, 0.1, smoothing="logsumexp",
                                                         backend="numba"),
                           lambda: dp.soft_dtw_alignment(COST, 1.1)),
    "drop_dtw": (lambda: dp.drop_dtw(COST, DROP_X, DROP_Z),
                 lambda: dp.drop_dtw(COST, DROP_X, DROP_Z, 0.1, smoothing="logsumexp",
                                     backend="numba"),
                 lambda: dp.drop_dtw(COST, DROP_X, DROP_Z, 1.1)),
    "drop_dtw_alignment": (lambda: dp.drop_dtw_alignment(COST, DROP_X, DROP_Z),
                           lambda: dp.drop_dtw_alignment(COST, DROP_X, DROP_Z, 0.1,
                                                         smoothing="logsumexp", backend="numba"),
                           lambda: dp.drop_dtw_alignment(COST, DROP_X, DROP_Z, 1.1)),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_documented_defaults(name):
    default, spelt_out, other = CALLS[name]
    torch.testing.assert_close(default(), spelt_out(), rtol=0, atol=0)
    got, changed = default(), other()
    if isinstance(got, torch.Tensor):
        assert not torch.allclose(got, changed)
    else:  # lcs_path: the matched cells of each pair
        assert got != changed


BACKEND_CALLS = {
    "fsd": lambda b: dp.fsd(MU, G, H, backend=b),
    "fsd_alignment": lambda b: dp.fsd_alignment(MU, G, H, backend=b),
    "lcs": lambda b: dp.lcs(C, backend=b),
    "lcs_path": lambda b: dp.lcs_path(C, backend=b),
    "soft_dtw": lambda b: dp.soft_dtw(COST, backend=b),
    "soft_dtw_alignment": lambda b: dp.soft_dtw_alignment(COST, backend=b),
    "drop_dtw": lambda b: dp.drop_dtw(COST, DROP_X, DROP_Z, backend=b),
    "drop_dtw_alignment": lambda b: dp.drop_dtw_alignment(COST, DROP_X, DROP_Z, backend=b),
}


@pytest.mark.parametrize("name", sorted(BACKEND_CALLS))
def test_the_named_backend_reaches_the_engine(name):
    call = BACKEND_CALLS[name]
    with pytest.raises(ValueError, match=r"^backend must be one of \('auto', 'numba', "
                                         r"'wavefront', 'cuda'\), got 'numpy'$"):
        call("numpy")
    torch.testing.assert_close(call("wavefront"), call("auto"), rtol=1e-12, atol=1e-12)
