"""SynTHUMOS14 and SynANet: synthetic snippet features on real temporal annotations.

No I3D features can be downloaded here, so the package generates them. Everything except the
feature values is real: one synthetic video per real video of the two splits, with its true
duration (``floor(duration * 25 / 16)`` snippets of 0.64 s), and the real action instances at
their real times with their real classes (THUMOS14: the ACM-Net/FTCL ``gt.json``; ActivityNet 1.3:
the subset described in :func:`ftcl.data.annotations.build_synanet_extract`).

The features
------------
Every ingredient is a unit vector of dimension D, split as the real features are into an RGB half
(appearance) and a flow half (motion): *appearance* vectors have their flow half scaled by
``flow_scene_ratio``, *motion* vectors their RGB half by ``rgb_motion_ratio``, before
normalisation. The video is rendered on a grid of ``substeps`` points per snippet and averaged
over each snippet's 16 frames, so an instance covering part of a snippet contributes in
proportion, then a temporal Gaussian (``smoothing``, in snippets) imitates I3D's overlapping
receptive fields. At a grid point ``u`` of a video ``v``::

    x_u = scene_strength * scene_v                  # the video's scene, everywhere
        + background_strength * bg_v(u)             # slowly varying background content
        + [action]     mean over active instances i of
                         a_i * (action_strength * P[c_i, k_i(u)] + style_strength * style_i)
                         + class_scene_strength * S[c_i]
        + [context]    context_strength * S[c]      # around an instance of class c
        + [distractor] distractor_strength * Q[j]   # class-free motion in the background
        + [hard negative, v2] hard_negative_strength * action_strength * P[c', k']
    snippet_t = smooth(mean of x_u over the snippet + noise * e_t / sqrt(D))

- ``P[c, k]``: the ``k``-th of ``K_c`` (``phases_min``..``phases_max``) **ordered sub-action
  prototypes** of class ``c`` (e.g. squat -> grasp -> lift). An instance is cut into ``K_c``
  phases with Dirichlet(``phase_concentration``) proportions, so the same phases appear in the same
  order with different speeds: what FSD/LCS alignment can exploit. ``P[c, k]`` mixes a phase-
  specific direction, a class direction shared by the class's phases (``phase_separation``) and a
  generic phase-``k`` direction shared by all classes (``prototype_separation``: 1 = unrelated
  classes, 0 = identical). **Version 2** (``phase_library > 0``, :mod:`ftcl.data.knobs`): the
  phase-specific directions are ``specific_phases`` own directions of the class plus phases of a
  library shared by all classes (Zipf(``library_popularity``) popularity, so a few phases are in
  many classes), each mixed with the class direction (``phase_separation``); a share
  ``anagram_fraction`` of the classes holds the phase vectors (and scene) of an earlier class in
  another order. ``meta.json`` lists every class's phase ids (``phase_ids``: ids below
  ``phase_library`` are library phases).
- **Hard negatives** (version 2): per instance ``Poisson(hard_negative_rate)`` background segments
  of ``0.3-1.0 x`` its length holding either the class's own phases in a wrong order
  (``hard_negative_own``) or one phase ``P[c', k']`` of another class.
- ``S[c]``: the **class scene** (a diving pool), present in actions *and* in the ``context``
  snippets just before and after each instance (``context_seconds + context_fraction * length``,
  jittered, per side): hard negatives that a video-level classifier happily fires on.
- ``scene_v``: the **per-video scene**, shared by background and actions; correlated with the scene
  of the video's main class (``scene_class_correlation``).
- ``style_i``, ``a_i``: **per-instance style** direction and amplitude (``1 +- amplitude_jitter``).
- ``bg_v``: ``background_atoms`` shared directions with smooth random weights (knots every
  ``background_timescale`` seconds); ``Q[j]``: ``distractors`` shared motion prototypes placed at
  ``distractor_rate`` per minute, ``distractor_seconds`` long, in background only.
- ``e_t``: white noise of expected norm ``noise`` (before smoothing).

Ground truth per snippet, beside the features: ``phases/<split>/<video>.npy``, int16
``[T_video, 4]`` with columns :data:`SNIPPET_LABEL_COLUMNS` = (class index, sub-action phase,
instance index in the video's ``gt.json`` annotation list, region) taken at the snippet centre;
class, phase and instance are -1 outside actions (the class is also set in context and the
instance index there is the instance the context belongs to); region is 0 background, 1 action,
2 context, 3 distractor, 4 hard negative (class and phase -1, the instance it was planted for).
Where instances overlap (CliffDiving is annotated as Diving too) their action terms are averaged
and the label is the first instance's.

Annotations past the rendered end (``n_snippets x 0.64 s``, at most one snippet short of the true
duration) are clipped for rendering and counted as ``clipped`` in ``meta.json``; instances entirely
past it are not rendered and counted as ``outside``. The ground truth in ``gt.json`` is left as
released, so those instances remain in the evaluation (as misses where nothing was rendered).

Difficulty knobs and their values
---------------------------------
The data sets are **version 3** by default; the knobs of each version, and the ACM-Net
calibration records they came from, are in :mod:`ftcl.data.spec` and
:mod:`ftcl.data.calibration`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..io import atomic_save_npy, atomic_write_json, atomic_write_text
from ..provenance import provenance
from . import annotations as ann
from .bank import Bank, crc, draw, make_bank, mix
from .knobs import SyntheticKnobs

GENERATOR_VERSION = "1"
SNIPPET_LABEL_COLUMNS = ("class", "phase", "instance", "region")
REGION_BACKGROUND, REGION_ACTION, REGION_CONTEXT, REGION_DISTRACTOR = 0, 1, 2, 3
REGION_HARD_NEGATIVE = 4



# --------------------------------------------------------------------------------------------
# one video
# --------------------------------------------------------------------------------------------


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (edges repeated), truncated at 3 sigma."""
    if sigma <= 0 or x.shape[0] < 2:
        return x
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(x.dtype)
    pad = np.concatenate([np.repeat(x[:1], r, 0), x, np.repeat(x[-1:], r, 0)])
    out = np.zeros_like(x)
    for i, w in enumerate(k):
        out += w * pad[i : i + x.shape[0]]
    return out


