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
# # Table 4: other sequence alignments in place of FSD and LCS
#
# Do FTCL's gains need its own two measures, or would any differentiable alignment do? The paper's
# Table 4 on THUMOS14; here, on SynTHUMOS14. Nothing is trained on this page: it reads the run
# records of the batch reproduction. [How to read this table](../book/reading-tables.md).

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
profile = "quick"  # which results/<profile>/ to read: quick or full

# %% tags=["remove-input"]
from ftcl.config import check_notebook_parameters  # noqa: E402 (after Colab's install)

check_notebook_parameters(results_dir=results_dir, profile=profile)

from IPython.display import HTML, Image, Markdown  # noqa: E402

from ftcl.book.offline import to_offline_html  # noqa: E402
from ftcl.report import pages  # noqa: E402

page = pages.table_page("table4", results_dir, profile)
HTML(page.compact_html)

# %% tags=["remove-input"]
Markdown(page.summary())

# %% tags=["remove-input"]
HTML(page.detail_html())

# %% [markdown]
# ## Paired differences by seed

# %% tags=["remove-input"]
Image(page.delta_png())

# %% [markdown]
# ## mAP against the tIoU threshold

# %% tags=["remove-input"]
to_offline_html(page.tiou_figure(), div_id="table4-tiou")

# %% [markdown]
# ## About this table
#
# The paper's Table 4 replaces both FSD and LCS with dynamic time warping variants: soft-DTW
# (smooth minimum over alignment costs, Cuturi and Blondel), CC-DTW (soft-DTW plus a
# cycle-consistency term) and Drop-DTW (Dvornik et al. 2021, which may drop outlier snippets at a
# cost). All of them run on the same batched dynamic-programming engine (`ftcl.dp`) and enter the
# loss through the same two slots of Eq. 8, so each row differs from FTCL only in the measure
# (`ftcl.config.METHODS`: `ftcl-dtw`, `ftcl-ccdtw`, `ftcl-dropdtw`).

# %% tags=["remove-input"]
HTML(page.runs_html())

# %% tags=["remove-input"]
from ftcl.book.reproduce_box import reproduce_this_page  # noqa: E402

reproduce_this_page("table4", results_dir, profile)
