"""The two-stage schedule's learning rate and model-selection rule, as functions of the
configuration (:class:`~ftcl.config.TrainConfig`).

Stage 1 trains the backbone alone at ``train.lr``; stage 2 uses ``train.stage2_lr`` (``lr`` if
null), constant, cosine-annealed to 0, or with a linear warm-up over its first 10 % then cosine
(``train.stage2_schedule``).
"""

from __future__ import annotations

import numpy as np

from ..config import RunConfig, TrainConfig


def learning_rate(t: TrainConfig, stage: int, iteration: int) -> float:
    """Learning rate of ``iteration`` (0-based) of ``stage``: ``train.lr`` in stage 1; in
    stage 2 ``train.stage2_lr`` (or ``lr``), constant or cosine-annealed to 0."""
    if stage == 1:
        return t.lr
    base = t.stage2_lr if t.stage2_lr is not None else t.lr
    if t.stage2_schedule == "cosine" and t.iterations > 0:
        return base * 0.5 * (1.0 + float(np.cos(np.pi * iteration / t.iterations)))
    if t.stage2_schedule == "warmup-cosine" and t.iterations > 0:
        warm = max(1, t.iterations // 10)  # linear warm-up over the first 10 %, then cosine
        if iteration < warm:
            return base * (iteration + 1) / warm
        frac = (iteration - warm) / max(1, t.iterations - warm)
        return base * 0.5 * (1.0 + float(np.cos(np.pi * frac)))
    return base


def selection_rule(cfg: RunConfig, holdout_videos: int) -> str:
    """The model-selection rule in words, as the run record states it."""
    if cfg.train.selection != "holdout":
        return "last checkpoint (no selection)"
    return (f"best average mAP on {holdout_videos} held-out training videos, "
            f"evaluated every {cfg.train.eval_every} stage-2 iterations "
            + ("and at iteration 0 (the stage-1 checkpoint) " if cfg.train.select_stage1
               else "") + "(test set not used)")
