"""Issue 19, point 10: a checkpoint is evaluated only against the data it was trained on.

A tiny ACM-Net is trained once (conftest's tiny SynANet); copies of its ``best.pt`` are then
changed the way a mix-up or a hand edit changes them: another dataset in the checkpoint, other
classes (a checkpoint of before issue 19, which does not store its dataset), a method that is
not its configuration's, a newer ftcl. Each mismatch is refused by name before any number is
printed; another version is evaluated with one warning naming both versions.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from ftcl import __version__
from ftcl.cli import main
from ftcl.train import evaluate_checkpoint
from ftcl.train.checkpoints import CheckpointVersionWarning


@pytest.fixture
def best(tiny_cli, train_run_dir, capsys):
    argv = tiny_cli()
    assert main(argv) == 0
    capsys.readouterr()
    return train_run_dir(argv) / "best.pt"


def _changed(best, tmp_path, name, change):
    ckpt = torch.load(best, weights_only=True)
    change(ckpt)
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def test_the_trainer_stores_its_dataset(best):
    ckpt = torch.load(best, weights_only=True)
    assert (ckpt["dataset"], ckpt["profile"], ckpt["ftcl_version"]) == ("synanet", "quick",
                                                                         __version__)


def test_a_checkpoint_of_another_dataset_is_refused(best, tmp_path, capsys):
    path = _changed(best, tmp_path, "other.pt", lambda c: c.update(dataset="synthumos14"))
    assert main(["evaluate", str(path), "--device", "cpu"]) == 2
    out = capsys.readouterr()
    assert out.err.strip() == (f"ftcl: error: checkpoint {path} was trained on synthumos14, "
                               "not on synanet; evaluate it on the data it was trained on")
    assert "mAP" not in out.out


def test_a_checkpoint_of_other_classes_is_refused(best, tmp_path, tiny_spec):
    """Same width and class count, other class order (the CAS columns mean other classes); no
    ``dataset`` field, as in checkpoints written before issue 19."""
    def reorder(ckpt):
        del ckpt["dataset"]
        ckpt["classes"] = list(reversed(ckpt["classes"]))

    path = _changed(best, tmp_path, "reordered.pt", reorder)
    first = tiny_spec.classes[0]
    with pytest.raises(ValueError) as err:
        evaluate_checkpoint(path, device="cpu")
    assert str(err.value) == (
        f"checkpoint {path}: its model's 3 classes are not the 3 classes of synanet/quick "
        f"(class 0: {tiny_spec.classes[-1]!r} in the checkpoint, {first!r} in the data): it was "
        "trained on other data; evaluate it on the data it was trained on")


def test_a_method_that_is_not_its_configurations_is_refused(best, tmp_path):
    path = _changed(best, tmp_path, "mixed.pt", lambda c: c.update(method="ftcl"))
    with pytest.raises(ValueError, match="says it holds method 'ftcl' but its configuration is "
                                         "method 'acmnet'"):
        evaluate_checkpoint(path, device="cpu")


def test_a_newer_ftcl_version_is_evaluated_with_a_warning(best, tmp_path, capsys):
    path = _changed(best, tmp_path, "newer.pt", lambda c: c.update(ftcl_version="9.9.0"))
    with pytest.warns(CheckpointVersionWarning) as caught:
        metrics, *_ = evaluate_checkpoint(path, device="cpu")
    assert str(caught[0].message) == (f"checkpoint {path} was written by ftcl 9.9.0, this is "
                                      f"ftcl {__version__}: a newer version may store settings "
                                      "this one reads differently")
    reference, *_ = evaluate_checkpoint(best, device="cpu")
    assert metrics["map"] == reference["map"]  # the same weights, the same numbers
    assert main(["evaluate", str(path), "--device", "cpu"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ftcl: warning: checkpoint {path} was written by ftcl 9.9.0, this is ftcl "
                   f"{__version__}: a newer version may store settings this one reads "
                   "differently"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointVersionWarning)
        evaluate_checkpoint(best, device="cpu")  # this version's own checkpoint: no warning
