"""gt.json and split files: every malformed entry is refused naming the file, the video and the
annotation (NaN and Infinity segments included: Python's json reads both)."""

from __future__ import annotations

import inspect
import json
import os
import re
import warnings

import pytest

from ftcl.data import annotations
from ftcl.data.annotations import (
    AnnotationWarning,
    read_gt_json,
    read_split,
    warn_annotation_issues,
)

GOOD = {"label": "Diving", "segment": [1.5, 4.0]}


def _write(tmp_path, text):
    path = tmp_path / "gt.json"
    path.write_text(text, encoding="utf-8")
    return path


def _gt(*annotations, vid="video_test_0000004"):
    return json.dumps({"database": {"video_ok": {"annotations": [GOOD]},
                                    vid: {"annotations": list(annotations)}}})


@pytest.mark.parametrize("segment", [
    "[NaN, 4.0]", "[1.0, NaN]", "[Infinity, 4.0]", "[1.0, Infinity]", "[-Infinity, 4.0]",
    '["1.0", 4.0]', "[1.0]", "[1.0, 2.0, 3.0]", "null", "1.0", "[]",
])
def test_malformed_segments_are_named(tmp_path, segment):
    text = _gt(GOOD).replace('"segment": [1.5, 4.0]}]}}', f'"segment": {segment}}}]}}}}')
    assert segment in text
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: video 'video_test_0000004' "
                                         r"annotation 0 is malformed: "):
        read_gt_json(path)


def test_second_annotation_is_named_by_its_index(tmp_path):
    path = _write(tmp_path, _gt(GOOD, {"label": "Diving"}))
    with pytest.raises(ValueError, match=r"annotation 1 is malformed: \{'label': 'Diving'\}$"):
        read_gt_json(path)


@pytest.mark.parametrize("entry", [[], "x", {"annotations": "none"}, {"segments": []},
                                   {"annotations": None}])
def test_entry_without_an_annotation_list(tmp_path, entry):
    path = _write(tmp_path, json.dumps({"database": {"v1": entry}}))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: video 'v1' has no "
                                         r"'annotations' list$"):
        read_gt_json(path)


@pytest.mark.parametrize("annotation", [["Diving", [1, 2]], {"segment": [1, 2]}])
def test_annotation_that_is_not_a_labelled_mapping(tmp_path, annotation):
    path = _write(tmp_path, json.dumps({"database": {"v1": {"annotations": [annotation]}}}))
    with pytest.raises(ValueError, match="video 'v1' annotation 0 is malformed"):
        read_gt_json(path)


@pytest.mark.parametrize("text", ['{"database": []}', '[1, 2]', '{"videos": {}}'])
def test_file_without_a_database_object(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: expected a JSON object with "
                                         r"a 'database' object$"):
        read_gt_json(path)


def test_valid_file_is_returned_in_file_order(tmp_path):
    db = {"b": {"annotations": [GOOD], "duration": 9.0},
          "a": {"annotations": [{"label": "X", "segment": [0, 3]}]},
          "c": {"annotations": []}}
    path = _write(tmp_path, json.dumps({"database": db}))
    assert list(read_gt_json(path)) == ["b", "a", "c"]
    assert read_gt_json(path) == db


def test_invalid_json_and_missing_file(tmp_path):
    path = _write(tmp_path, '{"database": ')
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: not valid JSON \("):
        read_gt_json(path)
    with pytest.raises(FileNotFoundError, match="^ground-truth file not found: "):
        read_gt_json(tmp_path / "none.json")


def test_split_file(tmp_path):
    path = tmp_path / "split_test.txt"
    path.write_text("b\n\n  a  \nc\n\n", encoding="utf-8")
    assert read_split(path) == ["b", "a", "c"]
    path.write_text("b\na\nb\nc\na\nd\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"split_test.txt: duplicate video ids \['a', 'b'\]$"):
        read_split(path)
    with pytest.raises(FileNotFoundError, match="^split file not found: "):
        read_split(tmp_path / "split_train.txt")


# ------------------------------------------------------------------------------ warnings


PAST_END = ("end after their video's true end (kept, as the release does: a part past the end can "
            "never be detected)")
ZERO = "have zero length, start == end (kept, as the official evaluator keeps them)"


def test_each_case_warns_once_with_its_first_three_items(tmp_path):
    path = tmp_path / "gt.json"
    found = {"past_end": ["p1", "p2", "p3", "p4"], "zero_length": ["z1", "z2", "z3"],
             "duplicate": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_annotation_issues(path, "test", found)
    assert [w.category for w in caught] == [AnnotationWarning, AnnotationWarning]
    assert [str(w.message) for w in caught] == [
        f"{path} (test ground truth): 4 annotation(s) {PAST_END}: p1; p2; p3; ... (1 more)",
        f"{path} (test ground truth): 3 annotation(s) {ZERO}: z1; z2; z3",  # three: all shown
    ]


def test_the_warning_names_the_line_of_the_callers_caller(tmp_path, monkeypatch):
    """stacklevel 3: the line that called the caller (VideoDataset's constructor, which calls
    _make_report). The level is read from the call too: under mutmut trampoline frames sit
    between the caller and warn_annotation_issues, so the line is checked only outside it."""
    levels, real_warn = [], warnings.warn

    def warn(*args, stacklevel=1, **kwargs):
        levels.append(stacklevel)
        real_warn(*args, stacklevel=stacklevel + 1, **kwargs)  # + this wrapper's frame

    monkeypatch.setattr(annotations.warnings, "warn", warn)

    def make_report():  # stands for VideoDataset._make_report
        warn_annotation_issues(tmp_path / "gt.json", "train", {"zero_length": ["z1"]})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        make_report()
    assert levels == [3]
    (w,) = caught
    if "MUTANT_UNDER_TEST" not in os.environ:
        assert (w.filename, w.lineno) == (__file__, line)
