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
# # Table 3: ablation of the two contrasting objectives
#
# The paper's Table 3 takes FTCL apart on THUMOS14: the ACM-Net baseline, FTCL without the FSD
# term, without the LCS term, with FSD used for both objectives (action-background proposals and
# same/different-class video pairs), with LCS used for both, and the full model. Each row is a
# configuration of the same code (`ftcl.config.METHODS`): the two "slots" of Eq. 8 take a
# measure each, and a row only changes which measure fills which slot.
#
# This chapter reads the batch's run records (`python -m ftcl reproduce`, see
# [How to reproduce](../book/reproduce.md)) and rebuilds the table: measured rows (mean and
# spread over seeds) next to published numbers, each labelled with its source. Nothing is trained
# here.
#
# **How to read it.** An ablation is a comparison between rows. The seed-to-seed spread of one
# row is large, but mostly shared by all rows of a seed (same data, same stage 1, same batches),
# so each row is compared with the baseline seed by seed: a difference whose paired interval
# contains 0 is not evidence either way. With the default `quick` profile the data is
# SynTHUMOS14 (synthetic), so absolute values are not those of the real features.

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

# %% tags=["parameters"]
# Papermill parameters.
results_dir = None  # the results root; None: the repository's results/ folder
profile = "quick"  # which results/<profile>/ to read: quick or full

# %%
from IPython.display import Image, Markdown, display  # noqa: E402 (after Colab's install)

from ftcl.book.offline import to_offline_html  # noqa: E402
from ftcl.report import figures, layout, tables, text  # noqa: E402

table, records = tables.load_table("table3", results_dir, profile)

# %% [markdown]
# ## The table
#
# Measured cells are mean ± sample standard deviation over seeds; the average column adds the
# smallest and largest seed in brackets. **Δ** is the mean paired difference of the average mAP
# to the row's baseline (**Δ vs**) over the same seeds (same data, stage 1 and batches), with its
# 95 % paired t interval (`ftcl.report`); **paper Δ** is the same difference of the paper's own
# numbers, in absolute points. The verdict is *supported* or *contradicted* only when the
# interval excludes 0 (on the paper's side or the other), *unresolved* otherwise. The paper's
# rows (every row of its table, from `ftcl/data/paper_tables/`) are single runs on the real I3D
# features. The caption gives the table's resolution (the interval half-width) and the device.

# %%
display(Markdown(f"**Table {table.attrs['number']}: {table.attrs['data_title']}: "
                 f"{table.attrs['title']}** (mAP in %)"))
display(text.display_frame(table).style.hide(axis="index"))
Markdown(table.attrs["caption"])

# %% [markdown]
# ## What the reproduction says about the paper's claims
#
# Generated from the intervals above: no number in this paragraph is typed by hand.

# %%
Markdown(text.claims_paragraph(table))

# %% [markdown]
# ## Paired differences by seed
#
# One line per comparison: each dot is one seed's difference of the average mAP (the row minus
# its baseline, same seed), the black bar the mean with its 95 % paired t interval, the red
# diamond the paper's difference on the real features, and the dashed line 0. An interval that
# crosses the dashed line cannot tell the two rows apart.

# %%
Image(figures.figure_png(figures.delta_figure(table)))

# %% [markdown]
# ## mAP against the tIoU threshold
#
# Solid lines are measured (error bars: standard deviation over seeds), dashed lines published.
# Rows that publish only the average have no curve.

# %%
to_offline_html(figures.tiou_figure(table), div_id="table3-tiou")

# %% [markdown]
# ## The runs behind the measured rows
#
# One line per training run: its average mAP, the video-classification mAP, where it ran and
# from which commit. The paper reports one run per row; the spread here is what a single run
# can hide.

# %%
tables.seed_frame("table3", records).round(2)

# %% [markdown]
# ## What each row trains
#
# Each row is a named configuration of `ftcl.config.METHODS`, not a code fork.

# %%
layout.method_overview("table3")

# %% tags=["remove-input"]
from ftcl.book.reproduce_box import reproduce_this_page  # noqa: E402

reproduce_this_page("table3", results_dir, profile)
