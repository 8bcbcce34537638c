"""Delivery: SMTP with verified TLS, or an outbox of .eml files; a ledger so that nothing
is lost and nothing is sent twice.

* ``[smtp]`` in the config gives host, port, ``security`` ("starttls", the default, or
  "tls" for implicit TLS), username and the sender. The password never goes in the config:
  it comes from the environment variable named by ``password_env`` (default
  ``KPI_XL_SMTP_PASSWORD``) or, if the ``keyring`` package is installed, from the system
  keyring (service "kpi-xl", the username). Certificates are verified with
  ``ssl.create_default_context()`` (plus ``ca_file`` for a company CA); Python's bare
  default would accept any certificate. Without ``[smtp]``, messages go to an outbox folder
  as .eml files (the demo's default).
* The ledger (SQLite, ``send-ledger.sqlite`` in the output folder) has one row per (month,
  report, recipient). A message is recorded as sent the moment the server accepts it, so a
  run that stops half-way resumes with the recipients not yet served; ``resend`` sends
  again on purpose.
* Transient failures (connection dropped, 4xx replies) are retried with backoff; a
  permanent refusal (5xx) fails that recipient only; a refused login stops the run with a
  message saying which setting to check.
"""

from __future__ import annotations

import os
import smtplib
import socket
import sqlite3
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import KpiXlError
from ..scorecard.names import file_stem, inside


class MailError(KpiXlError, RuntimeError):
    """The whole run cannot send (login refused, server unreachable, settings wrong)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"               # starttls | tls
    username: str | None = None
    password_env: str = "KPI_XL_SMTP_PASSWORD"
    sender: str = ""
    sender_name: str = "kpi_xl"
    ca_file: str | None = None
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 2.0                      # seconds, doubled after each try

    def password(self) -> str | None:
        if not self.username:
            return None
        pw = os.environ.get(self.password_env)
        if pw:
            return pw
        try:
            import keyring  # optional
        except ImportError:
            keyring = None
        if keyring is not None:
            pw = keyring.get_password("kpi-xl", self.username)
            if pw:
                return pw
        raise MailError(f"no SMTP password for {self.username}: set the environment variable "
                        f"{self.password_env}" + (" or store it with keyring (service "
                                                  "'kpi-xl')" if keyring is None else ""))


def parse_smtp(spec: Mapping[str, Any] | None, problems: list[str]) -> SmtpSettings | None:
    if not spec:
        return None
    known = {"host", "port", "security", "username", "password_env", "sender", "sender_name",
             "ca_file", "timeout", "retries", "backoff"}
    for k in spec:
        if k in ("password", "pass", "secret"):
            problems.append("[smtp]: passwords never go in the config file; set the "
                            "environment variable KPI_XL_SMTP_PASSWORD (or password_env)")
        elif k not in known:
            problems.append(f"[smtp]: unknown key {k!r} (keys: {', '.join(sorted(known))})")
    if not spec.get("host"):
        problems.append("[smtp]: host is missing")
    if not spec.get("sender") or "@" not in str(spec.get("sender")):
        problems.append("[smtp]: sender must be the From address, e.g. reports@example.com")
    security = spec.get("security", "starttls")
    if security not in ("starttls", "tls"):
        problems.append("[smtp]: security must be \"starttls\" or \"tls\" (unencrypted SMTP is "
                        "not offered)")
    return SmtpSettings(
        host=str(spec.get("host", "")), port=int(spec.get("port", 465 if security == "tls" else 587)),
        security=security, username=spec.get("username"),
        password_env=str(spec.get("password_env", "KPI_XL_SMTP_PASSWORD")),
        sender=str(spec.get("sender", "")), sender_name=str(spec.get("sender_name", "kpi_xl")),
        ca_file=spec.get("ca_file"), timeout=float(spec.get("timeout", 30)),
        retries=int(spec.get("retries", 3)), backoff=float(spec.get("backoff", 2.0)))


# ------------------------------------------------------------------ the ledger
class Ledger:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("""CREATE TABLE IF NOT EXISTS deliveries (
            month TEXT NOT NULL, report TEXT NOT NULL, recipient TEXT NOT NULL,
            status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, message_id TEXT,
            updated TEXT NOT NULL, error TEXT,
            PRIMARY KEY (month, report, recipient))""")
        self.db.commit()

    def sent(self, month: str, report: str, recipient: str) -> bool:
        row = self.db.execute("SELECT status FROM deliveries WHERE month=? AND report=? AND "
                              "recipient=?", (month, report, recipient.lower())).fetchone()
        return row is not None and row[0] == "sent"

    def record(self, month: str, reports: list[str], recipient: str, status: str,
               message_id: str | None = None, error: str | None = None) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.db:                         # one transaction for the message's reports
            for r in reports:
                self.db.execute(
                    "INSERT INTO deliveries (month, report, recipient, status, attempts, "
                    "message_id, updated, error) VALUES (?, ?, ?, ?, 1, ?, ?, ?) "
                    "ON CONFLICT (month, report, recipient) DO UPDATE SET status=excluded.status, "
                    "attempts=attempts+1, message_id=excluded.message_id, "
                    "updated=excluded.updated, error=excluded.error",
                    (month, r, recipient.lower(), status, message_id, now, error))

    def rows(self, month: str) -> list[tuple]:
        return self.db.execute("SELECT report, recipient, status, attempts, error FROM deliveries "
                               "WHERE month=? ORDER BY recipient, report", (month,)).fetchall()

    def close(self) -> None:
        self.db.close()


# ------------------------------------------------------------------ transports
class Outbox:
    """Dry run: each message as an .eml file (open it in any mail program)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, msg: EmailMessage, recipient: str) -> None:
        name = file_stem(recipient.replace("@", "-at-")) + ".eml"
        inside(self.folder, name).write_bytes(bytes(msg))

    def close(self) -> None:
        pass


