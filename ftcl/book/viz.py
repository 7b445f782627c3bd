"""Interactive figures for the book: FSD alignments (Eq. 2-5) and LCS links (Eq. 6).

Every figure is a plain :class:`plotly.graph_objects.Figure` whose slider steps are precomputed
frames, so it works in a static HTML page with no kernel. :func:`ftcl.book.offline.to_offline_html`
turns a figure into HTML that references plotly.js instead of embedding it; the book serves
plotly.js itself (``book/static/plotly``), so no page loads anything from the network.

The figure builders come in two layers: ``*_figure`` functions that only draw precomputed arrays
(testable without any dynamic program), and ``fsd_alignment_figure`` / ``lcs_links_figure`` that
run :mod:`ftcl.dp` for a list of ``gamma`` or ``tau`` values and draw the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .. import dp

# Colours for categorical snippet labels (sub-action phases, background); colour-blind safe
# (Okabe-Ito), background drawn in grey.
_PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
_BACKGROUND_COLOUR = "#BBBBBB"
_LINK_COLOUR = "rgba(60, 60, 60, 0.7)"


def _as_matrix(x, name: str) -> np.ndarray:
    """A 2-D float array from a numpy array or a (possibly batched, size-1) torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"{name} must be a matrix [M, N] (or [1, M, N]), got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {a.shape}")
    return a


def _gamma_label(gamma: float | None) -> str:
    return "∞ (hard max)" if gamma is None or math.isinf(gamma) else f"{gamma:g}"


def _slider(labels: Sequence[str], prefix: str, active: int, pad_top: int = 40) -> dict:
    """A slider whose steps jump (no transition) to the frame of the same name."""
    steps = [
        dict(
            label=label,
            method="animate",
            args=[
                [label],
                {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                 "transition": {"duration": 0}},
            ],
        )
        for label in labels
    ]
    return dict(
        active=active,
        currentvalue={"prefix": prefix, "font": {"size": 14}},
        pad={"t": pad_top},
        steps=steps,
    )


def _check_active(active: int, n: int) -> int:
    if not -n <= active < n:
        raise ValueError(f"active={active} is not a valid step index for {n} slider steps")
    return active % n


# ---------------------------------------------------------------------------------------------
# FSD: expected alignment heatmap with a slider over gamma
# ---------------------------------------------------------------------------------------------


