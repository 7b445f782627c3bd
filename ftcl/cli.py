"""Command line: ``python -m ftcl <command> ...`` (``ftcl <command>`` once installed).

Each command is one :class:`Command` in :data:`COMMANDS` (name, help, an ``add_arguments``
function and a ``run`` function); :func:`register` adds one, so a new command (e.g. ``reproduce``)
is a single registration. Bad input (unknown config key, missing file, corrupt checkpoint...)
ends with ``ftcl: error: ...`` and exit status 2; Ctrl-C during training exits with 130 after
saving a resumable checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from . import reproduce
from .commands import COMMANDS, Command, register

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
predictions.csv); <out-dir> defaults to $FTCL_CACHE/reproduce (else ~/.cache/ftcl/reproduce),
the folder `ftcl reproduce` uses too. Running the same command again resumes an interrupted run
(Ctrl-C saves a checkpoint) or prints the finished run's record. Configuration keys are
documented in ftcl/config.py; a YAML file may hold 'method', 'dataset', 'profile', 'seed' and
sections 'model', 'loss', 'ftcl', 'train'.
"""


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    from .config import METHODS

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
                   help="run folder name (default: the method); use one per config variant")
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


def build_config(args: argparse.Namespace):
    """The :class:`~ftcl.config.RunConfig` of parsed ``train`` arguments (file, then flags)."""
    from .config import load_overrides, make_config, parse_assignment
    from .runs import work_dir

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
    return make_config(method, dataset, profile, overrides=overrides)


def _format_metrics(metrics: dict) -> str:
    thresholds = metrics["tiou_thresholds"]
    head = " ".join(f"{t:>5.2f}" for t in thresholds)
    vals = " ".join(f"{100 * m:5.1f}" for m in metrics["map"])
    lo, hi = metrics["average_range"]
    return (f"  tIoU  {head}\n  mAP%  {vals}\n"
            f"  average mAP ({lo:g}-{hi:g}): {100 * metrics['average_map']:.2f}%   "
            f"classification mAP: {100 * metrics['classification_map']:.2f}%")


def _run_train(args: argparse.Namespace) -> int:
    from .config import METHODS, to_dict
    from .train import run_directory, train

    if args.list_methods:
        width = max(len(m) for m in METHODS)
        for name, method in METHODS.items():
            print(f"{name:<{width}}  {method.table:<20}  {method.description}")
        return 0
    cfg = build_config(args)
    from .validate import check_device, check_run_name

    check_device(cfg.device, "--device")
    check_run_name(cfg.run_name)
    if args.show_config:
        print(json.dumps(to_dict(cfg), indent=2))
        return 0
    run_dir = run_directory(cfg)
    if not args.restart and (run_dir / "record.json").is_file():
        print(f"ftcl: {run_dir} holds a finished run of {cfg.method} on "
              f"{cfg.dataset}/{cfg.profile}, seed {cfg.seed}: showing its record "
              "(--restart trains it again)", file=sys.stderr)
    else:
        print(f"ftcl: training {cfg.method} on {cfg.dataset}/{cfg.profile}, seed {cfg.seed} "
              f"-> {run_dir}", file=sys.stderr)
    try:
        record = train(cfg, resume=not args.restart)
    except KeyboardInterrupt:
        print(f"ftcl: interrupted; run the same command again to resume from "
              f"{run_dir / 'last.pt'}", file=sys.stderr)
        return 130
    print(f"{record['method']} on {record['dataset']}/{record['profile']}, seed {record['seed']}, "
          f"{record['iterations']} iterations on {record['device']} "
          f"({record['wall_time_s']['total']:.1f} s); test set, {record['selection']['reported']} "
          "model:")
    print(_format_metrics(record))
    print(f"record: {run_dir / 'record.json'}")
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


def checkpoint_contents(ckpt: dict) -> dict:
    """What a checkpoint's weights really are: ``method``, ``stage`` (text), ``kind``, ``run``.

    A stage-1 file (or a ``last.pt`` saved during stage 1) holds the backbone trained with its
    own objective only, whatever method's run produced it, so its method is the backbone's name;
    ``best.pt`` and a stage-2 ``last.pt`` hold the run's method.
    """
    from .config import from_dict

    cfg = from_dict(ckpt["config"])
    kind = ckpt.get("kind")
    state = ckpt.get("state") or {}
    if kind == "stage1" or (kind == "train-state" and state.get("stage") == 1):
        iters = (ckpt.get("stage1") or {}).get("iterations", state.get("iteration"))
        stage = f"stage 1: {cfg.model.backbone} objective only, {iters} iterations"
        method = cfg.model.backbone
    elif kind == "model":
        stage = f"stage 2, selected at iteration {ckpt.get('iteration')}"
        method = cfg.method
    else:
        done = " (finished)" if state.get("finished") else ""
        stage = f"stage 2, iteration {state.get('iteration')}{done}"
        method = cfg.method
    return {"method": method, "stage": stage, "checkpoint_kind": kind,
            "run": cfg.run_name or cfg.method}


def _run_evaluate(args: argparse.Namespace) -> int:
    import dataclasses

    from .data import get_spec
    from .device import choose_device
    from .io import atomic_write_json, atomic_write_text
    from .provenance import provenance
    from .train import _check_against, evaluate, load_data, model_from_checkpoint
    from .validate import check_data, check_device

    check_device(args.device, "--device")
    device = choose_device(args.device)
    model, cfg, ckpt = model_from_checkpoint(args.checkpoint, device)
    synthetic = get_spec(cfg.dataset, cfg.profile).synthetic
    if synthetic and args.data_dir is not None:
        raise ValueError(f"--data-dir {args.data_dir}: checkpoint {args.checkpoint} was trained "
                         f"on synthetic data ({cfg.dataset}), which is generated, not read from "
                         "a folder; drop --data-dir (or evaluate a checkpoint trained with "
                         "--dataset thumos14/activitynet13 --data-dir)")
    if not synthetic and args.cache_dir is not None:
        raise ValueError(f"--cache-dir {args.cache_dir}: checkpoint {args.checkpoint} was "
                         f"trained on real features ({cfg.dataset}); the synthetic data cache "
                         "is not used: drop --cache-dir (use --data-dir)")
    changes = {k: v for k, v in (("data_dir", args.data_dir), ("cache_dir", args.cache_dir))
               if v is not None}
    cfg = dataclasses.replace(cfg, **changes)
    data = load_data(cfg)
    check_data(data, cfg)
    _check_against(ckpt, cfg, data.spec, Path(args.checkpoint))
    holds = checkpoint_contents(ckpt)
    dataset = data.test if args.split == "test" else data.train
    metrics, proposals = evaluate(model, dataset, data.spec, batch_size=cfg.train.eval_batch_size)
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

register(reproduce.command())

# ------------------------------------------------------------------------------ entry point


def build_parser() -> argparse.ArgumentParser:
    """The ``ftcl`` parser with one subparser per registered command."""
    from . import __version__

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


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args._command.run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"ftcl: error: {exc}", file=sys.stderr)
        return 2
