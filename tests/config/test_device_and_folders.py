"""The device check and the run folder's checks, message by message (issue 20).

Each device branch is reached on this (CPU-only) machine by standing in for torch's answers
(``torch.cuda.is_available``, ``torch.cuda.device_count``, ``torch.backends.mps.is_available``)
with ``monkeypatch``; the expected messages are written out in full, so a dropped argument, a
flipped comparison or a changed word fails.
"""

from __future__ import annotations

import dataclasses
import errno
import re
import types
from pathlib import Path

import pytest
import torch

from ftcl.config import check_device, check_output_dir, check_settings, make_config

HINT = "use auto, cpu, cuda, mps or cuda:N"


def _refused(name, message: str, setting: str = "device") -> None:
    with pytest.raises(ValueError) as err:
        check_device(name, setting)
    assert str(err.value) == message


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine with two CUDA devices, as torch would report it."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.fixture
def mps(monkeypatch):
    """Set ``available`` to say whether torch reports a usable MPS device."""
    state = {"available": False}
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: state["available"])
    return state


def test_names_that_are_no_device():
    _refused("tpu", f"device='tpu' is not a device name; {HINT}")
    _refused("cuda:x", f"--device='cuda:x' is not a device name; {HINT}", "--device")


def test_device_types_torch_knows_but_ftcl_does_not():
    _refused("meta", f"device='meta': device type 'meta' is not supported; {HINT}")
    _refused(torch.device("meta"), f"device='meta': device type 'meta' is not supported; {HINT}")


def test_cuda_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _refused("cuda:0", "device='cuda:0' requested but CUDA is not available here; use auto or "
                       "cpu")


def test_cuda_device_numbers_at_and_beyond_the_count(two_gpus):
    for name in ("cuda", "cuda:0", "cuda:1", torch.device("cuda", 1)):
        check_device(name)  # no error
    _refused("cuda:2", "device='cuda:2': this machine has 2 CUDA device(s)")
    _refused("cuda:7", "train.device='cuda:7': this machine has 2 CUDA device(s)", "train.device")


def test_mps_where_torch_has_none(mps):
    _refused("mps", "device='mps' requested but MPS is not available here")


def test_mps_where_torch_has_no_mps_backend(monkeypatch):
    """A torch build without ``torch.backends.mps`` (older releases; ``torch.backends`` is stood
    in by a namespace without it): refused with the same message, not an AttributeError."""
    monkeypatch.setattr(torch, "backends", types.SimpleNamespace())
    _refused("mps", "device='mps' requested but MPS is not available here")
    _refused(torch.device("mps", 0), "train.device='mps:0' requested but MPS is not available "
                                     "here", "train.device")

def test_mps_where_torch_has_one(mps):
    mps["available"] = True
    check_device("mps")  # no error
    check_device(torch.device("mps"))


def test_mps_is_not_checked_for_other_devices(mps, two_gpus):
    check_device("cuda:1")  # MPS unavailable does not concern a CUDA device
    check_device("cpu")


def test_only_one_cpu():
    check_device("cpu:0")
    _refused("cpu:1", "device='cpu:1': there is one CPU device; use cpu")


def test_settings_check_the_device(tmp_path):
    cfg = dataclasses.replace(make_config("acmnet", out_dir=str(tmp_path)), device="tpu")
    with pytest.raises(ValueError, match=r"^device='tpu' is not a device name"):
        check_settings(cfg)


def test_run_folder_outside_the_output_folder(tmp_path):
    """A data set name that climbs out (not a configuration key check_values knows) is caught
    by the run folder's own check."""
    out = tmp_path / "out"
    cfg = dataclasses.replace(make_config("acmnet", out_dir=str(out)), dataset="../../x")
    run_dir = (out / "../../x-quick/acmnet/seed0").resolve()
    with pytest.raises(ValueError) as err:
        check_settings(cfg)
    assert str(err.value) == f"run folder {run_dir} is not inside out_dir {out.resolve()}"


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_file_in_place_of_a_run_folder_part(tmp_path, depth):
    """``out/<dataset>-<profile>/<method>/seed<seed>``: a file at any level is refused by name;
    folders there are fine."""
    out = tmp_path / "out"
    cfg = make_config("acmnet", out_dir=str(out))
    parts = ("synthumos14-quick", "acmnet", "seed0")
    folder = out.joinpath(*parts[:depth - 1])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / parts[depth - 1]).write_text("not a folder")
    with pytest.raises(ValueError) as err:
        check_settings(cfg)
    assert str(err.value) == (f"run folder {out / 'synthumos14-quick' / 'acmnet' / 'seed0'}: "
                              f"{folder / parts[depth - 1]} exists and is not a folder")
    (folder / parts[depth - 1]).unlink()
    out.joinpath(*parts).mkdir(parents=True)
    check_settings(cfg)  # the folders themselves: no error


