"""Benchmarks of every write path on the activities table, at 50 000 activities and beyond.

`python -m bench 50k,250k,1M` (or `just bench 50k,250k,1M`) resets the stack, loads the synthetic
dataset at each size, measures the insert paths, the debounce check, both views' refresh, the full
refresh cycle, a reader during a refresh and the flush-only mode, then writes a JSON report, a
Markdown table and a PNG plot under ``bench/results/``. ``--check`` fails when a budget of the
ticket is broken at 50 000 activities.
"""
