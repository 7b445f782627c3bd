"""Seeding and random-number-generator state, for runs that can be repeated and resumed exactly.

:func:`seed_everything` seeds Python, NumPy and PyTorch (every device) and, where it is cheap, asks
PyTorch for deterministic kernels. :func:`get_rng_state` / :func:`set_rng_state` capture and restore
all of these generators as plain tensors and lists, so that a checkpoint stays loadable with
``torch.load(weights_only=True)`` and a resumed run draws the same numbers as an uninterrupted one;
:func:`preserved_rng` restores them after a block (evaluation must not change the training stream).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch


def derive_seed(seed: int, *names: str | int) -> int:
    """A 31-bit seed derived from ``seed`` and labels (e.g. ``derive_seed(0, "stage", 2)``)."""
    text = "/".join(str(x) for x in (seed, *names))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed ``random``, ``numpy.random`` and ``torch`` (CPU and all CUDA devices).

    With ``deterministic=True`` cuDNN autotuning is switched off, cuDNN is made deterministic and
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` is set (operations without a
    deterministic implementation warn instead of failing). On CPU the results are then exactly
    repeatable for a given number of threads.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device (lazily)
    if deterministic:
        # cuBLAS needs this before its first use to be deterministic; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
        # Deterministic mode also NaN-fills every new tensor (a debugging aid that costs ~30% of a
        # small CPU step); results do not depend on it.
        torch.utils.deterministic.fill_uninitialized_memory = False


def get_rng_state() -> dict:
    """All generator states as tensors, lists and numbers (safe for ``weights_only`` loading)."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state = {
        "python": [version, list(internal), gauss],
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore generator states captured by :func:`get_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state({
        "bit_generator": "MT19937",
        "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
        "has_gauss": np_state["has_gauss"],
        "gauss": np_state["gauss"],
    })
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore every RNG state on exit (evaluation must not change the training stream)."""
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
