"""Pair batches built on the training device: a split's features resident in device memory.

:class:`~ftcl.data.pairs.PairBatches` builds each batch on the CPU: it samples every video to
``T`` snippets in numpy, stacks ``2B`` arrays of ``T x D`` floats and the trainer copies them to
the device (issue 12: on one H200 at the paper's sizes, ``B = 16``, ``T = 750``, ``D = 2048``,
this was about 96 % of a stage-1 iteration). :class:`DevicePairBatches` yields the *same*
batches (bit-identical tensors) while keeping the work on the device:

- :class:`DeviceFeatures` copies a split's stored features once into one device tensor
  ``[sum_v L_v, D]`` (THUMOS14: about 2.5 GB), with each video's offset and length ``L_v``;
- the stratified sampling of :mod:`ftcl.data.sampling` (point ``j`` takes snippet
  ``floor((j + u_j) L / T)``, uniform: ``floor(j L / T)``) is computed as torch operations on the
  device, for all videos of a batch at once, and the ``2B x T`` rows are gathered by one indexing
  operation (no stacking, no host-to-device copy of features);
- the pairs of an epoch (the release's balanced positive/negative draw, order and orientation)
  come from :meth:`PairBatches.epoch_pairs`, unchanged, copied to the device once per epoch.

Determinism and identity with the CPU path: the only random numbers are the ``u_j``, drawn as
today from ``numpy.random.default_rng([seed, epoch, index])`` (the dataset's per-item streams),
once per epoch for every video (``V x T`` doubles, one copy per epoch). Drawing them with torch's
generator on the device would be faster still but would change the sampling of every seed (and
differ between devices); the float64 arithmetic that turns them into indices is the same IEEE
operations as numpy's, so the indices, and hence the batches, are identical to
:class:`PairBatches` over :class:`~ftcl.data.VideoDataset` on every device (tested on the CPU,
``device="cpu"``).
"""

from __future__ import annotations

import numpy as np
import torch

from .features import feature_path, load_features
from .pairs import PairBatches
from .sampling import SAMPLING_MODES

DATA_ON_DEVICE = ("auto", "true", "false")


def resolve_data_on_device(setting: str | bool, device: torch.device) -> bool:
    """``train.data_on_device``: ``"auto"`` = on CUDA devices only; ``True``; ``False``
    (the strings ``"true"``/``"false"`` too)."""
    if isinstance(setting, bool):
        return setting
    if setting not in DATA_ON_DEVICE:
        raise ValueError(f"config key 'train.data_on_device' must be auto, true or false, "
                         f"got {setting!r}")
    if setting == "auto":
        return torch.device(device).type == "cuda"
    return setting == "true"


def stratified_indices(lengths: torch.Tensor, u: torch.Tensor | None, num_segments: int):
    """Snippet indices ``[V, T]`` of videos of ``lengths [V]`` (device tensors).

    ``u`` ``[V, T]`` float64 in ``[0, 1)``: random (stratified) sampling,
    ``min(floor((j + u_j) L / T), L - 1)``; ``None``: uniform, ``floor(j L / T)``. The same
    operations as :func:`ftcl.data.sampling.random_indices` / ``uniform_indices``.
    """
    lengths = lengths.to(torch.int64)
    if u is None:
        j = torch.arange(num_segments, dtype=torch.int64, device=lengths.device)
        return (j * lengths[:, None]) // num_segments
    j = torch.arange(num_segments, dtype=torch.float64, device=lengths.device)
    stride = lengths.to(torch.float64)[:, None] / num_segments
    pos = torch.floor((j + u) * stride).to(torch.int64)
    return torch.minimum(pos, lengths[:, None] - 1)


