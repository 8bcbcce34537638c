"""The one error type of kpi_xl's calculations.

Following scikit-learn's validators, a message names the KPI, the input, the rule and the
offending value, and where the value sits (row of the range or of the file), in words a
manager understands: ``nps: 'scores' must be a number from 0 to 10, got 11 (cell 5 of the range)``.
"""

from __future__ import annotations

from typing import Any


class KpiXlError(Exception):
    """Every error a user can cause (config, data, templates, mail): one sentence naming
    the file, section or cell. The command line catches this one class, prints the
    message and exits with ``exit_code`` (a traceback only with ``--debug``)."""
    exit_code = 1


class KpiError(KpiXlError, ValueError):
    """Bad input or an undefined result (such as an empty denominator)."""

    def __init__(self, kpi: str | None, what: str, rule: str, value: Any = None,
                 row: int | None = None, *, has_value: bool | None = None,
                 more: int = 0, row_label: str = "cell {} of the range"):
        self.kpi = kpi
        self.what = what
        self.rule = rule
        self.value = value
        self.row = row
        shown = has_value if has_value is not None else value is not None
        msg = f"'{what}' {rule}" if what else rule
        if shown:
            msg += f", got {_show(value)}"
        if row is not None:
            extra = (f"; {more} more {'cell breaks' if more == 1 else 'cells break'} the same rule"
                     if more else "")
            msg += f" ({row_label.format(row)}{extra})"
        self.text = msg
        super().__init__(f"{kpi}: {msg}" if kpi else msg)


def _show(v: Any) -> str:
    if isinstance(v, str):
        return repr(v if len(v) <= 40 else v[:37] + "...")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v) if not isinstance(v, (int, float)) else str(v)
