"""The book's training chapter: a stored, executed run of the batch, shown as it ran."""

from __future__ import annotations

import os
from pathlib import Path

from .io import atomic_path


def stored_run_page(results_dir: str | os.PathLike, profile: str, dest: str | os.PathLike,
                    dataset: str = "synthumos14", method: str = "ftcl", seed: int = 0) -> Path:
    """Write the book's training chapter: the executed log of one run of the batch, as stored.

    The log ``<results_dir>/<profile>/logs/<dataset>-<method>-seed<seed>-*.ipynb`` is copied with
    its outputs, behind a note naming the run, so the book shows a real executed run without
    training while it builds. Raises ``FileNotFoundError`` naming the folder if there is no log.
    """
    import nbformat

    logs = Path(results_dir) / profile / "logs"
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
        f"ran and does not re-execute it. The source is `notebooks/04_train.py`.\n```")
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(title + 1, note)
    with atomic_path(dest) as tmp:
        nbformat.write(nb, str(tmp))
    return Path(dest)
