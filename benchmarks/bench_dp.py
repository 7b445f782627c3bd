"""Speed and memory of the DP engine (``ftcl.dp``) against the release's semantics.

Usage::

    python benchmarks/bench_dp.py                 # B=16, L in {5, 30, 64, 128, 256, 750}
    python benchmarks/bench_dp.py --quick         # L in {5, 30}, fewer repeats
    python benchmarks/bench_dp.py --sizes 30 128 --json results/bench_dp.json

**Speed-ups (first table) time what training calls.** The engine side is the loss path of
training, :func:`ftcl.losses.contrast.sequence_score` with the full profile's FTCL configuration
(``make_config("ftcl", "synthumos14", "full").ftcl``: gamma = 10, tau = 0.92, FSD normalised by
its bound, LCS by J, the backend training picks), forward + backward, on ``B`` pairs of candidate
features at the release's widths: the FSD slot compares the 1024-d projections (the release's
single Linear 2048 -> 1024, ``mu`` from the first 512 dims, ``g`` from the last 512), the LCS
slot the 2048-d embeddings. The **baseline with the release's semantics** takes the same
features: its ``dp_for_fsd`` and ``dp_for_lcs`` re-written for this benchmark (not copied): one
pair at a time, a Python double loop over cells, FSD cells written through a mask rebuilt in
numpy per cell (the release's ``assign2Tensor``), LCS cells written in place with the strict test
``c > 0.92``, the cosine similarities computed inside, autograd through everything. Both sides
are timed warm (one call first, not timed) and reported as the median of at least
``--baseline-repeats`` (>= 5) calls. The baseline runs on the whole batch up to
``--baseline-full`` (default 30); up to ``--baseline-pair`` (default 64) one pair is timed the
same way and multiplied by ``B`` (marked "est."); larger sizes would take many minutes and are
skipped. Training's own sizes are FSD at L = ``fsd_len`` = 5 and LCS at L = ``lcs_len`` = 30.

The second table times the DP alone on random score matrices with each backend (numba,
wavefront), median (minimum) of ``--repeats``.

Memory: the working memory of the engine per call, measured with ``tracemalloc`` for the numba
backend (its numpy arrays) and computed from the array shapes for the wavefront backend; the
column "bytes / (B M N)" stays flat as ``L`` grows, i.e. memory is ``O(B M N)``. The baseline's
autograd graph keeps a full table per cell, ``O(M^2 N^2)`` per pair (measured with saved-tensor
hooks on one pair).

When a CUDA device is present the wavefront backend is also timed on it (with synchronisation)
and its peak memory read from ``torch.cuda.max_memory_allocated``; a last table times the fused
GPU kernel (:mod:`ftcl.dp.cuda_kernels`) at the issue's sizes, L = 30 and 750, against its
targets (without CUDA it says it is skipped). Times on a shared machine are noisy: the 1-minute
load average is printed with the tables.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from ftcl import dp
from ftcl.config import make_config
from ftcl.dp.recursion import FSD, LCS
from ftcl.losses.contrast import sequence_score

#: What training uses: the full profile's FTCL configuration (the release's sizes and widths).
TRAIN_FTCL = make_config("ftcl", "synthumos14", "full").ftcl
GAMMA = TRAIN_FTCL.gamma  # the paper's gamma = 10 (the release's maxGamma temperature 0.1)
TAU = TRAIN_FTCL.tau  # the release's LCS threshold (--thres default) 0.92
#: Width of the candidates each DP compares in the release: FSD the 1024-d projections (mu and g
#: from their 512-d halves), LCS the 2048-d embeddings.
DIMS = {"fsd": TRAIN_FTCL.proj_dim, "lcs": 2048}
#: The sizes training calls them at: FSD proposals of fsd_len snippets, LCS over lcs_len.
TRAINING_L = {"fsd": TRAIN_FTCL.fsd_len, "lcs": TRAIN_FTCL.lcs_len}


# ----------------------------------------------------------------------------- the baseline
# The release's semantics, written for this benchmark from a reading of its
# utils/ftcl_criterion.py and utils/net_utils.py (MengyuanChen21/CVPR2022-FTCL), not copied:
# - FSD (dp_for_fsd, fsd_len = 5): per pair, mu = cosine similarity of the first halves of the
#   candidates' features, g = that of the second halves, used for both gap moves; each cell is a
#   log-sum-exp smooth max (temperature 0.1) of three scalars, written into the table through a
#   mask rebuilt in numpy and copied to the device for every cell (the release's assign2Tensor);
# - LCS (dp_for_lcs, lcs_len = 30): per pair, the cosine similarity matrix of the candidates,
#   then cells written in place (C[i, j] = ...) with the strict test c > 0.92 and Python's max.
# Both take the candidates' *features* and include the similarity computation, so the engine is
# timed end to end on the same features (columns "end to end") as well as on the DP alone.


def _cosine(a, b):
    a = a / torch.linalg.vector_norm(a, ord=2, dim=1, keepdim=True)
    b = b / torch.linalg.vector_norm(b, ord=2, dim=1, keepdim=True)
    return a @ b.T


def _smooth_max(x, temperature=1.0 / GAMMA):
    z = x / temperature
    top = torch.max(z)
    return temperature * (top + torch.log(torch.sum(torch.exp(z - top))))


def _mask_write(table, i, j, value):
    keep = np.ones(tuple(table.shape), dtype=np.float32)
    keep[i, j] = 0
    keep = torch.tensor(keep, dtype=torch.float32, device=table.device)
    return table * keep + value * (1 - keep)


def release_fsd_pair(a, b):
    half = b.shape[-1] // 2
    mu, g = _cosine(a[:, :half], b[:, :half]), _cosine(a[:, half:], b[:, half:])
    m, n = mu.shape
    C = torch.zeros(m + 1, n + 1, device=a.device)
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            cands = torch.stack([C[i - 1, j - 1], g[i - 1, j - 1] + C[i - 1, j],
                                 g[i - 1, j - 1] + C[i, j - 1]])
            C = _mask_write(C, i, j, mu[i - 1, j - 1] + _smooth_max(cands))
    return C[-1, -1]


def release_lcs_pair(a, b, tau=TAU):
    c = _cosine(a, b)
    m, n = c.shape
    C = torch.zeros(m + 1, n + 1, device=a.device)
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            if c[i - 1, j - 1] > tau:
                C[i, j] = C[i - 1, j - 1] + c[i - 1, j - 1]
            else:
                C[i, j] = max(C[i - 1, j], C[i, j - 1])
    return C[-1, -1]


def baseline(kind, feats, pairs=None):
    """Forward + backward of the release-semantics baseline over the first ``pairs`` pairs."""
    a, b = feats
    n = a.shape[0] if pairs is None else pairs
    pair = release_fsd_pair if kind == "fsd" else release_lcs_pair
    total = sum(pair(a[k], b[k]) for k in range(n))
    total.backward()


def baseline_saved_bytes(kind, feats):
    """Bytes of the tensors the baseline's autograd graph keeps for one pair."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        seen[key] = t.untyped_storage().nbytes()
        return t

    pair = release_fsd_pair if kind == "fsd" else release_lcs_pair
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        value = pair(feats[0][0], feats[1][0])
    del value
    return sum(seen.values())


