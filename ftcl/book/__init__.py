"""What only the book needs (imported by its pages and its build, never by the package below).

- :mod:`~ftcl.book.viz`: interactive figures (FSD alignments, LCS links, the data probe sweep);
- :mod:`~ftcl.book.offline`: figures as HTML that loads nothing from the network;
- :mod:`~ftcl.book.reproduce_box`: the "Reproduce this page" box of each table chapter;
- :mod:`~ftcl.book.stored_run`: the training chapter, a stored executed run of the batch;
- :mod:`~ftcl.book.extension`: the Sphinx extension (plotly.js per page, kernels, launch links).
"""
