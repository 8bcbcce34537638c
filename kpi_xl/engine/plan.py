"""The plan lives in :mod:`kpi_xl.plan` (the loader's rule checks use it too); this name
stays for the engine's own modules and other code importing it from here."""

from ..plan import Item, KpiChoice, make_plan, source_of

__all__ = ["Item", "KpiChoice", "make_plan", "source_of"]
