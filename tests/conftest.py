"""Shared fixtures: the tiny SynANet spec, its data set and run configurations, a temporary
results folder, the tiny real-layout THUMOS14 folder, and the command line on the tiny data.

The tests mirror the package (``tests/dp/`` for ``ftcl/dp/``, ...); a helper two test modules
need lives here, as a fixture, never in a test module another one imports.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ftcl.config import make_config
from ftcl.data import VideoDataset, get_spec, prepare_dataset
from ftcl.data.annotations import synanet_selection, thumos14_true_durations
from ftcl.data.fixtures import write_tiny_dataset
from ftcl.train import RunData, holdout_split

#: Overrides that make a run tiny: 4 + 6 iterations, 8-wide embeddings, CPU.
TINY = {
    "model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
    "train.batch_size": 4, "train.pretrain_iterations": 4, "train.iterations": 6,
    "train.eval_every": 3, "train.progress": False, "train.eval_batch_size": 8,
    "train.holdout_fraction": 0.25, "device": "cpu",
}
#: Feature width of the tiny THUMOS14-layout folder (:func:`thumos_like`).
THUMOS_LIKE_D = 8


def _tiny_spec():
    classes = tuple(sorted(synanet_selection()["classes"][:3]))
    return get_spec("synanet", "quick").replace(
        classes=classes, anet_num_classes=3, anet_train_per_class=6, anet_test_per_class=3,
        feature_dim=16, num_segments=24)


@pytest.fixture(scope="session")
def tiny_spec():
    """A tiny SynANet: 3 classes, 18 training / 9 test videos, D=16, T=24."""
    return _tiny_spec()


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory, tiny_spec):
    """The tiny SynANet, generated once per test session (read-only for the tests); in the
    folder ``$FTCL_TEST_DATA_CACHE`` when set (``make mutation`` sets it: its thousands of short
    test sessions then generate it once)."""
    cache = os.environ.get("FTCL_TEST_DATA_CACHE") or tmp_path_factory.mktemp("data")
    return prepare_dataset("synanet", "quick", cache_dir=cache, spec=tiny_spec)


@pytest.fixture(scope="session")
def tiny_overrides():
    """A copy of :data:`TINY` (the configuration keys of a tiny run)."""
    return dict(TINY)


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(method, out_dir, **overrides)``: a tiny run of ``method`` on SynANet."""
    def make(method, out_dir, **overrides):
        return make_config(method, "synanet", "quick",
                           overrides={**TINY, "out_dir": str(out_dir), **overrides})
    return make


@pytest.fixture(scope="session")
def tiny_data(tiny_root, tiny_spec):
    """``tiny_data(cfg)``: the :class:`~ftcl.train.RunData` of ``cfg`` on the tiny SynANet."""
    def make(cfg, root=None) -> RunData:
        root = tiny_root if root is None else root
        train_ds = VideoDataset(root, "train", tiny_spec, sampling=cfg.train.sampling,
                                seed=cfg.seed, planted=cfg.ftcl.needs_planted)
        test_ds = VideoDataset(root, "test", tiny_spec, sampling="uniform")
        fit, held = holdout_split(list(train_ds.video_ids), cfg.train.holdout_fraction)
        if cfg.train.selection == "last":
            fit, held = list(train_ds.video_ids), []
        return RunData(tiny_spec, root, train_ds, test_ds, fit, held)
    return make


@pytest.fixture
def results_dir(tmp_path):
    """A temporary results root (never the checkout's ``results/``)."""
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def tiny_cli(tmp_path, monkeypatch, tiny_data, results_dir):
    """``ftcl train`` on the tiny SynANet: every ``load_data`` the command reaches opens the tiny
    data, run folders go to ``tmp_path/runs`` and records to :func:`results_dir`. Returns
    ``argv(*extra, method="acmnet")``, the ``train`` command line."""
    for where in ("ftcl.train.trainer", "ftcl.train.checkpoints", "ftcl.analysis.mechanism"):
        monkeypatch.setattr(f"{where}.load_data", tiny_data)
    sets = [f"--set={k}={v}" for k, v in TINY.items() if k != "device"]

    def argv(*extra, method="acmnet"):
        return ["train", "--dataset", "synanet", "--method", method, "--out-dir",
                str(tmp_path / "runs"), "--results", str(results_dir), "--device", "cpu",
                *sets, *extra]
    return argv


@pytest.fixture(scope="session")
def thumos_like():
    """``thumos_like(root, **overrides)``: four real THUMOS14 ids in the release layout, traps
    included (a 25-fps video whose gt.json duration is frames/30, an annotation past the video
    end, a test video left out of the split file), D = :data:`THUMOS_LIKE_D`."""
    def write(root: Path, **overrides) -> Path:
        true = thumos14_true_durations()
        videos = {
            "video_validation_0000051": dict(
                split="train", subset="validation", duration=true["video_validation_0000051"],
                annotations=[((67.5, 75.9), "Billiards"), ((85.9, 90.6), "Billiards")],
                n_snippets=265),
            "video_validation_0000413": dict(  # 24/25 fps: gt.json says 598.27 s, true 718.05
                split="train", subset="validation", duration=598.2666666666667,
                annotations=[((10.0, 14.0), "CleanAndJerk"), ((20.0, 22.0), "HighJump")],
                n_snippets=1121),
            "video_test_0000950": dict(
                split="test", subset="test", duration=1096.0666666666666,
                annotations=[((100.0, 104.0), "Diving"), ((1300.0, 1320.0), "Diving")],
                n_snippets=2055),  # the second annotation is past the end
            "video_test_0000270": dict(  # in the test subset, not in split_test.txt
                split=None, subset="test", duration=176.2,
                annotations=[((187.3, 193.4), "Diving"), ((5.0, 9.0), "CliffDiving")]),
        }
        for vid, changes in overrides.items():
            videos[vid].update(changes)
        return write_tiny_dataset(root, videos, feature_dim=THUMOS_LIKE_D)
    return write


@pytest.fixture(scope="session")
def tiny():
    """The constants above, for tests that need them as values."""
    return SimpleNamespace(overrides=dict(TINY), thumos_like_dim=THUMOS_LIKE_D)


@pytest.fixture(scope="session")
def train_run_dir():
    """``train_run_dir(argv)``: the run folder ``ftcl train argv`` trains in (named after the
    run id)."""
    from ftcl import cli
    from ftcl.paths import run_directory

    def run_dir(argv) -> Path:
        return run_directory(cli.build_config(cli.build_parser().parse_args(argv)))
    return run_dir


@pytest.fixture
def acm_batch():
    """A batch of 8 random videos (24 snippets, 16-d) with one of 3 classes each, the pairs
    a tiny ACM-Net + FTCL objective trains on: ``(features, labels)``."""
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(8, 24, 16, generator=gen)
    labels = torch.zeros(8, 3)
    labels[torch.arange(8), torch.tensor([0, 1, 2, 0, 0, 2, 1, 1])] = 1.0
    return feats, labels

