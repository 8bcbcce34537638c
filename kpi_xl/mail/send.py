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
  report, recipient) and a state: *pending* (no row) -> *in flight* (committed before the
  message's DATA) -> *sent* (the server answered 250 to the end of DATA), *failed* (the
  server's reply, or a connection lost before the end of DATA, proves nothing was
  accepted) or *uncertain* (no answer after the end of DATA: a timeout, a dropped
  connection, or a process that died in flight, whose row a later run finds still in
  flight). A re-run sends pending and failed reports; it never sends an uncertain one by
  itself but lists it ("may have been delivered"); ``resend_uncertain`` sends those on
  purpose, ``resend`` everything, with the same Message-ID. Each row keeps the digest of
  the attachment sent, so a workbook changed since is reported, not skipped silently.
* Retries (with backoff) only where nothing was accepted: a 4xx reply, or a connection
  lost or timed out before the end of DATA. A 5xx fails that recipient only; a refused
  login, a missing STARTTLS or an unverified certificate stops the run once.
* Deadlines: each step (connecting, each command's whole reply, the upload) must finish
  within ``timeout`` seconds however slowly the server trickles bytes (a watchdog shuts
  the socket), and the whole run within ``deadline`` seconds; what the deadline leaves
  unsent stays pending for the next run.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import smtplib
import socket
import sqlite3
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import KpiXlError
from ..files import Claims, OutputError, folder_lock, write_bytes
from ..names import distinct_stems, inside


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
    deadline: float = 900.0                   # seconds for the whole run's sending

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
             "ca_file", "timeout", "retries", "backoff", "deadline"}
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
    def number(key: str, default: float, whole: bool = False) -> float:
        v = spec.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or \
                (whole and not float(v).is_integer()):
            problems.append(f"[smtp] {key} must be a {'whole ' if whole else ''}number >= 0, "
                            f"got {v!r}")
            return default
        return v

    port = int(number("port", 465 if security == "tls" else 587, whole=True))
    timeout, deadline = number("timeout", 30), number("deadline", 900)
    retries, backoff = int(number("retries", 3, whole=True)), number("backoff", 2.0)
    return SmtpSettings(
        host=str(spec.get("host", "")), port=port,
        security=security, username=spec.get("username"),
        password_env=str(spec.get("password_env", "KPI_XL_SMTP_PASSWORD")),
        sender=str(spec.get("sender", "")), sender_name=str(spec.get("sender_name", "kpi_xl")),
        ca_file=spec.get("ca_file"), timeout=float(timeout),
        retries=retries, backoff=float(backoff), deadline=float(deadline))


# ------------------------------------------------------------------ the ledger
STATES = ("in_flight", "sent", "failed", "uncertain")      # no row: pending


@dataclass(frozen=True)
class Entry:
    status: str
    digest: str | None
    message_id: str | None
    updated: str
    sent_at: str | None
    error: str | None


class Ledger:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_symlink():
            raise MailError(f"refusing to use the ledger {self.path}: it is a symbolic link "
                            f"(to {os.readlink(self.path)}); the ledger stays a file inside "
                            "the output folder")
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("""CREATE TABLE IF NOT EXISTS deliveries (
            month TEXT NOT NULL, report TEXT NOT NULL, recipient TEXT NOT NULL,
            status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, message_id TEXT,
            updated TEXT NOT NULL, error TEXT,
            PRIMARY KEY (month, report, recipient))""")
        have = {r[1] for r in self.db.execute("PRAGMA table_info(deliveries)")}
        for col in ("digest", "sent_at"):            # ledgers of earlier versions
            if col not in have:
                self.db.execute(f"ALTER TABLE deliveries ADD COLUMN {col} TEXT")
        self.db.commit()

    def settle(self) -> int:
        """Rows still in flight belong to a run that died between DATA and its answer
        (the caller holds the folder lock, so no other run is sending): uncertain."""
        with self.db:
            return self.db.execute(
                "UPDATE deliveries SET status='uncertain', error=? WHERE status='in_flight'",
                ("the sending run stopped before the server's answer was recorded",)).rowcount

    def entry(self, month: str, report: str, recipient: str) -> Entry | None:
        row = self.db.execute("SELECT status, digest, message_id, updated, sent_at, error FROM "
                              "deliveries WHERE month=? AND report=? AND recipient=?",
                              (month, report, recipient.lower())).fetchone()
        return Entry(*row) if row else None

    def sent(self, month: str, report: str, recipient: str) -> bool:
        e = self.entry(month, report, recipient)
        return e is not None and e.status == "sent"

    def record(self, month: str, reports: list[str], recipient: str, status: str,
               message_id: str | None = None, error: str | None = None,
               digests: Mapping[str, str] | None = None) -> None:
        """One transaction for the message's reports. ``in_flight`` counts an attempt;
        ``sent`` stamps sent_at; the digest is what the message carried."""
        assert status in STATES, status
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.db:
            for r in reports:
                self.db.execute(
                    "INSERT INTO deliveries (month, report, recipient, status, attempts, "
                    "message_id, updated, error, digest, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?) ON CONFLICT (month, report, recipient) DO UPDATE SET "
                    "status=excluded.status, attempts=attempts+excluded.attempts, "
                    "message_id=excluded.message_id, updated=excluded.updated, "
                    "error=excluded.error, digest=COALESCE(excluded.digest, digest), "
                    "sent_at=COALESCE(excluded.sent_at, sent_at)",
                    (month, r, recipient.lower(), status, int(status == "in_flight"),
                     message_id, now, error, (digests or {}).get(r),
                     now if status == "sent" else None))

    def rows(self, month: str) -> list[tuple]:
        return self.db.execute("SELECT report, recipient, status, attempts, error FROM deliveries "
                               "WHERE month=? ORDER BY recipient, report", (month,)).fetchall()

    def close(self) -> None:
        self.db.close()


