"""Fail fast: every bad input a run can meet is refused before its first training step.

The data cases run on a real-layout THUMOS14 folder (``write_thumos14_fixture``: real video ids,
annotations and true durations, random D=2048 features, a few snippets a video, every class in
both splits), through the trainer exactly as ``ftcl train --dataset thumos14 --data-dir`` runs.
Each case asserts the error names the file (or the setting) and that no stage-1 checkpoint was
written, i.e. that training never started.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from ftcl.cli import main
from ftcl.config import check_device, check_output_dir, check_run_name, check_settings, make_config
from ftcl.data.checks import scan_features
from ftcl.data.fixtures import write_thumos14_fixture
from ftcl.paths import FEATURE_SCAN_CACHE

D = 2048  # the THUMOS14 spec's width
TINY = {"model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
        "train.batch_size": 4, "train.pretrain_iterations": 1, "train.iterations": 1,
        "train.eval_every": 1, "train.progress": False, "train.num_threads": 1}


def real_config(root: Path, out: Path, **top):
    return make_config("acmnet", "thumos14", "full", overrides=TINY, data_dir=str(root),
                       out_dir=str(out), cache_dir=str(out / "cache"), device="cpu", **top)


@pytest.fixture(scope="module")
def clean_root(tmp_path_factory):
    return write_thumos14_fixture(tmp_path_factory.mktemp("thumos"))


@pytest.fixture
def root(clean_root, tmp_path):
    import shutil

    return Path(shutil.copytree(clean_root, tmp_path / "data"))


def _first(root: Path, split: str) -> Path:
    vid = (root / f"split_{split}.txt").read_text().split()[0]
    return root / split / f"{vid}.npy"


# ------------------------------------------------------------------------------ data


def _zero_bytes(p):
    p.write_bytes(b"")


def _truncate(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _short_header(p):
    p.write_bytes(p.read_bytes()[:40])


def _wrong_width(p):
    np.save(p, np.zeros((6, D // 2), np.float32))


def _nan_row(p):
    arr = np.load(p)
    arr[3, 7] = np.nan
    np.save(p, arr)


def _inf_row(p):
    arr = np.load(p)
    arr[0, 0] = np.inf
    np.save(p, arr)


def _text(p):
    p.write_text("not an array")


def _npz(p):
    features = np.load(p)
    with open(p, "wb") as fh:  # np.savez under the .npy name
        np.savez(fh, features=features)


def _fifo(p):
    p.unlink()
    os.mkfifo(p)  # would block a reader forever: must never be opened


def _folder(p):
    p.unlink()
    p.mkdir()


def _dev_zero(p):
    p.unlink()
    p.symlink_to("/dev/zero")  # endless zeros: must never be read


def _junk(p):
    with open(p, "ab") as fh:
        fh.write(b"junk after the array" * 10)


FILE_CASES = {
    # issue 19, point 8: each named as what it is, with the file
    ".npz as .npy": (_npz, "is a .npz archive (a zip of arrays, np.savez), not a .npy array"),
    "a FIFO": (_fifo, "is a FIFO (named pipe), not a regular .npy file"),
    "a folder": (_folder, "is a folder, not a regular .npy file"),
    "a link to /dev/zero": (_dev_zero, "is a link to /dev/zero, a character device, not a "
                                       "regular .npy file"),
    "junk after the array": (_junk, "has 200 bytes after its (6, 2048) array (junk appended"),
    "zero bytes": (_zero_bytes, "is empty (0 bytes)"),
    "truncated data": (_truncate, "cannot read"),
    "truncated header": (_short_header, "cannot read"),
    "wrong width": (_wrong_width, "expected [T_video, 2048]"),
    "NaN row": (_nan_row, "NaN/inf in 1 rows (first: [3])"),
    "inf row": (_inf_row, "NaN/inf in 1 rows (first: [0])"),
    "not .npy": (_text, "cannot read"),
    "missing": (lambda p: p.unlink(), "not found"),
}


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_feature_file_is_named_before_training(root, tmp_path, split, case):
    from ftcl.train import Trainer

    path = _first(root, split)
    change, message = FILE_CASES[case]
    change(path)
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        Trainer(real_config(root, tmp_path / "runs"))
    assert str(path) in str(err.value) and message in str(err.value)
    assert not (tmp_path / "runs" / "_stage1").exists()


def _empty(p):
    p.write_text("")


def _drop_classes_from_test(root: Path) -> None:
    """gt.json and split_test.txt without the test videos of two classes."""
    gt = json.loads((root / "gt.json").read_text())
    drop = {v for v, e in gt["database"].items() if e["subset"] == "test" and any(
        a["label"] in ("CleanAndJerk", "Diving") for a in e["annotations"])}
    gt["database"] = {v: e for v, e in gt["database"].items() if v not in drop}
    (root / "gt.json").write_text(json.dumps(gt))
    ids = [v for v in (root / "split_test.txt").read_text().split() if v not in drop]
    (root / "split_test.txt").write_text("".join(f"{v}\n" for v in ids))


def _one_class_train(root: Path) -> None:
    gt = json.loads((root / "gt.json").read_text())
    ids = [v for v in (root / "split_train.txt").read_text().split()
           if {a["label"] for a in gt["database"][v]["annotations"]} == {"BaseballPitch"}]
    (root / "split_train.txt").write_text("".join(f"{v}\n" for v in ids))


def _unlisted_in_gt(split):
    def change(root):
        gt = json.loads((root / "gt.json").read_text())
        vid = (root / f"split_{split}.txt").read_text().split()[0]
        del gt["database"][vid]
        (root / "gt.json").write_text(json.dumps(gt))
    return change


DATASET_CASES = {
    "empty split_train.txt": (lambda r: _empty(r / "split_train.txt"), "split_train.txt",
                              "lists no videos"),
    "empty split_test.txt": (lambda r: _empty(r / "split_test.txt"), "split_test.txt",
                             "lists no videos"),
    "missing split_test.txt": (lambda r: (r / "split_test.txt").unlink(), "split_test.txt",
                               "not found"),
    "gt.json lacks test classes": (_drop_classes_from_test, "gt.json",
                                   "no instance of 3 of the 20 classes"),
    "train split of one class": (_one_class_train, "split_train.txt", "cannot form video pairs"),
    "train video not in gt.json": (_unlisted_in_gt("train"), "gt.json", "not in"),
    "test video not in gt.json": (_unlisted_in_gt("test"), "gt.json", "not in"),
    "gt.json zero bytes": (lambda r: _empty(r / "gt.json"), "gt.json", "not valid JSON"),
    "gt.json truncated": (lambda r: (r / "gt.json").write_text(
        (r / "gt.json").read_text()[:500]), "gt.json", "not valid JSON"),
    "gt.json missing": (lambda r: (r / "gt.json").unlink(), "gt.json", "not found"),
}


@pytest.mark.parametrize("case", sorted(DATASET_CASES))
def test_bad_dataset_file_is_named_before_training(root, tmp_path, case):
    from ftcl.train import Trainer

    change, name, message = DATASET_CASES[case]
    change(root)
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        Trainer(real_config(root, tmp_path / "runs"))
    assert str(root / name) in str(err.value) and message in str(err.value)
    assert not (tmp_path / "runs" / "_stage1").exists()


def test_clean_fixture_passes_every_check(root, tmp_path):
    """The reference for all of the above: the unchanged folder trains (so each case fails
    because of its one change)."""
    from ftcl.train import train

    record = train(real_config(root, tmp_path / "runs"))
    assert record["status"] == "finished" and record["dataset"] == "thumos14"


def test_feature_scan_is_cached_by_size_and_mtime(root, tmp_path):
    from ftcl.data import VideoDataset, get_spec

    spec = get_spec("thumos14", "full")
    ds = VideoDataset(root, "test", spec)
    n = len(ds)
    assert scan_features(ds, tmp_path) == {"scanned": n, "cached": 0}
    assert scan_features(ds, tmp_path) == {"scanned": 0, "cached": n}
    assert len(json.loads((tmp_path / FEATURE_SCAN_CACHE).read_text())) == n
    path = _first(root, "test")
    _nan_row(path)  # a changed file (new size or mtime) is scanned again
    os.utime(path, ns=(1, 1))
    with pytest.raises(ValueError, match="NaN/inf"):
        scan_features(ds, tmp_path)


def test_zero_byte_file_through_the_command_line(root, tmp_path, capsys):
    _first(root, "test").write_bytes(b"")
    sets = [f"--set={k}={v}" for k, v in TINY.items()]
    code = main(["train", "--dataset", "thumos14", "--data-dir", str(root), "--device", "cpu",
                 "--out-dir", str(tmp_path / "runs"), "--results", str(tmp_path / "results"),
                 *sets])
    err = capsys.readouterr().err
    assert code == 2 and "ftcl: error:" in err and "is empty (0 bytes)" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------ settings


@pytest.mark.parametrize("key, value, message", [
    ("train.lr", float("inf"), "'train.lr'=inf: must be a finite number"),
    ("train.lr", float("nan"), "'train.lr'=nan: must be a finite number"),
    ("ftcl.lambda_fsd", float("-inf"), "'ftcl.lambda_fsd'=-inf: must be a finite number"),
    ("loss.guide_weight", float("inf"), "'loss.guide_weight'=inf"),
    ("train.weight_decay", -1.0, "'train.weight_decay'=-1.0: must be >= 0"),
    ("ftcl.lambda_lcs", -0.1, "'ftcl.lambda_lcs'=-0.1: must be >= 0"),
])
def test_settings_must_be_finite_and_in_range(tmp_path, key, value, message):
    """Refused when the configuration is built, and at the trainer's door (a configuration
    changed by hand after it was built)."""
    with pytest.raises(ValueError) as err:
        make_config("ftcl", overrides={key: value}, out_dir=str(tmp_path))
    assert message in str(err.value)
    section, name = key.split(".")
    cfg = make_config("ftcl", out_dir=str(tmp_path))
    changed = dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section),
                                                                       **{name: value})})
    with pytest.raises(ValueError) as err:
        check_settings(changed)
    assert message in str(err.value)


def test_lr_inf_on_the_command_line(tmp_path, capsys):
    code = main(["train", "--set", "train.lr=inf", "--out-dir", str(tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "'train.lr'=inf: must be a finite number" in err
    assert not (tmp_path / "_stage1").exists()


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "", "cpu:3", "meta"])
def test_device_name_is_checked(name):
    with pytest.raises(ValueError, match="device="):
        check_device(name)


@pytest.mark.parametrize("name", ["tpu", "gpu"])
def test_bad_device_on_the_command_line_is_no_traceback(name, capsys):
    assert main(["train", "--device", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ftcl: error: --device={name!r} is not a device name")
    assert "Traceback" not in err


def test_cuda_without_cuda_is_refused():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        check_device("cuda")


def test_valid_devices_pass():
    for name in (None, "auto", "cpu", "cpu:0"):
        check_device(name)


def test_out_dir_naming_a_file_is_refused(tmp_path, capsys):
    a_file = tmp_path / "runs"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        check_output_dir(a_file)
    with pytest.raises(ValueError, match="cannot create the folder"):
        check_output_dir(a_file / "sub")
    code = main(["train", "--out-dir", str(a_file), "--device", "cpu"])
    assert code == 2 and f"out_dir {a_file}: exists and is not a folder" in \
        capsys.readouterr().err


@pytest.mark.parametrize("name", ["../../../escape", "a/b", "/abs", "..", ".", "", "~x", " x"])
def test_run_name_is_confined_to_the_output_folder(tmp_path, name, capsys):
    with pytest.raises(ValueError, match="one plain folder name"):
        check_run_name(name)
    out = tmp_path / "deep" / "er" / "runs"
    assert main(["train", "--name", name, "--out-dir", str(out), "--device", "cpu"]) == 2
    assert "one plain folder name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # nothing written anywhere


def test_plain_names_pass():
    for name in (None, "ftcl-paper", "run_1.v2"):
        check_run_name(name)


def test_lcs_threshold_form_is_refused_where_it_would_be_ignored():
    """The paper form (Eq. 7) compares raw cosines: the release's ACMLoss rescaling does not
    apply to it, so asking for both is an error, not a silently ignored key."""
    with pytest.raises(ValueError, match="'ftcl.lcs_threshold_form': applies to the code form"):
        make_config("ftcl-paper-form", overrides={"ftcl.lcs_threshold_form": "release-acmloss"})
    make_config("ftcl", overrides={"ftcl.lcs_threshold_form": "release-acmloss"})
    make_config("ftcl-paper-form")


# ---------------------------------------------------------------------- notebook parameters


def test_notebook_parameters_accept_the_defaults(tmp_path):
    from ftcl.config import check_notebook_parameters

    check_notebook_parameters(profile="quick", dataset="synthumos14", results_dir=None,
                              data_dir=str(tmp_path), seed=0, data_seed=3, n_pairs=60)


@pytest.mark.parametrize("params, message", [
    ({"profile": "foo"}, "profile='foo' is not valid; choose one of 'full', 'quick'"),
    ({"dataset": "ucf101"}, "choose one of 'activitynet13', 'synanet', 'synthumos14', 'thumos14'"),
    ({"results_dir": "/nonexistent/results"}, "results_dir='/nonexistent/results' is not an "
                                              "existing folder"),
    ({"seed": -1}, "seed=-1 must be an integer >= 0"),
    ({"n_pairs": 2.5}, "n_pairs=2.5 must be an integer >= 0"),
])
def test_bad_notebook_parameters_are_named_with_the_valid_values(params, message):
    from ftcl.config import check_notebook_parameters

    with pytest.raises(ValueError, match=re.escape(message)):
        check_notebook_parameters(**params)


def test_check_choice_lists_the_choices():
    from ftcl.config import check_choice

    check_choice("figure_tau", 0.5, [0.0, 0.5, 0.92])
    with pytest.raises(ValueError, match=r"figure_tau=0\.55 is not valid; choose one of 0\.0, "
                                         r"0\.5, 0\.92 \(papermill: -p figure_tau VALUE\)"):
        check_choice("figure_tau", 0.55, [0.0, 0.5, 0.92])


# ------------------------------------------------------------------------------ issue 19, point 9


def test_a_seed_beyond_2_32_is_named(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"config key 'seed': must be an integer in \[0, "
                                         r"4294967295\]"):
        make_config("acmnet", seed=10**20)
    with pytest.raises(ValueError, match="config key 'data_seed'"):
        make_config("acmnet", data_seed=2**32)
    make_config("acmnet", seed=2**32 - 1)  # the largest seed numpy, torch and Python accept
    assert main(["train", "--seed", str(10**20), "--out-dir", str(tmp_path)]) == 2
    assert "ftcl: error: config key 'seed': must be an integer" in capsys.readouterr().err


def test_a_config_file_that_is_not_utf8_is_named(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("train:\n  lr: 3.0e-4  # caf\u00e9\n".encode("latin-1"))
    assert main(["train", "--config", str(path), "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"ftcl: error: config file {path} is not UTF-8 text (byte 0xe9 at position "
                   "26): save it as UTF-8")


def test_overrides_that_are_not_a_mapping_are_named():
    """papermill -p passes a string; the training notebook's make_config names it."""
    with pytest.raises(ValueError, match=r"overrides must be a mapping.*got a str: "
                                         r"'\{\"train.iterations\": 2\}'.*-y"):
        make_config("acmnet", overrides='{"train.iterations": 2}')