class DeviceFeatures:
    """All stored features of a :class:`~ftcl.data.VideoDataset` in one device tensor.

    Parameters
    ----------
    dataset : VideoDataset
        Its ``spec.num_segments``, ``sampling``, ``seed`` and current ``epoch`` define the
        sampling, exactly as :meth:`VideoDataset.sample_indices`.
    device : torch.device or str

    Attributes
    ----------
    features : Tensor ``[sum_v L_v, D]`` float32 on ``device``
    offsets, lengths : LongTensor ``[V]`` on ``device``
    labels : Tensor ``[V, C]`` float32 on ``device``
    """

    def __init__(self, dataset, device):
        if dataset.sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {dataset.sampling!r}")
        self.dataset = dataset
        self.device = torch.device(device)
        lengths = np.array([dataset.n_snippets(v) for v in dataset.video_ids], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        dim = dataset.spec.feature_dim
        self.features = torch.empty(int(lengths.sum()), dim, dtype=torch.float32,
                                    device=self.device)
        for k, vid in enumerate(dataset.video_ids):  # one video at a time: no second host copy
            rows = torch.from_numpy(self._stored(vid))
            self.features[offsets[k]:offsets[k] + lengths[k]].copy_(rows)
        self.lengths = torch.from_numpy(lengths).to(self.device)
        self.offsets = torch.from_numpy(offsets).to(self.device)
        self.labels = torch.from_numpy(dataset.labels).to(self.device)
        self._u_epoch: int | None = None
        self._u: torch.Tensor | None = None

    def _stored(self, vid: str) -> np.ndarray:
        """A video's validated features, without filling the dataset's host cache (on a GPU
        shared by several runs, each would otherwise keep the split in host memory too)."""
        cached = getattr(self.dataset, "_cache", {}).get(vid)
        if cached is not None or not hasattr(self.dataset, "root"):
            return cached if cached is not None else self.dataset.features(vid)
        ds = self.dataset
        return load_features(feature_path(ds.root, ds.split, vid), vid, ds.spec.feature_dim)

    @property
    def nbytes(self) -> int:
        """Device memory of the features."""
        return self.features.numel() * self.features.element_size()

    def _draws(self) -> torch.Tensor | None:
        """``u [V, T]`` of the dataset's current epoch (its per-item numpy streams), cached."""
        ds = self.dataset
        if ds.sampling == "uniform":
            return None
        if self._u_epoch != ds.epoch:
            t = ds.spec.num_segments
            u = np.empty((len(ds.video_ids), t))
            for index in range(len(ds.video_ids)):
                u[index] = np.random.default_rng([ds.seed, ds.epoch, index]).random(t)
            self._u = torch.from_numpy(u).to(self.device)
            self._u_epoch = ds.epoch
        return self._u

    def sample_indices(self, index: torch.Tensor) -> torch.Tensor:
        """Row indices ``[n, T]`` into :attr:`features` of items ``index`` (device LongTensor)."""
        u = self._draws()
        idx = stratified_indices(self.lengths[index], None if u is None else u[index],
                                 self.dataset.spec.num_segments)
        return idx + self.offsets[index, None]

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """Sampled features ``[n, T, D]`` of items ``index``: one indexing operation."""
        return self.features[self.sample_indices(index)]


class DevicePairBatches(PairBatches):
    """:class:`PairBatches` whose batches are built on ``device`` (same batches, same order).

    Parameters
    ----------
    dataset : VideoDataset, or a subset view with ``dataset`` and ``indices`` attributes
        (:class:`ftcl.train.VideoSubset`): pair indices are positions in the view, the sampling
        is the parent's (as the CPU path).
    batch_size, seed : see :class:`PairBatches`.
    device : torch.device or str
    features : DeviceFeatures, optional
        Reuse resident features (e.g. across the two training stages).

    Batches are the dicts of :class:`PairBatches`: ``features_*`` and ``labels_*`` on ``device``,
    ``positive`` and ``index_*`` on the CPU (as there).
    """

    def __init__(self, dataset, batch_size: int = 16, seed: int = 0, device="cpu",
                 features: DeviceFeatures | None = None):
        super().__init__(dataset, batch_size=batch_size, seed=seed)
        base = getattr(dataset, "dataset", dataset)
        parent = getattr(dataset, "indices", range(len(dataset)))
        self.base = base
        self.parent = np.asarray(parent, dtype=np.int64)
        self.device = torch.device(device)
        if features is not None and (features.dataset is not base
                                     or features.device != self.device):
            raise ValueError("features: resident features of another dataset or device")
        self.store = features if features is not None else DeviceFeatures(base, self.device)

    def __iter__(self):
        pairs, positive = self.epoch_pairs()
        on_device = torch.from_numpy(self.parent[pairs]).to(self.device)  # [N, 2] parent indices
        store = self.store
        for b in range(0, len(pairs), self.batch_size):
            p, pos = pairs[b : b + self.batch_size], positive[b : b + self.batch_size]
            both = on_device[b : b + self.batch_size].T.reshape(-1)  # a's, then b's
            feats = store.gather(both)
            labels = store.labels[both]
            n = len(p)
            yield {
                "features_a": feats[:n],
                "features_b": feats[n:],
                "labels_a": labels[:n],
                "labels_b": labels[n:],
                "positive": torch.from_numpy(pos.copy()),
                "index_a": torch.from_numpy(p[:, 0].copy()),
                "index_b": torch.from_numpy(p[:, 1].copy()),
            }
