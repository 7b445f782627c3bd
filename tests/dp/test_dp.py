"""ftcl.dp against independent references: per-cell loops, path enumeration, classic LCS.

Every CPU backend is checked (the wavefront backend is the CUDA fallback, so it is exercised
here on CPU); a CUDA-vs-CPU agreement test runs when a GPU is present. The fused GPU kernels are
checked in tests/test_dp_gpu_kernel.py (numba's CUDA simulator without a GPU).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ftcl import dp
from ftcl.dp import reference as ref
from ftcl.dp.engine import resolve_backend

BACKENDS = ["numba", "wavefront"]
F64 = torch.float64


def _rand(*shape, seed=0, low=-1.0, high=1.0, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(*shape, generator=gen)).to(dtype)


def _lengths_for(n_batch, m, n, seed=0):
    """Mixed lengths: the first pair full size, the others random in [1, M] x [1, N]."""
    gen = torch.Generator().manual_seed(seed)
    lens = torch.stack(
        [
            torch.randint(1, m + 1, (n_batch,), generator=gen),
            torch.randint(1, n + 1, (n_batch,), generator=gen),
        ],
        1,
    )
    lens[0] = torch.tensor([m, n])
    return lens


def _inputs(structure, n_batch, m, n, seed=0, dtype=F64):
    """Random inputs of ``structure`` as (tensors, vectors-for-reference, kwargs)."""
    if structure == "fsd":
        return [_rand(n_batch, m, n, seed=seed + k, dtype=dtype) for k in range(3)], []
    if structure == "lcs":
        c = _rand(n_batch, m, n, seed=seed, low=0.0, high=1.0, dtype=dtype)
        c = torch.where((c - 0.5).abs() < 1e-3, c + 0.01, c)  # stay away from the threshold
        return [c], []
    if structure.startswith("soft_dtw"):
        return [_rand(n_batch, m, n, seed=seed, low=0.0, high=2.0, dtype=dtype)], []
    cost = _rand(n_batch, m, n, seed=seed, low=0.0, high=2.0, dtype=dtype)
    drop_x = _rand(n_batch, m, seed=seed + 1, low=0.2, high=1.5, dtype=dtype)
    drop_z = _rand(n_batch, n, seed=seed + 2, low=0.2, high=1.5, dtype=dtype)
    return [cost], [drop_x, drop_z]


GAMMAS = {
    "fsd": [10.0, 1.0, None],
    "lcs": [None, 5.0],
    "soft_dtw": [0.1, 1.0, None],
    "drop_dtw": [0.1, 1.0, None],
}
CASES = [(s, gm) for s, gammas in GAMMAS.items() for gm in gammas]
# the softmax-weighted smooth min (Hadji et al.): per-cell reference only (no path form)
WEIGHTED = [("soft_dtw_w", 0.1), ("soft_dtw_w", 1.0), ("drop_dtw_w", 0.2), ("drop_dtw_w", 1.0)]


def _engine(structure, grids, vectors, gamma, lengths, backend):
    if structure == "fsd":
        return dp.fsd(*grids, gamma=gamma, lengths=lengths, backend=backend)
    if structure == "lcs":
        return dp.lcs(grids[0], tau=0.5, lengths=lengths, gamma=gamma, backend=backend)
    smoothing = "weighted" if structure.endswith("_w") else "logsumexp"
    kw = {"gamma": gamma, "lengths": lengths, "smoothing": smoothing, "backend": backend}
    if structure.startswith("soft_dtw"):
        return dp.soft_dtw(grids[0], **kw)
    return dp.drop_dtw(grids[0], *vectors, **kw)


def _reference(structure, grids, vectors, gamma, lengths, brute=False):
    vec = tuple(zip(vectors, (0, 1), strict=False))
    fns = {
        "fsd": (ref.fsd_reference, ref.fsd_brute_force, {}),
        "lcs": (ref.lcs_reference, ref.lcs_brute_force, {"tau": 0.5}),
        "soft_dtw": (ref.soft_dtw_reference, ref.soft_dtw_brute_force, {}),
        "drop_dtw": (ref.drop_dtw_reference, ref.drop_dtw_brute_force, {}),
        "soft_dtw_w": (ref.soft_dtw_reference, None, {"smoothing": "weighted"}),
        "drop_dtw_w": (ref.drop_dtw_reference, None, {"smoothing": "weighted"}),
    }
    loop, enum, kw = fns[structure]
    return ref.batched(
        enum if brute else loop, *grids, lengths=lengths, vectors=vec, gamma=gamma, **kw
    )


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("structure", "gamma"), CASES + WEIGHTED)
@pytest.mark.parametrize(
    ("shape", "mixed"),
    [((3, 4, 6), True), ((2, 7, 3), True), ((1, 1, 1), False), ((2, 5, 5), False)],
)
def test_values_and_gradients_match_per_cell_reference(structure, gamma, backend, shape, mixed):
    n_batch, m, n = shape
    grids, vectors = _inputs(structure, n_batch, m, n, seed=m * 10 + n)
    lengths = _lengths_for(n_batch, m, n, seed=n) if mixed else None
    leaves = [x.clone().requires_grad_() for x in grids + vectors]
    got = _engine(structure, leaves[: len(grids)], leaves[len(grids) :], gamma, lengths, backend)
    leaves_ref = [x.clone().requires_grad_() for x in grids + vectors]
    want = _reference(structure, leaves_ref[: len(grids)], leaves_ref[len(grids) :], gamma, lengths)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-9)
    weights = torch.linspace(0.5, 1.5, n_batch, dtype=F64)  # distinct per-pair upstream grads
    grads = torch.autograd.grad((got * weights).sum(), leaves)
    grads_ref = [None] * len(leaves_ref)
    if want.requires_grad:  # (not when no cell of a 1 x 1 LCS matches: a constant)
        grads_ref = torch.autograd.grad((want * weights).sum(), leaves_ref, allow_unused=True)
    for g_got, g_ref in zip(grads, grads_ref, strict=True):
        g_ref = torch.zeros_like(g_got) if g_ref is None else g_ref
        torch.testing.assert_close(g_got, g_ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("structure", "gamma"), CASES)
def test_reference_equals_brute_force_enumeration(structure, gamma):
    grids, vectors = _inputs(structure, 2, 3, 4, seed=3)
    loop = _reference(structure, grids, vectors, gamma, None)
    enum = _reference(structure, grids, vectors, gamma, None, brute=True)
    torch.testing.assert_close(loop, enum, rtol=0, atol=1e-12)
    engine = _engine(structure, grids, vectors, gamma, None, "auto")
    torch.testing.assert_close(engine, enum, rtol=0, atol=1e-12)


def test_hard_fsd_is_the_best_of_all_monotone_paths():
    mu, g, h = _inputs("fsd", 1, 3, 4, seed=11)[0]
    scores = [float(s) for s, _ in ref.fsd_path_scores(mu[0], g[0], h[0])]
    assert len(scores) == 129  # f(i,j) = f(i-1,j-1) + f(i-1,j) + f(i,j-1), f = 1 on the boundary
    for backend in BACKENDS:
        value = dp.fsd(mu, g, h, gamma=None, backend=backend)
        assert value.item() == pytest.approx(max(scores), abs=1e-12)
        soft = dp.fsd(mu, g, h, gamma=10.0, backend=backend)
        lse = torch.logsumexp(10.0 * torch.tensor(scores, dtype=F64), 0) / 10.0
        assert soft.item() == pytest.approx(lse.item(), abs=1e-12)


def test_monotone_path_counts():
    # DTW paths from (1,1) to (m,n) are counted by the Delannoy numbers D(m-1, n-1).
    assert sum(1 for _ in ref.monotone_paths(3, 3, "corner")) == 13
    assert sum(1 for _ in ref.monotone_paths(3, 4, "corner")) == 25
    assert sum(1 for _ in ref.monotone_paths(1, 1, "boundary")) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_inputs(backend):
    grids, _ = _inputs("fsd", 3, 6, 5, seed=2)
    g32 = [x.float().requires_grad_() for x in grids]
    v32 = dp.fsd(*g32, gamma=10.0, backend=backend)
    assert v32.dtype == torch.float32
    v32.sum().backward()
    assert all(x.grad.dtype == torch.float32 for x in g32)
    v64 = dp.fsd(*grids, gamma=10.0, backend=backend)
    torch.testing.assert_close(v32.double(), v64, rtol=1e-5, atol=1e-5)
    c = _inputs("lcs", 2, 5, 6, seed=4)[0][0]
    torch.testing.assert_close(
        dp.lcs(c.float(), 0.5, backend=backend).double(),
        dp.lcs(c, 0.5, backend=backend),
        rtol=1e-6,
        atol=1e-6,
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("structure", "gamma"),
    [("fsd", 10.0), ("lcs", 5.0), ("soft_dtw", 0.5), ("drop_dtw", 0.5), ("fsd", None)],
)
def test_padding_equals_unpadded(structure, gamma, backend):
    """Padded cells (here NaN) are ignored: values and gradients equal the unpadded ones."""
    sizes = [(4, 6), (2, 3), (5, 1)]
    m, n = 5, 7
    pieces = [_inputs(structure, 1, mb, nb, seed=k) for k, (mb, nb) in enumerate(sizes)]
    separate = []
    for grids, vectors in pieces:
        leaves = [x.clone().requires_grad_() for x in grids + vectors]
        v = _engine(structure, leaves[: len(grids)], leaves[len(grids) :], gamma, None, backend)
        separate.append((v, torch.autograd.grad(v.sum(), leaves)))
    n_grids = len(pieces[0][0])
    padded = []
    for slot in range(n_grids + len(pieces[0][1])):
        if slot < n_grids:
            full = torch.full((len(sizes), m, n), math.nan, dtype=F64)
            for b, (mb, nb) in enumerate(sizes):
                full[b, :mb, :nb] = pieces[b][0][slot][0]
        else:
            size = m if slot == n_grids else n
            full = torch.full((len(sizes), size), math.nan, dtype=F64)
            for b, (mb, nb) in enumerate(sizes):
                k = mb if slot == n_grids else nb
                full[b, :k] = pieces[b][1][slot - n_grids][0]
        padded.append(full.requires_grad_())
    lengths = torch.tensor(sizes)
    value = _engine(structure, padded[:n_grids], padded[n_grids:], gamma, lengths, backend)
    grads = torch.autograd.grad(value.sum(), padded)
    for b, (mb, nb) in enumerate(sizes):
        torch.testing.assert_close(value[b], separate[b][0][0], rtol=0, atol=1e-12)
        for slot, g in enumerate(grads):
            if g.dim() == 3:
                want = separate[b][1][slot][0]
                torch.testing.assert_close(g[b, :mb, :nb], want, rtol=0, atol=1e-12)
                assert g[b, mb:].abs().sum() == 0 and g[b, :, nb:].abs().sum() == 0
            else:
                k = mb if slot == n_grids else nb
                torch.testing.assert_close(g[b, :k], separate[b][1][slot][0], rtol=0, atol=1e-12)
                assert g[b, k:].abs().sum() == 0


# ----------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("structure", "gamma"),
    [
        ("fsd", 10.0),
        ("fsd", 2.0),
        ("lcs", 5.0),
        ("soft_dtw", 0.3),
        ("drop_dtw", 0.3),
        ("soft_dtw_w", 0.3),
        ("drop_dtw_w", 0.3),
    ],
)
def test_gradcheck(structure, gamma, backend):
    grids, vectors = _inputs(structure, 2, 3, 4, seed=7)
    lengths = torch.tensor([[3, 4], [2, 3]])
    leaves = tuple(x.clone().requires_grad_() for x in grids + vectors)

    def fn(*xs):
        return _engine(structure, xs[: len(grids)], xs[len(grids) :], gamma, lengths, backend)

    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- smooth max


def test_smooth_max_tends_to_max_and_matches_release_formula():
    x = _rand(4, 7, seed=5, low=-3, high=3)
    hard = x.amax(-1)
    torch.testing.assert_close(dp.smooth_max(x, None), hard)
    torch.testing.assert_close(dp.smooth_max(x, math.inf), hard)
    previous = None
    for gamma in [0.1, 1.0, 10.0, 100.0, 1e4]:
        s = dp.smooth_max(x, gamma)
        assert torch.all(s >= hard - 1e-12)
        assert torch.all(s <= hard + math.log(7) / gamma + 1e-12)
        if previous is not None:
            assert torch.all(s <= previous + 1e-12)  # decreases towards the max
        previous = s
    assert torch.allclose(dp.smooth_max(x, 1e4), hard, atol=1e-3)
    # the authors' code: temperature t = 0.1, t * logsumexp(x / t) == gamma = 10
    torch.testing.assert_close(dp.smooth_max(x, 10.0), 0.1 * torch.logsumexp(x / 0.1, -1))
    torch.testing.assert_close(dp.smooth_max(x, 2.0, dim=0), torch.logsumexp(2 * x, 0) / 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_soft_values_approach_hard_ones(backend):
    grids, _ = _inputs("fsd", 2, 4, 5, seed=9)
    hard = dp.fsd(*grids, gamma=None, backend=backend)
    for gamma in [1.0, 10.0, 1e3]:
        soft = dp.fsd(*grids, gamma=gamma, backend=backend)
        assert torch.all(soft >= hard - 1e-12)
    torch.testing.assert_close(dp.fsd(*grids, gamma=1e4, backend=backend), hard, atol=1e-2, rtol=0)
    cost = _inputs("soft_dtw", 2, 4, 5, seed=9)[0][0]
    dtw = dp.soft_dtw(cost, gamma=None, backend=backend)
    n_paths = sum(1 for _ in ref.monotone_paths(4, 5, "corner"))
    for gamma in [1.0, 0.1, 1e-3]:
        soft = dp.soft_dtw(cost, gamma=gamma, backend=backend)
        assert torch.all(soft <= dtw + 1e-12)  # softmin <= min
        assert torch.all(soft >= dtw - gamma * math.log(n_paths) - 1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_soft_dtw_of_zero_costs_is_negative(backend):
    # every path costs 0, so the soft-min is -gamma * log(#paths): 13 paths on a 3 x 3 grid
    value = dp.soft_dtw(torch.zeros(1, 3, 3, dtype=F64), gamma=0.5, backend=backend)
    assert value.item() == pytest.approx(-0.5 * math.log(13), abs=1e-12)
    # unequal lengths: finite
    assert torch.isfinite(dp.soft_dtw(torch.rand(2, 2, 9, dtype=F64), backend=backend)).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_weighted_smooth_min_bounds(backend):
    """The softmax-weighted soft-min averages: never below hard DTW, never negative."""
    cost = _inputs("soft_dtw", 3, 5, 4, seed=8)[0][0]
    dtw = dp.soft_dtw(cost, None, backend=backend)
    for gamma in [10.0, 1.0, 0.1]:
        weighted = dp.soft_dtw(cost, gamma, smoothing="weighted", backend=backend)
        assert torch.all(weighted >= dtw - 1e-12)
    torch.testing.assert_close(
        dp.soft_dtw(cost, 1e-3, smoothing="weighted", backend=backend), dtw, rtol=0, atol=1e-6
    )
    zero = dp.soft_dtw(torch.zeros(1, 3, 3, dtype=F64), 0.5, smoothing="weighted", backend=backend)
    assert zero.item() == 0.0  # a mean of zeros, where log-sum-exp gives -0.5 log(13)
    with pytest.raises(ValueError, match="smoothing must be one of"):
        dp.soft_dtw(cost, 0.1, smoothing="prob", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_drop_dtw_limits(backend):
    cost = _inputs("soft_dtw", 2, 4, 6, seed=12)[0][0]
    big_x, big_z = torch.full((2, 4), 1e3, dtype=F64), torch.full((2, 6), 1e3, dtype=F64)
    for gamma in [None, 0.5]:
        # prohibitive drops: Drop-DTW is DTW
        torch.testing.assert_close(
            dp.drop_dtw(cost, big_x, big_z, gamma, backend=backend),
            dp.soft_dtw(cost, gamma, backend=backend),
            rtol=0,
            atol=1e-9,
        )
    # free drops and positive costs: drop everything
    zero_x, zero_z = torch.zeros(2, 4, dtype=F64), torch.zeros(2, 6, dtype=F64)
    value = dp.drop_dtw(cost + 0.1, zero_x, zero_z, None, backend=backend)
    torch.testing.assert_close(value, torch.zeros(2, dtype=F64))
    assert dp.drop_dtw_alignment(cost + 0.1, zero_x, zero_z, None, backend=backend).sum() == 0
    # one outlier column, cheap to drop: the hard alignment leaves it empty
    c = _rand(1, 4, 5, seed=1, low=0.0, high=0.3)
    c[:, :, 2] = 5.0
    align = dp.drop_dtw_alignment(
        c,
        torch.full((1, 4), 2.0, dtype=F64),
        torch.full((1, 5), 0.5, dtype=F64),
        None,
        backend=backend,
    )
    assert align[0, :, 2].sum() == 0 and align[0].sum() >= 4


# ----------------------------------------------------------------------------- LCS known answers


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("a", "b", "length"),
    [("ABCBDAB", "BDCABA", 4), ("AGGTAB", "GXTXAYB", 4), ("ABC", "DEF", 0), ("A", "A", 1)],
)
def test_lcs_classic_known_answers(a, b, length, backend):
    c = ref.match_matrix(a, b).unsqueeze(0)
    assert ref.lcs_length(a, b) == length
    assert dp.lcs(c, tau=0.5, backend=backend).item() == length
    path = dp.lcs_path(c, tau=0.5, backend=backend)[0]
    assert len(path) == length
    assert all(a[i] == b[j] for i, j in path)
    assert all(i1 < i2 and j1 < j2 for (i1, j1), (i2, j2) in zip(path, path[1:], strict=False))


@settings(max_examples=40, deadline=None)
@given(st.text("ABCD", min_size=1, max_size=9), st.text("ABCD", min_size=1, max_size=9))
def test_lcs_equals_textbook_lcs_on_random_strings(a, b):
    c = ref.match_matrix(a, b).unsqueeze(0)
    assert dp.lcs(c, tau=0.5).item() == ref.lcs_length(a, b)
    path = dp.lcs_path(c, tau=0.5)[0]
    assert len(path) == ref.lcs_length(a, b) and all(a[i] == b[j] for i, j in path)


def test_lcs_strict_threshold_and_path_respects_lengths():
    c = torch.full((2, 3, 3), 0.92, dtype=F64)
    assert dp.lcs(c, tau=0.92).tolist() == [0.0, 0.0]  # c == tau does not match
    c = torch.eye(4, dtype=F64).expand(2, 4, 4).clone()
    lengths = torch.tensor([[4, 4], [2, 3]])
    paths = dp.lcs_path(c, tau=0.5, lengths=lengths)
    assert paths == [[(0, 0), (1, 1), (2, 2), (3, 3)], [(0, 0), (1, 1)]]
    torch.testing.assert_close(dp.lcs(c, 0.5, lengths=lengths), torch.tensor([4.0, 2.0], dtype=F64))


@pytest.mark.parametrize("backend", BACKENDS)
def test_hard_lcs_gradient_is_one_on_the_mined_matches(backend):
    c = _inputs("lcs", 2, 6, 7, seed=21)[0][0].requires_grad_()
    (grad,) = torch.autograd.grad(dp.lcs(c, 0.5, backend=backend).sum(), c)
    for b, path in enumerate(dp.lcs_path(c, 0.5, backend=backend)):
        mask = torch.zeros(6, 7, dtype=F64)
        for i, j in path:
            mask[i, j] = 1.0
        torch.testing.assert_close(grad[b], mask)
        assert dp.lcs(c, 0.5, backend=backend)[b].item() == pytest.approx(
            sum(c[b, i, j].item() for i, j in path)
        )


def test_backends_break_ties_identically():
    """Integer scores tie everywhere: both backends must pick the same optimal path."""
    gen = torch.Generator().manual_seed(3)
    mu, g, h = (torch.randint(-1, 2, (4, 6, 7), generator=gen).to(F64) for _ in range(3))
    paths = [dp.fsd_alignment(mu, g, h, None, backend=b) for b in BACKENDS]
    torch.testing.assert_close(paths[0], paths[1], rtol=0, atol=0)
    c = torch.randint(0, 2, (4, 6, 7), generator=gen).to(F64)
    assert dp.lcs_path(c, 0.5, backend="numba") == dp.lcs_path(c, 0.5, backend="wavefront")
    cost = torch.randint(0, 2, (4, 6, 7), generator=gen).to(F64)
    drops = torch.ones(4, 6, dtype=F64), torch.ones(4, 7, dtype=F64)
    paths = [dp.drop_dtw_alignment(cost, *drops, None, backend=b) for b in BACKENDS]
    torch.testing.assert_close(paths[0], paths[1], rtol=0, atol=0)


# ----------------------------------------------------------------------------- alignments


def _is_monotone_chain(cells, end, start_on_boundary):
    cells = sorted(cells)
    if cells[-1] != end:
        return False
    first = cells[0]
    if start_on_boundary and not (first[0] == 0 or first[1] == 0):
        return False
    if not start_on_boundary and first != (0, 0):
        return False
    return all(
        (i2 - i1, j2 - j1) in {(1, 1), (1, 0), (0, 1)}
        for (i1, j1), (i2, j2) in zip(cells, cells[1:], strict=False)
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_fsd_alignment(backend):
    mu, g, h = _inputs("fsd", 3, 4, 5, seed=13)[0]
    lengths = torch.tensor([[4, 5], [3, 5], [4, 2]])
    soft = dp.fsd_alignment(mu, g, h, 10.0, lengths, backend=backend)
    assert soft.shape == mu.shape and soft.min() >= 0 and soft.max() <= 1 + 1e-12
    leaves = mu.clone().requires_grad_()
    value = ref.batched(ref.fsd_reference, leaves, g, h, lengths=lengths, gamma=10.0)
    (want,) = torch.autograd.grad(value.sum(), leaves)
    torch.testing.assert_close(soft, want, rtol=0, atol=1e-9)
    hard = dp.fsd_alignment(mu, g, h, None, lengths, backend=backend)
    for b, (mb, nb) in enumerate(lengths.tolist()):
        assert soft[b, mb - 1, nb - 1].item() == pytest.approx(1.0)
        assert set(hard[b].unique().tolist()) <= {0.0, 1.0}
        cells = [tuple(x) for x in torch.nonzero(hard[b]).tolist()]
        assert _is_monotone_chain(cells, (mb - 1, nb - 1), start_on_boundary=True)
        best = ref.fsd_best_path(mu[b, :mb, :nb], g[b, :mb, :nb], h[b, :mb, :nb])
        torch.testing.assert_close(hard[b, :mb, :nb], best)
    # the hard-max gradient of fsd w.r.t. mu is the traceback path
    leaves = mu.clone().requires_grad_()
    (grad,) = torch.autograd.grad(
        dp.fsd(leaves, g, h, None, lengths, backend=backend).sum(), leaves
    )
    torch.testing.assert_close(grad, hard)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dtw_alignments(backend):
    cost = _inputs("soft_dtw", 2, 5, 4, seed=17)[0][0]
    lengths = torch.tensor([[5, 4], [3, 4]])
    soft = dp.soft_dtw_alignment(cost, 0.5, lengths, backend=backend)
    hard = dp.soft_dtw_alignment(cost, None, lengths, backend=backend)
    for b, (mb, nb) in enumerate(lengths.tolist()):
        a = soft[b, :mb, :nb]
        assert a.min() >= 0 and a.max() <= 1 + 1e-12
        assert a[0, 0].item() == pytest.approx(1) and a[-1, -1].item() == pytest.approx(1)
        assert torch.all(a.sum(1) >= 1 - 1e-9) and torch.all(a.sum(0) >= 1 - 1e-9)
        cells = [tuple(x) for x in torch.nonzero(hard[b]).tolist()]
        assert _is_monotone_chain(cells, (mb - 1, nb - 1), start_on_boundary=False)
    drop_x = _rand(2, 5, seed=1, low=0.3, high=1.0)
    drop_z = _rand(2, 4, seed=2, low=0.3, high=1.0)
    soft = dp.drop_dtw_alignment(cost, drop_x, drop_z, 0.5, lengths, backend=backend)
    assert soft.min() >= 0 and soft.max() <= 1 + 1e-12
    leaves = cost.clone().requires_grad_()
    (want,) = torch.autograd.grad(dp.drop_dtw(leaves, drop_x, drop_z, 0.5, lengths).sum(), leaves)
    torch.testing.assert_close(soft, want, rtol=0, atol=1e-12)
    hard = dp.drop_dtw_alignment(cost, drop_x, drop_z, None, lengths, backend=backend)
    assert set(hard.unique().tolist()) <= {0.0, 1.0}


# ----------------------------------------------------------------------------- property tests


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 10_000),
    st.sampled_from([None, 0.5, 10.0]),
)
def test_property_fsd_matches_enumeration(m, n, n_batch, seed, gamma):
    mu, g, h = _inputs("fsd", n_batch, m, n, seed=seed)[0]
    want = ref.batched(ref.fsd_brute_force, mu, g, h, gamma=gamma)
    for backend in BACKENDS:
        torch.testing.assert_close(
            dp.fsd(mu, g, h, gamma, backend=backend), want, rtol=0, atol=1e-10
        )


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 3), st.integers(1, 3), st.integers(0, 10_000), st.sampled_from([None, 0.2, 1.0])
)
def test_property_drop_dtw_matches_enumeration(m, n, seed, gamma):
    (cost,), (drop_x, drop_z) = _inputs("drop_dtw", 1, m, n, seed=seed)
    want = ref.batched(
        ref.drop_dtw_brute_force, cost, vectors=((drop_x, 0), (drop_z, 1)), gamma=gamma
    )
    for backend in BACKENDS:
        got = dp.drop_dtw(cost, drop_x, drop_z, gamma, backend=backend)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- bad input


def _good():
    return _inputs("fsd", 2, 3, 4)[0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda mu, g, h: dp.fsd(mu, g[:, :2], h), "g has shape"),
        (lambda mu, g, h: dp.fsd(mu, g, h[0]), "h must have shape"),
        (lambda mu, g, h: dp.fsd(mu[0], g[0], h[0]), "mu must have shape"),
        (lambda mu, g, h: dp.fsd(mu, g.float(), h), "g is torch.float32"),
        (lambda mu, g, h: dp.fsd(mu.long(), g, h), "mu must be a floating"),
        (lambda mu, g, h: dp.fsd(mu.numpy(), g, h), "mu must be a torch.Tensor"),
        (
            lambda mu, g, h: dp.fsd(mu.index_fill(1, torch.tensor([0]), math.nan), g, h),
            "mu contains NaN or inf",
        ),
        (
            lambda mu, g, h: dp.fsd(mu, g.index_fill(2, torch.tensor([1]), math.inf), h),
            "g contains NaN or inf",
        ),
        (lambda mu, g, h: dp.fsd(mu[:, :0], g[:, :0], h[:, :0]), "mu has an empty sequence"),
        (lambda mu, g, h: dp.fsd(mu[:0], g[:0], h[:0]), "empty batch"),
        (lambda mu, g, h: dp.fsd(mu, g, h, gamma=0.0), "gamma must be > 0"),
        (lambda mu, g, h: dp.fsd(mu, g, h, gamma=-1.0), "gamma must be > 0"),
        (lambda mu, g, h: dp.fsd(mu, g, h, gamma=math.nan), "gamma must be > 0"),
        (lambda mu, g, h: dp.fsd(mu, g, h, gamma="10"), "gamma must be a positive number"),
        (
            lambda mu, g, h: dp.fsd(mu, g, h, lengths=torch.tensor([[3, 4], [0, 2]])),
            r"lengths\[1\]",
        ),
        (
            lambda mu, g, h: dp.fsd(mu, g, h, lengths=torch.tensor([[3, 5], [1, 2]])),
            r"lengths\[0\] = \[3, 5\] is outside",
        ),
        (lambda mu, g, h: dp.fsd(mu, g, h, lengths=torch.tensor([[3, 4]])), "lengths must have"),
        (
            lambda mu, g, h: dp.fsd(mu, g, h, lengths=torch.tensor([[3.0, 4], [1, 1]])),
            "lengths must be integers",
        ),
        (lambda mu, g, h: dp.fsd(mu, g, h, backend="cuda"), "backend='cuda' needs CUDA"),
        (lambda mu, g, h: dp.fsd(mu, g, h, backend="triton"), "backend must be one of"),
        (lambda mu, g, h: dp.lcs(mu, tau=math.nan), "tau must be a finite"),
        (lambda mu, g, h: dp.lcs(mu, gamma=0), "gamma must be > 0"),
        (lambda mu, g, h: dp.soft_dtw(mu, gamma=0.0), "gamma must be > 0"),
        (lambda mu, g, h: dp.soft_dtw(mu, gamma=math.inf), "gamma must be a finite"),
        (lambda mu, g, h: dp.soft_dtw(mu[:, :, :0]), "cost has an empty sequence"),
        (lambda mu, g, h: dp.drop_dtw(mu, mu[:, :, 0], mu[:, 0, :]), None),
        (lambda mu, g, h: dp.drop_dtw(mu, mu[:, 0, :], mu[:, 0, :]), "drop_x must have shape"),
        (lambda mu, g, h: dp.drop_dtw(mu, mu[:, :, 0], mu[:, :, 0]), "drop_z must have shape"),
        (
            lambda mu, g, h: dp.drop_dtw(mu, mu[:, :, 0] * math.nan, mu[:, 0, :]),
            "drop_x contains NaN",
        ),
        (lambda mu, g, h: dp.drop_dtw(mu, mu[:, :, 0], mu[:, 0, :].float()), "drop_z is"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    mu, g, h = _good()
    if match is None:  # the well-formed call of the list must pass
        call(mu, g, h)
        return
    with pytest.raises(ValueError, match=match):
        call(mu, g, h)


def test_padding_may_hold_nan_but_valid_cells_may_not():
    mu, g, h = _good()
    lengths = torch.tensor([[3, 4], [2, 2]])
    bad = mu.clone()
    bad[1, 2, 3] = math.nan  # padding of pair 1
    assert torch.isfinite(dp.fsd(bad, g, h, lengths=lengths)).all()
    bad[1, 0, 0] = math.nan  # valid cell of pair 1
    with pytest.raises(ValueError, match="mu contains NaN"):
        dp.fsd(bad, g, h, lengths=lengths)


def test_recursion_spec_is_validated():
    Edge, Recursion = dp.Edge, dp.Recursion
    with pytest.raises(ValueError, match="same-cell edge"):
        Recursion("r", ("a",), (Edge(0, 0, 0, 0),), (-1,), 0, 0)
    with pytest.raises(ValueError, match="grouped by dst"):
        Recursion("r", ("a", "b"), (Edge(1, 0, 1, 0), Edge(0, 0, 1, 1)), (-1, -1), 0, 0)
    with pytest.raises(ValueError, match="no weight tensor"):
        Recursion("r", ("a",), (Edge(0, 0, 1, 1, weight=2),), (-1,), 1, 0)
    mu = torch.zeros(1, 2, 2, dtype=F64)
    with pytest.raises(ValueError, match="expected 3 weight tensors"):
        dp.grid_dp(
            dp.FSD,
            1.0,
            (mu, mu),
            mu.new_zeros(1, 1, 3),
            mu.new_zeros(1, 1, 3),
            torch.tensor([[2, 2]]),
        )


def test_backend_resolution_never_touches_the_device():
    assert resolve_backend("auto", torch.device("cpu")) == "numba"
    if not torch.cuda.is_available():  # with a GPU: the fused kernel if it compiles there
        assert resolve_backend("auto", torch.device("cuda", 0)) == "wavefront"
    assert resolve_backend("wavefront", torch.device("cpu")) == "wavefront"
    with pytest.raises(ValueError, match="backend='numba' needs CPU"):
        resolve_backend("numba", torch.device("cuda", 0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_wavefront_agrees_with_cpu():
    device = torch.device("cuda")
    for structure, gamma in CASES + WEIGHTED:
        grids, vectors = _inputs(structure, 3, 6, 5, seed=1)
        lengths = _lengths_for(3, 6, 5)
        cpu = _engine(structure, grids, vectors, gamma, lengths, "numba")
        gpu = _engine(
            structure,
            [x.to(device) for x in grids],
            [v.to(device) for v in vectors],
            gamma,
            lengths.to(device),
            "auto",
        )
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-9)
