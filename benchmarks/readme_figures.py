"""Re-measure the times the README quotes ("What to expect on a CPU"), as a user meets them.

Usage::

    python benchmarks/readme_figures.py                     # the training runs (~2 min on 2 cores)
    python benchmarks/readme_figures.py --book --test       # also `make book` and `make test`
    python benchmarks/readme_figures.py --json results/readme-figures.json

Each figure is the wall-clock time of the command a user types, in a fresh process (Python
start-up and imports included), in a temporary cache, run folder and results root (the checkout's
``results/`` is never written), so nothing is reused unless the figure says so:

- ``train acmnet, cold``: ``python -m ftcl train --method acmnet --seed 0`` on an empty cache:
  generating the synthetic data, training stage 1 and stage 2, evaluating, writing the record;
- ``train ftcl, reusing stage 1``: then ``--method ftcl --seed 0`` in the same folders: the data
  and the seed's stage-1 checkpoint are reused, stage 2 and the evaluation run;
- ``train ftcl, cold``: ``--method ftcl --seed 1`` on a second empty cache;
- ``make book`` / ``make test`` (optional; ``.venv`` must exist).

The training commands are repeated ``--repeats`` times (each repeat on new empty folders) and the
median is printed with the range. The 1-minute load average is read before and after every
command: the machine is shared, and a figure measured while the load was above ``--quiet-load``
is marked "under load" (the README should quote figures measured quietly, or say they were not).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> dict:
    """Run ``cmd``; its wall time and the load average around it. Raises when it fails."""
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return {"wall_s": round(wall, 2), "load_before": load_before,
            "load_after": os.getloadavg()[0]}


def train_figures(python: str, repeats: int) -> dict[str, list[dict]]:
    """The three training figures, ``repeats`` times each, every repeat on new empty folders."""
    out: dict[str, list[dict]] = {"train acmnet, cold": [], "train ftcl, reusing stage 1": [],
                                  "train ftcl, cold": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="ftcl-readme-") as tmp:
            # the records go to a temporary results root, never the checkout's results/
            base = [python, "-m", "ftcl", "train", "--no-progress", "--results",
                    str(Path(tmp) / "results")]
            env = {**os.environ, "FTCL_CACHE": str(Path(tmp) / "a")}
            out["train acmnet, cold"].append(timed([*base, "--method", "acmnet", "--seed", "0"],
                                                   env))
            out["train ftcl, reusing stage 1"].append(
                timed([*base, "--method", "ftcl", "--seed", "0"], env))
            env_b = {**os.environ, "FTCL_CACHE": str(Path(tmp) / "b")}
            out["train ftcl, cold"].append(timed([*base, "--method", "ftcl", "--seed", "1"],
                                                 env_b))
    return out


def summary(name: str, samples: list[dict], quiet_load: float) -> dict:
    walls = [s["wall_s"] for s in samples]
    loaded = max(max(s["load_before"], s["load_after"]) for s in samples)
    return {"figure": name, "median_s": round(statistics.median(walls), 1),
            "min_s": min(walls), "max_s": max(walls), "n": len(walls),
            "max_load_1min": round(loaded, 2), "under_load": loaded > quiet_load,
            "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--book", action="store_true", help="also time `make book`")
    parser.add_argument("--test", action="store_true", help="also time `make test`")
    parser.add_argument("--quiet-load", type=float, default=0.5,
                        help="1-minute load average above which a figure is 'under load'")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    samples = train_figures(sys.executable, args.repeats)
    if args.book:
        samples["make book"] = [timed(["make", "book"], dict(os.environ))]
    if args.test:
        samples["make test"] = [timed(["make", "test"], dict(os.environ))]
    rows = [summary(name, s, args.quiet_load) for name, s in samples.items()]

    print(f"\n## README figures: wall-clock seconds, {os.cpu_count()} CPU cores\n")
    print("| figure | median (s) | range (s) | runs | max load (1 min) | |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        flag = "under load" if r["under_load"] else "quiet"
        print(f"| {r['figure']} | {r['median_s']:.1f} | {r['min_s']:.1f}-{r['max_s']:.1f} "
              f"| {r['n']} | {r['max_load_1min']:.2f} | {flag} |")
    if args.json is not None:
        from ftcl.io import atomic_write_json
        from ftcl.provenance import provenance

        atomic_write_json(args.json, {"figures": rows, "quiet_load": args.quiet_load,
                                      "provenance": provenance(device="cpu")})
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
