"""The period totals, as SQL: one row per period of business figures and of counts the
period KPIs need (contacts handled, agents active, survey responses, headcounts, leavers),
rendered from declarations like every other KPI input, so that :meth:`Engine.sql` shows
everything the engine runs.

* Business figures are monthly (``kpi_xl.data.schema.BUSINESS``). A period made of whole
  months (a month, a quarter, a year, a range of whole months) adds up its months as each
  column declares (``over``): flows are summed, a stock at the start is the first month's,
  a stock at the end the last month's; and only when every one of its months has that
  figure, never from some of them. A week or a day has no business figures.
* Counts from rows are counted per period like the KPIs (:class:`~.queries.Window`).
* The ticket flow comes from the contacts that have a ``state`` (the tickets), against
  each period's bounds: created in the period (``created``, or ``date`` where created is
  blank or unmapped), solved in it (``solved_at``), open at its start and at its end
  (created before the bound and not solved before it). A ticket solved or closed without
  a solved time is left out of all four (when it was solved is unknown; the loader lists
  it in the rejects report); an open or pending one without it is open at every later
  bound. A solved time before the created time counts as solved when created, so that
  open at the end = open at the start + created − solved holds exactly. A period that
  ends before the first ticket has no figures (the data do not cover it), not zeros.
* Headcounts come from the roster's hire and leaving dates against the period's first and
  last day: at the start, everyone hired by then and not gone before it; at the end,
  everyone hired by then whose last day is after it; leavers, those whose last day falls
  within the period.
"""

from __future__ import annotations

from typing import Mapping

from ..data.schema import BUSINESS, OPEN_STATES, STATES
from ..render.sql import Dialect, quote_text
from ..bindings import TICKET_FLOW
from .plan import source_of
from .queries import Window, timestamp

#: the counts derived from the row tables and the roster, with the table each needs
DERIVED = {"contacts_handled": "contacts", "agents_active": "contacts",
           "contacts_resolved": "contacts",
           "survey_responses": "surveys", "headcount_start": "roster",
           "headcount_end": "roster", "leavers": "roster", "tickets_created": "contacts",
           "tickets_solved": "contacts", "tickets_open_start": "contacts",
           "tickets_open_end": "contacts"}


#: the row tables' columns the totals read, by table (besides those that place a row in a
#: period, :data:`~.queries.PLACES`): the contacts' handled flag, agent and resolved flag
#: (:meth:`Totals._contacts`) and the ticket flow's state, times and date
#: (:meth:`Totals._tickets`). The engine keeps them when it copies a table
#: (:func:`kpi_xl.engine.engine.columns_read`); a column used below and not listed here
#: fails ``tests/test_engine_reads.py`` (the engine over every canonical column)
READS = {"contacts": ("handled", "agent", "resolved", "state", "solved_at", "created", "date")}


def _date(day) -> str:
    return f"DATE '{day.isoformat()}'"


#: each figure the totals can hold, in a manager's words (the one place the notes name
#: them: "no cost budget figures were loaded", never the canonical column name)
FIGURE_WORDS = {
    "customers_start": "customers at the start", "customers_end": "customers at the end",
    "customers_new": "new customers", "customers_lost": "lost customers",
    "revenue_start": "starting revenue", "expansion": "expansion revenue",
    "contraction": "contraction revenue", "churned_revenue": "churned revenue",
    "total_cost": "total cost", "cost_budget": "cost budget",
    "self_service_resolutions": "self-service resolutions",
    "assisted_resolutions": "assisted resolutions",
    "deflected_contacts": "deflected contacts", "orders": "orders",
    "revenue": "revenue", "service_benefit": "service benefit",
    "kb_searches": "knowledge-base searches",
    "kb_failed_searches": "failed knowledge-base searches",
    "dau": "daily active users", "wau": "weekly active users", "mau": "monthly active users",
    "leads_dialled": "leads dialled", "leads_reached": "leads reached",
    "outbound_calls": "outbound calls", "outbound_sales": "outbound sales",
    "acquisition_cost": "acquisition cost", "leads": "leads", "conversions": "conversions",
    "surveys_sent": "surveys sent", "contacts_handled": "handled contacts",
    "agents_active": "active agents", "contacts_resolved": "resolved contacts",
    "survey_responses": "survey responses", "headcount_start": "headcount",
    "headcount_end": "headcount", "leavers": "leavers",
}

