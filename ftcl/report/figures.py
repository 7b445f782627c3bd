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

from .layout import row_label, table_rows, threshold_label

#: Colours of the tIoU panels: the compared row, its baseline.
_ROW_COLOUR, _BASE_COLOUR = "#0072B2", "#7F7F7F"


def _curve(table: pd.DataFrame, method: str, kind: str, names: list[str], x: list[float]):
    """``(x, y, std)`` of ``method``'s ``kind`` row ("measured" / "reference"): only the
    thresholds that have a value (the paper publishes some thresholds only); None if none."""
    rows = table[(table["method"] == method) & (table["row"] == kind)]
    if rows.empty:
        return None
    r = rows.iloc[0]
    points = [(t, r[n], r.get(f"{n.removesuffix(' (%)')} std", math.nan))
              for t, n in zip(x, names, strict=True) if not math.isnan(r[n])]
    return ([p[0] for p in points], [p[1] for p in points], [p[2] for p in points]) if points \
        else None


def _panels(table: pd.DataFrame) -> list[tuple[str, str]]:
    """One panel per comparison of the table (a row and its baseline, :func:`table_rows`), in
    table order; the controls beyond the paper only when they were measured."""
    measured = set(table.loc[table["row"] == "measured", "method"])
    return [(m, base) for m, base, beyond in table_rows(table.attrs["key"])
            if base and (not beyond or m in measured)]


def tiou_figure(table: pd.DataFrame, columns: int = 3):
    """mAP (%) against tIoU, one small panel per comparison of Table ``table``: the row and its
    baseline, measured (solid, error bars: standard deviation over seeds) and published (dashed,
    at the thresholds the paper gives). A panel whose two measured curves are identical says so
    in its title. Returns a :class:`plotly.graph_objects.Figure` (show it with
    :func:`ftcl.book.offline.to_offline_html` in the book)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    a = table.attrs
    names, key = a["value_columns"][:-1], a["key"]
    x = [float(threshold_label(t)) for t in a["thresholds"]]
    panels = _panels(table)
    if not panels:  # no measured comparison: the published rows of the methods trained here
        panels = [(m, m) for m in dict.fromkeys(table.loc[table["method"] != "", "method"])]
    cols = min(columns, len(panels))
    rows = -(-len(panels) // cols)
    titles = []
    for method, base in panels:
        same = (_curve(table, method, "measured", names, x) is not None
                and _curve(table, method, "measured", names, x)
                == _curve(table, base, "measured", names, x) and method != base)
        titles.append(f"{row_label(key, method)} vs {row_label(key, base)}"
                      + (" (identical curves)" if same else "") if method != base
                      else row_label(key, method))
    titles = ["<br>".join(textwrap.wrap(t, 34)) for t in titles]  # a panel is narrow
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_yaxes=True,
                        horizontal_spacing=0.04, vertical_spacing=0.12)
    seen = set()
    for i, (method, base) in enumerate(panels):
        row, col = i // cols + 1, i % cols + 1
        for who, colour, label in ((base, _BASE_COLOUR, "baseline"), (method, _ROW_COLOUR, "row")):
            if who == base and method == base and label == "baseline":
                continue
            for kind, dash, word in (("measured", "solid", "measured"),
                                     ("reference", "dash", "paper")):
                curve = _curve(table, who, kind, names, x)
                if curve is None:
                    continue
                xs, ys, std = curve
                error = (dict(type="data", array=[0.0 if math.isnan(v) else v for v in std],
                              visible=True) if kind == "measured" else None)
                name = f"{label}, {word}"
                fig.add_trace(go.Scatter(
                    x=xs, y=ys, mode="lines+markers", error_y=error, name=name,
                    legendgroup=name, showlegend=name not in seen,
                    line=dict(color=colour, dash=dash), hovertext=row_label(key, who),
                    hoverinfo="x+y+text"), row=row, col=col)
                seen.add(name)
    fig.update_xaxes(tickmode="array", tickvals=x[::2] if len(x) > 7 else x, title_text="tIoU")
    fig.update_yaxes(title_text="mAP (%)", col=1)
    fig.update_layout(template="plotly_white", height=330 * rows + 90, legend_title="curve",
                      legend=dict(orientation="h", y=-0.12 if rows == 1 else -0.05),
                      margin=dict(t=60, b=60))
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
