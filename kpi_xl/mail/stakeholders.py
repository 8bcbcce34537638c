"""Who gets what: stakeholders, their scope, and the reports of a month that are theirs.

    [[stakeholders]]
    name = "Dana Reyes"
    email = "dana@example.com"
    role = "Head of customer service"
    scope = "organisation"                  # every team
    reports = ["scorecard", "qa-team"]      # default for this scope: ["scorecard"]

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

What each scope may receive is fixed, so that nobody is sent another scope's data:
the organisation may get the balanced scorecard and every team's QA workbook; a team lead
their teams' QA workbooks; an agent a workbook cut down to their own sheet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

ALLOWED = {"organisation": ("scorecard", "qa-team"), "teams": ("qa-team",), "agent": ("qa-agent",)}
DEFAULT = {"organisation": ("scorecard",), "teams": ("qa-team",), "agent": ("qa-agent",)}
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


@dataclass(frozen=True)
class Stakeholder:
    name: str
    email: str
    role: str = ""
    scope: str = "organisation"             # organisation | teams | agent
    teams: tuple[str, ...] = ()
    agent: str | None = None
    reports: tuple[str, ...] = ()


@dataclass
class Report:
    """One attachment for one recipient: ``key`` names it in the send ledger."""
    key: str
    title: str
    path: Path
    team: str | None = None
    agent: str | None = None


@dataclass
class Delivery:
    to: Stakeholder
    reports: list[Report] = field(default_factory=list)


def parse_stakeholders(items: list[Mapping[str, Any]], problems: list[str]) -> list[Stakeholder]:
    out = []
    seen = set()
    for i, s in enumerate(items or [], 1):
        where = f"[[stakeholders]] {i}"
        name, email = str(s.get("name", "")).strip(), str(s.get("email", "")).strip()
        if not name:
            problems.append(f"{where}: needs a name")
        if not _EMAIL.match(email):
            problems.append(f"{where} ({name or '?'}): email {email!r} is not an address")
        known = {"name", "email", "role", "scope", "teams", "agent", "reports"}
        for k in s:
            if k not in known:
                problems.append(f"{where}: unknown key {k!r} (keys: {', '.join(sorted(known))})")
        scopes = [k for k in ("teams", "agent") if k in s]
        if s.get("scope") not in (None, "organisation"):
            problems.append(f"{where}: scope must be \"organisation\" (or give teams = [...] "
                            "or agent = \"...\")")
        if len(scopes) > 1 or (scopes and s.get("scope") == "organisation"):
            problems.append(f"{where}: give one scope: organisation, teams or agent")
        scope = scopes[0] if scopes else "organisation"
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
                               str(s["agent"]) if "agent" in s else None, reports))
    return out


def plan(stakeholders: list[Stakeholder], folder: Path, month: str,
         team_files: Mapping[str, Path], agent_teams: Mapping[str, str],
         problems: list[str]) -> list[Delivery]:
    """Each stakeholder's reports for the month, from the files written in ``folder``."""
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
            elif r == "qa-agent":
                team = agent_teams.get(s.agent or "")
                if team is None or team not in team_files:
                    problems.append(f"{s.name}: no QA sheet for agent {s.agent!r} in {month}")
                else:
                    d.reports.append(Report(f"qa-agent:{s.agent}", f"QA sheet, {s.agent}",
                                            team_files[team], team=team, agent=s.agent))
        out.append(d)
    return out
