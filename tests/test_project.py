"""One setting, ftcl.project.REPOSITORY_URL, names the repository everywhere: the book's launch
buttons (_config.yml) and the Colab cell of every notebook."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ftcl import project

ROOT = Path(__file__).resolve().parents[1]


def test_config_and_colab_cells_agree_with_the_setting():
    assert project.check(ROOT) == [], "run `python -m ftcl.project` to rewrite them"


def test_check_sees_a_disagreeing_url(tmp_path, monkeypatch):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns("*.ipynb"))
    assert project.check(tmp_path) == []
    nb = tmp_path / "notebooks" / "05_table1_thumos14.py"
    nb.write_text(nb.read_text().replace(project.REPOSITORY_URL, "https://example.org/other"))
    cfg = tmp_path / "_config.yml"
    cfg.write_text(cfg.read_text().replace(project.REPOSITORY_URL, "https://example.org/x"))
    problems = project.check(tmp_path)
    assert any("_config.yml" in p for p in problems)
    assert any("05_table1_thumos14.py" in p for p in problems)
    # sync writes the setting back into both
    monkeypatch.setattr(project, "REPOSITORY_URL", "https://example.org/moved")
    project.sync(tmp_path)
    assert project.check(tmp_path) == []
    assert "https://example.org/moved" in nb.read_text()
    assert "url: https://example.org/moved" in cfg.read_text()


def test_colab_cell_keeps_the_runtime_torch_and_clones():
    cell = project.colab_cell()
    assert "git\", \"clone\"" in cell and project.REPOSITORY_URL in cell
    assert "keep-torch" in cell and "-c" in cell
    assert "torch==" not in cell.replace("torch=={", "")  # no fixed torch version
    compile(cell, "<colab cell>", "exec")


@pytest.mark.parametrize("name", ["pyproject.toml"])
def test_pyproject_accepts_a_colab_torch(name):
    """Colab's CUDA torch (e.g. 2.8.0+cu126) must satisfy the package's torch requirement, or the
    install in the Colab cell would fail against its keep-torch constraint."""
    tomllib = pytest.importorskip("tomllib")
    from packaging.requirements import Requirement
    from packaging.version import Version

    deps = [Requirement(r) for r in tomllib.loads((ROOT / name).read_text())["project"]
            ["dependencies"]]
    torch = next(r for r in deps if r.name == "torch")
    assert torch.specifier.contains(Version("2.8.0+cu126"))
    assert torch.specifier.contains(Version("2.13.0"))


def test_citation_and_licence_match_pyproject():
    """CITATION.cff (how to cite the companion) and LICENSE say what pyproject.toml says."""
    tomllib = pytest.importorskip("tomllib")
    yaml = pytest.importorskip("yaml")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == meta["version"]
    assert cff["license"] == meta["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    paper = next(r for r in cff["references"] if r["type"] == "conference-paper")
    assert "arXiv:2203.16800" in [i["value"] for i in paper["identifiers"]]
    # the book's introduction gives the paper's arXiv link and BibTeX
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "https://arxiv.org/abs/2203.16800" in intro and "```bibtex" in intro