# ------------------------------------------------------------------ transports
class Uncertain(Exception):
    """The end of DATA went out but no answer came back: the server may have the message."""


class DeadlinePassed(Exception):
    """The run's deadline passed before the message's end of DATA: nothing was accepted."""


class Outbox:
    """Dry run: each message as an .eml file (open it in any mail program), written whole;
    recipients whose names sanitise alike (a+b@x, a-b@x) get distinct files."""

    def __init__(self, folder: str | Path, recipients: list[str] = ()):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stems = distinct_stems(r.lower().replace("@", "-at-") for r in recipients)
        self.claims = Claims()

    def name(self, recipient: str) -> str:
        key = recipient.lower().replace("@", "-at-")
        if key not in self.stems:
            self.stems = distinct_stems([*self.stems, key])
        return self.stems[key] + ".eml"

    def send(self, msg: EmailMessage, recipient: str,
             before_data: Callable[[], None] = lambda: None) -> None:
        target = self.claims.claim(inside(self.folder, self.name(recipient)), recipient)
        before_data()
        write_bytes(target, bytes(msg))

    def close(self) -> None:
        pass


class _Watchdog:
    """Shuts a connection's socket when a step overruns its time, so that a server
    trickling a byte a second cannot hold a blocking read for ever."""

    def __init__(self):
        self.fd: int | None = None
        self.timer: threading.Timer | None = None
        self.fired = False
        self.guard = threading.Lock()

    def attach(self, sock) -> None:
        with self.guard:
            self.fd = sock.fileno()

    def detach(self) -> None:
        self.disarm()
        with self.guard:
            self.fd = None

    def arm(self, seconds: float) -> None:
        self.disarm()
        self.fired = False
        self.timer = threading.Timer(max(seconds, 0.0), self._fire)
        self.timer.daemon = True
        self.timer.start()

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fire(self) -> None:
        with self.guard:
            if self.fd is None:
                return
            self.fired = True
            try:
                s = socket.socket(fileno=os.dup(self.fd))
            except OSError:
                return
            try:
                s.shutdown(socket.SHUT_RDWR)     # the blocked read returns at once
            except OSError:
                pass
            finally:
                s.close()


class _Conn(smtplib.SMTP):
    """smtplib's client, with its socket under the watchdog from the first byte (and
    implicit TLS wrapped here, so that the handshake is watched too)."""

    def __init__(self, watchdog: _Watchdog, implicit_tls: ssl.SSLContext | None, timeout):
        self._wd, self._tls = watchdog, implicit_tls
        super().__init__(timeout=timeout)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout, self.source_address)
        self._wd.attach(sock)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=host)
        return sock


def _payload(msg: EmailMessage, international: bool = False) -> bytes:
    """The message as smtplib's send_message + data would put it on the wire."""
    from email.generator import BytesGenerator

    copy = msg
    if "Bcc" in msg:
        import copy as _copy
        copy = _copy.copy(msg)
        del copy["Bcc"]
    buf = io.BytesIO()
    BytesGenerator(buf, policy=msg.policy.clone(utf8=True) if international else None
                   ).flatten(copy, linesep="\r\n")
    q = smtplib._quote_periods(buf.getvalue())
    if q[-2:] != b"\r\n":
        q += b"\r\n"
    return q + b".\r\n"


