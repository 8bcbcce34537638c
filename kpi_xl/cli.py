"""The ``kpi-xl`` command line.

This module parses, prints and picks exit codes; the monthly run itself is
``kpi_xl.run.month``.

Exit codes: 0 success; 1 the data files, config or a delivery were refused (the message
says what, where and why); 2 the command line itself was wrong (argparse, including
--month); 3 a needed extra is not installed; 4 the data guards found the month missing,
thin or mostly rejected, so nothing was written or sent (--allow-partial goes ahead);
5 (``alert`` only) alerts were sent, or written to the outbox without [smtp].
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from . import __version__
from .catalog import CATALOG
from .catalog.format import format_value
from .data.sources import ConfigError
from .errors import KpiXlError

EPILOG = """\
examples:
  kpi-xl demo                     a whole month of a sample centre: data, KPIs, workbooks,
                                  mail to an outbox (nothing to configure)
  kpi-xl init                     write a commented starter config for your own data
  kpi-xl map exports/calls.csv    guess a [[sources]] block for an export (encoding,
                                  title rows, columns, dates, codes), to confirm
  kpi-xl validate -c kpi_xl.toml  check the config and every file, write nothing
  kpi-xl compute -c kpi_xl.toml --month 2026-10
                                  every KPI for the month and the 12 before, all levels
  kpi-xl compute --source anonymous-bank=calls.tsv --month 1999-02
                                  the same from one file and a shipped mapping (preset)
  kpi-xl run -c kpi_xl.toml --month 2026-10
                                  the whole month: data, KPIs, workbooks, mail
  kpi-xl run -c kpi_xl.toml --week 2026-W44
                                  the same for an ISO week (13 weeks of history); also
                                  --quarter 2026-Q3, --year 2026, --day 2026-10-05,
                                  --from 2021-01-01 --to 2021-03-31 (README, Periods)
  kpi-xl scorecard -c kpi_xl.toml --month 2026-10
                                  the month's balanced scorecard and QA workbooks
  kpi-xl send -c kpi_xl.toml --month 2026-10
                                  email each stakeholder their reports (or to the outbox)
  kpi-xl staffing -c kpi_xl.toml --month 2026-10 --interval 30
                                  calls per interval and the Erlang C agents they needed,
                                  next to the agents who handled them
  kpi-xl alert -c kpi_xl.toml --month 2026-10
                                  a short message to each stakeholder whose KPIs crossed
                                  a rule (off target two months running, significantly
                                  worse, data incomplete); exit 5 when one was sent
  kpi-xl handbook -c kpi_xl.toml --out training
                                  a KPI handbook page (HTML, and PDF) for training agents
                                  and team leads: the centre's KPIs, formulas, targets
  kpi-xl presets                  the shipped mappings (Zendesk, Freshdesk, Talkdesk...)
  kpi-xl presets freshdesk        one mapping in full: its columns, codes and sources
  kpi-xl templates my-templates   a copy of the workbook and message templates to restyle
  kpi-xl demo --month 2026-09     the same for another month
  kpi-xl demo --week 2026-W43     the same for an ISO week (13 weeks of history)
  kpi-xl kpis                     list every KPI with its formula, unit and target
  kpi-xl kpis nps                 everything about one KPI (variants, inputs, sources)
  kpi-xl kpis --markdown          the reference as Markdown (README's function reference)
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="kpi-xl", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Contact-centre KPIs, declared once: Excel functions, a batch engine "
                    "and monthly scorecards all use the same definitions.", epilog=EPILOG)
    p.add_argument("--version", action="version", version=f"kpi-xl {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    d = sub.add_parser("demo", help="run a whole month of a built-in sample centre",
                       description="Write a sample centre's exports (60 agents, 6 teams, four "
                                   "channels, 13 months) and its config into a folder, then "
                                   "run the month on them: data, KPIs, workbooks, mail to an "
                                   "outbox. Nothing to configure; nothing leaves the machine.")
    d.add_argument("--month", default="2026-10", type=month_arg,
                   help="the month to report (default 2026-10)")
    d.add_argument("--week", type=week_arg,
                   help="report an ISO week instead, e.g. 2026-W43 (the sample centre's "
                        "data ends with the week's month)")
    d.add_argument("--folder", default="demo", help="where the sample exports and config go "
                                                    "(default demo/)")
    d.add_argument("--out", default="workbooks", help="output folder (default workbooks/)")
    i = sub.add_parser("init", help="write a commented starter config",
                       description="Write a starter config file, with every section "
                                   "explained, to adapt to your exports.")
    i.add_argument("path", nargs="?", default="kpi_xl.toml", help="default kpi_xl.toml")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    k = sub.add_parser("kpis", help="the KPI reference (from the catalog)",
                       description="List the catalog; name KPIs for their full reference.")
    k.add_argument("keys", nargs="*", help="KPI keys (e.g. nps service_level)")
    k.add_argument("--family", choices=sorted(CATALOG.families()), help="only this family")
    k.add_argument("--markdown", action="store_true", help="print Markdown")
    for name, text in (("validate", "check the config and every data file; write nothing"),
                       ("compute", "every KPI for a month (and the 12 before) at every level"),
                       ("scorecard", "compute, then write the month's balanced scorecard and "
                                     "one QA workbook per team"),
                       ("run", "the whole month: data, KPIs, workbooks, then mail to the "
                               "stakeholders (or the outbox)")):
        c = sub.add_parser(name, help=text, description=text + ".",
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=DATA_EPILOG)
        c.add_argument("-c", "--config", help="the config file (TOML)")
        c.add_argument("--source", action="append", default=[], metavar="PRESET=PATH",
                       type=source_arg,
                       help="a file read with a shipped mapping, instead of (or besides) the "
                            "config's sources; repeat for several")
        if name == "run":
            c.add_argument("--resend", action="store_true",
                           help="send again what the ledger says was sent")
            c.add_argument("--resend-uncertain", action="store_true",
                           help="send again what may have been delivered (no answer came)")
        if name == "validate":
            add_period_flags(c, required=False)
        if name in ("compute", "scorecard", "run"):
            add_period_flags(c, required=True)
            c.add_argument("--history", type=history_arg, default=None,
                           help="periods before it, for trends (default: 12 months, 12 "
                                "weeks, 4 quarters, 2 years, 13 days or 1 range)")
            c.add_argument("--allow-partial", action="store_true",
                           help="go ahead when the data guards find the month missing, thin "
                                "or mostly rejected; the workbooks and messages then say "
                                "'partial data'")
            c.add_argument("--out", default="workbooks",
                           help="output folder (default workbooks/); files go to OUT/<month>/")
    _staffing_parser(sub)
    _handbook_parser(sub)
    _alert_parser(sub)
    m = sub.add_parser("send", help="email the month's reports to the stakeholders",
                       description="Send each stakeholder of the config the month's reports "
                                   "that are theirs, with a summary. Without [smtp], messages "
                                   "go to OUT/<month>/outbox as .eml files. A ledger keeps "
                                   "what was sent: a re-run sends only what is missing.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  kpi-xl send -c kpi_xl.toml --month 2026-10\n"
                              "  kpi-xl send -c kpi_xl.toml --month 2026-10 --resend\n"
                              "  kpi-xl send -c kpi_xl.toml --week 2026-W44\n\n"
                              "The SMTP password comes from KPI_XL_SMTP_PASSWORD (or the "
                              "variable named by password_env), never from the config.")
    m.add_argument("-c", "--config", required=True, help="the config file (TOML)")
    add_period_flags(m, required=True)
    m.add_argument("--out", default="workbooks", help="where the month's files are (default "
                                                      "workbooks/)")
    m.add_argument("--resend", action="store_true", help="send again what was already sent")
    m.add_argument("--resend-uncertain", action="store_true",
                   help="send again what may have been delivered (no answer came)")
    tp = sub.add_parser("templates", help="copy the shipped templates to restyle them",
                        description="Copy the balanced scorecard and QA workbook templates "
                                    "and the message templates into FOLDER; restyle them in "
                                    "Excel and set [scorecard] templates = \"FOLDER\" "
                                    "(README: editing the templates).")
    tp.add_argument("folder", help="where the copies go (created if needed)")
    tp.add_argument("--force", action="store_true", help="overwrite files already there")
    ps = sub.add_parser("presets", help="the shipped source mappings",
                        description="Mappings for known exports; use one with preset = "
                                    "\"name\" in a [[sources]] table, or --source "
                                    "name=path. Name one to see it in full.")
    ps.add_argument("name", nargs="?", help="a preset to show in full (e.g. freshdesk)")
    mp = sub.add_parser(
        "map", help="guess a [[sources]] block for an export kpi_xl has never seen",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
                    "Read the header and a sample of rows of FILE (CSV, TSV or XLSX) and "
                    "print a [[sources]] block for the config: the encoding, delimiter, "
                    "title rows, decimal comma, and for each header the canonical column it "
                    "seems to be (by its name and its values: dates and their format, "
                    "times, durations in seconds or h:mm:ss, yes/no and outcome codes, "
                    "channels), each with a comment saying why. Headers it cannot place are "
                    "listed commented out. Nothing is written: check the block, paste it "
                    "into your config, and run kpi-xl validate.", 88),
        epilog=MAP_EPILOG)
    mp.add_argument("file", help="the export to map (.csv, .tsv, .txt, .xlsx)")
    mp.add_argument("--sheet", help="the worksheet of an .xlsx (default: the first with data)")
    mp.add_argument("--table", choices=("contacts", "surveys", "qa", "roster", "wfm"),
                    help="the canonical table (default: guessed from the headers)")
    mp.add_argument("--name", help="the source's name in reports (default: from the file name)")
    mp.add_argument("--rows", type=int, default=1000,
                    help="rows sampled for the values (default 1000)")
    args = p.parse_args(argv)
    if hasattr(args, "first"):
        _check_period(sub.choices[args.command], args)
    try:
        return _dispatch(p, args)
    except OSError as e:
        if args.debug:
            raise
        print(f"kpi-xl: {e.strerror or e}: {e.filename or ''} (run with --debug for details)",
              file=sys.stderr)
        return 1


