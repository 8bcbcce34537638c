"""What a KPI declaration is made of, and the registry that holds the catalog.

A :class:`Kpi` is immutable data: metadata (title, unit, direction, number format, target,
sources) plus one :class:`Formula` per variant. Renderers (numpy for Excel functions, SQL
for the engine, Excel formulas for the scorecard) read these declarations; nothing else in
kpi_xl states a KPI's formula.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping

from .expr import Col, Lookup, Node, Param, Scalar, columns

Direction = Literal["higher", "lower", "neutral"]

#: Input kinds. Column kinds take one value per row; ``scalar`` takes one number.
#: ``number``   plain numbers (Excel numbers; booleans and text are refused).
#: ``duration`` numbers in the KPI's stated time unit, or Excel/Python time values
#:              (time of day, timedelta), converted exactly.
#: ``flag``     yes/no: TRUE/FALSE, 1/0, or the text Y/N/Yes/No (any case).
#: ``category`` text labels, such as channel names (compared case-insensitively).
#: ``score``    numbers, or the text N/A (not applicable: leaves the denominator).
#: ``scalar``   one number (a period total, a count of agents...).
INPUT_KINDS = ("number", "duration", "flag", "category", "score", "scalar")
UNITS = {
    "score": "points", "percent": "%", "seconds": "s", "hours": "h", "count": "",
    "currency": "", "ratio": "×", "erlangs": "E", "agents": "agents", "fte": "FTE",
}
#: How a period-on-period change of the KPI is tested against chance (kpi_xl.catalog.change):
#: ``proportion`` a share of rows (value p over n rows): the two-proportion z-test;
#: ``nps``        a difference of two shares of one sample (NPS): z from its margin;
#: ``mean``       a mean of rows (a duration, a score): Welch's t from its n and margin;
#: ``count``      a count of events in the period: the conditional binomial (Poisson) test;
#: ``quantile``   an order statistic (median, p90): not tested (no sampling distribution
#:                from the aggregates);
#: ``none``       a formula on period totals, a stock or a model: not tested.
CHANGE_TESTS = ("proportion", "nps", "mean", "count", "quantile", "none")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
#: Seconds in each unit a duration range may be given in: the ``unit`` option of every
#: function with duration inputs (kpi_xl.render.arrays.compute). "days" are Excel time
#: values (0:02:30 is 0.00173611 of a day), which is how xlwings Lite and Server hand a
#: time-formatted cell to Python: as a plain number, its format lost.
TIME_UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}


@dataclass(frozen=True)
class Input:
    """One argument of a KPI.

    ``required_when`` says on which domain rows a blank is an error: ``True`` means on
    every row where any other input is present; a row-level node (e.g. ``answered = 1``)
    restricts it. Optional column inputs that are left out take ``default_value`` on
    every row (documented in ``doc``). The rules these fields state are written out once,
    as expressions every renderer evaluates, in :mod:`kpi_xl.catalog.rules`."""
    name: str
    kind: str
    doc: str
    lo: float | str | None = None          # a number or the name of a param
    hi: float | str | None = None
    time_unit: str | None = None           # for durations: "seconds" or "hours"
    optional: bool = False
    default_value: float | None = None
    required_when: "Node | bool" = True   # True: every domain row; False: never
    positive: bool = False                 # scalars: must be > 0
    #: categories: the name of a table-valued param whose labels are the only values the
    #: input may take (the channel must have an SLA target); see kpi_xl.catalog.rules
    one_of: str | None = None

    def __post_init__(self):
        if self.kind not in INPUT_KINDS:
            raise ValueError(f"input {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "duration" and self.time_unit not in TIME_UNITS:
            raise ValueError(f"input {self.name!r}: durations need time_unit")
        if self.one_of is not None and self.kind != "category":
            raise ValueError(f"input {self.name!r}: only categories take one_of")

    @property
    def is_column(self) -> bool:
        return self.kind != "scalar"


@dataclass(frozen=True)
class ParamSpec:
    """A named option (threshold, scale point, target table) with its default."""
    name: str
    default: Any
    doc: str
    lo: float | None = None
    hi: float | None = None
    integer: bool = False
    #: the option is the length of the reported period in months (an annualised KPI):
    #: the engine sets it from the period it computes (3 for a quarter) and leaves the KPI
    #: out of a period that is not made of whole months (a week, a day)
    period_months: bool = False


@dataclass(frozen=True)
class Formula:
    """How the aggregates combine. ``measures`` are named aggregates or scalars shown in a
    breakdown (promoters, detractors...; a ratio, such as the QA score's points share, has
    no value where its denominator is 0); ``value`` is the KPI; ``n`` its sample size;
    ``margin`` the half-width of its 95 % confidence interval, where one applies."""
    value: Node
    n: Node | None = None
    margin: Node | None = None
    measures: Mapping[str, Node] = field(default_factory=dict)

    def nodes(self) -> list[Node]:
        return [x for x in (self.value, self.n, self.margin, *self.measures.values())
                if x is not None]


@dataclass(frozen=True)
class Variant:
    """A named definition of the KPI where the field has several (service level over
    offered or over answered...). ``required`` overrides inputs' ``required_when``.
    ``unit``/``number_format``/``direction`` override the KPI's where they differ."""
    name: str
    doc: str
    formula: Formula
    required: Mapping[str, "Node | bool"] = field(default_factory=dict)
    unit: str | None = None
    number_format: str | None = None
    direction: Direction | None = None
    target: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # param defaults it implies
    change: str | None = None          # CHANGE_TESTS; None: the KPI's


