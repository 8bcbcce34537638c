"""Email against a real SMTP server: aiosmtpd on localhost with STARTTLS (or implicit TLS),
AUTH, a test CA (trustme) whose certificate the client verifies. Messages are parsed back
from what the server received; every attachment is opened and its scope checked."""

from __future__ import annotations

import email
import email.policy
import io
import socket

import pytest

pytest.importorskip("aiosmtpd")
trustme = pytest.importorskip("trustme")
openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("duckdb")

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from kpi_xl.config import parse_config  # noqa: E402
from kpi_xl.data.sources import ConfigError  # noqa: E402
from kpi_xl.mail.message import XLSX  # noqa: E402
from kpi_xl.mail.run import send_month  # noqa: E402
from kpi_xl.mail.send import MailError, SmtpSettings  # noqa: E402
from kpi_xl.mail.stakeholders import parse_stakeholders  # noqa: E402

from scorecard_data import STAKEHOLDERS  # noqa: E402
from scorecard_data import month as generated_month  # noqa: E402

USER, PASSWORD = "reports", "s3cret-pw"


class Inbox:
    """aiosmtpd handler keeping every message it accepts; can refuse some recipients."""

    def __init__(self):
        self.messages = []
        self.refuse: dict[str, str] = {}        # recipient -> SMTP reply
        self.fail_next: list[str] = []           # replies to give to the next DATA commands

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_next:
            return self.fail_next.pop(0)
        self.messages.append((envelope.rcpt_tos[:], envelope.content))
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    # a failure must say handled=False, or the client waits for ever
    return AuthResult(success=True) if ok else AuthResult(success=False, handled=False)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    folder = tmp_path_factory.mktemp("ca")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    return ca, cert, str(folder / "ca.pem")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(ca):
    import ssl

    _ca, cert, _pem = ca
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    inbox = Inbox()
    port = _free_port()
    c = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx,
                   require_starttls=True, authenticator=authenticator, auth_require_tls=True)
    c.start()
    yield inbox, port
    c.stop()


@pytest.fixture(scope="module")
def month_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("wb")
    tables, res, paths = generated_month(str(out))
    res.write_csv(out / "2026-10" / "kpi-results.csv")
    from kpi_xl.run.month import write_status

    write_status(out / "2026-10", "2026-10", None)     # as a run whose guards passed
    return out, tables, res




def _people():
    problems = []
    people = parse_stakeholders(STAKEHOLDERS, problems)
    assert problems == []
    return people


def _settings(port, pem, **kw):
    return SmtpSettings(host="127.0.0.1", port=port, username=USER, sender="reports@acme.test",
                        sender_name="Acme reports", ca_file=pem, timeout=10, retries=2,
                        backoff=0.01, **kw)


def _fresh(out, tmp_path):
    """A copy of the month's files without any ledger or outbox of earlier tests."""
    import shutil

    work = tmp_path / "wb"
    shutil.copytree(out, work, ignore=shutil.ignore_patterns("*.sqlite", "outbox", "agents"))
    return work


