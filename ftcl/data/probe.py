"""Probes of the planted structure of SynTHUMOS14 / SynANet (no trained model involved).

The three phenomena FTCL is motivated by (paper Sec. 1, 3.2, 3.3 and Fig. 2) are planted by the
generator (:mod:`ftcl.data.synthetic`, knobs in :mod:`ftcl.data.knobs`); these probes measure
them on the generated features, using the per-snippet ground truth that the generator writes
beside them (``phases/<split>/<video>.npy``):

(a) **bag-of-snippets probe** (:func:`bag_probe`): each action instance is mean-pooled over its
    action snippets and given the class whose mean pooled instance is nearest (cosine). It sees
    which phases an instance holds, not their order.
(b) **order-aware probe** (:func:`order_probe`): each instance's snippet sequence is compared, by
    exact DTW (:func:`ftcl.dp.soft_dtw` with ``gamma=None``; cost ``1 - cosine``), with a template
    per class (the mean of the class's instances, each resampled to ``template_length``
    snippets), and given the class of the cheapest alignment. It sees the phases *in order*.
    ``order - bag`` accuracy is the data set's **alignment headroom**: what an order-aware
    comparison (FSD / LCS) can add over mean pooling.
(c) **background probe** (:func:`background_probe`): a linear snippet classifier trained with
    snippet-level action/background labels (class-balanced logistic regression, an upper bound of
    what a weakly supervised snippet classifier can do) and the share of background snippets it
    scores as action, per background region (plain, context, distractor, hard negative): the
    action-background ambiguity.

All probes fit on 80 % of the *training* videos and are scored on the other 20 % (every fifth
video in the split's order); the test split is not read. ``python -m ftcl.data.probe`` prints
them for both synthetic data sets and versions (and ``--sweep`` a small knob sweep).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..dp import soft_dtw
from ..io import atomic_write_json
from .annotations import read_split
from .features import feature_path, load_features, split_path
from .prepare import prepare_dataset
from .spec import get_spec
from .synthetic import (
    REGION_ACTION,
    REGION_BACKGROUND,
    REGION_CONTEXT,
    REGION_DISTRACTOR,
    REGION_HARD_NEGATIVE,
    generate_synthetic,
    load_snippet_labels,
    source_annotations,
)

REGION_NAMES = {REGION_BACKGROUND: "background", REGION_CONTEXT: "context",
                REGION_DISTRACTOR: "distractor", REGION_HARD_NEGATIVE: "hard negative"}


@dataclasses.dataclass
class Planted:
    """The snippets of some videos with their planted ground truth.

    ``instances``: ``(class, [n_i, D] snippet features)`` per action instance; ``snippets`` and
    ``regions``: all snippets ``[N, D]`` and their region (0 background ... 4 hard negative).
    """

    instances: list[tuple[int, np.ndarray]]
    snippets: np.ndarray
    regions: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def planted_from_arrays(videos: Sequence[tuple[np.ndarray, np.ndarray]]) -> Planted:
    """:class:`Planted` of ``(features [T, D], labels [T, 4])`` pairs (labels as the generator's:
    class, phase, instance, region). An instance is the action snippets of one instance index."""
    instances, snippets, regions = [], [], []
    for feats, lab in videos:
        feats = np.asarray(feats, dtype=np.float64)
        lab = np.asarray(lab)
        is_act = lab[:, 3] == REGION_ACTION
        for i in np.unique(lab[is_act, 2]):
            sel = np.nonzero(is_act & (lab[:, 2] == i))[0]
            instances.append((int(lab[sel[0], 0]), feats[sel]))
        snippets.append(feats)
        regions.append(lab[:, 3])
    return Planted(instances, np.concatenate(snippets), np.concatenate(regions))


def load_planted(root: str | os.PathLike, split: str = "train", part: str = "fit") -> Planted:
    """The planted ground truth of a generated root: ``part`` ``"fit"`` (4 of every 5 videos of
    ``split`` in its order), ``"held"`` (the fifth) or ``"all"``."""
    ids = read_split(split_path(Path(root), split))
    dim = json.loads((Path(root) / "meta.json").read_text(encoding="utf-8"))["feature_dim"]
    if part == "fit":
        ids = [v for j, v in enumerate(ids) if j % 5 != 4]
    elif part == "held":
        ids = [v for j, v in enumerate(ids) if j % 5 == 4]
    elif part != "all":
        raise ValueError(f"part must be 'fit', 'held' or 'all', got {part!r}")
    return planted_from_arrays(
        [(load_features(feature_path(root, split, v), v, dim), load_snippet_labels(root, split, v))
         for v in ids])


def _classes(fit: Planted, held: Planted) -> np.ndarray:
    return np.array(sorted({c for c, _ in fit.instances} | {c for c, _ in held.instances}))


def bag_probe(fit: Planted, held: Planted) -> float:
    """(a) Accuracy of the nearest class mean of mean-pooled, L2-normalised instances.

    Ties (identical means) go to the lowest class index."""
    classes = _classes(fit, held)
    pooled = {c: [] for c in classes}
    for c, x in fit.instances:
        pooled[c].append(_unit(x.mean(0)))
    means = np.stack([_unit(np.mean(pooled[c], 0)) if pooled[c] else np.zeros(fit.snippets.shape[1])
                      for c in classes])
    hits = [classes[int(np.argmax(means @ _unit(x.mean(0))))] == c for c, x in held.instances]
    return float(np.mean(hits)) if hits else float("nan")


def resample(x: np.ndarray, length: int) -> np.ndarray:
    """``x [n, D]`` linearly interpolated to ``length`` evenly spaced points (time-normalised)."""
    n = x.shape[0]
    if n == 1:
        return np.repeat(x, length, axis=0)
    pos = (np.arange(length) + 0.5) * n / length - 0.5
    pos = np.clip(pos, 0, n - 1)
    i0 = np.minimum(np.floor(pos).astype(int), n - 2)
    w = (pos - i0)[:, None]
    return x[i0] * (1 - w) + x[i0 + 1] * w


def dtw_costs(queries: Sequence[np.ndarray], templates: np.ndarray) -> np.ndarray:
    """Exact DTW cost ``[Q, C]`` of each query ``[n_q, D]`` to each template ``[L, D]``, with the
    cost ``1 - cosine`` per snippet pair, through :func:`ftcl.dp.soft_dtw` (``gamma=None``)."""
    import torch

    n_t, length, _ = templates.shape
    tmpl = _unit(templates)
    out = np.zeros((len(queries), n_t))
    if not len(queries):
        return out
    m = max(q.shape[0] for q in queries)
    for start in range(0, len(queries), 256):
        chunk = queries[start:start + 256]
        cost = np.ones((len(chunk), n_t, m, length))
        lens = []
        for b, q in enumerate(chunk):
            cost[b, :, : q.shape[0]] = 1.0 - np.einsum("nd,cld->cnl", _unit(q), tmpl)
            lens.append(q.shape[0])
        lengths = torch.tensor([[n, length] for n in lens for _ in range(n_t)])
        val = soft_dtw(torch.from_numpy(cost.reshape(-1, m, length)), gamma=None, lengths=lengths)
        out[start:start + len(chunk)] = val.numpy().reshape(len(chunk), n_t)
    return out


def order_probe(fit: Planted, held: Planted, template_length: int = 16) -> float:
    """(b) Accuracy of the class whose time-normalised mean template is cheapest to align (DTW).

    Each held-out instance is resampled to ``template_length`` as well, so that long and short
    instances weigh the same. Ties go to the lowest class index."""
    classes = _classes(fit, held)
    seqs = {c: [] for c in classes}
    for c, x in fit.instances:
        seqs[c].append(_unit(resample(x, template_length)))
    tmpl = np.stack([np.mean(seqs[c], 0) if seqs[c] else np.zeros((template_length,
                                                                    fit.snippets.shape[1]))
                     for c in classes])
    queries = [resample(x, template_length) for _, x in held.instances]
    cost = dtw_costs(queries, tmpl)
    hits = [classes[int(np.argmin(cost[j]))] == c for j, (c, _) in enumerate(held.instances)]
    return float(np.mean(hits)) if hits else float("nan")


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 25):
    """Class-balanced L2 logistic regression by Newton's method: ``(w [D], b)``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    pos = max(y.sum(), 1.0)
    neg = max(len(y) - y.sum(), 1.0)
    sw = np.where(y > 0, 0.5 / pos, 0.5 / neg)
    xa = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xa.shape[1])
    reg = l2 * np.eye(xa.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xa @ w, -30, 30)))
        grad = xa.T @ (sw * (p - y)) + reg @ w
        hess = (xa * (sw * p * (1 - p))[:, None]).T @ xa + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def background_probe(fit: Planted, held: Planted, max_snippets: int = 30000,
                     seed: int = 0) -> dict[str, float]:
    """(c) Share of held-out background snippets a snippet-wise action classifier (trained with
    snippet labels on ``fit``) scores as action, overall and per background region; also its
    recall on action snippets. Keys: ``all``, ``background``, ``context``, ``distractor``,
    ``hard negative``, ``action recall`` (NaN where a region is absent)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(len(fit.regions))
    if idx.size > max_snippets:
        idx = np.sort(rng.choice(idx, max_snippets, replace=False))
    w, b = fit_logistic(fit.snippets[idx], fit.regions[idx] == REGION_ACTION)
    is_action = (held.snippets @ w + b) > 0
    bg = held.regions != REGION_ACTION
    out = {"all": float(is_action[bg].mean()) if bg.any() else float("nan")}
    for r, name in REGION_NAMES.items():
        sel = held.regions == r
        out[name] = float(is_action[sel].mean()) if sel.any() else float("nan")
    act = held.regions == REGION_ACTION
    out["action recall"] = float(is_action[act].mean()) if act.any() else float("nan")
    return out


def probe(fit: Planted, held: Planted) -> dict:
    """All three probes: ``bag``, ``order``, ``headroom`` (= order - bag), ``background`` (the
    dict of :func:`background_probe`), and the instance counts."""
    bag, order = bag_probe(fit, held), order_probe(fit, held)
    return {"bag": bag, "order": order, "headroom": order - bag,
            "background": background_probe(fit, held),
            "instances": {"fit": len(fit.instances), "held": len(held.instances)}}


def probe_root(root: str | os.PathLike) -> dict:
    """:func:`probe` of a generated root (fit / held-out parts of its training split)."""
    return probe(load_planted(root, "train", "fit"), load_planted(root, "train", "held"))


def _train_subset(spec, n_videos: int | None) -> list[str] | None:
    if n_videos is None:
        return None
    ids = source_annotations(spec)[1]["train"]
    # evenly spread over the split (THUMOS14's video names group the classes)
    pick = np.unique(np.linspace(0, len(ids) - 1, min(n_videos, len(ids))).round().astype(int))
    return [ids[i] for i in pick]


def probe_spec(spec, seed: int = 0, n_videos: int | None = None) -> dict:
    """Generate ``spec`` (``n_videos`` training videos evenly spread over the split, or all) in a
    temporary folder and :func:`probe` it."""
    with tempfile.TemporaryDirectory(prefix="ftcl-probe-") as tmp:
        ids = _train_subset(spec, n_videos)
        generate_synthetic(spec, tmp, seed=seed, video_ids=ids)
        return probe_root(tmp)


SWEEPS = {
    "anagram_fraction": (0.0, 0.2, 0.4, 0.6, 0.8),
    "hard_negative_rate": (0.0, 0.25, 0.5, 1.0, 2.0),
    "library_popularity": (0.0, 1.0, 2.0, 3.0),
}
"""The knob sweep of the data chapter: each knob varied alone around the chosen v2 values."""


def sweep(name: str = "synthumos14", profile: str = "quick", sweeps: dict | None = None,
          seed: int = 0, n_videos: int | None = 100) -> list[dict]:
    """Probe values with one knob changed at a time (rows: ``knob, value, bag, order, headroom,
    background``, where ``background`` is the share of all held-out background snippets scored
    as action and ``hard_negative`` that of the hard negatives)."""
    base = get_spec(name, profile, data_version=2)
    rows = []
    for knob, values in (sweeps or SWEEPS).items():
        for value in values:
            res = probe_spec(base.replace(knobs={knob: value}), seed=seed, n_videos=n_videos)
            rows.append({"knob": knob, "value": value, "bag": res["bag"], "order": res["order"],
                         "headroom": res["headroom"], "background": res["background"]["all"],
                         "hard_negative": res["background"]["hard negative"]})
    return rows


def format_probe(name: str, res: dict) -> str:
    """One printable line per probe."""
    bg = res["background"]
    regions = ", ".join(f"{k} {100 * v:.1f}" for k, v in bg.items()
                        if k not in ("all", "action recall") and v == v)
    return (f"{name}: (a) bag-of-snippets {100 * res['bag']:.1f} %  (b) order-aware (DTW) "
            f"{100 * res['order']:.1f} %  -> alignment headroom {100 * res['headroom']:+.1f} "
            f"points  [{res['instances']['held']} held-out / {res['instances']['fit']} fit "
            f"instances]\n    (c) background scored as action {100 * bg['all']:.1f} % "
            f"({regions}); action recall {100 * bg['action recall']:.1f} %")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ftcl.data.probe [--dataset ...] [--profile P] [--versions 1 2] [--sweep]``."""
    p = argparse.ArgumentParser(prog="python -m ftcl.data.probe",
                                description=__doc__.split("\n")[0])
    p.add_argument("--dataset", nargs="+", default=["synthumos14", "synanet"])
    p.add_argument("--profile", default="quick")
    p.add_argument("--versions", nargs="+", type=int, default=[1, 2])
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--sweep", action="store_true", help="also the knob sweep (SWEEPS, v2)")
    p.add_argument("--sweep-videos", type=int, default=100,
                   help="training videos generated per sweep point")
    p.add_argument("--json", metavar="FILE", help="also write the numbers to this file")
    args = p.parse_args(argv)
    out: dict = {"probes": {}, "sweep": {}}
    for name in args.dataset:
        for version in args.versions:
            spec = get_spec(name, args.profile, data_version=version)
            root = prepare_dataset(name, args.profile, seed=args.data_seed,
                                   cache_dir=args.cache_dir, spec=spec)
            res = probe_root(root)
            out["probes"][f"{name}/{args.profile}/v{version}"] = res
            print(format_probe(f"{name} {args.profile} v{version}", res), flush=True)
        if args.sweep:
            rows = sweep(name, args.profile, seed=args.data_seed, n_videos=args.sweep_videos)
            out["sweep"][name] = rows
            for r in rows:
                print(f"  sweep {name} {r['knob']}={r['value']}: bag {100 * r['bag']:.1f} "
                      f"order {100 * r['order']:.1f} headroom {100 * r['headroom']:+.1f} "
                      f"background-as-action {100 * r['background']:.1f} "
                      f"(hard negatives {100 * r['hard_negative']:.1f})", flush=True)
    if args.json:
        atomic_write_json(args.json, out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["Planted", "SWEEPS", "background_probe", "bag_probe", "dtw_costs", "fit_logistic",
           "format_probe", "load_planted", "order_probe", "planted_from_arrays", "probe",
           "probe_root", "probe_spec", "resample", "sweep"]
