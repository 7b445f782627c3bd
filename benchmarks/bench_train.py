"""Training benchmark: the cost of an iteration of every method, side by side, and whole runs.

Usage::

    python benchmarks/bench_train.py                 # per-iteration table + one quick ACM-Net run
    python benchmarks/bench_train.py --no-run        # per-iteration table only
    python benchmarks/bench_train.py --threads 1     # pin torch to one thread
    python benchmarks/bench_train.py --methods acmnet ftcl

What it prints:

1. **Per-iteration cost** on the ``quick`` SynTHUMOS14 profile (16 pairs = 32 videos of T
   snippets): forward + backward + Adam step of each method on the same pre-loaded batches (data
   loading is timed separately), the median over ``--steps`` iterations after a warm-up, and the
   ratio to ACM-Net. The FTCL terms run on the DP engine's CPU fast path (:mod:`ftcl.dp`).
2. **One quick ACM-Net run** (the whole schedule of :func:`ftcl.train.train`: stage 1, stage 2,
   selection evaluations, test evaluation) and its wall time.
3. **With CUDA**: the same table at the ``full`` profile's sizes (T=750, D=2048, random features),
   the peak GPU memory of each method, and the projected wall time of a full-profile run
   (iterations x median iteration time, evaluation excluded).

Timings are wall-clock on the machine at hand; on a shared 2-core machine they are noisy (the
median helps, it does not cure). Nothing here is a test: nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from ftcl.config import METHODS, make_config
from ftcl.device import choose_device
from ftcl.losses import FTCLObjective, total_loss
from ftcl.models import build_backbone

DEFAULT_METHODS = ["acmnet", "ftcl", "ftcl-wo-fsd", "ftcl-wo-lcs", "ftcl-both-fsd",
                   "ftcl-both-lcs", "ftcl-dtw", "ftcl-ccdtw", "ftcl-dropdtw", "stpn", "stpn-ftcl",
                   "wtalc", "wtalc-ftcl", "cola", "cola-ftcl"]


def _sync(device: torch.device) -> None:
    if device.type != "cpu":
        torch.cuda.synchronize(device)


def time_iterations(method: str, batches: list[dict], feature_dim: int, num_classes: int,
                    cfg_overrides: dict, device: torch.device, steps: int, warmup: int = 3
                    ) -> dict:
    """Median seconds of one training iteration of ``method`` (forward, backward, Adam step)."""
    cfg = make_config(method, overrides=cfg_overrides)
    torch.manual_seed(0)
    model = build_backbone(cfg.model.backbone, feature_dim, num_classes, cfg.model).to(device)
    objective = (FTCLObjective(model.embed_dim, cfg.ftcl).to(device) if cfg.ftcl.enabled
                 else None)
    params = list(model.parameters()) + (list(objective.parameters()) if objective else [])
    opt = torch.optim.Adam(params, lr=cfg.train.lr)
    if device.type != "cpu":
        torch.cuda.reset_peak_memory_stats(device)

    def step(batch: dict) -> None:
        features = torch.cat([batch["features_a"], batch["features_b"]])
        labels = torch.cat([batch["labels_a"], batch["labels_b"]])
        loss, _ = total_loss(cfg.model.backbone, model(features), labels, cfg.loss, objective)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(batches[i % len(batches)])
    _sync(device)
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        step(batches[i % len(batches)])
        _sync(device)
        times.append(time.perf_counter() - t0)
    out = {"method": method, "median_s": statistics.median(times), "min_s": min(times)}
    if device.type != "cpu":
        out["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return out


def quick_batches(n: int, batch_size: int) -> tuple[list[dict], float, object]:
    """``n`` real pair batches of the quick SynTHUMOS14 profile, and the seconds per batch."""
    from ftcl.data import PairBatches, VideoDataset, get_spec, prepare_dataset

    spec = get_spec("synthumos14", "quick")
    root = prepare_dataset("synthumos14", "quick")
    ds = VideoDataset(root, "train", spec, sampling="random")
    pairs = PairBatches(ds, batch_size=batch_size, seed=0)
    it = iter(pairs)
    next(it)  # fills the feature cache
    t0 = time.perf_counter()
    batches = [next(it) for _ in range(n)]
    return batches, (time.perf_counter() - t0) / n, spec


def random_batches(n: int, batch_size: int, length: int, dim: int, classes: int,
                   device: torch.device) -> list[dict]:
    """Pair batches of random features (half positive pairs), already on ``device``."""
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        ya = torch.randint(0, classes, (batch_size,), generator=g)
        yb = torch.where(torch.arange(batch_size) % 2 == 0, ya, (ya + 1) % classes)
        out.append({
            "features_a": torch.randn(batch_size, length, dim, generator=g).to(device),
            "features_b": torch.randn(batch_size, length, dim, generator=g).to(device),
            "labels_a": torch.nn.functional.one_hot(ya, classes).float().to(device),
            "labels_b": torch.nn.functional.one_hot(yb, classes).float().to(device),
        })
    return out


def print_table(rows: list[dict], title: str) -> None:
    base = next((r["median_s"] for r in rows if r["method"] == "acmnet"), None)
    mem = any("peak_mem_gib" in r for r in rows)
    print(f"\n{title}")
    print(f"{'method':<15} {'ms/iter':>9} {'(min)':>8} {'x ACM-Net':>10}"
          + ("  peak GPU GiB" if mem else ""))
    for r in rows:
        ratio = f"{r['median_s'] / base:10.2f}" if base else f"{'-':>10}"
        line = f"{r['method']:<15} {1e3 * r['median_s']:9.1f} {1e3 * r['min_s']:8.1f} {ratio}"
        if mem:
            line += f"  {r['peak_mem_gib']:12.2f}"
        print(line)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=sorted(METHODS))
    parser.add_argument("--steps", type=int, default=20, help="timed iterations per method")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-run", action="store_true", help="skip the whole quick run")
    parser.add_argument("--full-steps", type=int, default=10,
                        help="timed iterations per method at the full sizes (CUDA only)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"CUDA {'yes: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}")

    quick = make_config("acmnet", "synthumos14", "quick")
    batches, load_s, spec = quick_batches(4, quick.train.batch_size)
    shape = tuple(batches[0]["features_a"].shape)
    print(f"quick profile: {quick.train.batch_size} pairs of [T={shape[1]}, D={shape[2]}], "
          f"embed {quick.model.embed_dim}; data loading {1e3 * load_s:.1f} ms/batch (cached "
          "features; not in the table)")
    rows = [time_iterations(m, batches, spec.feature_dim, spec.num_classes, {}, cpu, args.steps)
            for m in args.methods]
    print_table(rows, f"Per-iteration cost, quick profile, CPU (median of {args.steps})")

    if not args.no_run:
        from ftcl.train import train

        with tempfile.TemporaryDirectory() as tmp:
            cfg = make_config("acmnet", "synthumos14", "quick",
                              overrides={"out_dir": tmp, "device": "cpu", "train.progress": False})
            t0 = time.perf_counter()
            record = train(cfg, resume=False)
            wall = time.perf_counter() - t0
        w = record["wall_time_s"]
        print(f"\nOne quick ACM-Net run ({record['iterations']} iterations, CPU): "
              f"{wall:.1f} s wall "
              f"(stage 1 {w['stage1']:.1f} s, stage 2 {w['stage2']:.1f} s, selection "
              f"{w['selection']:.1f} s, test {w['test']:.1f} s); test average mAP "
              f"{100 * record['average_map']:.2f}% ({record['average_range'][0]}-"
              f"{record['average_range'][1]}), classification mAP "
              f"{100 * record['classification_map']:.2f}%")

    gpu = choose_device("auto")
    if gpu.type != "cpu":
        full = make_config("acmnet", "synthumos14", "full")
        fb = random_batches(2, full.train.batch_size, 750, 2048, 20, gpu)
        rows = [time_iterations(m, fb, 2048, 20, {}, gpu, args.full_steps)
                for m in args.methods]
        print_table(rows, f"Per-iteration cost, full profile sizes (T=750, D=2048), "
                          f"{torch.cuda.get_device_name(0)} (median of {args.full_steps})")
        n = full.train.pretrain_iterations + full.train.iterations
        for r in rows:
            if r["method"] in ("acmnet", "ftcl"):
                print(f"projected full-profile {r['method']} training ({n} iterations, no "
                      f"evaluation): {n * r['median_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
