"""Edges of ftcl.dp's ``lengths``: padding on columns only or rows only, lengths at and beyond
the grid's size, their dtype. Values against the per-cell reference on the unpadded grids; the
cleaned grids and masks of ``_prepare_grids`` cell by cell against loops written here."""

from __future__ import annotations

import math

import pytest
import torch

from ftcl import dp
from ftcl.dp import reference as ref
from ftcl.dp.structures import _prepare_grids

F64 = torch.float64
M, N = 4, 5


def _rand(*shape, seed=0, low=-1.0, high=1.0):
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(*shape, generator=gen, dtype=F64)


def _structures():
    """name -> (call(grids, vectors, lengths), reference(grid pieces, vector pieces), inputs)"""
    return {
        "fsd": (lambda g, v, lens: dp.fsd(*g, gamma=10.0, lengths=lens),
                lambda g, v: ref.fsd_reference(*g, gamma=10.0),
                ([_rand(2, M, N, seed=k) for k in range(3)], [])),
        "lcs": (lambda g, v, lens: dp.lcs(g[0], tau=0.5, lengths=lens),
                lambda g, v: ref.lcs_reference(g[0], tau=0.5),
                ([_rand(2, M, N, seed=3, low=0.0)], [])),
        "soft_dtw": (lambda g, v, lens: dp.soft_dtw(g[0], gamma=0.5, lengths=lens),
                     lambda g, v: ref.soft_dtw_reference(g[0], gamma=0.5),
                     ([_rand(2, M, N, seed=4, low=0.0, high=2.0)], [])),
        "drop_dtw": (lambda g, v, lens: dp.drop_dtw(g[0], *v, gamma=0.5, lengths=lens),
                     lambda g, v: ref.drop_dtw_reference(g[0], *v, gamma=0.5),
                     ([_rand(2, M, N, seed=5, low=0.0, high=2.0)],
                      [_rand(2, M, seed=6, low=0.2, high=1.5),
                       _rand(2, N, seed=7, low=0.2, high=1.5)])),
    }


def _poison(grids, vectors, lengths):
    """Copies with NaN in every padded cell (padding may hold anything)."""
    grids = [g.clone() for g in grids]
    vectors = [v.clone() for v in vectors]
    for b, (mb, nb) in enumerate(lengths.tolist()):
        for g in grids:
            g[b, mb:, :] = math.nan
            g[b, :, nb:] = math.nan
        if vectors:
            vectors[0][b, mb:] = math.nan
            vectors[1][b, nb:] = math.nan
    return grids, vectors


@pytest.mark.parametrize("structure", ["fsd", "lcs", "soft_dtw", "drop_dtw"])
@pytest.mark.parametrize("lengths", [
    [[M, N - 2], [M, N]],   # columns only (every row valid)
    [[M - 1, N], [M, N]],   # rows only
    [[M, 1], [1, N]],       # one column; one row
])
def test_padding_on_one_axis_only_is_ignored(structure, lengths):
    call, reference, (grids, vectors) = _structures()[structure]
    lens = torch.tensor(lengths)
    bad_grids, bad_vectors = _poison(grids, vectors, lens)
    got = call(bad_grids, bad_vectors, lens)
    assert torch.isfinite(got).all()
    for b, (mb, nb) in enumerate(lengths):
        want = reference([g[b, :mb, :nb] for g in grids],
                         [v[b, :k] for v, k in zip(vectors, (mb, nb), strict=False)])
        torch.testing.assert_close(got[b], want, rtol=0, atol=1e-12)


def test_lengths_at_the_grid_size_equal_no_lengths():
    mu, g, h = (_rand(2, M, N, seed=k) for k in range(3))
    full = torch.tensor([[M, N], [M, N]])
    torch.testing.assert_close(dp.fsd(mu, g, h, lengths=full), dp.fsd(mu, g, h), rtol=0, atol=0)
    one = torch.tensor([[1, 1], [1, 1]])
    torch.testing.assert_close(dp.fsd(mu, g, h, lengths=one),
                               torch.stack([ref.fsd_reference(mu[b, :1, :1], g[b, :1, :1],
                                                              h[b, :1, :1]) for b in range(2)]))