def _parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_each_recipient_gets_only_their_scope(server, ca, month_files, monkeypatch, tmp_path):
    inbox, port = server
    out, tables, res = month_files
    out = _fresh(out, tmp_path)
    monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
    outcome, _where = send_month(_people(), out, "2026-10", smtp=_settings(port, ca[2]),
                                 centre="Acme Support")
    assert sorted(outcome.sent) == sorted(s["email"] for s in STAKEHOLDERS)
    assert outcome.failed == [] and outcome.skipped == []
    got = {}
    for rcpts, raw in inbox.messages:
        assert len(rcpts) == 1
        got[rcpts[0]] = _parse(raw)
    folder = out / "2026-10"
    roster = tables["roster"]
    billing = set(roster.loc[roster.team == "Billing", "agent"])
    for who, msg in got.items():
        atts = [p for p in msg.iter_attachments()]
        assert all(a.get_content_type() == "/".join(XLSX) for a in atts)
        body = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert "2026" in msg["Subject"] and "Attached" in body and "<table" in html
        for a in atts:
            data = a.get_payload(decode=True)
            wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
            agents = {ws["A1"].value[4:] for ws in wb.worksheets
                      if isinstance(ws["A1"].value, str) and ws["A1"].value.startswith("QA: ")
                      and ws.title != "Team"}
            if who == "dana@example.com":
                continue                              # the organisation sees every team
            allowed = billing if who == "tom@example.com" else (
                {"Ana Silva"} if who.startswith("ana") else {"Ben Adeyemi"})
            others = set(roster.agent) - allowed
            text = {v for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                    for v in row if isinstance(v, str)}
            found = {n for n in others if any(n in t for t in text)}
            assert found == set(), (who, found)     # nobody else's name, anywhere
            assert agents and agents <= allowed
            if who != "tom@example.com":             # an agent: their sheet alone
                assert len(wb.sheetnames) == 1
                assert isinstance(wb.worksheets[0]["B5"].value, float)    # values cached
        names = [a.get_filename() for a in atts]
        if who == "dana@example.com":
            assert names[0] == "balanced-scorecard-2026-10.xlsx" and len(names) == 3
            # byte-identical to the files written
            assert atts[0].get_payload(decode=True) == (folder / names[0]).read_bytes()
            assert "Service level" in body
        elif who == "tom@example.com":
            assert names == ["qa-Billing-2026-10.xlsx"]
            assert atts[0].get_payload(decode=True) == (folder / names[0]).read_bytes()
            assert "team Billing" in body and "Technical" not in body
        else:
            assert names == [f"qa-{'Ana-Silva' if who.startswith('ana') else 'Ben-Adeyemi'}-2026-10.xlsx"]


