"""Alerts (issue 16 §3): `kpi-xl alert` and `[alerts]` in `kpi-xl run`.

The rules by hand on a small results table (off target in both periods against only one;
a low sample; the two-proportion vector of test_change.py on each side of the level);
then the demo centre through the command line, over the real SMTP server of test_mail.py
(aiosmtpd with STARTTLS, AUTH and a test CA): who gets a message, that it holds only
their own scope, that a rerun sends nothing, that a rule crossed since is sent alone, and
each exit code."""

from __future__ import annotations

import email
import email.policy
import shutil
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("duckdb")
pytest.importorskip("aiosmtpd")
pytest.importorskip("trustme")

from kpi_xl.alerts import AlertSettings, kpi_alerts  # noqa: E402
from kpi_xl.catalog import CATALOG  # noqa: E402
from kpi_xl.cli import ALERTS_SENT, main  # noqa: E402
from kpi_xl.config import parse_config, read_config  # noqa: E402
from kpi_xl.data.sources import ConfigError  # noqa: E402
from kpi_xl.mail.stakeholders import HEADLINE  # noqa: E402
from kpi_xl.mail.stakeholders import scope_rows  # noqa: E402
from kpi_xl.periods import Period  # noqa: E402

from demo_exports import thin_month  # noqa: E402
from test_mail import PASSWORD, ca, server  # noqa: E402,F401  (the SMTP server fixtures)

OCT, SEP = Period.parse("2026-10", "month"), Period.parse("2026-09", "month")
TEAMS = ("Billing", "Technical", "Onboarding", "Retention", "Orders", "Premium")


def _row(key, period, value, status, n=500, low=False, target=0.75):
    return {"period": period, "level": "team", "key": key, "kpi": "fcr", "variant": "contacts",
            "value": value, "n": n, "margin": float("nan"), "target": target,
            "status": status, "low_sample": low, "number_format": "0.0%"}


def test_off_target_two_periods_running_against_only_one():
    """FCR target 75 %. Team A: 70 % then 71 %, off target both months: an alert. Team
    B: 78 % (on target) then 72 %: off target once, no alert. Team C: off target both
    months, but September's 30 answers are a low sample: no alert."""
    table = pd.DataFrame([
        _row("A", "2026-09", 0.70, "off target"), _row("A", "2026-10", 0.71, "off target"),
        _row("B", "2026-09", 0.78, "on target"), _row("B", "2026-10", 0.72, "off target"),
        _row("C", "2026-09", 0.60, "off target", n=30, low=True),
        _row("C", "2026-10", 0.61, "off target")])
    only = AlertSettings(rules=("off_target_twice",))
    found = kpi_alerts(table, "team", ["A", "B", "C"], ["fcr"], OCT, SEP, only)
    assert [(a.member, a.rule) for a in found] == [("A", "off_target_twice")]
    a = found[0]
    assert a.key == "alert:off_target_twice:fcr:team:A"
    assert a.text == ("First contact resolution (FCR) (A) is off target two months running: "
                      "71.0% in October 2026 against a target of 75.0%, after 70.0% in "
                      "September 2026.")
    # a team lead of B alone hears nothing; of A alone, of A only
    assert kpi_alerts(table, "team", ["B"], ["fcr"], OCT, SEP, only) == []
    assert {x.member for x in kpi_alerts(table, "team", ["A"], ["fcr"], OCT, SEP, only)} \
        == {"A"}


def test_significant_worsening_follows_the_declared_test_and_level():
    """test_change.py's hand-derived two-proportion vector: FCR 80 % of 500 contacts, then
    75 % of 400: z = −1.7928, p = 0.0730. Worse (FCR: higher is better) but within noise
    at 95 % (no alert), larger than chance at 90 % (an alert); the same drop the other way
    (75 % -> 80 %) is better, never an alert."""
    down = pd.DataFrame([_row("A", "2026-09", 0.80, "on target"),
                         _row("A", "2026-10", 0.75, "on target", n=400)])
    rule = AlertSettings(rules=("significant_worsening",))
    assert kpi_alerts(down, "team", ["A"], ["fcr"], OCT, SEP, rule, 0.95) == []
    found = kpi_alerts(down, "team", ["A"], ["fcr"], OCT, SEP, rule, 0.90)
    assert [a.rule for a in found] == ["significant_worsening"]
    assert found[0].change_text == "-5.0 points"
    assert "worse, larger than chance at 90 %" in found[0].text
    up = pd.DataFrame([_row("A", "2026-09", 0.75, "on target", n=400),
                       _row("A", "2026-10", 0.80, "on target", n=500)])
    assert kpi_alerts(up, "team", ["A"], ["fcr"], OCT, SEP, rule, 0.90) == []


