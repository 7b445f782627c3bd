"""A run's identity: which configuration keys define the experiment, and its run id.

- :data:`RESUMABLE_KEYS`: where inputs and outputs live, the device, threads, progress bars,
  stage-1 reuse and the evaluation batch size. They do not define the experiment: an interrupted
  run may resume with them changed (:func:`config_diff` ignores them), and the run id leaves them
  out, together with the run folder's name (:data:`IDENTITY_IGNORED_KEYS`).
- :func:`run_id`: a readable prefix and a hash of the rest of the resolved configuration
  (:func:`identity`). A changed hyper-parameter is a new run; the batch skips a run whose record
  exists. (Code changes do not change the id: start a fresh results folder to re-run everything
  with new code.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from .build import to_dict
from .sections import RunConfig

#: The one list of keys a resume may change (and the run id leaves out).
RESUMABLE_KEYS = ("out_dir", "cache_dir", "data_dir", "device", "train.progress",
                  "train.reuse_stage1", "train.eval_batch_size", "train.num_threads",
                  "train.data_on_device", "train.grad_share_tail")
#: Keys added after the first records and checkpoints were written, with the values that give the
#: earlier behaviour: while a key holds it, :func:`identity` leaves it out (an older record keeps
#: its run id) and :func:`config_diff` treats a configuration without it as holding it (a
#: checkpoint saved before it existed resumes).
LATER_KEYS = {"ftcl.oracle": "none", "ftcl.lambda_oracle": 1.0, "ftcl.oracle_snippets": 8,
              "ftcl.oracle_temperature": 0.1, "ftcl.proposals": "attention", "ftcl.matches": "dp",
              "ftcl.fsd_head": "projection", "ftcl.lcs_tau_rule": "fixed",
              "ftcl.lcs_tau_quantile": 0.5, "train.grad_share_tail": 0.1,
              "train.one_stage": False}
#: Keys left out of the run id: the run folder's name and :data:`RESUMABLE_KEYS`.
IDENTITY_IGNORED_KEYS = ("run_name", *RESUMABLE_KEYS)


def identity(cfg: RunConfig) -> dict[str, Any]:
    """The part of a configuration that defines the experiment (``to_dict`` minus
    :data:`IDENTITY_IGNORED_KEYS`, and minus :data:`LATER_KEYS` at their earlier values)."""
    data = to_dict(cfg)
    for key in IDENTITY_IGNORED_KEYS:
        section, _, name = key.rpartition(".")
        (data[section] if section else data).pop(name, None)
    for key, earlier in LATER_KEYS.items():
        section, _, name = key.rpartition(".")
        where = data[section] if section else data
        if name in where and where[name] == earlier:
            where.pop(name)
    return data


def config_hash(cfg: RunConfig, length: int = 10) -> str:
    """SHA-256 (hex, first ``length`` digits) of the canonical JSON of :func:`identity`."""
    text = json.dumps(identity(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def run_id(cfg: RunConfig) -> str:
    """``<dataset>-<method>-seed<k>-<hash>``, e.g. ``synthumos14-ftcl-seed0-3f9c2a1b7d``."""
    return f"{cfg.dataset}-{cfg.method}-seed{cfg.seed}-{config_hash(cfg)}"


def name_run(cfg: RunConfig) -> RunConfig:
    """``cfg`` with ``run_name = run_id(cfg)``: each configuration gets its own run folder."""
    return dataclasses.replace(cfg, run_name=run_id(cfg))


def config_diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    """The dotted keys where two stored configurations (:func:`~ftcl.config.to_dict`) differ,
    leaving out :data:`RESUMABLE_KEYS`; a key one of them lacks counts at its
    :data:`LATER_KEYS` value."""
    keys = []
    for key in sorted(set(a) | set(b)):
        name = f"{prefix}{key}"
        va, vb = a.get(key, LATER_KEYS.get(name)), b.get(key, LATER_KEYS.get(name))
        if isinstance(va, dict) and isinstance(vb, dict):
            keys += config_diff(va, vb, f"{name}.")
        elif va != vb and name not in RESUMABLE_KEYS:
            keys.append(name)
    return keys


def check_backbone(cfg: RunConfig, backbone: str | None) -> None:
    """Raise ``ValueError`` if ``backbone`` is given and is not the backbone of ``cfg``."""
    if backbone is not None and backbone != cfg.model.backbone:
        raise ValueError(f"backbone={backbone!r} does not match method {cfg.method!r}, whose "
                         f"backbone is {cfg.model.backbone!r} (leave backbone=None or pick a "
                         "method of that backbone)")
