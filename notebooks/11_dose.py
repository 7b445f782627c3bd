# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Does FTCL act?

# %% tags=["remove-cell"]
# In Google Colab: clone the repository (notebooks/ and the committed results/ come
# with it) and install ftcl from it, keeping the runtime's torch. A no-op everywhere else.
# The URL is ftcl.project.REPOSITORY_URL (`python -m ftcl.project` rewrites this cell).
import sys

if "google.colab" in sys.modules:
    import importlib.metadata
    import os
    import subprocess
    import tempfile

    REPOSITORY_URL = "https://github.com/ftcl-companion/ftcl"
    BRANCH, CLONE = "main", "/content/ftcl"
    if not os.path.isdir(CLONE):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", BRANCH, REPOSITORY_URL,
                        CLONE], check=True)
    KEEP = os.path.join(tempfile.gettempdir(), "keep-torch.txt")
    with open(KEEP, "w") as f:
        f.write(f"torch=={importlib.metadata.version('torch')}\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", KEEP, "-e", CLONE,
                    "plotly==7.1.0"], check=True)
    os.chdir(CLONE)
    sys.path.insert(0, CLONE)

# %% tags=["parameters", "hide-input"]
# Papermill parameters.
results_dir = None  # the results root; None: the repository's results/ folder
profile = "quick"  # which results/<profile>/ to read (the dose study runs on quick)

# %% tags=["remove-input"]
# The parameters, checked before anything runs (the valid values in the error).
from ftcl.config import check_notebook_parameters  # noqa: E402

check_notebook_parameters(results_dir=results_dir, profile=profile)

import pandas as pd  # noqa: E402
from IPython.display import HTML, Image, Markdown  # noqa: E402 (after Colab's install)

from ftcl.paths import display_path, dose_dir, dose_table_file, resolve_results_dir  # noqa: E402
from ftcl.report import dose, figures  # noqa: E402

results = resolve_results_dir(results_dir)
path = dose_table_file(results, profile)
table = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=dose.COLUMNS)
where = display_path(dose_dir(results, profile))
Markdown(dose.findings_paragraph(table) + "\n\n" + (
    f"*From `{display_path(path)}` ({len(table)} rows), written by the batch from the run "
    f"records in `{where}/runs/`.*" if len(table) else
    f"*No `dose.csv` in `{where}` yet: `python -m ftcl reproduce --profile quick` writes it.*"))

# %% [markdown]
# The committed tables (Tables 1-5) compared ACM-Net with itself: their stage 2 was 0.4 % of
# stage 1's learning-rate budget, and FTCL's terms held a few per cent of the gradient. This page
# asks the question those tables could not: **when FTCL's terms act, do they change the model,
# and does the change help?** Stage 2 now has the release's proportion (lr x iterations 40 % of
# stage 1's), and FTCL's weights are scaled on a log grid so that their *gradient share* (the
# norm of their gradient over the norm of the backbone loss's, on the parameters both reach)
# runs from about 1 % to several times 100 %. Beside FTCL: **oracle** terms that use what the
# generator planted (each snippet's class and phase, or whether it is action) -- positive
# controls that show what an alignment term *could* gain here -- and a **ladder** that replaces
# one part of FTCL at a time by its oracle version. Everything was fixed in advance, in
# `results/quick/dose/PROTOCOL.md`, committed before the first run; the calibration behind its
# choices (data, schedule, grid) is in `results/quick/dose/calibration/`.
#
# Every arm is paired seed by seed with ACM-Net continued identically (same data, stage 1, pair
# batches, schedule and selection; 10 seeds). The outcome is the test-split average mAP@0.1:0.7 of
# the checkpoint selected on held-out *training* videos (iteration 0, the stage-1 checkpoint,
# included), with the last iterate beside it; intervals are 95 % paired t.

# %% [markdown]
# ## Dose-response
#
# Left: the paired difference against the gradient share (log scale), one line per loss form and
# term, the oracles dashed; the dotted line is the paper's +1.0 on real THUMOS14 (Table 1), a
# reference, not a target. Right: the ladder (a)-(d) and the one-stage protocol.

# %% tags=["remove-input"]
Image(figures.figure_png(dose.figure(table))) if len(table) else Markdown("*(no rows yet)*")

# %% [markdown]
# ## The table
#
# `dose.csv`, as the batch wrote it: shares as fractions (1.0 = 100 %), deltas in points with the
# 95 % interval of the primary outcome (`ci_low`, `ci_high`) and of the last iterate, the held-out
# differences, how many seeds selected the stage-1 checkpoint, and the mechanism measures of "Does
# FTCL align?" on each row's reported models (mean over seeds).

# %% tags=["remove-input"]
HTML(table.round(4).to_html(index=False, border=0)) if len(table) else Markdown("*(none)*")
