"""Alert rules: which KPIs of a period crossed a rule, per stakeholder scope.

Declared as data in the config's optional ``[alerts]`` section (``kpi-xl alert`` uses
the defaults below when there is none; ``kpi-xl run`` sends alerts after its reports only
when the section is there)::

    [alerts]
    rules = ["off_target_twice", "significant_worsening", "guard_failure"]   # the default
    kpis = ["service_level", "csat"]      # default: each scope's headline KPIs (the ones
                                          # its monthly message shows)
    data_contacts = ["dana@example.com"]  # who hears of a guard failure (default: the
                                          # organisation-scope stakeholders)

The rules:

* ``off_target_twice``: the KPI is off target in the period and in the one before it
  (the engine's status in both; a low-sample value in either period does not count:
  too few answers to call it off target);
* ``significant_worsening``: the change from the period before is worse by the KPI's
  direction and larger than chance at ``[report] significance`` (the test the catalog
  declares for the KPI: :func:`kpi_xl.changes.between`);
* ``guard_failure``: the data guards refused the period (missing, thin or mostly
  rejected data, :mod:`kpi_xl.run.guards`). The KPI rules are then not evaluated (the
  figures would be confident wrong numbers), and the alert goes to ``data_contacts``
  only, who must have the organisation's scope: the guards' findings name every source
  and count the whole centre's rows.

Each alert is about one KPI of one member of the recipient's own scope (the organisation,
their teams, their agent, their dimension members); nothing here reads another scope's
rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .catalog import CATALOG
from .catalog.change import DEFAULT_LEVEL
from .catalog.format import format_value
from .changes import number

RULES = ("off_target_twice", "significant_worsening", "guard_failure")
#: what each rule is called in a message
RULE_WORDS = {"off_target_twice": "off target two {noun}s running",
              "significant_worsening": "worse, larger than chance",
              "guard_failure": "the data for the {noun} is not complete"}
KEYS = ("rules", "kpis", "data_contacts")


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: the rules in force, the KPIs they watch (empty: each scope's
    headline KPIs) and who hears of data problems (empty: the organisation-scope
    stakeholders)."""
    rules: tuple[str, ...] = RULES
    kpis: tuple[str, ...] = ()
    data_contacts: tuple[str, ...] = ()


