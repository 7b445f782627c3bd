"""The plan of the reproduction batch: every training run Tables 1-5 need, in execution order.

:func:`plan` reads the runs the paper's tables need from the ``table`` field of each method in
:data:`ftcl.config.METHODS`: Table 2 is the ActivityNet table (``synanet``, or ``activitynet13``
with real features), Tables 1 and 3-5 the THUMOS14 tables (``synthumos14`` / ``thumos14``); each
configuration once per seed. Each run is identified by :func:`ftcl.config.run_id` (a readable
prefix and a hash of the resolved configuration minus :data:`ftcl.config.RESUMABLE_KEYS` and the
run folder's name): a changed hyper-parameter is a new run, and a run whose record exists is
skipped. Runs of one *stage-1 group* (same backbone, data, seed and stage-1 settings:
:func:`ftcl.train.stage1_key`) share the trainer's cached stage-1 checkpoint, so the plan puts
each group's plain-backbone run first (the scheduler, :mod:`ftcl.reproduce.batch`, keeps one run
of a group in flight until one has finished).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..config import DEFAULT_SEEDS, METHODS, RunConfig, flatten, make_config, run_id
from ..data import check_data, get_spec, prepare_dataset
from ..train import load_data, stage1_key

# The paper's tables by data family: Table 2 is ActivityNet 1.3, the others THUMOS14.
TABLE_FAMILY = {1: "thumos14", 2: "activitynet13", 3: "thumos14", 4: "thumos14", 5: "thumos14"}
# Data family -> (synthetic stand-in, real dataset).
FAMILY_DATASETS = {"thumos14": ("synthumos14", "thumos14"),
                   "activitynet13": ("synanet", "activitynet13")}
# Data-seed scheme: on synthetic data each training seed draws its own data set,
# ``data_seed = seed`` (unless ``--set data_seed=K`` fixes one data set for all seeds), so that
# no conclusion rests on one draw of the synthetic benchmark. All methods of one seed still share
# that data set, the stage-1 checkpoint and the pair batches: pairing by seed stays valid.
DATA_SEED_SCHEME = "data_seed = seed (synthetic data); real data have no data seed"
# Top-level keys a batch sets itself (per run or by its own options), not through --set.
_BATCH_KEYS = ("method", "dataset", "profile", "seed", "run_name", "out_dir", "device",
               "data_dir", "cache_dir")


def tables_of(method: str) -> tuple[int, ...]:
    """The paper's tables a method appears in, from its ``table`` field ("Tables 1-4 ...")."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
    found = METHODS[method].tables
    unknown = sorted(set(found) - set(TABLE_FAMILY))
    if not found or unknown:
        raise ValueError(f"method {method!r}: cannot read the paper tables from its table field "
                         f"{METHODS[method].table!r}")
    return found


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One run of the batch: a method on a dataset with a seed, and what it waits for."""

    run_id: str
    method: str
    dataset: str
    profile: str
    seed: int
    tables: tuple[int, ...]
    backbone: str
    data_dir: str | None
    overrides: dict[str, Any]  # the batch's --set overrides (part of the configuration)
    group: str | None  # stage-1 group (runs sharing one stage-1 checkpoint); None: no stage 1
    config: RunConfig = dataclasses.field(compare=False, repr=False)

    @property
    def plain(self) -> bool:
        """A backbone trained alone (no FTCL terms): its group's natural first run."""
        return not self.config.ftcl.enabled


def parse_data_dirs(values: Iterable[str]) -> dict[str, str]:
    """``--data-dir`` values ``[DATASET=]DIR`` -> ``{family: dir}`` (bare DIR = thumos14)."""
    dirs: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            name, path = "thumos14", value
        if name not in FAMILY_DATASETS:
            raise ValueError(f"--data-dir {value!r}: dataset must be one of "
                             f"{sorted(FAMILY_DATASETS)} (as thumos14=DIR or activitynet13=DIR)")
        if not path:
            raise ValueError(f"--data-dir {value!r}: no folder given")
        if name in dirs:
            raise ValueError(f"--data-dir given twice for {name}")
        dirs[name] = path
    return dirs


def _stage1_group(cfg: RunConfig) -> str | None:
    if cfg.train.pretrain_iterations == 0 or not cfg.train.reuse_stage1:
        return None
    # The device type only renames the checkpoint; every run of a batch shares it.
    key = stage1_key(cfg, torch.device("cpu"))
    return f"{cfg.dataset}-{cfg.model.backbone}-seed{cfg.seed}-{key}"


