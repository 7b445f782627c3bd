"""Choose the compute device once, at the entry point, and pass it down.

Nothing in :mod:`ftcl` queries CUDA at import time; library functions take the device of their
input tensors. Only entry points (the trainer, the command line, the notebooks) call
:func:`choose_device`.
"""

from __future__ import annotations

import torch


def choose_device(requested: str | torch.device | None = None) -> torch.device:
    """Return ``requested`` if given (validated), else CUDA when available, else CPU.

    Raises ``ValueError`` if CUDA is requested on a machine without it.
    """
    if requested is None or str(requested) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(requested)!r} requested but CUDA is not available here")
    return device