def _dispatch(p, args) -> int:
    try:
        if args.command == "demo":
            return demo(args.month, args.folder, args.out, week=args.week)
        if args.command == "init":
            return init(args.path, args.force)
        if args.command == "presets":
            return presets(args.name)
        if args.command == "map":
            return map_command(args)
        if args.command == "templates":
            _need("workbooks")
            return templates(args.folder, args.force)
        if args.command in ("validate", "compute", "scorecard", "run"):
            return data_command(args)
        if args.command == "send":
            return send_command(args)
        if args.command == "staffing":
            return staffing_command(args)
        if args.command == "handbook":
            return handbook_command(args)
        if args.command == "alert":
            return alert_command(args)
        if args.command == "kpis":
            print(reference(args.keys, args.family, args.markdown))
            return 0
    except KpiXlError as e:
        if args.debug:
            raise
        return _refused(e, args.command)
    except MissingExtra as e:
        print(f"kpi-xl: {e}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # output piped into head/less that closed early
        sys.stderr.close()
        return 0
    p.print_help()
    return 0


def _refused(e: KpiXlError, command: str) -> int:
    """One error a user can cause, said once: what, where and why; its exit code."""
    from .mail.send import MailError
    from .run.guards import DataRefused
    from .run.month import FilesUnusable

    if isinstance(e, ConfigError):
        head, lines = "the configuration has problems:", e.problems
    elif isinstance(e, FilesUnusable):
        head, lines = "these files cannot be used; nothing was computed:", e.problems
    elif isinstance(e, DataRefused):
        noun, flag = getattr(e, "noun", "month"), getattr(e, "flag", "--month")
        head = (f"the data for the {noun} is not complete, so nothing was written or sent "
                f"(fix the data or {flag}; --allow-partial goes ahead and marks the reports "
                "'partial data'):" if command != "validate" else
                "the data is not usable as it is:")
        lines = e.refusals
        told = getattr(e, "alerted", None)
        if told is not None and told.outcome is not None:
            lines = [*lines, f"the data contacts were told (alert): {told.outcome.line()} "
                             f"→ {told.where}"]
        elif getattr(e, "alert_error", None):
            lines = [*lines, f"the data contacts could not be told: {e.alert_error}"]
    elif isinstance(e, MailError) and command == "run":
        head, lines = f"the workbooks are written, but mail stopped: {e}", []
    else:
        head, lines = str(e), []
    print(f"kpi-xl: {head}", file=sys.stderr)
    for line in lines:
        print(f"  - {line}", file=sys.stderr)
    return e.exit_code


def week_arg(text: str) -> str:
    """--week of the demo: checked before anything is written (a mistake exits 2)."""
    from .run.period_flags import check

    try:
        return check("week", text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def month_arg(text: str) -> str:
    """--month: checked before any file is read (a mistake exits 2)."""
    from .periods import months_back

    try:
        months_back(text, 0)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


PERIOD_HELP = {
    "month": "the month to report, e.g. 2026-10 (the default grain)",
    "week": "an ISO week (Monday to Sunday), e.g. 2026-W44",
    "quarter": "a quarter, e.g. 2026-Q3, or FY2027-Q1 with [centre] fiscal_year_start",
    "year": "a year, e.g. 2026, or FY2027 with [centre] fiscal_year_start",
    "day": "one day, e.g. 2026-10-05",
}


def add_period_flags(c, required: bool) -> None:
    """--month / --week / --quarter / --year / --day / --from --to: one period. Each text
    is checked as it is parsed (exit 2); which one was given, in :func:`_check_period`."""
    from .run.period_flags import FLAGS, check, check_day

    def typed(grain):
        def parse(text):
            try:
                return check(grain, text)
            except ValueError as e:
                raise argparse.ArgumentTypeError(str(e)) from None
        parse.__name__ = grain
        return parse

    def day(text):
        try:
            return check_day(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    g = c.add_argument_group("the period (one of; " + ("required" if required else
                             "optional: without one, only the files are checked") + ")")
    for grain in FLAGS:
        g.add_argument(f"--{grain}", type=month_arg if grain == "month" else typed(grain),
                       metavar=grain.upper(), help=PERIOD_HELP[grain])
    g.add_argument("--from", dest="first", type=day, metavar="DATE",
                   help="a custom range from this day (with --to), e.g. --from 2021-01-01 "
                        "--to 2021-03-31")
    g.add_argument("--to", dest="last", type=day, metavar="DATE",
                   help="the range's last day (included)")
    c.set_defaults(period_required=required)


def _check_period(c, args) -> None:
    """Exactly one period (or none, where it is optional); exits 2 with an example."""
    from .run.period_flags import FLAGS, choose

    chosen, why = choose({g: getattr(args, g) for g in FLAGS}, args.first, args.last,
                         args.period_required)
    if why:
        c.error(why)
    args.chosen = chosen


def source_arg(text: str) -> tuple[str, str]:
    """--source PRESET=PATH, with a shipped preset."""
    from .data.sources import preset_names

    preset, sep, path = text.partition("=")
    if not sep or not path or not preset:
        raise argparse.ArgumentTypeError(f"write it as PRESET=PATH, e.g. zendesk=tickets.csv, "
                                         f"got {text!r}")
    if preset not in preset_names():
        raise argparse.ArgumentTypeError(f"unknown preset {preset!r} (presets: "
                                         f"{', '.join(preset_names())})")
    return preset, path


def history_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n <= 120:
        raise argparse.ArgumentTypeError(f"must be a whole number of periods from 0 to 120, "
                                         f"got {text!r}")
    return n


# -- reference -----------------------------------------------------------------------
def reference(keys=(), family=None, markdown=False) -> str:
    kpis = [CATALOG[k] for k in keys] if keys else [
        k for k in CATALOG.values() if family in (None, k.family)]
    if markdown:
        return markdown_reference(kpis)
    if not keys:
        rows = [(k.excel_name, k.title, k.unit, "↑" if k.direction == "higher" else
                 "↓" if k.direction == "lower" else "·",
                 "" if k.target is None else format_value(k.target, k.number_format))
                for k in kpis]
        w = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"{'function':<{w[0]}}  {'KPI':<{w[1]}}  {'unit':<{w[2]}}  dir  target"]
        lines += [f"{a:<{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}   {d}   {e}" for a, b, c, d, e in rows]
        return "\n".join(lines) + "\n\n`kpi-xl kpis KEY` shows one KPI in full."
    return "\n\n".join(_one_text(k) for k in kpis)


def _one_text(k) -> str:
    from .xl.adapter import arguments
    out = [f"{k.title} ({k.key}) — {k.excel_name}", f"  {k.description}",
           f"  formula: {k.formula_text}",
           f"  unit: {k.unit}; {k.direction} is better; format {k.number_format}",
           f"  default target: {'none' if k.target is None else format_value(k.target, k.number_format)}"
           f" ({k.target_source})"]
    if k.levers:
        who = "who acts on it" if k.direction == "neutral" else "how to move it"
        out += textwrap.wrap(f"{who}: {k.levers} (source: {k.levers_source})", 88,
                             initial_indent="  ", subsequent_indent="    ")
    out.append("  arguments:")
    for name, doc, _r in arguments(k):
        out += textwrap.wrap(f"{name}: {doc}", 88, initial_indent="    ",
                             subsequent_indent="      ")
    if len(k.variants) > 1:
        out.append("  variants:")
        for v in k.variants:
            out += textwrap.wrap(f"{v.name}: {v.doc}", 88, initial_indent="    ",
                                 subsequent_indent="      ")
    from .catalog.change import TEST_NAMES
    tests = {v.name: TEST_NAMES[k.change_of(v)] for v in k.variants}
    out.append("  change between periods: " + (
        next(iter(tests.values())) if len(set(tests.values())) == 1
        else "; ".join(f"{name}: {t}" for name, t in tests.items())))
    out.append("  examples: " + "   ".join(k.examples))
    out += ["  sources:"] + [f"    - {s}" for s in k.sources]
    return "\n".join(out)


def markdown_reference(kpis) -> str:
    from .xl.adapter import arguments, has_detail
    out = []
    for fam, items in CATALOG.families().items():
        items = [k for k in items if k in kpis]
        if not items:
            continue
        out.append(f"### {fam.capitalize()}\n")
        out.append("| function | KPI | formula | unit | better | default target |")
        out.append("|---|---|---|---|---|---|")
        for k in items:
            tgt = "–" if k.target is None else format_value(k.target, k.number_format)
            out.append(f"| `{k.excel_name}` | {k.title} | {k.formula_text} | {k.unit} | "
                       f"{k.direction} | {tgt} |")
        out.append("")
        for k in items:
            sig = ", ".join(a[0] if i < sum(not x.optional for x in k.inputs) else f"[{a[0]}]"
                            for i, a in enumerate(arguments(k)))
            out.append(f"**`{k.excel_name}({sig})`**" +
                       (f" · also `{k.excel_name}_DETAIL` (breakdown, n, margin)"
                        if has_detail(k) else "") + f" — {k.description}")
            if len(k.variants) > 1:
                out.append("Variants: " + "; ".join(
                    f"`{v.name}`{' (default)' if i == 0 else ''}: {v.doc}"
                    for i, v in enumerate(k.variants)))
            out.append(f"Example: `{k.examples[0]}`. Source: {k.sources[0]}.\n")
    return "\n".join(out).rstrip() + "\n"


# -- demo ----------------------------------------------------------------------------
DATA_EPILOG = """\
Each data file is a [[sources]] table in the config (see README, "Configuration"), or
--source PRESET=PATH with one of the shipped mappings (kpi-xl presets). Every row of
every file is used or rejected with a reason: the report (rejects.csv) names the file,
row, column, value and why, and the summary shows read = used + rejected per file.

The period is one of --month (the default grain), --week, --quarter, --year, --day, or
--from and --to; the history before it follows its grain (13 months, 13 weeks, 5
quarters...) and the files go to OUT/<period>/ (README, "Periods").

examples:
  kpi-xl validate -c kpi_xl.toml
  kpi-xl compute -c kpi_xl.toml --month 2026-10
  kpi-xl compute -c kpi_xl.toml --week 2026-W44       an ISO week, and the 12 before it
  kpi-xl compute -c kpi_xl.toml --quarter 2026-Q3     a calendar quarter, and 4 before it
  kpi-xl compute -c kpi_xl.toml --quarter FY2027-Q1   a fiscal quarter ([centre]
                                                      fiscal_year_start = 4: Apr-Jun 2026)
  kpi-xl compute -c kpi_xl.toml --year 2026
  kpi-xl compute -c kpi_xl.toml --day 2026-10-05      a day, and the 13 before it
  kpi-xl compute -c kpi_xl.toml --from 2021-01-01 --to 2021-03-31
                                                      a custom range, and the one as long
                                                      just before it
  kpi-xl compute --source zendesk=tickets.csv --source generic-surveys=surveys.csv \\
                 --month 2026-10 --out reports
"""


class MissingExtra(Exception):
    pass


#: what each extra holds that the commands import (pyproject.toml's optional dependencies)
EXTRAS = {"engine": ("duckdb", "pandas", "python_calamine"),
          "workbooks": ("openpyxl", "jinja2")}


def _need(*extras: str) -> None:
    """Refuse, naming what to install, when a module of these extras is missing: before
    anything is read or written, not as a traceback halfway (``kpi-xl run`` with only
    [engine] installed stopped at the first message's jinja2 import)."""
    import importlib.util

    def installed(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):      # blocked, or half-imported and broken
            return False

    missing = {e: [m for m in EXTRAS[e] if not installed(m)] for e in extras}
    missing = {e: ms for e, ms in missing.items() if ms}
    if missing:
        parts = [f"{e} ({', '.join(EXTRAS[e])})" for e in missing]
        raise MissingExtra(
            f"this command needs kpi_xl's {' and '.join(parts)} "
            f"extra{'s' if len(missing) > 1 else ''}, not installed here "
            f"({', '.join(m for ms in missing.values() for m in ms)} missing): "
            f"pip install 'kpi-xl[{','.join(missing)}]'")


MAP_EPILOG = """\
example:
  kpi-xl map exports/calls-2026-10.csv >> kpi_xl.toml

prints, for a semicolon-separated export with a title row and decimal commas
(shortened here; every line has its reason):
  [[sources]]
  name = "calls-2026-10"      # how reports name this source
  table = "contacts"          # one row per call, ticket or chat (...)
  path = "exports/calls-2026-10.csv"  # relative to the config file's folder
  # the name holds a month: path = "exports/calls-{month}.csv" reads each month's file
  encoding = "cp1252"         # byte 18 (line 1) is not UTF-8; the file reads as Windows-1252
  delimiter = ";"             # semicolon-separated: it splits the rows into 9 fields
  header_row = 2              # the header's row: row 1 above it is a title (...)
  decimal = ","               # 'CSAT' holds numbers written with a decimal comma ('4,5')
  thousands = "."             # 'Wait (sec)' holds numbers written with '.' between thousands
  [sources.columns]
  id = "Call ID"              # 'Call ID' is named like id ('call id'); ...
  date = { date = "Call date", time = "Start", format = "%d/%m/%Y" }  # dates such as ...
  answered = { column = "Outcome", codes = { Answered = "yes", Abandoned = "no" } }  # ...
  wait = { column = "Wait (sec)", unit = "seconds" }  # ..., in seconds (by the name)
  talk = { column = "Talk time", unit = "hh:mm:ss" }  # ...: durations in h:mm:ss
  ...
  # [[sources.exclude]]       # rows to leave out on purpose? ...
  # column = "Outcome"
  # values = ["Voicemail"]
  # Not placed (no canonical column guessed); map any that matter, e.g.
  #   ? = "Topic"               # 2 values: 'Billing', 'Technical'

Then edit what the comments flag (CHECK, AMBIGUOUS), and run
  kpi-xl validate -c kpi_xl.toml
to see what the mapping gives: rows read, used and rejected, with the reasons.
README, "Mapping a new export", lists every source option.
"""


def map_command(args) -> int:
    _need("engine")
    from .data.guess import map_file

    text, problems = map_file(args.file, sheet=args.sheet, table=args.table, name=args.name,
                              rows=max(1, args.rows))
    print(text, end="")
    if problems:
        print("kpi-xl: the guessed block needs your hand before kpi_xl can read it:",
              file=sys.stderr)
        for line in problems:
            print(f"  - {line}", file=sys.stderr)
        return 1
    return 0


def presets(name: str | None = None) -> int:
    from .data.presets import listing, show
    from .data.sources import preset_names

    if name is None:
        print(listing())
        return 0
    if name not in preset_names():
        print(f"kpi-xl: unknown preset {name!r} (presets: {', '.join(preset_names())})",
              file=sys.stderr)
        return 2
    print(show(name))
    return 0


_display = None


def _say(msg: str) -> None:
    """Progress to stderr: on a terminal, a step's running count on one updating line
    (kpi_xl.progress); in a log, plain lines."""
    global _display
    from .progress import Display

    if _display is None or _display.stream is not sys.stderr:
        _display = Display(sys.stderr)
    _display(msg)


def _config(args):
    """The config of -c FILE (or an empty one) with the --source files added."""
    from .config import config_with_sources

    return config_with_sources(args.config, args.source)


def data_command(args) -> int:
    _need("engine", *(("workbooks",) if args.command in ("scorecard", "run") else ()))
    from .run.month import run_month

    cfg = _config(args)
    from .run.period_flags import resolve

    period = resolve(args.chosen, cfg.fiscal_start)
    printer = Printer(cfg)
    run = run_month(cfg, args.command, period,
                    history=getattr(args, "history", None), out=getattr(args, "out", "workbooks"),
                    allow_partial=getattr(args, "allow_partial", False),
                    resend=getattr(args, "resend", False),
                    resend_uncertain=getattr(args, "resend_uncertain", False), reporter=printer)
    if args.command == "validate":
        ds = run.dataset
        if cfg.engine is not None:
            print("Engine:")
            for line in cfg.engine.describe(relations=tuple(
                    s.relation for s in cfg.sources if s.relation is not None)):
                print(f"  {line}")
        print("\nThe config and the data are usable"
              + (f"; {len(ds.rejects):,} rows or values would be reported in rejects.csv."
                 if ds.rejects else "; nothing would be rejected."))
        return 0
    return printer.summary(run)


class Printer:
    """Prints what the monthly run does (kpi_xl.run.month.Reporter)."""

    def __init__(self, cfg):
        self.cfg = cfg

    def progress(self, message: str) -> None:
        _say(message)

    def data(self, ds) -> None:
        print("Data:")
        for line in ds.lines():
            print(f"  {line}")
        if ds.rejects:
            print("Most frequent reasons:")
            for line in ds.rejects.summary():
                print(f"  {line}")

    def guards(self, report, allowed: bool) -> None:
        if report.coverage:
            print("Coverage:")
            for line, flagged in report.coverage:
                print(f"  {'! ' if flagged else ''}{line}")
        if report.refusals and allowed:
            print("\nGoing ahead with partial data (--allow-partial); the workbooks and "
                  "messages say so:", file=sys.stderr)
            for line in report.refusals:
                print(f"  - {line}", file=sys.stderr)

    def results(self, run) -> None:
        res, month = run.results, run.month
        org = res.frame("organisation", month)
        print(f"\n{self.cfg.name}, {month}: organisation level"
              + (" (PARTIAL DATA)" if run.partial else ""))
        rows = []
        for r in org.itertuples():
            value = "—" if r.value != r.value else format_value(r.value, r.number_format)
            tgt = "" if r.target != r.target else format_value(r.target, r.number_format)
            n = "" if r.n != r.n else f"{r.n:,.0f}"
            extra = f" ({r.note})" if r.note else " (low sample)" if r.low_sample else ""
            rows.append((r.title, value, tgt, n, f"{r.status}{extra}"))
        # the columns as wide as their longest entry ("Defect rate (contacts per 1,000
        # orders)", "101.0 per 1,000"), so that a title never runs into its value
        wt = max([36, *(len(x[0]) + 2 for x in rows)])
        wv, wg = (max([w, *(len(x[i]) for x in rows)]) for i, w in ((1, 12), (2, 10)))
        print(f"{'KPI':<{wt}}{'value':>{wv}}  {'target':>{wg}}  {'n':>8}  status")
        for title, value, tgt, n, status in rows:
            print(f"{title:<{wt}}{value:>{wv}}  {tgt:>{wg}}  {n:>8}  {status}")
        if res.skipped:
            print("\nNot computed:")
            for key, why in res.skipped.items():
                print(f"  {CATALOG[key].title}: {why}")
        self.dimensions(res)
        t = res.table[res.table.period == month]
        levels = t.groupby("level", observed=True)["key"].nunique()
        counts = [f"{n} {lv}{'s' if n != 1 else ''}" for lv, n in levels.items()
                  if lv != "organisation"]
        print(f"\nWritten: {run.results_path} ({len(res.table):,} rows over {len(res.periods)} "
              f"{res.period.noun}s; {month}: the organisation" + "".join(f", {c}" for c in counts) + ")")
        print(f"         {run.rejects_path} ({len(run.dataset.rejects):,} rows or values "
              "rejected, with reasons)")

    def dimensions(self, res) -> None:
        """Per declared dimension: its members by the headline KPIs, for the period."""
        from .run.summary import dimension_tables

        for table in dimension_tables(res, self.cfg.dimensions):
            print(f"\nBy {table.title.lower()}, {res.month}:")
            if not table.rows:
                print(f"  no figures (no source maps {table.title.lower()} for this period)")
                continue
            first = max(len(r[0]) for r in table.rows) + 2
            widths = [max(len(c), *(len(r[i + 1]) for r in table.rows)) + 2
                      for i, c in enumerate(table.columns)]
            print(f"  {'':<{first}}" + "".join(f"{c:>{w}}" for c, w in zip(table.columns, widths)))
            for r in table.rows:
                print(f"  {r[0]:<{first}}" + "".join(f"{c:>{w}}" for c, w in zip(r[1:], widths)))
            if table.low:
                print("  * low sample (below the KPI's minimum n)")

    def workbooks(self, paths) -> None:
        for path in paths:
            print(f"         {path}")

    def summary(self, run) -> int:
        if run.step != "run":
            return 0
        ds = run.dataset
        used = sum(a.used for a in ds.accounting)
        read = sum(a.read for a in ds.accounting)
        print(f"\nDone: {self.cfg.name}, {run.month}" + (" (PARTIAL DATA)" if run.partial else ""))
        print(f"  data      {read:,} rows read, {used:,} used, {read - used:,} rejected or "
              f"excluded (reasons: {run.rejects_path})")
        print(f"  KPIs      {run.results_path}")
        print(f"  workbooks {len(run.books)} in {run.folder}")
        if run.outcome is not None:
            _report(run.outcome, run.where, "  mail      ")
        else:
            print("  mail      no [[stakeholders]] in the config: nothing sent")
        alerts = run.alerts
        if alerts is not None:
            if alerts.outcome is None:
                print("  alerts    no rule crossed ([alerts]): nothing to send")
            else:
                _report(alerts.outcome, alerts.where,
                        f"  alerts    {alerts.count} for {len(alerts.alerts)} recipient"
                        f"{'s' if len(alerts.alerts) != 1 else ''}: ")
        ok = all(o is None or o.ok for o in (run.outcome, alerts and alerts.outcome))
        return 0 if ok else 1


def _report(outcome, where, lead: str) -> None:
    print(f"{lead}{outcome.line()} → {where}")
    for who, why in outcome.failed:
        print(f"{' ' * len(lead)}failed: {who}: {why}")
    for note in outcome.notes():
        print(f"{' ' * len(lead)}{note}")


def _staffing_parser(sub) -> None:
    text = ("calls offered, answered and abandoned, AHT, ASA and service level per interval, "
            "with the Erlang C agents the traffic needed and the agents who handled it")
    c = sub.add_parser("staffing", help="intraday traffic and Erlang C staffing from the data",
                       description=text + ". Writes OUT/<period>/intraday.csv and "
                       "intraday-<period>.xlsx. Flags override the config's [staffing] section.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  kpi-xl staffing -c kpi_xl.toml --month 2026-10\n"
                              "  kpi-xl staffing --source anonymous-bank=calls.tsv --month "
                              "1999-02 --interval 60 \\\n      --weekdays sun,mon,tue,wed,thu "
                              "--target-sl 0.8 --threshold 20")
    c.add_argument("-c", "--config", help="the config file (TOML)")
    c.add_argument("--source", action="append", default=[], metavar="PRESET=PATH",
                   type=source_arg, help="a file read with a shipped mapping; repeat for several")
    c.add_argument("--month", required=True, type=month_arg, help="the month, YYYY-MM")
    c.add_argument("--interval", type=int, choices=(15, 30, 60),
                   help="interval length in minutes (default 30)")
    c.add_argument("--weekdays", help="the weekdays averaged, e.g. mon,tue,wed,thu,fri "
                                      "(default every day)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--target-sl", type=float, help="target service level, 0-1 (default 0.8)")
    g.add_argument("--target-asa", type=float, help="target ASA in seconds")
    g.add_argument("--target-pwait", type=float, help="highest P(wait), 0-1")
    c.add_argument("--threshold", type=float,
                   help="service level threshold T in seconds (default: the config's, 20)")
    c.add_argument("--aht", type=float, help="AHT in seconds for the requirement (default: "
                                             "each interval's own)")
    c.add_argument("--patience", metavar="SECONDS|data",
                   help="add Erlang A agents (callers hang up after this mean patience) beside "
                        "Erlang C; 'data' estimates it from the calls: total queue wait / "
                        "abandons (service-level target only)")
    c.add_argument("--per-date", action="store_true", default=None,
                   help="one row per date and interval instead of the weekday pattern")
    c.add_argument("--out", default="workbooks",
                   help="output folder (default workbooks/); files go to OUT/<period>/")
    c.add_argument("--allow-partial", action="store_true",
                   help="go ahead when the data guards find the month missing, thin or mostly "
                        "rejected (as for run); the summary says so")


def staffing_command(args) -> int:
    _need("engine", "workbooks")
    from .intraday import run_staffing, staffing_settings, text_table
    from .periods import Period

    cfg = _config(args)
    settings = staffing_settings(cfg, interval=args.interval, weekdays=args.weekdays,
                                 target_sl=args.target_sl, target_asa=args.target_asa,
                                 target_pwait=args.target_pwait, threshold=args.threshold,
                                 aht=args.aht, per_date=args.per_date,
                                 patience=args.patience)
    run = run_staffing(cfg, Period.parse(args.month, fiscal_start=cfg.fiscal_start), settings,
                       args.out, reporter=Printer(cfg), allow_partial=args.allow_partial)
    for line in run.result.lines():
        print(line)
    print()
    for line in text_table(run.result):
        print(line)
    print(f"\nWrote {run.csv}\n      {run.workbook}")
    return 0


def _handbook_parser(sub) -> None:
    h = sub.add_parser(
        "handbook", help="a KPI handbook for training agents and team leads (HTML, PDF)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Write handbook.html into OUT: one self-contained page with every KPI the "
            "centre's reports compute from its sources, each with what it measures, the "
            "formula in words and as the Excel function, the variant the centre chose (or "
            "the default) and its options, the centre's target (the config's, else the "
            "catalog's with its source) and which way is better. It is generated from the "
            "catalog and the config: edit those, not the page. A PDF is written beside it "
            "when LibreOffice Writer or Chromium is installed.", 88),
        epilog="examples:\n  kpi-xl handbook -c kpi_xl.toml\n"
               "  kpi-xl handbook -c kpi_xl.toml --out training --no-pdf\n"
               "  kpi-xl handbook --source zendesk=tickets.csv --out training")
    h.add_argument("-c", "--config", help="the config file (TOML)")
    h.add_argument("--source", action="append", default=[], metavar="PRESET=PATH",
                   type=source_arg,
                   help="a file read with a shipped mapping, instead of (or besides) the "
                        "config's sources; repeat for several")
    h.add_argument("--out", default="handbook", help="output folder (default handbook/)")
    h.add_argument("--no-pdf", action="store_true", help="write the HTML page only")


def handbook_command(args) -> int:
    _need("engine", "workbooks")
    from .handbook import write_handbook

    book = write_handbook(_config(args), args.out, make_pdf=not args.no_pdf)
    print(f"wrote {book.html} ({len(book.keys)} KPIs)")
    if book.pdf is not None:
        print(f"wrote {book.pdf}")
    elif book.pdf_note:
        print(book.pdf_note)
    return 0


#: ``kpi-xl alert``'s exit codes (the others' are in the module's docstring)
ALERTS_SENT = 5
ALERT_EPILOG = """\
exit codes (for cron):
  0  nothing to send: no rule crossed, or every alert was already sent for the period
  5  alerts were sent (or written to OUT/<period>/alerts/ as .eml without [smtp])
  1  the config or a file was refused, or some alert could not be delivered (the
     message says which; a rerun sends what is still due)
  2  the command line was wrong
  3  a needed extra is not installed
  4  the data guards refused the period (missing, thin or mostly rejected data): the
     data contacts were told, and no KPI rule was applied

The rules and who hears of data problems are the config's [alerts] section (README,
"Alerts"); without one: off target two periods running, significantly worse, and the
data guards, on each stakeholder's headline KPIs, data problems to the organisation.
Each stakeholder hears only of their own scope. The ledger of the monthly reports keeps
what was sent: rerun it as often as you like.

examples:
  kpi-xl alert -c kpi_xl.toml --month 2026-10
  kpi-xl alert -c kpi_xl.toml --week 2026-W44

in a crontab (% is written \\% there): last month's alerts on the 2nd at 07:00, last
week's every Monday at 07:30
  0 7 2 * *  kpi-xl alert -c /srv/kpi/kpi_xl.toml --out /srv/kpi/workbooks \\
               --month $(date -d 'last month' +\\%Y-\\%m) >> /var/log/kpi-alert.log 2>&1
  30 7 * * 1 kpi-xl alert -c /srv/kpi/kpi_xl.toml --out /srv/kpi/workbooks \\
               --week $(date -d 'last week' +\\%G-W\\%V) >> /var/log/kpi-alert.log 2>&1
"""


def _alert_parser(sub) -> None:
    a = sub.add_parser(
        "alert", help="tell the stakeholders whose KPIs crossed a rule (for cron)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Check the period's data, compute it and the period before, and send a short "
            "message to each stakeholder whose own KPIs crossed a rule: off target two "
            "periods running, or worse by more than chance (the change test of each KPI, "
            "at [report] significance). When the data for the period is missing, thin or "
            "mostly rejected, the data contacts are told instead. Only the stakeholders "
            "with an alert get a message, with the monthly reports' ledger, lock and "
            "deadline.", 88),
        epilog=ALERT_EPILOG)
    a.add_argument("-c", "--config", required=True, help="the config file (TOML)")
    add_period_flags(a, required=True)
    a.add_argument("--out", default="workbooks",
                   help="output folder (default workbooks/): its ledger and lock are the "
                        "monthly reports'")
    a.add_argument("--resend", action="store_true", help="send again what was already sent")
    a.add_argument("--resend-uncertain", action="store_true",
                   help="send again what may have been delivered (no answer came)")


