"""The README's statements that files can check: the committed batch it describes."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_describes_the_committed_batch():
    """"N configurations x S seeds = R runs" matches results/quick: its batch summary and its
    run records (the reproduce page computes the same count from the plan)."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    m = re.search(r"(\d+) configurations x (\d+) seeds = (\d+) runs", text)
    assert m, "README: no 'N configurations x S seeds = R runs'"
    configurations, seeds, runs = map(int, m.groups())
    batch = json.loads((ROOT / "results" / "quick" / "reproduce.json").read_text())
    quick = ROOT / "results" / "quick"
    folders = (quick / "runs", quick / "dose" / "runs")
    by_id = {p.stem: json.loads(p.read_text()) for f in folders for p in f.glob("*.json")}
    records = list(by_id.values())  # Tables 1-5 and the dose study; a shared run counted once
    assert configurations * seeds == runs == batch["planned"] == len(records)

    def configuration(record: dict) -> str:
        cfg = {k: v for k, v in record["config"].items() if k not in ("seed", "data_seed",
                                                                      "run_name", "out_dir")}
        return json.dumps(cfg, sort_keys=True)

    assert len({configuration(r) for r in records}) == configurations
    assert len({r["seed"] for r in records}) == seeds
