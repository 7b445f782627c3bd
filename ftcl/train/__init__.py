"""Training one run: the two-stage schedule, model selection, checkpoints, the run record.

- :mod:`~ftcl.train.trainer`: :func:`train` / :class:`Trainer` (stage 1, stage 2, held-out
  selection, exact resume, Ctrl-C);
- :mod:`~ftcl.train.data`: a run's dataset, splits and held-out videos;
- :mod:`~ftcl.train.schedule`: the learning rate of each iteration, the selection rule;
- :mod:`~ftcl.train.checkpoints`: reading, checking and evaluating checkpoints; the stage-1 key;
- :mod:`~ftcl.train.record`: the run record and where it is stored;
- :mod:`~ftcl.train.diagnostics`: gradient norm of each term of Eq. 8 during training.
"""

from .checkpoints import (
    checkpoint_contents,
    evaluate_checkpoint,
    load_checkpoint,
    model_from_checkpoint,
    stage1_key,
)
from .data import RunData, holdout_split, load_data
from .record import record_destination, run_record, seal_records, store_record
from .trainer import Trainer, train

__all__ = ["RunData", "Trainer", "checkpoint_contents", "evaluate_checkpoint", "holdout_split",
           "load_checkpoint", "load_data", "model_from_checkpoint", "record_destination",
           "run_record", "seal_records", "stage1_key", "store_record", "train"]