def alert_command(args) -> int:
    _need("engine", "workbooks")
    from .config import read_config
    from .run.alerts import run_alerts
    from .run.period_flags import resolve

    cfg = read_config(args.config)
    period = resolve(args.chosen, cfg.fiscal_start)
    if not cfg.stakeholders:
        print("kpi-xl: the config lists no [[stakeholders]] to alert", file=sys.stderr)
        return 1
    run = run_alerts(cfg, period, args.out, resend=args.resend,
                     resend_uncertain=args.resend_uncertain, reporter=AlertPrinter(cfg))
    if run.refused is None:
        print(f"\nAlerts for {period.title()}: {run.count} rule"
              f"{'s' if run.count != 1 else ''} crossed, for {len(run.alerts)} "
              f"stakeholder{'s' if len(run.alerts) != 1 else ''}")
        for email, found in run.alerts.items():
            for a in found:
                print(f"  {email}: {a.title}: {a.rule_text}")
    if run.outcome is not None:
        _report(run.outcome, run.where, "  mail    ")
    if run.refused is not None:
        if run.outcome is None:
            from .run.alerts import settings_of

            why = ("guard_failure is not in [alerts] rules"
                   if "guard_failure" not in settings_of(cfg).rules
                   else "no organisation-scope stakeholder to tell")
            run.refused.refusals.append(f"nobody was told ({why})")
        print(f"kpi-xl: the data for the {run.refused.noun} is not complete, so no KPI rule "
              "was applied" + (" (the data contacts were told)" if run.outcome else "") + ":",
              file=sys.stderr)
        for line in run.refused.refusals:
            print(f"  - {line}", file=sys.stderr)
        return run.refused.exit_code
    if run.outcome is not None and not run.outcome.ok:
        return 1
    return ALERTS_SENT if run.outcome is not None and run.outcome.sent else 0


