"""The command line: ``python -m ftcl <command> ...`` (``ftcl <command>`` once installed).

Every command is here: ``train`` (one run, with every artifact the batch leaves for it:
:func:`ftcl.reproduce.run.run_and_record`), ``evaluate`` (a checkpoint on a split:
:func:`ftcl.train.evaluate_checkpoint`) and ``reproduce`` (the batch of Tables 1-5:
:func:`ftcl.reproduce.batch.reproduce`). Each is one :class:`Command` in :data:`COMMANDS` (name,
help, an ``add_arguments`` function and a ``run`` function); :func:`register` adds or replaces
one. The training stack (torch) is imported only when a command runs, so ``--help`` and
argument errors answer at once.

Every ending it anticipates is one line on stderr and an exit status, never a traceback:

====  ================================================================================
0     done
1     a run of the batch failed, or a write failed while running (``ftcl: error: cannot
      write PATH: no space left on device``, a read-only folder...), named
2     bad input, named before any work: an unknown config key, a missing or malformed
      file, a corrupt or mismatched checkpoint, a setting out of range
3     the training diverged (:class:`ftcl.train.guard.TrainingDiverged`): no run record
130   SIGINT (Ctrl-C); 143: SIGTERM. A training run saved a resumable checkpoint first
      (running the same command again resumes from it); a batch stopped its runs so.
====  ================================================================================

A warning of ftcl (an annotation kept as the release keeps it, a checkpoint of another ftcl
version) is one ``ftcl: warning: ...`` line.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import (
    DEFAULT_SEEDS,
    METHODS,
    check_device,
    check_output_dir,
    load_overrides,
    make_config,
    name_run,
    parse_assignment,
    to_dict,
)
from .interrupt import signal_name, signals_interrupt
from .io import atomic_write_json, atomic_write_text
from .paths import LAST, RESULTS, RUN_RECORD, display_path, run_directory, work_dir
from .provenance import provenance


@dataclass(frozen=True)
class Command:
    """A subcommand: ``add_arguments(parser)`` declares options, ``run(args)`` returns a code."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    epilog: str | None = None  # shown after the options (examples); kept as written


COMMANDS: dict[str, Command] = {}



COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    """Add ``command`` to the ``ftcl`` command line (replaces one of the same name)."""
    COMMANDS[command.name] = command
    return command


# ------------------------------------------------------------------------------ train

