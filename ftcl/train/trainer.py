"""The trainer: two-stage schedule, evaluation, model selection, checkpoints, resume, run record.

:func:`train` runs one :class:`~ftcl.config.RunConfig` and returns its run record (also written as
``record.json`` in the run folder ``<out_dir>/<dataset>-<profile>/<run_name>/seed<k>/``):

1. **Stage 1** (``train.pretrain_iterations``): the backbone with its own objective only, as the
   authors train the ACM-Net starting point. Its result does not depend on the FTCL terms, so it is
   cached under ``<out_dir>/_stage1/`` and reused by every method with the same backbone, data,
   seed and stage-1 settings (the key is a hash of exactly those).
2. **Stage 2** (``train.iterations``): from the stage-1 weights, with a fresh Adam optimiser and a
   fresh seed, the method's full loss (Eq. 8; for a plain backbone its own loss again), Adam at
   ``train.stage2_lr`` (``train.stage2_schedule``). Every ``train.eval_every`` iterations the model
   is evaluated on held-out *training* videos (``train.selection = "holdout"``) and the best one is
   kept; the stage-1 checkpoint itself ("iteration 0", ``train.select_stage1``) is evaluated
   first and is a candidate too, so stage 2 is kept only where it beats stage 1 on held-out
   videos. The test set is never used for selection. With ``"last"`` the last model is reported.
   At each evaluation the gradient norm of each loss term is recorded
   (:func:`ftcl.diagnostics.term_gradient_norms`, ``train.grad_norms``).
3. The selected and the last model are evaluated on the test split; the record holds both.

Checkpoints (``best.pt``, ``last.pt``) are written atomically. ``last.pt`` holds the full training
state (weights, optimiser, RNG states, sampler epoch and position, history), saved at every
evaluation and when interrupted (Ctrl-C finishes the current iteration, saves, and re-raises
``KeyboardInterrupt``); running the same configuration again resumes from it and gives a
bit-identical result to an uninterrupted run (same device and thread count).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .config import METHODS, RunConfig, check_lengths, from_dict, to_dict, validate
from .data.device_batches import resolve_data_on_device
from .device import choose_device
from .io import (
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    folder_lock,
    sweep_stale_temp,
)
from .losses import FTCLObjective, total_loss
from .models import Backbone, build_backbone
from .provenance import provenance
from .seed import derive_seed, get_rng_state, seed_everything, set_rng_state
from .validate import check_data, check_settings

CHECKPOINT_FORMAT = "ftcl-checkpoint"
CHECKPOINT_VERSION = 1
# Keys that may change between an interrupted run and its resumption.
_RESUMABLE_CHANGES = ("out_dir", "cache_dir", "data_dir", "device", "train.progress",
                      "train.reuse_stage1", "train.eval_batch_size", "train.num_threads",
                      "train.data_on_device")


# ------------------------------------------------------------------------------ data


@dataclasses.dataclass
class RunData:
    """The data of a run: spec, root folder, the splits and the selection videos."""

    spec: Any
    root: Path
    train: Any  # VideoDataset of the training split (all videos)
    test: Any  # VideoDataset of the test split
    fit_ids: list[str]  # training videos the optimiser sees
    holdout_ids: list[str]  # training videos held out for model selection


def holdout_split(video_ids: list[str], fraction: float) -> tuple[list[str], list[str]]:
    """Split training videos into (fit, held-out), the same for every seed and method.

    A fixed permutation (seed 0) of the sorted ids; ``round(fraction * n)`` videos (at least one)
    are held out.
    """
    ids = sorted(video_ids)
    n_out = min(max(1, round(fraction * len(ids))), len(ids) - 1)
    order = np.random.default_rng(0).permutation(len(ids))
    out = {ids[i] for i in order[:n_out]}
    return [v for v in ids if v not in out], [v for v in ids if v in out]


def load_data(cfg: RunConfig) -> RunData:
    """Prepare (or validate) the dataset of ``cfg`` and open its splits."""
    from .data import VideoDataset, get_spec, prepare_dataset

    spec = get_spec(cfg.dataset, cfg.profile, data_version=cfg.data_version)
    data_seed = cfg.data_seed if cfg.data_seed is not None else 0
    root = Path(prepare_dataset(cfg.dataset, cfg.profile, data_dir=cfg.data_dir, seed=data_seed,
                                cache_dir=cfg.cache_dir, spec=spec))
    train = VideoDataset(root, "train", spec, sampling=cfg.train.sampling,
                         seed=derive_seed(cfg.seed, "sampling"))
    test = VideoDataset(root, "test", spec, sampling="uniform", seed=cfg.seed)
    ids = list(train.video_ids)
    if cfg.train.selection == "holdout":
        fit_ids, holdout_ids = holdout_split(ids, cfg.train.holdout_fraction)
    else:
        fit_ids, holdout_ids = ids, []
    return RunData(spec, root, train, test, fit_ids, holdout_ids)


class VideoSubset:
    """The videos ``video_ids`` of a :class:`~ftcl.data.VideoDataset`, for :class:`PairBatches`.

    Items keep the parent's index (so the parent's seeded per-item sampling is unchanged).
    """

    def __init__(self, dataset, video_ids: list[str]):
        position = {v: i for i, v in enumerate(dataset.video_ids)}
        missing = [v for v in video_ids if v not in position]
        if missing:
            raise ValueError(f"videos not in the dataset: {missing[:5]}")
        self.dataset = dataset
        self.video_ids = list(video_ids)
        self.indices = [position[v] for v in video_ids]
        self.classes = dataset.classes

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        return self.dataset[self.indices[i]]

    def label_sets(self) -> list[frozenset[int]]:
        sets = self.dataset.label_sets()
        return [sets[i] for i in self.indices]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)


def _pair_batches(data: RunData, batch_size: int, seed: int, device=None, resident=None):
    """CPU-built :class:`PairBatches`, or with ``device`` the same batches built on the device
    (:class:`ftcl.data.device_batches.DevicePairBatches`, reusing ``resident`` features)."""
    from .data import PairBatches

    subset = VideoSubset(data.train, data.fit_ids)
    if device is None:
        return PairBatches(subset, batch_size=batch_size, seed=seed)
    from .data.device_batches import DevicePairBatches

    return DevicePairBatches(subset, batch_size, seed, device, features=resident)


# ------------------------------------------------------------------------------ evaluation


@dataclasses.dataclass
class Predictions:
    """Model outputs on a set of videos (numpy arrays, video order of ``video_ids``)."""

    video_ids: list[str]
    n_snippets: list[int]
    cas: np.ndarray  # [V, T, C]
    attention: np.ndarray  # [V, T]
    video_scores: np.ndarray  # [V, C]
    labels: np.ndarray  # [V, C]


@torch.no_grad()
def predict(model: Backbone, dataset, video_ids: list[str] | None = None,
            batch_size: int = 32) -> Predictions:
    """Run ``model`` (in eval mode) over ``video_ids`` of ``dataset`` (all videos if None)."""
    device = next(model.parameters()).device
    ids = list(dataset.video_ids) if video_ids is None else list(video_ids)
    index = {v: i for i, v in enumerate(dataset.video_ids)}
    missing = [v for v in ids if v not in index]
    if missing:
        raise ValueError(f"videos not in the dataset: {missing[:5]}")
    was_training = model.training
    model.eval()
    cas, att, scores, labels = [], [], [], []
    try:
        for start in range(0, len(ids), batch_size):
            items = [dataset[index[v]] for v in ids[start:start + batch_size]]
            feats = torch.stack([it["features"] for it in items]).to(device)
            out = model(feats)
            cas.append(out.cas.float().cpu().numpy())
            att.append(out.attention.float().cpu().numpy())
            scores.append(out.video_scores.float().cpu().numpy())
            labels.append(torch.stack([it["labels"] for it in items]).numpy())
    finally:
        model.train(was_training)
    return Predictions(ids, [int(dataset.n_snippets(v)) for v in ids], np.concatenate(cas),
                       np.concatenate(att), np.concatenate(scores), np.concatenate(labels))


def score_predictions(pred: Predictions, dataset, spec, inference=None,
                      whole_split: bool = True) -> tuple[dict, Any]:
    """Localize (:func:`ftcl.inference.localize`) and score (:mod:`ftcl.evaluation`) predictions.

    ``whole_split``: score against the split's whole ground truth (as the release: instances of
    videos missing from the split list count as misses); False: only the predicted videos'
    (held-out subsets). Returns ``(metrics, proposals)``: ``metrics`` holds ``tiou_thresholds``,
    ``map`` (fractions, one per threshold), ``average_map`` over ``spec.map_average_range``,
    ``average_range``, ``classification_map`` and ``videos``; ``proposals`` the segments.
    """
    from .evaluation import average_map, classification_map, detection_map
    from .inference import localize

    proposals = localize(pred.cas, pred.attention, pred.video_scores, pred.video_ids,
                         pred.n_snippets, list(dataset.classes), spec, inference)
    gt = dataset.ground_truth()
    if not whole_split:
        gt = gt[gt["video-id"].isin(set(pred.video_ids))].reset_index(drop=True)
        # mAP averages over the classes of the ground truth; detections of classes without an
        # instance among these videos belong to no AP.
        proposals = proposals[proposals["label"].isin(set(gt["label"]))].reset_index(drop=True)
    thresholds = [float(t) for t in spec.tiou_thresholds]
    maps = detection_map(gt, proposals, thresholds, allow_empty=True)
    metrics = {
        "tiou_thresholds": thresholds,
        "map": [float(x) for x in maps],
        "average_map": average_map(maps, thresholds, spec.map_average_range),
        "average_range": [float(x) for x in spec.map_average_range],
        "classification_map": classification_map(pred.video_scores, pred.labels),
        "videos": len(pred.video_ids),
    }
    return metrics, proposals


def evaluate(model: Backbone, dataset, spec, video_ids: list[str] | None = None,
             batch_size: int = 32, inference=None) -> tuple[dict, Any]:
    """:func:`predict` then :func:`score_predictions`; RNG states are left untouched.

    With ``video_ids`` only those videos' ground truth counts; without, the whole split's.
    """
    with preserved_rng():
        pred = predict(model, dataset, video_ids, batch_size)
    return score_predictions(pred, dataset, spec, inference, whole_split=video_ids is None)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore every RNG state on exit (evaluation must not change the training stream)."""
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