class _Canvas:
    """What a video's features are drawn from, on its sub-step grid: the basis rows (each a
    D-vector, added once), coefficient columns ``(grid indices, basis row, weights)`` of the
    background and of the actions, the action count per grid point and the grid labels."""

    def __init__(self, n_sub: int):
        self.basis: list[np.ndarray] = []
        self.index: dict = {}
        self.cols: list[tuple[np.ndarray, int, np.ndarray]] = []
        self.act_cols: list[tuple[np.ndarray, int, np.ndarray]] = []
        self.count = np.zeros(n_sub)
        self.lab = np.full((n_sub, 4), -1, dtype=np.int16)
        self.lab[:, 3] = REGION_BACKGROUND

    def row(self, key, vec) -> int:
        """The basis row of ``key`` (``vec`` added the first time)."""
        if key not in self.index:
            self.index[key] = len(self.basis)
            self.basis.append(vec)
        return self.index[key]


def _paint_background(rng, canvas: _Canvas, instances, bank: Bank, dim: int,
                      knobs: SyntheticKnobs, centers: np.ndarray, t_end_video: float) -> None:
    """The per-video scene (correlated with its main class's), everywhere, and a smooth mixture
    of background atoms."""
    cls_of = [c for _, _, c in instances]
    rho = knobs.scene_class_correlation
    own_scene = draw(rng, 1, dim, "appearance", knobs)[0]
    if cls_of:
        main = int(np.bincount(cls_of).argmax())
        scene = mix(bank.class_scene[main][None], own_scene[None], rho**2)[0]
    else:
        scene = own_scene
    n_sub = centers.size
    everywhere = np.arange(n_sub)
    canvas.cols.append((everywhere, canvas.row("scene", scene),
                        np.full(n_sub, knobs.scene_strength)))
    n_knots = int(np.ceil(t_end_video / knobs.background_timescale)) + 2
    knots = rng.standard_normal((n_knots, knobs.background_atoms))
    pos = centers / knobs.background_timescale
    i0 = np.minimum(np.floor(pos).astype(int), n_knots - 2)
    w = (pos - i0)[:, None]
    coef = (knots[i0] * (1 - w) + knots[i0 + 1] * w) / np.sqrt(knobs.background_atoms)
    for m in range(knobs.background_atoms):
        canvas.cols.append((everywhere, canvas.row(("atom", m), bank.atoms[m]),
                            knobs.background_strength * coef[:, m]))


