"""From run records to the reproduced Tables 1-5 and the book's text (never trains).

- :mod:`~ftcl.report.records`: run records read back and validated;
- :mod:`~ftcl.report.statistics`: paired differences by seed, intervals, verdicts, aggregates;
- :mod:`~ftcl.report.paper`: the paper's published tables (labelled reference rows);
- :mod:`~ftcl.report.layout`: what each table holds (rows, labels, baselines, data names);
- :mod:`~ftcl.report.tables`: building and writing the tables;
- :mod:`~ftcl.report.text`, :mod:`~ftcl.report.figures`, :mod:`~ftcl.report.closing`: captions,
  claims paragraphs, figures and the closing note;
- :mod:`~ftcl.report.run_views`: one run's record as tables (the training notebook).
"""
