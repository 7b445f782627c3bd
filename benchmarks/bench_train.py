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
3. **With CUDA**: the same table at the ``full`` profile (T=750, D=2048, random features; the
   full profile's model: its embedding width, FTCL projection and J, not the quick model's),
   the peak GPU memory of each method, and the projected wall time of a full-profile run
   (iterations x median iteration time, evaluation excluded).
4. **With CUDA** (issue 12's targets, each printed next to its measured value; without CUDA each
   says it is skipped):

   - FTCL's iteration against ACM-Net's at the full sizes (target <= 1.3x);
   - the data-feeding share of a full-size FTCL iteration on the generated full SynTHUMOS14
     (target <= 10 %), CPU-built batches (:class:`ftcl.data.PairBatches` + copy) against
     device-built ones (:class:`ftcl.data.device_batches.DevicePairBatches`);
   - throughput (FTCL iterations per second at the full sizes, all processes together) against
     the number ``N`` of training processes sharing the GPU (``--runs-per-gpu`` of the batch);
   - one whole full-profile FTCL run (6,250 + 2,700 iterations with its evaluations, target
     <= 2 min) and, from it and the best ``N``, the projected time of Tables 1-5 at 3 seeds
     (target <= 10 min; a projection, labelled so);
   - one quick FTCL configuration trained on the CPU and on CUDA, and its mAP difference.

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


def training_step(cfg, feature_dim: int, num_classes: int, device: torch.device):
    """A fresh model (seed 0) of ``cfg``'s method and one training iteration on a pair batch
    (forward, backward, Adam step), as a function of the batch."""
    torch.manual_seed(0)
    model = build_backbone(cfg.model.backbone, feature_dim, num_classes, cfg.model).to(device)
    objective = (FTCLObjective(model.embed_dim, cfg.ftcl).to(device) if cfg.ftcl.enabled
                 else None)
    params = list(model.parameters()) + (list(objective.parameters()) if objective else [])
    opt = torch.optim.Adam(params, lr=cfg.train.lr)

    def step(batch: dict) -> None:
        features = torch.cat([batch["features_a"], batch["features_b"]])
        labels = torch.cat([batch["labels_a"], batch["labels_b"]])
        loss, _ = total_loss(cfg.model.backbone, model(features), labels, cfg.loss, objective)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def time_iterations(method: str, batches: list[dict], feature_dim: int, num_classes: int,
                    cfg_overrides: dict, device: torch.device, steps: int, warmup: int = 3,
                    profile: str = "quick") -> dict:
    """Median seconds of one training iteration of ``method`` (forward, backward, Adam step)
    with the model of ``profile`` (its embedding width, projection width, J, ...), which must be
    the profile of ``batches``."""
    cfg = make_config(method, "synthumos14", profile, overrides=cfg_overrides)
    step = training_step(cfg, feature_dim, num_classes, device)
    if device.type != "cpu":
        torch.cuda.reset_peak_memory_stats(device)

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


# ------------------------------------------------------------------------------ CUDA: issue 12

TARGET_RATIO, TARGET_FEED_SHARE, TARGET_RUN_S, TARGET_TABLES_S = 1.3, 0.10, 120.0, 600.0


def feeding_times(device: torch.device, n: int = 8, profile: str = "full") -> dict:
    """Seconds per batch of the full SynTHUMOS14 training split fed to ``device``: CPU-built
    batches plus their copy, and device-built batches (features resident)."""
    from ftcl.data import PairBatches, VideoDataset, get_spec, prepare_dataset
    from ftcl.data.device_batches import DevicePairBatches

    t0 = time.perf_counter()
    spec = get_spec("synthumos14", profile)
    root = prepare_dataset("synthumos14", profile)
    ds = VideoDataset(root, "train", spec, sampling="random")
    for vid in ds.video_ids:  # fill the feature cache: steady state of a run
        ds.features(vid)
    out = {"prepare_s": time.perf_counter() - t0}

    def per_batch(batches, copy: bool) -> float:
        it = iter(batches)
        next(it)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(n):
            batch = next(it)
            if copy:
                torch.cat([batch["features_a"], batch["features_b"]]).to(device)
            _sync(device)
        return (time.perf_counter() - t0) / n

    out["cpu_s"] = per_batch(PairBatches(ds, batch_size=16, seed=0), copy=True)
    t0 = time.perf_counter()
    on_device = DevicePairBatches(ds, batch_size=16, seed=0, device=device)
    _sync(device)
    out["resident_s"] = time.perf_counter() - t0
    out["resident_gib"] = on_device.store.nbytes / 2**30
    out["device_s"] = per_batch(on_device, copy=False)
    return out