def make_features(n_batch, size, dim, device="cpu", seed=0):
    """Candidate features ``a, b`` ``[B, L, dim]``: each row of ``b`` is, with probability 1/2, a
    noisy copy of a random row of ``a`` (cosine about 0.98, above tau) and otherwise independent
    (cosine about 0), so both LCS branches are taken, as with trained embeddings."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n_batch, size, dim, generator=gen)
    pick = torch.randint(0, size, (n_batch, size), generator=gen)
    copy = a[torch.arange(n_batch)[:, None], pick] + 0.2 * torch.randn(n_batch, size, dim,
                                                                       generator=gen)
    fresh = torch.randn(n_batch, size, dim, generator=gen)
    b = torch.where(torch.rand(n_batch, size, 1, generator=gen) < 0.5, copy, fresh)
    return [x.to(device).requires_grad_() for x in (a, b)]


def loss_path(kind, feats):
    """What training calls: :func:`ftcl.losses.contrast.sequence_score` (similarities, the DP
    with training's backend, the normalisation), then backward."""
    score, _ = sequence_score(kind, feats[0], feats[1], TRAIN_FTCL)
    score.sum().backward()


# ----------------------------------------------------------------------------- the engine


def make_inputs(kind, n_batch, size, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = (n_batch, size, size)
    if kind == "fsd":
        xs = [torch.randn(shape, generator=gen) * 0.5 for _ in range(3)]
    else:
        xs = [torch.rand(shape, generator=gen)]
    return [x.to(device).requires_grad_() for x in xs]


def engine(kind, inputs, backend):
    if kind == "fsd":
        value = dp.fsd(*inputs, gamma=GAMMA, backend=backend)
    else:
        value = dp.lcs(inputs[0], tau=TAU, backend=backend)
    value.sum().backward()


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn, device, repeats, budget_s, min_runs=1):
    """Median and min seconds of ``fn``: one warm-up call (not timed), then up to ``repeats``
    timed calls, stopping past ``budget_s`` once ``min_runs`` calls are timed."""
    fn()
    _sync(device)
    times = []
    start = time.perf_counter()
    for _ in range(max(repeats, min_runs)):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s and len(times) >= min_runs:
            break
    return statistics.median(times), min(times)


def numba_peak_bytes(kind, inputs):
    tracemalloc.start()
    tracemalloc.reset_peak()
    engine(kind, inputs, "numba")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def wavefront_bytes(kind, n_batch, size, itemsize):
    """Array sizes the wavefront backend allocates (skewed ``[M+N+1, M+1]`` layout)."""
    rec = FSD if kind == "fsd" else LCS
    skewed = (2 * size + 1) * (size + 1)
    # table + adjoint (S each), edge weights, skewed scores and their gradient (K each)
    per_pair = skewed * (2 * len(rec.states) + len(rec.edges) + 2 * rec.n_weights)
    per_pair += rec.n_weights * (size * size + (size + 1) ** 2)  # stacked and padded scores
    return n_batch * per_pair * itemsize


def cuda_run(kind, n_batch, size, repeats, budget_s):
    device = torch.device("cuda")
    inputs = make_inputs(kind, n_batch, size, device)
    torch.cuda.reset_peak_memory_stats(device)
    med, best = timeit(lambda: engine(kind, inputs, "wavefront"), device, repeats, budget_s)
    return med, best, torch.cuda.max_memory_allocated(device)


# ----------------------------------------------------------------------------- report


# ----------------------------------------------------------------------------- fused GPU kernel
# Issue 12 targets (H200, 16 pairs, forward + backward): L=30 <= 0.5 ms, L=750 <= 20 ms.
KERNEL_TARGETS_MS = {30: 0.5, 750: 20.0}


def fused_kernel_rows(kinds, n_batch, repeats, budget_s):
    """Fused numba.cuda kernel (``backend="cuda"``) against the torch wavefront on CUDA and the
    numba kernel on the CPU, at the issue's sizes; ``[]`` without CUDA (or without NVVM)."""
    from ftcl.dp import cuda_kernels

    if not torch.cuda.is_available():
        print("\n## Fused GPU kernel: skipped (no CUDA device; its logic is tested in numba's "
              "CUDA simulator, tests/dp/test_dp_gpu_kernel.py)")
        return []
    if not cuda_kernels.usable():
        print("\n## Fused GPU kernel: skipped (numba.cuda cannot compile here: no NVVM; "
              "pip install -e '.[cuda]')")
        return []
    device, cpu = torch.device("cuda"), torch.device("cpu")
    rows = []
    for size in KERNEL_TARGETS_MS:
        for kind in kinds:
            on_gpu = make_inputs(kind, n_batch, size, device)
            on_cpu = make_inputs(kind, n_batch, size, cpu)
            row = {"L": size, "dp": kind, "B": n_batch, "target_ms": KERNEL_TARGETS_MS[size]}
            row["kernel_s"], row["kernel_min_s"] = timeit(
                lambda x=on_gpu, k=kind: engine(k, x, "cuda"), device, repeats, budget_s)
            row["wavefront_cuda_s"], _ = timeit(
                lambda x=on_gpu, k=kind: engine(k, x, "wavefront"), device, repeats, budget_s)
            row["numba_s"], _ = timeit(lambda x=on_cpu, k=kind: engine(k, x, "numba"), cpu,
                                       repeats, budget_s)
            for x in on_gpu + on_cpu:
                x.grad = None
            engine(kind, on_gpu, "cuda")
            engine(kind, on_cpu, "numba")
            row["max_abs_grad_diff"] = max(float((a.grad.cpu() - b.grad).abs().max())
                                           for a, b in zip(on_gpu, on_cpu, strict=True))
            rows.append(row)
    print(f"\n## Fused GPU kernel (ftcl.dp.cuda_kernels), {torch.cuda.get_device_name(0)}, "
          f"B={n_batch}, forward + backward\n")
    print("| L | DP | fused kernel (CUDA) | target | met | wavefront (CUDA) | numba (CPU) "
          "| max abs grad diff vs numba |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        met = "yes" if 1e3 * r["kernel_s"] <= r["target_ms"] else "no"
        print(f"| {r['L']} | {r['dp']} | {fmt_ms(r['kernel_s'])} ({fmt_ms(r['kernel_min_s'])}) "
              f"| <= {r['target_ms']} | {met} | {fmt_ms(r['wavefront_cuda_s'])} "
              f"| {fmt_ms(r['numba_s'])} | {r['max_abs_grad_diff']:.2e} |")
    return rows


def fmt_ms(seconds):
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 30, 64, 128, 256, 750],
                        help="L (training: fsd_len 5, lcs_len 30)")
    parser.add_argument("--quick", action="store_true", help="L in {5, 30}, fewer repeats")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls of the engine")
    parser.add_argument("--baseline-repeats", type=int, default=5,
                        help="timed calls of the baseline and of the loss path (at least 5)")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--baseline-full", type=int, default=30,
                        help="run the baseline on the whole batch up to this L")
    parser.add_argument("--baseline-pair", type=int, default=64,
                        help="estimate the baseline from one pair up to this L")
    parser.add_argument("--kinds", nargs="+", default=["fsd", "lcs"], choices=["fsd", "lcs"])
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--kernel-only", action="store_true",
                        help="only the fused GPU kernel table (L = 30 and 750; needs CUDA)")
    args = parser.parse_args(argv)
    if args.baseline_repeats < 5:
        parser.error("--baseline-repeats must be at least 5 (a median of >= 5 calls)")
    if args.quick:
        args.sizes, args.repeats, args.budget = [5, 30], 5, 1.0
    return args


