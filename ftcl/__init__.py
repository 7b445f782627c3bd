"""ftcl: the reproducible companion of FTCL (Gao, Chen, Xu; CVPR 2022).

Fine-grained Temporal Contrastive Learning for Weakly-supervised Temporal Action Localization.
The package holds all real logic; the notebooks in ``notebooks/`` explain and call it.

The map: each part, what it owns, and what it may import of ftcl. ``tests/test_architecture.py``
checks this layering, that there is no import circle, and the size limits::

    part        owns                                                  may import
    ----------  ----------------------------------------------------  -------------------------
    base        paths (every folder and file name, the checkout),      base
                io (atomic writes, locks), interrupt (SIGINT and
                SIGTERM stop a run cleanly), seed, device,
                provenance, project (the repository URL)
    dp          the DP engine: FSD (Eq. 2-5), LCS (Eq. 6), soft-DTW,   nothing
                Drop-DTW; the recursions as data; per-cell reference
    config      RunConfig and its sections, PROFILES, METHODS, every   base
                configuration check, the resumable keys, the run id
    evaluation  predict (the one eval-mode forward loop), localize     base
                (CAS -> proposals -> NMS), metrics (mAP, Eq. 9)
    data        real formats, SynTHUMOS14 / SynANet, sampling, video   base, dp, evaluation
                pairs, the data checks of a run
    models      ACM-Net, STPN, W-TALC, CoLA behind one interface       base, config
    losses      each backbone's objective, the FTCL terms (Eq. 2-8)    base, config, dp, models
    train       trainer, its data, schedule, checkpoints, run record,  all of the above
                gradient diagnostics
    report      run records read back, statistics, the paper's rows,   base, config, data,
                Tables 1-5 with their text and figures, run views      evaluation (never train)
    analysis    mechanism (phase agreement, purity, completeness),     all of the above
                proposal purity, the release protocol's effects
    reproduce   one run with all its artifacts, the plan, the batch,   all of the above
                its executors and processes (no orphans)
    book        interactive figures, offline HTML, reproduce boxes,    base, config, dp, data,
                the stored training run, the Sphinx extension          report
    cli         the one command line (python -m ftcl)                  all of the above
"""

__version__ = "0.1.0"
