"""The data of one run: its dataset, its splits, and the videos held out for model selection.

:func:`load_data` prepares (or validates) the dataset of a configuration and opens its splits;
:func:`holdout_split` sets aside the training videos model selection scores on (the same for every
seed and method); :func:`pair_batches` builds the pair batches the optimiser sees, on the CPU or
directly on the device (:mod:`ftcl.data.device_batches`: the same batches either way).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RunConfig
from ..data import PairBatches, VideoDataset, VideoSubset, get_spec, prepare_dataset
from ..data.device_batches import DevicePairBatches
from ..seed import derive_seed


@dataclasses.dataclass
class RunData:
    """The data of a run: spec, root folder, the splits and the selection videos."""

    spec: Any
    root: Path
    train: Any  # VideoDataset of the training split (all videos)
    test: Any  # VideoDataset of the test split
    fit_ids: list[str]  # training videos the optimiser sees
    holdout_ids: list[str]  # training videos held out for model selection
    prepare_s: float = 0.0  # seconds to prepare the data (generate it, or check the cached copy)


def holdout_split(video_ids: list[str], fraction: float) -> tuple[list[str], list[str]]:
    """Split training videos into (fit, held-out), the same for every seed and method.

    A fixed permutation (seed 0) of the sorted ids; ``round(fraction * n)`` videos (at least one)
    are held out.
    """
    ids = sorted(video_ids)
    n_out = min(max(1, round(fraction * len(ids))), len(ids) - 1)
    order = np.random.default_rng(0).permutation(len(ids))
    out = {ids[i] for i in order[:n_out]}
    return [v for v in ids if v not in out], [v for v in ids if v in out]


def load_data(cfg: RunConfig, spec=None) -> RunData:
    """Prepare (or validate) the dataset of ``cfg`` and open its splits.

    ``spec``: a :class:`~ftcl.data.DatasetSpec` to use instead of the named one (a calibration
    study trying other generator knobs; the data folder is named after its hash). The training
    split's items carry the planted snippet labels when a term needs them
    (``cfg.ftcl.needs_planted``)."""
    if spec is None:
        spec = get_spec(cfg.dataset, cfg.profile, data_version=cfg.data_version)
    data_seed = cfg.data_seed if cfg.data_seed is not None else 0
    start = time.perf_counter()
    root = Path(prepare_dataset(cfg.dataset, cfg.profile, data_dir=cfg.data_dir, seed=data_seed,
                                cache_dir=cfg.cache_dir, spec=spec))
    prepare_s = time.perf_counter() - start
    train = VideoDataset(root, "train", spec, sampling=cfg.train.sampling,
                         seed=derive_seed(cfg.seed, "sampling"), planted=cfg.ftcl.needs_planted)
    test = VideoDataset(root, "test", spec, sampling="uniform", seed=cfg.seed)
    ids = list(train.video_ids)
    if cfg.train.selection == "holdout":
        fit_ids, holdout_ids = holdout_split(ids, cfg.train.holdout_fraction)
    else:
        fit_ids, holdout_ids = ids, []
    return RunData(spec, root, train, test, fit_ids, holdout_ids, prepare_s)


def uniform_training_split(data: RunData):
    """The training split sampled uniformly, for the held-out evaluation: the same snippets at
    every evaluation (not the training sampler's current epoch), so a score does not depend on
    how many epochs ran or on whether stage 1 was trained or loaded."""
    if data.train.sampling == "uniform":
        return data.train
    return VideoDataset(data.root, "train", data.spec, sampling="uniform")


def pair_batches(data: RunData, batch_size: int, seed: int, device=None, resident=None):
    """CPU-built :class:`~ftcl.data.PairBatches` of the fit videos, or with ``device`` the same
    batches built on the device (:class:`ftcl.data.device_batches.DevicePairBatches`, reusing
    ``resident`` features)."""
    subset = VideoSubset(data.train, data.fit_ids)
    if device is None:
        return PairBatches(subset, batch_size=batch_size, seed=seed)
    return DevicePairBatches(subset, batch_size, seed, device, features=resident)
