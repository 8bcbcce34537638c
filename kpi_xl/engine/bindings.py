"""The bindings live in :mod:`kpi_xl.bindings` (the loader uses them too); this name stays
for the engine's own modules and other code importing it from here."""

from ..bindings import BINDINGS, NOT_IN_ENGINE, SUMMED, TICKET_FLOW, Binding

__all__ = ["BINDINGS", "NOT_IN_ENGINE", "SUMMED", "TICKET_FLOW", "Binding"]
