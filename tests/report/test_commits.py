"""The single-commit rule of published tables, in all its cases
(ftcl.report.records.check_single_commit).

A table written "at one commit" needs every record to carry the same clean commit: two commits, a
dirty tree (``+dirty``) or an unknown commit (``unknown``, empty or missing) are refused unless
``allow_mixed``; no records is nothing to refuse.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ftcl.report.records import check_single_commit


def records(*commits):
    """Records carrying ``commits`` (``...`` = no git_commit key at all)."""
    return [SimpleNamespace(provenance={} if c is ... else {"git_commit": c}) for c in commits]


@pytest.mark.parametrize("commits", [(), ("abc",), ("abc", "abc", "abc")])
def test_one_clean_commit_or_none_passes(commits):
    check_single_commit(records(*commits))


@pytest.mark.parametrize("commits, message", [
    (("abc", "def"), r"^the 2 run records come from 2 commit state\(s\) \(abc, def\): tables "
                     r"are written from one clean commit only"),
    (("abc", "abc", "def"), r"^the 3 run records come from 2 commit state\(s\) \(abc, def\): "),
    (("abc+dirty",), r"^the 1 run records come from 1 commit state\(s\) \(abc\+dirty\); dirty "
                     r"or unknown: abc\+dirty: tables"),
    (("abc+dirty", "abc+dirty"), r"1 commit state\(s\) \(abc\+dirty\); dirty or unknown"),
    (("unknown",), r"1 commit state\(s\) \(unknown\); dirty or unknown: unknown: "),
    ((None,), r"1 commit state\(s\) \(unknown\); dirty or unknown: unknown: "),
    (("",), r"1 commit state\(s\) \(unknown\); dirty or unknown: unknown: "),
    ((...,), r"1 commit state\(s\) \(unknown\); dirty or unknown: unknown: "),
    (("abc", "abc+dirty"), r"2 commit state\(s\) \(abc, abc\+dirty\); dirty or unknown: "
                           r"abc\+dirty: "),
    (("abc", ...), r"2 commit state\(s\) \(abc, unknown\); dirty or unknown: unknown: "),
    (("abc+dirty", None, "def"), r"3 commit state\(s\) \(abc\+dirty, def, unknown\); dirty or "
                                 r"unknown: abc\+dirty, unknown: tables"),
])
def test_several_dirty_or_unknown_commits_are_refused(commits, message):
    with pytest.raises(ValueError, match=message) as err:
        check_single_commit(records(*commits))
    assert "Re-run the batch at one clean commit" in str(err.value)
    assert "allow_mixed=True (ftcl reproduce --allow-mixed)" in str(err.value)
    check_single_commit(records(*commits), allow_mixed=True)  # the caller's explicit choice


def test_a_commit_merely_containing_dirty_is_clean():
    check_single_commit(records("dirtyabc", "dirtyabc"))
