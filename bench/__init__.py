"""Benchmarks: full-size recipe runs over seeds against their quality bars, and side-by-side speed ratios.

Not tests: ``make bench`` (``python -m bench all``) runs them and writes ``bench/results/*.json``;
``python -m bench.table --write`` puts the figures into the README. A recipe with its own module
``bench/<recipe>.py`` gets that module's ``run(record, seeds)`` (see :mod:`bench.common`); any other recipe
gets its default config run once per seed.
"""

import zoo  # noqa: F401  (first: zoo quiets TensorFlow's C++ start-up log lines before any bench module imports it)
