"""Mutation testing of ftcl's core with mutmut 3, one scope at a time (``make mutation``).

A *mutant* is a small plausible bug planted in one function (``>`` for ``>=``, ``+ 1`` for ``- 1``,
a constant changed, an argument dropped, a string changed); the tests *kill* it when at least one
of them fails. A mutant no test can tell from the original is *equivalent* (judged by a person,
one line of reason each, in :data:`EQUIVALENTS`); every other survivor is a bug the suite would
let through.

Each scope (:data:`SCOPES`) pairs the files (and optionally the functions) it mutates with the
tests it runs, so a scope is cheap to rerun alone: ``make mutation SCOPE=io``. A scope runs in its
own scratch copy of the checkout (``_build/mutation/<scope>/``: ``ftcl/``, ``tests/``,
``pyproject.toml`` with the scope's ``[tool.mutmut]`` table), always from scratch (mutmut's cache
does not notice changed tests). mutmut runs each mutant with only the tests of the scope's
selection that executed the mutated function (it records that in one clean run first), in a
process forked from the one that imported them, so a mutant costs its tests' run time only.

Results: ``results/mutation/<label>.json`` (``after`` by default; ``before`` for the suite before
the tests that kill survivors) holds, per scope, the counts and every mutant that was not killed
with its diff and classification; ``results/mutation/REPORT.md`` is written from the JSON files
(:func:`write_report`). Run ``python tools/mutation.py --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fnmatch
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.yaml"
SCRATCH = ROOT / "_build" / "mutation"
RESULTS = ROOT / "results" / "mutation"
TARGET_MODULE = 0.90  # killed share of non-equivalent mutants, every scope
TARGET_OVERALL = 0.95


@dataclass(frozen=True)
class Scope:
    """What one mutation run mutates and which tests judge it.

    ``mutate``: file globs (relative to the checkout) whose functions are mutated;
    ``functions``: optional mutant-name globs (``ftcl.train.x_holdout_split*``) restricting the
    run to some functions of those files; ``tests``: the pytest selection; ``copy``: extra paths
    the tests read (copied into the scratch checkout).
    """

    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    copy: tuple[str, ...] = ()
    note: str = ""


SCOPES: dict[str, Scope] = {
    "dp": Scope(("ftcl/dp/engine.py", "ftcl/dp/recursion.py", "ftcl/dp/semiring.py",
                 "ftcl/dp/structures.py", "ftcl/dp/wavefront.py"), ("tests/dp",),
                note="the compiled kernels (numba, decorated) are not mutated; nor are the CUDA "
                     "kernels (no GPU here) and the per-cell reference (the tests' reference)"),
    "losses": Scope(("ftcl/losses/*.py",), ("tests/losses",)),
    "localize": Scope(("ftcl/evaluation/localize.py",), ("tests/evaluation",)),
    "metrics": Scope(("ftcl/evaluation/metrics.py",), ("tests/evaluation",)),
    "statistics": Scope(("ftcl/report/statistics.py",), ("tests/report",),
                        copy=("notebooks", "results/quick")),
    "records": Scope(("ftcl/report/records.py", "ftcl/report/tables.py"), ("tests/report",),
                     functions=("ftcl.report.records.*", "ftcl.report.tables.x__per_seed*",
                                "ftcl.report.tables.x__comparison*",
                                "ftcl.report.tables.x__measured_rows*",
                                "ftcl.report.tables.x__thresholds*",
                                "ftcl.report.tables.x_build_table*"),
                     copy=("notebooks", "results/quick"),
                     note="run records, the single-commit and data-version rules, and the table "
                          "code that turns them into paired comparisons and verdicts"),
    "data": Scope(("ftcl/data/annotations.py", "ftcl/data/checks.py", "ftcl/data/dataset.py",
                   "ftcl/data/features.py", "ftcl/data/pairs.py", "ftcl/data/sampling.py"),
                  ("tests/data", "tests/config/test_checks.py"),
                  skip=("ftcl.data.annotations.x_build_synanet_extract__*",
                        "ftcl.data.annotations.x__synanet_candidates__*"),
                  note="build_synanet_extract (and its helper _synanet_candidates) is left out: a "
                       "one-off tool that wrote the packaged SynANet extract from the full "
                       "ActivityNet files, which are not shipped; "
                       "tests/config/test_checks.py holds the house's tests of the data checks"),
    "config": Scope(("ftcl/config/*.py",), ("tests/config",), copy=("results/quick",),
                    skip=("ftcl.config.presets.x__lambdas__*", "ftcl.config.presets.x__plugin__*",
                          "ftcl.config.presets.x__acm__*"),
                    note="the presets' helpers _lambdas, _plugin and _acm are left out: they run "
                         "once, at import, to build METHODS, before a mutant can be switched on"),
    "io": Scope(("ftcl/io.py",), ("tests/test_io.py", "tests/test_io_atomic.py",
                                  "tests/test_io_checksums.py")),
    "train": Scope(("ftcl/train/checkpoints.py", "ftcl/train/data.py", "ftcl/train/schedule.py",
                    "ftcl/train/trainer.py"), ("tests/train",),
                   functions=("ftcl.train.data.x_holdout_split*", "ftcl.train.schedule.*",
                              "ftcl.train.checkpoints.x_stage1_key*",
                              "ftcl.train.trainer.x*Trainer*_optimizer__*",
                              "ftcl.train.trainer.x*Trainer*_evaluate_selection__*",
                              "ftcl.train.trainer.x*Trainer*_start_stage2__*",
                              "ftcl.train.trainer.x*Trainer*_term_norms__*"),
                   note="the run keys and the model selection: held-out split, learning-rate "
                        "schedule and selection rule, stage-1 cache key, stage-2 optimiser (the "
                        "FTCL head's parameters), held-out evaluation, the best checkpoint and the "
                        "per-term gradient norms (the shares of issue 21)"),
}

# mutmut's exit-code classes, folded into the report's words.
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
NOT_RUN = {"not checked", "skipped", "check was interrupted by user"}


# ------------------------------------------------------------------------------ running a scope


def _copy_checkout(scope: Scope, dest: Path, source: Path) -> None:
    """A scratch checkout of ``source`` at ``dest``: the package, the tests and the scope's extra
    paths."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in ("ftcl", "tests", *scope.copy):
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / "pyproject.toml").write_text(_pyproject(scope, source), encoding="utf-8")


