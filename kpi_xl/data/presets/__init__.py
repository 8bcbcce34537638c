"""Shipped source mappings (TOML), usable as ``preset = "<name>"`` in a config."""
