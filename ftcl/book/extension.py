"""A small Sphinx extension for the book (listed in ``_config.yml``; imported only by the build).

- **plotly.js only where a figure is.** ``ftcl.book.offline.to_offline_html`` writes figures that
  expect ``window.Plotly``; the book serves ``_static/plotly/plotly.min.js`` (about 4.8 MB) and this
  extension adds it to a page only when the page draws a plotly figure.
- **Encrypted kernels.** The notebooks run in local Jupyter kernels while the book builds; the
  kernel manager provisions CurveZMQ keys when pyzmq supports them (the python3 kernelspec of
  ipykernel declares ``supported_encryption: curve``), else the kernel talks over IPC sockets
  instead of TCP. Either way the kernel has no reason to warn "running over TCP without
  encryption".
- **Launch buttons of the stored training run.** ``book/training_run.ipynb`` is written by
  ``make book`` and git-ignored, so a Binder/Colab link to it would 404: on that page the links
  open its source, ``notebooks/04_train.ipynb``.
"""

from __future__ import annotations

from typing import Any

PLOTLY_JS = "plotly/plotly.min.js"
#: Pages generated at build time -> the committed notebook their launch buttons open instead.
LAUNCH_SOURCES = {"book/training_run": "notebooks/04_train"}


def use_local_kernel_transport() -> str:
    """Make every Jupyter kernel started from this process encrypted ("curve") or IPC ("ipc")."""
    import zmq
    from jupyter_client.manager import KernelManager

    if zmq.has("curve"):
        KernelManager.transport_encryption.default_value = "auto"
        return "curve"
    from jupyter_client.connect import ConnectionFileMixin

    ConnectionFileMixin.transport.default_value = "ipc"
    return "ipc"


def page_has_plotly_figure(body: str) -> bool:
    """Whether a rendered page body draws a plotly figure."""
    return "Plotly.newPlot" in body


def _replace_urls(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_urls(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_urls(v, old, new) for k, v in value.items()}
    return value


def _page_context(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    if page_has_plotly_figure(context.get("body", "")):
        app.add_js_file(PLOTLY_JS)  # within html-page-context: this page only
    source = LAUNCH_SOURCES.get(pagename)
    if source and "header_buttons" in context:
        context["header_buttons"] = _replace_urls(context["header_buttons"],
                                                  f"{pagename}.ipynb", f"{source}.ipynb")


def setup(app) -> dict:
    use_local_kernel_transport()
    # After sphinx-book-theme's own handler (priority 500), which builds the launch buttons.
    app.connect("html-page-context", _page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
