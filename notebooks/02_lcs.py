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
# # LCS: the longest common subsequence of two videos
#
# FTCL's second objective asks two videos of the same class to share a long common
# subsequence of similar snippets, and two videos of different classes a short one. This
# chapter goes from the textbook LCS of two strings to the paper's Eq. 6 (a thresholded,
# similarity-weighted LCS) and Eq. 7 (the loss), draws the mined subsequence between two videos
# as linked snippets like the paper's Figure 2, with a slider over the threshold $\tau$, and
# measures on SynTHUMOS14, whose videos carry their true sub-action phases, how often the mined
# pairs are the same phase of the action.
#
# All computations call `ftcl`; this notebook only chooses inputs and shows results.

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
seed = 0  # random inputs and the random choice of video pairs
dataset = "synthumos14"  # where the videos come from
data_dir = None  # real features: the folder with gt.json, split_*.txt, train/, test/
profile = "quick"
data_seed = 0  # generation seed of the synthetic benchmark
lcs_len = 30  # J: snippets taken from each video
slider_taus = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.92]
figure_tau = 0.5  # the slider step both figures open on (one of slider_taus)
pair_class = "HighJump"  # class of the same-class pair in the figures
other_class = "Diving"  # class of the second video of the different-class pair
n_pairs = 60  # pairs of each kind in the statistics

# %% tags=["hide-input"]
# The parameters, checked before anything runs (the valid values in the error).
from ftcl.config import check_choice, check_notebook_parameters  # noqa: E402

check_notebook_parameters(dataset=dataset, profile=profile, data_dir=data_dir, seed=seed,
                          data_seed=data_seed, lcs_len=lcs_len, n_pairs=n_pairs)
check_choice("figure_tau", figure_tau, slider_taus)

# %%
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown

from ftcl import dp
from ftcl.book import viz
from ftcl.book.offline import to_offline_html
from ftcl.data import VideoDataset, get_spec, load_snippet_labels, prepare_dataset
from ftcl.data.synthetic import REGION_ACTION
from ftcl.dp import reference as ref
from ftcl.losses.contrast import cosine_matrix

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(seed)

# %% [markdown]
# ## 1. The classic LCS
#
# The longest common subsequence of two strings keeps, in order, as many equal letters of both as
# possible:
#
# $$
# L(i, j) =
# \begin{cases}
# L(i-1, j-1) + 1 & \text{if } a_i = b_j, \\
# \max\big(L(i-1, j),\; L(i, j-1)\big) & \text{otherwise.}
# \end{cases}
# $$
#
# Written with a 0/1 similarity $c_{ij} = [a_i = b_j]$ and any threshold $0 \le \tau < 1$, this is
# exactly Eq. 6 below, so `ftcl.dp.lcs` returns the textbook length and `ftcl.dp.lcs_path` the
# matched letters:

# %%
a, b = "kitten", "sitting"
match = ref.match_matrix(a, b)
path_str = dp.lcs_path(match[None], tau=0.5)[0]
pd.DataFrame({
    "textbook LCS": [ref.lcs_length(a, b)],
    "ftcl.dp.lcs": [float(dp.lcs(match[None], tau=0.5)[0])],
    "matched letters": [" ".join(f"{a[i]}{i + 1}-{b[j]}{j + 1}" for i, j in path_str)],
})

# %% [markdown]
# ## 2. Eq. 6: similarities and a threshold
#
# Between videos, letters become snippets and equality becomes a cosine similarity $c_{ij}$ of
# their features. Two snippets *match* when $c_{ij} > \tau$, and a match adds its similarity:
#
# $$
# R(i, j) =
# \begin{cases}
# R(i-1, j-1) + c_{ij} & \text{if } c_{ij} > \tau, \\
# \max\big(R(i-1, j),\; R(i, j-1)\big) & \text{otherwise,}
# \end{cases}
# $$
#
# with $R(0, \cdot) = R(\cdot, 0) = 0$. $r = R(J, J)$ is the total similarity of the best common
# subsequence of matching pairs. The test $c_{ij} > \tau$ is piecewise constant, but the matched
# similarities enter $r$ linearly, so $r$ is differentiable: its gradient with respect to $c$ is 1
# on the matched cells of the optimal subsequence and 0 elsewhere. On a small random example,
# `ftcl.dp` agrees with the cell-by-cell reference and its gradient marks exactly the cells of
# `lcs_path`:

# %%
c_demo = torch.as_tensor(rng.uniform(-1.0, 1.0, size=(6, 8))).requires_grad_(True)
r_fast = dp.lcs(c_demo[None], tau=0.3)[0]
r_slow = ref.lcs_reference(c_demo, tau=0.3)
(grad_demo,) = torch.autograd.grad(r_fast, c_demo)
path_demo = dp.lcs_path(c_demo.detach()[None], tau=0.3)[0]
marked = sorted(map(tuple, torch.nonzero(grad_demo).tolist()))
r_fast, r_slow = float(r_fast.detach()), float(r_slow.detach())
assert abs(r_fast - r_slow) < 1e-12 and marked == path_demo
pd.DataFrame({"r (ftcl.dp)": [r_fast], "r (reference)": [r_slow],
              "sum of c on the path": [float(sum(c_demo[i, j] for i, j in path_demo).detach())],
              "cells with gradient 1": [str(marked)]})

