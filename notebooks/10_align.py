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
# # Does FTCL align?

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
# The parameters, checked before anything runs (the valid values in the error).
from ftcl.config import check_notebook_parameters  # noqa: E402

check_notebook_parameters(results_dir=results_dir, profile=profile)

from IPython.display import HTML, Image, Markdown  # noqa: E402 (after Colab's install)

from ftcl.analysis import answer, mechanism, mechanism_summary  # noqa: E402
from ftcl.paths import display_path, mechanism_dir, resolve_results_dir  # noqa: E402
from ftcl.report import figures  # noqa: E402
from ftcl.report.layout import DATA_NAMES  # noqa: E402

results = resolve_results_dir(results_dir)
records = mechanism.load_mechanism_records(results, profile)
summary = mechanism_summary.summary(records)
folder = display_path(mechanism_dir(results, profile))
source = (f"*From {len(records)} mechanism records in `{folder}` "
          f"({len({r['seed'] for r in records})} seeds).*" if records else
          f"*No mechanism records in `{folder}`: the batch writes them.*")
Markdown("\n\n".join(p for p in (answer.short_answer(summary, DATA_NAMES),
                                   answer.saturation_note(summary, DATA_NAMES), source) if p))

# %% [markdown]
# FTCL's argument is about a mechanism: FSD contrasting (Eq. 2-4) aligns the *fine-grained
# sequential stages* of action proposals, and LCS contrasting (Eq. 6-7) mines the common
# sub-sequence of two videos of the same action; learning to make those alignments score high
# should give features whose stages line up, hence more complete localization. The paper reports
# mAP only; neither it nor the release measures whether the alignments pair the same stages.
#
# The synthetic benchmarks can: every action instance of SynTHUMOS14 / SynANet is built from `K`
# ordered sub-action **phases** (`ftcl.data.synthetic`), and each snippet's phase is stored beside
# its features. `ftcl.analysis.mechanism` measures, on the test split, for the trained ACM-Net and
# FTCL models of every seed and for their shared stage-1 starting point:
#
# - **(a) phase agreement**: the share of the snippet pairs matched by LCS (Eq. 6, hard, on the
#   top attended snippets as in the loss) and of the FSD alignment mass (Eq. 2's soft alignment
#   of the action proposals) that falls on two snippets of the **same planted phase** (same class,
#   same phase; two background snippets do *not* agree), against its chance rate (every cell of
#   the same grids alike);
# - **(b) action purity**: the share of action snippets in the FSD action proposal (the
#   `fsd_len` top-attended snippets) and in the background proposal the loss uses: with the
#   default configuration the paper's (Sec. 3.2: the `fsd_len` snippets of *lowest* attention),
#   not the release's (its ranks `fsd_len` to `2 fsd_len - 1`, the next-best attended snippets,
#   mostly action; `FTCLConfig.background`);
# - **(c) completeness**: the share of each planted instance's phases that the CAS covers, before
#   (stage 1) and after training.
#
# Nothing is trained here: the training notebook measures each ACM-Net and FTCL run right after
# training and the batch stores `results/<profile>/mechanism/<run_id>.json`; this chapter reads
# those files. Differences are paired by seed (same data, same stage 1), with 95 % paired t
# intervals (`ftcl.report.statistics`).

# %% [markdown]
# ## What the measurements say
#
# Generated from the intervals below: no number in this paragraph is typed by hand.

# %% tags=["remove-input"]
Markdown(mechanism_summary.findings_paragraph(summary))

# %% [markdown]
# ## Per seed
#
# Each dot is one seed; black: the mean over seeds with seaborn's bootstrap 95 % interval (the
# paired t intervals of the differences are in the next section); the dashed grey line is the
# chance rate (for the phase-agreement shares: every cell of the same grids alike; for the
# proposal purity: the share of action snippets in the video).

# %% tags=["remove-input"]
Image(figures.figure_png(mechanism_summary.figure(records)))

# %% [markdown]
# ## The numbers
#
# FTCL's value of each measure (the model each run reports) and the paired difference FTCL minus
# ACM-Net with its 95 % paired t interval, per data set. Folded below: every measure for every
# model (`stage1`: the shared starting point; `final`: the model each run reports) and every
# paired difference (FTCL minus ACM-Net, each method after minus before stage 2, the same-phase
# share minus its chance rate); `low`/`high`: the 95 % paired t interval.

# %% tags=["remove-input"]
HTML(answer.key_numbers(summary, DATA_NAMES).to_html(border=0)
     + answer.folded("Every measure and comparison", summary.round(4), index=False))

# %% [markdown]
# ## How the measures are defined
#
# The functions are in `ftcl.analysis.mechanism`; the unit tests check them on hand-made label
# grids. The FSD grids use the cosine similarity of the backbone embeddings for the match and the
# insert/delete scores of Eq. 2 (`mu = g = h`), for ACM-Net (which has no FSD projection) and for
# FTCL alike, so that both models are compared on one measure of their representation; the LCS grids
# use the loss's own similarity, rescaling and threshold `tau`. The completeness threshold is the
# lowest CAS threshold of the localizer (`ftcl.evaluation.localize`).

# %% tags=["remove-input"]
HTML(answer.folded("Mean, standard deviation and count over seeds of every measure, per model",
                   mechanism_summary.frame(records).groupby(
                       ["dataset", "method", "model", "measure"])["value"].agg(
                       ["mean", "std", "count"]).round(4)))
