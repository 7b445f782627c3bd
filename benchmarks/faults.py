"""The ten faults of issue 19, tried as a hostile user would (``bench_bad_inputs.py --issue19``).

Each case runs the real command (``python -m ftcl ...`` in a subprocess where it is about
processes, signals or resource limits; :func:`ftcl.cli.main` in this process otherwise) and
reports its exit status, the line it printed that says the most (an ``ftcl: error:`` or
``warning`` line, else the last line), and what was lost or published. The table is the
"before/after" evidence of issue 19: run it on main and on the branch that fixes it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
# A tiny run: ~5 ms a step on one core.
TINY = {"model.embed_dim": 8, "ftcl.proj_dim": 8, "ftcl.fsd_len": 2, "ftcl.lcs_len": 4,
        "train.batch_size": 4, "train.pretrain_iterations": 3, "train.iterations": 3,
        "train.eval_every": 3, "train.num_threads": 1}


def sets(over: dict | None = None, skip: tuple = ()) -> list[str]:
    merged = {**TINY, **(over or {})}
    return [f"--set={k}={v}" for k, v in merged.items() if k not in skip]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def telling(text: str, work: Path) -> str:
    """The line of ``text`` that says the most: an error, a warning, a resume notice, else the
    last non-empty line (paths of the temporary folder shortened to <tmp>)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    raised = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", ln)]
    if "Traceback" in text and raised and not any("ftcl: error:" in ln for ln in lines):
        return "traceback: " + raised[-1].replace(str(work), "<tmp>")[:280]
    for key in ("ftcl: error:", "error:", "stopped at", "reproduce interrupted", "warning",
                "resum", "Error", "Traceback"):
        hits = [ln for ln in lines if key in ln]
        if hits:
            line = hits[0] if key != "Error" else hits[-1]
            break
    else:
        line = lines[-1] if lines else "(nothing printed)"
    return line.replace(str(work), "<tmp>")[:300]


def cli(argv: list[str]) -> tuple[object, str]:
    """``ftcl.cli.main(argv)`` in this process: (exit status, everything printed)."""
    from ftcl.cli import main

    out = io.StringIO()
    with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # noqa: BLE001 - a raw traceback is what we measure
            code = "traceback"
            out.write(f"Traceback (raw): {type(exc).__name__}: {exc}\n")
    return code, out.getvalue()


def sub(cmd: list[str], timeout: float = 300, preexec=None, **kw) -> tuple[object, str]:
    """Run ``cmd`` to its end (or ``timeout``: status "timeout (hang)"); status and output."""
    p = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True, preexec_fn=preexec, **kw)
    try:
        out, _ = p.communicate(timeout=timeout)
        code = p.returncode
        return (f"{code} ({signal.Signals(-code).name})" if code < 0 else code), out
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return f"timeout after {timeout:.0f} s (hang)", out


def _kernels(pid: int) -> list:
    try:
        tree = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            if "ipykernel" in " ".join(p.cmdline()):
                out.append(p)
    return out


