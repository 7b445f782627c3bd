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
# # FSD: from edit distance to a differentiable recursion
#
# FTCL's first objective compares two short sequences of snippets, an *action proposal* of one
# video and a proposal of another, with a learned edit distance: the fine-grained sequence
# distance (FSD, Eq. 2 of the paper). This chapter builds it up from the textbook edit
# distance, makes it differentiable with a smooth maximum (Eq. 5, and its missing $1/\gamma$),
# reads its gradient as an expected alignment, checks the batched implementation `ftcl.dp`
# against a cell-by-cell reference, and ends with an interactive figure.
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
seed = 0  # random inputs of the numerical checks
check_sizes = [[1, 1], [2, 3], [3, 2], [5, 5], [4, 7]]  # grids compared with the reference
check_gammas = [0.5, 10.0, None]  # None: the hard max
dataset = "synthumos14"  # where the interactive figure's proposals come from
data_dir = None  # real features: the folder with gt.json, split_*.txt, train/, test/
profile = "quick"
data_seed = 0  # generation seed of the synthetic benchmark
action_class = "HighJump"  # class of the two proposals of the interactive figure
proposal_len = 8  # snippets per proposal in the interactive figure
slider_gammas = [0.3, 1.0, 3.0, 10.0, 30.0, None]

# %% tags=["hide-input"]
# The parameters, checked before anything runs (the valid values in the error).
from ftcl.config import check_notebook_parameters  # noqa: E402

check_notebook_parameters(dataset=dataset, profile=profile, data_dir=data_dir, seed=seed,
                          data_seed=data_seed, proposal_len=proposal_len)

# %%
import numpy as np
import pandas as pd
import torch

from ftcl import dp
from ftcl.book import viz
from ftcl.book.offline import to_offline_html
from ftcl.data import VideoDataset, get_spec, load_snippet_labels, prepare_dataset
from ftcl.dp import reference as ref
from ftcl.losses.contrast import cosine_matrix

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(seed)

# %% [markdown]
# ## 1. The edit distance of two strings
#
# The edit distance turns one string into another with matches, insertions and deletions (and,
# in Levenshtein's version, substitutions), filling a table in which each cell looks at three
# neighbours:
#
# $$
# D(i, j) = \min\big(D(i-1, j-1) + [a_i \ne b_j],\; D(i-1, j) + 1,\; D(i, j-1) + 1\big).
# $$
#
# Without substitutions (a mismatch costs a deletion plus an insertion) the distance is
# $|a| + |b| - 2\,\mathrm{LCS}(a, b)$, where LCS is the longest common subsequence, the subject
# of the next chapter:

# %%
a, b = "kitten", "sitting"
common = ref.lcs_length(a, b)
pd.DataFrame({"a": [a], "b": [b], "LCS(a, b)": [common],
              "insert/delete distance": [len(a) + len(b) - 2 * common]})

# %% [markdown]
# ## 2. The FSD recursion (Eq. 2)
#
# FSD keeps the three-neighbour table but *maximises a similarity* with learned scores:
# $\mu_{ij}$ for visiting cell $(i, j)$ (matching element $i$ of one sequence with element $j$ of
# the other), and $g_{ij}$, $h_{ij}$ added when the step into the cell skips an element
# (insertion or deletion):
#
# $$
# S(i, j) = \mu_{ij} +
#   \max\!\big(S(i{-}1, j{-}1),\, g_{ij} + S(i{-}1, j),\, h_{ij} + S(i, j{-}1)\big)
# $$
#
# with $S(0, \cdot) = S(\cdot, 0) = 0$.
#
# With hand-made scores on the two strings ($\mu = +1$ for equal letters, $-1$ otherwise, and a
# gap penalty $g = h = -1$) the recursion finds an alignment; its cells are the optimal path,
# read off as the gradient of $S(M, N)$ with respect to $\mu$ (section 4):

# %%
mu_str = 2.0 * ref.match_matrix(a, b) - 1.0
gap_str = torch.full_like(mu_str, -1.0)
score_str = dp.fsd(mu_str[None], gap_str[None], gap_str[None], gamma=None)[0]
path_str = dp.fsd_alignment(mu_str[None], gap_str[None], gap_str[None], gamma=None)[0]
print(f"S(M, N) = {float(score_str):g}  (cell-by-cell reference: "
      f"{float(ref.fsd_reference(mu_str, gap_str, gap_str, gamma=None)):g})")
