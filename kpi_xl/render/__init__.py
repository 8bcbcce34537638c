"""Renderers: give the catalog's expressions meaning in one place each (arrays, SQL, Excel)."""
