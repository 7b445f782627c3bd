"""Differentiable dynamic programs of FTCL: FSD (Eq. 2-5), LCS (Eq. 6), soft-DTW, Drop-DTW.

One engine (:mod:`ftcl.dp.engine`) runs every recursion: a semiring (:mod:`ftcl.dp.semiring`:
max, or log-sum-exp with a temperature), batched over pairs with ``lengths`` masking, with an
exact backward pass (the reverse recursion) in a custom autograd function. The DTW family also
offers the softmax-weighted smooth min of Hadji et al. (``smoothing="weighted"``). Backends:
compiled per-cell loops on CPU (:mod:`ftcl.dp.kernels`, numba), fused GPU kernels with the
anti-diagonal loop inside, one launch per forward and per backward (:mod:`ftcl.dp.cuda_kernels`,
numba.cuda), and an anti-diagonal wavefront in plain PyTorch for any device
(:mod:`ftcl.dp.wavefront`, the fallback on GPUs where the fused kernels cannot be compiled).
The public functions and their conventions are in :mod:`ftcl.dp.structures`; the plain per-cell
loops used as the tests' reference are in :mod:`ftcl.dp.reference`; the recursions as data in
:mod:`ftcl.dp.recursion`.
"""

from ftcl.dp.engine import BACKENDS, grid_dp, grid_dp_gradients
from ftcl.dp.recursion import DROP_DTW, FSD, LCS, SOFT_DTW, Edge, Recursion
from ftcl.dp.semiring import Semiring, smooth_max
from ftcl.dp.structures import (
    SMOOTHINGS,
    drop_dtw,
    drop_dtw_alignment,
    fsd,
    fsd_alignment,
    lcs,
    lcs_path,
    soft_dtw,
    soft_dtw_alignment,
)

__all__ = [
    "BACKENDS",
    "DROP_DTW",
    "FSD",
    "LCS",
    "SMOOTHINGS",
    "SOFT_DTW",
    "Edge",
    "Recursion",
    "Semiring",
    "drop_dtw",
    "drop_dtw_alignment",
    "fsd",
    "fsd_alignment",
    "grid_dp",
    "grid_dp_gradients",
    "lcs",
    "lcs_path",
    "smooth_max",
    "soft_dtw",
    "soft_dtw_alignment",
]
