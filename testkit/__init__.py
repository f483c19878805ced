"""Helpers that run the real services as processes, shared by the test suite and the benchmark.

Not part of the installed services: it is imported from the repository root, like ``tests``.
"""