# %% [markdown]
# ## 3. Two videos as linked snippets (the paper's Figure 2)
#
# FTCL takes the $J$ snippets of each video with the highest attention of the backbone. Without a
# trained backbone this chapter uses an oracle instead: $J$ snippets spread evenly over each
# video's action snippets, in time order. On SynTHUMOS14 the action snippets are those the
# generator labelled *action* (so no background snippet is among them); on real features, the
# snippets whose centre lies inside an annotated instance. The similarities are those of the raw
# features (FTCL uses the backbone's embeddings, whose similarities training pushes up for
# matching content; the release's $\tau = 0.92$ applies to those).
#
# Each figure shows the two videos as rows of snippets, coloured by their true sub-action phase
# on SynTHUMOS14 ("HighJump 2" is the second phase of a HighJump instance; phases are numbered
# within their class, so two snippets share a phase only when class and number are equal), and a
# line for every pair of the mined common subsequence. Move the slider: a high $\tau$ keeps only
# the most similar pairs.

# %% tags=["hide-input"]
spec = get_spec(dataset, profile)
root = prepare_dataset(dataset, profile, data_dir=data_dir, seed=data_seed)
train = VideoDataset(root, "train", spec)
sps = spec.seconds_per_snippet
gt = train.ground_truth(scope="split")
video_class = {vid: train.classes[next(iter(labels))]
               for vid, labels in zip(train.video_ids, train.label_sets(), strict=True)
               if len(labels) == 1}
selected, phases = {}, {}  # video id -> the J snippet indices taken from it, and their phases
for vid, rows in gt[gt["video-id"].isin(video_class)].groupby("video-id"):
    if spec.synthetic:  # the generator's own labels: region 1 is "action"
        labels = load_snippet_labels(root, "train", vid)
        action = np.flatnonzero(labels[:, 3] == REGION_ACTION)
    else:  # snippet centres inside an annotated instance
        centres = (np.arange(train.n_snippets(vid)) + 0.5) * sps
        inside = [(centres >= start) & (centres < end)
                  for start, end in rows[["t-start", "t-end"]].to_numpy()]
        action = np.flatnonzero(np.any(inside, axis=0))
    if len(action) >= lcs_len:
        index = action[np.linspace(0, len(action), lcs_len, endpoint=False).astype(int)]
        selected[vid] = index
        phases[vid] = ([f"{video_class[vid]} {p + 1}" for p in labels[index, 1]]
                       if spec.synthetic else None)
snippets = {vid: torch.as_tensor(train.features(vid)[index]) for vid, index in selected.items()}
by_class = pd.Series({vid: video_class[vid] for vid in selected}).sort_index()
print("single-class training videos with at least J action snippets, per class:",
      ", ".join(f"{name} {count}" for name, count in by_class.value_counts().items()))

# %% [markdown]
# Which pair of `pair_class` videos to show? Not the best one: the pair drawn is the *median*
# pair of its class, ranked by the share of its mined pairs that are the same phase at the
# opening threshold (on real features, by the number of mined pairs), so the figure is typical
# of the statistics in section 4.

# %% tags=["hide-input"]
candidates = list(by_class[by_class == pair_class].index)
ranked = []
for i, va in enumerate(candidates):
    for vb in candidates[i + 1:]:
        c = cosine_matrix(snippets[va][None], snippets[vb][None])
        path = dp.lcs_path(c, tau=figure_tau)[0]
        score = (viz.phase_agreement(path, phases[va], phases[vb]) if spec.synthetic
                 else float(len(path)))
        ranked.append((np.nan_to_num(score, nan=-1.0), va, vb))  # nothing mined ranks lowest
