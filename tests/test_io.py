import contextlib
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


# ------------------------------------------------------------------------------ issue 19, point 6:
# a full disk, a file-size limit, an unwritable folder: one line naming the file and the cause,
# the previous file kept, no temporary file left

_SIZE_LIMITED = """
import resource, signal, sys
import torch
from ftcl.io import WriteError, atomic_torch_save
target = sys.argv[1]
atomic_torch_save(target, {"v": torch.zeros(10)})  # the previous checkpoint (~1 kB)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
try:
    atomic_torch_save(target, {"v": torch.zeros(1_000_000)})  # 4 MB
except WriteError as exc:
    print(exc)
"""


@pytest.mark.skipif(__import__("sys").platform == "win32", reason="POSIX resource limits")
def test_a_file_size_limit_is_named_and_the_previous_checkpoint_kept(tmp_path):
    import os
    import subprocess
    import sys

    import torch

    target = tmp_path / "last.pt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", _SIZE_LIMITED, str(target)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"cannot write {target}: "), out.stdout
    assert "file too large" in out.stdout or "short write" in out.stdout
    assert torch.load(target, weights_only=True)["v"].shape == (10,)  # the previous one
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file


def test_a_full_disk_is_named_and_the_previous_file_kept(tmp_path, monkeypatch):
    """ENOSPC simulated at the write call (the sync of the written file)."""
    import errno
    import os

    from ftcl.io import WriteError, atomic_torch_save

    target = tmp_path / "best.pt"
    atomic_write_text(target, "previous")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    for write in (lambda: atomic_write_json(target, {"a": 1}),
                  lambda: atomic_torch_save(target, {"a": 1})):
        with pytest.raises(WriteError) as err:
            write()
        assert str(err.value) == (f"cannot write {target}: no space left on device (the disk "
                                  "is full)")
        assert err.value.errno == errno.ENOSPC
        assert target.read_text() == "previous"
        assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_an_unwritable_folder_is_named(tmp_path):
    from ftcl.io import WriteError

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(WriteError, match=f"cannot write {blocker / 'out.json'}: a part of the "
                                         "path is a file, not a folder"):
        atomic_write_json(blocker / "out.json", {})


# ------------------------------------------------------------------------------ the holder of a
# lock, as a dry run of a batch names it: the record folder_lock writes is "<pid> <host> <start>"

@contextlib.contextmanager
def _held_elsewhere(path, let_go_after=1.0):
    """Hold the lock of ``path`` through another open file (as another process would), letting
    go after ``let_go_after`` seconds at the latest: a reader that waited for it gets it then."""
    import fcntl
    import os
    import threading

    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    timer = threading.Timer(let_go_after, fcntl.flock, (fd, fcntl.LOCK_UN))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        os.close(fd)


def test_lock_holder_names_the_pid_host_and_start_of_a_live_holder_at_once(tmp_path):
    import time

    from ftcl.io import lock_holder

    lock = tmp_path / ".batch.lock"
    lock.write_text("4242 node-a 2024-05-01T12:00:00+0200\n")
    with _held_elsewhere(lock):
        start = time.perf_counter()
        assert lock_holder(lock) == "pid 4242 on node-a, started at 2024-05-01T12:00:00+0200"
        assert time.perf_counter() - start < 0.5  # asked, not waited for
        assert lock_holder(str(lock)) == "pid 4242 on node-a, started at 2024-05-01T12:00:00+0200"


def test_lock_holder_of_the_record_folder_lock_writes(tmp_path):
    import os
    import platform
    import re

    from ftcl.io import folder_lock, lock_holder

    with folder_lock(tmp_path / "results", name=".batch.lock") as lock:
        host = re.escape(platform.node() or "localhost")
        assert re.fullmatch(rf"pid {os.getpid()} on {host}, started at "
                            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", lock_holder(lock))
    assert lock.exists() and lock_holder(lock) is None  # released; the file stays


def test_lock_holder_is_none_without_a_file_or_a_holder(tmp_path):
    from ftcl.io import lock_holder

    assert lock_holder(tmp_path / ".batch.lock") is None
    (tmp_path / ".batch.lock").write_text("4242 node-a 2024-05-01T12:00:00+0200\n")
    assert lock_holder(tmp_path / ".batch.lock") is None  # a stale record, nobody holds it


@pytest.mark.parametrize("record, described", [
    (b"", "pid unknown"),
    (b"4242\n", "pid 4242"),
    (b"4242 node-a\n", "pid 4242"),
    (b"4242 node-a 2024-05-01 extra words\n", "pid 4242 on node-a, started at 2024-05-01"),
    (b"4242 n\xffde 2024\n", "pid 4242 on n\ufffdde, started at 2024"),  # not UTF-8
    # only the first 256 bytes are read: the start time ends at byte 256, the "Z" is not read
    (b"7 " + b"h" * 200 + b" " + b"T" * 53 + b"Z\n",
     f"pid 7 on {'h' * 200}, started at {'T' * 53}"),
])
def test_lock_holder_of_a_short_or_odd_record(tmp_path, record, described):
    from ftcl.io import lock_holder

    lock = tmp_path / ".lock"
    lock.write_bytes(record)
    with _held_elsewhere(lock):
        assert lock_holder(lock) == described


def test_an_unreadable_record_is_pid_unknown(tmp_path):
    import os

    from ftcl import io as fio

    lock = tmp_path / ".lock"
    lock.write_text("4242 node-a 2024-05-01T12:00:00+0200\n")
    fd = os.open(lock, os.O_WRONLY)  # reading it fails (EBADF)
    try:
        assert fio._describe_holder(fd) == "pid unknown"
    finally:
        os.close(fd)
