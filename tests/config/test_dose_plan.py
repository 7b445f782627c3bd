"""The dose study's plan (ftcl.config.dose.dose_runs), entry by entry, as PROTOCOL.md fixes it
and as the batch ran it (results/quick/dose/runs: 49 configurations a seed)."""

from __future__ import annotations

import pytest

from ftcl.config import make_config
from ftcl.config.dose import dose_runs

BOTH = (0.316, 1.0, 3.16, 10.0, 31.6, 100.0, 316.0)
SINGLE = (1.0, 10.0, 100.0)
ORACLE_LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0)


def _weights(fsd: float, lcs: float) -> dict[str, float]:
    return {"ftcl.lambda_fsd": fsd, "ftcl.lambda_lcs": lcs}


def expected_plan() -> list[tuple]:
    """(form, term, scale, method, overrides) of every run, in order, written out by hand."""
    plan: list[tuple] = [("control", "acmnet", None, "acmnet", {}),
                         ("one-stage", "acmnet", None, "acmnet-one-stage", {})]
    for form, over in (("code", {}), ("paper", {"ftcl.loss_form": "paper"})):
        plan += [(form, "both", s, "ftcl", {**over, **_weights(0.3 * s, 0.3 * s)}) for s in BOTH]
        plan += [(form, "fsd", s, "ftcl-wo-lcs", {**over, **_weights(0.3 * s, 0.3)})
                 for s in SINGLE]
        plan += [(form, "lcs", s, "ftcl-wo-fsd", {**over, **_weights(0.3, 0.3 * s)})
                 for s in SINGLE]
    for oracle in ("oracle-phase", "oracle-class", "oracle-mask"):
        plan += [("oracle", oracle, lam, oracle, {"ftcl.lambda_oracle": lam})
                 for lam in ORACLE_LAMBDAS]
    plan += [("ladder", rung, 31.6, rung, _weights(0.3 * 31.6, 0.3 * 31.6))
             for rung in ("ladder-a", "ladder-b", "ladder-c", "ladder-d")]
    plan += [("one-stage", "ftcl-default", 1.0, "ftcl-one-stage", _weights(0.3, 0.3)),
             ("one-stage", "ftcl-rule", 31.6, "ftcl-one-stage", _weights(0.3 * 31.6, 0.3 * 31.6))]
    return plan


def test_the_plan_is_the_protocols_entry_by_entry():
    plan = [(r.form, r.term, r.scale, r.method, r.overrides) for r in dose_runs()]
    assert len(plan) == 2 + 2 * (7 + 3 + 3) + 3 * 5 + 4 + 2 == 49
    assert plan == expected_plan()
    assert len({r.key for r in dose_runs()}) == 49  # each arm is one row of dose.csv


def test_the_controls_come_first():
    control, one_stage = dose_runs()[:2]
    assert (control.form, control.term, control.scale, control.method) == (
        "control", "acmnet", None, "acmnet")
    assert (one_stage.form, one_stage.term, one_stage.scale, one_stage.method) == (
        "one-stage", "acmnet", None, "acmnet-one-stage")
    assert control.overrides == one_stage.overrides == {}


@pytest.mark.parametrize("run", dose_runs(), ids=lambda r: f"{r.form}-{r.term}-{r.scale}")
def test_every_arm_is_a_valid_configuration(run):
    cfg = make_config(run.method, overrides=run.overrides)
    assert cfg.method == run.method
    if run.form == "oracle":
        assert cfg.ftcl.lambda_oracle == run.scale
