"""Divergence: a run whose loss stopped being a number fails by name instead of "finishing".

Like the release, the trainer skips an update whose loss is NaN or inf
(:meth:`ftcl.train.trainer.Trainer._step`): one bad batch should not end a run. A run that skips
most of its steps, though, has learned nothing, and one whose weights became NaN or inf (a
learning rate of 1e30, features of 1e30) can only skip from then on. :class:`DivergenceGuard`
watches every step and every evaluation of a stage and raises :class:`TrainingDiverged` when

- :data:`MAX_CONSECUTIVE_SKIPS` steps in a row had a non-finite loss (raised at once: the weights
  or the data are not finite any more);
- more than :data:`ftcl.config.MAX_SKIPPED_FRACTION` (25 %) of a stage's steps were skipped
  (checked at its end);
- the weights hold NaN or inf at an evaluation (before anything is evaluated or saved from them).

The message names the stage, the first iteration whose loss was not finite and its value, the
last finite loss, and the stage's learning rate. The trainer then writes no run record, no
stage-1 cache entry and no ``best.pt`` from the broken model; ``ftcl train`` exits with status
3 and the batch reports the run as failed. The thresholds are constants, not configuration keys,
so that they do not enter the run identity.
"""

from __future__ import annotations

import math

import torch

from ..config import MAX_SKIPPED_FRACTION, too_many_skipped

#: Non-finite losses in a row that end a run at once.
MAX_CONSECUTIVE_SKIPS = 20


class TrainingDiverged(RuntimeError):
    """The loss or the weights of a run are no longer finite (see :class:`DivergenceGuard`)."""

    exit_code = 3


class DivergenceGuard:
    """The non-finite losses of the current stage (kept in the trainer's saved state ``st``:
    ``stage_skipped``, ``skip_run``, ``first_nonfinite`` and ``last_finite``)."""

    def __init__(self, state, lr: float, lr_key: str):
        self.st, self.lr, self.lr_key = state, lr, lr_key

    def step(self, loss: float) -> None:
        """Record the loss of the step just counted in ``st.iteration``."""
        st = self.st
        if math.isfinite(loss):
            st.skip_run = 0
            st.last_finite = [st.iteration, loss]
            return
        st.stage_skipped += 1
        st.skip_run += 1
        if st.first_nonfinite is None or st.skip_run == 1:
            st.first_nonfinite = [st.iteration, loss]
        if st.skip_run >= MAX_CONSECUTIVE_SKIPS:
            self.fail(f"{st.skip_run} steps in a row had a non-finite loss and were skipped")

    def end_of_stage(self) -> None:
        """At the stage's end: fail if more than the allowed share of its steps was skipped."""
        st = self.st
        if too_many_skipped(st.stage_skipped, st.iteration):
            self.fail(f"{st.stage_skipped} of its {st.iteration} steps had a non-finite loss and "
                      f"were skipped, more than {MAX_SKIPPED_FRACTION:.0%}")

    def weights(self, *modules) -> None:
        """Fail if a parameter of ``modules`` (None ignored) holds NaN or inf."""
        for module in modules:
            if module is None:
                continue
            for name, p in module.named_parameters():
                if not bool(torch.isfinite(p).all()):
                    self.fail(f"parameter {name!r} holds NaN/inf at iteration "
                              f"{self.st.iteration}")

    def fail(self, why: str):
        st = self.st
        first = st.first_nonfinite
        at = (f"at iteration {first[0]}: loss {first[1]}" if first is not None
              else f"by iteration {st.iteration}")
        if st.last_finite is None:
            hint = (f"the loss was never finite in this stage: check the features for huge "
                    f"values (the data check refuses only NaN and inf) and {self.lr_key}="
                    f"{self.lr:g}")
        else:
            hint = (f"the last finite loss was {st.last_finite[1]:.4g} at iteration "
                    f"{st.last_finite[0]}; stage {st.stage} runs Adam at {self.lr_key}="
                    f"{self.lr:g}: lower it")
        raise TrainingDiverged(f"training diverged in stage {st.stage} {at} ({why}); {hint}. "
                               "No run record was written")
