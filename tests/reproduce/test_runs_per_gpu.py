"""``--runs-per-gpu N``: N runs share one GPU (local processes, or fractional Ray GPUs)."""

from __future__ import annotations

import pytest
import torch

from ftcl.cli import build_parser
from ftcl.reproduce import executors


@pytest.fixture
def pretend_cuda(monkeypatch):
    """choose_device answers CUDA without a GPU (the executor only reads the device type)."""
    monkeypatch.setattr(executors, "choose_device", lambda name="auto": torch.device("cuda"))
    monkeypatch.setattr(executors, "usable_cores", lambda: 16)


def _local(**kw):
    ex = executors.make_executor("local", **kw)
    try:
        return ex.jobs, ex.threads
    finally:
        ex.close()


def test_runs_per_gpu_sets_the_local_pool_on_cuda(pretend_cuda):
    assert _local(device="cuda") == (1, 16)  # as before: one run with every core
    assert _local(device="cuda", runs_per_gpu=4) == (4, 4)
    assert _local(device="cuda", runs_per_gpu=32) == (32, 1)
    assert _local(device="cuda", runs_per_gpu=4, jobs=2, threads=3) == (2, 3)  # explicit wins


def test_runs_per_gpu_leaves_cpu_batches_alone(monkeypatch):
    monkeypatch.setattr(executors, "usable_cores", lambda: 8)
    assert _local(device="cpu", runs_per_gpu=4) == (8, 1)


def test_runs_per_gpu_must_be_positive():
    with pytest.raises(ValueError, match="runs_per_gpu=0"):
        executors.make_executor("local", device="cpu", runs_per_gpu=0)


def test_reproduce_has_the_flag():
    parser = build_parser()
    assert parser.parse_args(["reproduce"]).runs_per_gpu == 1
    assert parser.parse_args(["reproduce", "--runs-per-gpu", "6"]).runs_per_gpu == 6
