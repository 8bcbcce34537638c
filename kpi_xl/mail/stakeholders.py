"""Who gets what: stakeholders, their scope, and the reports of a month that are theirs.

    [[stakeholders]]
    name = "Dana Reyes"
    email = "dana@example.com"
    role = "Head of customer service"
    scope = "organisation"                  # every team
    reports = ["scorecard", "qa-team"]      # default for this scope: ["scorecard"]
    formats = ["xlsx", "pdf"]               # the workbooks, and a PDF copy of each
                                            # (LibreOffice prints it); default ["xlsx"]

    [[stakeholders]]
    name = "Tom Berg"
    email = "tom@example.com"
    teams = ["Billing"]                     # a team lead: these teams only
                                            # default reports: ["qa-team"]
    [[stakeholders]]
    name = "Ana Silva"
    email = "ana@example.com"
    agent = "Ana Silva"                     # an agent: their own QA sheet only
                                            # default reports: ["qa-agent"]
    [[stakeholders]]
    name = "Sam Okafor"
    email = "sam@example.com"
    dimension = "queue"                     # a declared dimension ([[dimensions]])
    members = ["Payments"]                  # a queue manager: these queues only
                                            # default reports: ["member-scorecard"]

What each scope may receive is fixed, so that nobody is sent another scope's data:
the organisation may get the balanced scorecard and every team's QA workbook; a team lead
their teams' QA workbooks; an agent a workbook cut down to their own sheet; a dimension
member's manager a scorecard of each of their members alone
(``<dimension>-<member>-<period>.xlsx``, :mod:`kpi_xl.scorecard.members`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


#: the headline KPIs of each scope's message (and, for a member of a dimension, what
#: `kpi-xl compute` prints per member): here, apart from the message module, whose
#: imports (jinja2, the charts) neither `compute` nor its extra needs
HEADLINE = {
    "organisation": ("service_level", "asa", "abandonment_rate", "aht", "fcr", "csat", "nps",
                     "first_response_time", "qa_score", "cost_per_contact"),
    "teams": ("service_level", "aht", "fcr", "csat", "first_response_time", "qa_score",
              "ticket_volume"),
    "agent": ("aht", "fcr", "csat", "first_response_time", "qa_score", "ticket_volume"),
    # a member of a dimension (a queue, a topic): also what `kpi-xl compute` prints per member
    "dimension": ("ticket_volume", "service_level", "asa", "aht", "fcr", "csat", "nps",
                  "first_response_time", "qa_score"),
}

#: what a stakeholder's ``formats`` may name: the workbook, its PDF copy
FORMATS = ("xlsx", "pdf")
ALLOWED = {"organisation": ("scorecard", "qa-team"), "teams": ("qa-team",), "agent": ("qa-agent",),
           "dimension": ("member-scorecard",)}
DEFAULT = {"organisation": ("scorecard",), "teams": ("qa-team",), "agent": ("qa-agent",),
           "dimension": ("member-scorecard",)}
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


@dataclass(frozen=True)
class Stakeholder:
    name: str
    email: str
    role: str = ""
    scope: str = "organisation"             # organisation | teams | agent | dimension
    teams: tuple[str, ...] = ()
    agent: str | None = None
    reports: tuple[str, ...] = ()
    dimension: str | None = None            # scope "dimension": its name and members
    members: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("xlsx",)    # each report as a workbook and/or a PDF copy


@dataclass
class Report:
    """One attachment for one recipient: ``key`` names it in the send ledger."""
    key: str
    title: str
    path: Path
    team: str | None = None
    agent: str | None = None
    #: a member scorecard's (dimension, member)
    member: tuple[str, str] | None = None


@dataclass
class Delivery:
    to: Stakeholder
    reports: list[Report] = field(default_factory=list)


def scope_rows(s: Stakeholder) -> tuple[str, list[str], str]:
    """Where a stakeholder's figures are in the tidy results, and their scope in words:
    (level, the keys of that level, label). The organisation is level "organisation",
    key "all"; a team lead their teams; an agent their own key; a dimension member's
    manager the members of that dimension."""
    if s.scope == "organisation":
        return "organisation", ["all"], "the whole centre"
    if s.scope == "teams":
        keys = list(s.teams)
        return "team", keys, ("team " if len(keys) == 1 else "teams ") + ", ".join(keys)
    if s.scope == "dimension":
        return str(s.dimension), list(s.members), f"{s.dimension} " + ", ".join(s.members)
    return "agent", [str(s.agent)], str(s.agent)


def parse_stakeholders(items: list[Mapping[str, Any]], problems: list[str],
                       dimensions: tuple[str, ...] | None = None) -> list[Stakeholder]:
    """``dimensions``: the config's declared dimensions, which a ``dimension = ...`` scope
    must name (None: not checked)."""
    out = []
    seen = set()
    for i, s in enumerate(items or [], 1):
        where = f"[[stakeholders]] {i}"
        name, email = str(s.get("name", "")).strip(), str(s.get("email", "")).strip()
        if not name:
            problems.append(f"{where}: needs a name")
        if not _EMAIL.match(email):
            problems.append(f"{where} ({name or '?'}): email {email!r} is not an address")
        known = {"name", "email", "role", "scope", "teams", "agent", "reports", "dimension",
                 "members", "formats"}
        for k in s:
            if k not in known:
                problems.append(f"{where}: unknown key {k!r} (keys: {', '.join(sorted(known))})")
        scopes = [k for k in ("teams", "agent", "dimension") if k in s]
        if s.get("scope") not in (None, "organisation"):
            problems.append(f"{where}: scope must be \"organisation\" (or give teams = [...], "
                            "agent = \"...\" or dimension = \"...\" with members = [...])")
        if len(scopes) > 1 or (scopes and s.get("scope") == "organisation"):
            problems.append(f"{where}: give one scope: organisation, teams, agent or dimension")
        scope = scopes[0] if scopes else "organisation"
        dimension, members = _dimension_scope(s, where, scope, dimensions, problems)
        raw_teams, raw_reports = s.get("teams", []) or [], s.get("reports", DEFAULT[scope])
        if not isinstance(raw_teams, list):
            problems.append(f"{where}: teams must be a list, e.g. teams = [\"Billing\"], got "
                            f"{raw_teams!r}")
            raw_teams = []
        if not isinstance(raw_reports, (list, tuple)):
            problems.append(f"{where}: reports must be a list, e.g. reports = [\"scorecard\"], "
                            f"got {raw_reports!r}")
            raw_reports = DEFAULT[scope]
        teams = tuple(str(t) for t in raw_teams)
        if scope == "teams" and not teams:
            problems.append(f"{where}: teams = [...] lists no team")
        reports = tuple(raw_reports)
        for r in reports:
            if r not in ALLOWED[scope]:
                problems.append(f"{where} ({name}): a {scope} recipient cannot receive {r!r} "
                                f"(allowed: {', '.join(ALLOWED[scope])}); it would carry "
                                "data outside their scope")
        if email.lower() in seen:
            problems.append(f"{where}: {email} is listed twice")
        seen.add(email.lower())
        out.append(Stakeholder(name, email, str(s.get("role", "")), scope, teams,
                               str(s["agent"]) if "agent" in s else None, reports,
                               dimension, members, _formats(s, where, name, problems)))
    return out


def _formats(s: Mapping[str, Any], where: str, name: str, problems: list[str]
             ) -> tuple[str, ...]:
    """``formats = ["xlsx", "pdf"]``: each report as its workbook, its PDF copy, or both."""
    raw = s.get("formats", ["xlsx"])
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
        problems.append(f"{where} ({name or '?'}): formats must list \"xlsx\", \"pdf\" or both, "
                        f"e.g. formats = [\"xlsx\", \"pdf\"], got {raw!r}")
        return ("xlsx",)
    bad = [f for f in raw if f not in FORMATS]
    if bad:
        problems.append(f"{where} ({name or '?'}): formats: {', '.join(map(repr, bad))} is not a "
                        "format kpi_xl sends (\"xlsx\": the workbook, \"pdf\": its PDF copy)")
    return tuple(f for f in dict.fromkeys(raw) if f in FORMATS) or ("xlsx",)


def _dimension_scope(s: Mapping[str, Any], where: str, scope: str,
                     dimensions: tuple[str, ...] | None,
                     problems: list[str]) -> tuple[str | None, tuple[str, ...]]:
    """``dimension = "queue"`` with ``members = ["Payments"]``: (dimension, members)."""
    if "members" in s and scope != "dimension":
        problems.append(f"{where}: members = [...] goes with dimension = \"...\" (the "
                        "dimension they are members of)")
    if scope != "dimension":
        return None, ()
    dim, raw = s.get("dimension"), s.get("members", [])
    if not isinstance(dim, str) or not dim.strip():
        problems.append(f"{where}: dimension must name a declared dimension, e.g. "
                        f"dimension = \"queue\", got {dim!r}")
        return None, ()
    if dimensions is not None and dim not in dimensions:
        problems.append(f"{where}: dimension {dim!r} is not declared under [[dimensions]]"
                        + (f" (declared: {', '.join(dimensions)})" if dimensions else
                           " (none is)"))
    if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
        problems.append(f"{where}: members must be a list of names, e.g. members = "
                        f"[\"Payments\"], got {raw!r}")
        raw = []
    if not raw:
        problems.append(f"{where}: members = [...] lists no member of {dim!r}")
    return dim, tuple(dict.fromkeys(raw))


def plan(stakeholders: list[Stakeholder], folder: Path, month: str,
         team_files: Mapping[str, Path], agent_teams: Mapping[str, str],
         problems: list[str],
         member_files: Mapping[tuple[str, str], Path] | None = None) -> list[Delivery]:
    """Each stakeholder's reports for the month, from the files written in ``folder``;
    ``member_files``: (dimension, member) -> its member scorecard."""
    member_files = member_files or {}
    out = []
    scorecard = folder / f"balanced-scorecard-{month}.xlsx"
    for s in stakeholders:
        d = Delivery(s)
        for r in s.reports:
            if r == "scorecard":
                if scorecard.is_file():
                    d.reports.append(Report("scorecard", "Balanced scorecard", scorecard))
                else:
                    problems.append(f"{s.name}: no balanced scorecard for {month} in {folder}")
            elif r == "qa-team":
                teams = sorted(team_files) if s.scope == "organisation" else s.teams
                for t in teams:
                    if t in team_files:
                        d.reports.append(Report(f"qa-team:{t}", f"QA workbook, {t}",
                                                team_files[t], team=t))
                    else:
                        problems.append(f"{s.name}: no QA workbook for team {t!r} in {month}")
            elif r == "member-scorecard":
                for m in s.members:
                    path = member_files.get((s.dimension, m))
                    if path is None:
                        problems.append(f"{s.name}: no scorecard for {s.dimension} {m!r} in "
                                        f"{month}")
                    else:
                        d.reports.append(Report(f"member:{s.dimension}:{m}",
                                                f"Scorecard, {s.dimension} {m}", path,
                                                member=(s.dimension, m)))
            elif r == "qa-agent":
                team = agent_teams.get(s.agent or "")
                if team is None or team not in team_files:
                    problems.append(f"{s.name}: no QA sheet for agent {s.agent!r} in {month}")
                else:
                    d.reports.append(Report(f"qa-agent:{s.agent}", f"QA sheet, {s.agent}",
                                            team_files[team], team=team, agent=s.agent))
        out.append(d)
    return out