def test_rerun_sends_nothing_twice_and_resend_is_explicit(server, ca, month_files, monkeypatch,
                                                         tmp_path):
    inbox, port = server
    out, _t, _r = month_files
    monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
    work = _fresh(out, tmp_path)
    people = _people()
    # a run that dies after two recipients: the third message makes the process "crash"
    calls = {"n": 0}
    import kpi_xl.mail.run as run

    real = run.build

    def crashing(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(*a, **kw)

    monkeypatch.setattr(run, "build", crashing)
    with pytest.raises(KeyboardInterrupt):
        send_month(people, work, "2026-10", smtp=_settings(port, ca[2]), centre="Acme")
    monkeypatch.setattr(run, "build", real)
    assert len(inbox.messages) == 2
    outcome, _ = send_month(people, work, "2026-10", smtp=_settings(port, ca[2]), centre="Acme")
    assert len(outcome.sent) == 2 and len(outcome.skipped) == 2
    delivered = [r[0] for r, _ in inbox.messages]
    assert sorted(delivered) == sorted(s["email"] for s in STAKEHOLDERS)   # each exactly once
    again, _ = send_month(people, work, "2026-10", smtp=_settings(port, ca[2]), centre="Acme")
    assert again.sent == [] and len(again.skipped) == 4 and len(inbox.messages) == 4
    forced, _ = send_month(people, work, "2026-10", smtp=_settings(port, ca[2]), centre="Acme",
                           resend=True)
    assert len(forced.sent) == 4 and len(inbox.messages) == 8
    ids = [_parse(raw)["Message-ID"] for _, raw in inbox.messages]
    assert sorted(ids[:4]) == sorted(ids[4:])            # a resend is the same message again


def test_transient_failures_are_retried_and_permanent_ones_reported(server, ca, month_files,
                                                                   monkeypatch, tmp_path):
    inbox, port = server
    out, _t, _r = month_files
    monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
    work = _fresh(out, tmp_path)
    inbox.fail_next = ["451 Try again later"]                      # a 4xx: retried
    inbox.refuse["tom@example.com"] = "550 No such user here"     # a 5xx: that one fails
    slept = []
    outcome, _ = send_month(_people(), work, "2026-10", smtp=_settings(port, ca[2]),
                            centre="Acme", sleep=slept.append)
    assert slept == [0.01]
    assert [who for who, _ in outcome.failed] == ["tom@example.com"]
    assert "550 No such user here" in outcome.failed[0][1]
    assert len(outcome.sent) == 3
    assert sorted(r[0] for r, _ in inbox.messages) == ["ana@example.com", "ben@example.com",
                                                       "dana@example.com"]


def test_wrong_password_and_server_down_are_clear(server, ca, month_files, monkeypatch,
                                                 tmp_path):
    _inbox, port = server
    out, _t, _r = month_files
    monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", "wrong")
    with pytest.raises(MailError, match="refused the login for reports.*KPI_XL_SMTP_PASSWORD"):
        send_month(_people(), out, "2026-10", smtp=_settings(port, ca[2]), centre="Acme",
                   sleep=lambda s: None)
    monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
    with pytest.raises(MailError, match="cannot reach the SMTP server after 3 tries"):
        send_month(_people(), out, "2026-10", smtp=_settings(_free_port(), ca[2]),
                   centre="Acme", sleep=lambda s: None)
    monkeypatch.delenv("KPI_XL_SMTP_PASSWORD")
    monkeypatch.setitem(__import__("sys").modules, "keyring", None)
    with pytest.raises(MailError, match="no SMTP password for reports: set the environment"):
        send_month(_people(), out, "2026-10", smtp=_settings(port, ca[2]), centre="Acme")


def test_an_unverified_certificate_is_refused(server, month_files, monkeypatch):
    _inbox, port = server
    out, _t, _r = month_files
    monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
    other = trustme.CA()                                # not the CA that signed the server
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pem") as f:
        other.cert_pem.write_to_path(f.name)
        with pytest.raises(MailError, match="certificate could not be verified"):
            send_month(_people(), out, "2026-10", smtp=_settings(port, f.name), centre="Acme")


def test_implicit_tls(ca, month_files, monkeypatch, tmp_path):
    import ssl

    _ca, cert, pem = ca
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    inbox = Inbox()
    port = _free_port()
    c = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=ctx,
                   authenticator=authenticator, auth_require_tls=False)
    c.start()
    try:
        out, _t, _r = month_files
        work = _fresh(out, tmp_path)
        monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
        outcome, _ = send_month(_people()[:1], work, "2026-10",
                                smtp=_settings(port, pem, security="tls"), centre="Acme")
        assert outcome.sent == ["dana@example.com"] and len(inbox.messages) == 1
    finally:
        c.stop()


def test_outbox_dry_run(month_files, tmp_path):
    out, _t, _r = month_files
    work = _fresh(out, tmp_path)
    outcome, where = send_month(_people(), work, "2026-10", smtp=None, centre="Acme")
    files = sorted(p.name for p in (work / "2026-10" / "outbox").iterdir())
    assert files == ["ana-at-example.com.eml", "ben-at-example.com.eml",
                     "dana-at-example.com.eml", "tom-at-example.com.eml"]
    msg = _parse((work / "2026-10" / "outbox" / "tom-at-example.com.eml").read_bytes())
    assert msg["To"] == "Tom Berg <tom@example.com>"
    assert not (work / "send-ledger.sqlite").exists()      # a dry run is not a real send


