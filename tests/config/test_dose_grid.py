"""The dose study's grid (ftcl.config.dose) is configuration that the defaults cannot move."""

from ftcl.config import dose
from ftcl.config.dose import BASE_LAMBDA, dose_runs


def test_every_ftcl_arm_names_both_weights_so_its_run_id_ignores_lambda_choice():
    ftcl_arms = [r for r in dose_runs() if r.term in ("both", "fsd", "lcs")
                 or r.form in ("ladder",) or r.term.startswith("ftcl-")]
    assert len(ftcl_arms) == 2 * (7 + 3 + 3) + 4 + 2
    for run in ftcl_arms:
        assert {"ftcl.lambda_fsd", "ftcl.lambda_lcs"} <= set(run.overrides), run
        lam = BASE_LAMBDA * run.scale
        fsd, lcs = run.overrides["ftcl.lambda_fsd"], run.overrides["ftcl.lambda_lcs"]
        if run.term == "fsd":  # the LCS term is off: its weight pinned, unused
            assert (fsd, lcs) == (lam, BASE_LAMBDA)
        elif run.term == "lcs":
            assert (fsd, lcs) == (BASE_LAMBDA, lam)
        else:
            assert fsd == lcs == lam


def test_the_grid_is_the_protocols():
    assert dose.BOTH_SCALES == (0.316, 1.0, 3.16, 10.0, 31.6, 100.0, 316.0)
    assert dose.SINGLE_SCALES == (1.0, 10.0, 100.0)
    assert dose.RULE_SCALE == 31.6 and BASE_LAMBDA == 0.3