def test_each_stakeholder_is_alerted_of_their_own_rows_only():
    """Teams A and B and the organisation are all off target two months running on FCR:
    the lead of A hears of A alone (with no member suffix: one team), the organisation of
    the organisation's row alone, an agent with no off-target row of nothing."""
    from types import SimpleNamespace

    from kpi_xl.mail.stakeholders import parse_stakeholders
    from kpi_xl.run.alerts import find_alerts

    rows = [_row(k, p, v, "off target") for k in ("A", "B")
            for p, v in (("2026-09", 0.70 if k == "A" else 0.60),
                         ("2026-10", 0.71 if k == "A" else 0.61))]
    rows += [{**_row("all", p, v, "off target"), "level": "organisation"}
             for p, v in (("2026-09", 0.66), ("2026-10", 0.67))]
    rows += [{**_row("Ana", p, 0.90, "on target"), "level": "agent"}
             for p in ("2026-09", "2026-10")]
    problems = []
    people = parse_stakeholders([
        {"name": "Dana", "email": "dana@example.com"},
        {"name": "Lead A", "email": "a@example.com", "teams": ["A"]},
        {"name": "Ana", "email": "ana@example.com", "agent": "Ana"}], problems)
    assert problems == []
    cfg = SimpleNamespace(stakeholders=people, alerts=None, significance=0.95)
    found = find_alerts(cfg, pd.DataFrame(rows), OCT)
    assert {e: [(a.level, a.member, a.value_text) for a in f] for e, f in found.items()} == {
        "dana@example.com": [("organisation", "all", "67.0%")],
        "a@example.com": [("team", "A", "71.0%")]}
    assert found["a@example.com"][0].title == "First contact resolution (FCR)"


@pytest.mark.parametrize("section, words", [
    ('[alerts]\nrule = ["off_target_twice"]', "[alerts]: unknown key 'rule'"),
    ('[alerts]\nrules = ["drop"]', "[alerts] rules: 'drop' is not a rule"),
    ('[alerts]\nkpis = ["nsp"]', "[alerts] kpis: 'nsp' is not a KPI key"),
    ('[alerts]\ndata_contacts = ["tom@example.com"]', "Tom Berg is scoped to teams"),
    ('[alerts]\ndata_contacts = ["nobody@example.com"]', "is no [[stakeholders]] name"),
    ('alerts = 3', "[alerts] must be a table"),
])
def test_alerts_section_is_checked(section, words, tmp_path):
    import tomllib

    data = tomllib.loads(
        '[[sources]]\nname = "c"\ntable = "contacts"\npath = "c.csv"\n'
        '[sources.columns]\nid = "id"\ndate = "date"\n'
        '[[stakeholders]]\nname = "Tom Berg"\nemail = "tom@example.com"\nteams = ["Billing"]\n'
        + section.replace("alerts = 3", ""))
    if section == "alerts = 3":
        data["alerts"] = 3
    with pytest.raises(ConfigError) as e:
        parse_config(data, tmp_path)
    assert any(words in p for p in e.value.problems), e.value.problems


# ---------------------------------------------------------------- the demo, end to end
@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> Path:
    from kpi_xl.demo import write_demo

    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder, "2026-10")
    return folder


@pytest.fixture
def demo(demo_folder, tmp_path) -> Path:
    shutil.copytree(demo_folder, tmp_path / "demo")
    return tmp_path / "demo"


def _append(cfg: Path, text: str) -> None:
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n" + text + "\n", encoding="utf-8")


def _smtp(cfg: Path, port: int, pem: str, monkeypatch) -> None:
    monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
    _append(cfg, f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nusername = "reports"\n'
                 f'sender = "reports@acme.test"\nca_file = "{pem}"\ntimeout = 10\n'
                 'retries = 0\nbackoff = 0.01')


