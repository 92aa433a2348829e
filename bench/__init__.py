"""Benchmarks: full-size recipe runs against their quality bars, and side-by-side speed ratios.

Not tests: ``make bench`` (``python -m bench all``) runs them and writes ``bench/results/*.json``.
A recipe with its own module ``bench/<recipe>.py`` exposing ``run(results_dir) -> dict`` gets that;
any other recipe gets a full default run through :func:`bench.common.run_recipe`.
"""