def test_stakeholder_and_smtp_config_rules():
    with pytest.raises(ConfigError) as e:
        parse_config({"sources": [{"preset": "zendesk", "path": "x.csv"}],
                      "stakeholders": [
                          {"name": "A", "email": "not-an-address"},
                          {"name": "B", "email": "b@x.com", "teams": ["T"], "reports": ["scorecard"]},
                          {"name": "C", "email": "c@x.com", "agent": "C", "teams": ["T"]},
                          {"name": "D", "email": "b@x.com", "agent": "D"}],
                      "smtp": {"host": "smtp.x.com", "password": "hunter2", "security": "none",
                               "sender": "r@x.com"}})
    text = "\n".join(e.value.problems)
    assert "email 'not-an-address' is not an address" in text
    assert "a teams recipient cannot receive 'scorecard'" in text
    assert "give one scope" in text
    assert "b@x.com is listed twice" in text
    assert "passwords never go in the config file" in text
    assert 'security must be "starttls" or "tls"' in text


def test_templates_render_in_the_sandbox(tmp_path):
    from jinja2.exceptions import SecurityError

    from kpi_xl.mail.message import environment

    (tmp_path / "x.txt").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        environment(tmp_path).get_template("x.txt").render()
    (tmp_path / "y.html").write_text("{{ name }}")
    assert environment(tmp_path).get_template("y.html").render(name="<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"


def test_send_command_to_the_outbox(month_files, tmp_path, capsys):
    from kpi_xl.cli import main

    out, _t, _r = month_files
    work = _fresh(out, tmp_path)
    cfg = tmp_path / "kpi_xl.toml"
    cfg.write_text('[centre]\nname = "Acme"\n[[sources]]\npreset = "zendesk"\npath = "x.csv"\n'
                   '[[stakeholders]]\nname = "Tom Berg"\nemail = "tom@example.com"\n'
                   'teams = ["Billing"]\n', encoding="utf-8")
    assert main(["send", "-c", str(cfg), "--month", "2026-10", "--out", str(work)]) == 0
    assert "1 sent, 0 skipped (already sent), 0 failed" in capsys.readouterr().out
    assert main(["send", "-c", str(cfg), "--month", "2026-10", "--out", str(work)]) == 0
    assert "0 sent, 1 skipped" in capsys.readouterr().out
    assert main(["send", "-c", str(cfg), "--month", "2026-09", "--out", str(work)]) == 1
    assert "no finished run for 2026-09" in capsys.readouterr().err


def test_a_pdf_copy_arrives_over_smtp_beside_its_workbook(server, ca, month_files, monkeypatch,
                                                          tmp_path):
    """formats = ["xlsx", "pdf"] (issue 16 §4): the team lead's message, as the SMTP server
    received it, carries the workbook and its PDF copy, each byte for byte as written in
    the month's folder; the others' messages are unchanged (workbooks only)."""
    from kpi_xl.scorecard.libreoffice import soffice

    if soffice() is None:
        pytest.skip("LibreOffice (soffice) prints the PDF copies; .ci/run installs it")
    inbox, port = server
    out, _tables, _res = month_files
    out = _fresh(out, tmp_path)
    monkeypatch.setenv("KPI_XL_SMTP_PASSWORD", PASSWORD)
    items = [{**s, "formats": ["xlsx", "pdf"]} if s["email"] == "tom@example.com" else s
             for s in STAKEHOLDERS]
    problems: list[str] = []
    people = parse_stakeholders(items, problems)
    assert problems == []
    outcome, _where = send_month(people, out, "2026-10", smtp=_settings(port, ca[2]),
                                 centre="Acme Support")
    assert sorted(outcome.sent) == sorted(s["email"] for s in STAKEHOLDERS)
    folder = out / "2026-10"
    for rcpts, raw in inbox.messages:
        atts = list(_parse(raw).iter_attachments())
        if rcpts == ["tom@example.com"]:
            assert [(a.get_content_type(), a.get_filename()) for a in atts] == [
                ("/".join(XLSX), "qa-Billing-2026-10.xlsx"),
                ("application/pdf", "qa-Billing-2026-10.pdf")]
            for a in atts:
                assert a.get_payload(decode=True) == (folder / a.get_filename()).read_bytes()
            assert atts[1].get_payload(decode=True).startswith(b"%PDF-")
        else:
            assert all(a.get_content_type() == "/".join(XLSX) for a in atts)