class Smtp:
    """One verified session for the run, reopened when the server drops it. Every step
    runs under a deadline: ``timeout`` for the step, and the run's ``deadline``."""

    def __init__(self, settings: SmtpSettings, *, run_end: float | None = None):
        self.s = settings
        self.conn: _Conn | None = None
        self.context = ssl.create_default_context(cafile=settings.ca_file)
        self.run_end = run_end if run_end is not None else time.monotonic() + settings.deadline
        self.wd = _Watchdog()

    def _step(self, fn, *args, budget: float | None = None):
        left = self.run_end - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(f"the run's deadline ({self.s.deadline:g} s, [smtp] deadline) "
                                 "passed")
        limit = min(budget if budget is not None else self.s.timeout, left)
        self.wd.arm(limit)
        try:
            result = fn(*args)
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            # the watchdog shut the socket, or the socket's own timeout (the same limit)
            # came first: either way the step overran, and says so the same way
            if not (self.wd.fired or _timed_out(e)):
                raise
            raise self._overrun(limit, left) from e
        finally:
            self.wd.disarm()
        if self.wd.fired:
            # the shut socket cut a reply mid-line and smtplib parsed the piece ("2" of
            # "220 ...") as an answer: what came back is not the server's reply
            raise self._overrun(limit, left)
        return result

    def _overrun(self, limit: float, left: float) -> Exception:
        if limit == left:
            return DeadlinePassed(f"the run's deadline ({self.s.deadline:g} s, [smtp] "
                                  "deadline) passed while waiting for the server")
        return TimeoutError(f"the server did not finish its answer within {limit:g} s "
                            "([smtp] timeout)")

    def _open(self) -> _Conn:
        s = self.s
        conn = _Conn(self.wd, self.context if s.security == "tls" else None, s.timeout)
        conn._host = s.host                      # STARTTLS checks the certificate against it
        try:
            code, text = self._step(conn.connect, s.host, s.port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, text)
            self._step(conn.ehlo)
            if s.security != "tls":
                if not conn.has_extn("starttls"):
                    raise MailError(f"{s.host}:{s.port} does not offer STARTTLS; kpi_xl will not "
                                    "send credentials or reports unencrypted")
                self._step(conn.starttls, None, None, self.context)
                self._step(conn.ehlo)
            if s.username:
                try:
                    self._step(conn.login, s.username, s.password())
                except smtplib.SMTPAuthenticationError as e:
                    raise MailError(f"the SMTP server {s.host} refused the login for "
                                    f"{s.username} ({e.smtp_code}): check the password in "
                                    f"{s.password_env} and the username in [smtp]") from None
                except smtplib.SMTPNotSupportedError:
                    raise MailError(f"the SMTP server {s.host}:{s.port} offers no login (AUTH) "
                                    "on this connection: check host, port and security in "
                                    "[smtp]") from None
        except BaseException:
            self.wd.detach()
            conn.close()
            raise
        return conn

    def send(self, msg: EmailMessage, recipient: str,
             before_data: Callable[[], None] = lambda: None) -> None:
        """Raises Uncertain when the end of DATA went out without an answer; any other
        error means the server accepted nothing."""
        if self.conn is None:
            self.conn = self._open()
        c = self.conn
        try:
            options = []
            international = not (self.s.sender.isascii() and recipient.isascii())
            if international:                       # as smtplib's send_message does
                if not c.has_extn("smtputf8"):
                    raise smtplib.SMTPNotSupportedError(
                        f"{recipient} needs SMTPUTF8, which the server does not offer")
                options = ["SMTPUTF8", "BODY=8BITMIME"]
            code, text = self._step(c.mail, self.s.sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, self.s.sender)
            code, text = self._step(c.rcpt, recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, text)})
            data = _payload(msg, international)
            before_data()                            # in flight, committed, before DATA
            code, text = self._step(c.docmd, "data")
            if code != 354:
                raise smtplib.SMTPDataError(code, text)
            self._step(c.send, data, budget=self.s.timeout + len(data) / 65536)
            try:
                code, text = self._step(c.getreply)
            except (smtplib.SMTPServerDisconnected, OSError, DeadlinePassed) as e:
                raise Uncertain(f"no answer after the end of the message ({_reason(e)}); "
                                "the server may have accepted it") from None
            if code != 250:
                raise smtplib.SMTPDataError(code, text)
        except BaseException:
            self.drop()                              # the next message starts afresh
            raise

    def drop(self) -> None:
        if self.conn is not None:
            self.wd.detach()
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self._step(self.conn.quit)
            except (smtplib.SMTPException, OSError, DeadlinePassed):
                pass
            self.drop()


