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
# # Table 5: FTCL as a plug-in on other backbones
#
# Does FTCL help other weakly-supervised backbones too? The paper's Table 5 adds it to STPN,
# W-TALC, CoLA and ACM-Net on THUMOS14; here, on SynTHUMOS14. Nothing is trained on this page: it
# reads the run records of the batch reproduction. [How to read this
# table](../book/reading-tables.md).

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

page = pages.table_page("table5", results_dir, profile)
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
to_offline_html(page.tiou_figure(), div_id="table5-tiou")

# %% [markdown]
# ## About this table
#
# FTCL adds two loss terms and one small projection head; it does not change the backbone. The
# paper's Table 5 adds it to four weakly-supervised backbones on THUMOS14 (STPN, W-TALC, CoLA and
# ACM-Net) and reports each with and without FTCL. Here every backbone is implemented in
# `ftcl.models` and trained with the same two-stage schedule, with and without the FTCL terms
# (`ftcl.config.METHODS`: `stpn`, `stpn-ftcl`, `wtalc`, `wtalc-ftcl`, `cola`, `cola-ftcl`,
# `acmnet`, `ftcl`).

# %% tags=["remove-input"]
HTML(page.runs_html())

# %% tags=["remove-input"]
from ftcl.book.reproduce_box import reproduce_this_page  # noqa: E402

reproduce_this_page("table5", results_dir, profile)
