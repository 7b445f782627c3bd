# IPython kernel configuration of this project's environment: `make venv` (tools/setup_venv.py)
# copies it to .venv/etc/ipython/, where every kernel started with .venv's Python reads it.
#
# It drops one start-up warning, ipykernel's "Kernel is running over TCP without encryption",
# printed by every `papermill` command the README and the book give: papermill's command line
# cannot ask its kernel manager for CurveZMQ keys or IPC sockets, and its kernels listen on
# 127.0.0.1 only, each message signed with a connection-file key that only this user can read.
# The filter drops that message and nothing else; the book's own kernels are encrypted instead
# (ftcl.book.extension.use_local_kernel_transport). It is defined here, not imported, so that a
# kernel never depends on ftcl importing cleanly.
TCP_WARNING = "Kernel is running over TCP without encryption"


def drop_plain_tcp_warning():
    """A logging filter: every record but ipykernel's plain-TCP warning passes."""
    return lambda record: TCP_WARNING not in record.getMessage()


c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.IPKernelApp.logging_config = {
    "filters": {"ftcl_plain_tcp": {"()": drop_plain_tcp_warning}},
    "handlers": {"console": {"filters": ["ftcl_plain_tcp"]}},
}