def _tests(scope: Scope, source: Path) -> list[str]:
    """The scope's tests that exist in ``source`` (an older checkout may lack some files)."""
    return [t for t in scope.tests if (source / t.split("::")[0]).exists()]


def _toml_list(items) -> str:
    return "[" + ", ".join(json.dumps(str(i)) for i in items) + "]"


def _pyproject(scope: Scope, source: Path) -> str:
    """The checkout's pyproject.toml with the scope's ``[tool.mutmut]`` table appended."""
    text = (source / "pyproject.toml").read_text(encoding="utf-8")
    return text + (
        "\n\n[tool.mutmut]  # written by tools/mutation.py for one scope\n"
        f'source_paths = ["ftcl"]\n'
        f"only_mutate = {_toml_list(scope.mutate)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(_tests(scope, source))}\n"
        f"also_copy = {_toml_list(scope.copy)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "not book and not ray"]\n'
    )


def _mutmut_env(work: Path) -> dict[str, str]:
    # One thread per library: the worker processes are forked, and 2 shared cores. The tests'
    # tiny data set is generated once per scope, not once per mutant (tests/conftest.py).
    single = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                               "NUMBA_NUM_THREADS")}
    return {**os.environ, **single, "PYTHONDONTWRITEBYTECODE": "1",
            "FTCL_TEST_DATA_CACHE": str(work / "test-data")}


