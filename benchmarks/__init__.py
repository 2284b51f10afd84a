"""Benchmarks for ``make bench``; outside the importable package, they only call it."""
