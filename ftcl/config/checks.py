"""Every check of a run configuration, in one place (fail fast, name the key).

:func:`check_values` holds every check of the values alone: each key is one of its choices and in
its range (:func:`check_choices`, :func:`check_ranges`), every number is finite (checked first:
``--set train.lr=inf`` is refused here, not as "mu contains NaN or inf" in stage 2), and the run
name is one plain folder name (``--name ../../../escape`` is refused). It runs when a
configuration is built (:func:`ftcl.config.make_config`, :func:`ftcl.config.from_dict`), so the
batch's driver refuses a bad ``--set`` before any worker starts.

:func:`check_settings` adds what the configuration needs of this machine, before the trainer reads
any data: the device is one torch knows and this machine has (``--device tpu`` / ``gpu`` /
``cuda`` without CUDA), the thread count is one this machine has cores for (:func:`check_threads`:
``train.num_threads=100000`` crashes torch, 5000 stalls it; the batch checks its ``--jobs`` and
``--threads`` the same way), the output folder can be created and written (an ``--out-dir`` naming a
file is refused) and the run folder stays inside it. :func:`check_lengths` checks the FTCL
proposals against the data's snippet count once the data is known.

The checks of the data themselves (features, ground truth, video pairs) are
:mod:`ftcl.data.checks`. Each failure is a ``ValueError`` naming the key or the file, so ``ftcl``
ends with ``ftcl: error: ...`` in seconds instead of after stage 1.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from ..paths import run_directory
from .presets import METHODS, PROFILES
from .sections import (
    ACTIVATIONS,
    BACKBONE_NAMES,
    BACKGROUNDS,
    LCS_THRESHOLD_FORMS,
    LOSS_FORMS,
    MEASURES,
    ORACLES,
    SAMPLINGS,
    SELECTIONS,
    STAGE2_SCHEDULES,
    TERM_SCALES,
    RunConfig,
)

DEVICE_TYPES = ("cpu", "cuda", "mps")
# Seeds seed numpy, torch and Python alike; 2^32 - 1 is the largest every one of them accepts.
MAX_SEED = 2**32 - 1
#: The largest share of a stage's steps (or of a run's) a run may skip for a non-finite loss and
#: still count: ftcl.train.guard fails a run past it, ftcl.report.records refuses its record.
MAX_SKIPPED_FRACTION = 0.25


def too_many_skipped(skipped: int, steps: int) -> bool:
    """True if ``skipped`` of ``steps`` exceeds :data:`MAX_SKIPPED_FRACTION`."""
    return steps > 0 and skipped > MAX_SKIPPED_FRACTION * steps

# Range checks beyond ftcl.config.validate: (section, key) -> (test, what).
_RANGES = {
    ("train", "weight_decay"): (lambda v: v >= 0, "must be >= 0"),
    ("train", "eval_batch_size"): (lambda v: v >= 1, "must be >= 1"),
    ("train", "num_threads"): (lambda v: v is None or v >= 1, "must be >= 1 or null"),
    ("ftcl", "lambda_fsd"): (lambda v: v >= 0, "must be >= 0"),
    ("ftcl", "lambda_lcs"): (lambda v: v >= 0, "must be >= 0"),
    ("ftcl", "fsd_margin"): (lambda v: v >= 0, "must be >= 0"),
    ("ftcl", "cc_weight"): (lambda v: v >= 0, "must be >= 0"),
    ("ftcl", "lambda_oracle"): (lambda v: v >= 0, "must be >= 0"),
    ("loss", "wtalc_lambda"): (lambda v: 0 <= v <= 1, "must be in [0, 1]"),
    ("loss", "cola_temperature"): (lambda v: v > 0, "must be positive"),
}



def check_values(cfg: RunConfig) -> None:
    """Every check of the configuration's values (see the module docstring); ``ValueError``
    naming the first bad key."""
    check_finite(cfg)
    check_choices(cfg)
    check_ranges(cfg)
    check_run_name(cfg.run_name)


def check_choices(cfg: RunConfig) -> None:
    """Raise ``ValueError`` naming the key for any value that is not one of its choices or is
    out of its range (the checks of the schema, :mod:`ftcl.config.sections`)."""
    def check(ok: bool, key: str, what: str) -> None:
        if not ok:
            raise ValueError(f"config key {key!r}: {what}")

    m, f, t = cfg.model, cfg.ftcl, cfg.train
    check(cfg.method in METHODS, "method", f"unknown method; choose one of {sorted(METHODS)}")
    check(cfg.data_version in (1, 2, 3), "data_version", "must be 1, 2 or 3 (ftcl.data.knobs)")
    check(m.backbone in BACKBONE_NAMES, "model.backbone", f"must be one of {BACKBONE_NAMES}")
    check(m.embed_dim is None or m.embed_dim > 0, "model.embed_dim", "must be positive or null")
    check(0 <= m.dropout < 1, "model.dropout", "must be in [0, 1)")
    check(min(m.topk_divisors) >= 1, "model.topk_divisors", "must be positive")
    check(f.action_measure in MEASURES, "ftcl.action_measure", f"must be one of {MEASURES}")
    check(f.pair_measure in MEASURES, "ftcl.pair_measure", f"must be one of {MEASURES}")
    check(f.loss_form in LOSS_FORMS, "ftcl.loss_form", f"must be one of {LOSS_FORMS}")
    check(f.activation in ACTIVATIONS, "ftcl.activation", f"must be one of {ACTIVATIONS}")
    check(f.fsd_len >= 1, "ftcl.fsd_len", "must be >= 1")
    check(f.lcs_len >= 1, "ftcl.lcs_len", "must be >= 1")
    check(f.proj_dim >= 2 and f.proj_dim % 2 == 0, "ftcl.proj_dim", "must be even and >= 2")
    check(f.gamma > 0, "ftcl.gamma", "must be positive")
    check(f.lcs_threshold_form in LCS_THRESHOLD_FORMS, "ftcl.lcs_threshold_form",
          f"must be one of {LCS_THRESHOLD_FORMS}")
    check(f.loss_form == "code" or f.lcs_threshold_form == "release-ftcl",
          "ftcl.lcs_threshold_form", "applies to the code form only (ftcl.loss_form='code'); "
          "the paper form compares the raw cosines with tau")
    check(f.background in BACKGROUNDS, "ftcl.background", f"must be one of {BACKGROUNDS}")
    check(f.term_scale in TERM_SCALES, "ftcl.term_scale", f"must be one of {TERM_SCALES}")
    check(f.dtw_gamma > 0, "ftcl.dtw_gamma", "must be positive")
    check(0 <= f.drop_quantile <= 1, "ftcl.drop_quantile", "must be in [0, 1]")
    _check_dose_keys(f, check)
    check(t.lr > 0, "train.lr", "must be positive")
    check(t.batch_size >= 2, "train.batch_size", "must be >= 2")
    check(t.pretrain_iterations >= 0, "train.pretrain_iterations", "must be >= 0")
    check(t.iterations >= 0, "train.iterations", "must be >= 0")
    check(t.iterations >= 1 or t.select_stage1 or t.selection == "last", "train.iterations",
          "0 (stage 1 only) needs train.select_stage1 or train.selection='last'")
    check(t.stage2_lr is None or t.stage2_lr > 0, "train.stage2_lr", "must be positive or null")
    check(t.stage2_schedule in STAGE2_SCHEDULES, "train.stage2_schedule",
          f"must be one of {STAGE2_SCHEDULES}")
    check(t.eval_every >= 1, "train.eval_every", "must be >= 1")
    check(0 <= t.grad_share_tail <= 1, "train.grad_share_tail", "must be in [0, 1]")
    check(t.selection in SELECTIONS, "train.selection", f"must be one of {SELECTIONS}")
    check(0 < t.holdout_fraction < 1, "train.holdout_fraction", "must be in (0, 1)")
    check(t.sampling in SAMPLINGS, "train.sampling", f"must be one of {SAMPLINGS}")
    check(t.data_on_device in ("auto", True, False), "train.data_on_device",
          "must be auto, true or false")
    check(0 <= cfg.seed <= MAX_SEED, "seed", f"must be an integer in [0, {MAX_SEED}] (2^32 - 1)")
    check(cfg.data_seed is None or 0 <= cfg.data_seed <= MAX_SEED, "data_seed",
          f"must be null or an integer in [0, {MAX_SEED}] (2^32 - 1)")


def _check_dose_keys(f, check) -> None:
    """The oracle and ladder keys of the dose study (issue 21)."""
    check(f.oracle in ORACLES, "ftcl.oracle", f"must be one of {ORACLES}")
    check(f.oracle_snippets >= 1, "ftcl.oracle_snippets", "must be >= 1")
    check(f.oracle_temperature > 0, "ftcl.oracle_temperature", "must be positive")
    check(f.proposals in ("attention", "planted"), "ftcl.proposals", "must be attention or planted")
    check(f.matches in ("dp", "planted"), "ftcl.matches", "must be dp or planted")
    check(f.matches == "dp" or {f.action_measure, f.pair_measure} <= {"fsd", "lcs", "none"},
          "ftcl.matches", "'planted' applies to the fsd and lcs measures only")
    check(f.fsd_head in ("projection", "none"), "ftcl.fsd_head", "must be projection or none")
    check(f.lcs_tau_rule in ("fixed", "quantile"), "ftcl.lcs_tau_rule", "must be fixed or quantile")
    check(0 < f.lcs_tau_quantile < 1, "ftcl.lcs_tau_quantile", "must be in (0, 1)")


def check_lengths(cfg: RunConfig, num_segments: int) -> None:
    """Raise ``ValueError`` if the FTCL proposals do not fit in ``num_segments`` snippets."""
    f = cfg.ftcl
    if f.enabled and 2 * f.fsd_len > num_segments:
        raise ValueError(f"config key 'ftcl.fsd_len'={f.fsd_len}: two proposals of fsd_len "
                         f"snippets need T >= {2 * f.fsd_len}, the data has T={num_segments}")
    if f.enabled and f.lcs_len > num_segments:
        raise ValueError(f"config key 'ftcl.lcs_len'={f.lcs_len} exceeds T={num_segments}")


def _numbers(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of every field of a (nested) configuration dataclass."""
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out += _numbers(value, f"{key}.")
        else:
            out.append((key, value))
    return out