def run_scope(name: str, scope: Scope, jobs: int, nice: int, source: Path = ROOT,
              label: str = "after", tag: str = "") -> dict:
    """Run mutmut on one scope of the checkout ``source`` in a scratch copy; return its entry."""
    work = SCRATCH / f"{label}{tag}-{name}"
    origin = provenance(source)  # the commit copied, not the one the source holds at the end
    _copy_checkout(scope, work, source)
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(jobs), *scope.functions]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    log = work / "mutmut.log"
    start, cpu0 = time.perf_counter(), _children_cpu()
    for attempt in range(3):  # a fork refused by a machine short of processes is retried
        with open(log, "w", encoding="utf-8") as fh:
            rc = subprocess.run(cmd, cwd=work, env=_mutmut_env(work), stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_default_sigint).returncode
        if rc == 0 or "Resource temporarily unavailable" not in log.read_text(errors="replace"):
            break
        print(f"mutation: {name}: fork refused (attempt {attempt + 1}), starting over",
              flush=True)
        time.sleep(30)
        _copy_checkout(scope, work, source)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    if rc != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"mutmut failed on scope {name!r} (exit {rc}); log {log}:\n{tail}")
    mutants = _collect(work, scope)
    entry = _summarise(name, scope, mutants, wall)
    return {**entry, "tests": _tests(scope, source), "cpu_time_s": round(cpu, 1),
            "provenance": {**origin, "workers": jobs}}