def speed_row(kind, size, args):
    """Training's loss path and the release-semantics baseline on the same features, both warm,
    median of >= ``args.baseline_repeats`` calls."""
    cpu = torch.device("cpu")
    feats = make_features(args.batch, size, DIMS[kind])
    reps = args.baseline_repeats
    row = {"L": size, "dp": kind, "B": args.batch, "dim": DIMS[kind],
           "training_size": size == TRAINING_L[kind]}
    row["loss_path_s"], row["loss_path_min_s"] = timeit(
        lambda: loss_path(kind, feats), cpu, max(reps, args.repeats), args.budget, min_runs=reps)
    row["baseline_s"], row["baseline_how"] = None, "skipped (minutes)"
    if size <= args.baseline_full:
        row["baseline_s"], _ = timeit(lambda: baseline(kind, feats), cpu, reps, 0.0, reps)
        row["baseline_how"] = f"median of {reps}"
    elif size <= args.baseline_pair:
        one, _ = timeit(lambda: baseline(kind, feats, pairs=1), cpu, reps, 0.0, reps)
        row["baseline_s"] = one * args.batch
        row["baseline_how"] = f"est.: 1 pair (median of {reps}) x {args.batch}"
    if row["baseline_s"] is not None:
        row["baseline_saved_bytes_per_pair"] = baseline_saved_bytes(kind, feats)
        row["speedup"] = row["baseline_s"] / row["loss_path_s"]
    return row


