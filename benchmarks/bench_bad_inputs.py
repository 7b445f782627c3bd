"""Bad-input benchmark: every bad input of issue 14, and its kind in every file of a data set.

Usage::

    python benchmarks/bench_bad_inputs.py [--out bad_inputs.md] [--snippets 6]
    python benchmarks/bench_bad_inputs.py --issue19 [1 2 ... 10] [--out faults.md]

With ``--issue19`` it runs instead the fault cases of issue 19 (``benchmarks/faults.py``: a run
that learned nothing, SIGTERM and Ctrl-C, two batches on one folder, tampered records, thread
counts, disk full and read-only folders, bad annotations and feature files, bad numbers and
encodings, checkpoints evaluated against the wrong data), some in real subprocesses with real
signals and resource limits; it prints one row per case (exit status, the telling line, what
was lost or published).

Each case runs ``ftcl train`` (or ``ftcl evaluate``) in this process through
:func:`ftcl.cli.main`, on a real-layout THUMOS14 folder (``tests/config/test_checks.py``'s
``write_thumos14_fixture``: real ids, annotations and true durations, random D=2048 features, every
class in both splits), with one thing broken. It records the exit status, the first line of the
error and the seconds from the call to the return. A case passes when the command ends with
``ftcl: error:`` (exit 2, no traceback) naming the file or setting, and no stage-1 checkpoint
was written (training never started). Per-file kinds are applied to every feature file of both
splits and every listed video of ``gt.json`` in turn; the table gives the count that passed, the
slowest time and the first line of one error. Timings are wall-clock on this machine (noisy).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ftcl.cli import main
from ftcl.data.fixtures import write_thumos14_fixture

# A run in seconds (the fail-fast tests' settings, tests/config/test_checks.py).
TINY = {"model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
        "train.batch_size": 4, "train.pretrain_iterations": 1, "train.iterations": 1,
        "train.eval_every": 1, "train.progress": False, "train.num_threads": 1}

D = 2048


def run_cli(argv: list[str]) -> tuple[int, str, float]:
    err = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
        except BaseException as exc:  # an uncaught error: a traceback for the user
            code, err = "traceback", io.StringIO(f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - t0
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("ftcl: error:")]
    first = lines[0] if lines else (err.getvalue().strip().splitlines() or [""])[-1]
    return code, first, seconds


class Bench:
    def __init__(self, work: Path, snippets: int):
        self.work = work
        self.clean = write_thumos14_fixture(work / "clean", n_snippets=snippets)
        self.root = Path(shutil.copytree(self.clean, work / "data"))
        self.out = work / "runs"
        self.cache = work / "cache"
        self.rows: list[dict] = []

    def train_argv(self, *extra, root=None, out=None):
        sets = [f"--set={k}={v}" for k, v in TINY.items()]
        return ["train", "--dataset", "thumos14", "--data-dir", str(root or self.root),
                "--device", "cpu", "--out-dir", str(out or self.out), "--cache-dir",
                str(self.cache), "--results", str(self.work / "results"), *sets, *extra]

    def restore(self):
        shutil.rmtree(self.root)
        shutil.copytree(self.clean, self.root)

    def check(self, argv, must_name: str) -> tuple[bool, str, float]:
        code, first, seconds = run_cli(argv)
        stage1 = list((self.out / "_stage1").rglob("*.pt")) if (self.out / "_stage1").exists() \
            else []
        ok = code == 2 and first.startswith("ftcl: error:") and must_name in first \
            and not stage1
        return ok, first.replace(str(self.work), "<tmp>"), seconds

    def case(self, what: str, argv, must_name: str, n_of: str = "1"):
        ok, first, seconds = self.check(argv, must_name)
        self.rows.append({"input": what, "passed": f"{int(ok)}/{n_of}", "first": first,
                          "seconds": seconds})

    def per_item(self, what: str, items, apply, must_name):
        """Apply a change to each item in turn (restoring after), one summary row."""
        passed, worst, example = 0, 0.0, ""
        for item in items:
            apply(item)
            ok, first, seconds = self.check(self.train_argv(), must_name(item))
            passed += ok
            worst = max(worst, seconds)
            example = example or first
            self.restore()
        self.rows.append({"input": what, "passed": f"{passed}/{len(items)}", "first": example,
                          "seconds": worst})


def feature_files(root: Path, split: str) -> list[Path]:
    ids = (root / f"split_{split}.txt").read_text().split()
    return [root / split / f"{v}.npy" for v in ids]


def _nan(p, value=np.nan):
    arr = np.load(p)
    arr[len(arr) // 2, 5] = value
    np.save(p, arr)


FILE_KINDS = {
    "zero-byte .npy": lambda p: p.write_bytes(b""),
    "truncated .npy (half the data)": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size
                                                                          // 2]),
    "truncated .npy (inside the header)": lambda p: p.write_bytes(p.read_bytes()[:40]),
    "not a .npy (text)": lambda p: p.write_text("features"),
    "wrong width (D/2)": lambda p: np.save(p, np.zeros((6, D // 2), np.float32)),
    "3-D array": lambda p: np.save(p, np.zeros((6, D, 1), np.float32)),
    "no rows": lambda p: np.save(p, np.zeros((0, D), np.float32)),
    "int dtype": lambda p: np.save(p, np.zeros((6, D), np.int32)),
    "a NaN value": _nan,
    "an inf value": lambda p: _nan(p, np.inf),
    "missing feature file": lambda p: p.unlink(),
}


def gt_edit(root: Path, fn):
    path = root / "gt.json"
    gt = json.loads(path.read_text())
    fn(gt["database"])
    path.write_text(json.dumps(gt))


def scan_rows(b: Bench) -> None:
    """The full NaN/inf scan of every feature file: first time, and again (cached)."""
    from ftcl.data import VideoDataset, get_spec, prepare_dataset
    from ftcl.data.checks import scan_features

    folders = [("the fixture", b.root, get_spec("thumos14", "full"))]
    spec = get_spec("synthumos14", "quick")
    folders.append(("SynTHUMOS14 quick", prepare_dataset("synthumos14", "quick"), spec))
    for name, root, spec in folders:
        sets = [VideoDataset(root, s, spec) for s in ("train", "test")]
        mb = sum(f.stat().st_size for ds in sets for f in Path(root, ds.split).glob("*.npy"))
        cache = b.work / f"scan-{spec.name}"
        for when in ("first", "second (cached)"):
            t0 = time.perf_counter()
            counts = [scan_features(ds, cache) for ds in sets]
            seconds = time.perf_counter() - t0
            n = sum(c["scanned"] for c in counts)
            b.rows.append({"input": f"(none) NaN/inf scan of {name}, {when}",
                           "passed": f"{n} files read ({mb / 2**20:.0f} MB)",
                           "first": "-", "seconds": seconds})


def main_bench(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="also write the table (markdown) here")
    p.add_argument("--snippets", type=int, default=6, help="rows of each feature file")
    p.add_argument("--issue19", type=int, nargs="*", default=None, metavar="POINT",
                   help="run the fault cases of issue 19 (all ten, or these points)")
    args = p.parse_args(argv)
    if args.issue19 is not None:
        return issue19_main(args)
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        b = Bench(Path(tmp), args.snippets)
        root = b.root
        n_train = len(feature_files(root, "train"))
        n_test = len(feature_files(root, "test"))
        print(f"fixture: {n_train} train + {n_test} test videos, D={D}", file=sys.stderr)

        # the reference: the clean folder trains (so every failure below is its one change)
        code, first, seconds = run_cli(b.train_argv())
        b.rows.append({"input": "(none: the clean folder, full tiny run)",
                       "passed": "trained" if code == 0 else f"FAILED {first}",
                       "first": "-", "seconds": seconds})
        shutil.rmtree(b.out)
        scan_rows(b)

        for kind, change in FILE_KINDS.items():
            for split in ("train", "test"):
                files = [Path(str(f).replace(str(b.clean), str(root)))
                         for f in feature_files(b.clean, split)]
                b.per_item(f"{kind}: every {split} feature file", files, change, str)

        # split files
        for split in ("train", "test"):
            sp = root / f"split_{split}.txt"
            for what, change in (("empty", lambda s: s.write_text("")),
                                 ("blank lines only", lambda s: s.write_text("\n\n")),
                                 ("missing", lambda s: s.unlink()),
                                 ("duplicate id", lambda s: s.write_text(
                                     s.read_text() + s.read_text().split()[0] + "\n")),
                                 ("lists an unknown video", lambda s: s.write_text(
                                     s.read_text() + "video_nobody\n"))):
                change(sp)
                b.case(f"split_{split}.txt {what}", b.train_argv(), sp.name)
                b.restore()

        # gt.json
        gt = root / "gt.json"
        for what, change in (
            ("zero bytes", lambda: gt.write_text("")),
            ("truncated", lambda: gt.write_text(gt.read_text()[:700])),
            ("missing", lambda: gt.unlink()),
            ("not an object with 'database'", lambda: gt.write_text("[]")),
            ("an annotation without a segment", lambda: gt_edit(root, lambda db: next(iter(
                db.values()))["annotations"].__setitem__(0, {"label": "Diving"}))),
            ("a segment end < start", lambda: gt_edit(root, lambda db: next(iter(
                db.values()))["annotations"].__setitem__(0, {"label": "Diving",
                                                             "segment": [9.0, 1.0]}))),
            ("an unknown class", lambda: gt_edit(root, lambda db: next(iter(
                db.values()))["annotations"].__setitem__(0, {"label": "Curling",
                                                             "segment": [1.0, 2.0]}))),
            ("a NaN segment", lambda: gt_edit(root, lambda db: next(iter(
                db.values()))["annotations"].__setitem__(0, {"label": "Diving",
                                                             "segment": [float("nan"), 2.0]}))),
        ):
            change()
            b.case(f"gt.json {what}", b.train_argv(), "gt.json")
            b.restore()

        def drop_test_classes(classes):
            def fn(db):
                for v in [v for v, e in db.items() if e["subset"] == "test" and any(
                        a["label"] in classes for a in e["annotations"])]:
                    del db[v]
            return fn

        for split in ("train", "test"):
            ids = (b.clean / f"split_{split}.txt").read_text().split()
            b.per_item(f"gt.json without a listed {split} video (each in turn)", ids,
                       lambda v: gt_edit(root, lambda db: db.pop(v)), lambda v: "gt.json")

        def only_listed_but_two_classes(_):
            gt_edit(root, drop_test_classes(("CleanAndJerk", "Diving")))
            ids = json.loads(gt.read_text())["database"]
            sp = root / "split_test.txt"
            sp.write_text("".join(f"{v}\n" for v in sp.read_text().split() if v in ids))
        b.per_item("gt.json holds only the listed videos, none of 2 classes in test", [0],
                   only_listed_but_two_classes, lambda _: "gt.json")

        def one_class_train(_):
            db = json.loads(gt.read_text())["database"]
            sp = root / "split_train.txt"
            sp.write_text("".join(f"{v}\n" for v in sp.read_text().split() if
                                  {a["label"] for a in db[v]["annotations"]} == {"BaseballPitch"}))
        b.per_item("split_train.txt of one class (no negative pair)", [0], one_class_train,
                   lambda _: "split_train.txt")

        # settings
        for what, extra, name in (
            ("--set train.lr=inf", ["--set", "train.lr=inf"], "train.lr"),
            ("--set train.lr=nan", ["--set", "train.lr=nan"], "train.lr"),
            ("--set train.weight_decay=-1", ["--set", "train.weight_decay=-1"],
             "train.weight_decay"),
            ("--set ftcl.lambda_fsd=-inf", ["--set", "ftcl.lambda_fsd=-inf"], "ftcl.lambda_fsd"),
            ("--set loss.guide_weight=inf", ["--set", "loss.guide_weight=inf"],
             "loss.guide_weight"),
            ("--device tpu", ["--device", "tpu"], "--device"),
            ("--device gpu", ["--device", "gpu"], "--device"),
            ("--device cuda (no CUDA here)", ["--device", "cuda"], "--device"),
            ("--device cuda:x", ["--device", "cuda:x"], "--device"),
            ("--name ../../../escape", ["--name", "../../../escape"], "--name"),
            ("--name a/b", ["--name", "a/b"], "--name"),
        ):
            b.case(what, b.train_argv(*extra), name)
        a_file = b.work / "a_file"
        a_file.write_text("x")
        b.case("--out-dir naming a file", b.train_argv(out=a_file), "out_dir")
        b.case("--out-dir below a file", b.train_argv(out=a_file / "runs"), "out_dir")

        # checkpoints and caches (a trained run first)
        assert run_cli(b.train_argv())[0] == 0
        best = next(b.out.rglob("best.pt"))
        (stage1,) = (b.out / "_stage1").rglob("*.pt")
        bad = b.work / "bad.pt"
        for what, data in (("random bytes", os.urandom(4096)), ("zero bytes", b""),
                           ("truncated", best.read_bytes()[:2000])):
            bad.write_bytes(data)
            code, first, seconds = run_cli(["evaluate", str(bad), "--data-dir", str(root)])
            ok = code == 2 and "bad.pt" in first and "weights_only" not in first
            b.rows.append({"input": f"evaluate: checkpoint of {what}",
                           "passed": f"{int(ok)}/1", "first": first.replace(str(b.work), "<tmp>"),
                           "seconds": seconds})
        from ftcl.train import load_checkpoint

        stage1.write_bytes(os.urandom(4096))
        code, first, seconds = run_cli(b.train_argv("--name", "other"))
        b.rows.append({"input": "corrupt stage-1 cache", "passed": f"{int(code == 2)}/1",
                       "first": first.replace(str(b.work), "<tmp>")[:160] + " ...",
                       "seconds": seconds})
        code, _, seconds = run_cli(b.train_argv("--name", "other", "--restart"))
        b.rows.append({"input": "corrupt stage-1 cache, --restart",
                       "passed": "repaired, trained" if code == 0 and
                       load_checkpoint(stage1)["kind"] == "stage1" else "FAILED", "first": "-",
                       "seconds": seconds})
        run_dir = best.parent
        (run_dir / ".last.pt.k9k9k9.tmp").write_bytes(b"half")
        code, _, seconds = run_cli(b.train_argv())
        b.rows.append({"input": "temp file of a killed write (.last.pt.*.tmp)",
                       "passed": "removed" if not list(run_dir.glob(".*.tmp")) else "KEPT",
                       "first": "-", "seconds": seconds})

        # a synthetic-data checkpoint evaluated with --data-dir
        sets = [f"--set={k}={v}" for k, v in TINY.items()]
        syn_out = b.work / "syn"
        assert run_cli(["train", "--dataset", "synanet", "--method", "acmnet", "--device", "cpu",
                        "--out-dir", str(syn_out), "--results", str(b.work / "results"),
                        *sets])[0] == 0
        syn_best = next(syn_out.rglob("best.pt"))
        code, first, seconds = run_cli(["evaluate", str(syn_best), "--data-dir", str(root)])
        b.rows.append({"input": "evaluate: synthetic checkpoint with --data-dir",
                       "passed": f"{int(code == 2 and '--data-dir' in first)}/1",
                       "first": first.replace(str(b.work), "<tmp>"), "seconds": seconds})

    lines = ["| bad input | named error before training | first line of the error | s |",
             "|---|---|---|---|"]
    for r in b.rows:
        first = r["first"].replace("|", "\\|")
        lines.append(f"| {r['input']} | {r['passed']} | {first} | {r['seconds']:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n", encoding="utf-8")
    return 0


def issue19_main(args) -> int:
    """``--issue19``: the fault cases of :mod:`faults` on the same fixture."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import faults

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clean = write_thumos14_fixture(work / "clean", n_snippets=args.snippets)
        rows = faults.issue19(work, clean, args.issue19 or range(1, 11))
    text = faults.table(rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