def _parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def _expected_off_target_twice(cfg, table) -> dict[str, list[tuple[str, str, str, str]]]:
    """Independently of kpi_xl.alerts: per stakeholder email, (KPI title, October value,
    target, September value) of each headline KPI of their own rows that the results
    (kpi-results.json of `kpi-xl compute`) say is off target in both months, neither a
    low sample."""
    out = {}
    for s in cfg.stakeholders:
        level, keys, _label = scope_rows(s)
        found = []
        for kpi in HEADLINE[s.scope]:
            for key in keys:
                r = table[(table.level == level) & (table.key == key) & (table.kpi == kpi)]
                r = r.set_index("period")
                if not {"2026-09", "2026-10"} <= set(r.index):
                    continue
                now, before = r.loc["2026-10"], r.loc["2026-09"]
                if now.status == before.status == "off target" \
                        and not (now.low_sample or before.low_sample):
                    from kpi_xl.catalog.format import format_value as f

                    fmt = now.number_format
                    found.append((CATALOG[kpi].title, f(now.value, fmt), f(now.target, fmt),
                                  f(before.value, fmt)))
        if found:
            out[s.email] = found
    return out


def test_alert_over_smtp_tells_each_stakeholder_of_their_own_scope_once(
        demo, server, ca, monkeypatch, tmp_path, capsys):
    inbox, port = server
    cfg_path = demo / "kpi_xl.toml"
    _smtp(cfg_path, port, ca[2], monkeypatch)
    _append(cfg_path, '[alerts]\nrules = ["off_target_twice"]')
    out = tmp_path / "out"
    cmd = ["alert", "-c", str(cfg_path), "--month", "2026-10", "--out", str(out)]
    # the reference: the month's results as `kpi-xl compute` writes them
    assert main(["compute", "-c", str(cfg_path), "--month", "2026-10", "--out",
                 str(out / "reference")]) == 0
    from kpi_xl.engine.results import read_results_json

    table = read_results_json(out / "reference" / "2026-10" / "kpi-results.json").table
    table = table.astype({"level": str, "key": str, "kpi": str, "period": str})
    cfg = read_config(cfg_path)
    expected = _expected_off_target_twice(cfg, table)
    people = {s.email: s for s in cfg.stakeholders}
    agent = next(s for s in cfg.stakeholders if s.scope == "agent")
    assert agent.email in expected and len(expected) >= 3      # the demo has several
    capsys.readouterr()

    # 1. one recipient refused for good: the others are told; exit 1 names the failure
    inbox.refuse[agent.email] = "550 5.1.1 mailbox unavailable"
    assert main(cmd) == 1
    assert f"failed: {agent.email}: 550" in capsys.readouterr().out
    got = {rcpt[0]: _parse(raw) for rcpt, raw in inbox.messages}
    assert set(got) == set(expected) - {agent.email}
    for who, msg in got.items():
        s, alerts = people[who], expected[who]
        _level, _keys, label = scope_rows(s)
        n = len(alerts)
        assert msg["Subject"] == (f"Northwind Support (demo): {n} alert{'s' if n > 1 else ''} "
                                  f"for {label}, October 2026")
        assert not msg.is_multipart() or not list(msg.iter_attachments())
        text, html = (msg.get_body((k,)).get_content() for k in ("plain", "html"))
        for title, now, target, before in alerts:
            detail = (f"{now} in October 2026 against a target of {target}, after {before} "
                      f"in September 2026.")
            assert f"{title} is off target two months running: {detail}" in text
            assert f"<b>{title}</b>" in html and detail in html
        assert text.count(" is off target two months running: ") == n
        if s.scope == "teams":                # a team lead: no other team is named
            others = [t for t in TEAMS if t not in s.teams]
            assert not [t for t in others if t in text or t in html], (who, others)
        if s.scope == "organisation":          # the organisation's own figures only
            assert not [t for t in TEAMS if t in text]

    # 2. the refusal lifted: only the recipient still due gets a message
    inbox.refuse.clear()
    inbox.messages.clear()
    assert main(cmd) == ALERTS_SENT
    assert [rcpt for rcpt, _raw in inbox.messages] == [[agent.email]]
    msg = _parse(inbox.messages[0][1])
    others = set(table.loc[table.level == "agent", "key"]) - {agent.agent}
    body = msg.get_body(("plain",)).get_content()
    assert agent.agent in msg["Subject"] and not [a for a in others if a in body]
    assert not [t for t in TEAMS if t in body]

    # 3. a rerun: nothing is sent twice (exit 0)
    inbox.messages.clear()
    capsys.readouterr()
    assert main(cmd) == 0
    assert inbox.messages == []
    assert f"0 sent, {len(expected)} skipped (already sent)" in capsys.readouterr().out

    # 4. a rule added: only the alerts it finds are sent, each in its own short message
    text = cfg_path.read_text(encoding="utf-8").replace(
        'rules = ["off_target_twice"]', 'rules = ["off_target_twice", "significant_worsening"]')
    cfg_path.write_text(text, encoding="utf-8")
    rc = main(cmd)
    printed = capsys.readouterr().out
    worse = [line for line in printed.splitlines() if line.endswith("larger than chance at 95 %")]
    assert worse                                   # the demo has some (see the README)
    assert rc == ALERTS_SENT
    assert len(inbox.messages) == len({line.split(":")[0].strip() for line in worse})
    for _rcpt, raw in inbox.messages:
        body = _parse(raw).get_body(("plain",)).get_content()
        assert "got worse" in body and "off target two months running:" not in body


