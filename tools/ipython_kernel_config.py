# IPython kernel configuration of this project's environment: `make venv` (tools/setup_venv.py)
# copies it to .venv/etc/ipython/, where every kernel started with .venv's Python reads it.
#
# It drops one start-up warning, ipykernel's "Kernel is running over TCP without encryption",
# printed by every `papermill` command the README and the book give: papermill's command line
# cannot ask its kernel manager for CurveZMQ keys or IPC sockets, and its kernels listen on
# 127.0.0.1 only, each message signed with a connection-file key that only this user can read.
# The filter (ftcl.book.extension.kernel_log_filter) drops that message and nothing else; the
# book's own kernels are encrypted instead (ftcl.book.extension.use_local_kernel_transport).
c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.IPKernelApp.logging_config = {
    "filters": {"ftcl_plain_tcp": {"()": "ftcl.book.extension.kernel_log_filter"}},
    "handlers": {"console": {"filters": ["ftcl_plain_tcp"]}},
}
