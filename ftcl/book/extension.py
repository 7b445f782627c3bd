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
- **No button that leads nowhere.** Colab opens only ``.ipynb`` files: a page whose source is a
  Markdown notebook (``book/*.md``) has no paired ``.ipynb``, so it gets no Colab button. While
  the repository is not published (``ftcl.project.PUBLISHED`` is False) no repository, Binder or
  Colab button is shown; in their place a menu says so and links to the page that explains how
  to run the notebooks locally (:func:`header_buttons`).
"""

from __future__ import annotations

from typing import Any

from .. import project

PLOTLY_JS = "plotly/plotly.min.js"
#: Pages generated at build time -> the committed notebook their launch buttons open instead.
LAUNCH_SOURCES = {"book/training_run": "notebooks/04_train"}
#: The section that explains the launch buttons and how to run the notebooks without them.
LAUNCH_HELP = ("book/reproduce", "launch-buttons")
#: sphinx-book-theme's labels of the buttons that point into the repository.
REPOSITORY_LABELS = ("launch-buttons", "source-repository-button")
UNPUBLISHED_NOTE = "Repository not published yet: how to run this page"


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


def _is_colab(button: dict) -> bool:
    return "colab" in str(button.get("url", "")) or "colab" in str(button.get("icon", ""))


def header_buttons(buttons: list[dict], pagename: str, source_suffix: str | None,
                   published: bool, help_url: str) -> list[dict]:
    """The page's header buttons, without those that would lead nowhere.

    ``buttons``: sphinx-book-theme's list for the page; ``source_suffix``: the page source's
    suffix (``.md``, ``.py``, ``.ipynb``); ``help_url``: where the unpublished note links.
    Unpublished: the repository button and the launch menu are replaced by one menu holding
    the note. Published: a stored page's launch links open its committed source
    (:data:`LAUNCH_SOURCES`), and a Markdown page loses its Colab button.
    """
    if not published:
        kept = [b for b in buttons if b.get("label") not in REPOSITORY_LABELS]
        note = {"type": "link", "url": help_url, "text": UNPUBLISHED_NOTE,
                "tooltip": "The public repository of this companion is not published yet, so "
                           "there is nothing to open in Binder or Colab",
                "icon": "fas fa-circle-info", "label": "launch-unpublished"}
        return [*kept, {"type": "group", "tooltip": "Launch buttons (not available yet)",
                        "icon": "fas fa-rocket", "buttons": [note],
                        "label": "launch-buttons"}]
    source = LAUNCH_SOURCES.get(pagename)
    if source:
        buttons = _replace_urls(buttons, f"{pagename}.ipynb", f"{source}.ipynb")
    if source_suffix == ".md":
        buttons = [{**b, "buttons": [x for x in b["buttons"] if not _is_colab(x)]}
                   if b.get("label") == "launch-buttons" else b for b in buttons]
        buttons = [b for b in buttons if b.get("label") != "launch-buttons" or b["buttons"]]
    return buttons


def _page_context(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    if page_has_plotly_figure(context.get("body", "")):
        app.add_js_file(PLOTLY_JS)  # within html-page-context: this page only
    if "header_buttons" in context:
        pathto = context.get("pathto")
        page, anchor = LAUNCH_HELP
        help_url = (pathto(page) if pathto else page + ".html") + "#" + anchor
        context["header_buttons"] = header_buttons(
            context["header_buttons"], pagename, context.get("page_source_suffix"),
            project.PUBLISHED, help_url)


def setup(app) -> dict:
    use_local_kernel_transport()
    # After sphinx-book-theme's own handler (priority 500), which builds the launch buttons.
    app.connect("html-page-context", _page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
