"""Data benchmark: generation time per profile, evaluation time on a full test split, probes.

Usage::

    python benchmarks/bench_data.py            # generation + evaluation timings (table)
    python benchmarks/bench_data.py --probe    # + the calibration probes of the generator
    python benchmarks/bench_data.py --full-videos 40   # videos used to estimate the full profiles

Timings are wall-clock on this machine (2 shared CPU cores: noisy). The full profiles are not
generated whole (about 1.1 GB for SynTHUMOS14, 4.5 GB for SynANet): a subset of videos is
generated and the time is extrapolated by the number of snippets.

Probes (``--probe``; quick profiles, seed 0, through :func:`ftcl.evaluation.localize.localize` and
:func:`ftcl.evaluation.metrics.detection_map`):

- ``supervised``: a linear snippet classifier (C + 1 classes with background) trained with the
  snippet-level ground truth: an upper bound no weakly-supervised method should reach;
- ``shuffled``: the same trained on snippet labels shuffled across the training set: no signal;
- ``weak-mil``: a linear CAS trained from video labels only (top-k pooling to the video labels,
  bottom-k to background): a crude weakly-supervised baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ftcl.data import VideoDataset, generate_synthetic, get_spec, load_snippet_labels
from ftcl.data.synthetic import source_annotations
from ftcl.evaluation.localize import localize
from ftcl.evaluation.metrics import average_map, detection_map


def time_generation(name: str, profile: str, n_videos: int | None, tmp: Path) -> dict:
    spec = get_spec(name, profile)
    _, splits, durations = source_annotations(spec)
    all_ids = splits["train"] + splits["test"]
    ids = None if n_videos is None else all_ids[:: max(1, len(all_ids) // n_videos)][:n_videos]
    out = tmp / f"{name}-{profile}"
    t0 = time.perf_counter()
    meta = generate_synthetic(spec, out, seed=0, video_ids=ids)
    dt = time.perf_counter() - t0
    snips = sum(c["snippets"] for c in meta["counts"].values())
    total_snips = sum(int(durations[v] * spec.fps / spec.frames_per_snippet) for v in all_ids)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    scale = total_snips / max(snips, 1)
    return {
        "dataset": f"{name}/{profile}",
        "D": spec.feature_dim,
        "videos": f"{len(ids) if ids else len(all_ids)}/{len(all_ids)}",
        "seconds": dt * scale,
        "GB": size * scale / 1e9,
        "estimated": ids is not None,
        "root": out,
    }


def fake_predictions(gt: pd.DataFrame, per_gt: int, rng: np.random.Generator) -> pd.DataFrame:
    """Jittered copies of every instance plus random false positives (about per_gt per instance)."""
    rows = []
    classes = gt["label"].unique()
    for r in gt.itertuples(index=False):
        s, e = r[1], r[2]
        length = max(e - s, 0.1)
        for _ in range(per_gt):
            js, je = rng.normal(0, 0.3 * length, 2)
            s2, e2 = s + js, max(s + js + 0.05, e + je)
            lab = r[3] if rng.random() < 0.8 else rng.choice(classes)
            rows.append((r[0], s2, e2, lab, rng.random()))
    return pd.DataFrame(rows, columns=["video-id", "t-start", "t-end", "label", "score"])


# ------------------------------------------------------------------------------------------------
# probes
# ------------------------------------------------------------------------------------------------


def _snippet_training_set(ds: VideoDataset, shuffle: bool, rng: np.random.Generator):
    xs, ys = [], []
    for vid in ds.video_ids:
        x = ds.features(vid)
        lab = load_snippet_labels(ds.root, ds.split, vid)
        y = np.where(lab[:, 3] == 1, lab[:, 0], ds.spec.num_classes)  # action class or background
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys).astype(np.int64)
    if shuffle:
        y = rng.permutation(y)
    return torch.from_numpy(x), torch.from_numpy(y)


def _fit_linear(x, y, n_out, epochs=300, lr=0.05):
    torch.manual_seed(0)
    lin = torch.nn.Linear(x.shape[1], n_out)
    opt = torch.optim.Adam(lin.parameters(), lr=lr)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xn = (x - mu) / sd
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(xn), y)
        loss.backward()
        opt.step()
    return lambda f: lin((f - mu) / sd)


def _fit_weak(train: VideoDataset, epochs=60, lr=0.01):
    torch.manual_seed(0)
    spec = train.spec
    c = spec.num_classes
    lin = torch.nn.Linear(spec.feature_dim, c + 1)
    opt = torch.optim.Adam(lin.parameters(), lr=lr, weight_decay=1e-4)
    k = max(1, spec.num_segments // 8)
    for epoch in range(epochs):
        train.set_epoch(epoch)
        batch = [train[i] for i in range(len(train))]
        f = torch.stack([b["features"] for b in batch])
        y = torch.stack([b["labels"] for b in batch])
        z = lin(f)  # [B, T, C+1]
        top = z.topk(k, dim=1).values.mean(1)
        bot = (-z[..., c]).topk(k, dim=1).indices  # most background-like snippets
        bot_z = torch.gather(z, 1, bot[..., None].expand(-1, -1, c + 1)).mean(1)
        y_top = torch.cat([y, torch.zeros(len(y), 1)], 1)
        y_top = y_top / y_top.sum(1, keepdim=True)
        y_bot = torch.zeros_like(y_top)
        y_bot[:, c] = 1
        loss = (
            -(y_top * top.log_softmax(1)).sum(1).mean()
            - (y_bot * bot_z.log_softmax(1)).sum(1).mean()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return lin


def _evaluate(test: VideoDataset, logits_fn) -> np.ndarray:
    spec = test.spec
    c = spec.num_classes
    k = max(1, spec.num_segments // 8)
    cas, att, vs, ns = [], [], [], []
    with torch.no_grad():
        for i in range(len(test)):
            item = test[i]
            p = logits_fn(item["features"]).softmax(-1)
            cas.append(p[:, :c])
            att.append(1 - p[:, c])
            vs.append(p[:, :c].topk(k, dim=0).values.mean(0) / (1 - p[:, c]).topk(k).values.mean())
            ns.append(item["n_snippets"])
    vs = torch.stack(vs).clamp(0, 1)
    pred = localize(torch.stack(cas), torch.stack(att), vs, test.video_ids, ns, spec.classes, spec)
    return detection_map(
        test.ground_truth(), pred, spec.tiou_thresholds, allow_empty=True, unknown_labels="ignore"
    )


def run_probes(name: str, root: Path) -> list[dict]:
    spec = get_spec(name, "quick")
    train = VideoDataset(root, "train", spec, sampling="random")
    test = VideoDataset(root, "test", spec, sampling="uniform")
    rng = np.random.default_rng(0)
    out = []
    for label, shuffle in (("supervised", False), ("shuffled", True)):
        x, y = _snippet_training_set(train, shuffle, rng)
        fn = _fit_linear(x, y, spec.num_classes + 1)
        maps = _evaluate(test, fn)
        out.append({"dataset": name, "probe": label, "maps": maps, "spec": spec})
    lin = _fit_weak(train)
    out.append({"dataset": name, "probe": "weak-mil", "maps": _evaluate(test, lin), "spec": spec})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe", action="store_true", help="run the calibration probes")
    ap.add_argument("--full-videos", type=int, default=20, help="videos to time the full profiles")
    ap.add_argument("--skip-full", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        for name in ("synthumos14", "synanet"):
            rows.append(time_generation(name, "quick", None, tmp))
            if not args.skip_full:
                rows.append(time_generation(name, "full", args.full_videos, tmp))
        print("\nGeneration (seed 0)")
        print(f"{'dataset':20s} {'D':>5s} {'videos':>10s} {'seconds':>9s} {'GB':>7s}")
        for r in rows:
            est = " (estimated from a subset)" if r["estimated"] else ""
            print(
                f"{r['dataset']:20s} {r['D']:5d} {r['videos']:>10s} {r['seconds']:9.2f} "
                f"{r['GB']:7.3f}{est}"
            )

        spec = get_spec("synthumos14", "quick")
        test = VideoDataset(rows[0]["root"], "test", spec)
        gt = test.ground_truth()
        preds = fake_predictions(gt, 10, np.random.default_rng(0))
        first = gt["label"].iloc[0]
        t0 = time.perf_counter()  # the first call compiles the matching loop (numba, cached)
        detection_map(gt[gt["label"] == first], preds[preds["label"] == first], [0.5])
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        maps = detection_map(gt, preds, spec.tiou_thresholds)
        dt = time.perf_counter() - t0
        print("\nEvaluation (THUMOS14 test ground truth, synthetic predictions)")
        print(
            f"ground truth {len(gt)} instances, predictions {len(preds)}, thresholds "
            f"{len(spec.tiou_thresholds)}: {dt:.2f} s (mAP@0.5 of the fake predictions "
            f"{maps[4]:.3f}); first call incl. compilation {compile_s:.2f} s"
        )

        if args.probe:
            print("\nProbes (quick profiles, seed 0): detection mAP (%)")
            for name, root in (
                ("synthumos14", rows[0]["root"]),
                ("synanet", rows[2 if not args.skip_full else 1]["root"]),
            ):
                for r in run_probes(name, root):
                    s = r["spec"]
                    avg = average_map(r["maps"], s.tiou_thresholds, s.map_average_range)
                    cols = " ".join(f"{100 * m:5.1f}" for m in r["maps"])
                    lo, hi = s.map_average_range
                    print(f"{name:12s} {r['probe']:10s} avg({lo}-{hi}) {100 * avg:5.1f} | {cols}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
