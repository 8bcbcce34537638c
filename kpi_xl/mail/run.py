"""Send a month's reports: plan who gets what, build each message, deliver, report.

The whole step holds the output folder's lock (``kpi_xl.files.folder_lock``), reads the
run's results from ``kpi-results.json`` (names exactly as in the data; the CSV beside it
is escaped for spreadsheets and never read back), finds each team's QA workbook by the
team named inside it (not by re-deriving its file name), opens every attachment before
anything is sent (a damaged one stops the step, by name) and passes each attachment's
digest to the ledger, which reports a workbook changed since it was sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..catalog.change import DEFAULT_LEVEL
from ..engine.results import read_results_json
from ..periods import Period, as_period
from ..files import check_workbook, workbook_digest
from ..scorecard.build import agent_workbook
from ..names import distinct_stems, inside
from ..text import shown_text
from .message import build, environment, summary
from .send import MailError, Outcome, SmtpSettings, output_lock, run_delivery, sender_of
from .stakeholders import Delivery, Stakeholder, plan


def _read_team_file(path: Path) -> tuple[str | None, list[str]]:
    """(the team named on its Team sheet, the agents of its agent sheets)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        team, agents = None, []
        for ws in wb.worksheets:
            a1 = next(ws.iter_rows(min_row=1, max_row=1, max_col=1, values_only=True), (None,))
            a1 = a1[0] if a1 else None
            if not (isinstance(a1, str) and a1.startswith("QA: ")):
                continue
            a1 = shown_text(a1)          # as stored: data text's _xHHHH_ escaped (put())
            if ws.title == "Team" and team is None:
                team = a1[4:]
            else:
                agents.append(a1[4:])
        return team, agents
    finally:
        wb.close()


def _team_files(folder: Path, month: str, teams: set[str], problems: list[str]
                ) -> tuple[dict[str, Path], dict[str, str]]:
    """team -> its QA workbook, agent -> team, read from the workbooks themselves."""
    files: dict[str, Path] = {}
    agents: dict[str, str] = {}
    for path in sorted(folder.glob(f"qa-*-{month}.xlsx")):
        bad = check_workbook(path.name, path.read_bytes())
        if bad:
            problems.append(bad)
            continue
        team, members = _read_team_file(path)
        if team is None or team not in teams:
            continue                      # another month's layout, or a team no longer there
        if team in files:
            problems.append(f"both {files[team].name} and {path.name} hold team {team!r}'s QA "
                            "workbook: remove the older one and send again")
            continue
        files[team] = path
        for a in members:
            agents[a] = team
    return files, agents


def _member_files(folder: Path, month: str, stakeholders, table, problems: list[str]
                  ) -> dict[tuple[str, str], Path]:
    """(dimension, member) -> its member scorecard, read from the workbooks' own
    properties (not from file names, which fold ``a/b`` and ``a-b`` together); a member a
    stakeholder is scoped to that has no figures in the month is a problem, by name."""
    from ..scorecard.dimensions import context_members, member_problems, read_member

    wanted = context_members(stakeholders)
    if not wanted:
        return {}
    problems.extend(f"{s.name}: {p}" for s in stakeholders if s.scope == "dimension"
                    for p in member_problems(table, month, [(s.dimension, m) for m in s.members]))
    files: dict[tuple[str, str], Path] = {}
    for path in sorted(folder.glob(f"*-{month}.xlsx")):
        if path.name.startswith(("qa-", "balanced-scorecard-")):
            continue
        bad = check_workbook(path.name, path.read_bytes())
        if bad:
            problems.append(bad)
            continue
        member = read_member(path)
        if member is None or member not in wanted:
            continue
        if member in files:
            problems.append(f"both {files[member].name} and {path.name} hold {member[0]} "
                            f"{member[1]!r}'s scorecard: remove the older one and send again")
            continue
        files[member] = path
    return files


