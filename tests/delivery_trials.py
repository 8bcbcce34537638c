"""Kills, concurrent runs and a slow server, in child processes running whatever kpi_xl is
first on PYTHONPATH; used by tests/test_delivery_faults.py, and runnable on its own to
measure duplicates, losses and corrupt files (the issue's before/after counts):

    PYTHONPATH=<kpi_xl tree>:tests python tests/delivery_trials.py measure [TRIALS]

Children (``python tests/delivery_trials.py child MODE SPEC_JSON``) use only the API that
both the old and the new code have: send_month(people, out, month, smtp=..., centre=...)
and write_month(results, tables, out, ...)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scorecard_data import STAKEHOLDERS  # noqa: E402

MONTH = "2026-10"
PASSWORD = "s3cret-pw"
EMAILS = [s["email"] for s in STAKEHOLDERS]


# ------------------------------------------------------------------ children
def _people():
    from kpi_xl.mail.stakeholders import parse_stakeholders

    problems: list[str] = []
    people = parse_stakeholders(STAKEHOLDERS, problems)
    assert not problems, problems
    return people


def child(mode: str, spec: dict) -> int:
    if mode == "prepare":                     # the month's files, by the code under test
        sys.path.insert(0, str(HERE))
        from scorecard_data import month

        tables, res, _paths = month(spec["out"])
        res.write_csv(Path(spec["out"]) / MONTH / "kpi-results.csv")
        from kpi_xl.run.month import write_status

        write_status(Path(spec["out"]) / MONTH, MONTH, None)     # a run whose guards passed
        with open(spec["pickle"], "wb") as f:
            pickle.dump((tables, res), f)
        return 0
    if mode == "write":                       # write_month, SIGKILLed at a zip member
        import zipfile

        from kpi_xl.demo_data import MAX_SCORE
        from kpi_xl.scorecard.build import write_month

        with open(spec["pickle"], "rb") as f:
            tables, res = pickle.load(f)
        real, calls = zipfile.ZipFile.writestr, [0]

        def writestr(self, *a, **kw):
            calls[0] += 1
            if calls[0] == spec["kill_at"]:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, *a, **kw)

        zipfile.ZipFile.writestr = writestr
        write_month(res, tables, spec["out"], centre="Acme Support", max_score=MAX_SCORE)
        return 0
    if mode == "send":
        from kpi_xl.mail.run import send_month
        from kpi_xl.mail.send import MailError, SmtpSettings

        os.environ["KPI_XL_SMTP_PASSWORD"] = PASSWORD
        smtp = SmtpSettings(host="127.0.0.1", port=spec["port"], username="reports",
                            sender="reports@acme.test", ca_file=spec["pem"],
                            timeout=spec.get("timeout", 10), retries=2, backoff=0.01)
        print("ready", flush=True)
        try:
            outcome, _ = send_month(_people(), spec["out"], MONTH, smtp=smtp, centre="Acme")
        except MailError as e:
            print(f"mail error: {e}", flush=True)
            return 1
        print(outcome.line(), flush=True)
        for note in getattr(outcome, "notes", lambda: [])():
            print(note, flush=True)
        return 0
    if mode == "lock":
        from kpi_xl.files import folder_lock

        with folder_lock(spec["out"]):
            print("locked", flush=True)
            time.sleep(spec.get("hold", 30))
        return 0
    raise SystemExit(f"unknown mode {mode}")


def spawn(mode: str, spec: dict, pythonpath: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([pythonpath, str(HERE)])}
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "child", mode,
                             json.dumps(spec)], env=env, cwd=pythonpath,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def run_child(mode: str, spec: dict, pythonpath: str, timeout: float = 300) -> tuple[int, str]:
    p = spawn(mode, spec, pythonpath)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out + err


# ------------------------------------------------------------------ trials
def copies(server) -> Counter:
    return Counter(server.recipients())


def corrupt_files(folder: Path) -> list[str]:
    """Final-named workbooks that are not whole .xlsx files."""
    import zipfile

    bad = []
    for p in sorted(folder.glob("*.xlsx")):
        try:
            with zipfile.ZipFile(p) as z:
                if z.testzip() is not None or "xl/workbook.xml" not in z.namelist():
                    bad.append(p.name)
        except (zipfile.BadZipFile, OSError, EOFError):
            bad.append(p.name)
    return bad


def fresh_copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.sqlite", "outbox", "agents",
                                                            ".kpi-xl.lock"))
    return dst


def concurrent_trial(base: Path, work: Path, pythonpath: str, tls, pem) -> dict:
    """Two sends of the same folder at once: how many messages beyond one per person."""
    from smtp_faults import FaultServer

    fresh_copy(base, work)
    with FaultServer(tls=tls, ack_delay=0.3) as server:
        spec = {"out": str(work), "port": server.port, "pem": pem}
        a, b = spawn("send", spec, pythonpath), spawn("send", spec, pythonpath)
        outs = [p.communicate(timeout=300) for p in (a, b)]
        got = copies(server)
    return {"duplicates": sum(max(0, got[e] - 1) for e in EMAILS),
            "lost": sum(1 for e in EMAILS if got[e] == 0),
            "codes": [a.returncode, b.returncode], "out": outs}


def kill_send_trial(base: Path, work: Path, pythonpath: str, tls, pem, position: int,
                    fault: str = "kill-after") -> dict:
    """The sender is SIGKILLed at its ``position``-th message (after the server stored it,
    or when DATA arrives), then a second run completes the month."""
    from smtp_faults import FaultServer

    fresh_copy(base, work)
    faults = ["ok"] * (position - 1) + [fault]
    with FaultServer(tls=tls, faults=faults) as server:
        spec = {"out": str(work), "port": server.port, "pem": pem}
        p = spawn("send", spec, pythonpath)
        server.victim = p.pid
        p.communicate(timeout=300)
        killed = p.returncode == -signal.SIGKILL
        code, text = run_child("send", spec, pythonpath)
        got = copies(server)
    return {"killed": killed, "duplicates": sum(max(0, got[e] - 1) for e in EMAILS),
            "lost": sum(1 for e in EMAILS if got[e] == 0), "rerun": text, "code": code}


def kill_write_trial(base: Path, pickle_path: str, work: Path, pythonpath: str,
                     kill_at: int) -> dict:
    """write_month over last run's files, SIGKILLed at its ``kill_at``-th zip member."""
    fresh_copy(base, work)
    code, _text = run_child("write", {"pickle": pickle_path, "out": str(work),
                                      "kill_at": kill_at}, pythonpath)
    return {"killed": code == -signal.SIGKILL, "corrupt": corrupt_files(work / MONTH)}