def _paint_actions(rng, canvas: _Canvas, instances, bank: Bank, dim: int,
                   knobs: SyntheticKnobs, centers: np.ndarray, dt: float, t_end_video: float,
                   stats: dict) -> list[tuple]:
    """Each instance's phases (class prototypes), style and class scene on its grid points;
    returns the spans ``(context start, start, end, context end, class, instance)``."""
    n_sub = centers.size
    lab, spans = canvas.lab, []
    for i, (start, end, c) in enumerate(instances):
        k_c = bank.prototypes[c].shape[0]
        props = rng.dirichlet(np.full(k_c, knobs.phase_concentration))
        amp = 1.0 + knobs.amplitude_jitter * rng.uniform(-1.0, 1.0)
        style = draw(rng, 1, dim, "motion", knobs)[0]
        ctx = (knobs.context_seconds + knobs.context_fraction * (end - start)) * rng.uniform(
            0.5, 1.5, size=2
        )
        s0, e0 = max(0.0, start), min(end, t_end_video)
        if e0 <= s0:
            stats["outside"] += 1
            continue
        if (s0, e0) != (start, end):
            stats["clipped"] += 1
        idx = np.arange(np.searchsorted(centers, s0), np.searchsorted(centers, e0))
        if idx.size == 0:  # shorter than a grid step: the nearest grid point
            idx = np.array([min(n_sub - 1, int((s0 + e0) / 2 / dt))])
        frac = np.clip((centers[idx] - s0) / (e0 - s0), 0.0, 1.0 - 1e-9)
        phase = np.searchsorted(np.cumsum(props)[:-1], frac, side="right")
        for k in range(k_c):
            sel = idx[phase == k]
            if sel.size:
                r = canvas.row(("proto", c, k), bank.prototypes[c][k])
                canvas.act_cols.append((sel, r, np.full(sel.size, amp * knobs.action_strength)))
        canvas.act_cols.append((idx, canvas.row(("style", i), style),
                                np.full(idx.size, amp * knobs.style_strength)))
        canvas.act_cols.append((idx, canvas.row(("cscene", c), bank.class_scene[c]),
                                np.full(idx.size, knobs.class_scene_strength)))
        canvas.count[idx] += 1
        first = lab[idx, 0] == -1  # overlapping instances: the label is the first one's
        lab[idx[first], 0] = c
        lab[idx[first], 1] = phase[first]
        lab[idx[first], 2] = i
        lab[idx[first], 3] = REGION_ACTION
        spans.append((s0 - ctx[0], s0, e0, e0 + ctx[1], c, i))
    return spans


def _paint_context(canvas: _Canvas, spans, bank: Bank, knobs: SyntheticKnobs,
                   centers: np.ndarray) -> np.ndarray:
    """The class scene just before and after each instance, where no action is; returns the
    grid points of context."""
    n_sub = centers.size
    ctx_cls = np.full(n_sub, -1)
    ctx_inst = np.full(n_sub, -1)
    for a, s0, e0, b, c, i in spans:
        for lo, hi in ((a, s0), (e0, b)):
            sel = np.arange(np.searchsorted(centers, lo), np.searchsorted(centers, hi))
            sel = sel[canvas.count[sel] == 0]
            ctx_cls[sel], ctx_inst[sel] = c, i
    is_ctx = ctx_cls >= 0
    for c in np.unique(ctx_cls[is_ctx]):
        sel = np.nonzero(ctx_cls == c)[0]
        canvas.cols.append((sel, canvas.row(("cscene", int(c)), bank.class_scene[c]),
                            np.full(sel.size, knobs.context_strength)))
    lab = canvas.lab
    lab[is_ctx, 0], lab[is_ctx, 2], lab[is_ctx, 3] = (
        ctx_cls[is_ctx],
        ctx_inst[is_ctx],
        REGION_CONTEXT,
    )
    return is_ctx


def _paint_distractors(rng, canvas: _Canvas, bank: Bank, knobs: SyntheticKnobs,
                       centers: np.ndarray, free: np.ndarray, t_end_video: float) -> None:
    """Distractor segments in the free background grid points."""
    n_dis = rng.poisson(knobs.distractor_rate * t_end_video / 60.0)
    for _ in range(n_dis):
        j = int(rng.integers(knobs.distractors))
        length = rng.uniform(*knobs.distractor_seconds)
        t0 = rng.uniform(0.0, max(t_end_video - length, 1e-6))
        sel = np.arange(np.searchsorted(centers, t0), np.searchsorted(centers, t0 + length))
        sel = sel[free[sel]]
        if sel.size:
            canvas.cols.append((sel, canvas.row(("distractor", j), bank.distractors[j]),
                                np.full(sel.size, knobs.distractor_strength)))
            canvas.lab[sel, 3] = REGION_DISTRACTOR