def _default_sigint() -> None:
    """SIGINT back to its default in mutmut: a run started in the background (``cmd &``) inherits
    it ignored, and then the trainer's Ctrl-C tests fail on every mutant, as a test failure of
    the unmutated code that stops the scope."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children_cpu() -> float:
    """User + system seconds of the finished child processes (mutmut and its workers): the
    wall time of the run on an otherwise idle core, whatever else the machine was doing."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _collect(work: Path, scope: Scope) -> list[dict]:
    """Every mutant of the scope with its status, and the diff of those not killed."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    out = []
    with _cwd(work):
        reset_config()
        for meta in sorted((work / "mutants").rglob("*.py.meta")):
            path = meta.relative_to(work / "mutants").with_suffix("")
            data = json.loads(meta.read_text(encoding="utf-8"))
            for key, code in sorted(data.get("exit_code_by_key", {}).items(), key=_mutant_order):
                if scope.functions and not any(fnmatch.fnmatch(key, g) for g in scope.functions):
                    continue
                if any(fnmatch.fnmatch(key, g) for g in scope.skip):
                    continue
                status = status_by_exit_code[code]
                entry = {"name": key, "file": str(path), "status": status}
                if status not in KILLED:
                    entry["diff"] = _changed_lines(get_diff_for_mutant(key, path=path))
                out.append(entry)
        reset_config()
    return out


def _mutant_order(item) -> tuple[str, int]:
    head, _, number = item[0].rpartition("__mutmut_")
    return head, int(number) if number.isdigit() else 0


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _changed_lines(diff: str) -> dict[str, str]:
    """The removed and added lines of a unified diff (stripped, joined by `` / ``)."""
    lines = diff.splitlines()
    removed = [ln[1:].strip() for ln in lines if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:].strip() for ln in lines if ln.startswith("+") and not ln.startswith("+++")]
    return {"before": " / ".join(removed), "after": " / ".join(added)}


# ------------------------------------------------------------------------------ classification


def function_of(mutant: str) -> str:
    """``ftcl.stats.x_verdict__mutmut_17`` -> ``ftcl.stats.x_verdict`` (mutmut's mangled name)."""
    return mutant.partition("__mutmut_")[0]


def _tail(function: str) -> str:
    """The function's own (mangled) name without its module: a judgement survives a file move."""
    return function.rpartition(".")[2]


def load_equivalents(path: Path = EQUIVALENTS) -> list[dict]:
    """The judged survivors: ``function``, ``before``, ``after`` (the changed lines, stripped),
    ``kind`` (``equivalent`` or ``left``), a one-line ``reason``, and ``occurrence`` (2, 3...) for
    the twin of a mutant with the same function and changed lines.

    Keyed by the change itself, not by mutmut's number (which shifts when a function changes), so
    a judgement follows its mutant and a stale one stops matching.
    """
    import yaml

    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    for e in entries:
        missing = {"function", "before", "after", "kind", "reason"} - set(e)
        if missing or e["kind"] not in ("equivalent", "left"):
            raise ValueError(f"{path}: entry {e!r} needs function, before, after, reason and "
                             f"kind equivalent|left (missing {sorted(missing)})")
    return entries


def classify(mutants: list[dict], judged: list[dict]) -> None:
    """Mark each survivor ``equivalent``, ``left`` (with the reason) or ``unexplained``."""
    index = {_key(e["function"], e): e for e in judged}
    for m in mutants:
        if m["status"] in KILLED:
            continue
        e = index.get(_key(function_of(m["name"]), m["diff"]))
        m.pop("reason", None)
        m["kind"] = e["kind"] if e else "unexplained"
        if e:
            m["reason"] = e["reason"]


def _number_twins(mutants: list[dict]) -> None:
    """Give the 2nd, 3rd... mutant with the same function and the same changed lines (the same
    line twice in a function, mutated the same way) an ``occurrence`` number, so that each has
    its own judgement."""
    seen: dict[tuple, int] = {}
    for m in mutants:
        if "diff" not in m:
            continue
        key = (function_of(m["name"]), m["diff"]["before"], m["diff"]["after"])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            m["diff"]["occurrence"] = seen[key]


def _key(function: str, change: dict) -> tuple:
    return (_tail(function), change["before"], change["after"], change.get("occurrence", 1))


def _summarise(name: str, scope: Scope, mutants: list[dict], wall: float,
               partial: bool = False) -> dict:
    _number_twins(mutants)
    unfinished = [m["name"] for m in mutants if m["status"] in NOT_RUN]
    if unfinished and not partial:
        raise RuntimeError(f"scope {name!r}: {len(unfinished)} mutants were not run "
                           f"(e.g. {unfinished[:3]}); see {SCRATCH / name / 'mutmut.log'}")
    run = [m for m in mutants if m["status"] not in NOT_RUN]
    survivors = [m for m in run if m["status"] not in KILLED]
    classify(survivors, load_equivalents())
    entry = {"scope": name, "mutate": list(scope.mutate), "functions": list(scope.functions),
             "skip": list(scope.skip),
             "tests": list(scope.tests), "note": scope.note, "wall_time_s": round(wall, 1),
             "counts": counts(sum(m["status"] in KILLED for m in run),
                              sum(m["status"] == "timeout" for m in run), survivors),
             "survivors": survivors}
    if unfinished:  # an interrupted run: the counts cover the mutants that were run
        entry["partial"] = {"run": len(run), "of": len(mutants)}
    return entry


def collect_scope(name: str, scope: Scope, source: Path = ROOT, label: str = "after",
                  tag: str = "") -> dict:
    """The entry of a scope from its scratch folder as it stands (a run stopped before its end:
    only the mutants it ran are counted, and the entry says how many of how many)."""
    work = SCRATCH / f"{label}{tag}-{name}"
    entry = _summarise(name, scope, _collect(work, scope), math.nan, partial=True)
    return {**entry, "tests": _tests(scope, source), "cpu_time_s": math.nan,
            "provenance": {**provenance(source), "workers": 1}}


def counts(killed: int, timeout: int, survivors: list[dict]) -> dict[str, int | float | None]:
    """Totals of one scope from its killed count (timeouts included) and its classified
    survivors: mutants, killed, survived, no tests, equivalent, left, unexplained, and the
    killed share of the non-equivalent mutants (the score)."""
    n = killed + len(survivors)
    equivalent = sum(m.get("kind") == "equivalent" for m in survivors)
    out = {
        "mutants": n, "killed": killed, "timeout": timeout,
        "survived": sum(m["status"] == "survived" for m in survivors),
        "no_tests": sum(m["status"] == "no tests" for m in survivors),
        "other": sum(m["status"] not in ("survived", "no tests") for m in survivors),
        "equivalent": equivalent,
        "left": sum(m.get("kind") == "left" for m in survivors),
        "unexplained": sum(m.get("kind") == "unexplained" for m in survivors),
    }
    out["score"] = round(killed / (n - equivalent), 4) if n > equivalent else None
    return out


# ------------------------------------------------------------------------------ results files


def provenance(source: Path = ROOT) -> dict:
    """What made the numbers: commit of the checkout (``+dirty`` if ftcl/ or tests/ differ),
    tool versions, machine, time."""
    from importlib.metadata import version

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=source, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "ftcl", "tests", "tools"):
        commit += "+dirty"
    return {"git_commit": commit, "mutmut": version("mutmut"), "pytest": version("pytest"),
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def update_results(label: str, entries: list[dict], out: Path = RESULTS) -> Path:
    """Merge the scopes just run into ``<out>/<label>.json`` (other scopes are kept)."""
    path = out / f"{label}.json"
    out.mkdir(parents=True, exist_ok=True)
    with _results_lock(out):  # two scopes may finish at once (two `make mutation` runs)
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"scopes": {}}
        for e in entries:
            data["scopes"][e["scope"]] = e
        data["scopes"] = {k: data["scopes"][k] for k in sorted(data["scopes"])}
        data["label"] = label
        _write_atomic(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return path


@contextlib.contextmanager
def _results_lock(out: Path):
    import fcntl

    SCRATCH.mkdir(parents=True, exist_ok=True)
    with open(SCRATCH / f".{out.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def reclassify(out: Path = RESULTS) -> None:
    """Re-apply the judgements of :data:`EQUIVALENTS` to the stored results (no rerun)."""
    judged = load_equivalents()
    with _results_lock(out):
        _reclassify(out, judged)


def _reclassify(out: Path, judged: list[dict]) -> None:
    for path in sorted(out.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data["scopes"].values():
            classify(entry["survivors"], judged)
            c = entry["counts"]
            entry["counts"] = counts(c["killed"], c["timeout"], entry["survivors"])
        _write_atomic(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------ the report


@dataclass
class _Table:
    rows: list[list[str]] = field(default_factory=list)

    def markdown(self, header: list[str]) -> str:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _overall(scopes: dict) -> dict:
    total = {k: sum(s["counts"][k] for s in scopes.values())
             for k in ("mutants", "killed", "survived", "no_tests", "equivalent", "left",
                       "unexplained")}
    n = total["mutants"] - total["equivalent"]
    total["score"] = total["killed"] / n if n else None
    total["wall_time_s"] = sum(s["wall_time_s"] for s in scopes.values())
    total["cpu_time_s"] = sum(s.get("cpu_time_s", math.nan) for s in scopes.values())
    return total


def report_markdown(after: dict, before: dict | None) -> str:
    """REPORT.md from the ``after`` (and optional ``before``) results."""
    scopes = after["scopes"]
    lines = ["# Mutation testing of the core", "",
             "Written by `tools/mutation.py` from `after.json`"
             + (" and `before.json`" if before else "") + "; do not edit by hand. "
             "Rerun one scope with `make mutation SCOPE=<scope>`, all with `make mutation`.",
             "", f"Targets: at least {TARGET_MODULE:.0%} of the non-equivalent mutants killed in "
             f"every scope, {TARGET_OVERALL:.0%} overall. Score = killed (timeouts included) / "
             "(mutants - equivalent).", ""]
    table = _Table()
    for name, s in scopes.items():
        c = s["counts"]
        b = (before or {}).get("scopes", {}).get(name)
        part = s.get("partial")
        table.rows.append([
            f"`{name}`" + (f" (partial: {part['run']} of {part['of']} run)" if part else ""),
            ", ".join(f"`{m}`" for m in s["mutate"]), str(c["mutants"]),
            str(c["killed"]), str(c["survived"] + c["no_tests"]), str(c["equivalent"]),
            str(c["left"]), str(c["unexplained"]),
            _pct(b["counts"]["score"]) if b else "-", _pct(c["score"]),
            f"{s['wall_time_s']:.0f}", f"{s.get('cpu_time_s', math.nan):.0f}"])
    o = _overall(scopes)
    ob = _overall(before["scopes"]) if before else None
    table.rows.append(["**all**", "", str(o["mutants"]), str(o["killed"]),
                       str(o["survived"] + o["no_tests"]), str(o["equivalent"]), str(o["left"]),
                       str(o["unexplained"]), _pct(ob["score"]) if ob else "-",
                       _pct(o["score"]), f"{o['wall_time_s']:.0f}", f"{o['cpu_time_s']:.0f}"])
    lines += [table.markdown(["scope", "mutated", "mutants", "killed", "survived",
                              "equivalent", "left", "unexplained", "score before",
                              "score after", "wall s", "CPU s"]), "",
              "wall s: the scope's run time on this machine as it was (shared); CPU s: the CPU "
              "time of mutmut and its workers, the run time of one worker on an idle core.", ""]
    lines += _provenance_lines(after, before)
    lines += _survivor_lines(scopes)
    lines += _unmutated_lines(scopes)
    stale = stale_judgements(after)
    if stale:
        lines += ["## Judgements that matched no survivor", "",
                  "Killed since, or their code changed: check and remove them from "
                  "`tools/mutation_equivalents.yaml`.", ""]
        lines += [f"- `{e['function']}`: `{e['before']}` -> `{e['after']}`" for e in stale]
        lines.append("")
    return "\n".join(lines) + "\n"


def decorated_functions(path: Path) -> list[str]:
    """Functions of ``path`` that mutmut leaves alone: decorated ones (other than
    staticmethod/classmethod), e.g. numba kernels, context managers, properties."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    item.parent_class = node.name  # type: ignore[attr-defined]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                not (isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod"))
                for d in node.decorator_list):
            owner = getattr(node, "parent_class", None)
            out.append(f"{owner}.{node.name}" if owner else node.name)
    return sorted(out)


def _unmutated_lines(scopes: dict) -> list[str]:
    lines = ["## Not mutated", "",
             "mutmut does not mutate decorated functions (their decorators run at import). "
             "Their tests still run; their behaviour is pinned by the tests named in the scope:",
             ""]
    for name, s in scopes.items():
        files = sorted({str(f.relative_to(ROOT)) for g in s["mutate"] for f in ROOT.glob(g)})
        found = [f"`{f}`: " + ", ".join(f"`{d}`" for d in decorated_functions(ROOT / f))
                 for f in files if decorated_functions(ROOT / f)]
        if found:
            lines.append(f"- `{name}`: " + "; ".join(found))
    return lines + [""]


def stale_judgements(after: dict) -> list[dict]:
    """Entries of the judgements file that match no survivor of ``after``."""
    seen = {_key(function_of(m["name"]), m["diff"])
            for s in after["scopes"].values() for m in s["survivors"]}
    return [e for e in load_equivalents() if _key(e["function"], e) not in seen]


def _provenance_lines(after: dict, before: dict | None) -> list[str]:
    lines = ["## Runs", ""]
    for label, data in (("after", after), ("before", before)):
        if not data:
            continue
        provs = {json.dumps({k: v for k, v in s["provenance"].items() if k != "created_utc"},
                            sort_keys=True) for s in data["scopes"].values()}
        for p in sorted(provs):
            p = json.loads(p)
            lines.append(f"- {label}: commit `{p['git_commit']}`, mutmut {p['mutmut']}, pytest "
                         f"{p['pytest']}, Python {p['python']}, {p['workers']} worker(s) on "
                         f"{p['cpu_count']} cores")
    lines += ["", "Tests per scope:", ""]
    lines += [f"- `{n}`: {' '.join(s['tests'])}"
              + (f" (functions {' '.join(s['functions'])})" if s["functions"] else "")
              + (f" (left out: {' '.join(s['skip'])})" if s.get("skip") else "")
              + (f". {s['note']}" if s["note"] else "") for n, s in after["scopes"].items()]
    return lines + [""]


def _survivor_lines(scopes: dict) -> list[str]:
    lines = ["## Mutants not killed", ""]
    for name, s in scopes.items():
        if not s["survivors"]:
            continue
        lines += [f"### `{name}`", ""]
        for m in s["survivors"]:
            d = m["diff"]
            why = m.get("reason", "not yet judged")
            twin = f" (occurrence {d['occurrence']})" if d.get("occurrence") else ""
            lines.append(f"- `{m['name']}` ({m['status']}, **{m['kind']}**): "
                         f"`{d['before']}` -> `{d['after']}`{twin}. {why}")
        lines.append("")
    return lines


def todo_entries(label: str = "after", out: Path = RESULTS) -> str:
    """YAML entries for the survivors nobody has judged yet (kind and reason to fill in)."""
    import yaml

    data = json.loads((out / f"{label}.json").read_text(encoding="utf-8"))
    entries = [{"function": function_of(m["name"]), **m["diff"], "kind": "equivalent",
                "reason": "TODO"}
               for s in data["scopes"].values() for m in s["survivors"]
               if m.get("kind") == "unexplained"]
    return yaml.safe_dump(entries, sort_keys=False, width=1000, allow_unicode=True)


def write_report(out: Path = RESULTS) -> Path:
    after = json.loads((out / "after.json").read_text(encoding="utf-8"))
    before_path = out / "before.json"
    before = json.loads(before_path.read_text(encoding="utf-8")) if before_path.exists() else None
    path = out / "REPORT.md"
    _write_atomic(path, report_markdown(after, before))
    return path


# ------------------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scope", action="append", choices=sorted(SCOPES),
                        help="run this scope (repeatable); default: all")
    parser.add_argument("--label", default="after", choices=("after", "before"),
                        help="results file to update (results/mutation/<label>.json)")
    parser.add_argument("--jobs", type=int, default=1, help="mutmut worker processes")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout to mutate (default this one; e.g. a worktree of an "
                             "older commit for the 'before' run)")
    parser.add_argument("--nice", type=int, default=15, help="niceness of mutmut (0: none)")
    parser.add_argument("--tag", default="",
                        help="suffix of the scratch folders, so that two runs of one scope (and "
                             "label) can go on side by side")
    parser.add_argument("--collect", action="store_true",
                        help="do not run: record the scopes' scratch folders as they stand (a "
                             "run stopped early counts the mutants it ran, marked partial)")
    parser.add_argument("--report-only", action="store_true",
                        help="re-apply tools/mutation_equivalents.yaml and rewrite REPORT.md")
    parser.add_argument("--list", action="store_true", help="print the scopes and exit")
    parser.add_argument("--todo", action="store_true",
                        help="print the unexplained survivors as entries for "
                             "tools/mutation_equivalents.yaml (reason to be written) and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, s in SCOPES.items():
            print(f"{name}: mutates {' '.join(s.mutate)}; tests {' '.join(s.tests)}")
        return 0
    if args.todo:
        print(todo_entries(args.label))
        return 0
    if args.collect:
        for name in args.scope or []:
            update_results(args.label, [collect_scope(name, SCOPES[name], args.root.resolve(),
                                                      args.label, args.tag)])
    elif not args.report_only:
        entries = []
        for name in args.scope or list(SCOPES):
            print(f"mutation: scope {name} ...", flush=True)
            e = run_scope(name, SCOPES[name], args.jobs, args.nice, args.root.resolve(),
                          args.label, args.tag)
            c = e["counts"]
            print(f"mutation: {name}: {c['mutants']} mutants, {c['killed']} killed, "
                  f"{c['survived'] + c['no_tests']} not killed ({c['equivalent']} equivalent), "
                  f"score {_pct(c['score'])}, {e['wall_time_s']:.0f} s", flush=True)
            entries.append(e)
            update_results(args.label, [e])
    reclassify()
    if (RESULTS / "after.json").exists():
        print(f"mutation: wrote {write_report().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