def measure(pythonpath: str, trials: int = 4) -> dict:
    import tempfile

    from smtp_faults import tls_pair

    root = Path(tempfile.mkdtemp(prefix="kpi-xl-trials-"))
    tls, pem = tls_pair(str(root))
    base = root / "base"
    code, text = run_child("prepare", {"out": str(base), "pickle": str(root / "m.pickle")},
                           pythonpath)
    assert code == 0, text
    result = {}
    conc = [concurrent_trial(base, root / f"c{i}", pythonpath, tls, pem) for i in range(trials)]
    result["concurrent: trials with duplicates"] = sum(1 for c in conc if c["duplicates"])
    result["concurrent: duplicate messages"] = sum(c["duplicates"] for c in conc)
    result["concurrent: lost"] = sum(c["lost"] for c in conc)
    for fault in ("kill-after", "kill-before"):
        ks = [kill_send_trial(base, root / f"{fault}{i}", pythonpath, tls, pem, i % 4 + 1,
                              fault) for i in range(trials)]
        result[f"{fault}: kills"] = sum(k["killed"] for k in ks)
        result[f"{fault}: duplicate messages after re-run"] = sum(k["duplicates"] for k in ks)
        result[f"{fault}: recipients with no message after re-run"] = sum(k["lost"] for k in ks)
        result[f"{fault}: re-runs listing 'may have been delivered'"] = sum(
            "may have been delivered" in k["rerun"] or "uncertain" in k["rerun"] for k in ks)
    ws = [kill_write_trial(base, str(root / "m.pickle"), root / f"w{i}", pythonpath, at)
          for i, at in enumerate(range(3, 3 + 7 * trials, 7))]
    result["write kills"] = sum(w["killed"] for w in ws)
    result["write kills leaving a corrupt workbook"] = sum(1 for w in ws if w["corrupt"])
    return result


if __name__ == "__main__":
    if sys.argv[1] == "child":
        sys.exit(child(sys.argv[2], json.loads(sys.argv[3])))
    if sys.argv[1] == "measure":
        path = os.environ.get("KPI_XL_TREE", str(HERE.parent))
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 4
        for k, v in measure(path, n).items():
            print(f"{k}: {v}")
