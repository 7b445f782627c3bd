"""Where this project lives: the one setting behind the book's launch buttons and Colab cells.

:data:`REPOSITORY_URL` is **a placeholder**: the companion's public repository has not been
published yet, so the URL below does not resolve (the book's repository/Binder/Colab buttons and
the notebooks' Colab cells lead to a 404 until it does). When the repository is published, change
it here, set :data:`PUBLISHED`, then run ``python -m ftcl.project`` to write it into
``_config.yml`` and into the Colab cell of every notebook; ``tests/test_project.py`` fails while
any of them disagree.

The Colab cell (:func:`colab_cell`) clones the repository, so the notebooks' folder and the
committed run records (``results/``) are there, and installs ``ftcl`` from the clone with a
constraint that keeps the runtime's own (CUDA) torch.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .paths import ROOT, notebooks_dir

#: The public Git repository of this companion (a placeholder until it is published, see above).
REPOSITORY_URL = "https://github.com/ftcl-companion/ftcl"
#: Whether :data:`REPOSITORY_URL` resolves. While False the book shows no repository or launch
#: button (they would lead to a 404) but a note where they would be (``ftcl.book_extension``).
PUBLISHED = False
#: The branch the book's launch buttons and the Colab cell use.
REPOSITORY_BRANCH = "main"

COLAB_MARKER = "# In Google Colab:"


def colab_cell(url: str | None = None, branch: str | None = None) -> str:
    """Source of the first code cell of every notebook (a no-op outside Google Colab).

    In Colab: ``git clone`` the repository (once), work from its root, and ``pip install -e .``
    with a constraint file pinning the torch already installed, so pip never replaces the
    runtime's CUDA build (``pyproject.toml`` accepts a range of torch versions); plotly for the
    figures. The clone goes on ``sys.path`` because an editable install made inside a running
    kernel is only seen by the next one. ``url``/``branch`` default to the settings above.
    """
    url = url or REPOSITORY_URL
    branch = branch or REPOSITORY_BRANCH
    return f'''{COLAB_MARKER} clone the repository (notebooks/ and the committed results/ come
# with it) and install ftcl from it, keeping the runtime's torch. A no-op everywhere else.
# The URL is ftcl.project.REPOSITORY_URL (`python -m ftcl.project` rewrites this cell).
import sys

if "google.colab" in sys.modules:
    import importlib.metadata
    import os
    import subprocess
    import tempfile

    REPOSITORY_URL = "{url}"
    BRANCH, CLONE = "{branch}", "/content/ftcl"
    if not os.path.isdir(CLONE):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", BRANCH, REPOSITORY_URL,
                        CLONE], check=True)
    KEEP = os.path.join(tempfile.gettempdir(), "keep-torch.txt")
    with open(KEEP, "w") as f:
        f.write(f"torch=={{importlib.metadata.version('torch')}}\\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", KEEP, "-e", CLONE,
                    "plotly==7.1.0"], check=True)
    os.chdir(CLONE)
    sys.path.insert(0, CLONE)'''


def _config_url(text: str) -> tuple[str | None, str | None]:
    url = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", text, re.M)
    branch = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+branch:\s*(\S+)", text, re.M)
    return (url.group(1) if url else None), (branch.group(1) if branch else None)


def check(root: str | Path = ROOT) -> list[str]:
    """Places that disagree with :data:`REPOSITORY_URL` / :func:`colab_cell`, as messages."""
    import jupytext

    root = Path(root)
    problems = []
    url, branch = _config_url((root / "_config.yml").read_text(encoding="utf-8"))
    if (url, branch) != (REPOSITORY_URL, REPOSITORY_BRANCH):
        problems.append(f"_config.yml: repository {url}@{branch}, expected "
                        f"{REPOSITORY_URL}@{REPOSITORY_BRANCH}")
    want = colab_cell()
    for path in sorted(notebooks_dir(root).glob("[0-9][0-9]_*.py")):
        cells = [c for c in jupytext.read(path).cells if c.cell_type == "code"]
        if not cells or not cells[0].source.startswith(COLAB_MARKER):
            problems.append(f"{path.relative_to(root)}: the first code cell is not the Colab cell")
        elif cells[0].source != want:
            problems.append(f"{path.relative_to(root)}: the Colab cell differs from "
                            "ftcl.project.colab_cell()")
    return problems


def sync(root: str | Path = ROOT) -> list[Path]:
    """Write :data:`REPOSITORY_URL` into ``_config.yml`` and :func:`colab_cell` into every
    notebook (the jupytext ``.py`` and its paired ``.ipynb``); return the files changed."""
    from jupytext.cli import jupytext as jupytext_cli

    root = Path(root)
    changed = []
    cfg = root / "_config.yml"
    text = cfg.read_text(encoding="utf-8")
    new = re.sub(r"^(repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*)\S+", rf"\g<1>{REPOSITORY_URL}",
                 text, flags=re.M)
    new = re.sub(r"^(repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+branch:\s*)\S+",
                 rf"\g<1>{REPOSITORY_BRANCH}", new, flags=re.M)
    if new != text:
        cfg.write_text(new, encoding="utf-8")
        changed.append(cfg)
    want = colab_cell()
    for path in sorted(notebooks_dir(root).glob("[0-9][0-9]_*.py")):
        text = path.read_text(encoding="utf-8")
        m = re.search(r"^# %%[^\n]*\n(# In Google Colab.*?)\n+(?=# %%)", text, re.M | re.S)
        if m is None:
            raise ValueError(f"{path}: no Colab cell (a cell starting '# In Google Colab')")
        if m.group(1) == want:
            continue
        path.write_text(text[:m.start(1)] + want + "\n\n" + text[m.end():], encoding="utf-8")
        jupytext_cli(["--sync", "--quiet", str(path)])
        changed.append(path)
    return changed


if __name__ == "__main__":
    for p in sync():
        print(f"updated {p}")
    sys.exit(1 if check() else 0)
