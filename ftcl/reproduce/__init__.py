"""Reproducing Tables 1-5: one run with all its artifacts, and the batch of every run.

- :mod:`~ftcl.reproduce.run`: one run, trained, measured and stored (``ftcl train``, the training
  notebook and the batch share it);
- :mod:`~ftcl.reproduce.plan`: the runs the tables need, their identity and stage-1 groups;
- :mod:`~ftcl.reproduce.batch`: ``ftcl reproduce``: the scheduler, the records, the tables;
- :mod:`~ftcl.reproduce.executors`: where a run executes (a local process pool, Ray);
- :mod:`~ftcl.reproduce.processes`: workers and kernels die with the driver (no orphans).
"""
