"""Helpers of the benchmark runner (``benchmarks/run.py``); stdlib only."""
