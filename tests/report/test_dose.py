"""The dose study: its grid (ftcl.config.dose), table, figure and answer (ftcl.report.dose),
on hand-made records."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ftcl.config import dose, make_config, to_dict
from ftcl.report import dose as dose_report


def make_record(method, seed, selected, last, held=(30.0, 31.0), overrides=None, shares=None,
                iteration=100):
    cfg = make_config(method, seed=seed, data_seed=seed, overrides=overrides or {})
    return {
        "method": method, "seed": seed, "run_id": f"{method}-{seed}-{hash(str(overrides))}",
        "config": to_dict(cfg),
        "test": {"selected": {"average_map": selected / 100}, "last": {"average_map": last / 100}},
        "history": [{"iteration": 0, "holdout": {"average_map": held[0] / 100}},
                    {"iteration": 100, "holdout": {"average_map": held[1] / 100}}],
        "selection": {"selected_iteration": iteration},
        "grad_shares": {"mean": shares} if shares else None,
    }


def test_grid_meets_the_issue():
    runs = dose.dose_runs()
    for form in dose.FORMS:
        both = [r for r in runs if r.form == form and r.term == "both"]
        assert len(both) >= 6
        for term in ("fsd", "lcs"):
            assert len([r for r in runs if r.form == form and r.term == term]) >= 3
    assert {r.term for r in runs if r.form == "oracle"} >= {"oracle-phase", "oracle-class"}
    assert len({r.key for r in runs}) == len(runs)


def test_classify_reads_form_term_and_scale_from_the_configuration():
    rec = make_record("ftcl-wo-fsd", 0, 30, 30, overrides={  # the switched-off FSD pinned
        "ftcl.loss_form": "paper", "ftcl.lambda_lcs": 0.3 * 10.0, "ftcl.lambda_fsd": 0.3})
    assert dose_report.classify(rec) == ("paper", "lcs", 10.0)
    rec["config"]["ftcl"]["lambda_fsd"] = 0.5  # another configuration than the grid's
    assert dose_report.classify(rec) is None
    assert dose_report.classify(make_record("acmnet", 0, 30, 30)) == ("control", "acmnet", None)
    # FTCL at its default weight is the grid's scale 0.316: the rule's choice (LAMBDA_CHOICE)
    assert dose_report.classify(make_record("ftcl", 0, 30, 30)) == ("code", "both", 0.316)
    at_one = make_record("ftcl", 0, 30, 30, overrides={"ftcl.lambda_fsd": 0.3,
                                                        "ftcl.lambda_lcs": 0.3})
    assert dose_report.classify(at_one) == ("code", "both", 1.0)
    off_grid = make_record("ftcl", 0, 30, 30, overrides={"ftcl.lambda_fsd": 0.5,
                                                          "ftcl.lambda_lcs": 0.5})
    assert dose_report.classify(off_grid) is None
    assert dose_report.classify(make_record("stpn", 0, 30, 30)) is None


def test_table_pairs_each_arm_with_its_control_by_seed():
    over = {"ftcl.lambda_fsd": 3.0, "ftcl.lambda_lcs": 3.0}  # scale 10
    records = []
    arm = {0: (31.0, 29.0), 1: (33.0, 30.5), 2: (29.5, 28.0)}
    ctrl = {0: (30.0, 30.0), 1: (31.0, 31.0), 2: (29.0, 29.0), 3: (40.0, 40.0)}
    for s, (sel, last) in arm.items():
        records.append(make_record("ftcl", s, sel, last, overrides=over,
                                   shares={"share/fsd": 0.2, "share/lcs": 0.1 * (s + 1),
                                           "share/both": 0.25}, iteration=0 if s == 2 else 100))
    for s, (sel, last) in ctrl.items():
        records.append(make_record("acmnet", s, sel, last))
    table = dose_report.build_table(records)
    assert list(table.columns) == list(dose.COLUMNS) and len(table) == 1
    row = table.iloc[0]
    d = np.array([1.0, 2.0, 0.5])  # arm - control on seeds 0-2 (seed 3 has no arm)
    half = 4.302652729911275 * d.std(ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert (row["form"], row["term"], row["scale"], row["n_seeds"]) == ("code", "both", 10.0, 3)
    assert row["delta_test"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row["delta_test_last"] == pytest.approx(np.mean([-1.0, -0.5, -1.0]))
    assert row["grad_share_lcs"] == pytest.approx(0.2) and row["grad_share_both"] == 0.25
    assert row["lambda_fsd"] == 3.0 and row["selected_iter0"] == 1
    assert row["verdict"] == "unresolved"
    assert row["verdict_last"] == "hurts"  # -1, -0.5, -1: interval below 0


def _table():
    import pandas as pd

    rows = []
    for i, s in enumerate((0.01, 0.1, 1.0, 3.0)):
        for form in ("code", "paper"):
            rows.append({"form": form, "term": "both", "scale": s, "grad_share_both": s,
                         "grad_share_fsd": s, "grad_share_lcs": s / 2, "delta_test": -0.1 * i,
                         "ci_low": -0.1 * i - 0.2, "ci_high": 0.3 - 0.1 * i if i < 3 else -0.05,
                         "delta_test_last": -0.2 * i, "ci_low_last": -0.2 * i - 0.1,
                         "ci_high_last": 0.3 - 0.2 * i if i < 2 else -0.05,
                         "verdict": "unresolved" if i < 3 else "hurts",
                         "verdict_last": "unresolved" if i < 2 else "hurts",
                         "grad_share_oracle": math.nan})
    rows.append({"form": "oracle", "term": "oracle-phase", "scale": 0.3, "grad_share_oracle": 0.5,
                 "delta_test": 2.5, "ci_low": 1.0, "ci_high": 4.0, "verdict": "helps",
                 "grad_share_both": math.nan})
    rows.append({"form": "ladder", "term": "ladder-a", "scale": 100, "grad_share_both": 1.0,
                 "delta_test": 0.1, "ci_low": -0.3, "ci_high": 0.5, "verdict": "unresolved"})
    return pd.DataFrame(rows)


def test_paragraph_answers_from_the_numbers():
    text = dose_report.findings_paragraph(_table())
    assert "changes the model from a gradient share of 100 % on" in text
    assert "-0.30 [-0.50, -0.05] at 300 %" in text  # the code form's dose 3.0 (primary)
    assert "oracle-phase +2.50 [+1.00, +4.00] at 50 % (helps)" in text
    assert "no rung resolves" in text
    assert dose_report.findings_paragraph(_table().iloc[0:0]).startswith("No dose records")


def test_figure_draws_every_line():
    import matplotlib

    matplotlib.use("Agg")
    fig = dose_report.figure(_table())
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "oracle-phase" in labels and any("paper Eq. 4/7" in x for x in labels)


def test_write_table_reads_the_study_folder(results_dir):
    import json

    from ftcl.paths import dose_record_file, dose_table_file
    from ftcl.train import store_record

    over = {"ftcl.lambda_fsd": 3.0, "ftcl.lambda_lcs": 3.0}
    records = [make_record("ftcl", s, 31.0 + s, 30.0, overrides=over) for s in (0, 1)]
    records += [make_record("acmnet", s, 30.0, 30.0) for s in (0, 1)]
    for r in records:  # as the batch stores them: beside, not superseding; hashed
        r["provenance"], r["device"] = {"git_commit": "abc"}, "cpu"
        store_record(r, dose_record_file(results_dir, "quick", r["run_id"]), supersede=False,
                     hashed=True)
    hashes = (results_dir / "quick" / "dose" / "records.sha256").read_text().splitlines()
    assert sorted(line.split()[1] for line in hashes) == sorted(
        f"runs/{r['run_id']}.json" for r in records)
    (results_dir / "quick" / "dose" / "mechanism").mkdir()
    path = dose_report.write_table(results_dir, "quick")
    assert path == dose_table_file(results_dir, "quick")
    table = pd.read_csv(path)
    assert list(table.columns) == list(dose.COLUMNS) and len(table) == 1
    assert table.loc[0, "delta_test"] == pytest.approx(1.5) and table.loc[0, "n_seeds"] == 2
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["commits"] == ["abc"] and meta["records"] == 4 and meta["devices"] == ["cpu"]
    edited = dose_record_file(results_dir, "quick", records[0]["run_id"])  # changed afterwards
    edited.write_text(edited.read_text() + "\n")
    with pytest.raises(ValueError, match="was changed after it was written"):
        dose_report.write_table(results_dir, "quick")


def test_short_answer_counts_the_verdicts():
    text = dose_report.short_answer(_table())
    assert "its 8 doses (both loss forms)" in text and "2 hurts, 6 unresolved" in text
    assert "gains +2.50 [+1.00, +4.00] points (oracle-phase, 50 % of the gradient)" in text
    assert dose_report.short_answer(_table().iloc[0:0]) == ""
