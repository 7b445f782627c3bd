"""Screenshots of the built book as a reader sees it, for book/static/screenshots/.

Usage (after ``make book``; needs Debian's ``chromium``)::

    .venv/bin/python tools/screenshots.py                 # the default shots
    .venv/bin/python tools/screenshots.py --out /tmp/shots

It serves ``_build/html`` on 127.0.0.1, opens each page in headless Chromium with no network
beyond 127.0.0.1, at the window size of a desktop (1400 px wide) or a phone (390 px wide), and
saves what the first screen(s) show as PNG:

- ``intro-1400.png``: the introduction and its generated bottom line;
- ``table1-1400.png``: Table 1's page at 1400 x 1000, the first screen (the compact table and its
  verdicts should be on it);
- ``table1-390.png``: the same page on a phone, 390 px wide (the first 2,400 px of the page).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
OUT = ROOT / "book" / "static" / "screenshots"
#: name -> (page, width, height)
SHOTS = {
    "intro-1400": ("book/intro.html", 1400, 1000),
    "table1-1400": ("notebooks/05_table1_thumos14.html", 1400, 1000),
    "table1-390": ("notebooks/05_table1_thumos14.html", 390, 2400),
}
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
         "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>;127.0.0.1",
         "--run-all-compositor-stages-before-draw", "--virtual-time-budget=15000"]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("Chromium is not installed (Debian: apt-get install chromium)")


def shoot(exe: str, url: str, width: int, height: int, target: Path) -> None:
    """One screenshot of ``url`` in a ``width`` x ``height`` window."""
    profile = tempfile.mkdtemp(prefix="ftcl-shot-")
    try:
        subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}",
                        f"--window-size={width},{height}", f"--screenshot={target}", url],
                       check=True, capture_output=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if not target.is_file() or target.stat().st_size < 5_000:
        raise RuntimeError(f"{target}: no screenshot (or a blank one) of {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", type=Path, default=HTML)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="+", choices=sorted(SHOTS), default=sorted(SHOTS))
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        raise SystemExit(f"no built book at {args.html}: run `make book` first")
    args.out.mkdir(parents=True, exist_ok=True)
    exe = chromium()
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(args.html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        for name in args.only:
            page, width, height = SHOTS[name]
            target = args.out / f"{name}.png"
            shoot(exe, base + page, width, height, target)
            print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
                  f"{page} at {width} x {height}")
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