pd.DataFrame(path_str.numpy().astype(int), index=list(a), columns=list(b))

# %% [markdown]
# Read along the path: diagonal steps pair letters (k/s and e/i are substitutions, the others
# matches) and the final step to the right inserts the g: three edits, the Levenshtein distance
# of the two words.

# %% [markdown]
# In FTCL the two sequences are proposals (a few snippets each) and the scores come from learned
# functions of the snippet features: $\mu_{ij}$ compares snippet $i$ of one proposal with
# snippet $j$ of the other through a learned projection $f_\mu$, and $g_{ij} = h_{ij}$ through a
# second one, $f_g$ (the paper's Eq. 3). Training moves these projections so that action
# proposals of videos of the same class score high and action/background pairs score low.

# %% [markdown]
# ## 3. The smooth maximum, and the missing $1/\gamma$ (Eq. 5)
#
# The hard $\max$ has a gradient that jumps, and is zero for all but one candidate. FTCL replaces
# it by
#
# $$
# \max\nolimits_\gamma(a_1, \dots, a_K) = \frac{1}{\gamma} \log \sum_{k=1}^K e^{\gamma a_k},
# $$
#
# which lies between $\max_k a_k$ and $\max_k a_k + \log(K) / \gamma$.
# The paper prints Eq. 5 without the factor $1/\gamma$; the authors' code has it (as a
# temperature $0.1 = 1/\gamma$). Without it the value grows with $\gamma$ instead of approaching
# the maximum:

# %%
candidates = torch.tensor([1.0, 0.9, 0.2])
rows = []
for gamma in [0.1, 1.0, 10.0, 100.0]:
    smooth = float(dp.smooth_max(candidates, gamma))
    rows.append({"gamma": gamma, "max": float(candidates.max()),
                 "(1/gamma) log sum exp(gamma a)  [ftcl]": smooth,
                 "log sum exp(gamma a)  [Eq. 5 as printed]": gamma * smooth,
                 "bound max + log(K)/gamma": float(candidates.max()) + np.log(3) / gamma})
pd.DataFrame(rows).set_index("gamma")

# %% [markdown]
# ## 4. The gradient is an expected alignment
#
# The gradient of $\max_\gamma$ is $\operatorname{softmax}(\gamma a)$: each candidate's share.
# Chained through the table, $\partial S(M, N) / \partial \mu_{ij}$ is the probability that a
# path drawn with probability $\propto \exp(\gamma \cdot \text{score})$ visits cell $(i, j)$:
# the *expected alignment*. `ftcl.dp.fsd_alignment` computes it with the reverse recursion; it
# agrees with autograd through the cell-by-cell reference:

# %%
m_demo, n_demo = 4, 6
mu_demo = torch.as_tensor(rng.normal(size=(m_demo, n_demo)))
g_demo = torch.as_tensor(rng.normal(size=(m_demo, n_demo)) - 1.0)
mu_leaf = mu_demo.clone().requires_grad_(True)
(grad_reference,) = torch.autograd.grad(ref.fsd_reference(mu_leaf, g_demo, g_demo, 10.0),
                                        mu_leaf)
alignment_demo = dp.fsd_alignment(mu_demo[None], g_demo[None], g_demo[None], gamma=10.0)[0]
print("max |fsd_alignment - autograd of the reference| =",
      f"{float((alignment_demo - grad_reference).abs().max()):.2e}")
pd.DataFrame(alignment_demo.numpy().round(3))

# %% [markdown]
# ## 5. `ftcl.dp` against the cell-by-cell reference
#
# `ftcl.dp` runs the recursion batched (compiled loops on the CPU, anti-diagonal wavefronts on
# other devices), with an exact hand-written backward pass. `ftcl.dp.reference` is the equation
# typed out cell by cell. The values and the gradients with respect to $\mu$, $g$ and $h$ agree
# to rounding error (a larger difference stops this notebook, and with it the book's build):

