"""Sampling to T snippets, and sampled indices back to seconds."""

from __future__ import annotations

import numpy as np
import pytest

from ftcl.data import VideoDataset, get_spec, random_indices, sample_indices, uniform_indices
from ftcl.evaluation.localize import index_to_seconds


@pytest.mark.parametrize("length, t", [(1000, 750), (750, 750), (300, 750), (7, 3), (1, 5)])
def test_uniform_indices(length, t):
    idx = uniform_indices(length, t)
    assert idx.shape == (t,) and idx.dtype == np.int64
    np.testing.assert_array_equal(idx, [int(np.floor(j * length / t)) for j in range(t)])
    assert idx.min() >= 0 and idx.max() < length
    if length == t:
        np.testing.assert_array_equal(idx, np.arange(t))


@pytest.mark.parametrize("length, t", [(1000, 750), (2000, 75), (300, 750), (75, 75)])
def test_random_indices_are_stratified(length, t):
    rng = np.random.default_rng(0)
    draws = np.stack([random_indices(length, t, rng) for _ in range(200)])
    assert (np.diff(draws, axis=1) >= 0).all()  # non-decreasing
    j = np.arange(t)
    lo = np.floor(j * length / t).astype(int)
    hi = np.minimum(np.ceil((j + 1) * length / t).astype(int) - 1, length - 1)
    assert ((draws >= lo) & (draws <= hi)).all()  # each point inside its stratum
    if length >= 2 * t:  # strata of >= 2 snippets: every snippet of a stratum is drawn sometimes
        assert (draws != lo).any(axis=0).all() and (draws == lo).any(axis=0).all()


def test_sample_indices_modes():
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(sample_indices(10, 5), [0, 2, 4, 6, 8])
    a = sample_indices(100, 10, "random", np.random.default_rng(3))
    b = sample_indices(100, 10, "random", np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        sample_indices(100, 10, "random")
    with pytest.raises(ValueError):
        sample_indices(100, 10, "middle", rng)
    with pytest.raises(ValueError):
        uniform_indices(0, 10)


@pytest.mark.parametrize("length, t", [(1121, 750), (265, 750), (2055, 256), (90, 75)])
def test_sampled_points_map_back_to_seconds(length, t):
    """Point j's time (the release's t_factor) is the start of snippet position j L / T; the
    snippet uniform sampling actually takes starts at most one snippet (0.64 s) earlier."""
    j = np.arange(t)
    up = 20
    t_point = index_to_seconds(j * up, length, t, upsample=up)  # upsampled index of point j
    np.testing.assert_allclose(t_point, j * length / t * 0.64)
    taken = uniform_indices(length, t) * 0.64
    assert (taken <= t_point + 1e-9).all() and (taken > t_point - 0.64).all()
    # the end of the last upsampled point is the end of the stored video
    assert index_to_seconds(t * up, length, t, upsample=up) == pytest.approx(length * 0.64)


def test_instance_round_trip_through_sampling():
    """An instance at [s, e] seconds, seen through uniform sampling (points whose snippet centre is
    inside) and mapped back, is recovered to within one point spacing plus half a snippet."""
    for length, t in ((1121, 750), (300, 750), (2055, 256)):
        spacing = length / t * 0.64
        centre = uniform_indices(length, t) * 0.64 + 0.32
        for s, e in ((100.0, 112.5), (3.3, 5.1), (150.0, 150.9)):
            inside = np.nonzero((centre >= s) & (centre < e))[0]
            if inside.size == 0:
                # only instances shorter than the largest gap between taken snippets are missed
                assert e - s < np.ceil(length / t) * 0.64
                continue
            t0 = index_to_seconds(inside[0], length, t)
            t1 = index_to_seconds(inside[-1] + 1, length, t)
            assert abs(t0 - s) <= spacing + 0.32 and abs(t1 - e) <= spacing + 0.32


def test_dataset_epochs_and_seeds(thumos_like, tiny, tmp_path):
    spec = get_spec("thumos14").replace(feature_dim=tiny.thumos_like_dim, num_segments=32)
    root = thumos_like(tmp_path)
    ds = VideoDataset(root, "train", spec, sampling="random", seed=5)
    a = ds[0]["sample_index"].numpy()
    np.testing.assert_array_equal(a, ds[0]["sample_index"].numpy())  # same epoch: same draw
    ds.set_epoch(1)
    b = ds[0]["sample_index"].numpy()
    assert not np.array_equal(a, b)
    again = VideoDataset(root, "train", spec, sampling="random", seed=5)
    again.set_epoch(1)
    np.testing.assert_array_equal(again[0]["sample_index"].numpy(), b)  # reproducible
    other = VideoDataset(root, "train", spec, sampling="random", seed=6)
    assert not np.array_equal(other[0]["sample_index"].numpy(), a)
    uni = VideoDataset(root, "train", spec, sampling="uniform")
    uni.set_epoch(3)
    np.testing.assert_array_equal(uni[1]["sample_index"].numpy(), uniform_indices(1121, 32))
    with pytest.raises(ValueError):
        VideoDataset(root, "train", spec, sampling="dense")
