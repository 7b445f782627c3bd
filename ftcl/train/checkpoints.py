"""Checkpoints: the files a run writes, how they are read back, and what they hold.

A checkpoint is a dict saved atomically with ``torch.save`` (:func:`ftcl.io.atomic_torch_save`)
and read with ``weights_only=True`` (:func:`load_checkpoint`: no code runs from the file). Kinds:
``"train-state"`` (``last.pt``: weights, optimiser, RNG states, schedule position),
``"model"`` (``best.pt``: the selected weights) and ``"stage1"`` (the cached stage-1 backbone,
shared by every method with the same stage-1 settings: :func:`stage1_key`).
:func:`evaluate_checkpoint` is ``ftcl evaluate``: a checkpoint's model scored on a split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import warnings
from pathlib import Path

import torch

from .. import __version__
from ..config import RunConfig, from_dict
from ..data import check_data, get_spec
from ..device import choose_device
from ..evaluation import evaluate_model
from ..models import Backbone, build_backbone
from .data import load_data

CHECKPOINT_FORMAT = "ftcl-checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointVersionWarning(UserWarning):
    """A checkpoint written by another ftcl version than this one (read, but said)."""


def stage1_key(cfg: RunConfig, device: torch.device, data_root: str | Path | None = None) -> str:
    """Hash of everything stage 1 depends on (not the method or the FTCL terms).

    ``data_root``: the dataset folder; a synthetic one is named after a hash of its spec and
    generator version, so regenerated data never reuses an old stage 1.
    """
    t = cfg.train
    payload = {
        "dataset": cfg.dataset, "profile": cfg.profile, "data_seed": cfg.data_seed,
        "data_dir": str(Path(cfg.data_dir).resolve()) if cfg.data_dir else None,
        "data_root": Path(data_root).name if data_root is not None else None,
        "seed": cfg.seed, "device": device.type, "model": dataclasses.asdict(cfg.model),
        "loss": dataclasses.asdict(cfg.loss),
        "train": {k: getattr(t, k) for k in ("lr", "weight_decay", "batch_size",
                                             "pretrain_iterations", "selection",
                                             "holdout_fraction", "sampling", "deterministic")},
        "ftcl_version": __version__,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read an ftcl checkpoint; raise ``FileNotFoundError`` or ``ValueError`` saying what is wrong.

    Loaded with ``weights_only=True`` (no code runs from the file): an ftcl checkpoint holds only
    dicts, lists, numbers, strings and tensors (:func:`ftcl.seed.get_rng_state` stores the RNG
    states that way), so no extra global needs to be allowed; anything else is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt, truncated, or not a torch file
        raise ValueError(f"checkpoint {path} cannot be read (corrupt, truncated or not an ftcl "
                         f"checkpoint): {_load_error(exc)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an ftcl checkpoint (no '{CHECKPOINT_FORMAT}' marker)")
    if ckpt.get("format_version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {path} has format version {ckpt.get('format_version')}, "
                         f"this ftcl reads version {CHECKPOINT_VERSION}")
    return ckpt


def _load_error(exc: BaseException) -> str:
    """torch's reason in one line, without its advice to retry with ``weights_only=False``
    (that would run code from an untrusted file)."""
    text = str(exc)
    found = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n|$)", text.strip())
    if found:
        reason = found.group(1).strip()
        if "Unsupported global" in reason:
            reason = (reason.split(" was not an allowed global")[0]
                      + " (not allowed in a checkpoint)")
        return f"{type(exc).__name__}: {reason}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "weights_only" not in ln]
    first = lines[0].split(". ")[0] if lines else "the file ends early"
    return f"{type(exc).__name__}: {first}"


def load_weights(module: torch.nn.Module, state: dict, what: str, path: Path | str) -> None:
    """``module.load_state_dict(state)``; a mismatch raises ``ValueError`` naming the file."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[:4]
        raise ValueError(f"checkpoint {path}: its {what} weights do not fit this model "
                         f"({' '.join(first)})") from exc


def model_from_checkpoint(path: str | Path, device: str | torch.device = "cpu"
                          ) -> tuple[Backbone, RunConfig, dict]:
    """Rebuild the backbone saved in a checkpoint (``best.pt``, ``last.pt`` or a stage-1 file)."""
    ckpt = load_checkpoint(path)
    cfg = from_dict(ckpt["config"])
    model = build_backbone(cfg.model.backbone, ckpt["feature_dim"], ckpt["num_classes"], cfg.model)
    load_weights(model, ckpt["model"], f"{cfg.model.backbone} backbone", path)
    return model.to(device), cfg, ckpt


