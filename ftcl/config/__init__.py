"""Run configuration as data: the schema, the tables it is built from, its checks, its identity.

- :mod:`~ftcl.config.sections`: the dataclasses (``RunConfig`` and its sections ``model``,
  ``loss``, ``ftcl``, ``train``) with every key documented, and the allowed choices;
- :mod:`~ftcl.config.presets`: the dataset/profile table :data:`PROFILES` and the named methods
  :data:`METHODS` (Tables 1-5 as configurations);
- :mod:`~ftcl.config.build`: :func:`make_config` (defaults, profile, method, overrides, then the
  checks), overrides from YAML and ``key=value``, :func:`to_dict` / :func:`from_dict`;
- :mod:`~ftcl.config.checks`: every check of a configuration (:func:`check_values`, run once when
  it is built; :func:`check_settings`, what it needs of this machine);
- :mod:`~ftcl.config.identity`: :data:`RESUMABLE_KEYS` (the one list of keys a resume may change)
  and the run id.

The names below are this package's public face: ``from ftcl.config import make_config``.
"""

from .build import (
    apply_overrides,
    flatten,
    from_dict,
    load_overrides,
    make_config,
    parse_assignment,
    to_dict,
)
from .checks import (
    MAX_SEED,
    MAX_SKIPPED_FRACTION,
    check_choice,
    check_device,
    check_lengths,
    check_notebook_parameters,
    check_output_dir,
    check_run_name,
    check_settings,
    check_threads,
    check_values,
    too_many_skipped,
    usable_cores,
)
from .identity import (
    LATER_KEYS,
    RESUMABLE_KEYS,
    check_backbone,
    config_diff,
    config_hash,
    identity,
    name_run,
    run_id,
)
from .presets import (
    DEFAULT_SEEDS,
    DOSE_TABLE,
    FTCL_AND_BASELINE,
    LAMBDA_CHOICE,
    LAMBDA_GRID,
    LAMBDA_SOURCE,
    METHODS,
    PROFILES,
    Method,
)
from .sections import (
    MEASURES,
    ORACLES,
    SECTIONS,
    FTCLConfig,
    LossConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
)

__all__ = ["DEFAULT_SEEDS", "DOSE_TABLE", "FTCL_AND_BASELINE", "LAMBDA_CHOICE", "LAMBDA_GRID",
           "LAMBDA_SOURCE", "LATER_KEYS", "MAX_SEED", "MAX_SKIPPED_FRACTION", "MEASURES",
           "METHODS", "ORACLES", "PROFILES", "RESUMABLE_KEYS", "SECTIONS", "FTCLConfig",
           "LossConfig", "Method", "ModelConfig", "RunConfig", "TrainConfig", "apply_overrides",
           "check_backbone", "check_choice", "check_device", "check_lengths",
           "check_notebook_parameters", "check_output_dir", "check_run_name", "check_settings",
           "check_threads", "check_values", "config_diff", "config_hash", "flatten", "from_dict",
           "identity", "load_overrides", "make_config", "name_run", "parse_assignment", "run_id",
           "to_dict", "too_many_skipped", "usable_cores"]
