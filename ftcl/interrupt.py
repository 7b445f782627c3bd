"""Stopping a run cleanly: SIGINT (Ctrl-C) and SIGTERM (Slurm, ``timeout``, Docker, Kubernetes).

Both signals mean the same thing: finish the current iteration, save the full training state
(``last.pt``) and stop; running the same configuration again resumes from there and gives the
same result as an uninterrupted run. :class:`StopRequest` is that while a stage trains (the
trainer checks :attr:`StopRequest.requested` after every iteration and raises
:class:`Interrupted`); a second Ctrl-C aborts at once, a repeated SIGTERM (a scheduler that
signals every process of a job, and the batch's driver too) is the same request again.
Outside a stage (data preparation, the final evaluation) :func:`signals_interrupt` makes SIGTERM
raise :class:`Interrupted` as Ctrl-C raises ``KeyboardInterrupt``, so the command line ends
with one line instead of being killed silently. ``ftcl train`` exits with ``128 + signal``
(130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: The signals that stop a run.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum: int) -> str:
    """``SIGINT``, ``SIGTERM``, ... of a signal number."""
    return signal.Signals(signum).name


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``signum`` is the signal, ``exit_code`` ``128 + signum``.
    The message says what happened, without the signal's name (the command line adds it)."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal_name(self.signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class StopRequest:
    """While active, SIGINT and SIGTERM request a stop after the current iteration
    (:attr:`requested`: the signal number, or 0). A second SIGINT raises :class:`Interrupted`
    at once; the previous handlers come back on exit. Only the main thread can take signals:
    elsewhere this does nothing."""

    def __init__(self) -> None:
        self.requested = 0
        self._previous: dict[int, object] = {}

    def _handler(self, signum, frame) -> None:
        if self.requested:
            if signum == signal.SIGINT:
                raise Interrupted("aborted at once by a second Ctrl-C (no checkpoint saved)",
                                  signum)
            return  # the same request again
        self.requested = signum
        print(f"\nftcl: {signal_name(signum)} received: finishing this iteration and "
              "saving a resumable checkpoint (Ctrl-C again to abort at once)", flush=True)

    def __enter__(self) -> StopRequest:
        if _main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted("stopped", signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While active, SIGTERM raises :class:`Interrupted` in the main thread, as SIGINT raises
    ``KeyboardInterrupt`` (the handlers are restored on exit; no-op outside the main thread)."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