def test_a_guard_failure_goes_to_the_data_contacts_only(demo, tmp_path, capsys):
    """A thin October (a quarter of its contacts): exit 4, no KPI rule applied, one
    message, to the organisation's stakeholder (no [alerts]: the default data contacts),
    naming the refusal; a rerun sends it no second time."""
    thin_month(demo, "2026-10", 4)
    out = tmp_path / "out"
    cmd = ["alert", "-c", str(demo / "kpi_xl.toml"), "--month", "2026-10", "--out", str(out)]
    assert main(cmd) == 4
    err = capsys.readouterr().err
    assert "not complete, so no KPI rule was applied (the data contacts were told)" in err
    assert "contacts.csv" in err
    files = sorted(p.name for p in (out / "2026-10" / "alerts").iterdir())
    assert files == ["dana.reyes-at-northwind.example.eml"]
    msg = _parse((out / "2026-10" / "alerts" / files[0]).read_bytes())
    assert msg["Subject"] == "Northwind Support (demo): 1 alert for the data, October 2026"
    body = msg.get_body(("plain",)).get_content()
    assert "The data for October 2026 is not complete, so no report or KPI alert was made" \
        in body and "contacts.csv" in body
    assert main(cmd) == 4
    assert "0 sent, 1 skipped (already sent)" in capsys.readouterr().out