ranked.sort()
share, first, second = ranked[(len(ranked) - 1) // 2]
third = by_class[by_class == other_class].index[0]
figures = {}
for name, (va, vb) in {"same": (first, second), "different": (first, third)}.items():
    figures[name] = viz.lcs_links_figure(
        cosine_matrix(snippets[va][None], snippets[vb][None]), taus=slider_taus,
        phases_a=phases[va], phases_b=phases[vb],
        names=(f"{va} ({video_class[va]})", f"{vb} ({video_class[vb]})"),
        active=slider_taus.index(figure_tau))
opening = (f"Both figures open at τ = {figure_tau:g} (the parameter `figure_tau`). The pair "
           f"shown is the median of the {len(ranked)} pairs of {pair_class} videos")
if spec.synthetic and share >= 0:
    chance = viz.phase_chance(phases[first], phases[second])
    opening += (f": at τ = {figure_tau:g}, {100 * share:.0f} % of its mined pairs are the same "
                f"phase, where {100 * chance:.0f} % of all its pairs of snippets are (chance).")
elif spec.synthetic:
    opening += f": nothing is mined at τ = {figure_tau:g}."
else:
    opening += f": {share:.0f} mined pairs at τ = {figure_tau:g}."
Markdown(opening)

# %% [markdown]
# Two videos of the same class (`pair_class`):

# %%
to_offline_html(figures["same"], div_id="lcs-same-class")

# %% [markdown]
# The first video again, with a video of another class (`other_class`). Raw features of
# different classes are nearly orthogonal, so their similarities stay small: a different-class
# pair has matches only at the low end of the slider and none from there on, which is what the
# contrast needs.

# %%
to_offline_html(figures["different"], div_id="lcs-different-class")

# %% [markdown]
# The two figures' pairs at every slider step, and the largest similarity of each pair of videos:

# %% tags=["hide-input"]
slider_table = {}
for name, (va, vb) in {"same class": (first, second), "different classes": (first, third)}.items():
    c = cosine_matrix(snippets[va][None], snippets[vb][None])
    slider_table[f"mined pairs, {name}"] = [len(dp.lcs_path(c, tau=tau)[0]) for tau in slider_taus]
    print(f"{name}: largest similarity {float(c.max()):.2f}")
pd.DataFrame(slider_table, index=pd.Index(slider_taus, name="tau")).T

# %% [markdown]
# ## 4. How often do mined pairs share the true phase?
#
# On SynTHUMOS14 every action is a sequence of sub-action phases (the same phases, in the same
# order, at different speeds in every instance of a class), and the generator stores each
# snippet's phase. For `n_pairs` random pairs of same-class videos and as many different-class
# pairs, the table gives, per $\tau$: the mean LCS value $r$ and $r / J$ (the normalisation
# Eq. 7 needs), the mean number of mined pairs, and for same-class pairs the share of mined pairs
# whose two snippets are the same phase of the class. Chance, printed above the table, is the
# share of *all* pairs of action snippets of the two videos that are the same phase. The share
# is counted for same-class pairs only: two snippets of different classes never share a phase.

# %% tags=["hide-input"]
vids = list(by_class.index)
same_pairs = [(x, y) for i, x in enumerate(vids) for y in vids[i + 1:]
              if by_class[x] == by_class[y]]
diff_pairs = [(x, y) for i, x in enumerate(vids) for y in vids[i + 1:]
              if by_class[x] != by_class[y]]
same_pairs = [same_pairs[k] for k in rng.permutation(len(same_pairs))[:n_pairs]]
diff_pairs = [diff_pairs[k] for k in rng.permutation(len(diff_pairs))[:n_pairs]]
c_same = cosine_matrix(torch.stack([snippets[x] for x, _ in same_pairs]),
                       torch.stack([snippets[y] for _, y in same_pairs]))
c_diff = cosine_matrix(torch.stack([snippets[x] for x, _ in diff_pairs]),
                       torch.stack([snippets[y] for _, y in diff_pairs]))
rows = []
for tau in slider_taus:
    paths_same = dp.lcs_path(c_same, tau=tau)
    row = {"tau": tau,
           "r same class": float(dp.lcs(c_same, tau=tau).mean()),
           "r different classes": float(dp.lcs(c_diff, tau=tau).mean()),
           "r / J same": float(dp.lcs(c_same, tau=tau).mean()) / lcs_len,
           "r / J different": float(dp.lcs(c_diff, tau=tau).mean()) / lcs_len,
           "mined pairs, same": np.mean([len(p) for p in paths_same]),
           "mined pairs, different": np.mean([len(p) for p in dp.lcs_path(c_diff, tau=tau)])}
    if spec.synthetic:
        agreement = [viz.phase_agreement(p, phases[x], phases[y])
                     for p, (x, y) in zip(paths_same, same_pairs, strict=True) if p]
        row["same phase (same class)"] = np.mean(agreement) if agreement else np.nan
    rows.append(row)
table = pd.DataFrame(rows).set_index("tau")
if spec.synthetic:
    chance = np.mean([viz.phase_chance(phases[x], phases[y]) for x, y in same_pairs])
    print(f"chance of the same phase: {chance:.2f}")
print(f"data: {spec.name} ({spec.profile} profile), raw features, J = {lcs_len}\n"
      f"pairs: {len(same_pairs)} same-class, {len(diff_pairs)} different-class (training)")
largest = float(c_same.max())
for tau in table.index[table["mined pairs, same"] == 0]:
    print(f"tau = {tau:g}: nothing is mined (no same-class similarity exceeds it; the largest "
          f"is {largest:.4f}),\n  so the same-phase share is undefined: NaN in the table")
table.round(3)

# %% [markdown]
# Read the table from top to bottom. At a low threshold almost every snippet matches and the
# subsequence is long for any pair; raising $\tau$ first removes the different-class matches,
# then keeps fewer and fewer same-class matches, which are more and more often the same
# sub-action phase. That is the behaviour FTCL relies on: with a suitable $\tau$ the LCS separates
# same-class from different-class pairs and its matches are meaningful. On the raw synthetic
# features the useful range of $\tau$ is lower than the release's 0.92, which applies to trained
# embeddings. These numbers come from the synthetic benchmark (see {doc}`03_data`), not from
# real videos.
