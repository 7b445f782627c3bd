"""Pairs of training videos for the contrastive losses (FSD, Eq. 4; LCS, Eq. 7).

As in the release: a *positive* pair is two videos with identical label sets, a *negative* pair two
videos with disjoint label sets. Every epoch uses all positive pairs and as many negative pairs
drawn at random (without replacement) from all negative candidates, shuffled together: balanced.
On the THUMOS14 training split this gives 861 positive pairs out of 18,772 negative candidates,
1,722 pairs an epoch (108 batches of 16), the counts of the release. :class:`VideoSubset` restricts
a dataset to the videos the optimiser sees (the held-out videos of model selection left out).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch


class VideoSubset:
    """The videos ``video_ids`` of a :class:`~ftcl.data.VideoDataset`, for :class:`PairBatches`.

    Items keep the parent's index (so the parent's seeded per-item sampling is unchanged).
    """

    def __init__(self, dataset, video_ids: list[str]):
        position = {v: i for i, v in enumerate(dataset.video_ids)}
        missing = [v for v in video_ids if v not in position]
        if missing:
            raise ValueError(f"videos not in the dataset: {missing[:5]}")
        self.dataset = dataset
        self.video_ids = list(video_ids)
        self.indices = [position[v] for v in video_ids]
        self.classes = dataset.classes

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        return self.dataset[self.indices[i]]

    def label_sets(self) -> list[frozenset[int]]:
        sets = self.dataset.label_sets()
        return [sets[i] for i in self.indices]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)


class PairBatches:
    """Iterable of batches of video pairs; one ``iter()`` is one epoch.

    Parameters
    ----------
    dataset : VideoDataset
        The training split (anything with ``label_sets()``, ``__getitem__`` and optionally
        ``set_epoch``).
    batch_size : int
        Pairs per batch (the last batch may be smaller).
    seed : int
        Negative sampling, order and orientation of epoch ``e`` use ``default_rng([seed, e])``.

    Each batch is a dict: ``features_a``, ``features_b`` ``[B, T, D]``, ``labels_a``, ``labels_b``
    ``[B, C]``, ``positive`` BoolTensor ``[B]``, ``index_a``, ``index_b`` LongTensor ``[B]``
    (and ``planted_a``, ``planted_b`` ``[B, T, 4]`` when the dataset's items carry ``planted``).
    Call :meth:`set_epoch` before each epoch (it also re-samples the dataset's snippets if the
    dataset has ``set_epoch``); without it every epoch repeats the same pairs.
    """

    def __init__(self, dataset, batch_size: int = 16, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = int(seed)
        self.epoch = 0
        sets = dataset.label_sets()
        pos, neg = [], []
        for i, j in itertools.combinations(range(len(sets)), 2):
            if not sets[i] or not sets[j]:
                continue  # a video without labels pairs with nothing
            if sets[i] == sets[j]:
                pos.append((i, j))
            elif not (sets[i] & sets[j]):
                neg.append((i, j))
        self.positive_pairs = np.asarray(pos, dtype=np.int64).reshape(-1, 2)
        self.negative_candidates = np.asarray(neg, dtype=np.int64).reshape(-1, 2)
        if len(self.positive_pairs) == 0 or len(self.negative_candidates) == 0:
            raise ValueError(
                f"PairBatches: {len(self.positive_pairs)} positive pairs and "
                f"{len(self.negative_candidates)} negative candidates; need both"
            )

    @property
    def pairs_per_epoch(self) -> int:
        """Positive pairs + as many negatives (capped by the candidates)."""
        n = len(self.positive_pairs)
        return n + min(n, len(self.negative_candidates))

    def __len__(self) -> int:
        return -(-self.pairs_per_epoch // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Select epoch ``epoch`` (pairs, order, and the dataset's snippet sampling)."""
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def epoch_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``[N, 2]`` pairs of the current epoch (in batch order) and their positive flags."""
        rng = np.random.default_rng([self.seed, self.epoch])
        n_pos = len(self.positive_pairs)
        pick = rng.choice(
            len(self.negative_candidates),
            size=min(n_pos, len(self.negative_candidates)),
            replace=False,
        )
        pairs = np.concatenate([self.positive_pairs, self.negative_candidates[np.sort(pick)]])
        positive = np.r_[np.ones(n_pos, bool), np.zeros(len(pick), bool)]
        swap = rng.random(len(pairs)) < 0.5
        pairs[swap] = pairs[swap][:, ::-1]
        order = rng.permutation(len(pairs))
        return pairs[order], positive[order]

    def __iter__(self):
        pairs, positive = self.epoch_pairs()
        for b in range(0, len(pairs), self.batch_size):
            p, pos = pairs[b : b + self.batch_size], positive[b : b + self.batch_size]
            items_a = [self.dataset[int(i)] for i in p[:, 0]]
            items_b = [self.dataset[int(i)] for i in p[:, 1]]
            batch = {
                "features_a": torch.stack([it["features"] for it in items_a]),
                "features_b": torch.stack([it["features"] for it in items_b]),
                "labels_a": torch.stack([it["labels"] for it in items_a]),
                "labels_b": torch.stack([it["labels"] for it in items_b]),
                "positive": torch.from_numpy(pos.copy()),
                "index_a": torch.from_numpy(p[:, 0].copy()),
                "index_b": torch.from_numpy(p[:, 1].copy()),
            }
            if "planted" in items_a[0]:  # planted snippet labels (oracle terms)
                batch["planted_a"] = torch.stack([it["planted"] for it in items_a])
                batch["planted_b"] = torch.stack([it["planted"] for it in items_b])
            yield batch
