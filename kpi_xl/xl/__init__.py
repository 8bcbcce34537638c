"""Excel functions: a thin adapter from the catalog to xlwings (classic, Lite, Server)."""
