"""``python -m ftcl <command>``: see :mod:`ftcl.cli`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
