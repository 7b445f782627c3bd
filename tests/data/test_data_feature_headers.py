"""Feature-file headers and kinds (ftcl.data.features): each refusal's exact text, on tiny files
written byte by byte in the ``.npy`` format (a header from numpy's format module, then raw bytes).
"""

from __future__ import annotations

import io
import socket
import stat
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ftcl.data.features import _file_kind, _reason, feature_shape

D = 4


def _header(shape, version=(1, 0)) -> bytes:
    buf = io.BytesIO()
    write = {(1, 0): np.lib.format.write_array_header_1_0,
             (2, 0): np.lib.format.write_array_header_2_0}[version]
    write(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _refusal(path, video_id="v") -> str:
    with pytest.raises(ValueError) as err:
        feature_shape(path, video_id, D)
    return str(err.value)


def test_a_version_2_file_gives_its_rows(tmp_path):
    head = _header((3, D), version=(2, 0))
    assert head[:8] == b"\x93NUMPY\x02\x00"  # version 2.0: a 4-byte header length
    path = tmp_path / "v2.npy"
    path.write_bytes(head + np.ones((3, D), "<f4").tobytes())
    assert feature_shape(path, "v2", D) == 3


def test_an_npz_archive_is_named_with_the_fix(tmp_path):
    path = tmp_path / "z.npy"
    with open(path, "wb") as fh:
        np.savez(fh, x=np.ones((3, D), np.float32))
    assert _refusal(path, "z") == (
        f"video 'z': {path} is a .npz archive (a zip of arrays, np.savez), not a .npy array: "
        "save the [T_video, D] array alone with np.save")


def test_bytes_after_the_array_are_counted_with_the_fix(tmp_path):
    path = tmp_path / "j.npy"
    path.write_bytes(_header((3, D)) + np.ones((3, D), "<f4").tobytes() + b"xyz")
    assert _refusal(path, "j") == (
        f"video 'j': {path} has 3 bytes after its (3, 4) array (junk appended, or a different "
        "file written over it): rewrite it with np.save")


def test_a_truncated_file_gives_both_sizes(tmp_path):
    path = tmp_path / "t.npy"
    head = _header((50, D))
    path.write_bytes(head + bytes(50 * D * 4 - 40))
    assert _refusal(path, "t") == (
        f"video 't': cannot read {path} as .npy (truncated: the header says "
        f"{len(head) + 800} bytes, the file has {len(head) + 760})")


@pytest.mark.parametrize("shape", [(2**62, D), (2**64, D), (2**63,)])
def test_a_header_too_big_for_int64_is_truncated_not_accepted(tmp_path, shape):
    # 2**62 rows of 4 float32 are 2**66 bytes: an int64 product wraps to 0, and a header-only
    # file would pass as 2**62 snippets; 2**64 does not fit an int64 at all; 2**63 wraps negative
    path = tmp_path / "h.npy"
    head = _header(shape)
    path.write_bytes(head)
    n_bytes = 4
    for n in shape:
        n_bytes *= n
    assert _refusal(path, "h") == (
        f"video 'h': cannot read {path} as .npy (truncated: the header says "
        f"{len(head) + n_bytes} bytes, the file has {len(head)})")


@pytest.mark.parametrize("shape", [(-1, D), (3, -4), (-2, -4)])
def test_a_header_with_a_negative_size_is_named(tmp_path, shape):
    # numpy's header reader accepts (-1, 4); the byte count would then be "junk after the array"
    path = tmp_path / "n.npy"
    path.write_bytes(_header(shape) + bytes(48))
    assert _refusal(path, "n") == (
        f"video 'n': cannot read {path} as .npy (its header gives a negative size: shape {shape})")


def test_an_object_array_is_refused_as_pickled(tmp_path):
    path = tmp_path / "o.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert _refusal(path, "o") == (
        f"video 'o': cannot read {path} as .npy (it holds pickled (object) data, not a float "
        "array; pickles are never loaded)")


def test_a_file_that_is_not_npy_gives_numpys_reason_with_its_type(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(b"hello world, not numpy at all")
    text = _refusal(path, "x")
    assert text.startswith(f"video 'x': cannot read {path} as .npy (ValueError: the magic "
                           "string is not correct")
    assert text.endswith(")") and "NoneType" not in text


@pytest.mark.parametrize("err, reason", [
    (EOFError(), "EOFError: the file ends early"),
    (OSError("bad sector"), "OSError: bad sector"),
    (ValueError("Object arrays cannot be loaded when allow_pickle=False"),
     "ValueError: Object arrays cannot be loaded when allow_pickle=False"),
    (ValueError("This file contains pickled (object) data. Pass allow_pickle=True"),
     "it holds pickled (object) data, not a float array; pickles are never loaded"),
])
def test_reason_keeps_numpys_text_but_never_its_pickle_advice(err, reason):
    assert _reason(err) == reason


class _Stat:
    """A path whose ``stat()`` reports ``mode`` (a block device needs root to make, and one
    type, BSD's whiteout ``0o160000``, is no file type on Linux: "not a file")."""

    def __init__(self, mode):
        self.mode = mode

    def stat(self):
        return SimpleNamespace(st_mode=self.mode)

    def is_symlink(self):
        return False


@pytest.mark.parametrize("mode, kind", [
    (stat.S_IFREG | 0o644, None),
    (stat.S_IFDIR | 0o755, "a folder"),
    (stat.S_IFIFO | 0o644, "a FIFO (named pipe)"),
    (stat.S_IFCHR | 0o666, "a character device"),
    (stat.S_IFBLK | 0o660, "a block device"),
    (stat.S_IFSOCK | 0o755, "a socket"),
    (0o160000 | 0o644, "not a file"),
])
def test_file_kind_of_each_mode(mode, kind):
    assert _file_kind(_Stat(mode)) == kind


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets here")
def test_a_socket_is_never_opened(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited to ~100 bytes
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("s.npy")
        path = tmp_path / "s.npy"
        assert _refusal(path, "s") == f"video 's': {path} is a socket, not a regular .npy file"


def _block_device() -> Path | None:
    dev = Path("/dev")
    for entry in sorted(dev.iterdir()) if dev.is_dir() else []:
        try:
            if not entry.is_symlink() and stat.S_ISBLK(entry.stat().st_mode):
                return entry
        except OSError:
            continue
    return None


def test_a_link_to_a_block_device_is_never_opened(tmp_path):
    device = _block_device()
    if device is None:
        pytest.skip("no block device in /dev")
    path = tmp_path / "b.npy"
    path.symlink_to(device)
    assert _refusal(path, "b") == (
        f"video 'b': {path} is a link to {device}, a block device, not a regular .npy file")
