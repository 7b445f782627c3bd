"""environment.yml (conda, Binder) must install what pyproject.toml declares: its dependencies and
the "book" extra, with the same version specifiers (torch: an exact pin inside pyproject's range),
on a Python that pyproject allows, and the ftcl package itself (`-e .`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_PIP_OPTIONS = ("--extra-index-url ", "--index-url ")
SELF_INSTALL = "-e ."
# Packages that pyproject.toml declares as a range and environment.yml pins inside it.
PINNED_IN_RANGE = ("torch",)


def _key(req: Requirement) -> tuple:
    return (canonicalize_name(req.name), str(SpecifierSet(str(req.specifier))),
            tuple(sorted(req.extras)), str(req.marker or ""))


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _pip_lines(env: dict) -> list[str]:
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1, "environment.yml needs exactly one pip section"
    return [str(line).strip() for line in pips[0]]


def test_pip_section_matches_pyproject():
    project = _pyproject()["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [Requirement(r) for r in project["optional-dependencies"]["book"]]
    lines = _pip_lines(_environment())
    assert SELF_INSTALL in lines, "environment.yml must install ftcl itself (`- -e .`)"
    lines = [line for line in lines if line != SELF_INSTALL]
    options = [line for line in lines if line.startswith("-")]
    for option in options:
        assert option.startswith(ALLOWED_PIP_OPTIONS), f"unexpected pip option {option!r}"
    listed = [Requirement(line) for line in lines if not line.startswith("-")]

    names = [canonicalize_name(r.name) for r in listed]
    assert len(names) == len(set(names)), f"a package is listed twice: {sorted(names)}"
    for name in PINNED_IN_RANGE:
        mine = [r for r in listed if canonicalize_name(r.name) == name]
        theirs = [r for r in declared if canonicalize_name(r.name) == name]
        assert len(mine) == len(theirs) == 1, f"{name}: listed {mine}, declared {theirs}"
        pins = [s for s in mine[0].specifier if s.operator == "=="]
        assert len(pins) == 1, f"environment.yml must pin {name} exactly, got {mine[0]}"
        assert theirs[0].specifier.contains(pins[0].version), (
            f"environment.yml pins {mine[0]}, outside pyproject's {theirs[0]}")
    declared = [r for r in declared if canonicalize_name(r.name) not in PINNED_IN_RANGE]
    listed = [r for r in listed if canonicalize_name(r.name) not in PINNED_IN_RANGE]
    want = {_key(r) for r in declared}
    have = {_key(r) for r in listed}
    assert have - want == set(), f"in environment.yml but not in pyproject.toml: {have - want}"
    assert want - have == set(), f"in pyproject.toml but not in environment.yml: {want - have}"


def test_python_version_is_allowed_by_pyproject():
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    conda = [d for d in _environment()["dependencies"] if isinstance(d, str)]
    pythons = [d for d in conda if re.match(r"^python\s*[=<>]", d)]
    assert len(pythons) == 1, f"environment.yml must pin python once, got {pythons}"
    version = re.sub(r"^python\s*=*\s*", "", pythons[0])
    assert requires.contains(version), f"python {version} is outside requires-python {requires}"
    assert "pip" in conda


def test_postbuild_installs_the_package():
    post = ROOT / "postBuild"
    assert post.is_file(), "Binder needs postBuild to install the ftcl package"
    assert os.access(post, os.X_OK), "postBuild must be executable"
    assert re.search(r"pip install .*-e \.", post.read_text())


def test_key_distinguishes_specifiers():
    # The comparison above must see a changed pin.
    assert _key(Requirement("plotly==7.1.0")) != _key(Requirement("plotly==7.1.1"))
    assert _key(Requirement("Jupyter_Book==1.0")) == _key(Requirement("jupyter-book==1.0"))
