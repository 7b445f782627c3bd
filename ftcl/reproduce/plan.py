"""The plan of the reproduction batch: every training run Tables 1-5 and the dose study need.

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

On the quick profile the plan also holds the **dose study** of issue 21
(:func:`ftcl.config.dose.dose_runs`, ``dose=True``): each configuration of its grid once per seed
on SynTHUMOS14. Its records go to ``<results>/<profile>/dose/runs/`` (several weights of one
method and seed live side by side there; the tables never read them) with their mechanism
records. A dose configuration that *is* a table run (ACM-Net, FTCL at its default weight) is one
run, written to both folders (:attr:`PlannedRun.studies`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..config import DEFAULT_SEEDS, METHODS, RunConfig, dose, flatten, make_config, run_id
from ..data import check_data, get_spec, prepare_dataset
from ..paths import dose_record_file, record_file
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
    studies: tuple[str, ...] = ("tables",)  # whose run it is: "tables" and/or "dose"

    @property
    def plain(self) -> bool:
        """A backbone trained alone (no FTCL terms): its group's natural first run."""
        return not self.config.ftcl.enabled

    def record_files(self, results_dir) -> list[tuple[Path, bool]]:
        """Where its record goes, with whether an older configuration there is superseded:
        ``runs/`` for the tables (superseded), ``dose/runs/`` for the dose study (never: its
        weights of one method live side by side)."""
        out = []
        if "tables" in self.studies:
            out.append((record_file(results_dir, self.profile, self.run_id), True))
        if "dose" in self.studies:
            out.append((dose_record_file(results_dir, self.profile, self.run_id), False))
        return out

    def done(self, results_dir) -> bool:
        """Every record it owes exists."""
        return all(path.is_file() for path, _ in self.record_files(results_dir))


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
         overrides: dict[str, Any] | None = None, with_dose: bool = True,
         with_tables: bool = True) -> list[PlannedRun]:
    """Every run Tables 1-5 (and, on the quick profile, the dose study) need, in execution
    order.

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
    with_dose, with_tables : bool
        The dose study's runs (quick profile on synthetic data only); the tables' runs.

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
    methods = [m for m in METHODS if METHODS[m].tables and with_tables]
    if only:
        bad = sorted(set(only) - set(METHODS))
        if bad:
            raise ValueError(f"--only: unknown method(s) {bad}; choose from {sorted(METHODS)}")
        methods = [m for m in methods if m in set(only)]
    dose_runs = _dose_runs(only) if with_dose and profile == "quick" and not data_dirs else []
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
        runs = _add_dose(runs, dose_runs, profile, seed, overrides)
    first: dict[str | None, PlannedRun] = {}
    for run in sorted(runs, key=lambda r: not r.plain):  # stable: plain backbones first
        if run.group is not None:
            first.setdefault(run.group, run)
    leaders = [r for r in runs if first.get(r.group) is r]
    return leaders + [r for r in runs if first.get(r.group) is not r]


def _dose_runs(only: Sequence[str] | None) -> list[dose.DoseRun]:
    runs = dose.dose_runs()
    return [r for r in runs if r.method in set(only)] if only else runs


def _add_dose(runs: list[PlannedRun], grid: Sequence[dose.DoseRun], profile: str, seed: int,
              overrides: dict[str, Any]) -> list[PlannedRun]:
    """``runs`` with the dose study's configurations of ``seed``: a configuration that is
    already planned (same run id) is marked as the study's too, the others are added."""
    by_id = {r.run_id: i for i, r in enumerate(runs)}
    for point in grid:
        over = {**overrides, **point.overrides}
        cfg = make_config(point.method, dose.DATASET, profile, overrides=over, seed=seed,
                          data_seed=data_seed_of(seed, overrides))
        rid = run_id(cfg)
        if rid in by_id:
            i = by_id[rid]
            runs[i] = dataclasses.replace(runs[i], studies=tuple(dict.fromkeys(
                (*runs[i].studies, "dose"))))
            continue
        by_id[rid] = len(runs)
        runs.append(PlannedRun(rid, point.method, dose.DATASET, profile, seed, (),
                               cfg.model.backbone, None, over, _stage1_group(cfg), cfg,
                               studies=("dose",)))
    return runs


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
            "cache_dir": cache_dir, "overrides": overrides, "results_dir": None,
            # the dose study's rows carry the mechanism measures of every run
            "mechanism_methods": [run.method] if "dose" in run.studies else None}


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
