"""The "Reproduce this page" box at the end of every table chapter.

It names the two commands that regenerate the page: the batch that trains the runs behind the
table (``python -m ftcl reproduce``) and the papermill call that re-executes the chapter on their
records. Every duration in it is *measured*, never typed in:

- the batch: the wall time of the whole batch (``results/<profile>/reproduce.json``) and the sum
  of the notebook wall times of this table's runs (``reproduce.notebook_wall_s`` in each run
  record), with the CPU count / device they ran on, from the records' provenance;
- on a GPU: the same sums over records made on a CUDA device, or "not measured" when none is;
- the chapter itself: how long this kernel has run when the box is drawn (the chapter executes in
  a fresh kernel, so this is the page's execution time so far), on this machine's CPU count.
"""

from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path
from typing import Any

from ..data import get_spec
from ..paths import (
    ROOT,
    batch_summary_file,
    notebooks_dir,
    resolve_results_dir,
    runs_dir,
)
from ..report.layout import TABLES


def chapter_notebook(key: str) -> str:
    """The jupytext source of table ``key``'s chapter, relative to the repository root."""
    number = TABLES[key].number
    found = sorted(notebooks_dir().glob(f"[0-9][0-9]_table{number}_*.py"))
    if not found:
        raise FileNotFoundError(f"no notebooks/NN_table{number}_*.py for {key} under {ROOT}")
    return found[0].relative_to(ROOT).as_posix()


def _kernel_age_s() -> float | None:
    """Seconds since this process started (psutil, a dependency of ipykernel), or None."""
    try:
        import psutil
    except ImportError:
        return None
    return time.time() - psutil.Process(os.getpid()).create_time()


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def measured_times(key: str, results_dir: str | Path | None = None, profile: str = "quick"
                   ) -> dict[str, Any]:
    """The measured durations behind table ``key`` (see the module docstring); ``None`` where
    nothing was measured."""
    spec = TABLES[key]
    results = resolve_results_dir(results_dir)
    runs: list[dict] = []
    for path in sorted(runs_dir(results, profile).glob("*.json")):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if rec.get("method") in spec.methods and _family(rec.get("dataset")) == spec.family:
            runs.append(rec)

    def summary(records: list[dict]) -> dict[str, Any] | None:
        walls = [r.get("reproduce", {}).get("notebook_wall_s") for r in records]
        walls = [w for w in walls if isinstance(w, (int, float))]
        if not walls:
            return None
        cpus = sorted({r.get("provenance", {}).get("cpu_count") for r in records} - {None})
        devices = sorted({str(r.get("device")) for r in records})
        return {"runs": len(walls), "sum_s": float(sum(walls)), "cpu_counts": cpus,
                "devices": devices}

    cpu = summary([r for r in runs if not str(r.get("device", "cpu")).startswith("cuda")])
    gpu = summary([r for r in runs if str(r.get("device", "")).startswith("cuda")])
    batch = None
    batch_file = batch_summary_file(results, profile)
    if batch_file.is_file():
        data = json.loads(batch_file.read_text(encoding="utf-8"))
        if isinstance(data.get("wall_s"), (int, float)):
            batch = {"wall_s": float(data["wall_s"]), "runs": data.get("finished"),
                     "cpu_count": data.get("provenance", {}).get("cpu_count"),
                     "torch": data.get("provenance", {}).get("torch")}
    return {"methods": list(spec.methods), "table_runs": len(runs), "cpu": cpu, "gpu": gpu,
            "batch": batch, "page_s": _kernel_age_s(), "page_cpus": os.cpu_count()}


def _family(dataset: str | None) -> str | None:
    try:
        return get_spec(dataset).family
    except Exception:  # an unknown dataset does not belong to any table
        return None


def reproduce_box_html(key: str, results_dir: str | Path | None = None,
                       profile: str = "quick") -> str:
    """The box as HTML (an admonition of the book's theme)."""
    t = measured_times(key, results_dir, profile)
    nb = chapter_notebook(key)
    only = " ".join(t["methods"])
    batch_cmd = f"python -m ftcl reproduce --profile {profile} --only {only}"
    page_cmd = (f"jupytext --to ipynb -o - {nb} | papermill - {Path(nb).stem}.ipynb "
                f"-p profile {profile}")

    def cpu_text(s: dict | None) -> str:
        if s is None:
            return "not measured"
        cores = "/".join(str(c) for c in s["cpu_counts"]) or "?"
        return (f"{_fmt_s(s['sum_s'])} of notebook time for its {s['runs']} runs, measured on "
                f"{cores} CPU cores (sum of the run records' <code>notebook_wall_s</code>)")

    def gpu_text(s: dict | None) -> str:
        if s is None:
            return "not measured (no run record of this table was made on a GPU)"
        return (f"{_fmt_s(s['sum_s'])} for its {s['runs']} runs on "
                f"{', '.join(s['devices'])} (sum of the run records' notebook times)")

    b = t["batch"]
    batch_text = ("" if b is None else
                  f" The whole <code>{profile}</code> batch ({b['runs']} runs, all tables, two at "
                  f"a time) took {_fmt_s(b['wall_s'])} wall time on {b['cpu_count']} CPU cores "
                  f"(<code>results/{profile}/reproduce.json</code>).")
    page = ("not measured" if t["page_s"] is None else
            f"{_fmt_s(t['page_s'])} (this execution, on {t['page_cpus']} CPU cores)")
    e = html.escape
    return (
        '<div class="admonition tip ftcl-reproduce">'
        '<p class="admonition-title">Reproduce this page</p>'
        f"<p><b>1. The runs</b> (trains; writes <code>results/{profile}/</code>: run records, "
        f"logs, tables):</p><pre>{e(batch_cmd)}</pre>"
        f"<p>On CPU: {cpu_text(t['cpu'])}.{batch_text} On one GPU: {gpu_text(t['gpu'])}.</p>"
        f"<p><b>2. This page</b> from those run records (reads them, trains nothing):</p>"
        f"<pre>{e(page_cmd)}</pre>"
        f"<p>On CPU: {page}. On one GPU: not measured (the page does not use one).</p>"
        "</div>")


def reproduce_this_page(key: str, results_dir: str | Path | None = None,
                        profile: str = "quick"):
    """Display the "Reproduce this page" box of table ``key`` (last cell of a table chapter)."""
    from IPython.display import HTML

    return HTML(reproduce_box_html(key, results_dir, profile))