#: :meth:`Totals.available`'s reason for a figure no source loaded (``not_loaded`` words it)
NOT_LOADED = "not loaded"


def not_loaded(figures) -> str:
    """The sentence for figures no source loaded, in plain words, each once:
    ``no starting revenue or churned revenue figures were loaded``."""
    words = list(dict.fromkeys(FIGURE_WORDS.get(f, f.replace("_", " ")) for f in figures))
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return f"no {listed} figures were loaded"


class Totals:
    def __init__(self, columns: Mapping[str, set[str]], dialect: Dialect, window: Window):
        self.columns, self.d, self.window = columns, dialect, window

    def q(self, name: str) -> str:
        return self.d.ident(name)

    # ------------------------------------------------------------------ what is there
    def business_columns(self) -> list[str]:
        cols = self.columns.get("business", set())
        have = [c.name for c in BUSINESS.columns if c.name != "month" and c.name in cols]
        if "customers_lost" not in have and {"customers_start", "customers_new",
                                             "customers_end"} <= set(have):
            have.append("customers_lost")          # derived: start + new - end
        return have

    def available(self) -> dict[str, str | None]:
        """Each figure the totals can hold -> None when it is there, :data:`NOT_LOADED`
        when no source loaded it (:func:`not_loaded` words those together), or the reason
        it is not (a sentence ending the engine's 'skipped' line)."""
        out: dict[str, str | None] = {}
        whole = all(p.months for p in self.window.periods)
        for c in BUSINESS.columns:
            if c.name == "month":
                continue
            if "business" not in self.columns:
                out[c.name] = NOT_LOADED
            elif c.name not in self.business_columns():
                out[c.name] = NOT_LOADED
            elif not whole:
                noun = self.window.periods[-1].noun
                out[c.name] = (f"business figures are monthly, and a {noun} is not made of "
                               "whole months")
            else:
                out[c.name] = None
        contacts = self.columns.get("contacts", set())
        ok_c = "handled" in contacts and self.window.placeable(contacts)
        out["contacts_handled"] = None if ok_c else NOT_LOADED
        out["agents_active"] = None if ok_c and "agent" in contacts else \
            NOT_LOADED
        out["contacts_resolved"] = None if ok_c and "resolved" in contacts else \
            NOT_LOADED
        surveys = self.columns.get(source_of("surveys"))
        out["survey_responses"] = None if surveys and self.window.placeable(surveys) else \
            NOT_LOADED
        for c in ("headcount_start", "headcount_end", "leavers"):
            out[c] = None if "roster" in self.columns else NOT_LOADED
        flow = self.ticket_flow_missing()
        for c in TICKET_FLOW:
            out[c] = flow
        return out

    def ticket_flow_missing(self) -> str | None:
        """None when the contacts can give the ticket flow, else the reason."""
        cols = self.columns.get("contacts")
        if cols is None:
            return "no contacts data was loaded"
        need = [c for c in ("state", "solved_at") if c not in cols]
        if not ({"created", "date"} & cols):
            need.append("created' or 'date")
        if need:
            return ("the ticket flow needs the contacts' " + " and ".join(f"'{c}'" for c in need)
                    + " (state: which rows are tickets, and whether one without a solved "
                    "time is still open; map it from the export's status with codes)")
        return None

    # ------------------------------------------------------------------ SQL
    def _periods(self) -> str:
        rows = ", ".join(f"({quote_text(p.label)}, {_date(p.start)}, {_date(p.last)})"
                         for p in self.window.periods)
        return f"(SELECT * FROM (VALUES {rows}) AS v(period, first_day, last_day))"

    def _business(self) -> tuple[str | None, list[str]]:
        have = [c for c in self.business_columns() if c != "customers_lost"
                or "customers_lost" in self.columns.get("business", set())]
        if not have or not all(p.months for p in self.window.periods):
            return None, []
        rows = []
        for p in self.window.periods:
            ms = p.months
            for i, m in enumerate(ms):
                rows.append(f"({quote_text(p.label)}, {quote_text(m)}, {len(ms)}, "
                            f"{'TRUE' if i == 0 else 'FALSE'}, "
                            f"{'TRUE' if i == len(ms) - 1 else 'FALSE'})")
        pm = (f"(SELECT * FROM (VALUES {', '.join(rows)}) AS v(period, month, months, "
              "is_first, is_last))")
        dbl = self.d.double
        sel = []
        for name in have:
            col = BUSINESS.column(name)
            x = f"CAST(b.{self.q(name)} AS {dbl})"
            if col.over == "first":
                agg = f"MAX(CASE WHEN pm.is_first THEN {x} END)"
            elif col.over == "last":
                agg = f"MAX(CASE WHEN pm.is_last THEN {x} END)"
            else:     # a flow: only when every month of the period has it
                agg = f"CASE WHEN COUNT(b.{self.q(name)}) = MAX(pm.months) THEN SUM({x}) END"
            sel.append(f"{agg} AS {self.q(name)}")
        sql = (f"SELECT pm.period, {', '.join(sel)} FROM {pm} AS pm "
               f"LEFT JOIN src_business AS b ON b.{self.q('month')} = pm.month "
               f"GROUP BY pm.period")
        if "customers_lost" in self.business_columns() and "customers_lost" not in have:
            s, n, e = (self.q(c) for c in ("customers_start", "customers_new", "customers_end"))
            sql = (f"SELECT *, {s} + {n} - {e} AS {self.q('customers_lost')} FROM ({sql}) "
                   f"AS biz")
        return sql, self.business_columns()

    def _rows(self, table: str, select: str) -> str:
        src = source_of(table)
        label, keep = self.window.label_and_filter(self.columns[src], self.q)
        return (f"SELECT _p AS period, {select} FROM (SELECT *, {label} AS _p FROM src_{src} "
                f"WHERE {keep}) AS r GROUP BY _p")

    def _contacts(self) -> tuple[str | None, list[str]]:
        cols = self.columns.get("contacts", set())
        if "handled" not in cols or not self.window.placeable(cols):
            return None, []
        dbl, h = self.d.double, self.q("handled")
        agent = (f"COUNT(DISTINCT CASE WHEN {h} = 1 THEN {self.q('agent')} END)"
                 if "agent" in cols else "NULL")
        # the handled contacts marked resolved (cost per resolution's denominator)
        resolved = (f"COUNT(CASE WHEN {h} = 1 AND {self.q('resolved')} = 1 THEN 1 END)"
                    if "resolved" in cols else "NULL")
        return self._rows("contacts", f"CAST(COUNT(CASE WHEN {h} = 1 THEN 1 END) AS {dbl}) "
                                      f"AS contacts_handled, CAST({agent} AS {dbl}) AS "
                                      f"agents_active, CAST({resolved} AS {dbl}) AS "
                                      f"contacts_resolved"), \
            ["contacts_handled", "agents_active", "contacts_resolved"]

    def _surveys(self) -> tuple[str | None, list[str]]:
        cols = self.columns.get(source_of("surveys"))
        if not cols or not self.window.placeable(cols):
            return None, []
        return (self._rows("surveys", f"CAST(COUNT(*) AS {self.d.double}) AS survey_responses"),
                ["survey_responses"])

    def _roster(self) -> tuple[str | None, list[str]]:
        cols = self.columns.get("roster")
        if cols is None:
            return None, []
        hired = f"r.{self.q('hired')}" if "hired" in cols else "CAST(NULL AS DATE)"
        left = f"r.{self.q('left')}" if "left" in cols else "CAST(NULL AS DATE)"
        dbl = self.d.double

        def count(cond: str) -> str:
            return f"CAST(COUNT(CASE WHEN {cond} THEN 1 END) AS {dbl})"

        start = (f"({hired} IS NULL OR {hired} <= p.first_day) AND "
                 f"({left} IS NULL OR {left} >= p.first_day)")
        end = (f"({hired} IS NULL OR {hired} <= p.last_day) AND "
               f"({left} IS NULL OR {left} > p.last_day)")
        gone = f"{left} >= p.first_day AND {left} <= p.last_day"
        return (f"SELECT p.period, {count(start)} AS headcount_start, {count(end)} AS "
                f"headcount_end, {count(gone)} AS leavers FROM {self._periods()} AS p "
                f"CROSS JOIN src_roster AS r GROUP BY p.period",
                ["headcount_start", "headcount_end", "leavers"])

    def _tickets(self) -> tuple[str | None, list[str]]:
        if self.ticket_flow_missing() is not None:
            return None, []
        cols = self.columns["contacts"]
        q = self.q
        c = (f"COALESCE({q('created')}, {q('date')})" if {"created", "date"} <= cols
             else q("created") if "created" in cols else q("date"))
        s = q("solved_at")
        done = ", ".join(quote_text(x) for x in STATES if x not in OPEN_STATES)
        # the tickets: rows with a state and a time; solved or closed without a solved
        # time: left out (when they were solved is unknown)
        tickets = (f"SELECT c, CASE WHEN s < c THEN c ELSE s END AS s FROM (SELECT "
                   f"CAST({c} AS TIMESTAMP) AS c, CAST({s} AS TIMESTAMP) AS s, "
                   f"{q('state')} AS st FROM src_contacts) AS x WHERE st IS NOT NULL AND "
                   f"c IS NOT NULL AND NOT (s IS NULL AND st IN ({done}))")
        bounds = ", ".join(f"({quote_text(p.label)}, {timestamp(p.start)}, {timestamp(p.end)})"
                           for p in self.window.periods)
        dbl = self.d.double

        def count(cond: str) -> str:
            # a period that ends before the first ticket is not covered by the data: NULL
            return (f"CASE WHEN MIN(t.c) < p.t1 THEN CAST(COUNT(CASE WHEN {cond} THEN 1 END) "
                    f"AS {dbl}) END")

        def open_at(b: str) -> str:
            return count(f"t.c < p.{b} AND (t.s IS NULL OR t.s >= p.{b})")

        return (f"SELECT p.period, {count('t.c >= p.t0 AND t.c < p.t1')} AS tickets_created, "
                f"{count('t.s >= p.t0 AND t.s < p.t1')} AS tickets_solved, "
                f"{open_at('t0')} AS tickets_open_start, {open_at('t1')} AS tickets_open_end "
                f"FROM (SELECT * FROM (VALUES {bounds}) AS v(period, t0, t1)) AS p "
                f"LEFT JOIN ({tickets}) AS t ON 1 = 1 GROUP BY p.period, p.t0, p.t1",
                list(TICKET_FLOW))

    def sql(self) -> str:
        """One row per period of the window, with every figure :meth:`available` gives
        (NULL where a period lacks it)."""
        cols, joins = [], ""
        for i, (part, names) in enumerate((self._business(), self._contacts(),
                                           self._surveys(), self._roster(),
                                           self._tickets())):
            if part is None:
                continue
            joins += f" LEFT JOIN ({part}) AS t{i} ON t{i}.period = p.period"
            cols += [f"t{i}.{self.q(n)}" for n in names]
        return f"SELECT {', '.join(['p.period', *cols])} FROM {self._periods()} AS p{joins}"
