"""Data: canonical schemas, source mappings, readers and the rejects report."""
