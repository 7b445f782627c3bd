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


def test_the_quick_batch_is_from_one_clean_commit():
    """Every result the quick batch wrote (run and mechanism records of Tables 1-5 and of the
    dose study, the batch summary, the tables' protocol and dose.json) names one and the same
    clean commit, and every record of a folder has its run record (issue 21: one commit). The
    calibration files in results/quick/dose/calibration/ are not batch results: they record the
    design steps before the protocol's runs, each at the commit that ran it."""
    quick = ROOT / "results" / "quick"
    commits: dict[str, set[str]] = {}

    def note(commit: str, where: str) -> None:
        commits.setdefault(commit, set()).add(where)

    for folder in ("runs", "mechanism", "dose/runs", "dose/mechanism"):
        files = sorted((quick / folder).glob("*.json"))
        assert files, f"results/quick/{folder} is empty"
        for p in files:
            record = json.loads(p.read_text())
            note(record["provenance"]["git_commit"] if "provenance" in record  # a run record
                 else record["git_commit"], folder)  # a mechanism record
    for folder in ("mechanism", "dose/mechanism"):
        runs = quick / folder.replace("mechanism", "runs")
        orphans = [p.name for p in (quick / folder).glob("*.json") if not (runs / p.name).is_file()]
        assert not orphans, f"results/quick/{folder}: no run record for {orphans[:3]}"
    note(json.loads((quick / "reproduce.json").read_text())["provenance"]["git_commit"],
         "reproduce.json")
    for commit in json.loads((quick / "tables" / "protocol.json").read_text())["git_commits"]:
        note(commit, "tables/protocol.json")
    for commit in json.loads((quick / "dose" / "dose.json").read_text())["commits"]:
        note(commit, "dose/dose.json")
    assert len(commits) == 1, {c: sorted(w) for c, w in commits.items()}
    (commit,) = commits
    assert re.fullmatch(r"[0-9a-f]{40}", commit), f"not one clean commit: {commit}"
