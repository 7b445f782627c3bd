"""The alignment recursions as data: :class:`Recursion`, its :class:`Edge` s, and the four
instances FTCL and its Table 4 variants use (FSD Eq. 2, LCS Eq. 6, soft-DTW, Drop-DTW).

A :class:`Recursion` describes a DP on the ``(M+1) x (N+1)`` grid of two sequences (see
:mod:`ftcl.dp.engine`, which runs it); this module imports nothing else of the engine, so every
backend (:mod:`ftcl.dp.kernels`, :mod:`ftcl.dp.wavefront`, :mod:`ftcl.dp.cuda_kernels`) can use
the recursions without an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edge:
    """A transition into state ``dst`` from state ``src`` at cell ``(i - di, j - dj)``.

    ``weight`` indexes the stack of cell scores (the score of the destination cell is added), or
    is ``-1`` for no edge score. Edges into the same state are listed in tie-break order: with the
    hard max the first maximal candidate wins.
    """

    dst: int
    src: int
    di: int
    dj: int
    weight: int = -1


@dataclass(frozen=True)
class Recursion:
    """A grid DP as data (see the module docstring).

    Parameters
    ----------
    name : str
        For messages.
    states : tuple of str
        State names in evaluation order within a cell (a same-cell edge must go from an earlier
        state to a later one).
    edges : tuple of Edge
        Grouped by ``dst`` in state order.
    local : tuple of int
        Per state, the index of its local score in the weight stack, or -1.
    n_weights : int
        Number ``K`` of cell-score tensors.
    final : int
        The state whose value at ``(M_b, N_b)`` is returned.
    """

    name: str
    states: tuple[str, ...]
    edges: tuple[Edge, ...]
    local: tuple[int, ...]
    n_weights: int
    final: int

    def __post_init__(self) -> None:
        n = len(self.states)
        if len(self.local) != n or not 0 <= self.final < n:
            raise ValueError(f"{self.name}: local/final do not match the {n} states")
        dsts = [e.dst for e in self.edges]
        if dsts != sorted(dsts) or set(dsts) != set(range(n)):
            raise ValueError(f"{self.name}: edges must be grouped by dst, every state fed")
        for e in self.edges:
            if e.di not in (0, 1) or e.dj not in (0, 1) or not 0 <= e.src < n:
                raise ValueError(f"{self.name}: bad edge {e}")
            if e.di == e.dj == 0 and e.src >= e.dst:
                raise ValueError(f"{self.name}: same-cell edge {e} must go to a later state")
            if e.weight >= self.n_weights:
                raise ValueError(f"{self.name}: edge {e} has no weight tensor")

    def edges_into(self, state: int) -> tuple[int, int]:
        """``(first, stop)``: the edges into ``state`` are ``edges[first:stop]``."""
        first = next(k for k, e in enumerate(self.edges) if e.dst == state)
        stop = first + sum(1 for e in self.edges if e.dst == state)
        return first, stop


# Eq. 2: S(i,j) = mu_ij + smax(S(i-1,j-1), g_ij + S(i-1,j), h_ij + S(i,j-1)); weights mu, g, h.
FSD = Recursion(
    name="fsd",
    states=("S",),
    edges=(Edge(0, 0, 1, 1), Edge(0, 0, 1, 0, weight=1), Edge(0, 0, 0, 1, weight=2)),
    local=(0,),
    n_weights=3,
    final=0,
)

# Eq. 6: R(i,j) = R(i-1,j-1) + c_ij if c_ij > tau else max(R(i-1,j), R(i,j-1)). Weights: the
# diagonal score (c_ij where matched, else -inf) and the gap score (0 where unmatched, else -inf).
LCS = Recursion(
    name="lcs",
    states=("R",),
    edges=(Edge(0, 0, 1, 1, weight=0), Edge(0, 0, 1, 0, weight=1), Edge(0, 0, 0, 1, weight=1)),
    local=(-1,),
    n_weights=2,
    final=0,
)

# DTW run as a maximisation of V = -R: V(i,j) = -cost_ij + smax(V(i-1,j-1), V(i-1,j), V(i,j-1)).
SOFT_DTW = Recursion(
    name="soft_dtw",
    states=("R",),
    edges=(Edge(0, 0, 1, 1), Edge(0, 0, 1, 0), Edge(0, 0, 0, 1)),
    local=(0,),
    n_weights=1,
    final=0,
)

# Drop-DTW, negated: states match-ended P, drop-ended Q, best-of-both T; weights -cost, -drop_x
# (row element i dropped), -drop_z (column element j dropped).
DROP_DTW = Recursion(
    name="drop_dtw",
    states=("match", "drop", "total"),
    edges=(
        Edge(0, 2, 1, 1),  # P <- T(i-1, j-1): match x_i with z_j after anything
        Edge(0, 0, 1, 0),  # P <- P(i-1, j): x_i also matched to z_j (many x to one z)
        Edge(0, 0, 0, 1),  # P <- P(i, j-1): z_j also matched to x_i (one x to many z)
        Edge(1, 2, 1, 0, weight=1),  # Q <- T(i-1, j) - drop_x_i
        Edge(1, 2, 0, 1, weight=2),  # Q <- T(i, j-1) - drop_z_j
        Edge(2, 0, 0, 0),  # T <- P(i, j)
        Edge(2, 1, 0, 0),  # T <- Q(i, j)
    ),
    local=(0, -1, -1),
    n_weights=3,
    final=2,
)
