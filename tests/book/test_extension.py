"""The book's Sphinx extension, without building the book."""

from __future__ import annotations

from ftcl.book import extension as ext


class _App:
    def __init__(self):
        self.js: list[str] = []

    def add_js_file(self, name, **kw):
        self.js.append(name)


def test_plotly_js_only_for_pages_with_a_figure():
    app = _App()
    ext._page_context(app, "notebooks/01_fsd", "page.html",
                      {"body": "<script>Plotly.newPlot('x', [])</script>"}, None)
    assert app.js == [ext.PLOTLY_JS]
    app = _App()
    ext._page_context(app, "book/intro", "page.html", {"body": "<p>no figure</p>"}, None)
    assert app.js == []


def test_stored_run_launch_buttons_open_the_source_notebook():
    buttons = [{"type": "group", "buttons": [
        {"label": "Binder", "url": "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/"
                                   "book/training_run.ipynb"},
        {"label": "Colab", "url": "https://colab.research.google.com/github/o/r/blob/main/"
                                  "book/training_run.ipynb"}]}]
    ctx = {"body": "", "header_buttons": buttons}
    ext._page_context(_App(), "book/training_run", "page.html", ctx, None)
    urls = [b["url"] for b in ctx["header_buttons"][0]["buttons"]]
    assert all(u.endswith("notebooks/04_train.ipynb") for u in urls)
    other = {"body": "", "header_buttons": [{"url": "x/notebooks/01_fsd.ipynb"}]}
    ext._page_context(_App(), "notebooks/01_fsd", "page.html", other, None)
    assert other["header_buttons"] == [{"url": "x/notebooks/01_fsd.ipynb"}]


def test_kernels_started_here_do_not_talk_plain_tcp():
    from jupyter_client.connect import ConnectionFileMixin
    from jupyter_client.manager import KernelManager

    enc = KernelManager.transport_encryption.default_value
    tr = ConnectionFileMixin.transport.default_value
    try:
        mode = ext.use_local_kernel_transport()
        km = KernelManager()
        if mode == "curve":
            assert km.transport_encryption == "auto"
        else:
            assert km.transport == "ipc"
    finally:
        KernelManager.transport_encryption.default_value = enc
        ConnectionFileMixin.transport.default_value = tr
