"""The first paragraph of "Does FTCL align?": the answer, generated from the mechanism summary.

:func:`short_answer` reads the summary of the mechanism records (one row per data set,
comparison and measure, with the 95 % paired t interval over seeds) and says, with no typed
number: whether FTCL's alignments pair the same planted sub-action phase more often than chance,
whether more often than its backbone trained without FTCL's terms (ACM-Net), and whether its CAS
covers more of each instance. :func:`saturation_note` explains a measure that cannot separate
the models because it sits at its maximum in every run.
"""

from __future__ import annotations

import math

import pandas as pd

KINDS = (("lcs", "LCS matches"), ("fsd", "FSD alignment mass"))


def _pick(table: pd.DataFrame, dataset: str, comparison: str, measure: str):
    sel = table[(table.dataset == dataset) & (table.comparison == comparison)
                & (table.measure == measure)]
    return None if sel.empty else sel.iloc[0]


def _resolved(row, sign: int) -> bool:
    return (row is not None and math.isfinite(row["low"]) and bool(row["excludes 0"])
            and sign * row["mean"] > 0)


def _ci(row) -> str:
    if row is None:
        return "not measured"
    if not math.isfinite(row["low"]):
        return f"{row['mean']:+.3f} (one seed)"
    return f"{row['mean']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]"


def short_answer(table: pd.DataFrame, names: dict[str, str] | None = None,
                 base: str = "acmnet", method: str = "ftcl") -> str:
    """The answer to "Does FTCL align?" (Markdown), from ``table`` (the mechanism summary)."""
    names = names or {}
    if table.empty:
        return ("**Not measured yet.** There are no mechanism records: the batch writes them "
                "(`python -m ftcl reproduce`), one per ACM-Net and FTCL run on synthetic data.")
    datasets = sorted(table.dataset.unique())
    above, better, worse, details = [], [], [], []
    for d in datasets:
        for kind, what in KINDS:
            vs_chance = _pick(table, d, f"{method} (final): same phase - chance", kind)
            vs_base = _pick(table, d, f"{method} - {base} (final)", f"{kind}_same_phase")
            above.append(_resolved(vs_chance, +1))
            better.append(_resolved(vs_base, +1))
            worse.append(_resolved(vs_base, -1))
            details.append(f"{what} on {names.get(d, d)}: {_ci(vs_chance)} above chance, "
                           f"{_ci(vs_base)} against ACM-Net")
    if any(better) and not any(worse):
        verdict = "**Short answer: yes, beyond its backbone, on part of the measures.**"
    elif any(better):
        verdict = "**Short answer: mixed.**"
    else:
        verdict = ("**Short answer: no more than its backbone.** FTCL's alignments pair the same "
                   "planted phase " + ("more often than chance" if any(above) else
                                       "no more often than chance")
                   + ", but no more often than those of ACM-Net, the same backbone trained "
                   "without FTCL's terms: what the measures see is the backbone's alignment.")
    if any(better) and not verdict.endswith("backbone's alignment."):
        verdict += (" FTCL's alignments pair the same planted phase more often than ACM-Net's "
                    "on some measures (below).")
    cover = [_pick(table, d, f"{method} - {base} (final)", "completeness") for d in datasets]
    covers = ("its CAS covers more of each instance" if any(_resolved(r, +1) for r in cover)
              else "its CAS covers no more of each instance than ACM-Net's")
    return (f"{verdict} And {covers}.\n\nIn numbers (share of the matched pairs or alignment mass "
            "on the same planted phase; 95 % paired t intervals over seeds): "
            + "; ".join(details) + ".")


def saturation_note(table: pd.DataFrame, names: dict[str, str] | None = None,
                    measure: str = "completeness") -> str:
    """A sentence for every data set where ``measure`` is 1 in every run of every model (the
    interval of each model is [1, 1]): it cannot separate the models there; with the action share
    of the videos, which says why (long instances). Empty when there is none."""
    names = names or {}
    out = []
    models = table[(table.measure == measure) & ~table.comparison.str.contains(" - ")]
    for d in sorted(models.dataset.unique()):
        rows = models[models.dataset == d]
        if rows.empty or not ((rows["low"] == 1.0) & (rows["high"] == 1.0)).all():
            continue
        share = table[(table.dataset == d) & (table.measure == "action_share")
                      & ~table.comparison.str.contains(" - ")]
        why = (f" Its sampled videos are {100 * share['mean'].mean():.0f} % action snippets on "
               "average, with long instances, so the localizer's lowest CAS threshold already "
               "reaches every phase of every instance." if not share.empty else "")
        out.append(f"On {names.get(d, d)} the completeness is 1.000 in every run of every model "
                   f"(stage 1 and final, ACM-Net and FTCL): the measure is saturated there and "
                   f"cannot tell the models apart.{why}")
    return " ".join(out)


#: The measures of :func:`key_numbers`, in order, with their labels.
KEY_MEASURES = (("lcs_same_phase", "LCS matches on the same planted phase"),
                ("fsd_same_phase", "FSD alignment mass on the same planted phase"),
                ("action_purity", "action share of the FSD action proposal"),
                ("background_proposal_action_share", "action share of the FSD background proposal"),
                ("completeness", "share of an instance's phases the CAS covers"))


def key_numbers(table: pd.DataFrame, names: dict[str, str] | None = None,
                base: str = "acmnet", method: str = "ftcl") -> pd.DataFrame:
    """The numbers behind :func:`short_answer`, one row per measure and one column per data set:
    FTCL's value (final model), and FTCL minus ACM-Net with its 95 % paired t interval; as text
    (every cell formatted, nothing cut)."""
    names = names or {}
    rows = {}
    for measure, label in KEY_MEASURES:
        row = {}
        for d in sorted(table.dataset.unique()):
            value = _pick(table, d, f"{method} (final)", measure)
            diff = _pick(table, d, f"{method} - {base} (final)", measure)
            row[f"{names.get(d, d)}: FTCL"] = "–" if value is None else f"{value['mean']:.3f}"
            row[f"{names.get(d, d)}: FTCL − ACM-Net [95 % CI]"] = _ci(diff)
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def folded(summary: str, frame: pd.DataFrame, index: bool = True) -> str:
    """``frame`` as a whole HTML table (every row and column) inside a folded ``<details>``."""
    import html

    return (f'<details class="ftcl-detail"><summary>{html.escape(summary)}</summary>'
            f"{frame.to_html(index=index, border=0, na_rep='–')}</details>")
