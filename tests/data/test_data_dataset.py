"""VideoDataset on a folder written by hand: planted snippet labels (the synthetic benchmark's
ground truth beside the features) and the message of :meth:`VideoDataset.pick`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftcl.data import VideoDataset, get_spec
from ftcl.data.fixtures import write_tiny_dataset

#: four training videos (class, stored snippets); T = 4 points sampled from each
VIDEOS = {"v0": ("a", 6), "v1": ("b", 5), "v2": ("a", 7), "v3": ("b", 9)}


def planted_rows(k: int, length: int) -> np.ndarray:
    """The planted labels written for video ``k``: row ``t`` = (class, phase, instance, region)
    = (k % 2, t, 100 + t, k), int16 as the generator writes them."""
    return np.array([[k % 2, t, 100 + t, k] for t in range(length)], dtype=np.int16)


@pytest.fixture
def hand_root(tmp_path):
    videos = {vid: dict(split="train", subset="training", duration=10.0, n_snippets=n,
                        annotations=[((1.0, 2.0), cls)])
              for vid, (cls, n) in VIDEOS.items()}
    root = write_tiny_dataset(tmp_path / "data", videos, feature_dim=2)
    (root / "phases" / "train").mkdir(parents=True)
    for k, (vid, (_, n)) in enumerate(VIDEOS.items()):
        np.save(root / "phases" / "train" / f"{vid}.npy", planted_rows(k, n))
    return root


@pytest.fixture(scope="module")
def hand_spec():
    return get_spec("synanet", "quick").replace(classes=("a", "b"), feature_dim=2, num_segments=4)


def test_items_carry_the_planted_labels_of_the_sampled_snippets(hand_root, hand_spec):
    ds = VideoDataset(hand_root, "train", hand_spec, planted=True)
    # uniform sampling takes snippet floor(j L / 4): v0 (L=6) rows 0, 1, 3, 4; v1 (L=5) 0, 1, 2, 3
    first, second = ds[0], ds[1]
    assert first["planted"].dtype == torch.int64
    assert first["planted"].tolist() == [[0, 0, 100, 0], [0, 1, 101, 0], [0, 3, 103, 0],
                                         [0, 4, 104, 0]]
    assert second["planted"].tolist() == [[1, 0, 100, 1], [1, 1, 101, 1], [1, 2, 102, 1],
                                          [1, 3, 103, 1]]
    assert "planted" not in VideoDataset(hand_root, "train", hand_spec)[0]  # planted=False


def test_planted_labels_are_the_whole_file_and_cached(hand_root, hand_spec):
    ds = VideoDataset(hand_root, "train", hand_spec, planted=True)
    labels = ds.planted_labels("v2")
    assert labels.shape == (7, 4)
    np.testing.assert_array_equal(labels, planted_rows(2, 7))
    # a second read comes from memory, not from the (here rewritten) file
    np.save(hand_root / "phases" / "train" / "v2.npy", planted_rows(3, 7))
    np.testing.assert_array_equal(ds.planted_labels("v2"), planted_rows(2, 7))
    assert ds[2]["planted"][:, 3].tolist() == [2, 2, 2, 2]  # still video 2's rows


def test_planted_labels_of_another_length_than_the_features_are_named(hand_root, hand_spec):
    np.save(hand_root / "phases" / "train" / "v1.npy", planted_rows(1, 3))
    ds = VideoDataset(hand_root, "train", hand_spec, planted=True)
    with pytest.raises(ValueError) as err:
        ds[1]
    assert str(err.value) == "planted labels of 'v1' have 3 rows, its features 5"


def test_an_unknown_video_is_named_with_the_split_file_and_three_examples(hand_root, hand_spec,
                                                                          monkeypatch):
    monkeypatch.chdir(hand_root)  # the split file is then shown as a relative path
    ds = VideoDataset(hand_root, "train", hand_spec)
    with pytest.raises(ValueError) as err:
        ds.pick("v9")
    assert str(err.value) == (
        "video_id='v9' is not a video of the train split of synanet (split_train.txt, 4 videos, "
        "e.g. 'v0', 'v1', 'v2'); pass one of them, or None for the first")
