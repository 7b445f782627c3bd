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
   (:func:`ftcl.train.diagnostics.term_gradient_norms`, ``train.grad_norms``).
3. The selected and the last model are evaluated on the test split; the record holds both.

Checkpoints (``best.pt``, ``last.pt``) are written atomically. ``last.pt`` holds the full training
state (weights, optimiser, RNG states, sampler epoch and position, history), saved at every
evaluation and when interrupted (Ctrl-C or SIGTERM finishes the current iteration, saves, and
raises :class:`~ftcl.interrupt.Interrupted`, a ``KeyboardInterrupt``); running the same
configuration again resumes from it (saying so) and gives a bit-identical result to an
uninterrupted run (same device and thread count). A run whose loss or weights stop being finite
fails with :class:`~ftcl.train.guard.TrainingDiverged` and writes no run record
(:mod:`ftcl.train.guard`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from tqdm.std import tqdm

from .. import __version__
from ..config import RunConfig, check_lengths, check_settings, config_diff, to_dict
from ..data import check_data
from ..data.device_batches import resolve_data_on_device
from ..device import choose_device
from ..evaluation import evaluate_model
from ..interrupt import Interrupted, StopRequest
from ..io import (
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    folder_lock,
    sweep_stale_temp,
)
from ..losses import FTCLObjective, total_loss
from ..models import build_backbone
from ..paths import (
    BEST,
    LAST,
    PREDICTIONS,
    RUN_RECORD,
    relative_to_work,
    run_directory,
    stage1_checkpoint,
)
from ..seed import derive_seed, get_rng_state, preserved_rng, seed_everything, set_rng_state
from .checkpoints import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    check_against,
    load_checkpoint,
    load_weights,
    model_from_checkpoint,
    stage1_key,
)
from .data import RunData, load_data, pair_batches, uniform_training_split
from .diagnostics import tail_start, term_gradient_norms
from .guard import DivergenceGuard
from .record import run_record
from .schedule import learning_rate

# ------------------------------------------------------------------------------ the trainer


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
    # non-finite losses of the current stage (ftcl.train.guard)
    stage_skipped: int = 0
    skip_run: int = 0
    first_nonfinite: list | None = None  # [iteration, loss]
    last_finite: list | None = None  # [iteration, loss]
    elapsed: dict = dataclasses.field(default_factory=lambda: {"stage1": 0.0, "stage2": 0.0,
                                                               "selection": 0.0})
    stage1: dict = dataclasses.field(default_factory=dict)
    finished: bool = False
    tail_norms: list = dataclasses.field(default_factory=list)  # gradient shares, end of stage 2