def _timed_out(e: BaseException) -> bool:
    """A socket timeout, raised as it is or wrapped by smtplib ("Connection unexpectedly
    closed: timed out")."""
    return isinstance(e, TimeoutError) or (isinstance(e, smtplib.SMTPServerDisconnected)
                                           and isinstance(e.__context__, TimeoutError))


def _transient(e: BaseException) -> bool:
    """The reply (or the lack of one before the end of DATA) proves nothing was accepted
    and a later try may succeed."""
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
    if isinstance(e, (DeadlinePassed, Uncertain)):
        return str(e)
    return f"{type(e).__name__}: {e}"


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    uncertain: list[tuple[str, str]] = field(default_factory=list)    # this run
    maybe: list[tuple[str, list[str], str]] = field(default_factory=list)  # earlier runs'
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (who, report, when)
    unsent: list[str] = field(default_factory=list)                   # left by the deadline
    stopped: str | None = None

    def line(self) -> str:
        extra = "".join(f", {n} {what}" for n, what in (
            (len(self.uncertain), "uncertain"), (len(self.unsent), "not tried (deadline)"))
            if n)
        return (f"{len(self.sent)} sent, {len(self.skipped)} skipped (already sent), "
                f"{len(self.failed)} failed" + extra)

    def notes(self) -> list[str]:
        """What a person must know beyond the counts, one sentence each."""
        out = [f"uncertain: {who}: {why}; it was not sent again: `--resend-uncertain` "
               "sends it on purpose" for who, why in self.uncertain]
        if self.maybe:
            out.append("may have been delivered (an earlier run got no answer after sending; "
                       "not sent again; `--resend-uncertain` sends them on purpose): "
                       + "; ".join(f"{who} ({', '.join(keys)}, {when})"
                                   for who, keys, when in self.maybe))
        for who, key, when in self.changed:
            out.append(f"{key} for {who} changed since it was sent on {when}; `--resend` "
                       "sends the correction")
        if self.stopped:
            out.append(f"stopped: {self.stopped}; {len(self.unsent)} recipient(s) not tried "
                       "stay pending for the next run: " + ", ".join(self.unsent))
        return out

    @property
    def ok(self) -> bool:
        return not (self.failed or self.uncertain or self.unsent)


def _unreachable(e: BaseException) -> bool:
    return isinstance(e, (ConnectionRefusedError, socket.gaierror, smtplib.SMTPConnectError))


Item = tuple  # (recipient, {report key: attachment digest} or [keys], build(keys) -> message)


def deliver(items: list[Item], month: str, ledger: Ledger, transport, *, retries: int = 3,
            backoff: float = 2.0, resend: bool = False, resend_uncertain: bool = False,
            sleep: Callable[[float], None] = time.sleep, deadline: float | None = None,
            progress: Callable[[str], None] | None = None) -> Outcome:
    """Send each (recipient, reports, build(keys) -> message) whose reports are due: pending
    or failed; uncertain ones only with ``resend_uncertain``; sent ones only with
    ``resend``. A message carries only the reports due. ``deadline`` is a
    ``time.monotonic()`` instant after which nothing new is started. The caller holds the
    output folder's lock."""
    from ..progress import Meter

    out = Outcome()
    ledger.settle()
    end = deadline if deadline is not None else math.inf
    # recipients done, their pace and the time left, at most a line a second
    meter = Meter("sending", progress, total=len(items), unit="recipients")
    try:
        for k, (recipient, reports, make) in enumerate(items):
            meter.update(k)
            digests = dict(reports) if isinstance(reports, Mapping) else dict.fromkeys(reports)
            if out.stopped or time.monotonic() >= end:
                out.stopped = out.stopped or "the run's deadline passed"
                out.unsent.append(recipient)
                continue
            due, waiting, entries = [], [], {}
            for key, dig in digests.items():
                e = entries[key] = ledger.entry(month, key, recipient)
                status = e.status if e else "pending"
                if status == "sent":
                    if resend:
                        due.append(key)
                    elif e.digest and dig and e.digest != dig:
                        out.changed.append((recipient, key, (e.sent_at or e.updated)[:10]))
                elif status in ("in_flight", "uncertain"):
                    (due if resend or resend_uncertain else waiting).append(key)
                else:
                    due.append(key)
            if waiting:
                out.maybe.append((recipient, waiting, (entries[waiting[0]].updated or "")[:10]))
            if not due:
                if not waiting:
                    out.skipped.append(recipient)           # changed ones are listed too
                continue
            msg = make(due)
            before = {entries[k].message_id for k in due if entries[k] and entries[k].message_id}
            if len(before) == 1 and all(entries[k] for k in due):
                msg.replace_header("Message-ID", before.pop())    # the same message again
            mid = msg["Message-ID"]
            delay, attempt = backoff, 0
            while True:
                attempt += 1

                flying = []

                def in_flight(todo=due, mid=mid, flying=flying):
                    ledger.record(month, todo, recipient, "in_flight", mid, None, digests)
                    flying.append(True)
                try:
                    transport.send(msg, recipient, in_flight)
                except MailError:
                    raise
                except Uncertain as e:
                    ledger.record(month, due, recipient, "uncertain", mid, str(e), digests)
                    out.uncertain.append((recipient, str(e)))
                    break
                except DeadlinePassed as e:
                    out.stopped = str(e)
                    if flying:                  # DATA began but never ended: not accepted
                        ledger.record(month, due, recipient, "failed", mid, str(e), digests)
                    out.unsent.append(recipient)
                    break
                except (smtplib.SMTPException, OSError) as e:
                    if isinstance(e, ssl.SSLCertVerificationError):
                        raise MailError(f"the SMTP server's certificate could not be verified "
                                        f"({e.verify_message}); set ca_file in [smtp] if it "
                                        "uses a company CA") from None
                    if isinstance(e, ssl.SSLError):
                        raise MailError(f"TLS with the SMTP server failed ({e.reason or e}): "
                                        "check port and security in [smtp]") from None
                    if (_transient(e) or _unreachable(e)) and attempt <= retries \
                            and time.monotonic() + delay < end:
                        if hasattr(transport, "drop"):
                            transport.drop()
                        sleep(delay)
                        delay *= 2
                        continue
                    if _unreachable(e):
                        raise MailError(f"cannot reach the SMTP server after {attempt} "
                                        f"tries ({_reason(e)})") from None
                    ledger.record(month, due, recipient, "failed", mid, _reason(e), digests)
                    out.failed.append((recipient, _reason(e)))
                    break
                ledger.record(month, due, recipient, "sent", mid, None, digests)
                out.sent.append(recipient)
                break
    finally:
        transport.close()
    if items:
        meter.finish(len(items), f" ({len(out.sent):,} sent)")
    return out


