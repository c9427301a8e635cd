"""Benchmarks of async-webhook: `python -m bench` (figures) and `python -m bench.load` (load test).

Every figure is measured next to a floor it cannot beat, in the same run, and quoted as medians
and ratios because these machines are noisy. Importing this package does nothing.
"""