_TRAIN_EPILOG = """\
examples:
  python -m ftcl train                                  # FTCL on SynTHUMOS14 'quick' (CPU, ~30 s)
  python -m ftcl train --method acmnet --seed 1         # the ACM-Net baseline, seed 1
  python -m ftcl train --method ftcl --set ftcl.loss_form=paper --name ftcl-paper
  python -m ftcl train --dataset thumos14 --data-dir /data/THUMOS14 --device cuda
  python -m ftcl train --list-methods                   # the named methods (Tables 1-5)
  python -m ftcl train --method ftcl --show-config      # print the resolved configuration

Runs go to <out-dir>/<dataset>-<profile>/<name>/seed<k>/ (record.json, best.pt, last.pt,
predictions.csv; <name> defaults to the run id); <out-dir> defaults to $FTCL_CACHE/reproduce
(else ~/.cache/ftcl/reproduce), the folder `ftcl reproduce` uses too. The run record and, for
acmnet and ftcl on synthetic data, the mechanism record go to <results>/<profile>/runs/ and
mechanism/, as the batch writes them; <results> defaults to <out-dir>/results, so that a single
run never changes the checkout's committed results/ (--results results writes there).
Running the same command again resumes an interrupted run
(Ctrl-C saves a checkpoint) or prints the finished run's record. Configuration keys are
documented in ftcl/config.py; a YAML file may hold 'method', 'dataset', 'profile', 'seed' and
sections 'model', 'loss', 'ftcl', 'train'.
"""


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default=None, choices=sorted(METHODS), metavar="NAME",
                   help="named method (default: ftcl); see --list-methods")
    p.add_argument("--dataset", default=None,
                   help="synthumos14 (default), synanet, thumos14 or activitynet13")
    p.add_argument("--profile", default=None,
                   help="quick (default for synthetic data) or full (real data: always full)")
    p.add_argument("--seed", type=int, default=None, help="training seed (default 0)")
    p.add_argument("--config", metavar="YAML", help="file of configuration overrides")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one key, e.g. --set train.lr=3e-4 (repeatable; applied last)")
    p.add_argument("--device", default=None, help="auto (CUDA if present, default), cpu, cuda:0")
    p.add_argument("--out-dir", default=None,
                   help="root of the run folders (default: $FTCL_CACHE/reproduce, else "
                        "~/.cache/ftcl/reproduce, as for `ftcl reproduce`)")
    p.add_argument("--name", default=None,
                   help="run folder name (default: the run id, as in the batch)")
    p.add_argument("--results", default=None, metavar="DIR",
                   help="results root for the run record (default: <out-dir>/results, outside the "
                        "checkout's committed results/); writes DIR/<profile>/runs/")
    p.add_argument("--data-dir", default=None, help="real data: folder in the release layout")
    p.add_argument("--cache-dir", default=None,
                   help="synthetic data cache (default: $FTCL_CACHE or ~/.cache/ftcl)")
    p.add_argument("--restart", action="store_true",
                   help="start over instead of resuming the run folder's checkpoint (a cached "
                        "stage 1 is still reused unless it is corrupt, then it is retrained; "
                        "--set train.reuse_stage1=false always retrains it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--show-config", action="store_true",
                   help="print the resolved configuration as JSON and exit")
    p.add_argument("--list-methods", action="store_true", help="list the named methods and exit")


def _train_results(args: argparse.Namespace) -> Path:
    """Where ``ftcl train`` stores its records: ``--results``, else ``<out-dir>/results`` (a
    single run never writes into the checkout's committed ``results/`` unless asked to)."""
    return Path(args.results) if args.results else work_dir(args.out_dir) / RESULTS


def build_config(args: argparse.Namespace):
    """The :class:`~ftcl.config.RunConfig` of parsed ``train`` arguments (file, then flags),
    its run folder named after its run id unless ``--name`` gives one."""
    file = load_overrides(args.config) if args.config else {}
    method = args.method or file.pop("method", "ftcl")
    file.pop("method", None)
    dataset = args.dataset or file.pop("dataset", "synthumos14")
    file.pop("dataset", None)
    real = dataset in ("thumos14", "activitynet13")
    profile = args.profile or file.pop("profile", "full" if real else "quick")
    file.pop("profile", None)
    if real and profile != "full":
        raise ValueError(f"--profile {profile}: real datasets ({dataset}) have only the 'full' "
                         "profile")
    # Default run folder: the same root as `ftcl reproduce` ($FTCL_CACHE/reproduce, else
    # ~/.cache/ftcl/reproduce), so both commands share checkpoints and the stage-1 cache.
    out_dir = args.out_dir or file.pop("out_dir", None) or str(work_dir(None))
    flags = {"seed": args.seed, "device": args.device, "out_dir": out_dir,
             "run_name": args.name, "data_dir": args.data_dir, "cache_dir": args.cache_dir}
    overrides = dict(file)
    overrides.update({k: v for k, v in flags.items() if v is not None})
    for text in args.overrides:
        key, value = parse_assignment(text)
        overrides[key] = value
    if args.no_progress:
        overrides["train.progress"] = False
    cfg = make_config(method, dataset, profile, overrides=overrides)
    return cfg if cfg.run_name else name_run(cfg)


def _format_metrics(metrics: dict) -> str:
    thresholds = metrics["tiou_thresholds"]
    head = " ".join(f"{t:>5.2f}" for t in thresholds)
    vals = " ".join(f"{100 * m:5.1f}" for m in metrics["map"])
    lo, hi = metrics["average_range"]
    return (f"  tIoU  {head}\n  mAP%  {vals}\n"
            f"  average mAP ({lo:g}-{hi:g}): {100 * metrics['average_map']:.2f}%   "
            f"classification mAP: {100 * metrics['classification_map']:.2f}%")


