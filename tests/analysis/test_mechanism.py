"""ftcl.analysis.mechanism on hand-made label grids, ftcl.analysis.protocol on hand-made
records."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ftcl.analysis import mechanism, mechanism_summary, protocol


def labels(rows):
    """``[(class, phase, instance), ...]`` -> ``[T, 4]`` (region 1 inside actions, else 0)."""
    return np.array([(c, p, i, 1 if p >= 0 else 0) for c, p, i in rows], dtype=np.int16)


BG = (-1, -1, -1)
A = labels([BG, (0, 0, 0), (0, 1, 0), BG])
B = labels([(0, 0, 5), (0, 1, 5), BG, (1, 0, 6)])


def test_same_phase_needs_class_and_phase_and_no_background():
    same = mechanism.same_phase(A, B)
    expected = np.zeros((4, 4), dtype=bool)
    expected[1, 0] = True  # class 0 phase 0
    expected[2, 1] = True  # class 0 phase 1
    assert (same == expected).all()
    # background-background (A[0], B[2]) does not agree; class 1 phase 0 != class 0 phase 0
    assert not same[0, 2] and not same[1, 3]


def test_phase_agreement_and_chance():
    w = np.zeros((4, 4))
    w[1, 0] = w[0, 2] = 1.0  # one true match, one background-background
    share, chance = mechanism.weighted_phase_agreement(w, A, B)
    assert share == pytest.approx(0.5) and chance == pytest.approx(2 / 16)
    soft = np.full((4, 4), 1 / 16)  # uniform weights: the share equals the chance rate
    assert mechanism.weighted_phase_agreement(soft, A, B)[0] == pytest.approx(2 / 16)
    assert math.isnan(mechanism.weighted_phase_agreement(np.zeros((4, 4)), A, B)[0])
    with pytest.raises(ValueError, match="do not match"):
        mechanism.weighted_phase_agreement(np.zeros((3, 4)), A, B)


def test_proposal_purity():
    lab = labels([BG, (0, 0, 0), (0, 1, 0), BG, (0, 0, 1), BG])
    att = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.5])
    out = mechanism.proposal_action_shares(att, lab, fsd_len=2, background="release")
    # top 2: snippets 0 (bg), 1 (action) -> 1/2; next 2: snippets 2, 4 (both action) -> 1
    assert out == {"action_purity": 0.5, "background_proposal_action_share": 1.0,
                   "action_share": 0.5}
    # the paper's background: the 2 of lowest attention, snippets 3 (bg) and 5 (bg) -> 0
    paper = mechanism.proposal_action_shares(att, lab, fsd_len=2)
    assert paper["background_proposal_action_share"] == 0.0


def test_completeness_per_instance():
    lab = labels([BG, (0, 0, 0), (0, 1, 0), (0, 2, 0), BG, (1, 0, 1), (1, 1, 1)])
    cas = np.zeros((7, 2))
    cas[1, 0] = 0.5  # instance 0: phase 0 covered
    cas[3, 0] = 0.2  # phase 2 covered at the threshold
    cas[2, 1] = 0.9  # another class's score does not cover phase 1
    cas[5, 1] = cas[6, 1] = 0.3  # instance 1: both phases
    assert mechanism.completeness(cas, lab, threshold=0.2) == pytest.approx([2 / 3, 1.0])
    assert mechanism.completeness(cas, lab, threshold=0.6) == [0.0, 0.0]
    # a hard negative carrying instance 0's index (region 4, no phase) is not part of it
    hard = np.vstack([[[1, -1, 0, 4]], lab])  # first, so it would set the instance's class
    cas_hard = np.vstack([[[0.0, 0.0]], cas])
    assert mechanism.completeness(cas_hard, hard, threshold=0.2) == pytest.approx([2 / 3, 1.0])
    only_hard = labels([BG, BG])
    only_hard[1] = (1, -1, 3, 4)  # an instance of which only a hard negative was sampled
    assert mechanism.completeness(np.zeros((2, 2)), only_hard, threshold=0.2) == []


def _mech(method, seed, model_values):
    return {"format": mechanism.FORMAT, "version": 1, "method": method, "dataset": "synthumos14",
            "profile": "quick", "seed": seed, "measures": model_values}


def test_summary_pairs_by_seed(tmp_path):
    recs = []
    for seed in range(4):
        recs.append(_mech("acmnet", seed, {
            "stage1": {"lcs_same_phase": 0.5, "lcs_chance": 0.3, "completeness": 0.6},
            "final": {"lcs_same_phase": 0.5 + 0.01 * seed, "lcs_chance": 0.3,
                      "completeness": 0.7}}))
        recs.append(_mech("ftcl", seed, {
            "stage1": {"lcs_same_phase": 0.5, "lcs_chance": 0.3, "completeness": 0.6},
            "final": {"lcs_same_phase": 0.6 + 0.01 * seed, "lcs_chance": 0.3,
                      "completeness": 0.8}}))
    folder = tmp_path / "quick" / "mechanism"
    folder.mkdir(parents=True)
    for i, r in enumerate(recs):
        (folder / f"r{i}.json").write_text(json.dumps(r))
    loaded = mechanism.load_mechanism_records(tmp_path, "quick")
    assert len(loaded) == 8
    table = mechanism_summary.summary(loaded).set_index(["comparison", "measure"])
    d = table.loc[("ftcl - acmnet (final)", "lcs_same_phase")]
    assert d["mean"] == pytest.approx(0.1) and d["excludes 0"] and d["n"] == 4
    c = table.loc[("ftcl: final - stage 1", "completeness")]
    assert c["mean"] == pytest.approx(0.2)
    ch = table.loc[("ftcl (final): same phase - chance", "lcs")]
    assert ch["mean"] == pytest.approx(0.3 + 0.015)
    text = mechanism_summary.findings_paragraph(mechanism_summary.summary(loaded))
    assert "is above 0" in text and "SynTHUMOS14" in text
    assert mechanism_summary.figure(loaded).axes
    empty = mechanism_summary.summary([])
    assert "No mechanism records" in mechanism_summary.findings_paragraph(empty)
    (folder / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json.*not a mechanism record"):
        mechanism.load_mechanism_records(tmp_path, "quick")
    (folder / "bad.json").unlink()
    (folder / "stale.json").write_text(json.dumps(recs[0]))  # the same run twice (an old batch)
    with pytest.raises(ValueError, match=r"r0.json and stale.json .* both"):
        mechanism.load_mechanism_records(tmp_path, "quick")


def test_destination_next_to_the_run_record(tmp_path):
    path = tmp_path / "results" / "quick" / "runs" / "x-seed0-abc.json"
    assert mechanism.destination(path) == tmp_path / "results" / "quick" / "mechanism" / \
        "x-seed0-abc.json"


def _record(method, seed, reported, test_history):
    return {"status": "finished", "method": method, "dataset": "synthumos14", "seed": seed,
            "average_map": reported, "device": "cpu", "provenance": {"git_commit": "abc"},
            "history": [{"iteration": 25 * (i + 1), "test": {"average_map": v}}
                        for i, v in enumerate(test_history)]}


def test_protocol_gains_by_hand():
    recs = [_record("acmnet", 0, 0.30, [0.29, 0.33, 0.30]),
            _record("acmnet", 1, 0.40, [0.41, 0.40]),
            _record("acmnet", 2, 0.35, [0.35]),
            _record("ftcl", 0, 0.31, [])]  # no test history: left out of (a)
    gains = protocol.test_selection_gain(recs)
    assert [g["method"] for g in gains] == ["acmnet"]
    assert gains[0]["differences"] == pytest.approx([3.0, 1.0, 0.0])
    assert gains[0]["mean"] == pytest.approx(4 / 3)
    assert protocol.test_selected(recs[3]) is None
    best = {(b["method"], b["k"]): b["gain"] for b in protocol.best_of_k_gain(recs)}
    # acmnet 30, 40, 35: mean 35; best of 2 over {30,40},{30,35},{40,35} = 115/3; best of 3 = 40
    assert best[("acmnet", 1)] == pytest.approx(0.0)
    assert best[("acmnet", 2)] == pytest.approx(115 / 3 - 35)
    assert best[("acmnet", 3)] == pytest.approx(5.0)
    text = protocol.markdown({"runs": 4, "devices": ["cpu"], "paper_gain": 1.0,
                              "test_selection_gain": gains,
                              "best_of_k_gain": protocol.best_of_k_gain(recs)})
    assert "+1.33" in text and "k=3" in text and "+1.0 points" in text


@pytest.mark.slow
def test_align_chapter_reads_mechanism_records(tmp_path):
    papermill = pytest.importorskip("papermill")
    jupytext = pytest.importorskip("jupytext")
    from pathlib import Path

    folder = tmp_path / "results" / "quick" / "mechanism"
    folder.mkdir(parents=True)
    for seed in range(3):
        for method, v in (("acmnet", 0.5), ("ftcl", 0.6)):
            values = {"lcs_same_phase": v + 0.01 * seed, "lcs_chance": 0.3,
                      "fsd_same_phase": 0.4, "fsd_chance": 0.35, "action_purity": 0.8,
                      "action_share": 0.3, "completeness": 0.7}
            (folder / f"{method}-{seed}.json").write_text(json.dumps(
                _mech(method, seed, {"stage1": values, "final": values})))
    source = Path(__file__).resolve().parents[2] / "notebooks" / "10_align.py"
    out = tmp_path / "10_out.ipynb"
    papermill.execute_notebook(jupytext.read(source), str(out), kernel_name="python3",
                               parameters={"results_dir": str(tmp_path / "results")},
                               progress_bar=False, cwd=str(tmp_path))
    text = out.read_text(encoding="utf-8")
    assert "From 6 mechanism records in" in text and "image/png" in text
    assert "FTCL minus ACM-Net on that share: +0.100" in text
    # the answer opens the page: FTCL's LCS matches beat ACM-Net's by 0.1 on every seed
    first = next(c for c in json.loads(text)["cells"] if c["cell_type"] == "code"
                 and c.get("outputs"))
    answer = "".join(first["outputs"][0]["data"]["text/markdown"])
    assert answer.startswith("**Short answer: yes, beyond its backbone")
