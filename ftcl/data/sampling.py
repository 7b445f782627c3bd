"""Sampling a video's snippets to a fixed length T, and mapping sampled points back to seconds.

A stored video has ``L`` snippet features (one per 16 frames at 25 fps, 0.64 s); the models see a
fixed ``T`` (750 on THUMOS14, 75 on ActivityNet, the paper's Sec. 4.1). As in ACM-Net and FTCL:

- **uniform** (test): point ``j`` takes snippet ``floor(j L / T)``. For ``L < T`` snippets repeat.
  (The release keeps all ``L`` snippets when ``1 < L <= T`` and runs the test with batch size 1;
  a fixed T keeps batches rectangular and changes nothing else: the time of point ``j`` is the
  same ``j L / T`` snippets either way.)
- **random** (training): stratified: point ``j`` takes a uniformly random snippet of its stratum
  ``[j L / T, (j + 1) L / T)``, i.e. ``floor((j + u_j) L / T)`` with ``u_j ~ U[0, 1)``. The result
  is non-decreasing; for ``L < T`` it repeats snippets, like the release's sorted draw with
  replacement. (The release's loop draws from ``[floor(s_j), floor(s_{j+1})]`` inclusive and its
  last stratum from the already-drawn ``s_{T-2}``: a one-snippet overlap between strata that we do
  not reproduce.)

Seconds: point ``j`` (or upsampled index ``i = j * upsample``) of a video with ``L`` snippets is at
``j * frames_per_snippet * L / (fps * T)`` seconds
(:func:`ftcl.evaluation.localize.index_to_seconds`), the start of the snippet position ``j L / T``.
With uniform sampling the snippet actually taken, ``floor(j L / T)``, starts at most one snippet
(0.64 s) before that time.
"""

from __future__ import annotations

import numpy as np

SAMPLING_MODES = ("uniform", "random")


def uniform_indices(length: int, num_segments: int) -> np.ndarray:
    """``floor(j * length / num_segments)`` for ``j < num_segments`` (int64)."""
    if length < 1 or num_segments < 1:
        raise ValueError(f"length and num_segments must be >= 1, got {length}, {num_segments}")
    return (np.arange(num_segments, dtype=np.int64) * length) // num_segments


def random_indices(length: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified random snippet indices: ``floor((j + u_j) * length / num_segments)`` (int64)."""
    if length < 1 or num_segments < 1:
        raise ValueError(f"length and num_segments must be >= 1, got {length}, {num_segments}")
    pos = (np.arange(num_segments) + rng.random(num_segments)) * (length / num_segments)
    return np.minimum(np.floor(pos).astype(np.int64), length - 1)


def sample_indices(
    length: int, num_segments: int, mode: str = "uniform", rng: np.random.Generator | None = None
) -> np.ndarray:
    """Indices of the ``num_segments`` snippets sampled from a video of ``length`` snippets."""
    if mode == "uniform":
        return uniform_indices(length, num_segments)
    if mode == "random":
        if rng is None:
            raise ValueError("random sampling needs an rng")
        return random_indices(length, num_segments, rng)
    raise ValueError(f"unknown sampling mode {mode!r}; expected one of {SAMPLING_MODES}")
