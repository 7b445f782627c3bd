"""One run's record as tables, for the training notebook and the book's stored run.

:func:`metrics_frame` (test mAP per tIoU), :func:`history_frame` (model selection and losses at
each evaluation) and :func:`changed_settings` (where the configuration differs from the THUMOS14
defaults): pure views of a run record (:mod:`ftcl.train.record`) and its configuration.
"""

from __future__ import annotations

import pandas as pd

from ..config import RunConfig, flatten, to_dict


def metrics_frame(record: dict) -> pd.DataFrame:
    """The record's test-set detection mAP per tIoU threshold (%), and its average, as a table."""
    rows = [{"tIoU": f"{t:.2f}", "mAP (%)": round(100 * m, 2)}
            for t, m in zip(record["tiou_thresholds"], record["map"], strict=True)]
    lo, hi = record["average_range"]
    rows.append({"tIoU": f"avg {lo:g}-{hi:g}", "mAP (%)": round(100 * record["average_map"], 2)})
    return pd.DataFrame(rows).set_index("tIoU").T


# Column titles of the loss parts the trainer logs (ftcl.losses.total_loss): the backbone's own
# objective, the two FTCL terms before their Eq. 8 weights, and the weighted total of Eq. 8.
_LOSS_COLUMNS = {"cls": "backbone loss", "fsd": "L_FSD (unweighted)",
                 "lcs": "L_LCS (unweighted)", "loss": "total loss (Eq. 8)"}


def history_frame(record: dict) -> pd.DataFrame:
    """Model selection: held-out average mAP (%) at each evaluation, the test split's (recorded
    for :mod:`ftcl.analysis.protocol`, never used to select) and the training losses."""
    rows = []
    for entry in record.get("history", []):
        row = {"iteration": entry["iteration"]}
        if "holdout" in entry:
            row["held-out avg mAP (%)"] = round(100 * entry["holdout"]["average_map"], 2)
        if "test" in entry:  # recorded only, never used for selection (ftcl.analysis.protocol)
            row["test avg mAP (%), not used"] = round(100 * entry["test"]["average_map"], 2)
        row.update({_LOSS_COLUMNS.get(k, f"loss {k}"): round(v, 4)
                    for k, v in entry.get("train", {}).items() if "/" not in k})
        rows.append(row)
    return pd.DataFrame(rows)


def changed_settings(cfg: RunConfig) -> pd.DataFrame:
    """The configuration keys where ``cfg`` differs from the THUMOS14 defaults, as a table."""
    def flat(c: RunConfig) -> dict:
        data = to_dict(c)
        sections = {k: data.pop(k) for k in ("model", "loss", "ftcl", "train")}
        return {**data, **flatten(sections)}

    mine, base = flat(cfg), flat(RunConfig())
    rows = [{"key": k, "value": v, "default": base.get(k)} for k, v in mine.items()
            if v != base.get(k) and k not in ("run_name", "out_dir", "cache_dir")]
    return pd.DataFrame(rows)
