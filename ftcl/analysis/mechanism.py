"""Does FTCL align? The mechanism measured on trained models, against the planted ground truth.

The synthetic benchmarks plant, inside every action instance, ``K_c`` ordered sub-action *phases*
(:mod:`ftcl.data.synthetic`; per-snippet labels: class, phase, instance, region). FTCL's claim is
that its two dynamic programs align the *same* fine-grained stages of two videos: FSD (Eq. 2-4)
aligns action proposals, LCS (Eq. 6) mines a common subsequence of the most attended snippets.
No paper and no release measures whether they do. This module measures, on a trained model and
the test split of a synthetic data set:

(a) **Phase agreement** (:func:`weighted_phase_agreement`): of the snippet pairs LCS matches
    (Eq. 6, hard, as in the loss: top ``lcs_len`` attended snippets in time order, cosine
    similarity of the embeddings, the loss form's rescaling and ``tau``), and of the FSD alignment
    cells (Eq. 2,
    soft alignment ``d FSD / d mu`` of the top ``fsd_len`` proposals, weighted by their
    probability), the share whose two snippets carry the **same planted phase**: both inside an
    action, same class, same phase index. Background-background is *not* agreement. Its chance
    rate is the same share over all cells of the same grids (every snippet pair equally).
    The FSD grids use ``mu = g = h`` = cosine similarity of the backbone embeddings (the same
    for ACM-Net, which has no FSD projection, and FTCL), so that the two models are compared on
    one measure of their representation.
(b) **Action purity** (:func:`proposal_action_shares`): the share of the FSD action proposal's
    snippets (top ``fsd_len`` by attention) inside a planted action instance, and the same share
    for the "background" proposal of the release (ranks ``fsd_len + 1 .. 2 fsd_len``); beside
    the share of action snippets in the video (what a random pick would give).
(c) **Completeness** (:func:`completeness`): for every planted instance of a test video's labelled
    class, the share of its phases that the CAS covers (some snippet of the phase has the class's
    CAS at or above the lowest CAS threshold of the localizer). A detector that finds only the
    most discriminative phase scores ``1 / K``.

Each measure is computed for the stage-1 model (the shared starting point) and for the reported
model of the run (after stage 2) by :func:`analyse_run`, right after training (the training
notebook calls it), and stored as ``results/<profile>/mechanism/<run_id>.json``
(:func:`write_record`): the book reads those files and never trains; their summary, the
chapter's paragraph and figure are :mod:`ftcl.analysis.mechanism_summary`.
"""


from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import dp
from ..data import get_spec
from ..data.synthetic import load_snippet_labels
from ..evaluation import THUMOS14_INFERENCE, eval_batches
from ..io import atomic_write_json
from ..losses.contrast import cosine_matrix, gather_snippets, lcs_similarity, proposal_indices
from ..paths import mechanism_dir, mechanism_of_record, resolve_in_work, run_directory
from ..train import load_data, model_from_checkpoint

FORMAT = "ftcl-mechanism"
VERSION = 1
# The names of the measures in a mechanism record (what the chapter summarises).
MECHANISM_MEASURES = ("lcs_same_phase", "lcs_chance", "lcs_matches", "fsd_same_phase",
                      "fsd_chance", "action_purity", "background_proposal_action_share",
                      "action_share", "completeness")


# ------------------------------------------------------------------------------ the measures


def same_phase(labels_a: np.ndarray, labels_b: np.ndarray) -> np.ndarray:
    """``[M, N]`` bool: snippet ``i`` of ``a`` and ``j`` of ``b`` carry the same planted phase.

    ``labels_*``: ``[M, 4]`` / ``[N, 4]`` snippet labels (class, phase, instance, region). Same
    phase = both inside an action (phase >= 0), same class, same phase index. Background (phase
    -1) never agrees, not even with background.
    """
    ca, pa = labels_a[:, 0][:, None], labels_a[:, 1][:, None]
    cb, pb = labels_b[:, 0][None, :], labels_b[:, 1][None, :]
    return (pa >= 0) & (pb >= 0) & (ca == cb) & (pa == pb)


