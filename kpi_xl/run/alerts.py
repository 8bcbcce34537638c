"""Alerts for a period: load and guard the data, compute the period and the one before,
find the rules each stakeholder's own KPIs crossed (:mod:`kpi_xl.alerts`), and send each
of them one short message, with the monthly reports' delivery guarantees.

* Who: a stakeholder gets a message only when a KPI of their own scope crossed a rule,
  and it holds only the alerts of their scope's rows (a team lead never reads another
  team's figures). A guard failure goes to the data contacts alone (``[alerts]
  data_contacts``, default the organisation-scope stakeholders).
* Delivery: the ledger the monthly reports use (``send-ledger.sqlite`` with ``[smtp]``,
  ``outbox-ledger.sqlite`` without), keyed by the period and each alert
  (``alert:<rule>:<kpi>:<level>:<member>``, ``alert:guard_failure``): a rerun for the
  same period sends nothing again, a rule crossed since (a KPI newly off target two
  periods running) is sent by itself. The output folder's lock is held while sending;
  ``[smtp] deadline`` bounds the run, and what it leaves unsent stays pending. Without
  ``[smtp]`` the messages go to ``<out>/<period>/alerts/`` as .eml files.
* ``kpi-xl run`` calls :func:`send_alerts` after its reports when the config has an
  ``[alerts]`` section, and :func:`send_guard_alert` when its guards refuse the period.

Nothing is printed here: what happens is told to the monthly run's Reporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..alerts import Alert, AlertSettings, data_contacts, guard_alert, kpi_alerts
from ..mail.stakeholders import HEADLINE, scope_rows
from ..periods import Period
from .guards import DataRefused
from .month import Reporter, engine_of, load_checked, output_folder, period_of

#: the alerts' outbox, inside the period's folder (the reports' is ``outbox``)
OUTBOX = "alerts"


@dataclass
class AlertRun:
    """What an alert run found and did."""
    period: Period
    alerts: dict[str, list[Alert]] = field(default_factory=dict)   # email -> its alerts
    outcome: Any = None                  # kpi_xl.mail.send.Outcome (None: nothing to send)
    where: str | None = None
    refused: DataRefused | None = None   # the guards refused the period

    @property
    def count(self) -> int:
        return sum(len(a) for a in self.alerts.values())


def settings_of(cfg) -> AlertSettings:
    return getattr(cfg, "alerts", None) or AlertSettings()


def find_alerts(cfg, table, period: Period) -> dict[str, list[Alert]]:
    """Each stakeholder's alerts (by email), from their own rows of the tidy results;
    stakeholders with none are left out."""
    settings = settings_of(cfg)
    previous = period.shift(-1)
    # the two periods' rows, taken once: the results hold 13 periods, and each
    # stakeholder's rows are looked up among these
    table = table[table["period"].astype(str).isin([period.label, previous.label])]
    out = {}
    for s in cfg.stakeholders:
        level, keys, _label = scope_rows(s)
        kpis = list(settings.kpis or HEADLINE[s.scope])
        found = kpi_alerts(table, level, keys, kpis, period, previous, settings,
                           cfg.significance)
        if found:
            out[s.email] = found
    return out


def run_alerts(cfg, period: "Period | str", out: str | Path = "workbooks", *,
               resend: bool = False, resend_uncertain: bool = False,
               reporter: Reporter | None = None, lock_wait: float = 30.0) -> AlertRun:
    """``kpi-xl alert``: the guards, then (when they pass) the period and the one before
    computed, the rules applied and the alerts sent. When the guards refuse the period,
    the data contacts are told (rule ``guard_failure``) and the run's ``refused`` says
    why; the KPI rules are not applied."""
    reporter = reporter or Reporter()
    period = period_of(period, cfg.fiscal_start)
    settings = settings_of(cfg)
    output_folder(out, period)
    try:
        ds, _report = load_checked(cfg, period, 1, reporter)
    except DataRefused as e:
        run = AlertRun(period, refused=e)
        if "guard_failure" in settings.rules:
            run.alerts, run.outcome, run.where = send_guard_alert(
                cfg, period, e.refusals, out, resend=resend, resend_uncertain=resend_uncertain,
                progress=reporter.progress, lock_wait=lock_wait)
        return run
    reporter.progress(f"computing {period.label} and the {period.noun} before it")
    res = engine_of(cfg, ds).compute(period, 1)
    run = AlertRun(period, find_alerts(cfg, res.table, period))
    run.outcome, run.where = deliver_alerts(cfg, period, run.alerts, out, resend=resend,
                                            resend_uncertain=resend_uncertain,
                                            progress=reporter.progress, lock_wait=lock_wait)
    return run


def send_alerts(cfg, res, period: Period, out: str | Path, *, partial: list[str] | None = None,
                progress: Callable[[str], None] | None = None) -> AlertRun:
    """``kpi-xl run`` after its reports: the alerts of its results; with partial data
    (``partial``: the guards' refusals, --allow-partial) only the guard alert."""
    if partial:
        run = AlertRun(period)
        if "guard_failure" in settings_of(cfg).rules:
            run.alerts, run.outcome, run.where = send_guard_alert(
                cfg, period, partial, out, went_ahead=True, progress=progress)
        return run
    run = AlertRun(period, find_alerts(cfg, res.table, period))
    run.outcome, run.where = deliver_alerts(cfg, period, run.alerts, out, progress=progress)
    return run


def send_guard_alert(cfg, period: Period, refusals: list[str], out: str | Path, *,
                     went_ahead: bool = False, resend: bool = False,
                     resend_uncertain: bool = False, progress=None, lock_wait: float = 30.0):
    """(alerts by email, outcome, where) of the guard failure sent to the data
    contacts."""
    alert = guard_alert(refusals, period, went_ahead)
    alerts = {s.email: [alert] for s in data_contacts(settings_of(cfg), cfg.stakeholders)}
    outcome, where = deliver_alerts(cfg, period, alerts, out, resend=resend,
                                    resend_uncertain=resend_uncertain, progress=progress,
                                    lock_wait=lock_wait)
    return alerts, outcome, where


def deliver_alerts(cfg, period: Period, alerts: dict[str, list[Alert]], out: str | Path, *,
                   resend: bool = False, resend_uncertain: bool = False,
                   progress: Callable[[str], None] | None = None, lock_wait: float = 30.0):
    """Send each recipient's alerts that are due (the ledger's rules: pending and failed;
    uncertain only with ``resend_uncertain``; sent only with ``resend``), one message
    each, under the output folder's lock: (outcome, where). (None, None) when no
    stakeholder has an alert."""
    from ..mail.alert import build_alert, context
    from ..mail.message import environment
    from ..mail.send import output_lock, run_delivery, sender_of

    if not alerts:
        return None, None
    people = {s.email: s for s in cfg.stakeholders}
    previous = period.shift(-1)
    out = Path(out)
    env = environment()
    sender, sender_name = sender_of(cfg.smtp)

    def maker(email: str):
        def make(keys: list[str]):
            due = [a for a in alerts[email] if a.key in keys]
            ctx = context(people[email], due, period, previous, cfg.name)
            return build_alert(people[email], ctx, keys, sender, sender_name, env)
        return make

    items = [(email, dict.fromkeys(a.key for a in found), maker(email))
             for email, found in alerts.items()]
    with output_lock(out, lock_wait):
        return run_delivery(items, period.label, out, cfg.smtp, out / period.label / OUTBOX,
                            resend=resend, resend_uncertain=resend_uncertain,
                            progress=progress)
