"""The notebooks: jupytext sources and their Colab pairs agree, the pairs carry no outputs, every
notebook has one papermill ``parameters`` cell and no function or class of its own, and papermill
runs a notebook with overridden parameters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
IDS = [p.stem for p in NOTEBOOKS]


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def _code(source: str) -> str:
    """Cell source with IPython magics and shell escapes commented out, for ``ast``."""
    return "\n".join("#" + line if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/NN_*.py found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pair_in_sync_and_output_free(path):
    pair = path.with_suffix(".ipynb")
    assert pair.is_file(), f"{pair.name} is missing: run `jupytext --sync {path}`"
    text_nb = jupytext.read(path)
    pair_nb = nbformat.read(pair, as_version=4)
    assert _cells(pair_nb) == _cells(text_nb), (
        f"{pair.name} differs from {path.name}: run `jupytext --sync {path}`")
    for cell in pair_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{pair.name} stores outputs: clear them"
            assert cell.execution_count is None, f"{pair.name} stores execution counts"
    assert pair_nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_structure(path):
    nb = jupytext.read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path.name} needs a kernelspec header (papermill and the book need it)")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", ())]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), (
        f"{path.name} must open with a markdown title")
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(_code(cell.source))
        defined = [node.name for node in ast.walk(tree)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert defined == [], f"{path.name} defines {defined}: move that logic into ftcl"
        lambdas = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda)]
        assert lambdas == [], f"{path.name} defines a lambda: move that logic into ftcl"


def test_no_function_definition_detector_works():
    tree = ast.parse(_code("%matplotlib inline\ndef f():\n    return 1\n"))
    assert [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)] == ["f"]


@pytest.mark.slow
def test_papermill_runs_fsd_with_overridden_parameters(tmp_path):
    papermill = pytest.importorskip("papermill")
    source = ROOT / "notebooks" / "01_fsd.py"
    out = tmp_path / "01_fsd_out.ipynb"
    parameters = {"seed": 7, "check_sizes": [[2, 3]], "check_gammas": [1.0, None],
                  "proposal_len": 4, "slider_gammas": [1.0, None]}
    papermill.execute_notebook(jupytext.read(source), str(out), parameters=parameters,
                               kernel_name="python3", cwd=str(source.parent),
                               progress_bar=False, execution_timeout=600)
    nb = nbformat.read(out, as_version=4)

    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", ())]
    assert len(injected) == 1 and "proposal_len = 4" in injected[0].source
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
    # The numerical check ran on the one overridden grid size, both gammas.
    tables = [o["data"]["text/plain"] for c in nb.cells for o in c.get("outputs", [])
              if "data" in o and "max |grad diff|" in o["data"].get("text/plain", "")]
    assert len(tables) == 1 and tables[0].count("2 x 3") == 2
    # The figure: one heatmap of proposal_len x proposal_len, one frame per slider gamma.
    figures = [o["data"] for c in nb.cells for o in c.get("outputs", [])
               if "data" in o and "application/vnd.plotly.v1+json" in o["data"]]
    assert len(figures) >= 1
    fsd_fig = figures[-1]
    assert "Plotly.newPlot" in fsd_fig["text/html"]
    assert "<script src" not in fsd_fig["text/html"]
    spec = fsd_fig["application/vnd.plotly.v1+json"]
    assert [f["name"] for f in spec["frames"]] == ["1", "∞ (hard max)"]
    z = spec["data"][0]["z"]
    assert len(z) == 4 and all(len(row) == 4 for row in z)
