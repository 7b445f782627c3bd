"""No orphans: the processes of a batch die with the process that started them.

Whatever ends the driver (Ctrl-C, an exception, ``kill -9``), its workers and their kernels end
with it. Each local pool worker asks the kernel to kill it when its parent (the driver) dies
(:func:`die_with_parent`: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux, plus a watchdog thread
polling ``os.getppid()`` everywhere), and every papermill kernel is started the same way by its
worker (:func:`fate_sharing_kernel_manager`; ipykernel's own parent poller is a second line). A
Ray task's kernel dies with its Ray worker the same way; Ray ends the workers of a dead driver's
job itself, and a local Ray instance the batch starts (no ``--address``) is watched by a reaper
process (:func:`start_reaper`) that kills what is left of it when the driver dies (some of Ray's
node agents outlive a killed driver by more than 30 s otherwise).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time

from ..paths import ROOT

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_WATCHDOG_PERIOD_S = 0.5


def _libc_prctl():
    """libc's ``prctl`` (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _libc_prctl()


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False where unsupported.

    Safe to call between ``fork`` and ``exec`` (``preexec_fn``): ``prctl`` is resolved at import.
    """
    if _PRCTL is None:
        return False
    return _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def _watchdog(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(_WATCHDOG_PERIOD_S)


def die_with_parent(parent_pid: int | None = None) -> None:
    """End this process when its parent process dies, however it dies (``kill -9`` included).

    Linux: ``PR_SET_PDEATHSIG`` (``SIGKILL``), immediate. Everywhere: a daemon thread that
    polls ``os.getppid()`` and exits when the parent changed (within 0.5 s). ``parent_pid``: the
    expected parent (default: the current one); if it is already gone, exit at once. Used as
    the initializer of the local pool's workers.
    """
    expected = os.getppid() if parent_pid is None else parent_pid
    set_parent_death_signal()
    if os.getppid() != expected:  # died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watchdog, args=(expected,), name="ftcl-die-with-parent",
                     daemon=True).start()


def _leave_to_the_driver(signum, frame) -> None:
    """A pool worker's SIGINT/SIGTERM handler: nothing. The driver decides how its runs stop
    (:meth:`ftcl.reproduce.executors.LocalExecutor.stop`); a Python handler, unlike ``SIG_IGN``,
    is not inherited by the kernels a worker starts."""


def start_worker(parent_pid: int) -> None:
    """The local pool's worker initializer: :func:`die_with_parent`, and the terminal's Ctrl-C
    (or a SIGTERM to the batch's process group) left to the driver, so that no worker dies
    with a traceback and takes its kernel's unsaved progress with it."""
    die_with_parent(parent_pid)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _leave_to_the_driver)


def kernel_processes(pid: int) -> list[int]:
    """The papermill kernels (``ipykernel``) among the descendants of ``pid`` (Linux; empty
    elsewhere)."""
    found = []
    for child in descendants(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as fh:
                if b"ipykernel" in fh.read():
                    found.append(child)
        except OSError:
            continue
    return found


def _kernel_preexec() -> None:  # runs in the kernel process between fork and exec
    set_parent_death_signal()


def fate_sharing_kernel_manager():
    """An ``AsyncKernelManager`` whose kernels die with the process that started them.

    The kernel gets ``PR_SET_PDEATHSIG`` (``SIGKILL``) before it execs (Linux); jupyter_client
    still starts it in its own session (interrupts go to the kernel's process group). Elsewhere
    the plain manager (ipykernel polls its parent through ``JPY_PARENT_PID``).
    """
    from jupyter_client.manager import AsyncKernelManager

    if _PRCTL is None:
        return AsyncKernelManager

    class FateSharingKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("preexec_fn", _kernel_preexec)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return FateSharingKernelManager


def _proc_table() -> dict[int, tuple[int, str]]:
    """``{pid: (ppid, start time)}`` of every process (Linux ``/proc``; empty elsewhere)."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
        table[int(name)] = (int(rest[1]), rest[19])  # fields 4 (ppid) and 22 (starttime)
    return table


def descendants(pid: int, table: dict | None = None) -> dict[int, str]:
    """``{pid: start time}`` of every descendant of ``pid`` (Linux; empty elsewhere)."""
    table = _proc_table() if table is None else table
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    out, todo = {}, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        if p not in out:
            out[p] = table[p][1]
            todo += children.get(p, [])
    return out


def _reap() -> None:
    """The reaper process (:func:`start_reaper`): read ``pid start`` lines from stdin; until
    EOF, keep adding their descendants; at EOF (the driver closed the pipe or died) kill every
    one of them still alive (the start time guards against a reused pid)."""
    owned: dict[int, str] = {}
    buffer = b""
    while True:
        ready, _, _ = select.select([sys.stdin.buffer], [], [], _WATCHDOG_PERIOD_S)
        if ready:
            chunk = os.read(sys.stdin.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                pid, start = line.decode().split()
                owned[int(pid)] = start
        table = _proc_table()
        for pid in list(owned):
            if table.get(pid, (0, None))[1] == owned[pid]:
                owned.update(descendants(pid, table))
    table = _proc_table()
    for pid, start in owned.items():
        if table.get(pid, (0, None))[1] == start:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def start_reaper(pids: dict[int, str]):
    """Start a process that kills ``pids`` (``{pid: start time}``) and their descendants when
    this process dies or closes the returned ``Popen``'s stdin. None where ``/proc`` is
    missing."""
    if not pids:
        return None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, "-c",
                             "from ftcl.reproduce.processes import _reap; _reap()"],
                            stdin=subprocess.PIPE, env=env, start_new_session=True)
    proc.stdin.write("".join(f"{pid} {start}\n" for pid, start in pids.items()).encode())
    proc.stdin.flush()
    return proc