def check_finite(cfg) -> None:
    """Raise ``ValueError`` naming the first configuration key holding NaN or inf."""
    for key, value in _numbers(cfg):
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"config key {key!r}={v!r}: must be a finite number")


def check_ranges(cfg) -> None:
    """The ranges :func:`check_choices` leaves out (see :data:`_RANGES`)."""
    for (section, name), (ok, what) in _RANGES.items():
        sec = getattr(cfg, section, None)
        if sec is None or not hasattr(sec, name):
            continue
        value = getattr(sec, name)
        if not ok(value):
            raise ValueError(f"config key '{section}.{name}'={value!r}: {what}")


def check_device(name: Any, setting: str = "device") -> None:
    """Raise ``ValueError`` unless ``name`` is ``auto``/None or a device this machine has."""
    import torch

    if name is None or str(name) == "auto":
        return
    hint = f"use auto, {', '.join(DEVICE_TYPES)} or cuda:N"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{setting}={str(name)!r} is not a device name; {hint}") from None
    if device.type not in DEVICE_TYPES:
        raise ValueError(f"{setting}={str(name)!r}: device type {device.type!r} is not "
                         f"supported; {hint}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{setting}={str(name)!r} requested but CUDA is not available "
                             "here; use auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{setting}={str(name)!r}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise ValueError(f"{setting}={str(name)!r} requested but MPS is not available here")
    if device.type == "cpu" and device.index not in (None, 0):
        raise ValueError(f"{setting}={str(name)!r}: there is one CPU device; use cpu")


def usable_cores() -> int:
    """CPU cores this process may use (affinity-aware: a container's or ``taskset``'s share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def check_threads(value: Any, setting: str = "train.num_threads") -> None:
    """Raise ``ValueError`` unless ``value`` (None = the library default) is a count of threads
    or processes between 1 and the cores this process may use (:func:`usable_cores`)."""
    if value is None:
        return
    cores = usable_cores()
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cores:
        raise ValueError(f"{setting}={value!r}: must be between 1 and the {cores} CPU core(s) "
                         "this process may use (os.sched_getaffinity)")


def check_output_dir(path: str | os.PathLike, setting: str = "out_dir") -> Path:
    """Create ``path`` if needed; raise ``ValueError`` if it is a file, cannot be created or
    is not writable. Returns the path."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{setting} {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{setting} {path}: cannot create the folder "
                         f"({exc.strerror or type(exc).__name__}: {exc.filename or path})"
                         ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{setting} {path}: the folder is not writable")
    return path


def check_run_name(name: str | None, setting: str = "run_name (--name)") -> None:
    """Raise ``ValueError`` unless ``name`` (None = the method's name) is one plain folder name."""
    if name is None:
        return
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or name != name.strip() or Path(name).is_absolute() or name.startswith("~"))
    if bad:
        raise ValueError(f"{setting} {name!r}: must be one plain folder name (no '/', "
                         "'\\', '..', leading '~' or surrounding spaces), so that the run folder "
                         "stays inside the output folder")