def alignment_heatmap_figure(
    frames,
    slider_labels: Sequence[str],
    *,
    titles: Sequence[str] | None = None,
    labels_a: Sequence[str] | None = None,
    labels_b: Sequence[str] | None = None,
    slider_prefix: str = "γ = ",
    active: int = 0,
    zmax: float = 1.0,
) -> go.Figure:
    """Heatmap of alignment matrices, one slider step per matrix.

    Parameters
    ----------
    frames : array-like [K, M, N]
        One alignment matrix per slider step (e.g. ``d S(M, N) / d mu`` for K values of gamma).
    slider_labels : sequence of str, length K
        Label of each step (also the frame names, so they must be distinct).
    titles : sequence of str, optional
        Figure title shown with each step.
    labels_a, labels_b : sequence of str, optional
        Tick labels of the rows (sequence A, length M) and columns (sequence B, length N).
    slider_prefix : str
        Text before the current step's label.
    active : int
        The step shown when the page opens.
    zmax : float
        Upper end of the colour scale (alignment weights lie in [0, 1]).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    z = np.asarray(frames, dtype=np.float64)
    if z.ndim != 3:
        raise ValueError(f"frames must have shape [K, M, N], got {z.shape}")
    k, m, n = z.shape
    if len(slider_labels) != k or len(set(slider_labels)) != k:
        raise ValueError(f"slider_labels must be {k} distinct labels, got {list(slider_labels)}")
    if titles is not None and len(titles) != k:
        raise ValueError(f"titles must have {k} entries, got {len(titles)}")
    active = _check_active(active, k)
    y = list(labels_a) if labels_a is not None else [str(i + 1) for i in range(m)]
    x = list(labels_b) if labels_b is not None else [str(j + 1) for j in range(n)]
    if len(y) != m or len(x) != n:
        raise ValueError(f"labels_a/labels_b must have lengths {m}/{n}, got {len(y)}/{len(x)}")

    def heatmap(zk: np.ndarray) -> go.Heatmap:
        return go.Heatmap(
            z=zk.round(4).tolist(), x=x, y=y, zmin=0.0, zmax=zmax, colorscale="Blues",
            colorbar={"title": {"text": "weight"}},
            hovertemplate="A %{y}, B %{x}<br>weight %{z:.3f}<extra></extra>",
        )

    fig = go.Figure(
        data=[heatmap(z[active])],
        frames=[
            go.Frame(
                name=label, data=[heatmap(z[i])], traces=[0],
                layout={"title": {"text": titles[i]}} if titles is not None else None,
            )
            for i, label in enumerate(slider_labels)
        ],
    )
    fig.update_layout(
        title={"text": titles[active]} if titles is not None else None,
        xaxis={"title": {"text": "sequence B (snippet)"}, "type": "category",
               "constrain": "domain"},
        yaxis={"title": {"text": "sequence A (snippet)"}, "type": "category",
               "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        sliders=[_slider(slider_labels, slider_prefix, active, pad_top=90)],
        height=660, margin={"t": 60, "b": 40, "l": 60, "r": 20},
    )
    return fig


def fsd_alignment_figure(
    mu,
    g,
    h,
    gammas: Sequence[float | None] = (0.3, 1.0, 3.0, 10.0, 30.0, None),
    *,
    labels_a: Sequence[str] | None = None,
    labels_b: Sequence[str] | None = None,
    active: int | None = None,
) -> go.Figure:
    """The expected FSD alignment ``d S(M, N) / d mu`` (Eq. 2 with the smooth max of Eq. 5),
    with a slider over gamma.

    Parameters
    ----------
    mu, g, h : array-like or Tensor [M, N] (or [1, M, N])
        Match, insert and delete scores of two sequences (Eq. 2).
    gammas : sequence of float or None
        Smooth-max sharpness values, one slider step each; ``None`` is the hard max, whose
        alignment is the 0/1 optimal path.
    labels_a, labels_b : sequence of str, optional
        Tick labels of the rows and columns.
    active : int, optional
        Step shown first; defaults to the step of gamma = 10 (the paper's value) when present.

    Returns
    -------
    plotly.graph_objects.Figure
        Each step's title gives gamma and the FSD value ``S(M, N)``.
    """
    mats = [_as_matrix(a, name) for a, name in ((mu, "mu"), (g, "g"), (h, "h"))]
    if not mats[0].shape == mats[1].shape == mats[2].shape:
        raise ValueError(f"mu, g, h must have one shape, got {[a.shape for a in mats]}")
    if len(gammas) == 0:
        raise ValueError("gammas must not be empty")
    t_mu, t_g, t_h = (torch.as_tensor(a[None], dtype=torch.float64) for a in mats)
    frames, titles, labels = [], [], []
    for gamma in gammas:
        alignment = dp.fsd_alignment(t_mu, t_g, t_h, gamma=gamma)[0]
        value = float(dp.fsd(t_mu, t_g, t_h, gamma=gamma)[0])
        frames.append(alignment.detach().cpu().numpy())
        labels.append(_gamma_label(gamma))
        titles.append(f"γ = {_gamma_label(gamma)}: S(M, N) = {value:.3f}")
    if active is None:
        active = next((i for i, gm in enumerate(gammas) if gm == 10.0), 0)
    return alignment_heatmap_figure(
        np.stack(frames), labels, titles=titles, labels_a=labels_a, labels_b=labels_b,
        active=active,
    )


# ---------------------------------------------------------------------------------------------
# LCS: linked snippets (the paper's Figure 2) with a slider over tau
# ---------------------------------------------------------------------------------------------


def phase_agreement(
    path: Sequence[tuple[int, int]], phases_a: Sequence, phases_b: Sequence,
    background: object = -1,
) -> float:
    """Fraction of the mined pairs ``(i, j)`` whose snippets carry the same phase label.

    Two background snippets do **not** agree: a pair counts only when its labels are equal and
    not ``background`` (on the synthetic benchmarks, phase -1 is outside every action). For
    phases that are numbered per class, pass pairs of the same class, or use
    :func:`ftcl.analysis.mechanism.same_phase`, which also compares the class.

    Parameters
    ----------
    path : sequence of (int, int)
        Matched snippet pairs (0-based), e.g. one entry of :func:`ftcl.dp.lcs_path`.
    phases_a, phases_b : sequence
        Per-snippet labels of the two videos (e.g. the true sub-action phase).
    background : object
        The label that never agrees (default -1).

    Returns
    -------
    float
        In [0, 1]; ``nan`` for an empty path.
    """
    if len(path) == 0:
        return float("nan")
    for i, j in path:
        if not (0 <= i < len(phases_a) and 0 <= j < len(phases_b)):
            raise ValueError(
                f"pair ({i}, {j}) is outside the label sequences of lengths "
                f"{len(phases_a)} and {len(phases_b)}"
            )
    same = sum(phases_a[i] == phases_b[j] and phases_a[i] != background for i, j in path)
    return same / len(path)


def phase_chance(phases_a: Sequence, phases_b: Sequence, background: object = -1) -> float:
    """Chance rate of :func:`phase_agreement`: the fraction of all snippet pairs ``(i, j)``
    with equal labels other than ``background``."""
    a = np.asarray(phases_a, dtype=object)[:, None]
    b = np.asarray(phases_b, dtype=object)[None, :]
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(np.mean((a == b) & (a != background)))


def _colours(labels: Sequence | None, n: int, background: object) -> list[str]:
    if labels is None:
        return [_PALETTE[4]] * n
    order = sorted({lab for lab in labels if lab != background}, key=str)
    lookup = {lab: _PALETTE[k % len(_PALETTE)] for k, lab in enumerate(order)}
    return [_BACKGROUND_COLOUR if lab == background else lookup[lab] for lab in labels]


def _check_linked(paths, slider_labels, titles, length_a: int, length_b: int, phases_a,
                  phases_b) -> None:
    """The checks of :func:`linked_snippets_figure`'s arguments (``ValueError`` naming one)."""
    k = len(paths)
    if k == 0 or len(slider_labels) != k or len(set(slider_labels)) != k:
        raise ValueError(f"need one distinct slider label per path ({k}), got {slider_labels}")
    if titles is not None and len(titles) != k:
        raise ValueError(f"titles must have {k} entries, got {len(titles)}")
    if length_a < 1 or length_b < 1:
        raise ValueError(f"length_a and length_b must be >= 1, got {length_a}, {length_b}")
    for lab, n, name in ((phases_a, length_a, "phases_a"), (phases_b, length_b, "phases_b")):
        if lab is not None and len(lab) != n:
            raise ValueError(f"{name} must have {n} entries, got {len(lab)}")
    for path in paths:
        for i, j in path:
            if not (0 <= i < length_a and 0 <= j < length_b):
                raise ValueError(f"pair ({i}, {j}) is outside [0, {length_a}) x [0, {length_b})")


def _links(path: Sequence[tuple[int, int]]) -> go.Scatter:
    """The lines between matched snippets (the trace the slider's frames change)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for i, j in path:
        xs += [i, j, None]
        ys += [1.0, 0.0, None]
    return go.Scatter(
        x=xs, y=ys, mode="lines", line={"color": _LINK_COLOUR, "width": 1.5},
        hoverinfo="skip", showlegend=False, name="mined pairs",
    )


def _snippet_row(n: int, y: float, labels: Sequence | None, name: str,
                 background: object) -> go.Scatter:
    """One video's snippets as squares at height ``y``, coloured by label."""
    text = [f"{name}, snippet {i}" + ("" if labels is None else f", label {labels[i]}")
            for i in range(n)]
    return go.Scatter(
        x=list(range(n)), y=[y] * n, mode="markers", name=name, text=text,
        hovertemplate="%{text}<extra></extra>", showlegend=False,
        marker={"symbol": "square", "size": 11, "color": _colours(labels, n, background),
                "line": {"width": 0.5, "color": "#333333"}},
    )


def _label_legend(phases_a, phases_b, background: object) -> list[go.Scatter]:
    """One legend entry per label colour (static traces without points); none without labels."""
    if phases_a is None and phases_b is None:
        return []
    seen = list(phases_a if phases_a is not None else []) + list(
        phases_b if phases_b is not None else [])
    colours = dict(zip(seen, _colours(seen, len(seen), background), strict=True))
    return [go.Scatter(x=[None], y=[None], mode="markers", showlegend=True,
                       name="none" if lab == background else str(lab),
                       marker={"symbol": "square", "size": 11, "color": colours[lab]})
            for lab in sorted(colours, key=lambda v: (v == background, str(v)))]


def linked_snippets_figure(
    paths: Sequence[Sequence[tuple[int, int]]],
    slider_labels: Sequence[str],
    length_a: int,
    length_b: int,
    *,
    titles: Sequence[str] | None = None,
    phases_a: Sequence | None = None,
    phases_b: Sequence | None = None,
    background: object = -1,
    names: tuple[str, str] = ("video A", "video B"),
    slider_prefix: str = "τ = ",
    active: int = 0,
    legend_title: str = "phase",
) -> go.Figure:
    """Two rows of snippets joined by lines between matched pairs, one slider step per path.

    Parameters
    ----------
    paths : sequence of sequences of (int, int)
        For each step, the matched pairs ``(i, j)`` (0-based snippet indices of A and B).
    slider_labels : sequence of str
        Label (and frame name) of each step; distinct.
    length_a, length_b : int
        Number of snippets of the two sequences.
    titles : sequence of str, optional
        Figure title shown with each step.
    phases_a, phases_b : sequence, optional
        Per-snippet labels used to colour the snippets (e.g. the true sub-action phase);
        ``background`` is drawn in grey.
    background : object
        The label that means "no action".
    names : (str, str)
        Row names.
    slider_prefix : str
        Text before the current step's label.
    active : int
        The step shown when the page opens.
    legend_title : str
        Title of the colour legend (shown when labels are given).

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 holds the links (the only trace the frames change), traces 1-2 the two rows.
    """
    k = len(paths)
    _check_linked(paths, slider_labels, titles, length_a, length_b, phases_a, phases_b)
    active = _check_active(active, k)
    fig = go.Figure(
        data=[_links(paths[active]), _snippet_row(length_a, 1.0, phases_a, names[0], background),
              _snippet_row(length_b, 0.0, phases_b, names[1], background),
              *_label_legend(phases_a, phases_b, background)],
        frames=[
            go.Frame(
                name=label, data=[_links(path)], traces=[0],
                layout={"title": {"text": titles[i]}} if titles is not None else None,
            )
            for i, (label, path) in enumerate(zip(slider_labels, paths, strict=True))
        ],
    )
    fig.update_layout(
        title={"text": titles[active]} if titles is not None else None,
        xaxis={"title": {"text": "snippet (time order)"}, "zeroline": False},
        yaxis={"visible": False, "range": [-0.45, 1.45]},
        annotations=[
            {"x": 0, "y": y, "xref": "paper", "yref": "y", "text": name, "showarrow": False,
             "xanchor": "left", "yanchor": anchor, "yshift": shift}
            for y, name, anchor, shift in ((1.0, names[0], "bottom", 9),
                                           (0.0, names[1], "top", -9))
        ],
        legend={"title": {"text": legend_title}, "orientation": "h", "x": 1.0,
                "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
        sliders=[_slider(slider_labels, slider_prefix, active)],
        height=460, margin={"t": 90, "b": 40, "l": 20, "r": 20}, plot_bgcolor="white",
    )
    return fig


def lcs_links_figure(
    c,
    taus: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.92, 0.95),
    *,
    phases_a: Sequence | None = None,
    phases_b: Sequence | None = None,
    background: object = -1,
    names: tuple[str, str] = ("video A", "video B"),
    active: int | None = None,
    label_name: str = "phase",
) -> go.Figure:
    """The common subsequence mined by the LCS recursion (Eq. 6) between two videos, drawn as
    linked snippets like the paper's Figure 2, with a slider over the threshold tau.

    Parameters
    ----------
    c : array-like or Tensor [M, N] (or [1, M, N])
        Snippet similarities of the two videos (cosine similarity in the paper).
    taus : sequence of float
        Match thresholds (a pair can match only when ``c > tau``), one slider step each.
    phases_a, phases_b : sequence, optional
        Per-snippet labels for colouring; when both are given, each step's title also gives
        the fraction of mined pairs with equal labels (:func:`phase_agreement`).
    background : object
        The label drawn in grey.
    names : (str, str)
        Row names.
    active : int, optional
        Step shown first; defaults to tau = 0.92 (the release's value) when present.
    label_name : str
        What the labels are (legend title and step titles).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    sim = _as_matrix(c, "c")
    if len(taus) == 0:
        raise ValueError("taus must not be empty")
    t_c = torch.as_tensor(sim[None], dtype=torch.float64)
    paths, titles, labels = [], [], []
    for tau in taus:
        path = [tuple(int(v) for v in p) for p in dp.lcs_path(t_c, tau=tau)[0]]
        title = f"τ = {tau:g}: {len(path)} mined pairs"
        if phases_a is not None and phases_b is not None and path:
            share = phase_agreement(path, phases_a, phases_b)
            title += f", {100 * share:.0f}% with the same {label_name}"
        paths.append(path)
        titles.append(title)
        labels.append(f"{tau:g}")
    if active is None:
        active = next((i for i, t in enumerate(taus) if t == 0.92), 0)
    return linked_snippets_figure(
        paths, labels, sim.shape[0], sim.shape[1], titles=titles, phases_a=phases_a,
        phases_b=phases_b, background=background, names=names, active=active,
        legend_title=label_name,
    )


def probe_sweep_figure(rows: Sequence[dict], title: str = "") -> go.Figure:
    """The data-probe knob sweep (:func:`ftcl.data.probe.sweep`): one panel per knob, the knob's
    value on x, and as lines the bag-of-snippets and order-aware accuracies, the alignment
    headroom (their difference) and the share of background / hard-negative snippets that a
    snippet classifier scores as action (all in %)."""
    from plotly.subplots import make_subplots

    if not rows:
        raise ValueError("probe_sweep_figure: no rows")
    knobs = list(dict.fromkeys(r["knob"] for r in rows))
    fig = make_subplots(rows=1, cols=len(knobs), subplot_titles=knobs, shared_yaxes=True)
    series = (("bag", "(a) bag of snippets"), ("order", "(b) order-aware (DTW)"),
              ("headroom", "alignment headroom (b - a)"),
              ("background", "(c) background scored as action"),
              ("hard_negative", "(c) hard negatives scored as action"))
    for col, knob in enumerate(knobs, start=1):
        sel = [r for r in rows if r["knob"] == knob]
        for k, (key, name) in enumerate(series):
            fig.add_trace(go.Scatter(
                x=[r["value"] for r in sel], y=[100 * r[key] for r in sel], name=name,
                mode="lines+markers", legendgroup=key, showlegend=col == 1,
                line={"color": _PALETTE[k % len(_PALETTE)],
                      "dash": "dot" if key in ("background", "hard_negative") else "solid"},
            ), row=1, col=col)
        fig.update_xaxes(title_text="value", row=1, col=col)
    fig.update_yaxes(title_text="%", row=1, col=1)
    fig.update_layout(title=title or None, height=420, legend={"orientation": "h", "y": -0.25},
                      margin={"t": 60, "b": 40})
    return fig