def plan(profile: str = "quick", seeds: Sequence[int] = DEFAULT_SEEDS,
         data_dirs: dict[str, str] | None = None, only: Sequence[str] | None = None,
         overrides: dict[str, Any] | None = None) -> list[PlannedRun]:
    """Every run Tables 1-5 need, in execution order.

    Parameters
    ----------
    profile : str
        ``quick`` or ``full`` (real features have only ``full``).
    seeds : sequence of int
        Each configuration runs once per seed; on synthetic data the seed also selects the
        data set (:data:`DATA_SEED_SCHEME`).
    data_dirs : dict, optional
        ``{family: folder}`` of real features (``thumos14``, ``activitynet13``): those tables
        run on the real data; with any real folder, tables of the other family are left out.
    only : sequence of str, optional
        Keep only these methods.
    overrides : dict, optional
        Configuration overrides applied to every run (part of each run's identity).

    Returns
    -------
    list of PlannedRun
        Each stage-1 group's first run (its plain backbone) comes before all the others, so that
        stage 1 is trained once per group; then seeds, data families and methods in order.
    """
    data_dirs = dict(data_dirs or {})
    overrides = dict(overrides or {})
    unknown = sorted(set(data_dirs) - set(FAMILY_DATASETS))
    if unknown:
        raise ValueError(f"data_dirs: unknown dataset(s) {unknown}; known: "
                         f"{sorted(FAMILY_DATASETS)}")
    if data_dirs and profile != "full":
        raise ValueError(f"profile {profile!r}: real features have only the 'full' profile "
                         "(use --profile full with --data-dir)")
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds {seeds}: need one or more non-negative integers")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds}: a seed is repeated")
    methods = list(METHODS)
    if only:
        bad = sorted(set(only) - set(METHODS))
        if bad:
            raise ValueError(f"--only: unknown method(s) {bad}; choose from {sorted(METHODS)}")
        methods = [m for m in methods if m in set(only)]
    reserved = sorted(k for k in flatten(overrides) if k in _BATCH_KEYS)
    if reserved:
        raise ValueError(f"overrides may not set {reserved}: the batch sets these itself "
                         "(use its options: --seeds, --only, --data-dir, --device...)")
    runs: list[PlannedRun] = []
    for seed in seeds:
        for family, (synthetic, real) in FAMILY_DATASETS.items():
            if data_dirs and family not in data_dirs:
                continue
            dataset = real if family in data_dirs else synthetic
            data_dir = data_dirs.get(family)
            for method in methods:
                tables = tuple(t for t in tables_of(method) if TABLE_FAMILY[t] == family)
                if not tables:
                    continue
                cfg = make_config(method, dataset, profile, overrides=overrides, seed=seed,
                                  data_dir=data_dir,
                                  data_seed=None if data_dir else data_seed_of(seed, overrides))
                runs.append(PlannedRun(run_id(cfg), method, dataset, profile, seed, tables,
                                       cfg.model.backbone, data_dir, overrides,
                                       _stage1_group(cfg), cfg))
    first: dict[str | None, PlannedRun] = {}
    for run in sorted(runs, key=lambda r: not r.plain):  # stable: plain backbones first
        if run.group is not None:
            first.setdefault(run.group, run)
    leaders = [r for r in runs if first.get(r.group) is r]
    return leaders + [r for r in runs if first.get(r.group) is not r]


def data_seed_of(seed: int, overrides: dict[str, Any] | None = None) -> int:
    """The synthetic data seed of training seed ``seed`` (:data:`DATA_SEED_SCHEME`):
    ``overrides["data_seed"]`` if the batch fixes one, else ``seed``."""
    fixed = (overrides or {}).get("data_seed")
    return int(fixed) if fixed is not None else int(seed)


def notebook_parameters(run: PlannedRun, device: str = "auto", cache_dir: str | None = None,
                        threads: int | None = None) -> dict[str, Any]:
    """The training notebook's papermill parameters for ``run`` (``out_dir`` and
    ``record_path`` are set on the worker)."""
    overrides = {**run.overrides, "train.progress": False}
    if run.config.data_seed is not None:
        overrides["data_seed"] = run.config.data_seed
    if threads:
        overrides["train.num_threads"] = threads
    return {"dataset": run.dataset, "data_dir": run.data_dir, "profile": run.profile,
            "method": run.method, "backbone": run.backbone, "seed": run.seed, "device": device,
            "cache_dir": cache_dir, "overrides": overrides, "results_dir": None}


def prepare_data(runs: Sequence[PlannedRun], cache_dir: str | None = None,
                 generate: bool = True) -> list[Path]:
    """Prepare each dataset of ``runs`` once (generate synthetic data, validate real folders).

    Each is checked as a run would check it (:func:`ftcl.data.check_data`: splits, ground
    truth, video pairs, finite features), so bad data fails here, before any worker starts.
    ``generate=False`` (``--dry-run``): synthetic data not generated yet is not generated, only
    its cache folder is checked.
    """
    roots, seen = [], set()
    for run in runs:
        cfg = run.config
        key = (cfg.dataset, cfg.profile, cfg.data_dir, cfg.data_seed, cfg.data_version)
        if key not in seen:
            seen.add(key)
            spec = get_spec(cfg.dataset, cfg.profile, data_version=cfg.data_version)
            root = prepare_dataset(cfg.dataset, cfg.profile, data_dir=cfg.data_dir,
                                   seed=cfg.data_seed or 0, cache_dir=cache_dir, spec=spec,
                                   generate=generate)
            if root is None:
                continue
            roots.append(root)
            cfg = dataclasses.replace(cfg, cache_dir=cache_dir)
            check_data(load_data(cfg), cfg)
    return roots
