"""Benchmarks of iop-roster: run on purpose, never as tests (``python -m benchmarks.run``)."""
