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
# # Training one run
#
# This notebook trains one method on one dataset with one seed, evaluates it on the test split
# and writes its *run record*, the JSON file Tables 1-5 are built from. It is the unit of the
# reproduction batch: `python -m ftcl reproduce` executes it once per run with
# [papermill](https://papermill.readthedocs.io), injecting the parameters below, and keeps every
# executed copy as that run's log in `results/<profile>/logs/<run_id>.ipynb`. The book never
# trains while it builds; it shows such a stored run.
#
# The schedule is the authors' (`ftcl.train`): **stage 1** trains the backbone with its own
# objective (cached, and shared by every method with the same backbone, data and seed);
# **stage 2** continues from it with the method's full loss, Eq. 8 of the paper, for the FTCL
# variants,
#
# $$
# \mathcal{L} = \mathcal{L}_{\text{backbone}} + \lambda_{\text{FSD}}\,\mathcal{L}_{\text{FSD}} +
#   \lambda_{\text{LCS}}\,\mathcal{L}_{\text{LCS}},
# $$
#
# or the backbone's loss again for a plain backbone. The model reported is the one with the best
# average mAP on held-out *training* videos: the test set is never used for selection.
#
# All logic lives in `ftcl`; this notebook only chooses the run and shows what happened. One
# call, `ftcl.reproduce.run.run_and_record`, trains the run, measures its mechanism and writes its
# records; `python -m ftcl train` makes the same call, so both leave the same files.

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
dataset = "synthumos14"  # synthumos14 | synanet (synthetic) | thumos14 | activitynet13 (real)
data_dir = None  # real features: a folder in the release layout (gt.json, train/, test/ ...)
profile = "quick"  # quick | full (real data: full)
method = "ftcl"  # a key of ftcl.config.METHODS (`python -m ftcl train --list-methods`)
backbone = None  # informational: if given, must be the method's backbone
seed = 0  # training seed
device = "auto"  # auto | cpu | cuda
out_dir = None  # checkpoints and the stage-1 cache; None: $FTCL_CACHE/reproduce
cache_dir = None  # synthetic data cache; None: $FTCL_CACHE or ~/.cache/ftcl
overrides = {}  # more configuration keys, e.g. {"train.iterations": 50}
results_dir = None  # None: the results/ folder of this checkout
record_path = None  # None: <results_dir>/<profile>/runs/<run_id>.json
mechanism_methods = None  # methods measured by ftcl.analysis.mechanism (synthetic data only);
# None: ftcl.config.FTCL_AND_BASELINE (ACM-Net and FTCL)

# %% tags=["hide-input"]
# The parameters, checked before anything runs (the valid values in the error).
from ftcl.config import check_notebook_parameters  # noqa: E402

check_notebook_parameters(dataset=dataset, profile=profile, seed=seed)

# %% [markdown]
# ## The configuration
#
# `make_config` layers the paper's THUMOS14 defaults, the dataset/profile table, the method and
# the overrides. The run id is a readable prefix plus a hash of everything that defines the
# experiment (not the device or where files go): a changed hyper-parameter is a new run, and the
# batch skips a run whose record already exists.

# %%
from ftcl.config import METHODS, check_backbone, make_config, name_run
from ftcl.paths import display_path, run_directory, work_dir
from ftcl.report import run_views
from ftcl.reproduce.run import run_and_record

cfg = make_config(method, dataset, profile, overrides=overrides, seed=seed, device=device,
                  data_dir=data_dir, cache_dir=cache_dir, out_dir=str(work_dir(out_dir)))
check_backbone(cfg, backbone)
cfg = name_run(cfg)
print(f"run id:   {cfg.run_name}")
print(f"method:   {method}: {METHODS[method].description} ({METHODS[method].table})")
print(f"backbone: {cfg.model.backbone}; data: {dataset}/{profile}; seed {seed}")
print(f"folder:   {display_path(run_directory(cfg))}")
run_views.changed_settings(cfg)

# %% [markdown]
# ## Training
#
# An interrupted run resumes from its last checkpoint when the notebook runs again with the same
# parameters; a finished run returns its record at once. The record and the mechanism measures
# (below) are written when the run ends.

# %%
record, record_file, mechanism_file = run_and_record(cfg, results_dir, record_path,
                                                     mechanism_methods)
stage1 = record["schedule"]["stage1"]
print(f"{record['iterations']} iterations on {record['device']} in "
      f"{record['wall_time_s']['total']:.1f} s; stage 1 "
      f"{'reused from the cache' if stage1.get('reused') else 'trained here'}")

# %% [markdown]
# ## Model selection and test results
#
# The held-out average mAP at each evaluation of stage 2 (the best one is reported), the test
# split's at the same points (recorded only, to measure what the release's test-set selection
# would add: never used to select), the training losses averaged since the previous evaluation,
# then the test-set detection mAP at each tIoU threshold and its average over the paper's range.
#
# **Why the losses are negative.** The loss columns are the backbone's own objective, the two FTCL
# terms before their weights ($\lambda_{\text{FSD}}$, $\lambda_{\text{LCS}}$ in
# `ftcl.config.FTCLConfig`) and the weighted total of Eq. 8. In the authors' release (our default,
# `ftcl.loss_form = "code"`), each FTCL term is *the mean score of the negative pairs minus the
# mean score of the positive pairs*: a difference of similarity scores, not a probability or a
# distance, so it has no lower bound at zero. It is negative as soon as positive pairs score higher
# than negative ones, which is what training asks for, and falling further means a wider margin.
# The total is then negative too whenever the weighted FTCL terms outweigh the backbone's
# (positive) classification loss. The paper's form (`ftcl.loss_form = "paper"`: a hinge and a
# cross-entropy) stays non-negative.

# %%
run_views.history_frame(record)

# %%
print(f"selection: {record['selection']['rule']}; reported: {record['selection']['reported']} "
      f"model (iteration {record['selection']['selected_iteration']})")
print(f"classification mAP: {100 * record['classification_map']:.2f}%")
run_views.metrics_frame(record)

# %% [markdown]
# ## The mechanism, measured right after training
#
# On synthetic data the planted sub-action phases are known, so `ftcl.analysis.mechanism` measures,
# on the stage-1 and the reported model, whether the LCS matches and the FSD alignment pair the same
# phase, how pure the FSD proposals are, and how much of each instance the CAS covers ("Does FTCL
# align?" chapter). The checkpoints stay in the work dir; the small record travels inside the run
# record and is written to `results/<profile>/mechanism/<run_id>.json`.

# %%
from ftcl.analysis.mechanism import MECHANISM_MEASURES

if record.get("mechanism"):
    for model_name, values in record["mechanism"]["measures"].items():
        print(model_name, {k: round(v, 3) for k, v in values.items()
                           if k in MECHANISM_MEASURES})

# %% [markdown]
# ## The run record
#
# Written atomically (a reader never sees half a record) to `results/<profile>/runs/<run_id>.json`,
# beside the mechanism record; an older configuration of the same run moves to `superseded/`.

# %%
print(f"run record: {display_path(record_file)}")
if mechanism_file is not None:
    print(f"mechanism record: {display_path(mechanism_file)}")
