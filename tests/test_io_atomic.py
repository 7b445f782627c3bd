"""Crash-atomicity of every writer of ftcl.io, shown rather than assumed.

For text, JSON, checkpoints and arrays: a fault injected between the write and the rename, and a
child process killed (SIGKILL) at that moment, leave the previous file intact; the writer never
touches the target before its rename; and what it writes is exactly what it documents.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from ftcl import io as fio

PREVIOUS = b"previous content\n"

# writer name -> (write the new object, read the file back, the new object)
WRITERS = {
    "text": (lambda p: fio.atomic_write_text(p, "new text \u2713\n"),
             lambda p: p.read_bytes(), "new text \u2713\n".encode()),
    "json": (lambda p: fio.atomic_write_json(p, {"b": [1, 2], "a": "\u00e9"}),
             lambda p: p.read_text(encoding="utf-8"),
             '{\n  "a": "\\u00e9",\n  "b": [\n    1,\n    2\n  ]\n}\n'),
    "checkpoint": (lambda p: fio.atomic_torch_save(p, {"w": torch.arange(4.0)}),
                   lambda p: torch.load(p, weights_only=True)["w"].tolist(),
                   [0.0, 1.0, 2.0, 3.0]),
    "array": (lambda p: fio.atomic_save_npy(p, np.arange(6, dtype=np.int16).reshape(2, 3)),
              lambda p: np.load(p).tolist(), [[0, 1, 2], [3, 4, 5]]),
}
FILE_NAMES = {"text": "notes.txt", "json": "record.json", "checkpoint": "last.pt",
              "array": "cache.arr"}


def _target(tmp_path, kind):
    target = tmp_path / FILE_NAMES[kind]
    target.write_bytes(PREVIOUS)
    return target


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_writer_writes_exactly_what_it_documents(tmp_path, kind):
    write, read, expected = WRITERS[kind]
    target = _target(tmp_path, kind)
    assert write(target) == target
    assert read(target) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temp, no .npy added


@pytest.mark.parametrize("stage", ["fsync", "replace"])
@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_fault_between_write_and_rename_keeps_the_previous_file(tmp_path, monkeypatch, kind,
                                                                stage):
    write, _, _ = WRITERS[kind]
    target = _target(tmp_path, kind)
    seen = {}

    def boom(*args, **kwargs):
        seen["target during the write"] = target.read_bytes()
        seen["temp files"] = [p.name for p in tmp_path.glob(f".{target.name}.*.tmp")]
        raise OSError(f"injected fault at {stage}")

    monkeypatch.setattr(os, stage, boom)
    with pytest.raises(OSError, match="injected fault"):
        write(target)
    monkeypatch.undo()
    assert seen["target during the write"] == PREVIOUS  # never written in place
    assert len(seen["temp files"]) == 1  # the new content went to a temp file beside it
    assert target.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # temp file removed


_KILL_BEFORE_RENAME = """
import os, signal, sys
from pathlib import Path
from ftcl import io as fio

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = die  # the data is written and synced; the process dies before the rename
kind, target = sys.argv[1], Path(sys.argv[2])
if kind == "text":
    fio.atomic_write_text(target, "new")
elif kind == "json":
    fio.atomic_write_json(target, {"new": 1})
elif kind == "checkpoint":
    import torch
    fio.atomic_torch_save(target, {"w": torch.ones(3)})
else:
    import numpy as np
    fio.atomic_save_npy(target, np.ones(3))
