"""The message each stakeholder receives: a short summary of their scope (headline KPIs
against target, the biggest changes since last month, what is off target, low samples,
what is attached), in plain text and HTML, rendered from jinja2 templates in the sandbox
(HTML autoescaped), with the workbooks attached under their spreadsheet MIME type."""

from __future__ import annotations

import hashlib
import math
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from ..catalog import CATALOG
from ..catalog.format import format_value
from ..scorecard.build import month_label
from .stakeholders import Delivery

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
HEADLINE = {
    "organisation": ("service_level", "asa", "abandonment_rate", "aht", "fcr", "csat", "nps",
                     "first_response_time", "qa_score", "cost_per_contact"),
    "teams": ("service_level", "aht", "fcr", "csat", "first_response_time", "qa_score",
              "ticket_volume"),
    "agent": ("aht", "fcr", "csat", "first_response_time", "qa_score", "ticket_volume"),
}


def environment(folder: str | Path = TEMPLATES) -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=FileSystemLoader(str(folder)), undefined=StrictUndefined,
                                autoescape=select_autoescape(["html"]), trim_blocks=False)


def _text(v: float | None, fmt: str) -> str:
    return "" if v is None else format_value(v, fmt)


def summary(table, delivery: Delivery, month: str, previous: str | None) -> dict[str, Any]:
    """What the message says, from the tidy results (kpi-results.csv), for the
    recipient's scope only."""
    s = delivery.to
    if s.scope == "organisation":
        level, keys, label = "organisation", ["all"], "the whole centre"
    elif s.scope == "teams":
        level, keys = "team", list(s.teams)
        label = ("team " if len(keys) == 1 else "teams ") + ", ".join(keys)
    else:
        level, keys, label = "agent", [s.agent], s.agent
    rows = table[(table["level"].astype(str) == level) & (table["key"].astype(str).isin(keys))]
    headline, changes = [], []
    for key in HEADLINE[s.scope]:
        for member in keys:
            cur = rows[(rows["kpi"].astype(str) == key) & (rows["period"].astype(str) == month)]
            cur = cur[cur["key"].astype(str) == member]
            if cur.empty or _nan(cur.iloc[0]["value"]):
                continue
            r = cur.iloc[0]
            kpi = CATALOG[key]
            fmt = str(r["number_format"])
            title = kpi.title + (f" ({member})" if len(keys) > 1 else "")
            item = {"key": key, "title": title, "value_text": _text(float(r["value"]), fmt),
                    "target_text": "" if _nan(r["target"]) else _text(float(r["target"]), fmt),
                    "status": str(r["status"]) if str(r["status"]) != "nan" else "",
                    "n_text": "" if _nan(r["n"]) else f"{float(r['n']):,.0f}",
                    "low_sample": str(r["low_sample"]).lower() in ("true", "1")}
            headline.append(item)
            if previous:
                prev = rows[(rows["kpi"].astype(str) == key) & (rows["key"].astype(str) == member)
                            & (rows["period"].astype(str) == previous)]
                if not prev.empty and not _nan(prev.iloc[0]["value"]):
                    p, v = float(prev.iloc[0]["value"]), float(r["value"])
                    size = abs(v - p) / max(abs(p), 1e-9)
                    changes.append((size, {**item, "previous_text": _text(p, fmt)}))
    changes = [c for size, c in sorted(changes, key=lambda x: -x[0])[:3] if size >= 0.02]
    return {
        "recipient": {"name": s.name, "role": s.role}, "scope_label": label,
        "month": month, "month_label": month_label(month),
        "previous_label": month_label(previous) if previous else "",
        "headline": headline, "changes": changes,
        "off_target": [k for k in headline if k["status"] == "off target"],
        "low_sample": [k for k in headline if k["low_sample"]],
    }


def _nan(v) -> bool:
    try:
        return v is None or math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def message_id(month: str, recipient: str, keys: list[str], domain: str) -> str:
    """The same month, recipient and reports always give the same Message-ID, so a
    resent message is recognisably the same one."""
    h = hashlib.sha256("|".join([month, recipient.lower(), *sorted(keys)]).encode()).hexdigest()[:24]
    return f"<kpi-xl.{month}.{h}@{domain}>"


def build(delivery: Delivery, context: dict, attachments: list[tuple[str, bytes]],
          sender: str, sender_name: str, env: SandboxedEnvironment, centre: str) -> EmailMessage:
    ctx = {**context, "centre": centre,
           "attachments": [{"title": r.title, "filename": name}
                           for r, (name, _data) in zip(delivery.reports, attachments, strict=True)]}
    msg = EmailMessage()
    msg["Subject"] = " ".join(env.get_template("subject.txt").render(ctx).split())
    msg["From"] = formataddr((sender_name, sender))
    msg["To"] = formataddr((delivery.to.name, delivery.to.email))
    msg["Date"] = formatdate(localtime=True)
    domain = sender.rpartition("@")[2] or "kpi-xl.invalid"
    msg["Message-ID"] = message_id(context["month"], delivery.to.email,
                                   [r.key for r in delivery.reports], domain)
    msg.set_content(env.get_template("body.txt").render(ctx))
    msg.add_alternative(env.get_template("body.html").render(ctx), subtype="html")
    for name, data in attachments:
        msg.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename=name)
    return msg