@dataclass(frozen=True)
class Kpi:
    key: str
    excel_name: str
    title: str
    family: str
    description: str
    formula_text: str
    unit: str
    direction: Direction
    number_format: str
    inputs: tuple[Input, ...]
    variants: tuple[Variant, ...]
    target: float | None
    target_source: str
    sources: tuple[str, ...]
    params: tuple[ParamSpec, ...] = ()
    min_n: int | None = None               # below this n the result is flagged
    #: Where the formula describes one *unit* of rows (one QA evaluation: its rubric items),
    #: the unit's column; a period's value is then the mean of its units' values and n the
    #: number of units. None: the formula runs over all of the period's rows at once.
    per: str | None = None
    examples: tuple[str, ...] = ()          # Excel formulas shown in the reference
    #: the values the KPI can take, where its unit and formula do not say it (NPS: -100 to
    #: 100); see kpi_xl.catalog.rules.value_range
    value_range: tuple[float | None, float | None] | None = None
    #: how a change between two periods is tested (CHANGE_TESTS); a variant may differ
    change: str = "none"
    #: the reports flag a period far worse than its usual level (kpi_xl.catalog.change.
    #: spike): for waiting times whose bad weeks matter more than their average
    spikes: bool = False
    #: how agents and team leads move the KPI (who acts on it, for one no one aims at),
    #: in a trainer's words, and where that advice comes from: the KPI handbook shows it
    levers: str = ""
    levers_source: str = ""

    # -- lookups -----------------------------------------------------------------
    @property
    def default_variant(self) -> Variant:
        return self.variants[0]

    def variant(self, name: str | None) -> Variant:
        if name is None or name == "":
            return self.variants[0]
        if not isinstance(name, str):   # a number or a range in the variant's cell
            from ..errors import KpiError
            raise KpiError(self.key, "variant", f"must be one of {self.variant_names}", name)
        for v in self.variants:
            if v.name == name.strip().lower():
                return v
        from ..errors import KpiError
        raise KpiError(self.key, "variant", f"must be one of {self.variant_names}", name)

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    def input(self, name: str) -> Input:
        for i in self.inputs:
            if i.name == name:
                return i
        raise KeyError(name)

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def unit_of(self, variant: Variant) -> str:
        return variant.unit or self.unit

    def format_of(self, variant: Variant) -> str:
        return variant.number_format or self.number_format

    def direction_of(self, variant: Variant) -> Direction:
        return variant.direction or self.direction

    def change_of(self, variant: Variant) -> str:
        """The test of a period-on-period change (CHANGE_TESTS) for the variant."""
        return variant.change or self.change

    def target_of(self, variant: Variant) -> float | None:
        """The variant's own target where it has one (a 0 target counts), else the KPI's."""
        return self.target if variant.target is None else variant.target

    @property
    def duration_inputs(self) -> tuple[Input, ...]:
        """The inputs the ``unit`` option applies to."""
        return tuple(i for i in self.inputs if i.kind == "duration")

    def unit_option_doc(self) -> str:
        """Help text of the ``unit`` option (functions with duration inputs only)."""
        names = ", ".join(i.name for i in self.duration_inputs)
        own = sorted({i.time_unit for i in self.duration_inputs})
        default = f'"{own[0]}"' if len(own) == 1 else "each input's own unit"
        return (f'Optional unit of the numbers in {names}: "seconds", "minutes", "hours" or '
                f'"days" (Excel time values such as 0:02:30, as xlwings Lite and Server pass '
                f"time-formatted cells); default {default}.")

    @property
    def column_inputs(self) -> tuple[Input, ...]:
        return tuple(i for i in self.inputs if i.is_column)

    def validate(self) -> None:
        """Structural checks, run when the catalog is built (fail at import, not in a cell)."""
        if not _KEY.match(self.key):
            raise ValueError(f"bad KPI key {self.key!r}")
        if not self.excel_name.startswith("KPI_") or not self.excel_name.isupper():
            raise ValueError(f"{self.key}: Excel name must be upper case and start KPI_")
        if self.unit not in UNITS:
            raise ValueError(f"{self.key}: unknown unit {self.unit!r}")
        for i in self.inputs:
            if i.one_of is not None and not (i.one_of in {p.name for p in self.params}
                                             and isinstance(self.param(i.one_of).default, dict)):
                raise ValueError(f"{self.key}: input {i.name}: one_of must name a table param")
        if self.duration_inputs and "unit" in {i.name for i in self.inputs} | \
                {p.name for p in self.params}:
            raise ValueError(f"{self.key}: 'unit' is the option of duration inputs")
        if not self.sources or not self.variants:
            raise ValueError(f"{self.key}: needs sources and at least one variant")
        names = {i.name for i in self.inputs}
        pnames = {p.name for p in self.params}
        for v in self.variants:
            for node in v.formula.nodes():
                for n in node.walk():
                    if isinstance(n, Col) and (n.name not in names or not self.input(n.name).is_column):
                        raise ValueError(f"{self.key}/{v.name}: unknown column {n.name}")
                    if isinstance(n, Scalar) and (n.name not in names or self.input(n.name).is_column):
                        raise ValueError(f"{self.key}/{v.name}: unknown scalar {n.name}")
                    if isinstance(n, Param) and n.name not in pnames:
                        raise ValueError(f"{self.key}/{v.name}: unknown param {n.name}")
                    if isinstance(n, Lookup) and self.input(n.key.name).one_of != n.table.name:
                        # a label the table lacks must be refused by a rule, not looked up
                        raise ValueError(f"{self.key}/{v.name}: input {n.key.name} looks "
                                         f"labels up in {n.table.name} but does not declare "
                                         f"one_of={n.table.name!r}")
            if v.unit and v.unit not in UNITS:
                raise ValueError(f"{self.key}/{v.name}: unknown unit {v.unit!r}")
            self._validate_change(v)

    def _validate_change(self, v: Variant) -> None:
        """A change test needs what it reads from the results: n for every test of a
        sample, a margin (the sample's spread) for the NPS and mean tests, a share for the
        two-proportion test and a count for the Poisson test."""
        test, f = self.change_of(v), v.formula
        where = f"{self.key}/{v.name}: change test {test!r}"
        if test not in CHANGE_TESTS:
            raise ValueError(f"{where} is not one of {CHANGE_TESTS}")
        if test in ("proportion", "nps", "mean", "quantile") and f.n is None:
            raise ValueError(f"{where} needs the formula's n")
        if test in ("nps", "mean") and f.margin is None:
            raise ValueError(f"{where} needs the formula's margin (the sample's spread)")
        if test == "proportion" and self.unit_of(v) != "percent":
            raise ValueError(f"{where} needs a share (unit percent)")
        if test == "count" and self.unit_of(v) != "count":
            raise ValueError(f"{where} needs a count (unit count)")