class Faults:
    """The cases, each adding rows ``point, case, command, status, printed, lost``."""

    def __init__(self, work: Path, clean_root: Path):
        self.work = work
        self.clean = clean_root
        self.cache = work / "cache"
        self.rows: list[dict] = []

    # -- helpers ---------------------------------------------------------------------------

    def row(self, point: int, case: str, command: str, status, printed: str, lost: str = ""):
        self.rows.append({"point": point, "case": case, "command": command,
                          "status": status, "printed": telling(printed, self.work),
                          "lost": lost.replace(str(self.work), "<tmp>")})
        print(f"  [{point}] {case}: {status}", file=sys.stderr, flush=True)

    def data(self, name: str) -> Path:
        root = self.work / name
        if root.exists():
            shutil.rmtree(root)
        return Path(shutil.copytree(self.clean, root))

    def train_argv(self, root: Path | None, out: Path, over: dict | None = None,
                   method: str = "acmnet") -> list[str]:
        data = (["--dataset", "thumos14", "--data-dir", str(root)] if root is not None
                else ["--cache-dir", str(self.cache)])
        return ["train", "--method", method, *data, "--device", "cpu", "--out-dir", str(out),
                "--no-progress", *sets(over)]

    def batch_cmd(self, results: Path, work: Path, over: dict | None = None,
                  extra: tuple = ()) -> list[str]:
        return [PY, "-m", "ftcl", "reproduce", "--only", "acmnet", "--seeds", "0", "--jobs", "2",
                "--threads", "1", "--device", "cpu", "--results", str(results), "--work-dir",
                str(work), "--cache-dir", str(self.cache), "--no-progress", "--allow-mixed",
                *extra, *[a for a in sets(over, skip=("train.num_threads",))]]

    # -- 1: a run that learned nothing ---------------------------------------------------------

    def point1(self) -> None:
        root = self.data("huge")
        for f in root.glob("*/*.npy"):
            a = np.load(f)
            np.save(f, ((np.sign(a) + 0.5) * 1e30).astype(np.float32))
        out = self.work / "p1"
        code, text = cli(self.train_argv(root, out, method="ftcl"))
        rec = next(out.rglob("record.json"), None)
        lost = "no record"
        if rec is not None:
            r = json.loads(rec.read_text())
            lost = (f"record.json written: status {r['status']!r}, skipped_steps "
                    f"{r['skipped_steps']} of {r['iterations']}")
        self.row(1, "every feature ~1e30 (every step NaN)", "ftcl train --data-dir <features "
                 "x 1e30>", code, text, lost)
        code, text = cli(self.train_argv(self.clean, self.work / "p1b", {"train.lr": 1e30},
                                         method="ftcl"))
        written = any((self.work / "p1b").rglob("record.json"))
        self.row(1, "lr = 1e30 (loss diverges)", "ftcl train --set train.lr=1e30", code, text,
                 f"record.json: {'written' if written else 'none'}")

    # -- 2: SIGTERM, Ctrl-C of a batch ----------------------------------------------------------

    def point2(self) -> None:
        out = self.work / "p2"
        long = {"train.pretrain_iterations": 20000, "train.iterations": 20,
                "train.eval_every": 10}
        cmd = [PY, "-m", "ftcl", *self.train_argv(self.clean, out, long)]
        p = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
        time.sleep(12)
        p.send_signal(signal.SIGTERM)
        text, _ = p.communicate(timeout=120)
        code = p.returncode
        run_dir = next(out.rglob("seed0"), out)
        kept = sorted(f.name for f in run_dir.glob("*") if f.name != ".lock")
        self.row(2, "SIGTERM a training run after 12 s", "kill -TERM <ftcl train>",
                 f"{code}" + (f" ({signal.Signals(-code).name})" if code < 0 else ""),
                 text or "(nothing printed)", f"files kept in the run folder: {kept or 'none'}")
        p = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
        time.sleep(8)
        os.killpg(p.pid, signal.SIGKILL)
        text, _ = p.communicate()
        self.row(2, "the same command again", "ftcl train (same arguments)", "(killed after 8 s)",
                 text.splitlines()[0] if text else "", "says it resumes?" +
                 (" yes" if "resum" in text else " no: starts from iteration 0"))
        # Ctrl-C (SIGINT to the process group, as a terminal sends it) of a batch
        results, work = self.work / "p2-results", self.work / "p2-work"
        cmd = self.batch_cmd(results, work, {"train.pretrain_iterations": 20000})
        p = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 240
        while len(_kernels(p.pid)) < 2 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.5)
        time.sleep(8)
        os.killpg(p.pid, signal.SIGINT)
        text, _ = p.communicate(timeout=240)
        tracebacks = text.count("Traceback")
        resumable = sorted(str(f.relative_to(work)) for f in work.rglob("last.pt"))
        self.row(2, "Ctrl-C of a batch (2 runs training)", "kill -INT -<batch process group>",
                 p.returncode, f"{tracebacks} traceback(s) printed; " + telling(text, self.work),
                 f"resumable last.pt of the interrupted runs: {len(resumable)}")

    # -- 3: two batches on one folder -------------------------------------------------------

    def point3(self) -> None:
        results, work = self.work / "p3-results", self.work / "p3-work"
        cmd = self.batch_cmd(results, work, {"train.pretrain_iterations": 400}, ("--no-tables",))
        procs = []
        for _ in range(2):
            procs.append(subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True,
                                          start_new_session=True))
            time.sleep(2)
        for name, p in zip(("first", "second"), procs, strict=True):
            text, _ = p.communicate(timeout=600)
            failed = [ln for ln in text.splitlines() if ln.startswith("FAILED")]
            self.row(3, f"two batches, one work folder: the {name}",
                     "ftcl reproduce ... (twice, 2 s apart, same --results and --work-dir)",
                     p.returncode, failed[0] if failed else text,
                     f"{len(failed)} run(s) reported FAILED")

    # -- 4: tampered and stray records ------------------------------------------------------

    def point4(self) -> None:
        results, work = self.work / "p4-results", self.work / "p4-work"
        cmd = self.batch_cmd(results, work)
        code, text = sub(cmd, timeout=600)
        runs = results / "quick" / "runs"
        rec = next(iter(sorted(runs.glob("synthumos14-acmnet-*.json"))), None)
        if rec is None:
            self.row(4, "(setup batch failed)", " ".join(cmd[3:6]), code, text)
            return
        original = rec.read_text()
        data = json.loads(original)
        data["map"] = [0.99] * len(data["map"])
        data["average_map"] = data["classification_map"] = 0.99
        rec.write_text(json.dumps(data, indent=2))
        code, text = sub(cmd, timeout=300)
        table = (results / "quick" / "tables" / "table1.md").read_text()
        self.row(4, "a record hand-edited to average mAP 0.99", "edit runs/<id>.json; ftcl "
                 "reproduce (same batch: tables rebuilt)", code, text,
                 "published in table1.md: " + ("yes (99.0 in the table)" if "99.0" in table
                                               else "no"))
        rec.write_text(original)  # restored: only the stray file is new
        (runs / "notes.json").write_text('{"note": "look at seed 3"}\n')
        code, text = sub(cmd, timeout=300)
        self.row(4, "an unrelated notes.json in runs/", "ftcl reproduce (tables rebuilt)", code,
                 text)

    # -- 5: threads ---------------------------------------------------------------------------

    def point5(self) -> None:
        for n, timeout in ((100000, 120), (5000, 40)):
            code, text = sub([PY, "-m", "ftcl", *self.train_argv(
                None, self.work / "p5", {"train.num_threads": n})], timeout=timeout)
            self.row(5, f"train.num_threads={n}", f"ftcl train --set train.num_threads={n}",
                     code, text)
        results, work = self.work / "p5-results", self.work / "p5-work"
        cmd = self.batch_cmd(results, work, extra=("--no-tables",))
        cmd[cmd.index("--threads") + 1] = "100000"
        code, text = sub(cmd, timeout=300)
        failed = [ln for ln in text.splitlines() if "FAILED" in ln or "error" in ln]
        self.row(5, "batch --threads 100000", "ftcl reproduce --threads 100000", code,
                 failed[0] if failed else text)
        code, text = sub([*cmd, "--dry-run"], timeout=120)
        self.row(5, "batch --threads 100000 --dry-run", "ftcl reproduce --threads 100000 "
                 "--dry-run", code, text)

    # -- 6: disk full, read-only folders ----------------------------------------------------

    def _limited(self, nbytes: int):
        def preexec():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
        return preexec

    def point6(self) -> None:
        out = self.work / "p6"
        code, text = sub([PY, "-m", "ftcl", *self.train_argv(None, out)], timeout=300,
                         preexec=self._limited(200_000))
        temps = [p.name for p in out.rglob(".*.tmp")]
        self.row(6, "a file size limit of 200 kB (RLIMIT_FSIZE: EFBIG at the write)",
                 "ulimit -f 200; ftcl train", code, text,
                 f"temp files left: {temps or 'none'}")
        tmpfs = self.work / "tmpfs"
        tmpfs.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs",
                                  str(tmpfs)], capture_output=True).returncode == 0
        if mounted:
            try:
                code, text = sub([PY, "-m", "ftcl", *self.train_argv(None, tmpfs / "o")],
                                 timeout=300)
                temps = [p.name for p in tmpfs.rglob(".*.tmp")]
                self.row(6, "--out-dir on a full 100 kB tmpfs (ENOSPC)", "ftcl train "
                         "--out-dir <tmpfs>", code, text, f"temp files left: {temps or 'none'}")
            finally:
                subprocess.run(["umount", str(tmpfs)], check=False)
        ro = self.work / "ro"
        ro.mkdir()
        ro_mounted = os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=100k,ro", "tmpfs", str(ro)],
            capture_output=True).returncode == 0
        if not ro_mounted:
            ro.chmod(0o555)
        try:
            argv = self.train_argv(None, self.work / "p6b")
            argv[argv.index("--cache-dir") + 1] = str(ro / "cache")
            code, text = cli([*argv, "--set", "data_seed=7"])
            self.row(6, "read-only --cache-dir (fresh synthetic data)", "ftcl train --cache-dir "
                     "<read-only>", code, text)
            ckpt = self._synthetic_checkpoint()
            t0 = time.perf_counter()
            code, text = cli(["evaluate", str(ckpt), "--cache-dir", str(self.cache), "--device",
                              "cpu", "--output", str(ro / "metrics.json")])
            self.row(6, "evaluate --output in a read-only folder", "ftcl evaluate CKPT --output "
                     "<read-only>/m.json", code, text,
                     f"evaluated first: {time.perf_counter() - t0:.1f} s")
        finally:
            if ro_mounted:
                subprocess.run(["umount", str(ro)], check=False)

    def _synthetic_checkpoint(self) -> Path:
        out = self.work / "synthetic-run"
        if not any(out.rglob("best.pt")):
            code, text = cli(self.train_argv(None, out))
            assert code == 0, text
        return next(out.rglob("best.pt"))

    # -- 7: annotations -------------------------------------------------------------------------

    def point7(self) -> None:
        def edit(root: Path, change) -> None:
            path = root / "gt.json"
            gt = json.loads(path.read_text())
            vid = (root / "split_train.txt").read_text().split()[0]
            change(gt["database"][vid])
            path.write_text(json.dumps(gt))

        def past_end(e):
            e["annotations"][0]["segment"] = [e["duration"] + 10.0, e["duration"] + 20.0]

        def zero(e):
            s = e["annotations"][0]["segment"][0]
            e["annotations"][0]["segment"] = [s, s]

        def negative(e):
            s, t = e["annotations"][0]["segment"]
            e["annotations"][0]["segment"] = [t, s]

        def duplicate(e):
            e["annotations"].append(dict(e["annotations"][0]))

        for what, change in (("a segment beyond the video's end", past_end),
                             ("a zero-length segment", zero),
                             ("a negative-length segment (end < start)", negative),
                             ("an exact duplicate segment", duplicate)):
            root = self.data("p7-data")
            edit(root, change)
            code, text = cli(self.train_argv(root, self.work / "p7"))
            shutil.rmtree(self.work / "p7", ignore_errors=True)
            self.row(7, what, "ftcl train --data-dir <gt.json edited>", code, text)

    # -- 8: feature files -------------------------------------------------------------------

    def point8(self) -> None:
        def npz(p):
            a = np.load(p)
            with open(p, "wb") as fh:
                np.savez(fh, features=a)

        def fifo(p):
            p.unlink()
            os.mkfifo(p)

        def folder(p):
            p.unlink()
            p.mkdir()

        def dev_zero(p):
            p.unlink()
            p.symlink_to("/dev/zero")

        def junk(p):
            with open(p, "ab") as fh:
                fh.write(b"junk after the array" * 10)

        for what, change in ((".npz archive saved as .npy", npz), ("a FIFO", fifo),
                             ("a directory", folder), ("a link to /dev/zero", dev_zero),
                             ("junk bytes appended after a valid array", junk)):
            root = self.data("p8-data")
            first = (root / "split_train.txt").read_text().split()[0]
            change(root / "train" / f"{first}.npy")
            code, text = sub([PY, "-m", "ftcl", *self.train_argv(root, self.work / "p8")],
                             timeout=60)
            shutil.rmtree(self.work / "p8", ignore_errors=True)
            self.row(8, what, "ftcl train --data-dir <one feature file replaced>", code, text)

    # -- 9: numbers, encodings, papermill parameters ----------------------------------------

    def point9(self) -> None:
        code, text = cli([*self.train_argv(None, self.work / "p9"), "--seed",
                          "100000000000000000000"])
        self.row(9, "--seed 1e20 (as an integer)", "ftcl train --seed 100000000000000000000",
                 code, text)
        cfg = self.work / "latin1.yaml"
        cfg.write_bytes("train:\n  lr: 3.0e-4  # caf\u00e9\n".encode("latin-1"))
        code, text = cli([*self.train_argv(None, self.work / "p9"), "--config", str(cfg)])
        self.row(9, "a config file in Latin-1, not UTF-8", "ftcl train --config latin1.yaml",
                 code, text)
        nb = REPO / "notebooks"
        code, text = sub([PY, "-m", "papermill", str(nb / "04_train.ipynb"),
                          str(self.work / "04.ipynb"), "-p", "overrides",
                          '{"train.iterations": 2}', "--cwd", str(nb)], timeout=300)
        self.row(9, "papermill overrides given as a string", "papermill 04_train.ipynb -p "
                 "overrides '{...}'", code, text)
        code, text = sub([PY, "-m", "papermill", str(nb / "03_data.ipynb"),
                          str(self.work / "03.ipynb"), "-p", "example_video", "no_such_video",
                          "-p", "sweep_videos", "0", "--cwd", str(nb)], timeout=300)
        shown = "" if code else "ran to the end: the figure shows another video, unnamed"
        self.row(9, "a bad example_video in the data notebook", "papermill 03_data.ipynb -p "
                 "example_video no_such_video", code, text, shown)

    # -- 10: evaluate against the wrong data, a newer checkpoint -----------------------------

    def point10(self) -> None:
        import torch

        ckpt = torch.load(self._synthetic_checkpoint(), weights_only=True)
        relabelled = self.work / "relabelled.pt"
        torch.save({**ckpt, "config": {**ckpt["config"], "dataset": "synanet"}}, relabelled)
        code, text = cli(["evaluate", str(relabelled), "--cache-dir", str(self.cache),
                          "--device", "cpu"])
        self.row(10, "a SynTHUMOS14 (20-class) model evaluated on SynANet (20 classes)",
                 "ftcl evaluate <checkpoint relabelled synanet>", code, text)
        newer = self.work / "newer.pt"
        torch.save({**ckpt, "ftcl_version": "9.9.0"}, newer)
        code, text = cli(["evaluate", str(newer), "--cache-dir", str(self.cache), "--device",
                          "cpu"])
        self.row(10, "a checkpoint written by ftcl 9.9.0", "ftcl evaluate <9.9.0 checkpoint>",
                 code, text)


def issue19(work: Path, clean_root: Path, points=range(1, 11)) -> list[dict]:
    """Run the cases of the given points; return the rows."""
    f = Faults(work, clean_root)
    for k in points:
        t0 = time.perf_counter()
        getattr(f, f"point{k}")()
        print(f"point {k}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return f.rows


def table(rows: list[dict]) -> str:
    lines = ["| # | case | command | exit | printed | lost / published |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [str(r["point"]), r["case"], f"`{r['command']}`", str(r["status"]),
                 r["printed"], r["lost"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