def test_a_bad_example_video_is_named(thumos_like, tmp_path):
    from ftcl.data import VideoDataset, get_spec

    root = thumos_like(tmp_path)
    train = VideoDataset(root, "train", get_spec("thumos14").replace(feature_dim=8))
    assert train.pick(None) == "video_validation_0000051"  # None: the first
    assert train.pick("video_validation_0000413") == "video_validation_0000413"
    with pytest.raises(ValueError) as err:
        train.pick("no_such_video", "example_video")
    assert str(err.value).startswith("example_video='no_such_video' is not a video of the "
                                     "train split of thumos14")
    assert "e.g. 'video_validation_0000051'" in str(err.value)


def test_an_annotation_warning_is_one_line_of_the_command(root, tmp_path, capsys):
    """Issue 19, point 7, through ``ftcl train``: a repeated annotation is kept, the run
    trains, and the warning is one ``ftcl: warning:`` line naming the video and segment."""
    gt = json.loads((root / "gt.json").read_text())
    vid = (root / "split_train.txt").read_text().split()[0]
    first = gt["database"][vid]["annotations"][0]
    gt["database"][vid]["annotations"].append(dict(first))
    (root / "gt.json").write_text(json.dumps(gt))
    sets = [f"--set={k}={v}" for k, v in TINY.items()]
    assert main(["train", "--dataset", "thumos14", "--data-dir", str(root), "--device", "cpu",
                 "--out-dir", str(tmp_path / "runs"), "--results", str(tmp_path / "results"),
                 *sets]) == 0
    warned = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ftcl: warn")]
    k = len(gt["database"][vid]["annotations"]) - 1
    assert len(warned) == 1 and warned[0].startswith(f"ftcl: warning: {root / 'gt.json'} "
                                                     "(train ground truth): 1 annotation(s) "
                                                     "repeat an earlier annotation")
    assert f"video {vid!r} annotation {k} {first['label']}" in warned[0]
    assert "= annotation 0" in warned[0]