def send_month(stakeholders: list[Stakeholder], out: str | Path, month: "Period | str", *,
               smtp: SmtpSettings | None, centre: str, resend: bool = False,
               resend_uncertain: bool = False, templates: str | Path | None = None,
               sleep=None, lock_wait: float = 30.0, partial: str | None = None,
               progress: Callable[[str], None] | None = None,
               significance: float = DEFAULT_LEVEL,
               layout=None) -> tuple[Outcome, str]:
    """Deliver the month's reports; returns the outcome and where to look. ``partial``:
    the run's partial-data note. A report sent as partial data is ledgered apart from the
    complete one (its key carries the mark), so the complete report, once the data is
    there, is sent by the next run as the report still due. ``month``: the period (any
    grain) or its label; the ledger keys on the label, so a week's reports and a month's
    are ledgered apart. ``significance``: the confidence at which the messages call a
    change larger than chance ([report] significance). ``layout``: the scorecard's (the
    config's ``[scorecard]``; None: the shipped one), whose perspective scores the
    organisation's messages show."""
    month = month.label if isinstance(month, Period) else as_period(month).label
    with output_lock(out, lock_wait):
        return _send_month(stakeholders, Path(out), month, smtp=smtp, centre=centre,
                           resend=resend, resend_uncertain=resend_uncertain,
                           templates=templates, sleep=sleep, progress=progress,
                           partial=partial, significance=significance, layout=layout)


PARTIAL_MARK = " (partial data)"


def _send_month(stakeholders, out: Path, month: str, *, smtp, centre, resend,
                resend_uncertain, templates, sleep, progress,
                partial=None, significance=DEFAULT_LEVEL,
                layout=None) -> tuple[Outcome, str]:
    folder = out / month
    results = folder / "kpi-results.json"
    if not results.is_file():
        if (folder / "kpi-results.csv").is_file():
            raise MailError(f"{results} is missing (the mail step reads the results as "
                            "computed, not the spreadsheet copy kpi-results.csv): run kpi-xl "
                            "scorecard again")
        raise MailError(f"no results for {month} in {folder}: run kpi-xl scorecard first")
    res = read_results_json(results)
    table = res.table
    teams = set(table.loc[table["level"] == "team", "key"].astype(str))
    problems: list[str] = []
    team_files, agent_teams = _team_files(folder, month, teams, problems)
    member_files = _member_files(folder, month, stakeholders, table, problems)
    if problems:
        raise MailError("some reports cannot be sent; nothing was sent:\n  - "
                        + "\n  - ".join(problems))
    deliveries = plan(stakeholders, folder, month, team_files, agent_teams, problems,
                      member_files=member_files)
    if problems:
        raise MailError("some reports are missing:\n  - " + "\n  - ".join(problems))
    files = _attachments(folder, month, deliveries)
    copies = _pdf_copies(deliveries, files, progress)
    env = environment(templates) if templates else environment()
    period = res.period                  # with the run's grain and fiscal year start
    previous = period.shift(-1)
    board = None                         # the scorecard's perspective scores, computed once
    if any(d.to.scope == "organisation" and d.reports for d in deliveries):
        from ..scorecard.build import scorecard_context
        from ..scorecard.layout import DEFAULT

        board = scorecard_context(res, centre, layout or DEFAULT)
    sender, sender_name = sender_of(smtp)

    def maker(d: Delivery):
        def make(keys: list[str]):
            keys = [k.removesuffix(mark) for k in keys]
            part = Delivery(d.to, [r for r in d.reports if r.key in keys])
            attached = [([files[r.key][:2]] if "xlsx" in d.to.formats else [])
                        + ([copies[r.key]] if "pdf" in d.to.formats else [])
                        for r in part.reports]
            ctx = summary(table, part, period, previous, partial, significance,
                          history=res.periods,
                          board=board)
            return build(part, ctx, attached, sender, sender_name, env, centre)
        return make

    mark = PARTIAL_MARK if partial else ""
    items = [(d.to.email, {r.key + mark: files[r.key][2] for r in d.reports}, maker(d))
             for d in deliveries if d.reports]
    return run_delivery(items, month, out, smtp, folder / "outbox", resend=resend,
                        resend_uncertain=resend_uncertain, progress=progress, sleep=sleep)