def weighted_phase_agreement(weights: np.ndarray, labels_a: np.ndarray, labels_b: np.ndarray
                    ) -> tuple[float, float]:
    """Weighted share of cells with the same planted phase, and its chance rate.

    ``weights`` ``[M, N]`` >= 0: 0/1 for mined LCS matches, alignment probabilities for FSD.
    Returns ``(share, chance)``: ``sum(w * same) / sum(w)`` (NaN if ``sum(w) == 0``) and the
    unweighted mean of ``same`` over the grid.
    """
    same = same_phase(labels_a, labels_b)
    if weights.shape != same.shape:
        raise ValueError(f"weights {weights.shape} and labels ({same.shape}) do not match")
    total = float(weights.sum())
    share = float((weights * same).sum() / total) if total > 0 else math.nan
    return share, float(same.mean())


def proposal_action_shares(attention: np.ndarray, labels: np.ndarray, fsd_len: int,
                    background: str = "paper") -> dict[str, float]:
    """Share of action snippets (phase >= 0) in the FSD action proposal (top ``fsd_len`` by
    attention), in the background proposal the loss uses (``background``: ``"paper"``, the
    ``fsd_len`` of lowest attention, or ``"release"``, ranks ``fsd_len .. 2 fsd_len - 1``; the
    same selection as :func:`ftcl.losses.contrast.proposal_indices`), and in the video."""
    idx = proposal_indices(torch.as_tensor(np.asarray(attention, dtype=np.float64))[None],
                           fsd_len, background=background)
    action = labels[:, 1] >= 0
    return {"action_purity": float(action[idx["action"][0].numpy()].mean()),
            "background_proposal_action_share": float(
                action[idx["background"][0].numpy()].mean()),
            "action_share": float(action.mean())}


def completeness(cas: np.ndarray, labels: np.ndarray, threshold: float) -> list[float]:
    """For each planted instance: the share of its phases where the CAS of its class reaches
    ``threshold`` on at least one of the phase's snippets. ``cas`` ``[T, C]``, ``labels``
    ``[T, 4]`` (sampled like ``cas``)."""
    out = []
    for inst in np.unique(labels[:, 2]):
        if inst < 0:
            continue
        rows = (labels[:, 2] == inst) & (labels[:, 1] >= 0)  # its action snippets only
        if not rows.any():  # only a hard negative of it was sampled
            continue
        cls = int(labels[rows, 0][0])
        phases = np.unique(labels[rows, 1])
        phases = phases[phases >= 0]
        if phases.size == 0:
            continue
        covered = [bool((cas[rows & (labels[:, 1] == p), cls] >= threshold).any())
                   for p in phases]
        out.append(float(np.mean(covered)))
    return out


# ------------------------------------------------------------------------------ one model


def _mean(values: Sequence[float]) -> float:
    v = [x for x in values if not math.isnan(x)]
    return float(np.mean(v)) if v else math.nan


def _outputs(model, dataset, root: str | Path, batch_size: int):
    """Embeddings, attention, CAS and the planted snippet labels (sampled like the model's
    input) of every test video, in the dataset's order."""
    ids = list(dataset.video_ids)
    feats, att, cas, labels = [], [], [], []
    for indices, _, out in eval_batches(model, dataset, None, batch_size):
        feats.append(out.embeddings.float().cpu())
        att.append(out.attention.float().cpu().numpy())
        cas.append(out.cas.float().cpu().numpy())
        for i in indices:
            lab = load_snippet_labels(root, "test", ids[i])
            labels.append(lab[np.minimum(dataset.sample_indices(i), len(lab) - 1)])
    return torch.cat(feats), np.concatenate(att), np.concatenate(cas), labels


def _same_class_pairs(dataset, max_pairs: int, seed: int) -> list[tuple[int, int]]:
    """Pairs of test videos sharing a class; ``max_pairs`` drawn at random (``seed``) if more."""
    sets = dataset.label_sets()
    n = len(sets)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if sets[i] & sets[j]]
    rng = np.random.default_rng(seed)
    if len(pairs) > max_pairs:
        pairs = [pairs[k] for k in sorted(rng.choice(len(pairs), max_pairs, replace=False))]
    return pairs


