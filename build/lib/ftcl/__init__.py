"""ftcl: the reproducible companion of FTCL (Gao, Chen, Xu; CVPR 2022).

Fine-grained Temporal Contrastive Learning for Weakly-supervised Temporal Action Localization.
The package holds all real logic; the notebooks in ``notebooks/`` explain and call it.

Modules (one concept each):

- :mod:`ftcl.dp` -- the dynamic-programming engine: FSD (Eq. 2-5), LCS (Eq. 6), soft-DTW, Drop-DTW.
- :mod:`ftcl.dp_reference` -- the same recursions as plain per-cell loops (the tests' reference).
- :mod:`ftcl.data` -- real on-disk formats, the SynTHUMOS14 / SynANet benchmarks, pair sampling.
- :mod:`ftcl.inference` -- CAS and attention to proposals (thresholds, outer-inner contrast, NMS).
- :mod:`ftcl.evaluation` -- ActivityNet-protocol detection mAP and video classification mAP.
- :mod:`ftcl.models`, :mod:`ftcl.losses`, :mod:`ftcl.train` -- backbones, Eq. 4/7/8, the trainer.
- :mod:`ftcl.io`, :mod:`ftcl.provenance`, :mod:`ftcl.device` -- atomic files, provenance, device.
"""

__version__ = "0.1.0"
