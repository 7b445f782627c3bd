"""Provenance recorded with every result file: what code, on what machine, made this number."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path

from . import __version__
from .paths import ROOT, TRAINING_NOTEBOOK


def git_commit(repo: str | os.PathLike | None = None) -> str:
    """The git commit of the checkout holding ``ftcl`` (``+dirty`` if modified), or ``unknown``."""
    repo = Path(repo) if repo is not None else ROOT
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            # the package and the training notebook the batch executes
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "ftcl",
             TRAINING_NOTEBOOK],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(device: str | None = None) -> dict:
    """A dict of package version, git commit, library versions, host and UTC time."""
    import numpy
    import torch

    info = {
        "ftcl_version": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if device is not None:
        info["device"] = str(device)
        if str(device).startswith("cuda") and torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info
