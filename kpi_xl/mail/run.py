"""Send a month's reports: plan who gets what, build each message, deliver, report."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..engine.engine import months_back
from ..scorecard.build import agent_workbook
from ..scorecard.names import file_stem, inside
from .message import build, environment, summary
from .send import Ledger, MailError, Outbox, Outcome, Smtp, SmtpSettings, deliver
from .stakeholders import Delivery, Stakeholder, plan


def _team_files(folder: Path, month: str, teams: list[str]) -> dict[str, Path]:
    out = {}
    for t in teams:
        p = folder / f"qa-{file_stem(t)}-{month}.xlsx"
        if p.is_file():
            out[t] = p
    return out


def _agents(team_files: dict[str, Path]) -> dict[str, str]:
    """agent -> team, read from the QA workbooks' agent sheets."""
    from openpyxl import load_workbook

    out = {}
    for team, path in team_files.items():
        wb = load_workbook(path, read_only=True)
        for ws in wb.worksheets:
            a1 = next(ws.iter_rows(min_row=1, max_row=1, max_col=1, values_only=True))[0]
            if ws.title != "Team" and isinstance(a1, str) and a1.startswith("QA: "):
                out[a1[4:]] = team
        wb.close()
    return out


def send_month(stakeholders: list[Stakeholder], out: str | Path, month: str, *,
               smtp: SmtpSettings | None, centre: str, resend: bool = False,
               templates: str | Path | None = None, sleep=None,
               progress: Callable[[str], None] | None = None) -> tuple[Outcome, str]:
    """Deliver the month's reports; returns the outcome and where to look."""
    import pandas as pd

    months_back(month, 0)
    folder = Path(out) / month
    results = folder / "kpi-results.csv"
    if not results.is_file():
        raise MailError(f"no results for {month} in {folder}: run kpi-xl scorecard first")
    table = pd.read_csv(results, encoding="utf-8-sig", keep_default_na=False,
                        na_values=[""], dtype={"key": str, "note": str})
    teams = sorted(set(table.loc[table["level"] == "team", "key"].astype(str)))
    team_files = _team_files(folder, month, teams)
    problems: list[str] = []
    deliveries = plan(stakeholders, folder, month, team_files, _agents(team_files), problems)
    if problems:
        raise MailError("some reports are missing:\n  - " + "\n  - ".join(problems))
    env = environment(templates) if templates else environment()
    previous = months_back(month, 1)[0]
    if smtp is None:
        transport, where = Outbox(folder / "outbox"), str(folder / "outbox")
        ledger = Ledger(Path(out) / "outbox-ledger.sqlite")
        sender, sender_name = "reports@kpi-xl.invalid", "kpi_xl"
    else:
        transport, where = Smtp(smtp), f"{smtp.host} (ledger: {Path(out) / 'send-ledger.sqlite'})"
        ledger = Ledger(Path(out) / "send-ledger.sqlite")
        sender, sender_name = smtp.sender, smtp.sender_name

    def maker(d: Delivery):
        def make(keys: list[str]):
            part = Delivery(d.to, [r for r in d.reports if r.key in keys])
            files = []
            for r in part.reports:
                if r.agent is not None:
                    cut = inside(folder / "agents", f"qa-{file_stem(r.agent)}-{month}.xlsx")
                    cut.parent.mkdir(exist_ok=True)
                    if not cut.is_file():
                        agent_workbook(r.path, r.agent, cut)
                    files.append((cut.name, cut.read_bytes()))
                else:
                    files.append((r.path.name, r.path.read_bytes()))
            ctx = summary(table, part, month, previous)
            return build(part, ctx, files, sender, sender_name, env, centre)
        return make

    items = [(d.to.email, [r.key for r in d.reports], maker(d)) for d in deliveries if d.reports]
    kwargs = {"retries": smtp.retries, "backoff": smtp.backoff} if smtp else {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    try:
        outcome = deliver(items, month, ledger, transport, resend=resend, progress=progress,
                          **kwargs)
    finally:
        ledger.close()
    return outcome, where
