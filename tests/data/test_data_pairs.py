"""Pair batches: the release's counts on THUMOS14, balance, label relations, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftcl.data import PairBatches, VideoDataset, VideoSubset, get_spec
from ftcl.data.annotations import thumos14_database, thumos14_split
from ftcl.data.fixtures import write_tiny_dataset


class LabelOnly:
    """A stand-in dataset with real label sets and tiny features (no files needed)."""

    def __init__(self, label_sets, t=4, d=2):
        self.sets = label_sets
        self.t, self.d = t, d
        self.epochs = []

    def label_sets(self):
        return self.sets

    def set_epoch(self, e):
        self.epochs.append(e)

    def __getitem__(self, i):
        lab = torch.zeros(20)
        lab[list(self.sets[i])] = 1
        return {"features": torch.full((self.t, self.d), float(i)), "labels": lab}


@pytest.fixture(scope="module")
def thumos_sets():
    db = thumos14_database()
    classes = sorted({a["label"] for v in db.values() for a in v["annotations"]})
    return [
        frozenset(classes.index(a["label"]) for a in db[v]["annotations"])
        for v in thumos14_split("train")
    ]


def test_release_counts_on_thumos14(thumos_sets):
    pairs = PairBatches(LabelOnly(thumos_sets), batch_size=16)
    assert len(pairs.positive_pairs) == 861
    assert len(pairs.negative_candidates) == 18772
    assert pairs.pairs_per_epoch == 1722 and len(pairs) == 108


def test_pairs_are_balanced_and_correct(thumos_sets):
    pairs = PairBatches(LabelOnly(thumos_sets), batch_size=16, seed=3)
    p, pos = pairs.epoch_pairs()
    assert pos.sum() == (~pos).sum() == 861
    for (i, j), is_pos in zip(p, pos, strict=True):
        assert i != j
        if is_pos:
            assert thumos_sets[i] == thumos_sets[j]
        else:
            assert not (thumos_sets[i] & thumos_sets[j])
    assert len({tuple(sorted(x)) for x in p}) == len(p)  # no pair twice in an epoch
    # orientation is random: both (i, j) and (j, i) orders occur
    assert 0.3 < np.mean(p[:, 0] < p[:, 1]) < 0.7


def test_batches_seeding_and_epochs(thumos_sets):
    ds = LabelOnly(thumos_sets)
    pairs = PairBatches(ds, batch_size=16, seed=0)
    batches = list(pairs)
    assert len(batches) == 108 and len(batches[-1]["positive"]) == 1722 - 107 * 16
    b = batches[0]
    assert b["features_a"].shape == (16, 4, 2) and b["labels_b"].shape == (16, 20)
    assert b["positive"].dtype == torch.bool
    np.testing.assert_array_equal(b["features_a"][:, 0, 0].long().numpy(), b["index_a"].numpy())
    same = (b["labels_a"] == b["labels_b"]).all(1)
    assert torch.equal(same, b["positive"])
    again = next(iter(PairBatches(LabelOnly(thumos_sets), batch_size=16, seed=0)))
    assert torch.equal(again["index_a"], b["index_a"])  # same seed, same epoch: same batches
    pairs.set_epoch(1)
    assert ds.epochs == [1]  # forwarded to the dataset (re-sampling of snippets)
    assert not torch.equal(next(iter(pairs))["index_a"], b["index_a"])


def test_with_a_real_layout_dataset(tmp_path):
    spec = get_spec("thumos14").replace(feature_dim=6, num_segments=5)
    videos = {}
    for k, labels in enumerate(
        [["Diving"], ["Diving"], ["Billiards"], ["Billiards"], ["Diving", "CliffDiving"]]
    ):
        videos[f"video_validation_{k:07d}"] = dict(
            split="train",
            subset="validation",
            duration=20.0,
            n_snippets=31,
            annotations=[((1.0 + i, 3.0 + i), lab) for i, lab in enumerate(labels)],
        )
    root = write_tiny_dataset(tmp_path, videos, feature_dim=6)
    ds = VideoDataset(root, "train", spec.replace(duration_source="gt.json"), sampling="random")
    pairs = PairBatches(ds, batch_size=3)
    # positives: (0,1) and (2,3); negatives: Diving vs Billiards (4) + (4 vs 2, 3) = 6
    assert len(pairs.positive_pairs) == 2 and len(pairs.negative_candidates) == 6
    batches = list(pairs)
    assert sum(len(b["positive"]) for b in batches) == 4
    assert batches[0]["features_a"].shape[1:] == (5, 6)


def test_needs_both_kinds():
    with pytest.raises(ValueError, match="positive"):
        PairBatches(LabelOnly([frozenset({0}), frozenset({1})]))


class Named(LabelOnly):
    """LabelOnly with video names and class names, like a VideoDataset."""

    def __init__(self, label_sets):
        super().__init__(label_sets)
        self.video_ids = [f"v{i}" for i in range(len(label_sets))]
        self.classes = ("a", "b", "c")


def test_video_subset_keeps_names_classes_and_parent_items():
    parent = Named([frozenset({0}), frozenset({1}), frozenset({0, 2}), frozenset({2})])
    sub = VideoSubset(parent, ("v3", "v0", "v2"))
    assert sub.video_ids == ["v3", "v0", "v2"] and sub.indices == [3, 0, 2]
    assert sub.classes == ("a", "b", "c") and len(sub) == 3
    assert sub.label_sets() == [frozenset({2}), frozenset({0}), frozenset({0, 2})]
    assert sub[1]["features"][0, 0].item() == 0.0 and sub[0]["features"][0, 0].item() == 3.0
    sub.set_epoch(4)
    assert parent.epochs == [4]


def test_video_subset_names_the_first_five_missing_videos():
    parent = Named([frozenset({0})] * 2)
    with pytest.raises(ValueError) as err:
        VideoSubset(parent, ["v1", "x1", "x2", "v0", "x3", "x4", "x5", "x6"])
    assert str(err.value) == "videos not in the dataset: ['x1', 'x2', 'x3', 'x4', 'x5']"


class WithPlanted(LabelOnly):
    """LabelOnly whose items also carry planted labels: video ``i``'s rows are all ``10 + i``."""

    def __getitem__(self, i):
        return {**super().__getitem__(i),
                "planted": torch.full((self.t, 4), 10 + i, dtype=torch.int64)}


def test_batches_stack_the_planted_labels_of_both_videos_of_each_pair():
    # one positive pair (0, 1), negative candidates (0, 2) and (1, 2), one drawn: two pairs
    ds = WithPlanted([frozenset({0}), frozenset({0}), frozenset({1})])
    batches = list(PairBatches(ds, batch_size=2, seed=0))
    assert len(batches) == 1
    b = batches[0]
    assert b["planted_a"].shape == b["planted_b"].shape == (2, 4, 4)
    for side in "ab":
        want = torch.stack([torch.full((4, 4), 10 + int(i)) for i in b[f"index_{side}"]])
        assert torch.equal(b[f"planted_{side}"], want)
    pairs = [sorted(p) for p in zip(b["index_a"].tolist(), b["index_b"].tolist(), strict=True)]
    assert [0, 1] in pairs  # the positive pair
    assert "planted_a" not in next(iter(PairBatches(LabelOnly(ds.sets), batch_size=2)))