def _throughput_worker(method: str, iterations: int, barrier, results, device: str = "cuda",
                       size: tuple[int, int] = (750, 2048)) -> None:
    """One process of the runs-per-GPU measurement: ``iterations`` full-size iterations."""
    device = torch.device(device)
    batches = random_batches(2, 16, size[0], size[1], 20, device)
    step = training_step(make_config(method), size[1], 20, device)

    for i in range(3):
        step(batches[i % 2])
    _sync(device)
    barrier.wait()
    for i in range(iterations):
        step(batches[i % 2])
    _sync(device)
    results.put(time.time())


def throughput_against_runs(counts: list[int], iterations: int, method: str = "ftcl",
                            device: str = "cuda", size: tuple[int, int] = (750, 2048)) -> dict:
    """Iterations per second of ``N`` processes training on one GPU at once, for each ``N``."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = {}
    for n in counts:
        barrier, results = ctx.Barrier(n + 1), ctx.Queue()
        work = (method, iterations, barrier, results, device, size)
        procs = [ctx.Process(target=_throughput_worker, args=work) for _ in range(n)]
        for p in procs:
            p.start()
        barrier.wait()
        t0 = time.time()
        ends = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
        out[n] = n * iterations / (max(ends) - t0)
    return out


def full_run(device: torch.device, method: str = "ftcl") -> dict:
    """One whole full-profile run of ``method`` on ``device`` (its record)."""
    from ftcl.train import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = make_config(method, "synthumos14", "full",
                          overrides={"out_dir": tmp, "device": str(device),
                                     "train.progress": False})
        t0 = time.perf_counter()
        record = train(cfg, resume=False)
        record["bench_wall_s"] = time.perf_counter() - t0
    return record


def quick_map_on(device: str, method: str = "ftcl") -> float:
    """Test average mAP of one quick-profile run of ``method`` on ``device``."""
    from ftcl.train import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = make_config(method, "synthumos14", "quick",
                          overrides={"out_dir": tmp, "device": device, "train.progress": False})
        return train(cfg, resume=False)["average_map"]


def cuda_targets(args, rows: list[dict], gpu: torch.device) -> None:
    """Print issue 12's targets next to the measured values (CUDA only)."""
    from ftcl.reproduce.plan import plan

    med = {r["method"]: r["median_s"] for r in rows}
    print("\nIssue 12 targets on " + torch.cuda.get_device_name(gpu))
    if "acmnet" in med and "ftcl" in med:
        ratio = med["ftcl"] / med["acmnet"]
        print(f"  FTCL iteration / ACM-Net iteration at full sizes: {ratio:.2f}x "
              f"(target <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'not met'})")
    if not args.no_full_data:
        feed = feeding_times(gpu)
        it = med.get("ftcl")
        print(f"  full SynTHUMOS14 ready in {feed['prepare_s']:.1f} s; resident on the device: "
              f"{feed['resident_gib']:.2f} GiB copied in {feed['resident_s']:.2f} s")
        for name, key in (("CPU-built + copy", "cpu_s"), ("device-built", "device_s")):
            line = f"  data feeding, {name}: {1e3 * feed[key]:.2f} ms/batch"
            if it:
                share = feed[key] / (feed[key] + it)
                line += (f", {100 * share:.1f} % of a full-size FTCL iteration (target <= "
                         f"{100 * TARGET_FEED_SHARE:.0f} %: "
                         f"{'met' if share <= TARGET_FEED_SHARE else 'not met'})")
            print(line)
    speed = throughput_against_runs(args.runs_per_gpu, args.throughput_iterations)
    for n, ips in speed.items():
        print(f"  runs per GPU N={n}: {ips:.1f} FTCL iterations/s in all "
              f"({ips / speed[min(speed)]:.2f}x N={min(speed)})")
    if args.no_run or args.no_full_data:
        print("  one full-profile run: skipped (--no-run or --no-full-data)")
    else:
        record = full_run(gpu)
        wall, w = record["bench_wall_s"], record["wall_time_s"]
        print(f"  one full-profile FTCL run ({record['iterations']} iterations with its "
              f"evaluations): {wall:.1f} s (stage 1 {w['stage1']:.1f} s, stage 2 "
              f"{w['stage2']:.1f} s, selection {w['selection']:.1f} s, test {w['test']:.1f} s; "
              f"target <= {TARGET_RUN_S:.0f} s: {'met' if wall <= TARGET_RUN_S else 'not met'}); "
              f"test average mAP {100 * record['average_map']:.2f}%")
        n_runs = len([r for r in plan("full", seeds=(0, 1, 2))
                      if r.dataset.startswith("syn")])
        best = max(speed, key=speed.get)
        projected = n_runs * wall / (speed[best] / speed[min(speed)])
        print(f"  projected Tables 1-5 (synthetic, full profile, 3 seeds, {n_runs} runs) at "
              f"N={best} runs per GPU: {projected / 60:.1f} min (a projection from one run and "
              f"the iteration throughput, stage-1 sharing ignored; target <= "
              f"{TARGET_TABLES_S / 60:.0f} min)")
    if args.no_run:
        print("  CPU vs CUDA mAP: skipped (--no-run)")
    else:
        cpu_map, gpu_map = quick_map_on("cpu"), quick_map_on(str(gpu))
        print(f"  one quick FTCL run, test average mAP: CPU {100 * cpu_map:.2f}%, CUDA "
              f"{100 * gpu_map:.2f}%, difference {100 * (gpu_map - cpu_map):+.2f} points "
              "(expected: within seed noise, not bitwise)")


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
    parser.add_argument("--no-full-data", action="store_true",
                        help="CUDA: skip what needs the full SynTHUMOS14 (feeding share, full run)")
    parser.add_argument("--runs-per-gpu", type=int, nargs="+", default=[1, 2, 4, 8],
                        metavar="N", help="CUDA: numbers of processes sharing the GPU to time")
    parser.add_argument("--throughput-iterations", type=int, default=30,
                        help="CUDA: iterations per process in the runs-per-GPU measurement")
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
        rows = [time_iterations(m, fb, 2048, 20, {}, gpu, args.full_steps, profile="full")
                for m in args.methods]
        ftcl_full = make_config("ftcl", "synthumos14", "full")
        print_table(rows, f"Per-iteration cost, full profile (T=750, D=2048; the full model: "
                          f"embedding {ftcl_full.model.embed_dim or 2048}, FTCL projection "
                          f"{ftcl_full.ftcl.proj_dim}, J={ftcl_full.ftcl.lcs_len}), "
                          f"{torch.cuda.get_device_name(0)} (median of {args.full_steps})")
        n = full.train.pretrain_iterations + full.train.iterations
        for r in rows:
            if r["method"] in ("acmnet", "ftcl"):
                print(f"projected full-profile {r['method']} training ({n} iterations, no "
                      f"evaluation): {n * r['median_s'] / 60:.1f} min")
        cuda_targets(args, rows, gpu)
    else:
        print("\nCUDA rows skipped (no CUDA device): full-size iteration table and FTCL/ACM-Net "
              "ratio, data-feeding share, throughput against runs per GPU, one full-profile run, "
              "CPU-vs-CUDA mAP (issue 12's targets)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
