"""Device-resident batches (:mod:`ftcl.data.device_batches`) against the CPU feeding path.

On the CPU (``device="cpu"``) the device path must give bit-identical batches and a bit-identical
trained model; with a GPU the batches are compared across devices too.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ftcl.config import check_values, make_config, run_id
from ftcl.data import PairBatches, VideoDataset, VideoSubset
from ftcl.data.device_batches import (
    DeviceFeatures,
    DevicePairBatches,
    resolve_data_on_device,
    stratified_indices,
)
from ftcl.data.sampling import random_indices, uniform_indices
from ftcl.train import RunData, Trainer, holdout_split

TINY = {
    "model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
    "train.batch_size": 4, "train.pretrain_iterations": 3, "train.iterations": 4,
    "train.eval_every": 4, "train.progress": False, "train.eval_batch_size": 8,
    "train.holdout_fraction": 0.25, "device": "cpu",
}



@pytest.fixture
def dataset(tiny_root, tiny_spec):
    """``dataset(sampling="random", seed=3)``: its training split."""
    def make(sampling="random", seed=3):
        return VideoDataset(tiny_root, "train", tiny_spec, sampling=sampling, seed=seed)
    return make


def _assert_same_batches(cpu_batches, dev_batches, epochs=(0, 1, 2)):
    n = 0
    for epoch in epochs:
        cpu_batches.set_epoch(epoch)
        dev_batches.set_epoch(epoch)
        for a, b in zip(cpu_batches, dev_batches, strict=True):
            assert a.keys() == b.keys()
            for key in a:
                assert torch.equal(a[key], b[key].cpu()), (epoch, key)
            n += 1
    assert n >= 2 * len(epochs)


@pytest.mark.parametrize("sampling", ["random", "uniform"])
def test_device_batches_equal_cpu_batches(dataset, sampling):
    ds = dataset(sampling)
    subset = VideoSubset(ds, holdout_split(list(ds.video_ids), 0.25)[0])  # as the trainer does
    cpu = PairBatches(subset, batch_size=4, seed=11)
    dev = DevicePairBatches(subset, batch_size=4, seed=11, device="cpu")
    _assert_same_batches(cpu, dev)
    # the sampling really changes between epochs (random) and the features are not all equal
    ds.set_epoch(0)
    first = dev.store.gather(torch.arange(len(ds)))
    ds.set_epoch(1)
    second = dev.store.gather(torch.arange(len(ds)))
    assert torch.equal(first, second) == (sampling == "uniform")
    assert first.std() > 0


def test_device_batches_over_a_whole_dataset(dataset):
    ds = dataset()
    _assert_same_batches(PairBatches(ds, batch_size=5, seed=0),
                         DevicePairBatches(ds, batch_size=5, seed=0, device="cpu"))


@pytest.mark.parametrize("length", [1, 2, 23, 24, 25, 100, 1121])
def test_stratified_indices_equal_numpy_sampling(length):
    t, rng_seed = 24, [5, 1, length]
    u = np.random.default_rng(rng_seed).random(t)
    want = random_indices(length, t, np.random.default_rng(rng_seed))
    got = stratified_indices(torch.tensor([length]), torch.from_numpy(u)[None], t)[0]
    assert got.tolist() == want.tolist()
    assert stratified_indices(torch.tensor([length]), None, t)[0].tolist() == \
        uniform_indices(length, t).tolist()


def test_resident_features_hold_every_stored_snippet(dataset, tiny_root):
    ds = dataset()
    store = DeviceFeatures(ds, "cpu")
    assert store.features.shape == (sum(ds.n_snippets(v) for v in ds.video_ids), 16)
    assert store.nbytes == store.features.numel() * 4
    k = len(ds) - 1
    start = int(store.offsets[k])
    stored = ds.features(ds.video_ids[k])
    assert np.array_equal(store.features[start:start + len(stored)].numpy(), stored)
    assert torch.equal(store.labels, torch.from_numpy(ds.labels))


def test_resident_features_are_reused_only_for_their_dataset(dataset):
    ds = dataset()
    first = DevicePairBatches(ds, batch_size=4, seed=0, device="cpu")
    again = DevicePairBatches(ds, batch_size=4, seed=1, device="cpu", features=first.store)
    assert again.store is first.store
    with pytest.raises(ValueError, match="another dataset or device"):
        DevicePairBatches(dataset(), batch_size=4, seed=0, device="cpu",
                          features=first.store)


def test_data_on_device_setting():
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert resolve_data_on_device("auto", cuda) and not resolve_data_on_device("auto", cpu)
    assert resolve_data_on_device(True, cpu) and not resolve_data_on_device(False, cuda)
    assert resolve_data_on_device("true", cpu) and not resolve_data_on_device("false", cuda)
    with pytest.raises(ValueError, match="train.data_on_device"):
        resolve_data_on_device("yes", cpu)
    cfg = make_config("ftcl", "synanet", "quick")
    with pytest.raises(ValueError, match="train.data_on_device"):
        check_values(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train,
                                                                    data_on_device="always")))
    on = make_config("ftcl", "synanet", "quick", overrides={"train.data_on_device": True})
    assert run_id(on) == run_id(cfg)  # where the batches are built is not the experiment


def test_training_on_device_batches_gives_the_same_model(tiny_spec, tiny_root, tmp_path):
    """The trainer with ``train.data_on_device=true`` on the CPU: bit-identical weights."""
    states = []
    for flag in (False, True):
        cfg = make_config("ftcl", "synanet", "quick", overrides={
            **TINY, "out_dir": str(tmp_path / str(flag)), "train.data_on_device": flag})
        spec = tiny_spec
        train_ds = VideoDataset(tiny_root, "train", spec, sampling="random", seed=cfg.seed)
        test_ds = VideoDataset(tiny_root, "test", spec, sampling="uniform")
        fit, held = holdout_split(list(train_ds.video_ids), cfg.train.holdout_fraction)
        trainer = Trainer(cfg, data=RunData(spec, tiny_root, train_ds, test_ds, fit, held))
        trainer.run()
        assert (trainer._resident is not None) == flag
        states.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
    assert states[0].keys() == states[1].keys()
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batches_equal_cpu_batches(dataset):
    ds = dataset()
    _assert_same_batches(PairBatches(ds, batch_size=4, seed=2),
                         DevicePairBatches(ds, batch_size=4, seed=2, device="cuda"))
