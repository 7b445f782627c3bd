"""A recursion spec and the LCS threshold are checked at every edge of their ranges, each
refusal with its message (ftcl.dp.recursion, ftcl.dp.structures)."""

from __future__ import annotations

import pytest
import torch

from ftcl import dp
from ftcl.dp import Edge, Recursion

OK = Edge(0, 0, 1, 1)


def test_a_valid_one_state_recursion():
    Recursion("r", ("a",), (OK,), (-1,), 0, 0)
    Recursion("r", ("a",), (Edge(0, 0, 1, 1, weight=1),), (0,), 2, 0)  # weight n_weights - 1


@pytest.mark.parametrize("local, final", [((-1, -1), 0), ((-1,), 1), ((-1,), -1)])
def test_local_and_final_must_match_the_states(local, final):
    with pytest.raises(ValueError, match=r"^r: local/final do not match the 1 states$"):
        Recursion("r", ("a",), (OK,), local, 0, final)


@pytest.mark.parametrize("edge", [Edge(0, 0, 2, 1), Edge(0, 0, 1, 2), Edge(0, 0, -1, 0),
                                  Edge(0, 1, 1, 1), Edge(0, -1, 1, 1)])
def test_edges_must_step_by_0_or_1_from_a_state(edge):
    with pytest.raises(ValueError, match=rf"^r: bad edge {edge}$".replace("(", r"\(")
                       .replace(")", r"\)")):
        Recursion("r", ("a",), (edge,), (-1,), 0, 0)


def test_an_edge_weight_needs_its_tensor():
    with pytest.raises(ValueError, match=r"^r: edge .* has no weight tensor$"):
        Recursion("r", ("a",), (Edge(0, 0, 1, 1, weight=1),), (-1,), 1, 0)


@pytest.mark.parametrize("tau", [True, "0.5", float("nan"), float("inf"), None])
def test_tau_must_be_a_finite_number(tau):
    c = torch.rand(1, 2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^tau must be a finite number, got "):
        dp.lcs(c, tau=tau)


def test_gradients_default_to_the_auto_backend():
    mu = torch.rand(1, 2, 3, dtype=torch.float64)
    lens = torch.tensor([[2, 3]])
    zeros = mu.new_zeros(1, 1, 4), mu.new_zeros(1, 1, 3)
    semiring = dp.Semiring(1.0)
    value, grads = dp.grid_dp_gradients(dp.FSD, semiring, (mu, mu, mu), *zeros, lens)
    same, same_grads = dp.grid_dp_gradients(dp.FSD, semiring, (mu, mu, mu), *zeros, lens,
                                            "numba")
    torch.testing.assert_close(value, same)
    torch.testing.assert_close(grads, same_grads)


def _grid(low=0.0, high=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(2, 3, 4, generator=gen, dtype=torch.float64)


def _nan_at(x):
    x = x.clone()
    x[1, 2, 3] = float("nan")
    return x


# each structure names the argument at fault, whichever one it is (full messages)
NAMED = [
    (lambda: dp.fsd(_grid(), _grid(), _nan_at(_grid())), "h contains NaN or inf (in its valid "
                                                           "cells)"),
    (lambda: dp.lcs(_nan_at(_grid())), "c contains NaN or inf (in its valid cells)"),
    (lambda: dp.lcs(_grid().numpy()), "c must be a torch.Tensor, got ndarray"),
    (lambda: dp.soft_dtw(_nan_at(_grid())), "cost contains NaN or inf (in its valid cells)"),
    (lambda: dp.soft_dtw(_grid()[0]), "cost must have shape [B, M, N], got (3, 4)"),
    (lambda: dp.drop_dtw(_nan_at(_grid()), _grid()[:, :, 0], _grid()[:, 0, :]),
     "cost contains NaN or inf (in its valid cells)"),
    (lambda: dp.drop_dtw(_grid(), _grid()[:, :, 0], _nan_at(_grid())[:, 2, :]),
     "drop_z contains NaN or inf (in its valid cells)"),
    (lambda: dp.drop_dtw(_grid()[0], _grid()[:, :, 0], _grid()[:, 0, :]),
     "cost must have shape [B, M, N], got (3, 4)"),
    (lambda: dp.drop_dtw(_grid(), [0.5] * 3, _grid()[:, 0, :]),
     "drop_x must be a torch.Tensor, got list"),
    (lambda: dp.drop_dtw(_grid(), _grid()[:, :, 0], (0.5,) * 4),
     "drop_z must be a torch.Tensor, got tuple"),
    (lambda: dp.soft_dtw(_grid(), gamma=float("inf")),
     "gamma must be a finite temperature > 0 (None for hard DTW), got inf"),
    (lambda: dp.drop_dtw(_grid(), _grid()[:, :, 0], _grid()[:, 0, :], float("inf")),
     "gamma must be a finite temperature > 0 (None for hard DTW), got inf"),
]


@pytest.mark.parametrize("k", range(len(NAMED)))
def test_messages_name_the_argument(k):
    call, message = NAMED[k]
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message