@pytest.mark.parametrize("lengths, bad", [
    ([[M + 1, N], [M, N]], 0),   # M_b > M
    ([[M, N], [M, N + 1]], 1),   # N_b > N
    ([[M, N], [0, N]], 1),
    ([[M, 0], [M, N]], 0),
    ([[-1, N], [M, N]], 0),
])
def test_lengths_beyond_the_grid_are_refused(lengths, bad):
    mu, g, h = (_rand(2, M, N, seed=k) for k in range(3))
    message = (rf"^lengths\[{bad}\] = \[{lengths[bad][0]}, {lengths[bad][1]}\] is outside "
               rf"\[1, {M}\] x \[1, {N}\] \(empty sequences are not allowed\)$")
    with pytest.raises(ValueError, match=message):
        dp.fsd(mu, g, h, lengths=torch.tensor(lengths))


def test_nan_in_a_valid_cell_of_a_column_padded_grid_is_refused():
    mu, g, h = (_rand(2, M, N, seed=k) for k in range(3))
    mu[0, 0, 0] = math.nan
    with pytest.raises(ValueError, match=r"^mu contains NaN or inf \(in its valid cells\)$"):
        dp.fsd(mu, g, h, lengths=torch.tensor([[M, N - 1], [M, N]]))


@pytest.mark.parametrize("lengths", [
    torch.tensor([[True, True], [True, True]]),
    torch.tensor([[M + 0j, N + 0j], [M + 0j, N + 0j]]),
    torch.tensor([[float(M), float(N)], [1.0, 1.0]]),
], ids=["bool", "complex", "float"])
def test_lengths_must_be_integers(lengths):
    """Bool and complex are refused like float (their values would pass as 1 or as M, N)."""
    mu, g, h = (_rand(2, M, N, seed=k) for k in range(3))
    with pytest.raises(ValueError) as info:
        dp.fsd(mu, g, h, lengths=lengths)
    assert str(info.value) == f"lengths must be integers, got dtype {lengths.dtype}"


def test_narrow_integer_lengths_are_widened():
    """int8 lengths (1, 127): the wavefront reads the value at diagonal 1 + 127, past int8.

    Hard DTW on a 1 x 127 grid of unit costs: the only path visits every cell, cost 127."""
    cost = torch.ones(1, 1, 127, dtype=F64)
    lengths = torch.tensor([[1, 127]], dtype=torch.int8)
    got = dp.soft_dtw(cost, gamma=None, lengths=lengths, backend="wavefront")
    assert got.tolist() == [127.0]


def test_prepare_grids_zeroes_the_padding_cell_by_cell():
    """Ragged int32 lengths, NaN in every padded cell: the cleaned grids hold the valid cells
    and 0 elsewhere, the masks mark the valid rows / columns, the lengths come back int64."""
    lengths = torch.tensor([[M, N - 2], [M - 1, N], [1, 1]], dtype=torch.int32)
    grids = [_rand(3, M, N, seed=k) for k in range(2)]
    poisoned, _ = _poison(grids, [], lengths)
    (a, b), lens, rows, cols = _prepare_grids([("a", poisoned[0]), ("b", poisoned[1])], lengths)
    assert (lens.dtype, lens.device, lens.tolist()) == (
        torch.int64, torch.device("cpu"), lengths.tolist())
    for k, (mb, nb) in enumerate(lengths.tolist()):
        assert rows[k].tolist() == [i < mb for i in range(M)]
        assert cols[k].tolist() == [j < nb for j in range(N)]
        for got, grid in ((a, grids[0]), (b, grids[1])):
            for i in range(M):
                for j in range(N):
                    want = grid[k, i, j].item() if i < mb and j < nb else 0.0
                    assert got[k, i, j].item() == want


@pytest.mark.parametrize("lengths", [None, [[M, N], [M, N]]], ids=["none", "full"])
def test_prepare_grids_leaves_unpadded_grids_alone(lengths):
    """No padded cell (no lengths, or every length at the grid size): no masks, no copies."""
    mu, g = _rand(2, M, N, seed=0), _rand(2, M, N, seed=1)
    lengths = None if lengths is None else torch.tensor(lengths)
    (got_mu, got_g), lens, rows, cols = _prepare_grids([("mu", mu), ("g", g)], lengths)
    assert got_mu is mu and got_g is g
    assert rows is None and cols is None
    assert (lens.dtype, lens.tolist()) == (torch.int64, [[M, N], [M, N]])
