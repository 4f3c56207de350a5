"""Performance benchmarks of mimeops: `python -m bench` (full) or `python -m bench --quick`.

Imports nothing here: bench._child is run in fresh interpreters to time imports.
"""
