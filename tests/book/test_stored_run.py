"""The book's training chapter: a stored executed log of the batch, refreshed, never re-run."""

from __future__ import annotations

import pytest


def test_stored_run_page_copies_the_log_behind_a_note(tmp_path):
    import nbformat

    from ftcl.book.stored_run import stored_run_page

    logs = tmp_path / "quick" / "logs"
    logs.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Training one run"),
                nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "2"}, execution_count=1)])]
    nbformat.write(nb, str(logs / "synthumos14-ftcl-seed0-abc.ipynb"))
    page = stored_run_page(tmp_path, "quick", tmp_path / "page.ipynb")
    out = nbformat.read(page, as_version=4)
    assert out.cells[0].source == "# Training one run"
    assert "synthumos14-ftcl-seed0-abc.ipynb" in out.cells[1].source
    assert out.cells[2].outputs[0]["data"]["text/plain"] == "2"
    with pytest.raises(FileNotFoundError, match="logs"):
        stored_run_page(tmp_path, "quick", tmp_path / "p2.ipynb", method="acmnet")


def test_stored_run_page_refreshes_an_older_log(tmp_path):
    """An older log: its tqdm warning is dropped and its model-selection table re-drawn from the
    run record with the current column titles; the other outputs stay as they ran."""
    import json

    import nbformat

    from ftcl.book.stored_run import stored_run_page

    logs, runs_dir = tmp_path / "quick" / "logs", tmp_path / "quick" / "runs"
    logs.mkdir(parents=True)
    runs_dir.mkdir(parents=True)
    warning = nbformat.v4.new_output("stream", name="stderr", text=(
        "/home/someone/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: "
        "IProgress not found.\n"))
    kept = nbformat.v4.new_output("stream", name="stdout", text="350 iterations\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Training one run"),
                nbformat.v4.new_code_cell("record = train(cfg)", outputs=[warning, kept]),
                nbformat.v4.new_code_cell("reproduce.history_frame(record)", outputs=[
                    nbformat.v4.new_output("execute_result", data={"text/plain": "loss loss"},
                                           execution_count=3)])]
    nbformat.write(nb, str(logs / "synthumos14-ftcl-seed0-abc.ipynb"))
    (runs_dir / "synthumos14-ftcl-seed0-abc.json").write_text(json.dumps({"history": [
        {"iteration": 25, "holdout": {"average_map": 0.5},
         "train": {"cls": 2.0, "fsd": -3.0, "loss": -0.4, "cls/x": 1.0}}]}))
    out = nbformat.read(stored_run_page(tmp_path, "quick", tmp_path / "page.ipynb"),
                        as_version=4)
    code = [c for c in out.cells if c.cell_type == "code"]
    assert code[0].outputs == [kept]
    table = code[1].outputs[0]["data"]["text/plain"]
    assert "total loss (Eq. 8)" in table and "loss loss" not in table
    assert "backbone loss" in table and "cls/x" not in table
    assert "model-selection table" in out.cells[1].source