def _attachments(folder: Path, month: str, deliveries: list[Delivery]
                 ) -> dict[str, tuple[str, bytes, str, Path]]:
    """report key -> (file name, bytes, digest, path), each opened and checked: a damaged
    workbook stops the step before anything is sent. Agents' cuts get distinct names
    (agents a/b and a-b get two files) and are remade when their team's file is newer."""
    reports = {r.key: r for d in deliveries for r in d.reports}
    stems = distinct_stems(r.agent for r in reports.values() if r.agent is not None)
    out, damaged = {}, []
    for key, r in reports.items():
        path = r.path
        if r.agent is not None:
            (folder / "agents").mkdir(exist_ok=True)
            path = inside(folder / "agents", f"qa-{stems[r.agent]}-{month}.xlsx")
            if not _cut_is_current(path, r.path, r.agent):
                agent_workbook(r.path, r.agent, path)
        data = path.read_bytes()
        bad = check_workbook(path.name, data)
        if bad:
            damaged.append(bad)
            continue
        out[key] = (path.name, data, workbook_digest(data), path)
    if damaged:
        raise MailError("some attachments are damaged; nothing was sent (run kpi-xl scorecard "
                        "again):\n  - " + "\n  - ".join(damaged))
    return out


def _pdf_copies(deliveries: list[Delivery], files: dict, progress=None
                ) -> dict[str, tuple[str, bytes]]:
    """report key -> (file name, bytes) of the PDF copy of each report that a stakeholder
    asks for as a PDF (``formats = ["xlsx", "pdf"]``), printed by LibreOffice beside its
    workbook (reused while it is not older than the workbook). Made before anything is
    sent: without LibreOffice, or when a copy cannot be printed, nothing is sent. The PDF
    goes out with its workbook under the workbook's report key; the ledger keeps the
    workbook's digest (the PDF prints that content)."""
    askers = [d for d in deliveries if "pdf" in d.to.formats and d.reports]
    if not askers:
        return {}
    from ..scorecard.libreoffice import LibreOfficeError, soffice
    from ..scorecard.pdf import is_current, pdf_copy

    if soffice() is None:
        names = [d.to.name for d in askers]
        names = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        raise MailError(f"{names} {'asks' if len(askers) == 1 else 'ask'} for PDF copies "
                        "(\"pdf\" in formats), but LibreOffice is not installed on "
                        "this machine, so none can be printed; nothing was sent. Install "
                        "LibreOffice (Debian/Ubuntu: apt-get install libreoffice-calc-nogui; "
                        "elsewhere: libreoffice.org), or take \"pdf\" out of their formats")
    out, failed = {}, []
    for key in dict.fromkeys(r.key for d in askers for r in d.reports):
        name, _data, _digest, xlsx = files[key]
        pdf = xlsx.with_suffix(".pdf")
        if not is_current(pdf, xlsx):
            if progress:
                progress(f"printing {name} as PDF")
            try:
                pdf_copy(xlsx, pdf)
            except (LibreOfficeError, OSError) as e:
                failed.append(f"{name}: {e}")
                continue
        out[key] = (pdf.name, pdf.read_bytes())
    if failed:
        raise MailError("some PDF copies could not be printed; nothing was sent:\n  - "
                        + "\n  - ".join(failed))
    return out


def _cut_is_current(cut: Path, team_file: Path, agent: str) -> bool:
    """An agent's cut can be reused if it is whole, not older than its team's workbook,
    and holds that agent's sheet alone."""
    if not cut.is_file() or cut.stat().st_mtime_ns < team_file.stat().st_mtime_ns:
        return False
    if check_workbook(cut.name, cut.read_bytes()):
        return False
    return _read_team_file(cut) == (None, [agent])