def _run_train(args: argparse.Namespace) -> int:
    if args.list_methods:
        width = max(len(m) for m in METHODS)
        for name, method in METHODS.items():
            print(f"{name:<{width}}  {method.table:<20}  {method.description}")
        return 0
    cfg = build_config(args)
    check_device(cfg.device, "--device")
    if args.show_config:
        print(json.dumps(to_dict(cfg), indent=2))
        return 0
    # start-up cost: the training stack (torch, numba) only once a run starts
    from .reproduce.run import run_and_record

    run_dir = run_directory(cfg)
    if not args.restart and (run_dir / RUN_RECORD).is_file():
        print(f"ftcl: {run_dir} holds a finished run of {cfg.method} on "
              f"{cfg.dataset}/{cfg.profile}, seed {cfg.seed}: showing its record "
              "(--restart trains it again)", file=sys.stderr)
    else:
        print(f"ftcl: training {cfg.method} on {cfg.dataset}/{cfg.profile}, seed {cfg.seed} "
              f"-> {run_dir}", file=sys.stderr)
    try:
        record, stored, mechanism = run_and_record(cfg, _train_results(args),
                                                   resume=not args.restart)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        last = run_dir / LAST
        saved = ("run the same command again to resume" if last.is_file()
                 else "no checkpoint was saved yet: the same command starts it again")
        print(f"ftcl: {signal_name(signum)} received: {str(exc) or 'stopped'}; {saved}",
              file=sys.stderr)
        return 128 + signum
    print(f"{record['method']} on {record['dataset']}/{record['profile']}, seed {record['seed']}, "
          f"{record['iterations']} iterations on {record['device']} "
          f"({record['wall_time_s']['total']:.1f} s); test set, {record['selection']['reported']} "
          "model:")
    print(_format_metrics(record))
    print(f"record: {run_dir / RUN_RECORD}")
    print(f"run record: {display_path(stored)}"
          + (f"; mechanism record: {display_path(mechanism)}" if mechanism else ""))
    return 0


register(Command(
    name="train",
    help="train a method (ACM-Net, FTCL, an ablation, a Table 5 backbone) and evaluate it",
    description="Train one named method on one dataset with one seed: a two-stage schedule "
                "(backbone alone, then the method's full loss), model selection on held-out "
                "training videos, test-set evaluation, and a JSON run record.",
    add_arguments=_add_train_arguments,
    run=_run_train,
    epilog=_TRAIN_EPILOG,
))

# ------------------------------------------------------------------------------ evaluate


def _add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a best.pt / last.pt written by 'ftcl train'")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="which split to evaluate (default: test)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda:0")
    p.add_argument("--data-dir", default=None, help="real data: folder in the release layout")
    p.add_argument("--cache-dir", default=None, help="synthetic data cache")
    p.add_argument("--output", metavar="JSON", help="write the metrics to this file")
    p.add_argument("--predictions", metavar="CSV", help="write the localized segments here")


def _run_evaluate(args: argparse.Namespace) -> int:
    check_device(args.device, "--device")
    for setting, path in (("--output", args.output), ("--predictions", args.predictions)):
        if path:  # before the evaluation, not after it
            if Path(path).is_dir():
                raise ValueError(f"{setting} {path}: is a folder; give a file name")
            check_output_dir(Path(path).parent, f"{setting} {path}: its folder")
    # start-up cost: the training stack (torch, numba) only once a checkpoint is read
    from .train import evaluate_checkpoint

    metrics, proposals, holds, cfg, device = evaluate_checkpoint(
        args.checkpoint, args.split, args.device, args.data_dir, args.cache_dir)
    print(f"{args.checkpoint}: {holds['method']} ({holds['stage']}) on {cfg.dataset}/"
          f"{cfg.profile} ({args.split} split, {metrics['videos']} videos)")
    print(_format_metrics(metrics))
    if args.output:
        atomic_write_json(args.output, {"checkpoint": str(args.checkpoint), "split": args.split,
                                        **holds, "dataset": cfg.dataset,
                                        "profile": cfg.profile, **metrics,
                                        "provenance": provenance(device=str(device))})
    if args.predictions:
        atomic_write_text(args.predictions, proposals.to_csv(index=False))
    return 0


