"""The message each stakeholder receives: a short summary of their scope (headline KPIs
against target, each with its trend chart; for the organisation the balanced scorecard's
index, the perspectives it leaves out and each perspective's score; the biggest changes
since last month, what is off target, low samples, what is attached), in plain text and
HTML, rendered from jinja2 templates in the sandbox (HTML autoescaped), with the workbooks
attached under their spreadsheet MIME type.

The message's shape, which Outlook, Gmail and Apple Mail all show::

    multipart/mixed
      multipart/alternative
        text/plain                 (each chart as a line of text: ▂▃▅▇ 74.1% (…) -> 68.9%)
        multipart/related
          text/html                (<img src="cid:trend.1.service_level.<tag>@kpi-xl" …>)
          image/png                (Content-ID <trend.1.service_level.<tag>@kpi-xl>, inline)
          …
      application/vnd.openxmlformats-officedocument.spreadsheetml.sheet   (each workbook)
      application/pdf              (its PDF copy, when the stakeholder asks for one)

The charts are drawn by :mod:`kpi_xl.mail.chart` (numpy and zlib; no plotting library).

Each figure is formatted with the number format of the variant the KPI was computed with
(the results' ``number_format`` column: CSAT's ``mean`` reads 3.89, its top-2-box 78.0%).
A month made from partial data says so in the subject (``[partial data] ...``) and at the
top of both bodies; the note is given, or read from the attached workbooks' banner."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from ..catalog import CATALOG
from ..catalog.change import DEFAULT_LEVEL
from ..catalog.format import format_change, format_value
from ..changes import between, describe, level_text, rank, spikes
from ..periods import Period, as_period
from ..scorecard.build import partial_banner, sparkline
from ..scorecard.layout import SCORE_FORMAT, score_status
from ..text import shown_text
from .chart import trend_png
from .send import MailError
from .stakeholders import HEADLINE, Delivery, scope_rows

#: how many periods the trend charts show at most (the scorecard's history: 13 months)
TREND_PERIODS = 13
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
PDF = ("application", "pdf")
#: the shipped message templates, inside the package (installed with it)
TEMPLATES = Path(str(resources.files("kpi_xl") / "templates" / "email"))


def change_filter(delta: float | None, number_format: str, unit: str | None = None) -> str:
    """The templates' ``change`` filter: :func:`kpi_xl.catalog.format.format_change` for
    a change in ``number_format`` (a percentage format's change is in points unless
    ``unit`` says otherwise); a missing change is a dash."""
    if delta is None or delta != delta:
        return "–"
    unit = unit if unit is not None else ("percent" if "%" in number_format else "")
    return format_change(delta, unit, number_format)


def environment(folder: str | Path = TEMPLATES) -> SandboxedEnvironment:
    """The templates' sandbox; filter ``change`` writes a change in a KPI's format
    (``{{ delta | change("0.0%") }}``: "+4.5 points")."""
    env = SandboxedEnvironment(loader=FileSystemLoader(str(folder)), undefined=StrictUndefined,
                               autoescape=select_autoescape(["html"]), trim_blocks=False)
    env.filters["change"] = change_filter
    return env


def _text(v: float | None, fmt: str) -> str:
    return "" if v is None else format_value(v, fmt)


def summary(table, delivery: Delivery, month: "Period | str",
            previous: "Period | str | None", partial: str | None = None,
            significance: float = DEFAULT_LEVEL, *,
            history: "list[str] | None" = None, board: dict | None = None,
            charts: bool = True) -> dict[str, Any]:
    """What the message says, from the tidy results (kpi-results.csv), for the
    recipient's scope only. ``month``: the period (any grain) or its label; ``previous``:
    the period before it, of the same grain. ``partial``: the note that the period's data
    is incomplete (None: read from the attached workbooks, which carry it when they were
    made so). ``significance``: the confidence at which a change is called larger than chance
    (``[report] significance``). ``history``: the labels of the periods the trend charts
    show, oldest first, ending with ``month`` (None: the table's periods up to ``month``, 13
    at most); ``board``: the balanced scorecard's context (``scorecard_context``), whose
    perspective scores an organisation-wide message shows; ``charts``: draw the trend
    charts (PNG, ``images``) or give only their text."""
    period = as_period(month)
    before = None if previous is None else as_period(previous)
    month = period.label
    previous = None if before is None else before.label
    s = delivery.to
    level, keys, label = scope_rows(s)
    rows = table[(table["level"].astype(str) == level) & (table["key"].astype(str).isin(keys))]
    headline, changes = [], []
    periods = _history(table, month, history)
    # Content-IDs unique to the message (RFC 2392), and the same when it is sent again
    tag = hashlib.sha256(f"{month}|{s.email.lower()}".encode()).hexdigest()[:12]
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
            item["trend"] = _trend(rows, r, member, periods, fmt, item,
                                   f"{len(headline) + 1}.{key}.{tag}", charts)
            headline.append(item)
            if previous:
                prev = rows[(rows["kpi"].astype(str) == key) & (rows["key"].astype(str) == member)
                            & (rows["period"].astype(str) == previous)]
                c = None if prev.empty else between(
                    key, prev.iloc[0], r, before_days=before.days, after_days=period.days,
                    level=significance)
                if c is not None:
                    changes.append((c, {**item, "previous_text": _text(c.before, fmt),
                                        **describe(key, c, str(r["variant"]))}))
    # larger than chance first, each with its direction and verdict (kpi_xl.changes)
    changes = rank(changes)
    index = scorecard_index(delivery)
    return {
        "recipient": {"name": s.name, "role": s.role}, "scope_label": label,
        "month": month, "month_label": period.title(), "noun": period.noun,
        "previous_label": before.title() if before else "",
        "headline": headline, "changes": changes,
        "level_text": level_text(significance), "chance_text": level_text(1 - significance),
        "spikes": spikes(rows, month, keys, noun=period.noun),
        "off_target": [k for k in headline if k["status"] == "off target"],
        "low_sample": [k for k in headline if k["low_sample"]],
        "index": index,
        # the scorecard's perspectives, beside its index (when the scorecard is attached)
        "perspectives": perspective_scores(board) if index and s.scope == "organisation"
        else [],
        "images": [(k["trend"]["cid"], k["trend"]["png"]) for k in headline
                   if k["trend"] and k["trend"]["png"]],
        # what the charts span ("13 months"); nothing when no KPI has a trend to show
        "span": f"{len(periods)} {period.noun}s" if any(k["trend"] for k in headline) else "",
        # the output folder's files: only the organisation's recipients work beside them
        "rejects_note": s.scope == "organisation",
        "partial": partial_banner(partial) or _named_text(delivery, "kpi_xl_partial"),
    }


def _history(table, month: str, history: "list[str] | None") -> list[str]:
    """The periods the trend charts show, oldest first, ending with ``month``."""
    if history is not None:
        return [str(p) for p in history]
    labels = sorted({str(p) for p in table["period"].astype(str)})
    return [p for p in labels if p <= month][-TREND_PERIODS:]


def _when(label: str) -> str:
    p = as_period(label)
    return p.title() if p.grain in ("month", "quarter", "year") else p.short()


def _trend(rows, r, member: str, periods: list[str], fmt: str, item: dict, name: str,
           charts: bool) -> dict | None:
    """The headline KPI's trend over ``periods`` against its target: the PNG (by
    Content-ID), its alt text, and a line of text for the plain body. None when fewer
    than two periods have a value (no trend to show)."""
    key = str(r["kpi"])
    mine = rows[(rows["kpi"].astype(str) == key) & (rows["key"].astype(str) == member)]
    by = {str(p): float(v) for p, v in zip(mine["period"].astype(str), mine["value"],
                                          strict=True) if not _nan(v)}
    values = [by.get(p) for p in periods]
    have = [(p, v) for p, v in zip(periods, values, strict=True) if v is not None]
    if len(have) < 2:
        return None
    target = None if _nan(r["target"]) else float(r["target"])
    (p0, v0), (p1, v1) = have[0], have[-1]
    words = (f"{item['title']}, {len(periods)} {as_period(periods[-1]).noun}s: "
             f"{_text(v0, fmt)} in {_when(p0)}, {_text(v1, fmt)} in {_when(p1)}")
    if target is not None:
        words += f"; target {_text(target, fmt)}" + (f", {item['status']}" if item["status"]
                                                    else "")
    png = trend_png(values, target, str(r.get("direction", "")), item["status"]) \
        if charts else None
    return {"cid": f"trend.{name}@kpi-xl", "png": png, "alt": words,
            "text": f"{sparkline(values)}  {_text(v0, fmt)} ({_when(p0)}) -> {_text(v1, fmt)}"}


def perspective_scores(board: dict | None) -> list[dict[str, str]]:
    """The perspectives' scores of the period, as the balanced scorecard computed them
    (its context's last history row), formatted and given a status as its cells do."""
    if not board or not board.get("history"):
        return []
    now = board["history"][-1]
    out = []
    for p, score in zip(board["perspectives"], now["scores"], strict=True):
        some = any(k.get("actual") is not None for k in p["kpis"])
        out.append({"name": p["name"], "weight_text": f"{p['weight']:g}",
                    "score_text": "" if score is None else format_value(score, SCORE_FORMAT),
                    "status": score_status(score, board["near_target"], some)})
    return out


def _named(path: Path, name: str) -> tuple[Any, str] | None:
    """(cached value, number format) of the cell a workbook names (None: no such name)."""
    st = Path(path).stat()
    return _names(str(path), st.st_ino, st.st_mtime_ns, st.st_size).get(name)


@functools.lru_cache(maxsize=64)
def _names(path: str, inode: int, mtime_ns: int, size: int) -> dict[str, tuple[Any, str]]:
    """Every single-cell defined name of a workbook with its cached value and number
    format, read once per file and state (``inode``, ``mtime_ns`` and ``size`` key the
    cache: the run writes each workbook whole by renaming a new file over it, so a changed
    file is a new key). Each message asks
    for several names of the same workbooks; loading a workbook per name read the demo's
    eight workbooks 50 times for its nine messages."""
    from openpyxl import load_workbook

    wb = load_workbook(path, data_only=True, read_only=True)
    try:
        out = {}
        for name, dn in wb.defined_names.items():
            for sheet, ref in dn.destinations:
                if sheet in wb.sheetnames and ":" not in ref:
                    c = wb[sheet][ref.replace("$", "")]
                    out[name] = (c.value, c.number_format)
                    break
        return out
    finally:
        wb.close()


def _named_text(delivery: Delivery, name: str) -> str | None:
    """The text of a named cell holding data text (the partial-data banner), as the
    workbook shows it (stored with its ``_xHHHH_`` escaped: kpi_xl.text.ooxml_text)."""
    for r in delivery.reports:
        got = _named(r.path, name)
        if got and isinstance(got[0], str) and got[0].strip():
            return shown_text(got[0]).strip()
    return None


def scorecard_index(delivery: Delivery) -> dict[str, str] | None:
    """The attached balanced scorecard's overall index, its status and what it leaves
    out, as the workbook shows them (its cached values, named kpi_xl_index...)."""
    for r in delivery.reports:
        if r.key != "scorecard":
            continue
        got = _named(r.path, "kpi_xl_index")
        if got is None:
            return None
        value, fmt = got
        status = _named(r.path, "kpi_xl_index_status")
        note = _named(r.path, "kpi_xl_index_note")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return {"value_text": format_value(float(value), fmt) if number else "no index",
                "status": str(status[0]) if status and status[0] else "",
                "note": str(note[0]) if note and note[0] else ""}
    return None


def _nan(v) -> bool:
    try:
        return v is None or math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def message_id(month: str, recipient: str, keys: list[str], domain: str) -> str:
    """The same month, recipient and reports always give the same Message-ID, so a
    resent message is recognisably the same one."""
    h = hashlib.sha256("|".join([month, recipient.lower(), *sorted(keys)]).encode()).hexdigest()[:24]
    # a range's '..' is no dot-atom (RFC 5322): its left part would not parse
    return f"<kpi-xl.{re.sub(r'[^A-Za-z0-9-]', '_', month)}.{h}@{domain}>"


def build(delivery: Delivery, context: dict, attachments: list,
          sender: str, sender_name: str, env: SandboxedEnvironment, centre: str) -> EmailMessage:
    """The message. ``attachments``: one entry per report of ``delivery``, each a file
    (name, bytes) or a list of them (the workbook and its PDF copy); a file's MIME type
    follows its name (.pdf: application/pdf, else the spreadsheet's)."""
    groups = [a if isinstance(a, list) else [a] for a in attachments]
    ctx = {**context, "centre": centre,
           "attachments": [{"title": r.title, "filename": ", ".join(n for n, _d in g),
                            "files": [n for n, _d in g]}
                           for r, g in zip(delivery.reports, groups, strict=True)]}
    ctx.setdefault("partial", None)
    ctx.setdefault("index", None)
    ctx.setdefault("noun", "month")
    ctx.setdefault("level_text", level_text(DEFAULT_LEVEL))
    ctx.setdefault("chance_text", level_text(1 - DEFAULT_LEVEL))
    ctx.setdefault("spikes", [])
    for key, default in (("perspectives", []), ("images", []), ("span", ""),
                         ("rejects_note", False)):
        ctx.setdefault(key, default)
    msg = EmailMessage()
    subject = " ".join(env.get_template("subject.txt").render(ctx).split())
    text = env.get_template("body.txt").render(ctx)
    html = env.get_template("body.html").render(ctx)
    if ctx["partial"]:
        # a restyled template cannot hide it: the subject is marked here, and each body
        # must carry the note (the shipped ones put it first)
        if "partial data" not in subject.lower():
            subject = "[partial data] " + subject
        from markupsafe import escape

        for name, body, want in (("body.txt", text, ctx["partial"]),
                                 ("body.html", html, str(escape(ctx["partial"])))):
            if want not in body:
                raise MailError(f"email template {name} does not show that the data is "
                                "partial; add {{ partial }} at its top (see "
                                "kpi-xl templates FOLDER for the shipped ones)")
    msg["Subject"] = subject
    msg["From"] = formataddr((sender_name, sender))
    msg["To"] = formataddr((delivery.to.name, delivery.to.email))
    msg["Date"] = formatdate(localtime=True)
    domain = sender.rpartition("@")[2] or "kpi-xl.invalid"
    msg["Message-ID"] = message_id(context["month"], delivery.to.email,
                                   [r.key for r in delivery.reports], domain)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    _add_images(msg, html, ctx["images"])
    for name, data in (f for g in groups for f in g):
        kind = PDF if name.lower().endswith(".pdf") else XLSX
        msg.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=name)
    return msg


def _add_images(msg: EmailMessage, html: str, images: list[tuple[str, bytes]]) -> None:
    """The HTML part becomes multipart/related: the HTML, then each PNG it shows by
    Content-ID (inline). A template that shows no chart gets none (an image nobody
    refers to would show as a stray attachment)."""
    shown = [(cid, png) for cid, png in images if f"cid:{cid}" in html]
    if not shown:
        return
    part = msg.get_body(("html",))
    for cid, png in shown:
        part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>",
                         disposition="inline",
                         filename=cid.partition("@")[0].rpartition(".")[0] + ".png")
