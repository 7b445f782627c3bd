import json

import pytest

from ftcl.io import atomic_path, atomic_write_json, atomic_write_text


def test_atomic_write_json_roundtrip(tmp_path):
    target = tmp_path / "sub" / "r.json"
    atomic_write_json(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_failed_write_keeps_previous_content(tmp_path):
    target = tmp_path / "r.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash midway")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_atomic_write_uses_umask_permissions(tmp_path):
    import os

    target = atomic_write_text(tmp_path / "p.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


# ------------------------------------------------------------------------------ stale temp files
# and folder locks (a process killed with kill -9 leaves both behind)

_KILL_MID_WRITE = """
import os, signal, sys
from ftcl.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a checkpoint")
    os.kill(os.getpid(), signal.SIGKILL)
"""

_HOLD_LOCK = """
import sys, time
from ftcl.io import folder_lock
with folder_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _python(code, *args, **kw):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, **kw)


def test_temp_file_of_a_killed_write_is_swept(tmp_path):
    from ftcl.io import sweep_stale_temp

    target = tmp_path / "last.pt"
    atomic_write_text(target, "previous")
    proc = _python(_KILL_MID_WRITE, target)
    assert proc.wait(timeout=60) == -9
    stale = [p.name for p in tmp_path.glob(".*.tmp")]
    assert len(stale) == 1 and stale[0].startswith(".last.pt.")  # what kill -9 leaves
    assert sweep_stale_temp(tmp_path) == [tmp_path / stale[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    assert target.read_text() == "previous"


def test_sweep_keeps_the_temp_file_of_a_live_write(tmp_path):
    from ftcl.io import sweep_stale_temp

    with atomic_path(tmp_path / "best.pt") as tmp:
        tmp.write_text("being written")
        assert sweep_stale_temp(tmp_path) == []  # its writer holds the lock
        assert tmp.exists()
    assert (tmp_path / "best.pt").read_text() == "being written"
    assert sweep_stale_temp(tmp_path / "missing") == []


def test_folder_lock_refuses_a_second_holder_until_the_first_dies(tmp_path):
    import subprocess

    from ftcl.io import FolderLocked, folder_lock

    folder = tmp_path / "run"
    proc = _python(_HOLD_LOCK, folder, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(FolderLocked, match=f"in use by another live process \\(pid {proc.pid}"):
            with folder_lock(folder):
                pass
    finally:
        proc.kill()  # SIGKILL: the holder cannot release anything itself
        proc.wait(timeout=60)
    with folder_lock(folder, "run folder") as lock:  # the OS released it
        assert lock == folder / ".lock"