def _alignment_agreement(pairs, emb: torch.Tensor, att: np.ndarray, labels: list,
                         ftcl_cfg) -> dict[str, float]:
    """(a): the same-phase share of the LCS matches and of the FSD alignment mass, with their
    chance rates, over ``pairs``, on the loss's own proposals (:mod:`ftcl.losses.contrast`)."""
    chosen = proposal_indices(torch.as_tensor(att), ftcl_cfg.fsd_len, ftcl_cfg.lcs_len,
                              ftcl_cfg.background)
    rows_a = torch.tensor([i for i, _ in pairs])
    rows_b = torch.tensor([j for _, j in pairs])

    def side(rows: torch.Tensor, key: str) -> tuple[torch.Tensor, np.ndarray]:
        index = chosen[key][rows]
        return gather_snippets(emb[rows].double(), index), index.numpy()

    (xa, a_idx), (xb, b_idx) = side(rows_a, "lcs"), side(rows_b, "lcs")
    paths = dp.lcs_path(lcs_similarity(xa, xb, ftcl_cfg), tau=ftcl_cfg.tau)
    lcs_share, lcs_chance, matches = [], [], []
    for (i, j), ia, ib, path in zip(pairs, a_idx, b_idx, paths, strict=True):
        w = np.zeros((len(ia), len(ib)))
        for r, s in path:
            w[r, s] = 1.0
        share, chance = weighted_phase_agreement(w, labels[i][ia], labels[j][ib])
        lcs_share.append(share)
        lcs_chance.append(chance)
        matches.append(len(path))
    (pa, fa), (pb, fb) = side(rows_a, "action"), side(rows_b, "action")
    mu = cosine_matrix(pa, pb)
    align = dp.fsd_alignment(mu, mu, mu, gamma=ftcl_cfg.gamma).numpy()
    fsd_share, fsd_chance = [], []
    for k, ((i, j), ia, ib) in enumerate(zip(pairs, fa, fb, strict=True)):
        share, chance = weighted_phase_agreement(align[k], labels[i][ia], labels[j][ib])
        fsd_share.append(share)
        fsd_chance.append(chance)
    return {"lcs_same_phase": _mean(lcs_share), "lcs_chance": _mean(lcs_chance),
            "lcs_matches": float(np.mean(matches)),
            "lcs_pairs_with_matches": int(sum(m > 0 for m in matches)),
            "fsd_same_phase": _mean(fsd_share), "fsd_chance": _mean(fsd_chance)}


@torch.no_grad()
def measure_model(model, dataset, root: str | Path, spec, ftcl_cfg, max_pairs: int = 200,
                  seed: int = 0, batch_size: int = 32) -> dict[str, float]:
    """The measures (a)-(c) of one trained backbone on the test split of a synthetic data set.

    Parameters
    ----------
    model : ftcl.models.Backbone
    dataset : ftcl.data.VideoDataset
        The test split (uniform sampling).
    root : path
        The data set folder (holds ``phases/test/<video>.npy``).
    spec : ftcl.data.DatasetSpec
    ftcl_cfg : ftcl.config.FTCLConfig
        ``fsd_len``, ``lcs_len``, ``tau``, ``gamma``, the loss form and LCS rescaling (the same
        settings for every model compared).
    max_pairs : int
        Pairs of test videos sharing a class, drawn at random (``seed``) when there are more.
    """
    emb, att_a, cas_a, labels = _outputs(model, dataset, root, batch_size)
    n_videos = len(labels)
    inference = getattr(spec, "inference", None) or THUMOS14_INFERENCE
    threshold = min(inference.cas_thresholds) if inference.cas_thresholds else 0.15

    # (b), (c): per video
    purity = [proposal_action_shares(att_a[v], labels[v], ftcl_cfg.fsd_len, ftcl_cfg.background)
              for v in range(n_videos)]
    complete: list[float] = []
    for v in range(n_videos):
        complete += completeness(cas_a[v], labels[v], threshold)

    # (a): pairs of test videos sharing a class
    pairs = _same_class_pairs(dataset, max_pairs, seed)
    result = {"videos": n_videos, "pairs": len(pairs), "instances": len(complete),
              "cas_threshold": threshold}
    if pairs:
        result.update(_alignment_agreement(pairs, emb, att_a, labels, ftcl_cfg))
    else:
        result.update({k: math.nan for k in ("lcs_same_phase", "lcs_chance", "lcs_matches",
                                             "fsd_same_phase", "fsd_chance")})
        result["lcs_pairs_with_matches"] = 0
    result.update({k: _mean([p[k] for p in purity]) for k in purity[0]} if purity else {})
    result["completeness"] = _mean(complete)
    return result


