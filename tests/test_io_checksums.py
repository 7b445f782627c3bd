"""The checksum file of a results folder (``SHA256SUMS``, ``sha256sum`` format): its hashing,
reading and updating, pinned against hashlib, published test vectors and text written out here.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest

from ftcl import io as fio

D1, D2, D3, D4 = ("0123456789abcdef" * 4, "f" * 64, "00" * 32, "9876543210fedcba" * 4)


# ------------------------------------------------------------------------------ sha256_file

@pytest.fixture
def reads(monkeypatch):
    """The reads of the files sha256_file opens: (size asked, bytes got) each; a read past the
    end of a file (after an empty read) fails at once rather than loop for ever."""
    reads = []
    real_open = open

    class Reader:
        def __init__(self, fh):
            self.fh, self.ended = fh, False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def read(self, size=-1):
            assert not self.ended, "read again past the end of the file"
            block = self.fh.read(size)
            reads.append((size, len(block)))
            self.ended = not block
            return block

    monkeypatch.setattr(fio, "open", lambda *a, **kw: Reader(real_open(*a, **kw)), raising=False)
    return reads


def test_sha256_file_matches_the_published_vectors(tmp_path, reads):
    (tmp_path / "abc").write_bytes(b"abc")
    (tmp_path / "empty").write_bytes(b"")
    # FIPS 180-2, appendix B.1, and the digest of no bytes at all
    assert fio.sha256_file(tmp_path / "abc") == ("ba7816bf8f01cfea414140de5dae2223"
                                                 "b00361a396177a9cb410ff61f20015ad")
    assert fio.sha256_file(str(tmp_path / "empty")) == ("e3b0c44298fc1c149afbf4c8996fb924"
                                                        "27ae41e4649b934ca495991b7852b855")
    assert [got for _, got in reads] == [3, 0, 0]  # abc, its end; the end of the empty file


def test_sha256_file_hashes_a_large_file_in_bounded_blocks_up_to_its_end(tmp_path, reads):
    """A checkpoint is hashed block by block, each read asking for less than the whole file, and
    the reading stops at the first empty read (the end of the file)."""
    data = bytes(range(256)) * (3 * 4096) + b"tail"  # 3 MiB and 4 bytes
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert fio.sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert all(isinstance(size, int) and 0 < size < len(data) for size, _ in reads), reads
    assert sum(got for _, got in reads) == len(data) and reads[-1][1] == 0


# ------------------------------------------------------------------------------ read_checksums

def test_read_checksums_parses_every_line_and_skips_blank_ones(tmp_path):
    path = tmp_path / "SHA256SUMS"
    path.write_text(f"{D1}  last.pt\n\n{D2}  run record.json\n   \n{D3}  two  spaces.txt\n",
                    encoding="utf-8")
    assert fio.read_checksums(path) == {"last.pt": D1, "run record.json": D2,
                                        "two  spaces.txt": D3}
    assert fio.read_checksums(str(path)) == {"last.pt": D1, "run record.json": D2,
                                             "two  spaces.txt": D3}


def test_read_checksums_of_no_file_is_none_and_of_an_empty_one_empty(tmp_path):
    assert fio.read_checksums(tmp_path / "SHA256SUMS") is None
    assert fio.read_checksums(tmp_path) is None  # a folder is not a checksum file
    (tmp_path / "SHA256SUMS").write_text("\n", encoding="utf-8")
    assert fio.read_checksums(tmp_path / "SHA256SUMS") == {}


@pytest.mark.parametrize("bad", [
    "abc  short.pt",  # not 64 characters of digest
    f"{D1}0  long.pt",  # 65
    f"{'g' * 64}  not-hex.pt",  # 64 characters, not a hex digest
    f"{D1.upper()}  upper.pt",  # hexdigest and sha256sum write lowercase
    f"{D1} one-space.pt",  # no two-space separator
    f"{D1}  ",  # no name
    D1,  # nothing but the digest
])
def test_read_checksums_names_the_file_and_line_of_a_malformed_line(tmp_path, bad):
    path = tmp_path / "SHA256SUMS"
    path.write_text(f"{D1}  ok.pt\n\n{bad}\n{D2}  after.pt\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        fio.read_checksums(path)
    assert str(err.value) == f"{path}:3: not a '<sha256>  <name>' line: {bad!r}"


_READ_IN_ASCII_LOCALE = r"""
import locale, sys
from ftcl.io import read_checksums
encoding = locale.getpreferredencoding(False)
assert encoding.lower().replace("-", "") != "utf8", encoding
print(ascii(read_checksums(sys.argv[1])))
"""


def test_read_checksums_reads_utf8_whatever_the_locale(tmp_path):
    path = tmp_path / "SHA256SUMS"
    path.write_bytes(f"{D1}  caf\u00e9 \u2713.pt\n".encode())
    assert fio.read_checksums(path) == {"caf\u00e9 \u2713.pt": D1}  # this locale
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "LC_ALL": "C", "LANG": "C",
           "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    proc = subprocess.run([sys.executable, "-c", _READ_IN_ASCII_LOCALE, str(path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "{'caf\\xe9 \\u2713.pt': '" + D1 + "'}\n"


# ------------------------------------------------------------------------------ update_checksums

def test_update_checksums_adds_replaces_and_removes_sorted_lines(tmp_path):
    folder = tmp_path / "results" / "runs"  # neither exists yet
    path = folder / "SHA256SUMS"
    old_mask = os.umask(0o022)
    try:
        assert fio.update_checksums(path, {"b.pt": D1, "a b.json": D2, "B.pt": D3}) == path
        assert path.read_bytes() == f"{D3}  B.pt\n{D2}  a b.json\n{D1}  b.pt\n".encode()
        # replace b.pt, remove B.pt, remove what is not there, add c.pt
        assert fio.update_checksums(str(path), {"b.pt": D4, "B.pt": None, "gone.pt": None,
                                                "c.pt": D1}) == path
        assert path.read_bytes() == f"{D2}  a b.json\n{D4}  b.pt\n{D1}  c.pt\n".encode()
        # the lock file stays beside it, created as a plain file; no temporary file is left
        assert sorted(p.name for p in folder.iterdir()) == [".SHA256SUMS.lock", "SHA256SUMS"]
        assert (folder / ".SHA256SUMS.lock").stat().st_mode & 0o777 == 0o644
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old_mask)


def test_update_checksums_waits_for_another_writer(tmp_path):
    import fcntl

    path = tmp_path / "SHA256SUMS"
    lock = tmp_path / ".SHA256SUMS.lock"
    lock.write_text("")
    holder = os.open(lock, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another writer, mid-update
    try:
        writer = threading.Thread(target=fio.update_checksums, args=(path, {"a.pt": D1}))
        writer.start()
        time.sleep(0.3)
        assert writer.is_alive() and not path.exists()  # waiting for the lock
    finally:
        os.close(holder)
    writer.join(timeout=30)
    assert not writer.is_alive()
    assert path.read_text(encoding="utf-8") == f"{D1}  a.pt\n"


def test_update_checksums_names_a_lock_file_it_cannot_open(tmp_path):
    path = tmp_path / "SHA256SUMS"
    lock = tmp_path / ".SHA256SUMS.lock"
    lock.mkdir()  # a folder where the lock file should be
    with pytest.raises(fio.WriteError) as err:
        fio.update_checksums(path, {"a.pt": D1})
    assert str(err.value) == f"cannot write {lock}: {os.strerror(errno.EISDIR)}"
    assert err.value.errno == errno.EISDIR
    assert not path.exists()