def engine_row(kind, size, args, has_cuda):
    """The DP alone on random score matrices: each CPU backend, memory, CUDA if present."""
    cpu = torch.device("cpu")
    inputs = make_inputs(kind, args.batch, size, cpu)
    row = {}
    for backend in ("numba", "wavefront"):
        reps = args.repeats if backend == "numba" else max(3, args.repeats // 4)
        row[f"{backend}_s"], row[f"{backend}_min_s"] = timeit(
            lambda b=backend: engine(kind, inputs, b), cpu, reps, args.budget)
    row["numba_bytes"] = numba_peak_bytes(kind, inputs)
    row["wavefront_bytes"] = wavefront_bytes(kind, args.batch, size, 4)
    if has_cuda:
        med, best, peak = cuda_run(kind, args.batch, size, args.repeats, args.budget)
        row["cuda_s"], row["cuda_min_s"], row["cuda_peak_bytes"] = med, best, peak
    return row


def print_speed_table(rows, args):
    print(f"\n## What training calls: loss path vs the release's semantics, B = {args.batch} "
          f"pairs, float32\n")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU count "
          f"{os.cpu_count()}, 1-minute load average {os.getloadavg()[0]:.2f}; times in ms, "
          f"warm, median of >= {args.baseline_repeats} calls on both sides.\n")
    print(f"loss path = ftcl.losses.contrast.sequence_score (training's configuration: "
          f"gamma = {GAMMA:g}, tau = {TAU:g}, normalised; backend 'auto') + backward; baseline = "
          f"the release's FSD/LCS functions re-written here (per pair, cell loops, masked writes "
          f"for FSD, in-place writes for LCS, cosine similarities included). Features: FSD "
          f"{DIMS['fsd']}-d projections, LCS {DIMS['lcs']}-d embeddings (the release's widths). "
          f"* = the size training calls (FSD fsd_len = {TRAINING_L['fsd']}, "
          f"LCS lcs_len = {TRAINING_L['lcs']}).\n")
    print("| L | DP | features | baseline (release semantics) | loss path (ftcl) "
          "| speed-up |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        base = r["baseline_s"]
        base_txt = "skipped (minutes)" if base is None else f"{fmt_ms(base)} ({r['baseline_how']})"
        speed = "-" if base is None else f"{r['speedup']:,.0f}x"
        star = "*" if r["training_size"] else ""
        print(f"| {r['L']}{star} | {r['dp']} | {r['dim']}-d | {base_txt} "
              f"| {fmt_ms(r['loss_path_s'])} ({fmt_ms(r['loss_path_min_s'])}) | {speed} |")


def print_engine_tables(rows, has_cuda):
    print("\n## The DP alone (random score matrices), forward + backward, median (min) ms\n")
    head = "| L | DP | wavefront (CPU) | numba (CPU) |" + (" wavefront (CUDA) |" if has_cuda
                                                          else "")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        line = (f"| {r['L']} | {r['dp']} | {fmt_ms(r['wavefront_s'])} "
                f"({fmt_ms(r['wavefront_min_s'])}) | {fmt_ms(r['numba_s'])} "
                f"({fmt_ms(r['numba_min_s'])}) |")
        if has_cuda:
            line += f" {fmt_ms(r['cuda_s'])} ({fmt_ms(r['cuda_min_s'])}) |"
        print(line)
    print("\n## Working memory per call\n")
    head = "| L | DP | numba (MB, tracemalloc) | bytes / (B M N) | wavefront (MB, analytic) "
    head += "| bytes / (B M N) | baseline graph, 1 pair (MB) |"
    if has_cuda:
        head += " CUDA peak (MB) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        bmn = r["B"] * r["L"] * r["L"]
        saved = r.get("baseline_saved_bytes_per_pair")
        line = (f"| {r['L']} | {r['dp']} | {r['numba_bytes'] / 2**20:,.1f} | "
                f"{r['numba_bytes'] / bmn:.0f} | {r['wavefront_bytes'] / 2**20:,.1f} | "
                f"{r['wavefront_bytes'] / bmn:.0f} | "
                f"{'-' if saved is None else f'{saved / 2**20:,.1f}'} |")
        if has_cuda:
            line += f" {r['cuda_peak_bytes'] / 2**20:,.1f} |"
        print(line)


def main(argv=None):
    args = parse_args(argv)
    if args.kernel_only:
        fused_kernel_rows(args.kinds, args.batch, args.repeats, args.budget)
        return
    torch.manual_seed(0)
    has_cuda = torch.cuda.is_available()
    rows = []
    for size in args.sizes:
        for kind in args.kinds:
            row = speed_row(kind, size, args)
            row.update(engine_row(kind, size, args, has_cuda))
            rows.append(row)
            print(f"[bench_dp] L={size} {kind}: done", file=sys.stderr, flush=True)
    print_speed_table(rows, args)
    print_engine_tables(rows, has_cuda)
    kernel_rows = fused_kernel_rows(args.kinds, args.batch, args.repeats, args.budget)
    if args.json is not None:
        from ftcl.io import atomic_write_json
        from ftcl.provenance import provenance

        record = {
            "rows": rows,
            "fused_kernel_rows": kernel_rows,
            "args": {k: str(v) for k, v in vars(args).items()},
            "load_average_1min": os.getloadavg()[0],
            "provenance": provenance(device="cuda" if has_cuda else "cpu"),
        }
        atomic_write_json(args.json, record)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