# ------------------------------------------------------------------------------ one run


def analyse_run(cfg, record: dict, max_pairs: int = 200) -> dict[str, Any] | None:
    """The mechanism record of a finished run: measures of its stage-1 and its reported model.

    Returns None for runs this analysis does not apply to (real data without planted phases).
    ``cfg``: the run's :class:`~ftcl.config.RunConfig` (as trained); ``record``: its run record.
    All models are measured with the FTCL settings of the THUMOS14/ActivityNet defaults of the
    run's configuration (``cfg.ftcl``: ``fsd_len``, ``lcs_len``, ``tau``, ``gamma``), so an
    ACM-Net run and an FTCL run of one seed are measured alike.
    """
    if not getattr(get_spec(cfg.dataset, cfg.profile, cfg.data_version), "synthetic", False):
        return None
    data = load_data(cfg)
    spec = data.spec  # the run's data version
    test = data.test
    run_dir = run_directory(cfg)
    reported = record.get("selection", {}).get("reported", "last")
    final_path = run_dir / ("best.pt" if reported == "selected" else "last.pt")
    models = {"final": final_path}
    stage1 = resolve_in_work((record.get("schedule", {}).get("stage1", {}) or {}).get("path"),
                             cfg.out_dir)
    if stage1 is not None and stage1.is_file():
        models["stage1"] = stage1
    measures = {}
    for name, path in models.items():
        model, _, _ = model_from_checkpoint(path, "cpu")
        measures[name] = measure_model(model, test, data.root, spec, cfg.ftcl,
                                       max_pairs=max_pairs, seed=cfg.seed)
    return {"format": FORMAT, "version": VERSION, "run_id": record.get("run_id"),
            "method": cfg.method, "dataset": cfg.dataset, "profile": cfg.profile,
            "seed": cfg.seed, "data_seed": cfg.data_seed, "reported_model": reported,
            "settings": {"fsd_len": cfg.ftcl.fsd_len, "lcs_len": cfg.ftcl.lcs_len,
                         "tau": cfg.ftcl.tau, "gamma": cfg.ftcl.gamma,
                         "loss_form": cfg.ftcl.loss_form, "max_pairs": max_pairs},
            "measures": measures,
            "git_commit": (record.get("provenance") or {}).get("git_commit")}


def destination(run_record_path: str | Path) -> Path:
    """``<results>/<profile>/mechanism/<run_id>.json`` beside ``.../runs/<run_id>.json``."""
    return mechanism_of_record(run_record_path)


def write_record(mechanism: dict, path: str | Path) -> Path:
    """Write a mechanism record atomically."""
    return atomic_write_json(Path(path), mechanism)


# ------------------------------------------------------------------------------ the chapter


def load_mechanism_records(results_dir: str | Path, profile: str = "quick") -> list[dict]:
    """Every ``<results_dir>/<profile>/mechanism/*.json`` (validated: format and fields, and one
    record per (dataset, method, seed): a record left over from an earlier batch would be
    averaged with the current one, so a second record of a run is an error naming both files)."""
    folder = mechanism_dir(results_dir, profile)
    out, seen = [], {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"mechanism record {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a mechanism record (format {FORMAT!r})")
        for key in ("method", "dataset", "seed", "measures"):
            if key not in data:
                raise ValueError(f"mechanism record {path}: missing field {key!r}")
        key = (data["dataset"], data["method"], data["seed"])
        if key in seen:
            raise ValueError(f"mechanism records {seen[key].name} and {path.name} in {folder} are "
                             f"both {key}: remove the one whose run record is not in runs/")
        seen[key] = path
        out.append(data)
    return out