def check_against(ckpt: dict, cfg: RunConfig, spec, path: Path) -> None:
    """Refuse a checkpoint made for another backbone, dataset (name, width, classes) or
    configuration; warn (:class:`CheckpointVersionWarning`) if another ftcl version wrote it."""
    if ckpt.get("backbone") != cfg.model.backbone:
        raise ValueError(f"checkpoint {path} holds a {ckpt.get('backbone')!r} model but the "
                         f"configuration asks for {cfg.model.backbone!r}")
    if ckpt.get("feature_dim") != spec.feature_dim or ckpt.get("num_classes") != spec.num_classes:
        raise ValueError(
            f"checkpoint {path} was trained on D={ckpt.get('feature_dim')}, "
            f"C={ckpt.get('num_classes')} but {cfg.dataset}/{cfg.profile} has "
            f"D={spec.feature_dim}, C={spec.num_classes}")
    if ckpt.get("dataset", cfg.dataset) != cfg.dataset:  # stored since issue 19
        raise ValueError(f"checkpoint {path} was trained on {ckpt['dataset']}, not on "
                         f"{cfg.dataset}; evaluate it on the data it was trained on")
    _check_classes(ckpt.get("classes"), spec, cfg, path)
    written_by = ckpt.get("ftcl_version")
    if written_by != __version__:
        newer = _version(written_by) > _version(__version__)
        warnings.warn(f"checkpoint {path} was written by ftcl {written_by}, this is ftcl "
                      f"{__version__}" + (": a newer version may store settings this one reads "
                                          "differently" if newer else ""),
                      CheckpointVersionWarning, stacklevel=2)


def _check_classes(classes, spec, cfg: RunConfig, path: Path) -> None:
    """Refuse a checkpoint whose class names (in order: the CAS columns) are not the data's."""
    if classes is None or list(classes) == list(spec.classes):
        return
    pairs = enumerate(zip(classes, spec.classes, strict=False))
    first = next((i for i, (a, b) in pairs if a != b), min(len(classes), len(spec.classes)))
    mine = classes[first] if first < len(classes) else "(none)"
    theirs = spec.classes[first] if first < len(spec.classes) else "(none)"
    raise ValueError(f"checkpoint {path}: its model's {len(classes)} classes are not the "
                     f"{len(spec.classes)} classes of {cfg.dataset}/{cfg.profile} (class "
                     f"{first}: {mine!r} in the checkpoint, {theirs!r} in the data): it was "
                     "trained on other data; evaluate it on the data it was trained on")


def _version(text) -> tuple[int, ...]:
    """``"0.10.2"`` -> ``(0, 10, 2)``; unreadable parts count as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in str(text).split(".")[:3])


def checkpoint_contents(ckpt: dict) -> dict:
    """What a checkpoint's weights really are: ``method``, ``stage`` (text), ``kind``, ``run``.

    A stage-1 file (or a ``last.pt`` saved during stage 1) holds the backbone trained with its
    own objective only, whatever method's run produced it, so its method is the backbone's name;
    ``best.pt`` and a stage-2 ``last.pt`` hold the run's method.
    """
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


def evaluate_checkpoint(path: str | Path, split: str = "test", device: str | None = None,
                        data_dir: str | None = None, cache_dir: str | None = None
                        ) -> tuple[dict, object, dict, RunConfig, torch.device]:
    """Rebuild the model saved in a checkpoint, open its data (checked as a run checks it) and
    evaluate it on ``split`` (``test`` or ``train``).

    ``data_dir`` / ``cache_dir`` replace the trained configuration's (real / synthetic data
    only). Returns ``(metrics, proposals, contents, cfg, device)``: the metrics of
    :func:`ftcl.evaluation.evaluate_model`, the localized segments, :func:`checkpoint_contents`,
    the configuration evaluated and the device it ran on.
    """
    device = choose_device(device)
    model, cfg, ckpt = model_from_checkpoint(path, device)
    synthetic = get_spec(cfg.dataset, cfg.profile).synthetic
    if synthetic and data_dir is not None:
        raise ValueError(f"--data-dir {data_dir}: checkpoint {path} was trained "
                         f"on synthetic data ({cfg.dataset}), which is generated, not read from "
                         "a folder; drop --data-dir (or evaluate a checkpoint trained with "
                         "--dataset thumos14/activitynet13 --data-dir)")
    if not synthetic and cache_dir is not None:
        raise ValueError(f"--cache-dir {cache_dir}: checkpoint {path} was "
                         f"trained on real features ({cfg.dataset}); the synthetic data cache "
                         "is not used: drop --cache-dir (use --data-dir)")
    changes = {k: v for k, v in (("data_dir", data_dir), ("cache_dir", cache_dir))
               if v is not None}
    cfg = dataclasses.replace(cfg, **changes)
    if ckpt.get("method", cfg.method) != cfg.method:
        raise ValueError(f"checkpoint {path} says it holds method {ckpt['method']!r} but its "
                         f"configuration is method {cfg.method!r}: the file was edited or mixed "
                         "up; use the checkpoint a run wrote")
    data = load_data(cfg)
    check_against(ckpt, cfg, data.spec, Path(path))
    check_data(data, cfg)
    dataset = data.test if split == "test" else data.train
    metrics, proposals = evaluate_model(model, dataset, data.spec,
                                        batch_size=cfg.train.eval_batch_size)
    return metrics, proposals, checkpoint_contents(ckpt), cfg, device
