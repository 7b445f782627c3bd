"""Figures of Tables 1-5: mAP against tIoU (plotly, interactive) and the paired differences by
seed (seaborn, static), for the table chapters of the book.

plotly, matplotlib and seaborn are the book's dependencies (``pip install -e .[book]``); they are
imported when a figure is drawn.
"""

from __future__ import annotations

import io
import math
import textwrap

import pandas as pd

from .layout import threshold_label


def tiou_figure(table: pd.DataFrame):
    """mAP (%) against tIoU for every row of ``table`` that has per-threshold values.

    Measured rows are solid lines with the seed standard deviation as error bars; reference rows
    are dashed. Returns a :class:`plotly.graph_objects.Figure` (show it with
    :func:`ftcl.book.viz.to_offline_html` in the book).
    """
    import plotly.graph_objects as go

    a = table.attrs
    names = a["value_columns"][:-1]
    x = [float(threshold_label(t)) for t in a["thresholds"]]
    fig = go.Figure()
    palette = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
               "#000000")
    colour = {m: palette[i % len(palette)] for i, m in enumerate(dict.fromkeys(table["method"]))}
    for _, r in table.iterrows():
        y = [r[n] for n in names]
        if not r["method"] or all(math.isnan(v) for v in y):  # paper rows not trained here
            continue
        measured = r["row"] == "measured"
        std = [r[f"{n.removesuffix(' (%)')} std"] for n in names]
        error = (dict(type="data", array=[0.0 if math.isnan(s) else s for s in std],
                      visible=True) if measured and not all(math.isnan(s) for s in std) else None)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines+markers", error_y=error,
            name=f"{r['label']} ({'measured' if measured else 'published'})",
            line=dict(color=colour[r["method"]], dash="solid" if measured else "dash"),
            hovertext=r["source"], hoverinfo="x+y+text"))
    fig.update_layout(
        title=f"Table {a['number']}: mAP against tIoU", xaxis_title="tIoU threshold",
        yaxis_title="mAP (%)", legend_title="row", template="plotly_white",
        xaxis=dict(tickmode="array", tickvals=x), height=450)
    return fig


def delta_figure(table: pd.DataFrame):
    """Per-seed paired differences of the average mAP to each row's baseline (seaborn).

    One line per comparison: the seeds' differences as dots, their mean with the 95 % paired t
    interval as a bar, the paper's delta (absolute, from its own table) as a red diamond, and 0
    as a dashed line. Returns a :class:`matplotlib.figure.Figure` (static; the book embeds it as
    a PNG).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    a = table.attrs
    comps = a["comparisons"]
    names = [textwrap.fill(f"{c['label']} − {c['baseline_label']}", 42) for c in comps]
    points = pd.DataFrame(
        [{"comparison": n, "Δ AVG (points)": d, "seed": s}
         for n, c in zip(names, comps, strict=True)
         for s, d in zip(c["seeds"], c["differences"], strict=True)],
        columns=["comparison", "Δ AVG (points)", "seed"])
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(9.5, 0.8 * max(len(comps), 1) + 2.0), layout="constrained")
    if comps:
        sns.stripplot(data=points, x="Δ AVG (points)", y="comparison", order=names, ax=ax,
                      color="#0072B2", alpha=0.55, size=6, jitter=0.12, zorder=1)
        for i, c in enumerate(comps):
            if math.isfinite(c["low"]):
                ax.errorbar(c["mean"], i, xerr=[[c["mean"] - c["low"]], [c["high"] - c["mean"]]],
                            fmt="o", color="black", capsize=5, lw=2, ms=7, zorder=3,
                            label="mean, 95 % paired t interval" if i == 0 else None)
            else:
                ax.plot(c["mean"], i, "o", color="black", zorder=3)
            if c["paper_delta"] is not None:
                ax.plot(c["paper_delta"], i, "D", color="#D55E00", ms=8, zorder=4,
                        label="paper Δ (real I3D features, single run)"
                        if not any(x["paper_delta"] is not None for x in comps[:i]) else None)
        ax.axvline(0.0, color="grey", ls="--", lw=1, zorder=0)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize="small",
                  frameon=False)
    else:
        ax.text(0.5, 0.5, "no run records: nothing to compare", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_yticks([])
    n = sorted({c["n"] for c in comps})
    ax.set_title(f"Table {a['number']}: paired differences by seed on "
                 f"{a['data_title'].split(':')[0]} ({', '.join(map(str, n)) or 0} seeds)",
                 fontsize="medium", pad=26)
    ax.set_ylabel("")
    plt.close(fig)
    return fig


def figure_png(fig, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes (for a static image in the book:
    ``IPython.display.Image(figure_png(fig))``)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()