register(Command(
    name="evaluate",
    help="evaluate a trained checkpoint (detection mAP per tIoU, classification mAP)",
    description="Rebuild the model saved in a checkpoint, localize actions on a split of its "
                "dataset and print the detection mAP at each tIoU threshold, the average mAP "
                "over the paper's range and the classification mAP.",
    add_arguments=_add_evaluate_arguments,
    run=_run_evaluate,
))

# ------------------------------------------------------------------------------ reproduce

_REPRODUCE_HELP = "run every training run of Tables 1-5 through the training notebook (papermill)"
_REPRODUCE_DESCRIPTION = (
    "Plan every training run the paper's Tables 1-5 need (each method of ftcl.config.METHODS on "
    "its tables' data, once per seed), execute each through notebooks/04_train.py with "
    "papermill on a local process pool or a Ray cluster, and write results/<profile>/: run "
    "records (runs/), executed notebooks (logs/) and the tables (tables/). Runs whose record "
    "exists are skipped: an interrupted batch resumes where it stopped. On the quick profile the "
    "batch also runs the dose study of issue 21 (results/quick/dose/: its records and dose.csv; "
    "--study picks the tables' or the dose study's runs alone).")
_REPRODUCE_EPILOG = """\
examples:
  python -m ftcl reproduce --profile quick               # the quick batch on this machine
  python -m ftcl reproduce --dry-run                     # show the plan and what is done
  python -m ftcl reproduce --only acmnet ftcl --seeds 0  # part of it
  python -m ftcl reproduce --profile full --device cuda \\
      --data-dir thumos14=/data/THUMOS14 --data-dir activitynet13=/data/ANet
  ray start --head                                       # then, on a Ray cluster:
  python -m ftcl reproduce --executor ray --address auto --device cuda

Checkpoints and synthetic data stay out of results/: in --work-dir (default
$FTCL_CACHE/reproduce or ~/.cache/ftcl/reproduce) and the data cache.
"""