def check_settings(cfg) -> None:
    """:func:`check_values`, then what the configuration needs of this machine: the device, a
    writable output folder and a run folder inside it (the trainer's first step).

    Creates ``cfg.out_dir`` (the run would create it anyway).
    """
    check_values(cfg)
    check_threads(cfg.train.num_threads)
    check_device(cfg.device)
    out = check_output_dir(cfg.out_dir)
    run_dir = run_directory(cfg).expanduser().resolve()
    if out.resolve() not in run_dir.parents:
        raise ValueError(f"run folder {run_dir} is not inside out_dir {out.resolve()}")
    for part in run_dir.relative_to(out.resolve()).parts:  # e.g. a file named like the dataset
        out = out / part
        if out.exists() and not out.is_dir():
            raise ValueError(f"run folder {run_directory(cfg)}: {out} exists and is not a folder")


# ---------------------------------------------------------------------- notebook parameters

#: The papermill parameters several notebooks share, and what each may be.
NOTEBOOK_INTEGERS = ("seed", "data_seed", "n_pairs", "lcs_len", "sweep_videos", "n_videos",
                     "snippets_per_video", "example_snippets")


def check_choice(name: str, value: Any, choices) -> None:
    """``value`` of the notebook parameter ``name`` is one of ``choices``, else a ``ValueError``
    that lists them (what ``-p name value`` may be)."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"notebook parameter {name}={value!r} is not valid; choose one of "
                         f"{', '.join(repr(c) for c in choices)} (papermill: -p {name} VALUE)")


def check_notebook_parameters(**parameters: Any) -> None:
    """The papermill parameters of a notebook, checked by the first cell after its parameters
    cell, so that ``papermill ... -p profile foo`` stops there with the valid values and a
    non-zero exit instead of failing (or, worse, succeeding) cells later.

    Known names: ``profile`` and ``dataset`` (the pairs of :data:`PROFILES`), ``results_dir``
    and ``data_dir`` (None or an existing folder), and the counts and seeds of
    :data:`NOTEBOOK_INTEGERS` (integers >= 0). Other names are the notebook's own business
    (:func:`check_choice`).
    """
    if "profile" in parameters:
        check_choice("profile", parameters["profile"], sorted({p for _, p in PROFILES}))
    if "dataset" in parameters:
        check_choice("dataset", parameters["dataset"], sorted({d for d, _ in PROFILES}))
    for name in ("results_dir", "data_dir"):
        value = parameters.get(name)
        if value is not None and not (isinstance(value, (str, os.PathLike))
                                      and Path(value).expanduser().is_dir()):
            raise ValueError(f"notebook parameter {name}={value!r} is not an existing folder "
                             "(None: the default)")
    for name in NOTEBOOK_INTEGERS:
        value = parameters.get(name)
        if name in parameters and (not isinstance(value, int) or isinstance(value, bool)
                                   or value < 0):
            raise ValueError(f"notebook parameter {name}={value!r} must be an integer >= 0")
