"""The subcommands of ``python -m ftcl``: one :class:`Command` each, in :data:`COMMANDS`.

A module that provides a command (:mod:`ftcl.cli` for ``train``/``evaluate``,
:mod:`ftcl.reproduce` for ``reproduce``) builds a :class:`Command`; :mod:`ftcl.cli` registers
them and builds the parser. This module imports nothing of ftcl, so no import circle runs through
it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A subcommand: ``add_arguments(parser)`` declares options, ``run(args)`` returns a code."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    epilog: str | None = None  # shown after the options (examples); kept as written


COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    """Add ``command`` to the ``ftcl`` command line (replaces one of the same name)."""
    COMMANDS[command.name] = command
    return command
