"""Data: the real on-disk formats, the SynTHUMOS14 / SynANet benchmarks, sampling and pairs.

- :mod:`ftcl.data.spec` -- :class:`DatasetSpec` and the named specs (:func:`get_spec`).
- :mod:`ftcl.data.annotations` -- the packaged real annotations and their traps.
- :mod:`ftcl.data.features` -- the ACM-Net/FTCL layout: reading, writing, validating features.
- :mod:`ftcl.data.sampling` -- T-snippet sampling (uniform / stratified random).
- :mod:`ftcl.data.dataset` -- :class:`VideoDataset`.
- :mod:`ftcl.data.knobs` -- :class:`SyntheticKnobs`, the generator's knobs (data versions 1 and 2).
- :mod:`ftcl.data.synthetic` -- the generator (:func:`generate_synthetic`).
- :mod:`ftcl.data.probe` -- probes of the planted structure (``python -m ftcl.data.probe``).
- :mod:`ftcl.data.prepare` -- :func:`prepare_dataset` (validate real, generate/cache synthetic).
- :mod:`ftcl.data.pairs` -- :class:`PairBatches` for the contrastive losses, :class:`VideoSubset`.
- :mod:`ftcl.data.device_batches` -- the same pair batches built on the device.
- :mod:`ftcl.data.checks` -- a run's data checked before training (finite features, ground truth
  of every class, video pairs).
- :mod:`ftcl.data.fixtures` -- tiny datasets in the real layout, for tests.
"""

from .annotations import (
    read_gt_json,
    read_split,
    thumos14_ambiguous,
    thumos14_true_durations,
)
from .checks import check_data
from .dataset import VideoDataset
from .features import feature_path, load_features, save_features
from .pairs import PairBatches, VideoSubset
from .prepare import prepare_dataset, spec_from_meta, validate_root
from .sampling import random_indices, sample_indices, uniform_indices
from .spec import DatasetSpec, get_spec
from .synthetic import (
    SNIPPET_LABEL_COLUMNS,
    SyntheticKnobs,
    generate_synthetic,
    load_snippet_labels,
)

__all__ = [
    "DatasetSpec",
    "PairBatches",
    "SNIPPET_LABEL_COLUMNS",
    "SyntheticKnobs",
    "VideoDataset",
    "VideoSubset",
    "check_data",
    "feature_path",
    "generate_synthetic",
    "get_spec",
    "load_features",
    "load_snippet_labels",
    "prepare_dataset",
    "random_indices",
    "read_gt_json",
    "read_split",
    "sample_indices",
    "save_features",
    "spec_from_meta",
    "thumos14_ambiguous",
    "thumos14_true_durations",
    "uniform_indices",
    "validate_root",
]
