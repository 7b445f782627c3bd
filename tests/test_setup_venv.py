"""tools/setup_venv.py (``make venv``): which torch it accepts, and that it shows progress."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("setup_venv", ROOT / "tools" / "setup_venv.py")
setup_venv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup_venv)


@pytest.mark.parametrize("text, expected", [("2.13.0+cpu", (2, 13, 0)), ("2.8.0+cu126", (2, 8, 0)),
                                            ("2.3", (2, 3)), ("2.6.0rc1", (2, 6, 0))])
def test_version_tuple(text, expected):
    assert setup_venv.version_tuple(text) == expected


def test_torch_minimum_is_pyprojects_lower_bound(tmp_path):
    assert setup_venv.torch_minimum() == (2, 3)
    other = tmp_path / "pyproject.toml"
    other.write_text('dependencies = [\n  "numpy>=1.26",\n  "torch >= 2.5, <3",\n]\n')
    assert setup_venv.torch_minimum(other) == (2, 5)
    other.write_text('dependencies = ["numpy"]\n')
    with pytest.raises(ValueError, match="torch"):
        setup_venv.torch_minimum(other)


def test_compatible_torch():
    assert setup_venv.compatible("2.13.0+cpu", (2, 3))
    assert setup_venv.compatible("2.3.0", (2, 3))
    assert not setup_venv.compatible("2.2.2", (2, 3))
    assert not setup_venv.compatible(None, (2, 3))


def test_installed_torch_of_this_interpreter():
    import torch

    assert setup_venv.installed_torch(sys.executable) == torch.__version__
    assert setup_venv.installed_torch("/nonexistent/python") is None


def test_pip_lines_are_timestamped_and_silence_gets_a_heartbeat(capsys):
    fake_pip = [sys.executable, "-c",
                "import time; print('Collecting torch==2.13.0'); print('noise'); "
                "time.sleep(0.8); print('Successfully installed torch-2.13.0')"]
    start = setup_venv.time.monotonic()
    assert setup_venv.run_pip(fake_pip, start, heartbeat=0.3) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[setup") and out[0].endswith("Collecting torch==2.13.0")
    assert "noise" not in "\n".join(out)
    assert any("still working" in line for line in out[1:-1])
    assert out[-1].endswith("Successfully installed torch-2.13.0")
    failing = [sys.executable, "-c", "import sys; print('ERROR: no match'); sys.exit(3)"]
    assert setup_venv.run_pip(failing, start, heartbeat=5) == 3


def test_kernel_config_is_installed_where_kernels_read_it(tmp_path):
    target = setup_venv.install_kernel_config(tmp_path / "env")
    assert target == tmp_path / "env" / "etc" / "ipython" / "ipython_kernel_config.py"
    assert target.read_text() == setup_venv.KERNEL_CONFIG.read_text()


def test_an_unreachable_index_is_seen(tmp_path):
    assert not setup_venv.index_reachable("http://127.0.0.1:9/simple", timeout=2)
    assert not setup_venv.index_reachable("not a url", timeout=2)
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "index.html").write_text("<a>torch-2.13.0+cpu.whl</a>")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert setup_venv.index_reachable(f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()


def test_reused_folder_is_importable_after_the_environments_own(tmp_path):
    import subprocess
    import venv

    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    shared = tmp_path / "shared"
    (shared / "reusedpkg").mkdir(parents=True)
    (shared / "reusedpkg" / "__init__.py").write_text("WHERE = 'shared'\n")
    pth = setup_venv.reuse_folder(env, shared)
    assert pth.name == setup_venv.REUSE_PTH
    probe = (f"import sys, reusedpkg; print(reusedpkg.WHERE); own = max(i for i, p in "
             f"enumerate(sys.path) if p.endswith('site-packages')); "
             f"print(sys.path.index({str(shared)!r}) > own)")
    out = subprocess.run([str(env / "bin" / "python"), "-c", probe], capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["shared", "True"]


def test_torch_of_gives_version_and_folder():
    import torch

    version, folder = setup_venv.torch_of(sys.executable)
    assert version == torch.__version__
    assert (folder / "torch" / "__init__.py").is_file()