def test_run_with_alerts_sends_them_after_the_reports_and_tells_of_a_refusal(
        demo, tmp_path, capsys):
    """[alerts] in the config: `run` sends the alerts after the reports (to
    OUT/<month>/alerts without [smtp]) through the same ledger, so `alert` then finds
    nothing due; a refused month tells the data contacts and still exits 4."""
    cfg = demo / "kpi_xl.toml"
    _append(cfg, '[alerts]\nrules = ["off_target_twice", "guard_failure"]\nkpis = ["qa_score"]')
    out = tmp_path / "out"
    assert main(["run", "-c", str(cfg), "--month", "2026-10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "  alerts    " in printed
    alerts = sorted(p.name for p in (out / "2026-10" / "alerts").iterdir())
    reports = sorted(p.name for p in (out / "2026-10" / "outbox").iterdir())
    assert alerts and set(alerts) <= set(reports)
    for name in alerts:
        body = _parse((out / "2026-10" / "alerts" / name).read_bytes()).get_body(
            ("plain",)).get_content()
        assert "QA score" in body and "Service level" not in body     # kpis = ["qa_score"]
    assert main(["alert", "-c", str(cfg), "--month", "2026-10", "--out", str(out)]) == 0
    assert f"0 sent, {len(alerts)} skipped" in capsys.readouterr().out

    thin_month(demo, "2026-09", 4)
    assert main(["run", "-c", str(cfg), "--month", "2026-09", "--out", str(out)]) == 4
    err = capsys.readouterr().err
    assert "the data contacts were told (alert): 1 sent" in err
    assert sorted(p.name for p in (out / "2026-09" / "alerts").iterdir()) == \
        ["dana.reyes-at-northwind.example.eml"]
    assert not (out / "2026-09" / "outbox").exists()       # no report was made


def test_alert_needs_one_period(demo, capsys):
    with pytest.raises(SystemExit) as e:
        main(["alert", "-c", str(demo / "kpi_xl.toml")])
    assert e.value.code == 2
    assert "which period?" in capsys.readouterr().err


def _one_message(name: str = "Tom <b>Berg</b> & co"):
    """An alert message to a team lead of team A, from the hand-made table above: FCR off
    target two months running, and (at 90 %) worse, larger than chance."""
    from kpi_xl.mail.alert import build_alert, context
    from kpi_xl.mail.message import environment
    from kpi_xl.mail.stakeholders import Stakeholder

    table = pd.DataFrame([_row("A", "2026-09", 0.74, "off target", n=500),
                          _row("A", "2026-10", 0.69, "off target", n=400)])
    to = Stakeholder(name, "tom@example.com", scope="teams", teams=("A",))
    found = kpi_alerts(table, "team", ["A"], ["fcr"], OCT, SEP, AlertSettings(), 0.90)
    ctx = context(to, found, OCT, SEP, "Acme")
    return found, build_alert(to, ctx, [a.key for a in found], "reports@acme.test", "Acme",
                              environment())


def test_alert_message_parts_and_escaping():
    found, msg = _one_message()
    assert [a.rule for a in found] == ["off_target_twice", "significant_worsening"]
    assert msg["Subject"] == "Acme: 2 alerts for team A, October 2026"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    html = msg.get_body(("html",)).get_content()
    assert "Tom &lt;b&gt;Berg&lt;/b&gt; &amp; co" in html and "<b>Berg</b>" not in html
    text = msg.get_body(("plain",)).get_content()
    assert "Hello Tom <b>Berg</b> & co," in text
    assert "74.0% in September 2026 -> 69.0% in October 2026 (-5.0 points)" in text


def test_alert_message_fits_a_phone_in_chromium(tmp_path):
    """Headless Chromium lays the HTML part out 375 px wide: nothing is wider than the
    screen. The screenshot is kept beside the test's files, to look at (README's
    docs/alert-phone.png is made the same way by scripts/make_screenshots.py)."""
    import html as htmllib
    import json
    import re
    import subprocess

    from kpi_xl.mail.preview import browser_flags, chromium, inline_html, screenshot
    from test_message_charts import PROBE

    exe = chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    _found, msg = _one_message("Tom Berg")
    html = inline_html(msg)
    page = tmp_path / "probe.html"
    page.write_text(PROBE.format(w=375, doc=htmllib.escape(html, quote=True)), encoding="utf-8")
    dom = subprocess.run(browser_flags(exe, tmp_path / "profile") + ["--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    got = re.search(r'data-probe="([^"]*)"', dom)
    assert got, dom[-500:]
    probe = json.loads(htmllib.unescape(got.group(1)))
    assert probe["width"] <= 375, f"the alert is {probe['width']} px wide on a 375 px phone"
    shot = screenshot(html, tmp_path / "alert-phone.png", height=600)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_alerts_wait_for_the_output_folders_lock(tmp_path):
    """One run per output folder: while another process holds it, the alerts are not
    sent (MailError naming the folder; `kpi-xl alert` exits 1) and nothing is written."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from kpi_xl.mail.send import MailError
    from kpi_xl.mail.stakeholders import parse_stakeholders
    from kpi_xl.run.alerts import deliver_alerts

    table = pd.DataFrame([_row("A", "2026-09", 0.70, "off target"),
                          _row("A", "2026-10", 0.71, "off target")])
    people = parse_stakeholders([{"name": "Lead A", "email": "a@example.com",
                                  "teams": ["A"]}], [])
    alerts = {"a@example.com": kpi_alerts(table, "team", ["A"], ["fcr"], OCT, SEP,
                                          AlertSettings())}
    cfg = SimpleNamespace(stakeholders=people, smtp=None, name="Acme")
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from kpi_xl.files import folder_lock\n"
         f"with folder_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(MailError, match="another kpi-xl run is using"):
            deliver_alerts(cfg, OCT, alerts, out, lock_wait=0.5)
        assert not (out / "2026-10").exists() and not (out / "outbox-ledger.sqlite").exists()
    finally:
        holder.kill()
        holder.wait()
    outcome, where = deliver_alerts(cfg, OCT, alerts, out)
    assert outcome.sent == ["a@example.com"] and where == str(out / "2026-10" / "alerts")