class Smtp:
    """One verified session for the run, reopened when the server drops it."""

    def __init__(self, settings: SmtpSettings):
        self.s = settings
        self.conn: smtplib.SMTP | None = None
        self.context = ssl.create_default_context(cafile=settings.ca_file)

    def _open(self) -> smtplib.SMTP:
        s = self.s
        if s.security == "tls":
            conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self.context)
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            conn.ehlo()
            if not conn.has_extn("starttls"):
                conn.quit()
                raise MailError(f"{s.host}:{s.port} does not offer STARTTLS; kpi_xl will not "
                                "send credentials or reports unencrypted")
            conn.starttls(context=self.context)
            conn.ehlo()
        if s.username:
            try:
                conn.login(s.username, s.password())
            except smtplib.SMTPAuthenticationError as e:
                conn.close()
                raise MailError(f"the SMTP server {s.host} refused the login for {s.username} "
                                f"({e.smtp_code}): check the password in {s.password_env} "
                                "and the username in [smtp]") from None
        return conn

    def send(self, msg: EmailMessage, recipient: str) -> None:
        if self.conn is None:
            self.conn = self._open()
        self.conn.send_message(msg, from_addr=self.s.sender, to_addrs=[recipient])

    def drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.conn = None


def _transient(e: BaseException) -> bool:
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in e.recipients.values())
    if isinstance(e, smtplib.SMTPResponseException):
        return 400 <= e.smtp_code < 500
    return isinstance(e, (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout,
                          TimeoutError))


def _reason(e: BaseException) -> str:
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(e.recipients.values()))
        return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if isinstance(e, smtplib.SMTPResponseException):
        err = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
        return f"{e.smtp_code} {err}"
    return f"{type(e).__name__}: {e}"


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        return (f"{len(self.sent)} sent, {len(self.skipped)} skipped (already sent), "
                f"{len(self.failed)} failed")


def _unreachable(e: BaseException) -> bool:
    return isinstance(e, (ConnectionRefusedError, socket.gaierror, smtplib.SMTPConnectError))


def deliver(items: list[tuple[str, list[str], Callable[[list[str]], EmailMessage]]], month: str,
            ledger: Ledger, transport, *, retries: int = 3, backoff: float = 2.0,
            resend: bool = False, sleep: Callable[[float], None] = time.sleep,
            progress: Callable[[str], None] | None = None) -> Outcome:
    """Send each (recipient, report keys, build(keys) -> message) whose reports are not
    yet in the ledger as sent; a message carries only the reports still due."""
    out = Outcome()
    try:
        for recipient, keys, make in items:
            todo = keys if resend else [k for k in keys if not ledger.sent(month, k, recipient)]
            if not todo:
                out.skipped.append(recipient)
                continue
            msg = make(todo)
            delay, attempt = backoff, 0
            while True:
                attempt += 1
                try:
                    transport.send(msg, recipient)
                except MailError:
                    raise
                except (smtplib.SMTPException, OSError) as e:
                    if isinstance(e, ssl.SSLCertVerificationError):
                        raise MailError(f"the SMTP server's certificate could not be verified "
                                        f"({e.verify_message}); set ca_file in [smtp] if it "
                                        "uses a company CA") from None
                    if _transient(e) or _unreachable(e):
                        if attempt <= retries:
                            if hasattr(transport, "drop"):
                                transport.drop()
                            sleep(delay)
                            delay *= 2
                            continue
                        if _unreachable(e):
                            raise MailError(f"cannot reach the SMTP server after {attempt} "
                                            f"tries ({_reason(e)})") from None
                    ledger.record(month, todo, recipient, "failed", msg["Message-ID"], _reason(e))
                    out.failed.append((recipient, _reason(e)))
                    break
                ledger.record(month, todo, recipient, "sent", msg["Message-ID"])
                out.sent.append(recipient)
                if progress:
                    progress(f"sent to {recipient}")
                break
    finally:
        transport.close()
    return out