def parse_alerts(spec: Any, stakeholders: list, problems: list[str]) -> AlertSettings | None:
    """The ``[alerts]`` table (None when absent), each problem naming its key."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        problems.append("[alerts] must be a table, e.g. [alerts] rules = [\"off_target_twice\"]")
        return None
    for k in spec:
        if k not in KEYS:
            problems.append(f"[alerts]: unknown key {k!r} (keys: {', '.join(KEYS)})")

    def names(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        raw = spec.get(key, list(default))
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            problems.append(f"[alerts] {key} must be a list of names, e.g. {key} = "
                            f"[\"{(default or RULES)[0]}\"], got {raw!r}")
            return default
        return tuple(dict.fromkeys(x.strip() for x in raw))

    rules = names("rules", RULES)
    for r in rules:
        if r not in RULES:
            problems.append(f"[alerts] rules: {r!r} is not a rule (rules: {', '.join(RULES)})")
    kpis = names("kpis", ())
    for k in kpis:
        if k not in CATALOG:
            problems.append(f"[alerts] kpis: {k!r} is not a KPI key (kpi-xl kpis lists them)")
    contacts = names("data_contacts", ())
    by = {s.email.lower(): s for s in stakeholders} | {s.name: s for s in stakeholders}
    for c in contacts:
        s = by.get(c.lower()) or by.get(c)
        if s is None:
            problems.append(f"[alerts] data_contacts: {c!r} is no [[stakeholders]] name or "
                            "email")
        elif s.scope != "organisation":
            problems.append(f"[alerts] data_contacts: {s.name} is scoped to {s.scope}; a data "
                            "problem names every source and the whole centre's rows, so only "
                            "an organisation-scope stakeholder may hear of it")
    return AlertSettings(tuple(r for r in rules if r in RULES),
                         tuple(k for k in kpis if k in CATALOG), contacts)


def data_contacts(settings: AlertSettings, stakeholders: list) -> list:
    """The stakeholders who hear of a guard failure: ``data_contacts`` (names or
    emails), else every organisation-scope stakeholder."""
    if not settings.data_contacts:
        return [s for s in stakeholders if s.scope == "organisation"]
    wanted = {c.lower() for c in settings.data_contacts} | set(settings.data_contacts)
    return [s for s in stakeholders if s.scope == "organisation"
            and (s.email.lower() in wanted or s.name in wanted)]


@dataclass(frozen=True)
class Alert:
    """One rule crossed: ``key`` names it in the send ledger (with the period), so the
    same alert is sent once and a new crossing is sent by the next run."""
    rule: str
    title: str                       # the KPI's title (and member), or "Data"
    text: str                        # one sentence in a manager's words
    detail: str = ""                 # the figures of it, without the title and rule
    kpi: str | None = None
    level: str | None = None
    member: str | None = None
    value_text: str = ""
    target_text: str = ""
    previous_text: str = ""
    change_text: str = ""
    rule_text: str = ""
    lines: tuple[str, ...] = field(default_factory=tuple)   # a guard failure's findings

    @property
    def key(self) -> str:
        if self.rule == "guard_failure":
            return "alert:guard_failure"
        return f"alert:{self.rule}:{self.kpi}:{self.level}:{self.member}"


def _low(row: Mapping[str, Any]) -> bool:
    return str(row.get("low_sample", False)).lower() in ("true", "1")


def kpi_alerts(table, level: str, members: list[str], kpis: list[str], period, previous,
               settings: AlertSettings, significance: float = DEFAULT_LEVEL) -> list[Alert]:
    """The alerts of ``members`` of ``level`` (their rows of the tidy results alone) for
    ``period`` against ``previous`` (Periods of one grain), KPI by KPI in ``kpis``'
    order."""
    from .changes import between, describe

    now, before = period.label, previous.label
    t = table[(table["level"].astype(str) == level) & (table["key"].astype(str).isin(members))
              & (table["period"].astype(str).isin([now, before]))]
    rows = {(str(r["kpi"]), str(r["key"]), str(r["period"])): r for _i, r in t.iterrows()}
    noun = period.noun
    out: list[Alert] = []
    for key in kpis:
        k = CATALOG[key]
        for member in members:
            cur, prev = rows.get((key, member, now)), rows.get((key, member, before))
            if cur is None or prev is None or number(cur["value"]) is None \
                    or number(prev["value"]) is None:
                continue
            fmt = str(cur["number_format"])
            title = k.title + (f" ({member})" if len(members) > 1 else "")
            v, p = format_value(float(cur["value"]), fmt), format_value(float(prev["value"]), fmt)
            target = number(cur["target"])
            tgt = "" if target is None else format_value(target, fmt)
            common = {"kpi": key, "level": level, "member": member, "value_text": v,
                      "target_text": tgt, "previous_text": p}
            if "off_target_twice" in settings.rules and str(cur["status"]) == "off target" \
                    and str(prev["status"]) == "off target" and not (_low(cur) or _low(prev)):
                ptarget = number(prev["target"])
                was = "" if ptarget is None or ptarget == target else \
                    f" (its target then {format_value(ptarget, fmt)})"
                detail = (f"{v} in {period.title()} against a target of {tgt}, after {p} in "
                          f"{previous.title()}{was}.")
                out.append(Alert(
                    "off_target_twice", title,
                    f"{title} is off target two {noun}s running: {detail}", detail,
                    rule_text=RULE_WORDS["off_target_twice"].format(noun=noun), **common))
            if "significant_worsening" in settings.rules:
                c = between(key, prev, cur, before_days=previous.days, after_days=period.days,
                            level=significance)
                if c is not None and c.direction == "worse" and c.significant:
                    said = describe(key, c, str(cur["variant"]))
                    change = said["change_text"]
                    out.append(Alert(
                        "significant_worsening", title,
                        f"{title} got worse: {p} in {previous.title()} -> {v} in "
                        f"{period.title()} ({change}); {said['wording']}"
                        + (f"; target {tgt}" if tgt else "") + ".",
                        f"{p} in {previous.title()} → {v} in {period.title()} ({change})"
                        + (f"; target {tgt}" if tgt else "") + ".",
                        change_text=change, rule_text=said["wording"], **common))
    return out


def guard_alert(refusals: list[str], period, went_ahead: bool = False) -> Alert:
    """The alert that the period's data is missing, thin or mostly rejected;
    ``went_ahead``: the reports were made anyway (``--allow-partial``) and say so."""
    noun = period.noun
    what = ("the reports were made from it anyway (--allow-partial) and say 'partial data'; "
            "no KPI alert was made" if went_ahead else
            "no report or KPI alert was made")
    detail = f"The data for {period.title()} is not complete, so {what} for the {noun}:"
    return Alert("guard_failure", "Data", detail + " " + "; ".join(refusals) + ".", detail,
                 rule_text=RULE_WORDS["guard_failure"].format(noun=noun),
                 lines=tuple(refusals))
