"""The tooling around the core: the command line, progress and logs, plots, the comparison of
the two backends and its report, the benchmark.

It imports the core (``common``); the core never imports it.
"""
