"""Benchmarks: `python -m benchmarks`. Figures are reported as ratios measured in one run."""