def _draw_features(rng, canvas: _Canvas, n_snippets: int, dim: int,
                   knobs: SyntheticKnobs) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients on the grid -> snippets -> features (plus noise, smoothed), and the label of
    each snippet's middle grid point."""
    s, n_sub = knobs.substeps, canvas.count.size
    coef = np.zeros((n_sub, len(canvas.basis)), dtype=np.float64)
    for sel, r, wts in canvas.cols:
        coef[sel, r] += wts
    act = np.zeros_like(coef)
    for sel, r, wts in canvas.act_cols:
        act[sel, r] += wts
    coef += act / np.maximum(canvas.count, 1)[:, None]
    coef = coef.reshape(n_snippets, s, -1).mean(axis=1).astype(np.float32)
    feats = coef @ np.stack(canvas.basis).astype(np.float32)
    noise = rng.standard_normal((n_snippets, dim), dtype=np.float32)
    feats += (knobs.noise / np.sqrt(dim)) * noise
    feats = _smooth(feats, knobs.smoothing).astype(np.float32)
    return feats, canvas.lab[np.arange(n_snippets) * s + s // 2]


def render_video(
    video_id: str,
    n_snippets: int,
    instances: Sequence[tuple[float, float, int]],
    bank: Bank,
    dim: int,
    seed: int,
    knobs: SyntheticKnobs,
    seconds_per_snippet: float = 0.64,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Features ``[n_snippets, dim]`` (float32), snippet labels ``[n_snippets, 4]`` (int16), counts.

    ``instances`` are ``(start_s, end_s, class_index)`` in the video's annotation order. The result
    depends only on ``(seed, video_id)``, the instances and the bank (not on other videos).
    Painted in order on a grid of ``knobs.substeps`` points per snippet: background, actions,
    context, hard negatives (version 2), distractors; then averaged to snippets.
    """
    rng = np.random.default_rng([seed, 3, crc(video_id)])
    n_sub = n_snippets * knobs.substeps
    dt = seconds_per_snippet / knobs.substeps
    t_end_video = n_snippets * seconds_per_snippet
    centers = (np.arange(n_sub) + 0.5) * dt
    canvas = _Canvas(n_sub)
    _paint_background(rng, canvas, instances, bank, dim, knobs, centers, t_end_video)
    stats = {"instances": len(instances), "clipped": 0, "outside": 0, "hard_negatives": 0,
             "hard_negatives_own": 0, "hard_negatives_planned": 0}
    spans = _paint_actions(rng, canvas, instances, bank, dim, knobs, centers, dt, t_end_video,
                           stats)
    is_ctx = _paint_context(canvas, spans, bank, knobs, centers)
    free = (canvas.count == 0) & ~is_ctx
    if knobs.hard_negative_rate > 0:  # own phases out of order, other classes' phases
        hn_cols, hn_stats = _hard_negatives(video_id, seed, knobs, bank, spans, centers, free,
                                            canvas.lab, t_end_video, canvas.row)
        canvas.cols.extend(hn_cols)
        stats.update(hn_stats)
    _paint_distractors(rng, canvas, bank, knobs, centers, free, t_end_video)
    feats, labels = _draw_features(rng, canvas, n_snippets, dim, knobs)
    return feats, labels, stats


def _hard_negatives(video_id, seed, knobs, bank, spans, centers, free, lab, t_end_video, row):
    """Plant hard-negative segments in the background grid points ``free`` (updated in place).

    Per rendered instance, ``Poisson(hard_negative_rate)`` segments of ``U(0.3, 1.0)`` times its
    length at a uniform position; a segment keeps only its free grid points (up to 20 positions
    are tried when none is free). With probability ``hard_negative_own`` it holds the instance's
    class phases in another order (Dirichlet proportions, as an instance), else one phase of
    another class. Uses its own random stream, so version-1 output is unchanged.
    """
    rng = np.random.default_rng([seed, 8, crc(video_id)])
    n_cls = len(bank.prototypes)
    amp = knobs.hard_negative_strength * knobs.action_strength
    cols, st = [], {"hard_negatives": 0, "hard_negatives_own": 0, "hard_negatives_planned": 0}
    for _, s0, e0, _, c, i in spans:
        for _ in range(rng.poisson(knobs.hard_negative_rate)):
            st["hard_negatives_planned"] += 1
            own = rng.random() < knobs.hard_negative_own or n_cls < 2
            length = (e0 - s0) * rng.uniform(0.3, 1.0)
            sel = np.empty(0, dtype=int)
            for _try in range(20):
                t0 = rng.uniform(0.0, max(t_end_video - length, 1e-6))
                sel = np.arange(np.searchsorted(centers, t0), np.searchsorted(centers, t0 + length))
                sel = sel[free[sel]]
                if sel.size:
                    break
            k_c = bank.prototypes[c].shape[0]
            if own:
                order = rng.permutation(k_c)
                while k_c > 1 and np.array_equal(order, np.arange(k_c)):
                    order = rng.permutation(k_c)
                props = rng.dirichlet(np.full(k_c, knobs.phase_concentration))
            else:
                other = int(rng.integers(n_cls - 1))
                other += other >= c
                k_other = int(rng.integers(bank.prototypes[other].shape[0]))
            if not sel.size:
                continue
            if own:
                frac = (np.arange(sel.size) + 0.5) / sel.size
                phase = np.searchsorted(np.cumsum(props)[:-1], frac, side="right")
                for j in range(k_c):
                    part = sel[phase == j]
                    if part.size:
                        r = row(("proto", c, int(order[j])), bank.prototypes[c][order[j]])
                        cols.append((part, r, np.full(part.size, amp)))
                st["hard_negatives_own"] += 1
            else:
                r = row(("proto", other, k_other), bank.prototypes[other][k_other])
                cols.append((sel, r, np.full(sel.size, amp)))
            free[sel] = False
            lab[sel, 2], lab[sel, 3] = i, REGION_HARD_NEGATIVE
            st["hard_negatives"] += 1
    return cols, st


# --------------------------------------------------------------------------------------------
# a whole dataset
# --------------------------------------------------------------------------------------------


def source_annotations(spec) -> tuple[dict, dict[str, list[str]], dict[str, float]]:
    """The real annotations a synthetic spec is built on.

    Returns ``(gt_database, {"train": ids, "test": ids}, true_durations)``; ``gt_database`` is what
    is written as ``gt.json`` (THUMOS14: the released file unchanged, traps included).
    """
    if spec.family == "thumos14":
        db = ann.thumos14_database()
        splits = {"train": ann.thumos14_split("train"), "test": ann.thumos14_split("test")}
        return db, splits, ann.thumos14_true_durations()
    if spec.family == "activitynet13":
        sel = ann.synanet_selection()
        keep = set(sel["classes"][: spec.anet_num_classes])
        cap = {"training": spec.anet_train_per_class, "validation": spec.anet_test_per_class}
        db, splits = {}, {"train": [], "test": []}
        for vid in sorted(sel["videos"]):
            v = sel["videos"][vid]
            if v["annotations"][0]["label"] in keep and v["rank"] < cap[v["subset"]]:
                db[vid] = {
                    "duration": v["duration"],
                    "subset": v["subset"],
                    "annotations": v["annotations"],
                }
                splits["train" if v["subset"] == "training" else "test"].append(vid)
        return db, splits, {vid: v["duration"] for vid, v in db.items()}
    raise ValueError(f"no synthetic source for family {spec.family!r}")


def n_snippets_for(duration: float, spec) -> int:
    """Stored length of a video: ``floor(duration * fps / frames_per_snippet)``, at least 1."""
    return max(1, int(np.floor(duration * spec.fps / spec.frames_per_snippet + 1e-9)))


def _write_split(spec, out: Path, split: str, ids: Sequence[str], db: dict, durations: dict,
                 bank: Bank, seed: int) -> dict:
    """Render and write the videos ``ids`` of ``split`` (features, snippet labels, split file);
    return the split's counts."""
    class_index = {c: i for i, c in enumerate(spec.classes)}
    c = {"videos": len(ids), "instances": 0, "clipped": 0, "outside": 0, "snippets": 0,
         "hard_negatives": 0, "hard_negatives_own": 0, "hard_negatives_planned": 0}
    for vid in ids:
        if vid not in db:
            raise ValueError(f"{spec.name}: video {vid!r} of split {split} not in gt.json")
        insts = []
        for a in db[vid]["annotations"]:
            if a["label"] not in class_index:
                raise ValueError(f"{spec.name}: video {vid!r} has unknown label {a['label']!r}")
            insts.append((float(a["segment"][0]), float(a["segment"][1]), class_index[a["label"]]))
        n = n_snippets_for(durations[vid], spec)
        feats, labels, st = render_video(
            vid, n, insts, bank, spec.feature_dim, seed, spec.knobs, spec.seconds_per_snippet
        )
        atomic_save_npy(out / split / f"{vid}.npy", feats)
        atomic_save_npy(out / "phases" / split / f"{vid}.npy", labels)
        for key in ("instances", "clipped", "outside", "hard_negatives",
                    "hard_negatives_own", "hard_negatives_planned"):
            c[key] += st[key]
        c["snippets"] += n
    atomic_write_text(out / f"split_{split}.txt", "".join(f"{v}\n" for v in ids))
    return c


def generate_synthetic(
    spec,
    out_dir: str | os.PathLike,
    seed: int = 0,
    video_ids: Sequence[str] | None = None,
) -> dict:
    """Write a synthetic dataset in the real layout into ``out_dir``; return its ``meta.json``.

    Parameters
    ----------
    spec : DatasetSpec
        A synthetic spec (``get_spec("synthumos14" | "synanet", profile)``).
    out_dir : path
        Created if missing; existing files are overwritten (each write is atomic, ``meta.json``
        is written last, so a dataset with a ``meta.json`` is complete).
    seed : int
        Everything is a function of ``(seed, video id)`` and ``(seed, class name)``.
    video_ids : sequence of str, optional
        Generate only these videos (e.g. two videos at the full size, for a test); the split
        files then list only them.
    """
    if not spec.synthetic or spec.knobs is None:
        raise ValueError(f"spec {spec.name!r} is not synthetic")
    knobs = spec.knobs
    out = Path(out_dir)
    db, splits, durations = source_annotations(spec)
    if video_ids is not None:
        wanted = set(video_ids)
        unknown = wanted - set(splits["train"]) - set(splits["test"])
        if unknown:
            raise ValueError(f"video_ids not in the {spec.name} splits: {sorted(unknown)[:5]}")
        splits = {k: [v for v in ids if v in wanted] for k, ids in splits.items()}
    bank = make_bank(spec.classes, spec.feature_dim, seed, knobs)
    counts = {split: _write_split(spec, out, split, ids, db, durations, bank, seed)
              for split, ids in splits.items()}
    atomic_write_text(out / "gt.json", json.dumps({"database": db}, indent=None) + "\n")
    meta = {
        "generator": "ftcl.data.synthetic.generate_synthetic",
        "generator_version": GENERATOR_VERSION,
        "name": spec.name,
        "profile": spec.profile,
        "seed": seed,
        "feature_dim": spec.feature_dim,
        "knobs": dataclasses.asdict(knobs),
        "spec": spec.to_dict(),
        "counts": counts,
        "subset_of_videos": video_ids is not None,
        "snippet_label_columns": list(SNIPPET_LABEL_COLUMNS),
        "regions": {"background": 0, "action": 1, "context": 2, "distractor": 3,
                    "hard_negative": 4},
        "data_version": getattr(spec, "data_version", knobs.version),
        "phase_ids": {spec.classes[c]: ids for c, ids in bank.phase_ids.items()},
        "source": "real annotations: THUMOS14 gt.json of the ACM-Net/FTCL release with W-TALC "
        "true durations"
        if spec.family == "thumos14"
        else "real annotations: ActivityNet 1.3 (BSN/BMN) subset, see synanet_subset.json",
        "provenance": provenance(),
        "complete": True,
    }
    atomic_write_json(out / "meta.json", meta)
    return meta


def load_snippet_labels(root: str | os.PathLike, split: str, video_id: str) -> np.ndarray:
    """The per-snippet ground truth of a synthetic video: int16 ``[T_video, 4]``.

    Columns :data:`SNIPPET_LABEL_COLUMNS`: class, phase, instance, region (see module docstring).
    """
    path = Path(root) / "phases" / split / f"{video_id}.npy"
    if not path.is_file():
        raise FileNotFoundError(f"snippet labels of video {video_id!r} not found: {path}")
    return np.load(path, allow_pickle=False)


def remove_tree(path: str | os.PathLike) -> None:
    """Remove a generated dataset folder (used for failed or superseded generations)."""
    shutil.rmtree(path, ignore_errors=True)