def test_folder_that_cannot_be_created_without_an_os_message(tmp_path, monkeypatch):
    """An ``OSError`` without strerror or filename still names its type and the folder."""
    def mkdir(self, *args, **kwargs):
        raise PermissionError()

    monkeypatch.setattr(Path, "mkdir", mkdir)
    target = tmp_path / "runs"
    with pytest.raises(ValueError) as err:
        check_output_dir(target)
    assert str(err.value) == (f"out_dir {target}: cannot create the folder "
                              f"(PermissionError: {target})")


def test_folder_that_cannot_be_created_names_the_os_file(tmp_path, monkeypatch):
    def mkdir(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", "/ro")

    monkeypatch.setattr(Path, "mkdir", mkdir)
    target = tmp_path / "runs"
    with pytest.raises(ValueError, match=rf"^out_dir {re.escape(str(target))}: cannot create the "
                                         r"folder \(Read-only file system: /ro\)$"):
        check_output_dir(target)


# ------------------------------------------------------------------ threads and cores


@pytest.fixture
def three_cores(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    return 3


def test_usable_cores_counts_the_affinity_set(monkeypatch, three_cores):
    import os

    from ftcl.config import usable_cores

    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the affinity wins over the machine's
    assert usable_cores() == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {7})
    assert usable_cores() == 1


@pytest.mark.parametrize("count, cores", [(6, 6), (1, 1), (None, 1)])
def test_usable_cores_without_affinity_is_the_cpu_count(monkeypatch, count, cores):
    """Not Linux: no os.sched_getaffinity; os.cpu_count() (None when unknown: 1 core)."""
    import os

    from ftcl.config import usable_cores

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: count)
    assert usable_cores() == cores


def test_thread_counts_from_one_to_the_cores(three_cores):
    from ftcl.config import check_threads

    for value in (None, 1, 3):
        check_threads(value)  # no error
    for value in (0, 4, -1, True, 2.0, "2"):
        with pytest.raises(ValueError) as err:
            check_threads(value)
        assert str(err.value) == (f"train.num_threads={value!r}: must be between 1 and the 3 "
                                  "CPU core(s) this process may use (os.sched_getaffinity)")
    with pytest.raises(ValueError, match=r"^--jobs=9: must be between 1 and the 3 CPU core"):
        check_threads(9, "--jobs")


def test_settings_check_the_thread_count(tmp_path, three_cores):
    cfg = make_config("acmnet", out_dir=str(tmp_path), overrides={"train.num_threads": 4})
    with pytest.raises(ValueError, match=r"^train\.num_threads=4: must be between 1 and the 3 "):
        check_settings(cfg)
    check_settings(make_config("acmnet", out_dir=str(tmp_path), overrides={
        "train.num_threads": None}))


# ------------------------------------------------------------------ notebook parameters


def test_each_notebook_parameter_is_named(tmp_path):
    from ftcl.config import check_notebook_parameters

    cases = [({"dataset": "ucf101"}, "notebook parameter dataset='ucf101' is not valid; choose "
                                     "one of 'activitynet13', 'synanet', 'synthumos14', "
                                     "'thumos14' (papermill: -p dataset VALUE)"),
             ({"data_dir": str(tmp_path / "none")}, f"notebook parameter data_dir="
                                                    f"{str(tmp_path / 'none')!r} is not an "
                                                    "existing folder (None: the default)"),
             ({"results_dir": 3}, "notebook parameter results_dir=3 is not an existing folder "
                                  "(None: the default)")]
    for params, message in cases:
        with pytest.raises(ValueError) as err:
            check_notebook_parameters(**params)
        assert str(err.value) == message
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match=r"^notebook parameter data_dir="):
        check_notebook_parameters(data_dir=str(tmp_path / "a_file"))
    check_notebook_parameters(data_dir=tmp_path, results_dir=None)
