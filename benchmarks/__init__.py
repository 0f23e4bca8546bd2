"""Benchmarks of the registry service against the plain MLflow calls it wraps (``make bench``).

Run with ``python -m benchmarks [--quick] [--only NAME]``. Everything starts on 127.0.0.1
in a temporary directory and is stopped and removed at the end, Ctrl-C included. Not part
of the test suite: pytest collects ``tests/`` only.
"""