# ------------------------------------------------------------------ a delivery run
#: who an outbox's messages are from (address, name): without [smtp] nothing is sent
OUTBOX_SENDER = ("reports@kpi-xl.invalid", "kpi_xl")


def sender_of(smtp: SmtpSettings | None) -> tuple[str, str]:
    """(address, name) the messages are from: ``[smtp]``'s sender, or the outbox's."""
    return (smtp.sender, smtp.sender_name) if smtp is not None else OUTBOX_SENDER


@contextlib.contextmanager
def output_lock(out: str | Path, wait: float):
    """The output folder's lock (:func:`kpi_xl.files.folder_lock`) held for a delivery
    step; an output problem (the lock held by another run, a file that cannot be
    written) is a MailError, with its sentence."""
    try:
        with folder_lock(out, wait=wait):
            yield
    except OutputError as e:
        raise MailError(str(e)) from None


def run_delivery(items: list[Item], label: str, out: Path, smtp: SmtpSettings | None,
                 outbox: Path, *, resend: bool = False, resend_uncertain: bool = False,
                 progress: Callable[[str], None] | None = None,
                 sleep: Callable[[float], None] | None = None) -> tuple[Outcome, str]:
    """:func:`deliver` the ``items`` of period ``label`` as the monthly reports and the
    alerts are delivered: with ``[smtp]`` (``smtp``), over SMTP, ledgered in
    ``out/send-ledger.sqlite``, within its ``deadline``, ``retries`` and ``backoff``;
    without, as .eml files in ``outbox``, ledgered in ``out/outbox-ledger.sqlite``.
    (outcome, where to look). The caller holds the output folder's lock
    (:func:`output_lock`)."""
    run_end = time.monotonic() + (smtp.deadline if smtp else 3600.0)
    if smtp is None:
        transport = Outbox(outbox, [recipient for recipient, _r, _m in items])
        ledger, where = Ledger(out / "outbox-ledger.sqlite"), str(outbox)
    else:
        ledger = Ledger(out / "send-ledger.sqlite")
        transport = Smtp(smtp, run_end=run_end)
        where = f"{smtp.host} (ledger: {out / 'send-ledger.sqlite'})"
    kwargs: dict[str, Any] = {"retries": smtp.retries, "backoff": smtp.backoff} if smtp else {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    try:
        outcome = deliver(items, label, ledger, transport, resend=resend,
                          resend_uncertain=resend_uncertain, deadline=run_end,
                          progress=progress, **kwargs)
    finally:
        ledger.close()
    return outcome, where
