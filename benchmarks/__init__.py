"""Benchmarks of the tap and the target against the sandbox; `make bench` runs them."""
