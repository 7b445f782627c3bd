"""The fair-experiment studies of issue 10 (SynTHUMOS14 quick; held-out videos for every choice).

Usage::

    python benchmarks/fair_experiment.py lr       # stage-2 lr/schedule of ACM-Net (seeds 0-2)
    python benchmarks/fair_experiment.py lambda   # lambda per backbone from LAMBDA_GRID (seeds 0-1)
    python benchmarks/fair_experiment.py compare  # ACM-Net, FTCL, paper form, controls (seeds 0-2)
    python benchmarks/fair_experiment.py purity --out DIR  # proposals of a compare's last models
    options: --seeds 0 1 2  --workers 2  --out /tmp/ftcl-fair  --results results/fair-experiment

Every run is an ordinary :func:`ftcl.train.train` run (runs with the same seed share the stage-1
checkpoint and the batches, so differences are paired by seed). The ``lr`` study trains ACM-Net
only and reads held-out numbers only; the ``lambda`` study reads held-out numbers only; the test
split appears only in ``compare``, which chooses nothing. Each study writes a JSON summary to
``--results`` (atomic).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ftcl.config import LAMBDA_GRID, make_config
from ftcl.io import atomic_write_json
from ftcl.paths import portable_path

# Stage-2 learning rates/schedules tried for ACM-Net (stage 1 stays at the quick profile's 2e-3).
LR_CANDIDATES = [(2e-3, "constant"), (5e-4, "constant"), (2e-4, "constant"),
                 (1e-4, "constant"), (2e-4, "cosine"), (5e-5, "constant"), (2e-5, "constant"),
                 (2e-4, "warmup-cosine")]
# FTCL variants run beside the methods (same seeds, same stage 1).
VARIANTS = {
    "ftcl-release-background": {"ftcl.background": "release"},
    "ftcl-release-acmloss-lcs": {"ftcl.lcs_threshold_form": "release-acmloss"},
    # the defaults before issue 10: raw terms, release lambdas, release background, ACMLoss LCS
    "ftcl-previous-default": {"ftcl.term_scale": "raw", "ftcl.lambda_fsd": 0.8,
                              "ftcl.lambda_lcs": 0.1, "ftcl.background": "release",
                              "ftcl.lcs_threshold_form": "release-acmloss"},
}
EXTRA: dict = {}  # --set overrides for every run of a study (e.g. train.stage2_lr=2e-3)
COMPARE_METHODS = ["acmnet", "ftcl", "ftcl-paper-form", "control-meanpool",
                   "control-shuffled-pairs", "control-stage1-only"]


def _run(job: tuple[str, int, dict, str, str]) -> dict:
    import torch

    from ftcl.train import train

    method, seed, overrides, name, out = job
    torch.set_num_threads(1)
    cfg = make_config(method, "synthumos14", "quick", seed=seed, out_dir=out, run_name=name,
                      overrides={"train.progress": False, **overrides})
    return train(cfg)


def _run_all(jobs, workers: int) -> list[dict]:
    # --set overrides travel inside each job (not through a global: any start method works).
    jobs = [(m, s, {**o, **EXTRA}, n, out) for m, s, o, n, out in jobs]
    # One run first: it generates the cached data set and stage-1 checkpoints are then shared.
    first = [_run(jobs[0])]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return first + list(pool.map(_run, jobs[1:]))


def _holdout(record: dict) -> dict[int, float]:
    return {h["iteration"]: h["holdout"]["average_map"] for h in record["history"]
            if "holdout" in h}


def _mean_sd(values) -> list[float]:
    values = np.asarray(values, dtype=float)
    return [float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0]


def study_lr(args) -> dict:
    jobs = [("acmnet", s, {"train.stage2_lr": lr, "train.stage2_schedule": sched},
             f"lr-{lr:g}-{sched}", args.out) for lr, sched in LR_CANDIDATES for s in args.seeds]
    records = _run_all(jobs, args.workers)
    rows = []
    for lr, sched in LR_CANDIDATES:
        recs = [r for r in records if r["run_name"] == f"lr-{lr:g}-{sched}"]
        curves = [_holdout(r) for r in recs]
        last = max(curves[0])
        rows.append({
            "stage2_lr": lr, "stage2_schedule": sched, "seeds": [r["seed"] for r in recs],
            "holdout_iter0": [c[0] for c in curves],
            "holdout_last": [c[last] for c in curves],
            "holdout_curves": curves,
            "last_minus_iter0": _mean_sd([c[last] - c[0] for c in curves]),
            "max_minus_iter0": _mean_sd([max(c.values()) - c[0] for c in curves]),
            "holdout_last_mean": float(np.mean([c[last] for c in curves])),
        })
    ok = [r for r in rows if r["last_minus_iter0"][0] >= 0]
    pool = ok or rows
    key = "holdout_last_mean" if ok else "last_minus_iter0"
    best = max(pool, key=lambda r: r[key] if key == "holdout_last_mean" else r[key][0])
    rule = ("among candidates whose mean paired held-out change (last - iteration 0) is >= 0, the "
            "highest mean held-out average mAP at the last iteration" if ok else
            "no candidate keeps ACM-Net at its stage-1 level on held-out videos: the one with "
            "the largest mean paired change (last - iteration 0)")
    return {"study": "stage-2 lr/schedule for ACM-Net (held-out videos only)", "rule": rule,
            "chosen": {"stage2_lr": best["stage2_lr"],
                       "stage2_schedule": best["stage2_schedule"]}, "rows": rows}


def study_lambda(args) -> dict:
    jobs = []
    for backbone, grid in LAMBDA_GRID.items():
        method = "ftcl" if backbone == "acmnet" else f"{backbone}-ftcl"
        jobs += [(method, s, {"ftcl.lambda_fsd": lam, "ftcl.lambda_lcs": lam},
                  f"{method}-lambda-{lam:g}", args.out) for lam in grid for s in args.seeds]
    records = _run_all(jobs, args.workers)
    out = {}
    for backbone, grid in LAMBDA_GRID.items():
        method = "ftcl" if backbone == "acmnet" else f"{backbone}-ftcl"
        rows = []
        for lam in grid:
            recs = [r for r in records if r["run_name"] == f"{method}-lambda-{lam:g}"]
            curves = [_holdout(r) for r in recs]
            rows.append({"lambda": lam, "seeds": [r["seed"] for r in recs],
                         "holdout_selected": [max(c.values()) for c in curves],
                         "holdout_last": [c[max(c)] for c in curves],
                         "selected_iteration": [r["selection"]["selected_iteration"]
                                                for r in recs],
                         "holdout_selected_mean": float(np.mean([max(c.values())
                                                                 for c in curves])),
                         "holdout_last_mean": float(np.mean([c[max(c)] for c in curves]))})
        best = max(rows, key=lambda r: (r["holdout_selected_mean"], r["holdout_last_mean"]))
        out[backbone] = {"method": method, "chosen": best["lambda"], "rows": rows}
    return {"study": "lambda (lambda_fsd = lambda_lcs) per backbone, normalised terms",
            "rule": "highest mean held-out average mAP of the selected checkpoint (ties: of the "
                    "last checkpoint)", "backbones": out}


def study_compare(args) -> dict:
    import torch

    from ftcl.analysis.purity import proposal_purity
    from ftcl.train import load_data, model_from_checkpoint

    jobs = [(m, s, {}, m, args.out) for m in COMPARE_METHODS for s in args.seeds]
    for name, over in VARIANTS.items():
        jobs += [("ftcl", s, over, name, args.out) for s in args.seeds]
    records = _run_all(jobs, args.workers)
    by = {(r["run_name"], r["seed"]): r for r in records}
    names = COMPARE_METHODS + list(VARIANTS)
    table = {n: {"test_average_map": [by[(n, s)]["average_map"] for s in args.seeds],
                 "selected_iteration": [by[(n, s)]["selection"]["selected_iteration"]
                                        for s in args.seeds]} for n in names}
    pairs = {}
    for a, b in [("acmnet", "control-stage1-only"), ("ftcl", "acmnet"),
                 ("ftcl", "control-stage1-only"), ("control-meanpool", "ftcl"),
                 ("control-shuffled-pairs", "ftcl"), ("control-stage1-only", "ftcl"),
                 ("ftcl-paper-form", "ftcl"), ("ftcl-release-background", "ftcl"),
                 ("ftcl-release-acmloss-lcs", "ftcl"), ("ftcl-previous-default", "ftcl"),
                 ("ftcl-previous-default", "acmnet")]:
        diffs = [100 * (by[(a, s)]["average_map"] - by[(b, s)]["average_map"])
                 for s in args.seeds]
        pairs[f"{a} - {b}"] = {"points": diffs, "mean_sd": _mean_sd(diffs)}
    # ACM-Net held-out: stage 2 (last) vs its stage 1 (iteration 0), per seed.
    acm = [_holdout(by[("acmnet", s)]) for s in args.seeds]
    holdout_acm = {"iter0": [c[0] for c in acm], "last": [c[max(c)] for c in acm],
                   "last_minus_iter0": _mean_sd([c[max(c)] - c[0] for c in acm])}
    # Gradient norms of each term (stage 2, all evaluations after iteration 0).
    grads = {}
    for n in ["ftcl", "ftcl-paper-form", "control-meanpool", "control-shuffled-pairs",
              *VARIANTS]:
        ratios: dict[str, list[float]] = {}
        for s in args.seeds:
            for h in by[(n, s)]["history"]:
                for k, v in h.get("grad_norms", {}).items():
                    if "/" in k:
                        ratios.setdefault(k, []).append(v)
        grads[n] = {k: _mean_sd(v) for k, v in ratios.items()}
    # Action purity of the proposals on the test videos, both background selections.
    torch.set_num_threads(1)
    purity = {}
    for n in ["control-stage1-only", "acmnet", "ftcl"]:
        rows = []
        for s in args.seeds:
            run = Path(args.out) / "synthumos14-quick" / n / f"seed{s}"
            model, cfg, _ = model_from_checkpoint(run / "best.pt")
            data = load_data(cfg)
            rows.append(proposal_purity(model, data.test, cfg.ftcl.fsd_len))
        purity[n] = {k: _mean_sd([r[k] for r in rows]) for k in rows[0]
                     if k.startswith(("action", "background", "all_snippets"))}
    return {"study": "quick profile, paired by seed (test split; nothing chosen here)",
            "seeds": list(args.seeds), "test_average_map": table, "paired_points": pairs,
            "acmnet_holdout_stage2_vs_stage1": holdout_acm, "grad_norm_ratios": grads,
            "proposal_action_purity_test": purity}


def study_purity(args) -> dict:
    """Action purity of the proposals of the *last* checkpoints of a finished compare study
    (stage 2 trained to the end, whatever the selection kept); test split, both backgrounds."""
    import torch

    from ftcl.analysis.purity import proposal_purity
    from ftcl.train import load_data, model_from_checkpoint

    torch.set_num_threads(1)
    out = {}
    for n in ["acmnet", "ftcl", "ftcl-release-background", "ftcl-previous-default"]:
        rows = []
        for s in args.seeds:
            run = Path(args.out) / "synthumos14-quick" / n / f"seed{s}"
            model, cfg, _ = model_from_checkpoint(run / "last.pt")
            rows.append(proposal_purity(model, load_data(cfg).test, cfg.ftcl.fsd_len))
        out[n] = {k: _mean_sd([r[k] for r in rows]) for k in rows[0]
                  if k.startswith(("action", "background", "all_snippets"))}
    return {"study": "action purity of the proposals, last checkpoints (test split)",
            "runs": portable_path(args.out), "seeds": list(args.seeds), "purity": out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study", choices=["lr", "lambda", "compare", "purity"])
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "ftcl-fair"))
    p.add_argument("--results", default="results/fair-experiment")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every run (e.g. train.stage2_lr=2e-3); --tag names it")
    p.add_argument("--tag", default="", help="suffix of the summary file name")
    args = p.parse_args(argv)
    from ftcl.config import parse_assignment

    EXTRA.update(dict(parse_assignment(a) for a in args.set))
    if args.seeds is None:
        args.seeds = [0, 1] if args.study == "lambda" else [0, 1, 2]
    summary = {"lr": study_lr, "lambda": study_lambda, "compare": study_compare,
               "purity": study_purity}[args.study](args)
    summary["overrides"] = dict(EXTRA)
    path = atomic_write_json(Path(args.results) / f"{args.study}{args.tag}.json", summary)
    print(json.dumps(summary, indent=1)[:6000])
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