def status(value: float | None, target: float | None, direction: str) -> str:
    """'on target', 'off target', or '' where there is no value, no target or no direction.
    The one rule for every place that shows a status (cells, engine, scorecard)."""
    if value is None or target is None or direction == "neutral" or value != value:
        return ""
    ok = value >= target if direction == "higher" else value <= target
    return "on target" if ok else "off target"


class Catalog(Mapping[str, Kpi]):
    """Read-only mapping key -> Kpi, in declaration order."""

    def __init__(self, kpis: list[Kpi]):
        d: dict[str, Kpi] = {}
        excel: set[str] = set()
        for k in kpis:
            k.validate()
            if k.key in d or k.excel_name in excel:
                raise ValueError(f"duplicate KPI {k.key}/{k.excel_name}")
            d[k.key] = k
            excel.add(k.excel_name)
        self._d = MappingProxyType(d)

    def __getitem__(self, key: str) -> Kpi:
        try:
            return self._d[key]
        except KeyError:
            from ..errors import KpiError
            raise KpiError(None, "kpi", "must be a key of the catalog (see `kpi-xl kpis`)",
                           key) from None

    def __contains__(self, key: object) -> bool:
        # Mapping's default asks __getitem__ and expects KeyError; ours raises KpiError
        return key in self._d

    def get(self, key: str, default: Kpi | None = None) -> Kpi | None:
        return self._d.get(key, default)

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def families(self) -> dict[str, list[Kpi]]:
        out: dict[str, list[Kpi]] = {}
        for k in self._d.values():
            out.setdefault(k.family, []).append(k)
        return out


def formula_columns(f: Formula) -> list[str]:
    cols: dict[str, None] = {}
    for node in f.nodes():
        for c in columns(node):
            cols.setdefault(c)
    return list(cols)
