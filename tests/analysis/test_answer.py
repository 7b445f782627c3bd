"""The generated answer of "Does FTCL align?" (ftcl.analysis.answer), on hand-made summaries."""

from __future__ import annotations

import math

import pandas as pd

from ftcl.analysis import answer

COLUMNS = ["dataset", "comparison", "measure", "mean", "low", "high", "n", "excludes 0"]


def _row(dataset, comparison, measure, mean, half=0.01, n=10):
    low, high = mean - half, mean + half
    return [dataset, comparison, measure, mean, low, high, n, not (low <= 0 <= high)]


def _summary(vs_base: float, completeness: float = 0.6) -> pd.DataFrame:
    rows = []
    for kind in ("lcs", "fsd"):
        rows.append(_row("synthumos14", "ftcl (final): same phase - chance", kind, 0.14))
        rows.append(_row("synthumos14", "ftcl - acmnet (final)", f"{kind}_same_phase", vs_base))
    for model in ("acmnet (stage1)", "acmnet (final)", "ftcl (stage1)", "ftcl (final)"):
        rows.append(_row("synanet", model, "completeness", completeness, half=0.0))
        rows.append(_row("synanet", model, "action_share", 0.65, half=0.02))
    rows.append(_row("synthumos14", "ftcl - acmnet (final)", "completeness", 0.0))
    return pd.DataFrame(rows, columns=COLUMNS)


def test_no_more_than_the_backbone():
    text = answer.short_answer(_summary(vs_base=0.0), {"synthumos14": "SynTHUMOS14"})
    assert text.startswith("**Short answer: no more than its backbone.** FTCL's alignments pair "
                           "the same planted phase more often than chance")
    assert "covers no more of each instance" in text
    assert "LCS matches on SynTHUMOS14: +0.140 [+0.130, +0.150] above chance, +0.000 " \
           "[-0.010, +0.010] against ACM-Net" in text


def test_yes_when_ftcl_beats_its_backbone():
    text = answer.short_answer(_summary(vs_base=0.05))
    assert text.startswith("**Short answer: yes, beyond its backbone")


def test_mixed_when_it_goes_both_ways():
    table = _summary(vs_base=0.05)
    table.loc[(table.measure == "fsd_same_phase"), ["mean", "low", "high"]] = [-0.05, -0.06, -0.04]
    assert answer.short_answer(table).startswith("**Short answer: mixed.**")


def test_no_records():
    assert "Not measured yet" in answer.short_answer(pd.DataFrame(columns=COLUMNS))


def test_saturated_completeness_is_explained():
    note = answer.saturation_note(_summary(0.0, completeness=1.0), {"synanet": "SynANet"})
    assert note.startswith("On SynANet the completeness is 1.000 in every run of every model")
    assert "65 % action snippets" in note
    assert answer.saturation_note(_summary(0.0, completeness=0.9)) == ""


def test_key_numbers_and_folded_table_keep_everything():
    table = _summary(vs_base=0.0)
    key = answer.key_numbers(table, {"synthumos14": "SynTHUMOS14"})
    assert key.loc["LCS matches on the same planted phase",
                   "SynTHUMOS14: FTCL − ACM-Net [95 % CI]"] == "+0.000 [-0.010, +0.010]"
    html = answer.folded("all", table)
    assert html.startswith('<details class="ftcl-detail">')
    assert html.count("</tr>") == len(table) + 1  # the header and every row
    assert not any(isinstance(v, float) and math.isnan(v) for v in key.to_numpy().ravel())
