"""The semiring sums and their weights (ftcl.dp.semiring) against values computed by hand, with
rows of only -inf candidates (a cell no path reaches) next to ordinary rows."""

from __future__ import annotations

import math

import pytest
import torch

from ftcl.dp import Semiring

INF = math.inf
# row 0: no finite candidate; row 1: two finite ones, the middle one -inf
X = torch.tensor([[-INF, -INF, -INF], [0.5, -INF, 1.0]], dtype=torch.float64)


def test_hard_max_and_its_one_hot_weights():
    value, weights = Semiring().sum_and_weights(X, 1)
    assert value.tolist() == [-INF, 1.0]
    assert weights.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_hard_max_takes_the_first_of_tied_candidates():
    value, weights = Semiring().sum_and_weights(torch.tensor([[2.0, 2.0, 1.0]]), 1)
    assert value.tolist() == [2.0] and weights.tolist() == [[1.0, 0.0, 0.0]]


def test_log_sum_exp_and_its_softmax_weights():
    beta = 2.0
    value, weights = Semiring(beta).sum_and_weights(X, 1)
    lse = math.log(math.exp(beta * 0.5) + math.exp(beta * 1.0))
    assert value[0].item() == -INF
    assert value[1].item() == pytest.approx(lse / beta, abs=1e-15)
    p = [math.exp(beta * 0.5 - lse), 0.0, math.exp(beta * 1.0 - lse)]
    assert weights[0].tolist() == [0.0, 0.0, 0.0]  # no candidate: no weight (not NaN)
    assert weights[1].tolist() == pytest.approx(p, abs=1e-15)


def test_softmax_weighted_mean_and_its_derivative():
    beta = 2.0
    value, weights = Semiring(beta, weighted=True).sum_and_weights(X, 1)
    e = [math.exp(beta * 0.5), math.exp(beta * 1.0)]
    p = [e[0] / sum(e), e[1] / sum(e)]
    mean = p[0] * 0.5 + p[1] * 1.0
    assert value[0].item() == -INF  # no candidate: -inf, as the log-sum-exp
    assert value[1].item() == pytest.approx(mean, abs=1e-15)
    slope = [p[0] * (1 + beta * (0.5 - mean)), 0.0, p[1] * (1 + beta * (1.0 - mean))]
    assert weights[0].tolist() == [0.0, 0.0, 0.0]
    assert weights[1].tolist() == pytest.approx(slope, abs=1e-15)


def test_sums_over_the_first_dimension():
    """``dim`` is honoured: the columns of X.T are the rows of X."""
    for semiring in (Semiring(), Semiring(2.0), Semiring(2.0, weighted=True)):
        value, weights = semiring.sum_and_weights(X.T, 0)
        value_rows, weights_rows = semiring.sum_and_weights(X, 1)
        assert value.tolist() == value_rows.tolist()
        assert weights.T.tolist() == weights_rows.tolist()
        assert semiring.sum(X.T, 0).tolist() == value_rows.tolist()


@pytest.mark.parametrize("beta", [0.0, -0.0, -1.0, -INF, math.nan])
def test_beta_must_be_positive(beta):
    """0 is refused as well as the negatives and NaN; the message shows the value given."""
    with pytest.raises(ValueError) as info:
        Semiring(beta)
    assert str(info.value) == f"beta must be > 0 (inf for the hard max), got {beta!r}"


def test_the_smallest_positive_beta_is_accepted():
    assert Semiring(5e-324).beta == 5e-324 and not Semiring(5e-324).hard
