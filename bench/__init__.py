"""Benchmarks (quality.md, "Benchmarks"): `python -m bench`; results in docs/performance.md."""
