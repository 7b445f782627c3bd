"""tools/mutation.py (``make mutation``): how survivors are judged, counted and reported. The
mutation run itself is not repeated here (it takes minutes per scope); its bookkeeping is."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_tool"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("mutation_tool", None)


def survivor(name, before, after, status="survived"):
    return {"name": name, "status": status, "diff": {"before": before, "after": after}}


DIFF = """--- ftcl/stats.py
+++ ftcl/stats.py
@@ -1,3 +1,3 @@
 def f(x):
-    return x > 0
+    return x >= 0
"""


def test_changed_lines_and_function_names(tool):
    assert tool._changed_lines(DIFF) == {"before": "return x > 0", "after": "return x >= 0"}
    assert tool.function_of("ftcl.report.statistics.x_verdict__mutmut_17") == \
        "ftcl.report.statistics.x_verdict"
    assert tool._tail("ftcl.stats.x_verdict") == tool._tail("ftcl.report.statistics.x_verdict")


def test_judgements_follow_the_change_not_the_number(tool):
    judged = [{"function": "ftcl.stats.x_f", "before": "return x > 0", "after": "return x >= 0",
               "kind": "equivalent", "reason": "x is never 0"},
              {"function": "ftcl.stats.x_f", "before": "a", "after": "b", "occurrence": 2,
               "kind": "left", "reason": "the second a"}]
    mutants = [survivor("ftcl.report.stats.x_f__mutmut_9", "return x > 0", "return x >= 0"),
               survivor("ftcl.report.stats.x_f__mutmut_1", "a", "b"),
               survivor("ftcl.report.stats.x_f__mutmut_2", "a", "b"),
               survivor("ftcl.report.stats.x_g__mutmut_1", "return x > 0", "return x >= 0"),
               {"name": "ftcl.report.stats.x_f__mutmut_3", "status": "killed"}]
    tool._number_twins(mutants)
    assert "occurrence" not in mutants[1]["diff"] and mutants[2]["diff"]["occurrence"] == 2
    tool.classify(mutants, judged)
    assert [m.get("kind") for m in mutants] == ["equivalent", "unexplained", "left",
                                                "unexplained", None]
    assert mutants[0]["reason"] == "x is never 0"
    counts = tool.counts(10, 1, mutants[:4])
    assert counts == {"mutants": 14, "killed": 10, "timeout": 1, "survived": 4, "no_tests": 0,
                      "other": 0, "equivalent": 1, "left": 1, "unexplained": 2,
                      "score": round(10 / 13, 4)}
    tool.classify(mutants, [])  # a judgement removed: its reason goes too
    assert mutants[0]["kind"] == "unexplained" and "reason" not in mutants[0]


def test_judgements_file_is_checked(tool, tmp_path):
    path = tmp_path / "j.yaml"
    path.write_text("- {function: f, before: a, after: b, kind: maybe, reason: r}\n")
    with pytest.raises(ValueError, match="kind equivalent|left"):
        tool.load_equivalents(path)
    path.write_text("- {function: f, before: a, kind: left, reason: r}\n")
    with pytest.raises(ValueError, match=r"missing \['after'\]"):
        tool.load_equivalents(path)
    assert tool.load_equivalents(tmp_path / "none.yaml") == []
    assert tool.load_equivalents()  # the committed file is valid


def test_report_table_and_survivors(tool):
    scope = {"mutate": ["ftcl/io.py"], "functions": [], "skip": [], "tests": ["tests/test_io.py"],
             "note": "", "wall_time_s": 12.0, "cpu_time_s": 10.0,
             "counts": tool.counts(9, 0, [{**survivor("ftcl.io.x_f__mutmut_1", "a", "b"),
                                           "kind": "left", "reason": "why"}]),
             "survivors": [{**survivor("ftcl.io.x_f__mutmut_1", "a", "b"), "kind": "left",
                            "reason": "why"}],
             "provenance": {"git_commit": "abc", "mutmut": "3.8.1", "pytest": "9", "python": "3",
                            "cpu_count": 2, "workers": 1, "created_utc": "now"}}
    five = [survivor("ftcl.io.x_f__mutmut_1", "a", "b")] * 5
    before = {"scopes": {"io": {**scope, "counts": tool.counts(5, 0, five)}}}
    text = tool.report_markdown({"scopes": {"io": scope}}, before)
    assert "| `io` | `ftcl/io.py` | 10 | 9 | 1 | 0 | 1 | 0 | 50.0 % | 90.0 % | 12 | 10 |" in text
    assert "- `ftcl.io.x_f__mutmut_1` (survived, **left**): `a` -> `b`. why" in text
