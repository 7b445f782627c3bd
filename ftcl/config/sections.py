"""The configuration's schema: one frozen dataclass per section, and the allowed choices.

A run is one :class:`RunConfig` (sections ``model``, ``loss``, ``ftcl``, ``train``). Every key is
documented where it is declared; the defaults are the authors' THUMOS14 hyper-parameters
(release + paper), facts in ``shared/notes/paper-and-release-facts.md``. How a configuration is
built from these defaults, the dataset/profile tables and the named methods:
:mod:`ftcl.config.build`; its checks: :mod:`ftcl.config.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BACKBONE_NAMES = ("acmnet", "stpn", "wtalc", "cola")
MEASURES = ("none", "fsd", "lcs", "dtw", "ccdtw", "dropdtw", "meanpool")
LOSS_FORMS = ("code", "paper")
LCS_THRESHOLD_FORMS = ("release-ftcl", "release-acmloss")
BACKGROUNDS = ("paper", "release")
TERM_SCALES = ("normalised", "raw")
STAGE2_SCHEDULES = ("constant", "cosine", "warmup-cosine")
ACTIVATIONS = ("none", "relu", "tanh", "sigmoid")
SELECTIONS = ("holdout", "last")
SAMPLINGS = ("uniform", "random")
ORACLES = ("none", "phase", "class", "action-phase", "mask")  # ftcl.losses.oracle


@dataclass(frozen=True)
class ModelConfig:
    """Backbone architecture (:mod:`ftcl.models`)."""

    backbone: str = "acmnet"  # acmnet | stpn | wtalc | cola
    embed_dim: int | None = None  # embedding width E; None = feature width D (the release)
    dropout: float = 0.7  # release (THUMOS14 and ActivityNet); CoLA 0.6
    embed_dropout: bool = False  # ActivityNet in the release: dropout before embedding/attention
    topk_divisors: tuple[int, int, int] = (8, 3, 3)  # ACM-Net k = T // d (inst/context/backgr.)
    stpn_hidden: int = 256  # STPN attention hidden width
    wtalc_k_divisor: int = 8  # W-TALC k-max MIL keeps ceil(T / 8) snippets
    cola_r_easy: int = 5  # CoLA k_easy = T // 5 (also the video-score top-k)
    cola_r_hard: int = 20  # CoLA k_hard = T // 20
    cola_kernel_small: int = 3  # CoLA m (erosion/dilation)
    cola_kernel_large: int = 6  # CoLA M


@dataclass(frozen=True)
class LossConfig:
    """Each backbone's own objective (:mod:`ftcl.losses.backbones`)."""

    inst_weight: float = 1.0  # ACM-Net instance-classification weight (ActivityNet: 5)
    guide_weight: float = 2e-3  # ACM-Net guide loss (ActivityNet: 5e-3)
    feat_weight: float = 5e-5  # ACM-Net feature-norm loss
    sparse_weight: float = 2e-4  # ACM-Net attention sparsity (ActivityNet: 0)
    feat_margin: float = 50.0  # ACM-Net feature-norm margin
    stpn_sparsity: float = 1e-4  # STPN beta (L1 on the attention)
    wtalc_lambda: float = 0.5  # W-TALC: lambda * MIL + (1 - lambda) * CASL
    wtalc_margin: float = 0.5  # W-TALC CASL margin delta
    cola_snico_weight: float = 0.01  # CoLA: cls + 0.01 * SniCo
    cola_temperature: float = 0.07  # CoLA NCE temperature


