"""The book's training chapter: a stored, executed run of the batch, shown as it ran."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jupytext  # the book extra: this module runs while the book is built
import nbformat

from ..io import atomic_path
from ..paths import TRAINING_NOTEBOOK, logs_dir, record_file, scrub_paths, training_notebook
from ..report.run_views import history_frame


def stored_run_page(results_dir: str | os.PathLike, profile: str, dest: str | os.PathLike,
                    dataset: str = "synthumos14", method: str = "ftcl", seed: int = 0) -> Path:
    """Write the book's training chapter: the executed log of one run of the batch, as stored.

    The log ``<results_dir>/<profile>/logs/<dataset>-<method>-seed<seed>-*.ipynb`` is copied with
    its outputs, behind a note naming the run, so the book shows a real executed run without
    training while it builds. Raises ``FileNotFoundError`` naming the folder if there is no log.
    """
    logs = logs_dir(results_dir, profile)
    found = sorted(logs.glob(f"{dataset}-{method}-seed{seed}-*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no stored log of {dataset}/{method}/seed {seed} in {logs}; "
                                f"run `python -m ftcl reproduce --profile {profile}` first")
    nb = nbformat.read(found[-1], as_version=4)
    for cell in nb.cells:  # logs written before tqdm.std: drop tqdm.auto's IProgress warning,
        if cell.cell_type == "code":  # which names the paths of the machine that ran it
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream"
                                    and "TqdmWarning" in "".join(o.get("text", "")))]
    note = nbformat.v4.new_markdown_cell(
        f"```{{note}}\nThis page is the stored, executed log of one run of the `{profile}` batch "
        f"(`{found[-1].name}`, written by `python -m ftcl reproduce`). The book shows it as it "
        f"ran and does not re-execute it. The source is `{TRAINING_NOTEBOOK}`.\n```")
    nb = _without_machine_paths(nb)
    refreshed = _refresh(nb, record_file(results_dir, profile, found[-1].stem))
    if refreshed:
        note.source = note.source.replace(
            "\n```", f" Refreshed from the current sources: {refreshed}.\n```")
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(title + 1, note)
    with atomic_path(dest) as tmp:
        nbformat.write(nb, str(tmp))
    return Path(dest)


def _without_machine_paths(nb):
    """The log with the folders papermill was given (work folder, data cache) written as a
    published file may name them (:func:`ftcl.paths.portable_path`): a log of an older batch
    names the absolute folders of the machine that ran it."""
    parameters = nb.metadata.get("papermill", {}).get("parameters", {}) or {}
    folders = [parameters.get(k) for k in ("out_dir", "cache_dir", "data_dir", "results_dir")]
    folders = [f for f in folders if isinstance(f, str) and Path(f).is_absolute()]
    if not folders:
        return nb
    return nbformat.from_dict(json.loads(scrub_paths(json.dumps(nb), folders)))


def _refresh(nb, record_path: Path) -> str:
    """Bring the *presentation* of an older log up to date without touching what ran.

    - the explanatory text: the log's Markdown cells are replaced by those of
      ``notebooks/04_train.py`` when both have the same number of them;
    - the model-selection table (the cell ``runs.history_frame(record)``, ``reproduce.`` in
      older logs) is re-drawn from the run record, a pure view of it, with the current column
      titles;
    - tqdm.auto's IProgress warning (older logs) is dropped: it named the machine's paths.

    Returns what was refreshed, for the page's note ("" when nothing was).
    """
    done = []
    source = training_notebook()
    if source.is_file():
        text = [c for c in jupytext.read(source).cells if c.cell_type == "markdown"]
        mine = [c for c in nb.cells if c.cell_type == "markdown"]
        if len(text) == len(mine) and any(a.source != b.source
                                          for a, b in zip(text, mine, strict=True)):
            for cell, new in zip(mine, text, strict=True):
                cell.source = new.source
            done.append(f"the text between the cells ({TRAINING_NOTEBOOK})")
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.strip().endswith("history_frame(record)"):
                frame = history_frame(record)
                count = cell.get("execution_count")
                cell.outputs = [nbformat.v4.new_output(
                    "execute_result", execution_count=count,
                    data={"text/html": frame.to_html(), "text/plain": frame.to_string()})]
                done.append(f"the model-selection table (from {record_path.name})")
    return "; ".join(done)