# %%
checks = []
for m, n in check_sizes:
    for gamma in check_gammas:
        mu_t, g_t, h_t = (torch.as_tensor(rng.normal(size=(m, n))).requires_grad_(True)
                          for _ in range(3))
        fast = dp.fsd(mu_t[None], g_t[None], h_t[None], gamma=gamma)[0]
        slow = ref.fsd_reference(mu_t, g_t, h_t, gamma=gamma)
        grads_fast = torch.autograd.grad(fast, (mu_t, g_t, h_t))
        grads_slow = torch.autograd.grad(slow, (mu_t, g_t, h_t))
        checks.append({
            "M x N": f"{m} x {n}", "gamma": "hard" if gamma is None else gamma,
            "|value diff|": float((fast - slow).detach().abs()),
            "max |grad diff|": max(float((x - y).abs().max())
                                   for x, y in zip(grads_fast, grads_slow, strict=True)),
        })
checks = pd.DataFrame(checks)
assert (checks[["|value diff|", "max |grad diff|"]] < 1e-9).all().all(), checks
checks

# %% [markdown]
# ## 6. Interactive: the alignment of two action proposals
#
# Two proposals of `proposal_len` snippets: the first instance of `action_class` (long enough)
# in each of two training videos that contain only that class, sampled evenly from its start to
# its end. On SynTHUMOS14 an instance is a sequence of sub-action phases at varying speeds, and
# the tick labels give each snippet's true phase. The scores follow the release's recipe before
# any training (the learned projections are still the identity): $\mu$ is the cosine similarity
# of the RGB halves of the features, $g = h$ that of the flow halves.

# %%
spec = get_spec(dataset, profile)
root = prepare_dataset(dataset, profile, data_dir=data_dir, seed=data_seed)
train = VideoDataset(root, "train", spec)
sps = spec.seconds_per_snippet
single_class = {vid for vid, labels in zip(train.video_ids, train.label_sets(), strict=True)
                if labels == {train.classes.index(action_class)}}
gt = train.ground_truth(scope="split")
candidates = gt[(gt["label"] == action_class) & gt["video-id"].isin(single_class)
                & ((gt["t-end"] - gt["t-start"]) / sps >= proposal_len)]
chosen = candidates.drop_duplicates("video-id").head(2)
assert len(chosen) == 2, f"fewer than two {action_class} videos with a long enough instance"
proposals, tick_labels = [], []
for vid, start, end in chosen[["video-id", "t-start", "t-end"]].itertuples(index=False):
    index = np.linspace(start / sps, end / sps, proposal_len, endpoint=False).astype(int)
    index = np.minimum(index, train.n_snippets(vid) - 1)
    proposals.append(torch.as_tensor(train.features(vid)[index], dtype=torch.float64))
    if spec.synthetic:
        phase = load_snippet_labels(root, "train", vid)[index, 1]
        tick_labels.append([f"{t} · phase {p}" if p >= 0 else f"{t} · none"
                            for t, p in zip(index, phase, strict=True)])
    else:
        tick_labels.append([str(t) for t in index])
chosen.assign(snippets=[len(p) for p in proposals])

# %%
half = proposals[0].shape[1] // 2
mu_fig = cosine_matrix(proposals[0][None, :, :half], proposals[1][None, :, :half])
g_fig = cosine_matrix(proposals[0][None, :, half:], proposals[1][None, :, half:])
fig = viz.fsd_alignment_figure(mu_fig, g_fig, g_fig, gammas=slider_gammas,
                               labels_a=tick_labels[0], labels_b=tick_labels[1])
fig.update_layout(xaxis_title=f"{chosen['video-id'].iloc[1]} (snippet)",
                  yaxis_title=f"{chosen['video-id'].iloc[0]} (snippet)")
to_offline_html(fig, div_id="fsd-alignment")

# %% [markdown]
# Move the slider: at small $\gamma$ the alignment spreads over many paths; as $\gamma$ grows it
# concentrates on the optimal path, which $\gamma = \infty$ (the hard maximum) shows as 0/1
# cells. The title gives $S(M, N)$, which decreases towards the hard maximum as $\gamma$ grows.
# Because every visited cell adds its $\mu_{ij}$ and these untrained scores are all positive,
# long paths are favoured; training $f_\mu$ and $f_g$ is what makes the scores, and the
# alignment, discriminative. The data behind this figure is {doc}`the synthetic benchmark
# <03_data>` unless `dataset` and `data_dir` point elsewhere.