class AlertPrinter:
    """What ``kpi-xl alert`` prints while it works: the data's lines and coverage
    (as ``run``), progress on stderr; not the KPI tables."""

    def __init__(self, cfg):
        self.p = Printer(cfg)

    def progress(self, message: str) -> None:
        _say(message)

    def data(self, ds) -> None:
        self.p.data(ds)

    def guards(self, report, allowed: bool) -> None:
        self.p.guards(report, allowed)

    def results(self, run) -> None: ...
    def workbooks(self, paths) -> None: ...


def send_command(args) -> int:
    _need("engine", "workbooks")
    from .config import read_config
    from .run.month import send

    from .run.period_flags import resolve

    cfg = read_config(args.config)
    period = resolve(args.chosen, cfg.fiscal_start)
    if not cfg.stakeholders:
        print("kpi-xl: the config lists no [[stakeholders]] to send to", file=sys.stderr)
        return 1
    outcome, where = send(cfg, period, args.out, resend=args.resend,
                          resend_uncertain=args.resend_uncertain, progress=_say)
    _report(outcome, where, f"Mail for {period.label}: ")
    return 0 if outcome.ok else 1


def demo(month: str, folder: str = "demo", out: str = "workbooks",
         week: str | None = None) -> int:
    """Write the sample centre's exports and config, then run the month (or the ISO
    week: its data then ends with the week's month) on them."""
    _need("engine", "workbooks")
    import time

    from .demo import write_demo
    from .periods import Period

    t0 = time.perf_counter()
    flag, label = ("--month", month) if week is None else ("--week", week)
    if week is not None:
        month = Period.parse(week, "week").calendar_months()[-1]
    _say(f"writing the sample centre's exports to {folder}/exports")
    config = write_demo(folder, month)
    print(f"kpi_xl demo: a sample centre's exports and config are in {folder}/; running "
          f"{label} on them as `kpi-xl run -c {config} {flag} {label}` would.\n")
    rc = main(["run", "-c", str(config), flag, label, "--out", out])
    print(f"\n(demo finished in {time.perf_counter() - t0:.0f} s; open "
          f"{out}/{label}/balanced-scorecard-{label}.xlsx, the QA workbooks beside it, and "
          f"the messages in {out}/{label}/outbox)")
    return rc


def templates(folder: str, force: bool) -> int:
    from .scorecard.build import copy_templates

    written = copy_templates(folder, force=force)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{folder} already has every template (--force overwrites them)")
    return 0


def init(path: str, force: bool) -> int:
    from pathlib import Path

    from .starter import STARTER

    target = Path(path)
    if target.exists() and not force:
        print(f"kpi-xl: {target} exists; use --force to overwrite it", file=sys.stderr)
        return 1
    target.write_text(STARTER, encoding="utf-8")
    print(f"Wrote {target}. Next: point [[sources]] at your exports (kpi-xl presets lists the "
          f"shipped mappings), then: kpi-xl validate -c {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