@dataclass(frozen=True)
class FTCLConfig:
    """The FTCL terms (Eq. 2-8, :mod:`ftcl.losses.contrast`); both measures "none" = no FTCL."""

    action_measure: str = "none"  # FSD slot (action vs background proposals): none|fsd|lcs|dtw|...
    pair_measure: str = "none"  # LCS slot (same- vs different-class videos): none|lcs|fsd|dtw|...
    # "code": differences of mean scores (release); "paper": Eq. 4 hinge / Eq. 7 cross-entropy
    # (method "ftcl-paper-form").
    loss_form: str = "code"
    # Eq. 8 weights. The FTCL methods of METHODS set them per backbone from LAMBDA_CHOICE (the
    # dose study's held-out rule over LAMBDA_GRID, for term_scale="normalised"); these class
    # defaults are the release's THUMOS14 values, meant for term_scale="raw".
    lambda_fsd: float = 0.8
    lambda_lcs: float = 0.1
    # "normalised": FSD / its attainable maximum (ftcl.losses.contrast.fsd_bound), LCS / J,
    # mean-pool cosines as they are: every term about [-1, 1] whatever fsd_len, lcs_len or gamma;
    # "raw": the release's unnormalised scores (FSD up to ~4 fsd_len, LCS up to J).
    term_scale: str = "normalised"
    fsd_len: int = 5  # snippets per FSD proposal (top fsd_len by attention = action proposal)
    # Background proposal: "paper" (Sec. 3.2: the fsd_len snippets of lowest importance score alpha,
    # the backbone's action attention) or "release" (attention ranks fsd_len .. 2 fsd_len - 1).
    background: str = "paper"
    lcs_len: int = 30  # J, top attended snippets compared by LCS (ActivityNet: 10)
    tau: float = 0.92  # LCS match threshold, strict c > tau
    gamma: float = 10.0  # FSD smooth-max sharpness (release: temperature 0.1)
    proj_dim: int = 1024  # width of the one Linear giving f_mu | f_g (split in halves)
    activation: str = "relu"  # paper form: sigma on the projections; "code" form uses none
    fsd_margin: float = 1.0  # paper form: hinge margin of the ranking losses
    # LCS similarities: "release-ftcl" (the release's FTCLLoss, its documented --ftcl command: raw
    # cosine, match c > tau) or "release-acmloss" (its ACMLoss, used without --ftcl: c -> 5 max(0,
    # c - 0.8) first, so a match needs c > 0.8 + tau / 5 = 0.984 at tau 0.92).
    lcs_threshold_form: str = "release-ftcl"
    shuffle_pairs: bool = False  # control: permute the pair labels (positive/negative) in a batch
    dtw_gamma: float = 0.1  # soft-DTW / Drop-DTW smoothing (Table 4 variants)
    cc_weight: float = 0.1  # CC-DTW: weight of the cycle-consistency term
    drop_quantile: float = 0.3  # Drop-DTW: drop cost = this quantile of each pair's match costs
    # Oracle positive controls (issue 21, ftcl.losses.oracle): a term that uses the planted
    # snippet labels of the synthetic data: none | phase | class | action-phase | mask.
    oracle: str = "none"
    lambda_oracle: float = 1.0  # its weight (beside lambda_fsd / lambda_lcs)
    oracle_snippets: int = 8  # planted action snippets drawn per video (and as many others)
    oracle_temperature: float = 0.1  # supervised-contrastive temperature
    # The ladder from FTCL to the oracle (issue 21): each key replaces one part of FTCL by its
    # oracle version (planted labels, synthetic data only; ftcl.losses.oracle).
    proposals: str = "attention"  # (a) "planted": action / background / LCS snippets planted
    matches: str = "dp"  # (b) "planted": only planted same-(class, phase) cells can match
    fsd_head: str = "projection"  # (c) "none": FSD on the embeddings (mu = g = their cosine)
    lcs_tau_rule: str = "fixed"  # (d) "quantile": tau = this batch's lcs_tau_quantile of the
    lcs_tau_quantile: float = 0.5  # compared cosines (detached), instead of the fixed tau

    @property
    def enabled(self) -> bool:
        """Whether any FTCL (or oracle) term is active."""
        return (self.action_measure != "none" or self.pair_measure != "none"
                or self.oracle != "none")

    @property
    def needs_planted(self) -> bool:
        """Whether a term reads the planted snippet labels (synthetic data only)."""
        return self.oracle != "none" or self.proposals == "planted" or self.matches == "planted"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule and model selection (:mod:`ftcl.train`).

    The schedule has two stages, as the authors train FTCL: stage 1 trains the backbone with its
    own objective for ``pretrain_iterations``; stage 2 continues from it for ``iterations`` with the
    method's full loss (for a plain backbone, the same loss again, so that every method gets the
    same number of updates). Stage 1 does not depend on the FTCL terms, so its checkpoint is cached
    and shared by all methods with the same backbone, data, seed and stage-1 settings.
    """

    lr: float = 1e-4  # Adam (paper)
    weight_decay: float = 5e-5  # release THUMOS14 (ActivityNet: 1e-3)
    batch_size: int = 16  # pairs of videos per iteration (paper)
    pretrain_iterations: int = 6250  # stage 1; release: 500 epochs x 200 videos / 16
    iterations: int = 2700  # stage 2; release: 25 epochs x 108 iterations (0: stage 1 only)
    stage2_lr: float | None = None  # stage-2 Adam learning rate; None = lr
    stage2_schedule: str = "constant"  # stage-2 lr: constant | cosine (to 0) | warmup-cosine
    # (linear warm-up over the first 10 % of stage 2, then cosine to 0)
    select_stage1: bool = True  # the stage-1 checkpoint ("iteration 0") is a selection candidate
    grad_norms: bool = True  # at each evaluation, measure each loss term's gradient norm
    # gradient shares (issue 21) averaged over this last fraction of stage 2, at every iteration
    # (record "grad_shares"); 0 = off. A measurement only: not part of the run identity.
    grad_share_tail: float = 0.1
    # Eq. 8 as printed (issue 21): one stage from scratch. make_config folds stage 1 into stage 2
    # (iterations += pretrain_iterations, pretrain_iterations = 0, stage-2 lr = lr, the random
    # initialisation not a selection candidate): the same number of updates as the two stages.
    one_stage: bool = False
    eval_every: int = 100  # evaluate on the selection videos every N stage-2 iterations
    selection: str = "holdout"  # "holdout": best on held-out training videos; "last": last
    holdout_fraction: float = 0.2  # share of training videos held out for selection
    sampling: str = "random"  # training snippets: "random" (re-drawn each epoch, as ACM-Net) or
    # "uniform" (fixed); the FTCL release draws once for all epochs
    deterministic: bool = True  # deterministic kernels where cheap (ftcl.seed.seed_everything)
    num_threads: int | None = None  # torch CPU threads; None = leave as is
    reuse_stage1: bool = True  # reuse a cached stage-1 checkpoint with the same settings
    eval_batch_size: int = 32  # videos per forward pass when evaluating
    progress: bool = True  # show a tqdm progress bar
    data_on_device: str | bool = "auto"  # build training batches on the device (features resident
    # there, ftcl.data.device_batches): "auto" = on CUDA; true; false. Same batches either way.


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run."""

    method: str = "ftcl"  # a key of METHODS (recorded; the sections below hold its effect)
    run_name: str | None = None  # run folder name; None = method (give one per config variant)
    dataset: str = "synthumos14"  # synthumos14 | synanet | thumos14 | activitynet13
    profile: str = "quick"  # quick | full (synthetic); full (real)
    seed: int = 0  # seeds training (and the synthetic data set, unless data_seed is given)
    data_seed: int | None = None  # seed of the synthetic data set; None = 0 (same data for all)
    # (the reproduction batch sets data_seed = seed: ftcl.reproduce.plan.DATA_SEED_SCHEME)
    data_version: int = 3  # synthetic benchmark version (ftcl.data.knobs): 3; 2 or 1: old runs
    data_dir: str | None = None  # real features: folder in the release layout
    cache_dir: str | None = None  # synthetic data cache; None = $FTCL_CACHE or ~/.cache/ftcl
    out_dir: str = "runs"  # runs go to <out_dir>/<dataset>-<profile>/<run_name>/seed<k>
    device: str = "auto"  # auto (CUDA if present) | cpu | cuda | cuda:1 ...
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    ftcl: FTCLConfig = field(default_factory=FTCLConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS = {"model": ModelConfig, "loss": LossConfig, "ftcl": FTCLConfig, "train": TrainConfig}