class Trainer:
    """One run of a configuration (use :func:`train`)."""

    def __init__(self, cfg: RunConfig, data: RunData | None = None):
        check_settings(cfg)  # values, device, out_dir, run name: before any data is read
        self.cfg = cfg
        self.device = choose_device(cfg.device)
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        self.data = data if data is not None else load_data(cfg)
        check_data(self.data, cfg)  # ground-truth classes, video pairs, finite features
        spec = self.data.spec
        check_lengths(cfg, spec.num_segments)
        self.run_dir = run_directory(cfg)
        self.stage1_path = stage1_checkpoint(cfg, stage1_key(cfg, self.device, self.data.root))

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
        self._last_batch = None  # the last training batch, for the gradient norms
        self._uniform_train = None  # the training split sampled uniformly, once built

    # -- pieces ------------------------------------------------------------------------------

    def _optimizer(self, stage: int) -> torch.optim.Optimizer:
        params = list(self.model.parameters())
        if stage == 2 and self.objective is not None:
            params += list(self.objective.parameters())
        return torch.optim.Adam(params, lr=learning_rate(self.cfg.train, stage, 0),
                                weight_decay=self.cfg.train.weight_decay)

    def _checkpoint(self, kind: str, **extra: Any) -> dict:
        spec = self.data.spec
        return {
            "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "kind": kind,
            "ftcl_version": __version__, "method": self.cfg.method,
            "dataset": self.cfg.dataset, "profile": self.cfg.profile,
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
        return atomic_torch_save(self.run_dir / LAST, ckpt)

    def try_resume(self) -> bool:
        """Restore ``last.pt`` of the run folder if there is one; True if restored."""
        path = self.run_dir / LAST
        if not path.exists():
            return False
        try:
            ckpt = load_checkpoint(path)
        except ValueError as exc:
            raise ValueError(f"{exc}; run again with --restart (train(resume=False)) to start "
                             "this run over") from None
        check_against(ckpt, self.cfg, self.data.spec, path)
        diff = config_diff(ckpt["config"], to_dict(self.cfg))
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
        planted = None  # planted snippet labels (synthetic data), for the oracle and ladder terms
        if "planted_a" in batch:
            planted = torch.cat([batch["planted_a"], batch["planted_b"]]).to(self.device)
        self._last_batch = (features, labels, use_objective, planted)
        out = self.model(features)
        objective = self.objective if use_objective else None
        loss, parts = total_loss(self.cfg.model.backbone, out, labels, self.cfg.loss, objective,
                                 planted)
        if self.state.stage == 2:
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(self.cfg.train, 2, self.state.iteration)
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
        # planted snippet labels (oracle, ladder) travel in the CPU-built batches only
        on_device = (resolve_data_on_device(self.cfg.train.data_on_device, self.device)
                     and not self.cfg.ftcl.needs_planted)
        batches = pair_batches(self.data, self.cfg.train.batch_size, seed,
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
        self._guard(st.stage).weights(self.model, self.objective)
        entry: dict[str, Any] = {"iteration": st.iteration}
        if st.loss_count:
            entry["train"] = {k: v / st.loss_count for k, v in st.loss_sums.items()}
        st.loss_sums, st.loss_count = {}, 0
        if self.cfg.train.grad_norms and self._last_batch is not None:
            entry["grad_norms"] = self._term_norms()
        if self.data.holdout_ids:
            if self._uniform_train is None:
                self._uniform_train = uniform_training_split(self.data)
            metrics, _ = evaluate_model(self.model, self._uniform_train, self.data.spec,
                                        self.data.holdout_ids, self.cfg.train.eval_batch_size)
            entry["holdout"] = {k: metrics[k] for k in ("map", "average_map",
                                                        "classification_map")}
            score = metrics["average_map"]
            if st.best_score is None or score > st.best_score:
                st.best_score, st.best_iteration = score, st.iteration
                atomic_torch_save(self.run_dir / BEST, self._checkpoint(
                    "model", iteration=st.iteration, holdout_average_map=score))
        st.elapsed["selection"] += time.perf_counter() - t0
        if self.data.holdout_ids and st.iteration < self.cfg.train.iterations:
            # Recorded only, never used for selection: what the release's test-set selection
            # would have picked (ftcl.analysis.protocol measures that protocol). The last
            # point's test score is the final record's "last" evaluation, filled in there.
            t1 = time.perf_counter()
            metrics, _ = evaluate_model(self.model, self.data.test, self.data.spec,
                                        batch_size=self.cfg.train.eval_batch_size)
            entry["test"] = {k: metrics[k] for k in ("map", "average_map")}
            st.elapsed["test_history"] = (st.elapsed.get("test_history", 0.0)
                                          + time.perf_counter() - t1)
        st.history.append(entry)

    def _term_norms(self) -> dict[str, float]:
        """:func:`~ftcl.train.diagnostics.term_gradient_norms` on the last training batch, the
        RNG streams left as they were."""
        features, labels, use_objective, planted = self._last_batch
        with preserved_rng():
            return term_gradient_norms(self.model, self.objective if use_objective else None,
                                       self.cfg.model.backbone, self.cfg.loss, features, labels,
                                       planted)

    def _run_stage(self, stage: int, iterations: int, stop_at: int | None, progress: bool,
                   offset: int) -> bool:
        """Train stage ``stage`` up to ``iterations``; False if stopped early (state saved).

        ``stop_at`` counts iterations over the whole schedule (``offset`` = iterations before this
        stage). A Ctrl-C saves the state after the current iteration and re-raises.
        """
        st, cfg = self.state, self.cfg
        use_objective = stage == 2 and self.objective is not None
        guard = self._guard(stage)
        label = cfg.method if stage == 2 else f"{cfg.model.backbone} (stage 1)"
        running: dict[str, float] = {}
        t_start, elapsed0 = time.perf_counter(), st.elapsed[f"stage{stage}"]
        self.model.train()
        # tqdm.std, not tqdm.auto: under a Jupyter kernel without ipywidgets (papermill, the
        # book) tqdm.auto warns with the paths of the machine's environment. disable=None: the bar
        # shows on a terminal only, so executed notebooks (the batch's logs) carry no bar either.
        with StopRequest() as stop, tqdm(total=iterations, initial=st.iteration, desc=label,
                                         disable=None if progress else True,
                                         dynamic_ncols=True, leave=False) as bar:
            batches = self._batches(stage)
            while st.iteration < iterations:
                if stop_at is not None and offset + st.iteration >= stop_at:
                    self.save_last()
                    return False
                parts = self._step(next(batches), use_objective)
                st.iteration += 1
                if use_objective and cfg.train.grad_share_tail > 0 and st.iteration >= tail_start(
                        iterations, cfg.train.grad_share_tail):  # the shares of issue 21
                    st.tail_norms.append(self._term_norms())
                st.position += 1
                guard.step(parts["loss"])
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
                if stop.requested:
                    self.save_last()
                    raise Interrupted(
                        f"stopped at stage {stage} iteration {st.iteration}; resumable "
                        f"checkpoint: {self.run_dir / LAST}", stop.requested)
        guard.end_of_stage()
        return True

    def _guard(self, stage: int) -> DivergenceGuard:
        """The divergence guard of ``stage`` (its learning rate named as a setting)."""
        t = self.cfg.train
        key = "train.stage2_lr" if stage == 2 and t.stage2_lr is not None else "train.lr"
        return DivergenceGuard(self.state, learning_rate(t, stage, 0), key)

    def _finish_stage1(self) -> None:
        self._guard(1).weights(self.model)  # never cache a broken stage 1
        info = {"iterations": self.cfg.train.pretrain_iterations, "key": self.stage1_path.stem,
                "path": relative_to_work(self.stage1_path, self.cfg.out_dir), "reused": False,
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
            check_against(ckpt, self.cfg, self.data.spec, self.stage1_path)
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
        # the path as this run's work folder names it (a checkpoint of an older version may
        # hold an absolute one)
        self.state.stage1 = {**ckpt["stage1"], "reused": True,
                             "path": relative_to_work(self.stage1_path, self.cfg.out_dir)}
        return True

    def _start_stage2(self) -> None:
        st = self.state
        st.stage, st.iteration, st.epoch, st.position = 2, 0, 0, 0
        st.loss_sums, st.loss_count = {}, 0
        st.stage_skipped, st.skip_run, st.first_nonfinite, st.last_finite = 0, 0, None, None
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
        record_path = self.run_dir / RUN_RECORD
        if resume and self.try_resume():
            st = self.state
            if st.finished and record_path.exists():
                return json.loads(record_path.read_text(encoding="utf-8"))
            print(f"ftcl: resuming from stage {st.stage} iteration {st.iteration} "
                  f"({self.run_dir / LAST})", flush=True)
        elif not resume and self.run_dir.exists():
            for name in (LAST, BEST, RUN_RECORD, PREDICTIONS):
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
                "checkpoint": str(self.run_dir / LAST)}

    def _final_record(self) -> dict:
        """Evaluate the last and the selected model on the test split, write the reported one's
        segments (``predictions.csv``) and return the run record."""
        cfg, st, data = self.cfg, self.state, self.data
        t0 = time.perf_counter()
        last_metrics, last_props = evaluate_model(self.model, data.test, data.spec,
                                                  batch_size=cfg.train.eval_batch_size)
        results = {"last": last_metrics}
        if (st.history and st.history[-1].get("iteration") == cfg.train.iterations
                and "holdout" in st.history[-1] and "test" not in st.history[-1]):
            st.history[-1]["test"] = {k: last_metrics[k] for k in ("map", "average_map")}
        selected, props = "last", last_props
        if cfg.train.selection == "holdout" and st.best_iteration is not None:
            if st.best_iteration != cfg.train.iterations:
                best, _, _ = model_from_checkpoint(self.run_dir / BEST, self.device)
                results["selected"], props = evaluate_model(
                    best, data.test, data.spec, batch_size=cfg.train.eval_batch_size)
            else:
                results["selected"] = last_metrics
            selected = "selected"
        test_time = time.perf_counter() - t0
        atomic_write_text(self.run_dir / PREDICTIONS, props.to_csv(index=False))
        return run_record(cfg, st, data, self.device, results, selected, test_time)


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
        Pre-loaded data (:func:`ftcl.train.data.load_data`), to share between runs.
    """
    return Trainer(config, data).run(resume=resume, stop_after=stop_after)
