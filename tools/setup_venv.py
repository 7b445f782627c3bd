"""Create the project's virtual environment (``make venv``), light and with progress.

Run by the system Python (standard library only)::

    python3 tools/setup_venv.py --venv .venv --torch torch==2.13.0 \
        --torch-index https://download.pytorch.org/whl/cpu --extras dev,book,ray

Three steps, each timed and announced:

1. **The environment.** When the Python running this script already imports a torch that
   ``pyproject.toml`` accepts (a conda environment, a system installation, another virtual
   environment), the new environment reuses it: a ``.pth`` file adds the folder holding that
   torch to the environment's path, after its own site-packages (so what ``make venv`` installs
   comes first, and the reused folder only fills in what is missing). Nothing is downloaded for
   torch. Otherwise a plain environment.
2. **torch**, unless the environment already imports a compatible one: ``--torch`` (the version
   the committed results were made with) from ``--torch-index`` as an *extra* index. The
   Makefile passes PyTorch's CPU index when the machine has no NVIDIA GPU: pip then prefers the
   ``+cpu`` build (a higher local version than PyPI's) and skips the 4-5 GB of NVIDIA libraries
   that PyPI's Linux wheels pull in.
3. **ftcl** (editable) with its extras, and ``tools/ipython_kernel_config.py`` copied to the
   environment's ``etc/ipython/`` (the kernels papermill starts read it: see that file).

pip's own lines are filtered to one per package (``Collecting``, ``Installing``, ...), each with
the seconds since the start; while pip is silent (it unpacks and installs torch, the longest
part) a line every ``--heartbeat`` seconds says that it is still working. The end prints the
environment's size and the total time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOWN = ("Collecting", "Installing", "Successfully", "ERROR", "Processing")
TORCH_PROBE = ("import os, sys, torch; "
               "sys.stdout.write(torch.__version__ + '\\n' + os.path.dirname(os.path.dirname("
               "os.path.abspath(torch.__file__))))")
#: The file that makes a reused torch importable in the new environment.
REUSE_PTH = "ftcl-reused-torch.pth"
#: The kernels' configuration (drops one warning of papermill's plain-TCP kernels; see the file).
KERNEL_CONFIG = ROOT / "tools" / "ipython_kernel_config.py"


def log(start: float, message: str) -> None:
    print(f"[setup {time.monotonic() - start:5.0f} s] {message}", flush=True)


def version_tuple(text: str) -> tuple[int, ...]:
    """``"2.13.0+cpu"`` -> ``(2, 13, 0)`` (the release part; local and pre-release tags dropped)."""
    release = re.match(r"\d+(\.\d+)*", text.strip())
    if release is None:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(p) for p in release.group(0).split("."))


def torch_minimum(pyproject: Path = ROOT / "pyproject.toml") -> tuple[int, ...]:
    """The lower bound of pyproject.toml's torch requirement (``"torch>=2.3"`` -> ``(2, 3)``)."""
    m = re.search(r'"torch\s*>=\s*([0-9.]+)[^"]*"', pyproject.read_text(encoding="utf-8"))
    if m is None:
        raise ValueError(f"{pyproject}: no 'torch>=...' dependency")
    return version_tuple(m.group(1))


