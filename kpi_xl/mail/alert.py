"""The alert message: a short note to one stakeholder that KPIs of their own scope crossed
a rule (:mod:`kpi_xl.alerts`), or, to the data contacts, that the period's data is not
complete. Plain text and HTML from the jinja2 templates ``alert-subject.txt``,
``alert-body.txt`` and ``alert-body.html`` (in the sandbox, HTML autoescaped, as the
monthly messages); no attachment, no chart: the monthly report carries those.

The subject says how many alerts and the period: ``Northwind: 2 alerts for team Billing,
October 2026``; the body lists each alert in a sentence (the KPI, its value against its
target, the rule, the value the period before)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate

from jinja2.sandbox import SandboxedEnvironment

from ..alerts import Alert
from .message import message_id
from .stakeholders import Stakeholder, scope_rows


def context(to: Stakeholder, alerts: list[Alert], period, previous, centre: str) -> dict:
    """What an alert message says: only ``alerts``, which the caller made from the
    recipient's own rows."""
    data = [a for a in alerts if a.rule == "guard_failure"]
    return {"centre": centre, "recipient": {"name": to.name, "role": to.role},
            "scope_label": "the data" if data and len(data) == len(alerts)
            else scope_rows(to)[2],
            "month": period.label, "month_label": period.title(), "noun": period.noun,
            "previous_label": previous.title(), "count": len(alerts),
            "alerts": [{"rule": a.rule, "title": a.title, "text": a.text,
                        "detail": a.detail,
                        "rule_text": a.rule_text, "value_text": a.value_text,
                        "target_text": a.target_text, "previous_text": a.previous_text,
                        "change_text": a.change_text, "lines": list(a.lines)}
                       for a in alerts]}


def build_alert(to: Stakeholder, ctx: dict, keys: list[str], sender: str, sender_name: str,
                env: SandboxedEnvironment) -> EmailMessage:
    """The message; ``keys``: the ledger keys of its alerts (they make its Message-ID, so
    a message resent on purpose is recognisably the same one)."""
    msg = EmailMessage()
    msg["Subject"] = " ".join(env.get_template("alert-subject.txt").render(ctx).split())
    msg["From"] = formataddr((sender_name, sender))
    msg["To"] = formataddr((to.name, to.email))
    msg["Date"] = formatdate(localtime=True)
    domain = sender.rpartition("@")[2] or "kpi-xl.invalid"
    msg["Message-ID"] = message_id(ctx["month"], to.email, keys, domain)
    msg.set_content(env.get_template("alert-body.txt").render(ctx))
    msg.add_alternative(env.get_template("alert-body.html").render(ctx), subtype="html")
    return msg
