"""The dose study of issue 21 as configuration: its grid and the runs it needs.

The protocol (``results/quick/dose/PROTOCOL.md``, committed before any of these runs) fixes the
grid below: FTCL's alignment weights scaled on a log grid whose measured gradient shares run from
about 1 % to over 100 %, for both loss forms, FSD + LCS together and each alone; the oracle terms
(:mod:`ftcl.losses.oracle`) on their own grid; the ladder from FTCL to the oracle; the one-stage
protocol (Eq. 8 from scratch). Every arm is paired, seed by seed, with its control: ACM-Net
continued with the identical schedule (two-stage arms), or ACM-Net trained from scratch for the
same iterations (one-stage arms).

:func:`dose_runs` lists the runs (method + overrides: configuration, not code); the batch plans
them (:func:`ftcl.reproduce.plan.plan`), :func:`ftcl.report.dose.build_table` turns their records
into ``dose.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASET = "synthumos14"
# lambda_FSD = lambda_LCS = BASE_LAMBDA x scale (ACM-Net's normalised-term weight of the tables
# before this study; fixed here so that a scale keeps its meaning when the defaults change).
BASE_LAMBDA = 0.3
FORMS = {"code": {}, "paper": {"ftcl.loss_form": "paper"}}
# The grid of the protocol (scales of BASE_LAMBDA, and the oracle weights), from the gradient
# shares measured in phase A (results/quick/dose/calibration/shares.json, oracle.json; the
# shares of FSD + LCS, code form: 0.316 -> 1.4 %, 1 -> 4.5 %, 3.16 -> 12 %, 10 -> 31 %,
# 31.6 -> 86 %, 100 -> 247 %, 316 -> 757 %; PROTOCOL.md has both forms and the oracles).
BOTH_SCALES: tuple[float, ...] = (0.316, 1.0, 3.16, 10.0, 31.6, 100.0, 316.0)
SINGLE_SCALES: tuple[float, ...] = (1.0, 10.0, 100.0)
ORACLE_LAMBDAS: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0)
ORACLES = ("oracle-phase", "oracle-class", "oracle-mask")
LADDER = ("ladder-a", "ladder-b", "ladder-c", "ladder-d")
# The rule dose (PROTOCOL.md): the code-form FSD + LCS scale whose phase-A share is closest (in
# log) to the share of the best phase-oracle dose (lambda 3: 117 %): scale 31.6 (86 %).
RULE_SCALE = 31.6
LADDER_SCALE = ONE_STAGE_RULE_SCALE = RULE_SCALE
TERM_METHODS = {"both": "ftcl", "fsd": "ftcl-wo-lcs", "lcs": "ftcl-wo-fsd"}
CONTROL = "acmnet"

COLUMNS = ("form", "term", "scale", "lambda_fsd", "lambda_lcs", "grad_share_fsd",
           "grad_share_lcs", "n_seeds", "delta_heldout", "delta_test", "ci_low", "ci_high",
           "lambda_oracle", "grad_share_both", "grad_share_oracle", "delta_test_last",
           "ci_low_last", "ci_high_last", "delta_heldout_last", "selected_iter0",
           "lcs_same_phase", "fsd_same_phase", "action_purity", "completeness", "verdict",
           "verdict_last")


@dataclass(frozen=True)
class DoseRun:
    """One configuration of the study (run once per seed): a method and its overrides."""

    form: str
    term: str
    scale: float | None
    method: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, float | None]:
        return (self.form, self.term, self.scale)


def _weights(term: str, scale: float) -> dict[str, float]:
    """Both weights, explicitly: the scaled one(s) and, for a single term, the other (unused:
    its term is off) pinned at BASE_LAMBDA, so that no arm's configuration, hence run id,
    depends on ``LAMBDA_CHOICE``."""
    lam = BASE_LAMBDA * scale
    return {"ftcl.lambda_fsd": lam if term != "lcs" else BASE_LAMBDA,
            "ftcl.lambda_lcs": lam if term != "fsd" else BASE_LAMBDA}


def dose_runs() -> list[DoseRun]:
    """Every configuration of the protocol, the two controls first."""
    runs = [DoseRun("control", "acmnet", None, CONTROL),
            DoseRun("one-stage", "acmnet", None, "acmnet-one-stage")]
    for form, over in FORMS.items():
        for term, method in TERM_METHODS.items():
            scales = BOTH_SCALES if term == "both" else SINGLE_SCALES
            runs += [DoseRun(form, term, s, method, {**over, **_weights(term, s)}) for s in scales]
    for oracle in ORACLES:
        runs += [DoseRun("oracle", oracle, lam, oracle, {"ftcl.lambda_oracle": lam})
                 for lam in ORACLE_LAMBDAS]
    runs += [DoseRun("ladder", rung, LADDER_SCALE, rung, _weights("both", LADDER_SCALE))
             for rung in LADDER]
    runs += [DoseRun("one-stage", f"ftcl-{label}", s, "ftcl-one-stage", _weights("both", s))
             for label, s in (("default", 1.0), ("rule", ONE_STAGE_RULE_SCALE))]
    return runs


__all__ = ["BASE_LAMBDA", "COLUMNS", "DATASET", "DoseRun", "dose_runs"]