def _add_reproduce_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``ftcl reproduce``."""
    p.add_argument("--profile", default="quick", choices=("quick", "full"),
                   help="quick (default; synthetic data, minutes on a CPU) or full")
    p.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS), metavar="K",
                   help="seeds of every configuration (default: 0-9; on synthetic data each "
                        "seed also draws its own data set, data_seed = seed)")
    p.add_argument("--data-dir", action="append", default=[], metavar="[DATASET=]DIR",
                   help="real features in the release layout; DATASET is thumos14 (default) or "
                        "activitynet13 (repeatable); needs --profile full")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local process pool (default) or a Ray cluster")
    p.add_argument("--address", default=None,
                   help="Ray cluster address (e.g. auto, 10.0.0.1:6379); default: a local Ray")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="runs at once (default: local cores // threads, 1 on CUDA; Ray: cluster)")
    p.add_argument("--runs-per-gpu", type=int, default=1, metavar="N",
                   help="CUDA: N runs share each GPU at once (processes; default 1)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads per run (default 1 on CPU)")
    p.add_argument("--max-retries", type=int, default=2, metavar="N",
                   help="Ray: retries of a run whose worker dies (default 2)")
    p.add_argument("--only", nargs="+", default=None, metavar="METHOD",
                   help="only these methods (see 'ftcl train --list-methods')")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration key in every run (part of the run identity)")
    p.add_argument("--results", default="results", metavar="DIR",
                   help="results root (default: results); writes DIR/<profile>/")
    p.add_argument("--work-dir", default=None, metavar="DIR",
                   help="checkpoints (default: $FTCL_CACHE/reproduce or ~/.cache/ftcl/reproduce)")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="synthetic data cache (default: $FTCL_CACHE or ~/.cache/ftcl)")
    p.add_argument("--notebook", default=None, metavar="PATH",
                   help="training notebook (default: notebooks/04_train.py of this checkout)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    p.add_argument("--no-tables", action="store_true",
                   help="do not rebuild the tables (nor the dose study's dose.csv)")
    p.add_argument("--study", default="all", choices=("all", "tables", "dose"),
                   help="which runs: Tables 1-5 and (quick profile) the dose study of issue 21 "
                        "(all, default), the tables' only, or the dose study's only "
                        "(results/quick/dose/)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="write the tables even from records of several commits or a dirty "
                        "tree (refused by default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_reproduce(args: argparse.Namespace) -> int:
    # start-up cost: the training stack (torch, numba) only once a batch is planned
    from .reproduce.batch import reproduce

    return reproduce(
        args.profile, args.seeds, data_dirs=args.data_dir, only=args.only,
        overrides=dict(parse_assignment(text) for text in args.overrides), results=args.results,
        device=args.device, executor=args.executor, address=args.address, jobs=args.jobs,
        runs_per_gpu=args.runs_per_gpu, threads=args.threads, max_retries=args.max_retries,
        work=args.work_dir, cache_dir=args.cache_dir, notebook=args.notebook,
        dry_run=args.dry_run, write_tables=not args.no_tables, allow_mixed=args.allow_mixed,
        progress=not args.no_progress, study=args.study)


register(Command(name="reproduce", help=_REPRODUCE_HELP, description=_REPRODUCE_DESCRIPTION,
                 add_arguments=_add_reproduce_arguments, run=_run_reproduce,
                 epilog=_REPRODUCE_EPILOG))

# ------------------------------------------------------------------------------ entry point


def build_parser() -> argparse.ArgumentParser:
    """The ``ftcl`` parser with one subparser per registered command."""
    parser = argparse.ArgumentParser(
        prog="ftcl",
        description="FTCL (CVPR 2022) reproduced: fine-grained temporal contrastive learning for "
                    "weakly-supervised temporal action localization.",
        epilog="Run 'ftcl <command> --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"ftcl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help,
                           description=textwrap.fill(command.description, 79),
                           epilog=command.epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(p)
        p.set_defaults(_command=command)
    return parser


def _warning_printer():
    """A ``warnings.showwarning`` for one command: ftcl's warnings as one ``ftcl: warning:``
    line, each text once (the same data set opened twice warns once); others as Python shows
    them."""
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if not category.__module__.startswith("ftcl."):
            print(warnings.formatwarning(message, category, filename, lineno, line),
                  file=file or sys.stderr, end="")
        elif str(message) not in shown:
            shown.add(str(message))
            print(f"ftcl: warning: {message}", file=file or sys.stderr)
    return show


def _ending(exc: BaseException) -> int:
    """One line for an exception that ends a command (see the module docstring); its status."""
    if isinstance(exc, KeyboardInterrupt):
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"ftcl: {signal_name(signum)} received: {str(exc) or 'stopped'}", file=sys.stderr)
        return 128 + signum
    print(f"ftcl: error: {exc}", file=sys.stderr)
    if isinstance(exc, (ValueError, FileNotFoundError)):
        return 2
    return getattr(exc, "exit_code", 1)  # TrainingDiverged: 3; a failed write (OSError): 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; return the exit status (module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with signals_interrupt(), warnings.catch_warnings():
        warnings.showwarning = _warning_printer()
        try:
            return args._command.run(args)
        except (KeyboardInterrupt, ValueError, OSError) as exc:
            return _ending(exc)
        except Exception as exc:
            if not hasattr(exc, "exit_code"):  # a bug: its traceback is what helps
                raise
            return _ending(exc)