# ------------------------------------------------------------------------------ checkpoints


def _config_diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(a) | set(b)):
        name = f"{prefix}{key}"
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys += _config_diff(va, vb, f"{name}.")
        elif va != vb and name not in _RESUMABLE_CHANGES:
            keys.append(name)
    return keys


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
    import re

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


def _check_against(ckpt: dict, cfg: RunConfig, spec, path: Path) -> None:
    """Refuse a checkpoint made for another backbone, dataset width or configuration."""
    if ckpt.get("backbone") != cfg.model.backbone:
        raise ValueError(f"checkpoint {path} holds a {ckpt.get('backbone')!r} model but the "
                         f"configuration asks for {cfg.model.backbone!r}")
    if ckpt.get("feature_dim") != spec.feature_dim or ckpt.get("num_classes") != spec.num_classes:
        raise ValueError(
            f"checkpoint {path} was trained on D={ckpt.get('feature_dim')}, "
            f"C={ckpt.get('num_classes')} but {cfg.dataset}/{cfg.profile} has "
            f"D={spec.feature_dim}, C={spec.num_classes}")


# ------------------------------------------------------------------------------ Ctrl-C


class _InterruptFlag:
    """Turn the first Ctrl-C into a request to stop after the current iteration."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nftcl: interrupt received: finishing this iteration and saving a resumable "
              "checkpoint (Ctrl-C again to abort at once)", flush=True)

    def __enter__(self) -> _InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# ------------------------------------------------------------------------------ the trainer


def run_directory(cfg: RunConfig) -> Path:
    """``<out_dir>/<dataset>-<profile>/<run_name or method>/seed<seed>``."""
    return (Path(cfg.out_dir) / f"{cfg.dataset}-{cfg.profile}" / (cfg.run_name or cfg.method)
            / f"seed{cfg.seed}")


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


@dataclasses.dataclass
class _State:
    """Where the schedule stands (saved in ``last.pt``)."""

    stage: int = 1
    iteration: int = 0  # completed iterations of the current stage
    epoch: int = 0
    position: int = 0  # batches consumed in the current epoch
    best_score: float | None = None
    best_iteration: int | None = None
    history: list = dataclasses.field(default_factory=list)
    loss_sums: dict = dataclasses.field(default_factory=dict)
    loss_count: int = 0
    skipped_steps: int = 0
    elapsed: dict = dataclasses.field(default_factory=lambda: {"stage1": 0.0, "stage2": 0.0,
                                                               "selection": 0.0})
    stage1: dict = dataclasses.field(default_factory=dict)
    finished: bool = False


class Trainer:
    """One run of a configuration (use :func:`train`)."""

    def __init__(self, cfg: RunConfig, data: RunData | None = None):
        validate(cfg)
        check_settings(cfg)  # numbers, device, out_dir, run name: before any data is read
        self.cfg = cfg
        self.device = choose_device(cfg.device)
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        self.data = data if data is not None else load_data(cfg)
        check_data(self.data, cfg)  # ground-truth classes, video pairs, finite features
        spec = self.data.spec
        check_lengths(cfg, spec.num_segments)
        self.run_dir = run_directory(cfg)
        key = stage1_key(cfg, self.device, self.data.root)
        self.stage1_path = (Path(cfg.out_dir) / "_stage1" / f"{cfg.dataset}-{cfg.profile}"
                            / f"{cfg.model.backbone}-seed{cfg.seed}-{key}.pt")

        seed_everything(cfg.seed, cfg.train.deterministic)
        self.model = build_backbone(cfg.model.backbone, spec.feature_dim, spec.num_classes,
                                    cfg.model).to(self.device)
        self.objective = None
        if cfg.ftcl.enabled:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(cfg.seed, "ftcl-head"))
                self.objective = FTCLObjective(self.model.embed_dim, cfg.ftcl).to(self.device)
        self.state = _State()
        self.optimizer = self._optimizer(stage=1)
        self._resident = None  # the training split's features on the device, once built

    # -- pieces ------------------------------------------------------------------------------

    def _optimizer(self, stage: int) -> torch.optim.Optimizer:
        params = list(self.model.parameters())
        if stage == 2 and self.objective is not None:
            params += list(self.objective.parameters())
        return torch.optim.Adam(params, lr=self._lr(stage, 0),
                                weight_decay=self.cfg.train.weight_decay)

    def _lr(self, stage: int, iteration: int) -> float:
        """Learning rate of ``iteration`` (0-based) of ``stage``: ``train.lr`` in stage 1; in
        stage 2 ``train.stage2_lr`` (or ``lr``), constant or cosine-annealed to 0."""
        t = self.cfg.train
        if stage == 1:
            return t.lr
        base = t.stage2_lr if t.stage2_lr is not None else t.lr
        if t.stage2_schedule == "cosine" and t.iterations > 0:
            return base * 0.5 * (1.0 + float(np.cos(np.pi * iteration / t.iterations)))
        if t.stage2_schedule == "warmup-cosine" and t.iterations > 0:
            warm = max(1, t.iterations // 10)  # linear warm-up over the first 10 %, then cosine
            if iteration < warm:
                return base * (iteration + 1) / warm
            frac = (iteration - warm) / max(1, t.iterations - warm)
            return base * 0.5 * (1.0 + float(np.cos(np.pi * frac)))
        return base

    def _checkpoint(self, kind: str, **extra: Any) -> dict:
        spec = self.data.spec
        return {
            "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "kind": kind,
            "ftcl_version": __version__, "method": self.cfg.method,
            "backbone": self.cfg.model.backbone, "feature_dim": spec.feature_dim,
            "num_classes": spec.num_classes, "classes": list(spec.classes),
            "config": to_dict(self.cfg), "model": self.model.state_dict(), **extra,
        }

    def save_last(self) -> Path:
        """Write the full training state to ``last.pt`` (atomic)."""
        ckpt = self._checkpoint(
            "train-state",
            objective=self.objective.state_dict() if self.objective is not None else None,
            optimizer=self.optimizer.state_dict(), rng=get_rng_state(),
            state=dataclasses.asdict(self.state),
        )
        return atomic_torch_save(self.run_dir / "last.pt", ckpt)

    def try_resume(self) -> bool:
        """Restore ``last.pt`` of the run folder if there is one; True if restored."""
        path = self.run_dir / "last.pt"
        if not path.exists():
            return False
        try:
            ckpt = load_checkpoint(path)
        except ValueError as exc:
            raise ValueError(f"{exc}; run again with --restart (train(resume=False)) to start "
                             "this run over") from None
        _check_against(ckpt, self.cfg, self.data.spec, path)
        diff = _config_diff(ckpt["config"], to_dict(self.cfg))
        if diff:
            raise ValueError(
                f"{path} belongs to a run with a different configuration ({', '.join(diff)}); "
                "give this configuration its own run_name (--name) or out_dir, or delete the "
                "old run folder")
        self.state = _State(**ckpt["state"])
        load_weights(self.model, ckpt["model"], "backbone", path)
        if self.objective is not None:
            load_weights(self.objective, ckpt["objective"], "FTCL head", path)
        self.optimizer = self._optimizer(self.state.stage)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        return True

    def _step(self, batch: dict, use_objective: bool) -> dict:
        features = torch.cat([batch["features_a"], batch["features_b"]]).to(self.device)
        labels = torch.cat([batch["labels_a"], batch["labels_b"]]).to(self.device)
        self._last_batch = (features, labels, use_objective)
        out = self.model(features)
        objective = self.objective if use_objective else None
        loss, parts = total_loss(self.cfg.model.backbone, out, labels, self.cfg.loss, objective)
        if self.state.stage == 2:
            for group in self.optimizer.param_groups:
                group["lr"] = self._lr(2, self.state.iteration)
        self.optimizer.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            loss.backward()
            self.optimizer.step()
        else:  # as the release does: skip the update
            self.state.skipped_steps += 1
        return {k: float(v) for k, v in parts.items()}

    def _batches(self, stage: int) -> Iterator[dict]:
        """Pair batches from the saved (epoch, position) on, forever."""
        seed = derive_seed(self.cfg.seed, "pairs", stage)
        on_device = resolve_data_on_device(self.cfg.train.data_on_device, self.device)
        batches = _pair_batches(self.data, self.cfg.train.batch_size, seed,
                                self.device if on_device else None, self._resident)
        self._resident = getattr(batches, "store", None)
        while True:
            batches.set_epoch(self.state.epoch)
            iterator = iter(batches)
            for _ in range(self.state.position):
                next(iterator)
            yield from iterator
            self.state.epoch += 1
            self.state.position = 0

    def _evaluate_selection(self) -> None:
        """Evaluate on the held-out videos (or just log, for ``selection="last"``)."""
        st, t0 = self.state, time.perf_counter()
        entry: dict[str, Any] = {"iteration": st.iteration}
        if st.loss_count:
            entry["train"] = {k: v / st.loss_count for k, v in st.loss_sums.items()}
        st.loss_sums, st.loss_count = {}, 0
        if self.cfg.train.grad_norms and getattr(self, "_last_batch", None) is not None:
            from .diagnostics import term_gradient_norms

            features, labels, use_objective = self._last_batch
            with preserved_rng():
                entry["grad_norms"] = term_gradient_norms(
                    self.model, self.objective if use_objective else None,
                    self.cfg.model.backbone, self.cfg.loss, features, labels)
        if self.data.holdout_ids:
            metrics, _ = evaluate(self.model, self._selection_videos(), self.data.spec,
                                  self.data.holdout_ids, self.cfg.train.eval_batch_size)
            entry["holdout"] = {k: metrics[k] for k in ("map", "average_map",
                                                        "classification_map")}
            score = metrics["average_map"]
            if st.best_score is None or score > st.best_score:
                st.best_score, st.best_iteration = score, st.iteration
                atomic_torch_save(self.run_dir / "best.pt", self._checkpoint(
                    "model", iteration=st.iteration, holdout_average_map=score))
        st.elapsed["selection"] += time.perf_counter() - t0
        if self.data.holdout_ids and st.iteration < self.cfg.train.iterations:
            # Recorded only, never used for selection: what the release's test-set selection
            # would have picked (ftcl.protocol measures that protocol). The last point's test
            # score is the final record's "last" evaluation, filled in there.
            t1 = time.perf_counter()
            metrics, _ = evaluate(self.model, self.data.test, self.data.spec,
                                  batch_size=self.cfg.train.eval_batch_size)
            entry["test"] = {k: metrics[k] for k in ("map", "average_map")}
            st.elapsed["test_history"] = (st.elapsed.get("test_history", 0.0)
                                          + time.perf_counter() - t1)
        st.history.append(entry)

    def _selection_videos(self):
        """The training split sampled uniformly, for the held-out evaluation: the same snippets
        at every evaluation (not the training sampler's current epoch), so a score does not
        depend on how many epochs ran or on whether stage 1 was trained or loaded."""
        if self.data.train.sampling == "uniform":
            return self.data.train
        if getattr(self, "_uniform_train", None) is None:
            from .data import VideoDataset

            self._uniform_train = VideoDataset(self.data.root, "train", self.data.spec,
                                               sampling="uniform")
        return self._uniform_train

    def _run_stage(self, stage: int, iterations: int, stop_at: int | None, progress: bool,
                   offset: int) -> bool:
        """Train stage ``stage`` up to ``iterations``; False if stopped early (state saved).

        ``stop_at`` counts iterations over the whole schedule (``offset`` = iterations before this
        stage). A Ctrl-C saves the state after the current iteration and re-raises.
        """
        # tqdm.std, not tqdm.auto: under a Jupyter kernel without ipywidgets (papermill, the
        # book) tqdm.auto warns with the paths of the machine's environment. disable=None: the bar
        # shows on a terminal only, so executed notebooks (the batch's logs) carry no bar either.
        from tqdm.std import tqdm

        st, cfg = self.state, self.cfg
        use_objective = stage == 2 and self.objective is not None
        label = cfg.method if stage == 2 else f"{cfg.model.backbone} (stage 1)"
        running: dict[str, float] = {}
        t_start, elapsed0 = time.perf_counter(), st.elapsed[f"stage{stage}"]
        self.model.train()
        with _InterruptFlag() as flag, tqdm(total=iterations, initial=st.iteration, desc=label,
                                            disable=None if progress else True,
                                            dynamic_ncols=True,
                                            leave=False) as bar:
            batches = self._batches(stage)
            while st.iteration < iterations:
                if stop_at is not None and offset + st.iteration >= stop_at:
                    self.save_last()
                    return False
                parts = self._step(next(batches), use_objective)
                st.iteration += 1
                st.position += 1
                for k, v in parts.items():
                    st.loss_sums[k] = st.loss_sums.get(k, 0.0) + v
                    running[k] = v if k not in running else 0.9 * running[k] + 0.1 * v
                st.loss_count += 1
                st.elapsed[f"stage{stage}"] = elapsed0 + time.perf_counter() - t_start
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in running.items() if "/" not in k},
                                refresh=False)
                if stage == 2 and (st.iteration % cfg.train.eval_every == 0
                                   or st.iteration == iterations):
                    self._evaluate_selection()
                    self.save_last()
                if flag.requested:
                    self.save_last()
                    raise KeyboardInterrupt(
                        f"training interrupted; resumable checkpoint: {self.run_dir / 'last.pt'}")
        return True

    def _finish_stage1(self) -> None:
        info = {"iterations": self.cfg.train.pretrain_iterations, "key": self.stage1_path.stem,
                "path": str(self.stage1_path), "reused": False,
                "wall_time_s": self.state.elapsed["stage1"]}
        atomic_torch_save(self.stage1_path, self._checkpoint("stage1", stage1=info))
        self.state.stage1 = info

    def _load_stage1(self, repair: bool = False) -> bool:
        """Load the cached stage-1 checkpoint; False if there is none to reuse.

        An unusable one (corrupt, foreign) is an error, or with ``repair`` (``--restart``) is
        ignored: stage 1 is trained again and the file replaced.
        """
        if not (self.cfg.train.reuse_stage1 and self.stage1_path.exists()):
            return False
        saved = {k: v.clone() for k, v in self.model.state_dict().items()}
        try:
            ckpt = load_checkpoint(self.stage1_path)
            _check_against(ckpt, self.cfg, self.data.spec, self.stage1_path)
            load_weights(self.model, ckpt["model"], "stage-1 backbone", self.stage1_path)
        except ValueError as exc:
            self.model.load_state_dict(saved)  # a failed load may have copied some tensors
            if repair:
                print(f"ftcl: {exc}\nftcl: --restart: training stage 1 again and replacing "
                      f"{self.stage1_path}", flush=True)
                return False
            raise ValueError(f"{exc}; the cached stage-1 checkpoint is unusable: run again with "
                             "--restart (train(resume=False)) to retrain stage 1 and replace it, "
                             f"or delete {self.stage1_path}") from None
        self.state.stage1 = {**ckpt["stage1"], "reused": True}
        return True

    def _start_stage2(self) -> None:
        st = self.state
        st.stage, st.iteration, st.epoch, st.position = 2, 0, 0, 0
        st.loss_sums, st.loss_count = {}, 0
        seed_everything(derive_seed(self.cfg.seed, "stage", 2), self.cfg.train.deterministic)
        self.optimizer = self._optimizer(stage=2)
        if self.cfg.train.select_stage1:  # "iteration 0": the stage-1 checkpoint is a candidate
            self._last_batch = None
            self._evaluate_selection()

    def run(self, resume: bool = True, stop_after: int | None = None) -> dict:
        """Run (or resume) the schedule; return the run record, or a status if stopped early.

        The run folder is locked for the whole run (:func:`ftcl.io.folder_lock`: a second live
        process on the same run is refused), and temp files of writes interrupted by a killed
        process are removed first (:func:`ftcl.io.sweep_stale_temp`).
        """
        with folder_lock(self.run_dir, "run folder"):
            for folder in (self.run_dir, self.stage1_path.parent):
                for path in sweep_stale_temp(folder):
                    print(f"ftcl: removed {path}, left by an interrupted write", flush=True)
            return self._run(resume, stop_after)

    def _run(self, resume: bool, stop_after: int | None) -> dict:
        cfg, st = self.cfg, self.state
        record_path = self.run_dir / "record.json"
        if resume and self.try_resume():
            st = self.state
            if st.finished and record_path.exists():
                return json.loads(record_path.read_text(encoding="utf-8"))
        elif not resume and self.run_dir.exists():
            for name in ("last.pt", "best.pt", "record.json", "predictions.csv"):
                (self.run_dir / name).unlink(missing_ok=True)
        progress = cfg.train.progress
        n1 = cfg.train.pretrain_iterations
        if st.stage == 1:
            if n1 > 0 and not (st.iteration == 0 and self._load_stage1(repair=not resume)):
                if not self._run_stage(1, n1, stop_after, progress, offset=0):
                    return self._stopped()
                self._finish_stage1()
            self._start_stage2()
        if not st.finished:
            if not self._run_stage(2, cfg.train.iterations, stop_after, progress, offset=n1):
                return self._stopped()
            st.finished = True
            self.save_last()
        record = json.loads(json.dumps(self._final_record()))  # as stored (tuples -> lists)
        atomic_write_json(record_path, record)
        return record

    def _stopped(self) -> dict:
        st = self.state
        return {"status": "stopped", "stage": st.stage, "iteration": st.iteration,
                "checkpoint": str(self.run_dir / "last.pt")}

    def _final_record(self) -> dict:
        from .config import LAMBDA_CHOICE, LAMBDA_GRID, LAMBDA_SOURCE

        cfg, st, data = self.cfg, self.state, self.data
        t0 = time.perf_counter()
        last_metrics, last_props = evaluate(self.model, data.test, data.spec,
                                            batch_size=cfg.train.eval_batch_size)
        results = {"last": last_metrics}
        if (st.history and st.history[-1].get("iteration") == cfg.train.iterations
                and "holdout" in st.history[-1] and "test" not in st.history[-1]):
            st.history[-1]["test"] = {k: last_metrics[k] for k in ("map", "average_map")}
        selected, props = "last", last_props
        if cfg.train.selection == "holdout" and st.best_iteration is not None:
            if st.best_iteration != cfg.train.iterations:
                best, _, _ = model_from_checkpoint(self.run_dir / "best.pt", self.device)
                results["selected"], props = evaluate(best, data.test, data.spec,
                                                      batch_size=cfg.train.eval_batch_size)
            else:
                results["selected"] = last_metrics
            selected = "selected"
        test_time = time.perf_counter() - t0
        atomic_write_text(self.run_dir / "predictions.csv", props.to_csv(index=False))
        report = results[selected]
        method = METHODS[cfg.method]
        n1, n2 = cfg.train.pretrain_iterations, cfg.train.iterations
        if cfg.train.selection == "holdout":
            rule = (f"best average mAP on {len(data.holdout_ids)} held-out training videos, "
                    f"evaluated every {cfg.train.eval_every} stage-2 iterations "
                    + ("and at iteration 0 (the stage-1 checkpoint) " if cfg.train.select_stage1
                       else "") + "(test set not used)")
        else:
            rule = "last checkpoint (no selection)"
        return {
            "status": "finished",
            "method": cfg.method, "run_name": cfg.run_name or cfg.method,
            "description": method.description, "paper_table": method.table,
            "backbone": cfg.model.backbone, "ftcl_terms": {
                "action_measure": cfg.ftcl.action_measure, "pair_measure": cfg.ftcl.pair_measure,
                "loss_form": cfg.ftcl.loss_form, "term_scale": cfg.ftcl.term_scale,
                "background": cfg.ftcl.background,
                "lcs_threshold_form": cfg.ftcl.lcs_threshold_form,
                "shuffle_pairs": cfg.ftcl.shuffle_pairs,
                "lambda_fsd": cfg.ftcl.lambda_fsd, "lambda_lcs": cfg.ftcl.lambda_lcs,
                "lambda_grid": list(LAMBDA_GRID.get(cfg.model.backbone, ())),
                "lambda_choice": LAMBDA_CHOICE.get(cfg.model.backbone),
                "lambda_chosen_by": LAMBDA_SOURCE} if cfg.ftcl.enabled else None,
            "dataset": cfg.dataset, "profile": cfg.profile, "seed": cfg.seed,
            "data_version": cfg.data_version,
            "device": str(self.device),
            "iterations": n1 + n2,
            "schedule": {
                "stage1": {"iterations": n1, "loss": f"{cfg.model.backbone} objective only",
                           **{k: v for k, v in st.stage1.items() if k != "iterations"}},
                "stage2": {"iterations": n2, "init": "stage-1 weights" if n1 else "scratch",
                           "loss": "Eq. 8 (backbone objective + FTCL terms)" if cfg.ftcl.enabled
                           else f"{cfg.model.backbone} objective only",
                           "optimizer": f"Adam lr={self._lr(2, 0)} "
                                        f"({cfg.train.stage2_schedule}) "
                                        f"wd={cfg.train.weight_decay}, fresh at stage start",
                           "batch_size_pairs": cfg.train.batch_size},
            },
            "selection": {"rule": rule, "reported": selected,
                          "selected_iteration": st.best_iteration if selected == "selected"
                          else n2, "holdout_videos": len(data.holdout_ids),
                          "fit_videos": len(data.fit_ids)},
            "tiou_thresholds": report["tiou_thresholds"],
            "map": report["map"],
            "average_map": report["average_map"],
            "average_range": report["average_range"],
            "classification_map": report["classification_map"],
            "test": results,
            "history": st.history,
            "skipped_steps": st.skipped_steps,
            "wall_time_s": {**{k: round(v, 3) for k, v in st.elapsed.items()},
                            "test": round(test_time, 3),
                            "total": round(sum(st.elapsed.values()) + test_time, 3)},
            "provenance": provenance(device=str(self.device)),
            "config": to_dict(cfg),
        }


def train(config: RunConfig, resume: bool = True, stop_after: int | None = None,
          data: RunData | None = None) -> dict:
    """Train ``config`` and return its run record (also written to ``record.json``).

    Parameters
    ----------
    config : RunConfig
        From :func:`ftcl.config.make_config`.
    resume : bool
        Continue from the run folder's ``last.pt`` if present (a finished run returns its record);
        False starts over (the run folder's checkpoints are replaced).
    stop_after : int, optional
        Stop, as if interrupted, once the schedule reaches this many iterations (stage 1 +
        stage 2), leaving a resumable ``last.pt``; returns ``{"status": "stopped", ...}``.
    data : RunData, optional
        Pre-loaded data (:func:`load_data`), to share between runs.
    """
    return Trainer(config, data).run(resume=resume, stop_after=stop_after)


__all__ = ["Predictions", "RunData", "Trainer", "evaluate", "holdout_split", "load_checkpoint",
           "load_data", "model_from_checkpoint", "predict", "run_directory", "score_predictions",
           "stage1_key", "train"]
