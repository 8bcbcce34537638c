"""A fault-injecting SMTP server on 127.0.0.1 for the delivery tests (and for
tests/delivery_trials.py, which measures duplicates and losses under kills and concurrent
runs against whatever kpi_xl is on PYTHONPATH).

Plain sockets and threads, so that it can misbehave where a well-written server cannot:
close the connection in the middle of DATA, never answer the end of DATA, answer slowly,
trickle its greeting a byte at a time, offer no STARTTLS, kill the sending process at a
chosen point. STARTTLS, implicit TLS and AUTH PLAIN/LOGIN work as on a real server.

``faults`` is a list consumed one per message (DATA command): each entry is one of

  "ok"            store the message, answer 250
  "close-mid"     read part of the message, then close the connection (nothing stored)
  "no-reply"      read the whole message, store it, never answer (hold the connection)
  "slow"          store the message, answer 250 after ``slow`` seconds
  "451" / "550"   read the message, answer that code (nothing stored)
  "kill-before"   SIGKILL ``victim`` when the DATA command arrives (nothing stored)
  "kill-after"    store the message, SIGKILL ``victim`` before answering

and once the list is used up every message is "ok". ``trickle`` makes the greeting come
one byte per ``trickle`` seconds (every connection).
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import ssl
import threading
import time


class FaultServer:
    def __init__(self, *, tls: ssl.SSLContext | None = None, implicit_tls: bool = False,
                 starttls: bool = True, user: str = "reports", password: str = "s3cret-pw",
                 faults=(), slow: float = 2.0, trickle: float | None = None,
                 ack_delay: float = 0.0, auth: bool = True):
        self.tls, self.implicit, self.offer_starttls = tls, implicit_tls, starttls
        self.offer_auth = auth
        self.user, self.password = user, password
        self.faults = list(faults)
        self.slow, self.trickle, self.ack_delay = slow, trickle, ack_delay
        self.messages: list[tuple[str, bytes]] = []     # (recipient, raw message) stored
        self.connections = 0
        self.victim: int | None = None                  # pid to SIGKILL at a kill fault
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self.open):
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def recipients(self) -> list[str]:
        with self.lock:
            return [r for r, _ in self.messages]

    # ------------------------------------------------------------------ serving
    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            self.open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _next_fault(self) -> str:
        with self.lock:
            return self.faults.pop(0) if self.faults else "ok"

    def _kill(self) -> None:
        if self.victim:
            try:
                os.kill(self.victim, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.implicit:
                conn = self.tls.wrap_socket(conn, server_side=True)
                self.open.append(conn)
            self._session(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _session(self, conn) -> None:
        f = conn.makefile("rb")

        def say(line: str) -> None:
            conn.sendall(line.encode() + b"\r\n")

        greeting = "220 fault.test ESMTP ready" + " " * 200
        if self.trickle:
            for ch in greeting + "\r\n":
                conn.sendall(ch.encode())
                time.sleep(self.trickle)
        else:
            say(greeting.strip())
        secure = self.implicit
        authed = False
        rcpts: list[str] = []
        while True:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                ext = ["250-fault.test"]
                if self.offer_starttls and not secure:
                    ext.append("250-STARTTLS")
                if secure and self.offer_auth:
                    ext.append("250-AUTH PLAIN LOGIN")
                ext.append("250 8BITMIME")
                conn.sendall(("\r\n".join(ext) + "\r\n").encode())
            elif verb == "STARTTLS" and self.offer_starttls and not secure:
                say("220 go ahead")
                conn = self.tls.wrap_socket(conn, server_side=True)
                self.open.append(conn)
                f = conn.makefile("rb")
                secure = True
            elif verb == "AUTH":
                parts = cmd.split()
                if parts[1].upper() == "PLAIN":
                    blob = parts[2] if len(parts) > 2 else None
                    if blob is None:
                        say("334 ")
                        blob = f.readline().decode().strip()
                    _z, u, p = base64.b64decode(blob).decode().split("\0")
                else:                                    # LOGIN
                    if len(parts) > 2:
                        u = base64.b64decode(parts[2]).decode()
                    else:
                        say("334 VXNlcm5hbWU6")
                        u = base64.b64decode(f.readline().strip()).decode()
                    say("334 UGFzc3dvcmQ6")
                    p = base64.b64decode(f.readline().strip()).decode()
                if u == self.user and p == self.password:
                    authed = True
                    say("235 2.7.0 Authentication successful")
                else:
                    say("535 5.7.8 Authentication credentials invalid")
            elif verb == "MAIL":
                if not authed:
                    say("530 5.7.0 Authentication required")
                    continue
                rcpts = []
                say("250 OK")
            elif verb == "RCPT":
                rcpts.append(cmd.split(":", 1)[1].strip().strip("<>"))
                say("250 OK")
            elif verb == "DATA":
                fault = self._next_fault()
                if fault == "kill-before":
                    self._kill()
                    return
                say("354 End data with <CR><LF>.<CR><LF>")
                if fault == "close-mid":
                    f.read(64)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    b"\x01\x00\x00\x00\x00\x00\x00\x00")   # RST
                    return
                data = bytearray()
                while True:
                    chunk = f.readline()
                    if not chunk:
                        return
                    if chunk == b".\r\n":
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                raw = bytes(data)
                if fault in ("451", "550"):
                    say(f"{fault} {'Try again later' if fault == '451' else 'Rejected'}")
                    continue
                with self.lock:
                    for r in rcpts:
                        self.messages.append((r, raw))
                if fault == "kill-after":
                    self._kill()
                    time.sleep(5)
                    return
                if fault == "no-reply":
                    while f.readline():                  # until the client gives up
                        pass
                    return
                if fault == "slow":
                    time.sleep(self.slow)
                elif self.ack_delay:
                    time.sleep(self.ack_delay)
                say("250 2.0.0 Accepted")
            elif verb == "RSET":
                rcpts = []
                say("250 OK")
            elif verb == "NOOP":
                say("250 OK")
            elif verb == "QUIT":
                say("221 Bye")
                return
            else:
                say("502 Command not implemented")


def tls_pair(tmp_dir: str):
    """(server context, CA file the client trusts) from a fresh trustme CA."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    pem = os.path.join(tmp_dir, f"ca-{id(ca)}.pem")
    ca.cert_pem.write_to_path(pem)
    return ctx, pem
