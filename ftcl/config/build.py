"""Building a run configuration: four layers, then the checks.

A run is described by one :class:`~ftcl.config.sections.RunConfig`, built by :func:`make_config`:

1. the dataclass defaults (:mod:`ftcl.config.sections`): the authors' THUMOS14 hyper-parameters;
2. the dataset/profile table :data:`~ftcl.config.presets.PROFILES` (only what differs);
3. the method table :data:`~ftcl.config.presets.METHODS` (backbone and FTCL terms: Tables 1-5
   are configurations, not code forks);
4. the user's overrides (a YAML file and/or ``--set key=value``; unknown keys are errors).

The result is checked once (:func:`ftcl.config.checks.check_values`); :func:`from_dict` rebuilds
a stored configuration the same way.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from .checks import check_values
from .presets import METHODS, PROFILES
from .sections import SECTIONS, RunConfig


def make_config(method: str = "ftcl", dataset: str = "synthumos14", profile: str = "quick",
                overrides: dict[str, Any] | None = None, **top: Any) -> RunConfig:
    """Build and validate the :class:`RunConfig` of ``method`` on ``dataset``/``profile``.

    ``overrides``: nested (``{"train": {"lr": 3e-4}}``) or dotted (``{"train.lr": 3e-4}``) keys,
    applied last. ``top``: top-level fields (``seed=1``, ``out_dir=...``). Unknown keys, methods,
    datasets or profiles raise ``ValueError``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"overrides must be a mapping of config keys to values (e.g. "
                         f"{{'train.iterations': 50}}), got a {type(overrides).__name__}: "
                         f"{overrides!r:.80}; with papermill pass it as YAML: "
                         "-y \"overrides: {train.iterations: 50}\" (-p passes a string)")
    if (dataset, profile) not in PROFILES:
        known = ", ".join(f"{d}/{p}" for d, p in PROFILES)
        raise ValueError(f"unknown dataset/profile {dataset}/{profile}; known: {known}")
    cfg = RunConfig(method=method, dataset=dataset, profile=profile)
    cfg = apply_overrides(cfg, PROFILES[(dataset, profile)])
    cfg = apply_overrides(cfg, METHODS[method].overrides)
    cfg = apply_overrides(cfg, top)
    cfg = apply_overrides(cfg, overrides or {})
    cfg = fold_one_stage(cfg)
    check_values(cfg)
    return cfg


def fold_one_stage(cfg: RunConfig) -> RunConfig:
    """``train.one_stage`` (Eq. 8 as printed, issue 21): stage 1's iterations move into stage 2,
    trained from scratch at ``train.lr`` with every term of the method; idempotent."""
    t = cfg.train
    if not t.one_stage or t.pretrain_iterations == 0:
        return cfg
    return apply_overrides(cfg, {"train.iterations": t.iterations + t.pretrain_iterations,
                                 "train.pretrain_iterations": 0, "train.stage2_lr": None,
                                 "train.stage2_schedule": "constant",
                                 "train.select_stage1": False})


def flatten(overrides: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}`` (dotted keys pass through)."""
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name in SECTIONS:
            flat.update(flatten(value, prefix=f"{name}."))
        elif isinstance(value, dict):
            raise ValueError(f"unknown config key {name!r}: a mapping is only allowed for the "
                             f"sections {sorted(SECTIONS)}")
        else:
            flat[name] = value
    return flat


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Return ``cfg`` with ``overrides`` (nested or dotted keys) applied, values type-checked."""
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    top: dict[str, Any] = {}
    for key, value in flatten(overrides).items():
        section, _, name = key.rpartition(".")
        if section:
            if section not in SECTIONS:
                raise ValueError(f"unknown config section {section!r} in key {key!r}; "
                                 f"sections: {sorted(SECTIONS)}")
            sections[section][name] = _coerce(SECTIONS[section], name, value, key)
        else:
            if name in SECTIONS:
                raise ValueError(f"config key {key!r} is a section and needs a mapping")
            top[name] = _coerce(RunConfig, name, value, key)
    changes = {s: dataclasses.replace(getattr(cfg, s), **v) for s, v in sections.items() if v}
    return dataclasses.replace(cfg, **top, **changes)


def _coerce(cls: type, name: str, value: Any, key: str) -> Any:
    """Check ``value`` against the type of field ``name`` of ``cls``; convert lists to tuples."""
    hints = typing.get_type_hints(cls)
    if name not in hints or name in SECTIONS and cls is RunConfig:
        valid = sorted(f.name for f in dataclasses.fields(cls) if f.name not in SECTIONS)
        where = "top level" if cls is RunConfig else f"section {key.rpartition('.')[0]!r}"
        raise ValueError(f"unknown config key {key!r}; valid keys at the {where}: {valid}")
    hint = hints[name]
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise ValueError(f"config key {key!r} cannot be null")
    for option in options:
        origin = typing.get_origin(option) or option
        if origin is bool and isinstance(value, bool):
            return value
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if origin is float and isinstance(value, str):  # YAML reads 3e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if origin is str and isinstance(value, str):
            return value
        if origin is tuple and isinstance(value, list | tuple):
            items = typing.get_args(option)
            if len(items) == len(value) and all(isinstance(v, int) for v in value):
                return tuple(value)
    raise ValueError(f"config key {key!r} expects {hint}, got {value!r}")


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The configuration as plain JSON-able data (tuples become lists)."""
    return dataclasses.asdict(cfg)


def from_dict(data: dict[str, Any]) -> RunConfig:
    """Rebuild a :class:`RunConfig` from :func:`to_dict` output (strict: unknown keys fail)."""
    cfg = apply_overrides(RunConfig(), data)
    check_values(cfg)
    return cfg


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) file of overrides; raise ``FileNotFoundError``/``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise ValueError(f"config file {path} is not UTF-8 text (byte 0x{byte:02x} at position "
                         f"{exc.start}): save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping, got {type(data).__name__}")
    return data


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` (value read as YAML: ``3e-4``, ``true``, ``[2, 10, 10]``, ``null``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {text!r} is not of the form key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ValueError(f"override {text!r}: cannot read the value: {exc}") from exc
    return key.strip(), value
