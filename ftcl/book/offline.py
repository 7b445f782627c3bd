"""Figures as HTML that loads nothing from the network (the book serves plotly.js itself)."""

from __future__ import annotations

import json
import sys

import plotly.graph_objects as go
from IPython.display import HTML


class OfflineFigure(HTML):
    """HTML of a plotly figure that expects ``window.Plotly`` to be loaded by the page.

    Besides ``text/html`` it offers plotly's own MIME type, so JupyterLab (Binder) renders the
    figure with its plotly extension; the book (myst-nb) uses the HTML.
    """

    def __init__(self, html: str, figure_json: dict):
        super().__init__(html)
        self._figure_json = figure_json

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"application/vnd.plotly.v1+json": self._figure_json}


def to_offline_html(fig: go.Figure, div_id: str | None = None) -> OfflineFigure:
    """Render a figure as HTML that loads nothing from the network.

    The HTML does not contain plotly.js (the book serves ``plotly.min.js`` as a static file)
    nor MathJax, and a slider figure opens on its active step (``auto_play=False``). In Google
    Colab, where no page provides plotly.js, the HTML loads it from plotly's CDN instead.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    div_id : str, optional
        Id of the figure's ``<div>``; plotly draws a random one when omitted.

    Returns
    -------
    OfflineFigure
        An IPython HTML object; display it (last expression of a cell).
    """
    if not isinstance(fig, go.Figure):
        raise ValueError(f"fig must be a plotly Figure, got {type(fig).__name__}")
    in_colab = "google.colab" in sys.modules
    html = fig.to_html(
        full_html=False, include_plotlyjs="cdn" if in_colab else False, include_mathjax=False,
        auto_play=False, div_id=div_id,
    )
    return OfflineFigure(html, json.loads(fig.to_json()))