def torch_of(python: str | Path) -> tuple[str, Path] | None:
    """The torch version that ``python`` imports and the folder holding it, or None."""
    try:
        out = subprocess.run([str(python), "-c", TORCH_PROBE], capture_output=True, text=True,
                             timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.strip().splitlines()
    return (lines[0], Path(lines[1])) if out.returncode == 0 and len(lines) == 2 else None


def installed_torch(python: str | Path) -> str | None:
    """The torch version that ``python`` imports, or None."""
    found = torch_of(python)
    return found[0] if found else None


def reuse_folder(env: Path, folder: Path) -> Path:
    """Make the packages of ``folder`` importable in ``env`` (after its own site-packages)."""
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    pth = Path(site.stdout.strip()) / REUSE_PTH
    pth.write_text(f"{folder}\n", encoding="utf-8")
    return pth


def compatible(version: str | None, minimum: tuple[int, ...]) -> bool:
    return version is not None and version_tuple(version) >= minimum


def index_reachable(url: str, timeout: float = 10.0) -> bool:
    """Whether the package index at ``url`` answers (pip would retry an unreachable one, with
    back-off, for every package it resolves)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/torch/", timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def pip_command(python: Path, *args: str) -> list[str]:
    return [str(python), "-m", "pip", "install", "--progress-bar", "off", *args]


def run_pip(cmd: list[str], start: float, heartbeat: float) -> int:
    """Run pip, showing its per-package lines with timestamps and a heartbeat while silent."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    last = [time.monotonic()]
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat / 3):
            if time.monotonic() - last[0] >= heartbeat:
                log(start, "pip is still working (unpacking and installing wheels) ...")
                last[0] = time.monotonic()

    threading.Thread(target=beat, daemon=True).start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(SHOWN):
                log(start, line.rstrip()[:160])
                last[0] = time.monotonic()
        return proc.wait()
    finally:
        done.set()


def install_kernel_config(env: Path) -> Path:
    """Copy :data:`KERNEL_CONFIG` where the environment's IPython kernels read it."""
    target = env / "etc" / "ipython" / KERNEL_CONFIG.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(KERNEL_CONFIG, target)
    return target


def folder_size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            full = Path(dirpath) / name
            if not full.is_symlink():
                total += full.stat().st_size
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--torch", default="torch==2.13.0",
                        help="the torch requirement to install when none is reused")
    parser.add_argument("--torch-index", default="",
                        help="an extra package index for torch (e.g. PyTorch's CPU wheels); "
                             "empty: PyPI's default wheels")
    parser.add_argument("--extras", default="dev,book,ray")
    parser.add_argument("--heartbeat", type=float, default=15.0, help="seconds")
    args = parser.parse_args(argv)
    start = time.monotonic()
    minimum = torch_minimum()
    python = args.venv / "bin" / "python"

    if not python.exists():
        host = torch_of(sys.executable)
        reuse = host is not None and compatible(host[0], minimum)
        how = (f"reusing torch {host[0]} of {sys.executable} ({host[1]})" if reuse
               else "a plain environment")
        log(start, f"[1/3] creating {args.venv}: {how}")
        venv.EnvBuilder(with_pip=True).create(args.venv)
        if reuse:
            reuse_folder(args.venv, host[1])
    else:
        log(start, f"[1/3] {args.venv} exists")

    have = installed_torch(python)
    if compatible(have, minimum):
        log(start, f"[2/3] torch {have} is already importable: not installed again")
    else:
        use_index = bool(args.torch_index)
        if use_index and not index_reachable(args.torch_index):
            log(start, f"      {args.torch_index} does not answer: using the default index "
                       "(pip's configured indexes) instead")
            use_index = False
        index = ["--extra-index-url", args.torch_index] if use_index else []
        where = f"extra index {args.torch_index}" if use_index else "the default index"
        log(start, f"[2/3] installing {args.torch} ({where}); the longest step")
        if run_pip(pip_command(python, args.torch, *index), start, args.heartbeat) != 0:
            log(start, f"installing {args.torch} failed; to choose the wheels yourself: "
                       f"{python} -m pip install torch --index-url <index>, then make venv")
            return 1
        log(start, f"      torch {installed_torch(python)} installed")

    log(start, f"[3/3] installing ftcl (editable) with the extras {args.extras}")
    if run_pip(pip_command(python, "-e", f"{ROOT}[{args.extras}]"), start, args.heartbeat):
        log(start, "installing ftcl failed (see pip's lines above)")
        return 1
    install_kernel_config(args.venv)
    log(start, f"      kernel configuration: {KERNEL_CONFIG.name} -> {args.venv}/etc/ipython/")
    size = folder_size(args.venv)
    shown = f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"
    log(start, f"done: {args.venv} holds {shown}; torch {installed_torch(python)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