"""


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_writer_killed_before_the_rename_leaves_the_previous_file(tmp_path, kind):
    write, read, expected = WRITERS[kind]
    target = write(tmp_path / FILE_NAMES[kind])  # the previous file, by the same writer
    previous = target.read_bytes()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILL_BEFORE_RENAME, kind, str(target)],
                          env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert target.read_bytes() == previous and read(target) == expected
    left = sorted(tmp_path.glob(f".{target.name}.*.tmp"))
    assert len(left) == 1 and left[0].stat().st_size > 0  # the new data, never renamed
    assert fio.sweep_stale_temp(tmp_path) == left  # its writer is dead: the lock is free
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_atomic_write_json_options(tmp_path):
    target = tmp_path / "x.json"
    fio.atomic_write_json(target, {"b": 1, "a": {"d": 2, "c": 3}}, indent=0)
    assert target.read_text() == '{\n"a": {\n"c": 3,\n"d": 2\n},\n"b": 1\n}\n'


def test_unencodable_text_keeps_the_previous_file(tmp_path):
    target = _target(tmp_path, "text")
    with pytest.raises(UnicodeEncodeError):
        fio.atomic_write_text(target, "half \ud800 a lone surrogate")
    assert target.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


# ------------------------------------------------------------------------------ stale temp files


def test_sweep_skips_folders_and_goes_on(tmp_path):
    (tmp_path / ".a.pt.1.tmp").mkdir()  # not a file: left alone, and the sweep goes on
    stale = tmp_path / ".b.pt.2.tmp"
    stale.write_text("x")
    (tmp_path / "keep.tmp").write_text("not hidden: not a temp file of atomic_path")
    assert fio.sweep_stale_temp(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.pt.1.tmp", "keep.tmp"]


def test_sweep_without_locks_goes_by_age(tmp_path, monkeypatch):
    monkeypatch.setattr(fio, "fcntl", None)  # as on Windows
    old, fresh = tmp_path / ".old.json.1.tmp", tmp_path / ".new.json.2.tmp"
    old.write_text("x")
    fresh.write_text("y")
    day = 24 * 3600
    os.utime(old, (time.time() - day - 60, time.time() - day - 60))
    os.utime(fresh, (time.time() - day + 60, time.time() - day + 60))
    assert fio.sweep_stale_temp(tmp_path) == [old]
    assert fresh.exists()


def test_same_file_compares_the_inode(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1")
    b.write_text("1")
    fd = os.open(a, os.O_RDONLY)
    try:
        assert fio._same_file(a, fd)
        assert not fio._same_file(b, fd)
        assert not fio._same_file(tmp_path / "gone", fd)
    finally:
        os.close(fd)


def test_blocking_lock_waits_for_the_holder(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    holder, waiter = os.open(path, os.O_RDONLY), os.open(path, os.O_RDONLY)
    try:
        assert fio._lock(holder, blocking=False)
        assert not fio._lock(waiter, blocking=False)  # another open file holds it
        timer = threading.Timer(0.3, os.close, (holder,))
        start = time.perf_counter()
        timer.start()
        assert fio._lock(waiter, blocking=True)  # waits until the holder lets go
        assert time.perf_counter() - start >= 0.25
        timer.join()
    finally:
        os.close(waiter)


def test_folder_lock_records_the_holder_and_refuses_a_second_one(tmp_path):
    with fio.folder_lock(tmp_path / "run", "run folder") as lock:
        assert lock.read_text().split()[0] == str(os.getpid())  # the holder, first
        with pytest.raises(fio.FolderLocked, match=rf"^run folder {tmp_path / 'run'} is in use "
                           rf"by another live process \(pid {os.getpid()}\b"):
            with fio.folder_lock(tmp_path / "run", "run folder"):
                pass
    with fio.folder_lock(tmp_path / "run"):  # released at the end of the block
        pass


def test_folder_lock_without_fcntl_runs_unlocked(tmp_path, monkeypatch):
    monkeypatch.setattr(fio, "fcntl", None)
    with fio.folder_lock(tmp_path), fio.folder_lock(tmp_path):
        pass



_WRITE_IN_ASCII_LOCALE = r"""
import locale, sys
from ftcl.io import atomic_write_text
encoding = locale.getpreferredencoding(False)
assert encoding.lower().replace("-", "") != "utf8", encoding
atomic_write_text(sys.argv[1], "caf\u00e9 \u2713")
"""


def test_text_is_utf8_whatever_the_locale(tmp_path):
    here = fio.atomic_write_text(tmp_path / "here.txt", "caf\u00e9 \u2713")  # this locale
    target = tmp_path / "t.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "LC_ALL": "C", "LANG": "C",
           "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    proc = subprocess.run([sys.executable, "-c", _WRITE_IN_ASCII_LOCALE, str(target)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert target.read_bytes() == here.read_bytes() == "caf\u00e9 \u2713".encode()


def test_sweep_goes_on_past_a_file_gone_meanwhile(tmp_path, monkeypatch):
    gone, stale = tmp_path / ".a.pt.1.tmp", tmp_path / ".b.pt.2.tmp"
    gone.write_text("x")
    stale.write_text("y")
    real_open = os.open

    def racing_open(path, *args, **kwargs):
        if str(path) == str(gone):  # renamed onto its target between the glob and the open
            gone.unlink()
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", racing_open)
    assert fio.sweep_stale_temp(tmp_path) == [stale]
    assert list(tmp_path.iterdir()) == []


def test_sweep_tolerates_a_file_removed_before_its_unlink(tmp_path, monkeypatch):
    stale = tmp_path / ".a.pt.1.tmp"
    stale.write_text("x")
    real_same = fio._same_file

    def same_then_gone(path, fd):
        result = real_same(path, fd)
        path.unlink()  # another sweep (a parallel run starting) removed it first
        return result

    monkeypatch.setattr(fio, "_same_file", same_then_gone)
    assert fio.sweep_stale_temp(tmp_path) == [stale]


def test_sweep_without_locks_at_exactly_the_age_limit_keeps_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(fio, "fcntl", None)
    temp = tmp_path / ".x.json.1.tmp"
    temp.write_text("x")
    os.utime(temp, (1_000_000.0, 1_000_000.0))
    monkeypatch.setattr(fio.time, "time", lambda: 1_000_000.0 + 24 * 3600)
    assert fio.sweep_stale_temp(tmp_path) == []  # stale only when older than the limit
    monkeypatch.setattr(fio.time, "time", lambda: 1_000_000.0 + 24 * 3600 + 1)
    assert fio.sweep_stale_temp(tmp_path) == [temp]
