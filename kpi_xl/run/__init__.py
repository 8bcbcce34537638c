"""The monthly run and its data guards (see month.py and guards.py)."""
