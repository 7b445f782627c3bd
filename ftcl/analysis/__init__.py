"""What the trained models do, measured beyond the tables (reads checkpoints and run records).

- :mod:`~ftcl.analysis.mechanism`: does FTCL align the same planted phases? (LCS matches, FSD
  alignment, proposal purity, completeness), measured right after training;
- :mod:`~ftcl.analysis.mechanism_summary`: the mechanism chapter (summary, paragraph, figure);
- :mod:`~ftcl.analysis.purity`: the share of action snippets in a model's FTCL proposals;
- :mod:`~ftcl.analysis.protocol`: what the release's test-set selection and best-of-k seeds add.
"""
