"""Configuration from files and the command line (YAML overrides, ``key=value``), and the output
folder and run name checks: what is read, and every refusal with its message."""

from __future__ import annotations

import re

import pytest

from ftcl.config import check_output_dir, check_run_name, load_overrides, parse_assignment


def test_yaml_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  lr: 3e-4\nftcl.tau: 0.9  # caf\u00e9\n", encoding="utf-8")
    assert load_overrides(path) == {"train": {"lr": "3e-4"}, "ftcl.tau": 0.9}
    path.write_text("", encoding="utf-8")
    assert load_overrides(path) == {}
    path.write_text("# only a comment\n", encoding="utf-8")
    assert load_overrides(path) == {}


def test_yaml_overrides_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"^config file not found: "
                                                rf"{re.escape(str(tmp_path / 'x.yaml'))}$"):
        load_overrides(tmp_path / "x.yaml")
    with pytest.raises(FileNotFoundError, match="^config file not found: "):
        load_overrides(tmp_path)  # a folder is not a file
    path = tmp_path / "bad.yaml"
    path.write_text("train: [1, 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^config file {re.escape(str(path))} is not valid "
                                         "YAML: "):
        load_overrides(path)
    for text, kind in (("- 1\n- 2\n", "list"), ("3\n", "int"), ("just text\n", "str")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=rf"^config file {re.escape(str(path))} must hold a "
                                             rf"mapping, got {kind}$"):
            load_overrides(path)


@pytest.mark.parametrize("text, pair", [
    ("train.lr=3.0e-4", ("train.lr", 3e-4)),
    ("train.lr=3e-4", ("train.lr", "3e-4")),  # YAML 1.1: a string, made a float by the schema
    (" seed = 2 ", ("seed", 2)),
    ("model.topk_divisors=[2, 10, 10]", ("model.topk_divisors", [2, 10, 10])),
    ("train.stage2_lr=null", ("train.stage2_lr", None)),
    ("train.progress=false", ("train.progress", False)),
    ("run_name=a=b", ("run_name", "a=b")),  # the first '=' separates key and value
    ("run_name=", ("run_name", "")),
    ("run_name=  ", ("run_name", "")),
])
def test_assignments(text, pair):
    assert parse_assignment(text) == pair


@pytest.mark.parametrize("text", ["train.lr", "=3", "  =3", ""])
def test_assignment_needs_a_key_and_an_equals_sign(text):
    with pytest.raises(ValueError, match=rf"^override {re.escape(repr(text))} is not of the form "
                                         r"key=value$"):
        parse_assignment(text)


def test_assignment_with_unreadable_value():
    with pytest.raises(ValueError, match=r"^override 'model.topk_divisors=\[2, 10': cannot read "
                                         r"the value: "):
        parse_assignment("model.topk_divisors=[2, 10")


def test_output_folder_is_created_with_its_parents(tmp_path):
    out = tmp_path / "a" / "b" / "runs"
    assert check_output_dir(out) == out and out.is_dir()
    assert check_output_dir(out) == out  # existing: fine


def test_output_folder_that_is_a_file_or_under_one(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=rf"^out_dir {re.escape(str(tmp_path / 'file'))}: "
                                         r"exists and is not a folder$"):
        check_output_dir(tmp_path / "file")
    below = tmp_path / "file" / "runs"
    with pytest.raises(ValueError, match=rf"^--out-dir {re.escape(str(below))}: cannot create "
                                         rf"the folder \(Not a directory: "
                                         rf"{re.escape(str(below))}\)$"):
        check_output_dir(below, "--out-dir")


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "a\\b", " a", "a ", "~x", "/abs",
                                  "a\0b"])
def test_run_name_must_be_one_plain_folder_name(name):
    with pytest.raises(ValueError, match=rf"^run_name \(--name\) {re.escape(repr(name))}: must "
                                         r"be one plain folder name"):
        check_run_name(name)


@pytest.mark.parametrize("name", [None, "ftcl", "a.b", "x~", "run-1_2"])
def test_plain_run_names(name):
    check_run_name(name)


def test_output_folder_must_be_writable_and_searchable(tmp_path, monkeypatch):
    """As root (the tests, CI) every folder is writable: os.access stands in for a user's."""
    import os

    asked = []

    def access(path, mode):
        asked.append(mode)
        return not mode & os.W_OK  # not writable for this user

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(ValueError, match=rf"^out_dir {re.escape(str(tmp_path))}: the folder is not "
                                         r"writable$"):
        check_output_dir(tmp_path)
    assert asked == [os.W_OK | os.X_OK]


_READ_YAML_IN_ASCII_LOCALE = r"""
import sys
from ftcl.config import load_overrides
assert load_overrides(sys.argv[1]) == {"run_name": "caf\u00e9"}
"""


def test_yaml_is_read_as_utf8_whatever_the_locale(tmp_path):
    import os
    import subprocess
    import sys

    path = tmp_path / "run.yaml"
    path.write_text("run_name: caf\u00e9\n", encoding="utf-8")
    assert load_overrides(path) == {"run_name": "caf\u00e9"}  # here, and under an ASCII locale:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "LC_ALL": "C", "LANG": "C",
           "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    proc = subprocess.run([sys.executable, "-c", _READ_YAML_IN_ASCII_LOCALE, str(path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
