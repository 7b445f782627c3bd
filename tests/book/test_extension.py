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


_BINDER = {"type": "link", "label": "Binder", "url": "https://mybinder.org/v2/gh/o/r/main?"
                                                   "urlpath=lab/tree/book/training_run.ipynb"}
_COLAB = {"type": "link", "label": "Colab", "icon": "_static/images/logo_colab.png",
          "url": "https://colab.research.google.com/github/o/r/blob/main/book/training_run.ipynb"}
_DOWNLOAD = {"type": "group", "label": "download-buttons", "buttons": []}
_REPO = {"type": "link", "label": "source-repository-button", "url": "https://github.com/o/r"}


def _launch(*items):
    return {"type": "group", "label": "launch-buttons", "buttons": list(items)}


def test_stored_run_launch_buttons_open_the_source_notebook():
    out = ext.header_buttons([_launch(_BINDER, _COLAB)], "book/training_run", ".ipynb",
                             published=True, help_url="x")
    urls = [b["url"] for b in out[0]["buttons"]]
    assert all(u.endswith("notebooks/04_train.ipynb") for u in urls)
    other = [{"url": "x/notebooks/01_fsd.ipynb"}]
    assert ext.header_buttons(other, "notebooks/01_fsd", ".py", True, "x") == other


def test_markdown_pages_have_no_colab_button():
    out = ext.header_buttons([_DOWNLOAD, _launch(_BINDER, _COLAB)], "book/limitations", ".md",
                             published=True, help_url="x")
    assert out == [_DOWNLOAD, _launch(_BINDER)]
    # a launch menu left empty goes
    assert ext.header_buttons([_launch(_COLAB)], "book/limitations", ".md", True, "x") == []
    # a notebook page keeps it
    kept = ext.header_buttons([_launch(_BINDER, _COLAB)], "notebooks/01_fsd", ".py", True, "x")
    assert kept == [_launch(_BINDER, _COLAB)]


def test_unpublished_repository_shows_a_note_instead_of_buttons():
    out = ext.header_buttons([_DOWNLOAD, _REPO, _launch(_BINDER, _COLAB)], "notebooks/01_fsd",
                             ".py", published=False, help_url="../book/reproduce.html#launch")
    assert out[0] == _DOWNLOAD
    assert [b["label"] for b in out] == ["download-buttons", "launch-buttons"]
    (note,) = out[1]["buttons"]
    assert note["url"] == "../book/reproduce.html#launch"
    assert "not published" in note["text"]
    assert "github.com" not in str(out) and "colab" not in str(out)


def test_the_book_follows_the_project_setting(monkeypatch):
    ctx = {"body": "", "header_buttons": [_REPO, _launch(_BINDER)], "page_source_suffix": ".py",
           "pathto": lambda page: f"../{page}.html"}
    monkeypatch.setattr(ext.project, "PUBLISHED", False)
    ext._page_context(_App(), "notebooks/01_fsd", "page.html", ctx, None)
    assert ctx["header_buttons"][0]["buttons"][0]["url"] == "../book/reproduce.html#launch-buttons"


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


def _kernel_config():
    from pathlib import Path

    from traitlets.config.loader import PyFileConfigLoader

    path = Path(__file__).resolve().parents[2] / "tools" / "ipython_kernel_config.py"
    return PyFileConfigLoader(path.name, str(path.parent)).load_config()


def test_kernel_config_drops_the_plain_tcp_warning_only():
    """tools/ipython_kernel_config.py, loaded as IPython loads it, gives the kernel's console
    handler a filter that drops ipykernel's plain-TCP warning and keeps every other record."""
    import logging
    import logging.config

    conf = _kernel_config().IPKernelApp.logging_config
    logger = logging.getLogger("ftcl-test-kernel")
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False, "filters": conf["filters"],
        "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                 **conf["handlers"]["console"]}},
        "loggers": {"ftcl-test-kernel": {"handlers": ["console"], "level": "DEBUG"}}})
    try:
        (handler,) = logger.handlers

        def record(msg):
            return logging.LogRecord("IPKernelApp", logging.WARNING, __file__, 1, msg, None, None)

        assert not handler.filter(record("Kernel is running over TCP without encryption. All "
                                         "communication is sent in plain text"))
        assert handler.filter(record("Unable to initialize signal"))
    finally:
        logger.handlers.clear()
