"""A trained model's outputs on a set of videos, and their score: the one eval-mode forward loop.

:func:`eval_batches` is the only place that runs a model in eval mode over a dataset (the trainer's
held-out and test evaluations, the proposal-purity and mechanism measures all use it);
:func:`predict` collects its outputs, :func:`score_predictions` localizes them
(:func:`ftcl.evaluation.localize.localize`) and scores them (:mod:`ftcl.evaluation.metrics`), and
:func:`evaluate_model` does both without touching the RNG streams.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..seed import preserved_rng
from .localize import localize
from .metrics import average_map, classification_map, detection_map


@dataclasses.dataclass
class Predictions:
    """Model outputs on a set of videos (numpy arrays, video order of ``video_ids``)."""

    video_ids: list[str]
    n_snippets: list[int]
    cas: np.ndarray  # [V, T, C]
    attention: np.ndarray  # [V, T]
    video_scores: np.ndarray  # [V, C]
    labels: np.ndarray  # [V, C]


@torch.no_grad()
def eval_batches(model: torch.nn.Module, dataset, video_ids: list[str] | None = None,
                 batch_size: int = 32) -> Iterator[tuple[list[int], list[dict], Any]]:
    """Run ``model`` in eval mode over ``video_ids`` of ``dataset`` (all videos if None), in
    batches of ``batch_size``, without gradients.

    Yields ``(indices, items, output)``: the videos' indices in ``dataset``, the dataset items
    (``dataset[i]``, sampled as the dataset samples) and the model's output on their stacked
    features (on the model's device). The model's training mode is restored at the end.
    """
    device = next(model.parameters()).device
    ids = list(dataset.video_ids) if video_ids is None else list(video_ids)
    index = {v: i for i, v in enumerate(dataset.video_ids)}
    missing = [v for v in ids if v not in index]
    if missing:
        raise ValueError(f"videos not in the dataset: {missing[:5]}")
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(ids), batch_size):
            indices = [index[v] for v in ids[start:start + batch_size]]
            items = [dataset[i] for i in indices]
            yield indices, items, model(torch.stack([it["features"] for it in items]).to(device))
    finally:
        model.train(was_training)


def predict(model: torch.nn.Module, dataset, video_ids: list[str] | None = None,
            batch_size: int = 32) -> Predictions:
    """Run ``model`` (in eval mode) over ``video_ids`` of ``dataset`` (all videos if None)."""
    ids = list(dataset.video_ids) if video_ids is None else list(video_ids)
    cas, att, scores, labels = [], [], [], []
    for _, items, out in eval_batches(model, dataset, ids, batch_size):
        cas.append(out.cas.float().cpu().numpy())
        att.append(out.attention.float().cpu().numpy())
        scores.append(out.video_scores.float().cpu().numpy())
        labels.append(torch.stack([it["labels"] for it in items]).numpy())
    return Predictions(ids, [int(dataset.n_snippets(v)) for v in ids], np.concatenate(cas),
                       np.concatenate(att), np.concatenate(scores), np.concatenate(labels))


def score_predictions(pred: Predictions, dataset, spec, inference=None,
                      whole_split: bool = True) -> tuple[dict, Any]:
    """Localize (:func:`ftcl.evaluation.localize.localize`) and score
    (:mod:`ftcl.evaluation.metrics`) predictions.

    ``whole_split``: score against the split's whole ground truth (as the release: instances of
    videos missing from the split list count as misses); False: only the predicted videos'
    (held-out subsets). Returns ``(metrics, proposals)``: ``metrics`` holds ``tiou_thresholds``,
    ``map`` (fractions, one per threshold), ``average_map`` over ``spec.map_average_range``,
    ``average_range``, ``classification_map`` and ``videos``; ``proposals`` the segments.
    """
    proposals = localize(pred.cas, pred.attention, pred.video_scores, pred.video_ids,
                         pred.n_snippets, list(dataset.classes), spec, inference)
    gt = dataset.ground_truth()
    if not whole_split:
        gt = gt[gt["video-id"].isin(set(pred.video_ids))].reset_index(drop=True)
        # mAP averages over the classes of the ground truth; detections of classes without an
        # instance among these videos belong to no AP.
        proposals = proposals[proposals["label"].isin(set(gt["label"]))].reset_index(drop=True)
    thresholds = [float(t) for t in spec.tiou_thresholds]
    maps = detection_map(gt, proposals, thresholds, allow_empty=True)
    metrics = {
        "tiou_thresholds": thresholds,
        "map": [float(x) for x in maps],
        "average_map": average_map(maps, thresholds, spec.map_average_range),
        "average_range": [float(x) for x in spec.map_average_range],
        "classification_map": classification_map(pred.video_scores, pred.labels),
        "videos": len(pred.video_ids),
    }
    return metrics, proposals


def evaluate_model(model: torch.nn.Module, dataset, spec, video_ids: list[str] | None = None,
                   batch_size: int = 32, inference=None) -> tuple[dict, Any]:
    """:func:`predict` then :func:`score_predictions`; RNG states are left untouched.

    With ``video_ids`` only those videos' ground truth counts; without, the whole split's.
    """
    with preserved_rng():
        pred = predict(model, dataset, video_ids, batch_size)
    return score_predictions(pred, dataset, spec, inference, whole_split=video_ids is None)
