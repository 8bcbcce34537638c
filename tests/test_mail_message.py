"""Issue 10 in the email: the chosen variant's format, the scorecard's index and the
perspectives it leaves out, and "partial data" in the subject and at the top of both
bodies. (Delivery over real SMTP is tested in test_mail.py.)"""

from __future__ import annotations

import shutil
from functools import lru_cache

import pytest

openpyxl = pytest.importorskip("openpyxl")
pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")
pytest.importorskip("jinja2")

from kpi_xl.engine import Engine, KpiChoice  # noqa: E402
from kpi_xl.mail.message import TEMPLATES, build, environment, summary  # noqa: E402
from kpi_xl.mail.send import MailError  # noqa: E402
from kpi_xl.mail.stakeholders import Delivery, Report, Stakeholder  # noqa: E402
from kpi_xl.scorecard.build import agent_workbook, write_month  # noqa: E402

MONTH, PREVIOUS = "2026-10", "2026-09"
NOTE = "contacts has 1,200 rows in 2026-10, usually 8,400"
BOSS = Stakeholder("Dana Reyes", "dana@example.com", "Head of service")


@lru_cache(maxsize=None)
def _month(folder: str, partial: str | None = None):
    """CSAT as a mean score; no business figures (so Financial has no data)."""
    from kpi_xl.demo_data import MAX_SCORE, sample_tables

    t = sample_tables(teams=2, agents_per_team=4, contacts_per_month=600)
    t["business"] = t["business"].iloc[0:0]
    res = Engine(t, choices={"csat": KpiChoice(variant="mean"),
                             "qa_score": KpiChoice(params={"max_score": MAX_SCORE})}
                 ).compute(MONTH)
    paths = write_month(res, t, folder, max_score=MAX_SCORE, partial=partial)
    csv = res.write_csv(f"{folder}/{MONTH}/kpi-results.csv")
    table = pd.read_csv(csv, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
                        dtype={"key": str, "note": str})
    return res, table, paths


def _message(delivery, ctx, env=None):
    files = [(r.path.name, r.path.read_bytes()) for r in delivery.reports]
    return build(delivery, ctx, files, "reports@example.com", "kpi_xl", env or environment(),
                 "Acme Support")


def _bodies(msg):
    return (msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content())


def test_figures_use_the_chosen_variants_format(tmp_path_factory):
    """CSAT 'mean' is a score on 1–5 with format 0.00: "3.89", never "389.0%" (the
    results carry each variant's number format; the message reads it)."""
    res, table, paths = _month(str(tmp_path_factory.mktemp("m")))
    ctx = summary(table, Delivery(BOSS), MONTH, PREVIOUS)
    csat = next(k for k in ctx["headline"] if k["key"] == "csat")
    assert csat["value_text"] == f"{res.value('csat'):.2f}"
    assert csat["target_text"] == "4.00" and "%" not in csat["value_text"]


def test_the_message_gives_the_index_and_what_it_leaves_out(tmp_path_factory):
    """Before, the message had no index at all; now it says what the attached
    scorecard says (its cached B4, D4, E4, named kpi_xl_index...)."""
    res, table, paths = _month(str(tmp_path_factory.mktemp("m")))
    d = Delivery(BOSS, [Report("scorecard", "Balanced scorecard", paths[0])])
    ctx = summary(table, d, MONTH, PREVIOUS)
    ws = openpyxl.load_workbook(paths[0], data_only=True)["Scorecard"]
    assert ws["E4"].value == "leaves out Financial"
    want = f"{ws['B4'].value * 100:.1f}%"
    assert ctx["index"] == {"value_text": want, "status": ws["D4"].value,
                            "note": "leaves out Financial"}
    text, html = _bodies(_message(d, ctx))
    line = f"Balanced scorecard index: {want} ({ws['D4'].value}); leaves out Financial"
    assert line in text
    assert f"<b>{want}</b> ({ws['D4'].value}); leaves out Financial" in html
    # a recipient without the scorecard gets no index line
    team = Delivery(Stakeholder("Tom", "tom@example.com", scope="teams", teams=("Billing",)),
                    [Report("qa-team:Billing", "QA workbook, Billing", paths[1], team="Billing")])
    ctx = summary(table, team, MONTH, PREVIOUS)
    assert ctx["index"] is None
    assert "Balanced scorecard index" not in _bodies(_message(team, ctx))[0]


def test_partial_data_in_subject_and_at_the_top_of_both_bodies(tmp_path_factory):
    _res, table, paths = _month(str(tmp_path_factory.mktemp("m")))
    d = Delivery(BOSS, [Report("scorecard", "Balanced scorecard", paths[0])])
    plain = _message(d, summary(table, d, MONTH, PREVIOUS))
    marked = _message(d, summary(table, d, MONTH, PREVIOUS, partial=NOTE))
    assert "partial" not in plain["Subject"].lower()
    assert marked["Subject"] == "[partial data] " + plain["Subject"]
    text, html = _bodies(marked)
    assert text.splitlines()[0] == f"*** partial data: {NOTE} ***"
    assert html.index(f"partial data: {NOTE}") < html.index("Hello Dana Reyes")
    assert _bodies(plain)[0].startswith("Hello Dana Reyes,")       # unchanged otherwise


def test_partial_data_is_read_back_from_the_workbooks(tmp_path_factory):
    """kpi-xl send, run after the workbooks were written from partial data, still says
    so: the note is read from the attachments' banner (for every scope)."""
    _res, table, paths = _month(str(tmp_path_factory.mktemp("p")), partial=NOTE)
    banner = f"partial data: {NOTE}"
    for d in (Delivery(BOSS, [Report("scorecard", "Balanced scorecard", paths[0])]),
              Delivery(Stakeholder("Tom", "tom@example.com", scope="teams", teams=("Billing",)),
                       [Report("qa-team:Billing", "QA", paths[1], team="Billing")])):
        ctx = summary(table, d, MONTH, PREVIOUS)
        assert ctx["partial"] == banner
        assert _message(d, ctx)["Subject"].startswith("[partial data] ")


def test_an_email_template_that_hides_partial_data_is_refused(tmp_path_factory, tmp_path):
    _res, table, paths = _month(str(tmp_path_factory.mktemp("m")))
    folder = tmp_path / "email"
    shutil.copytree(TEMPLATES, folder)
    (folder / "subject.txt").write_text("{{ centre }}: {{ month_label }}", encoding="utf-8")
    body = (folder / "body.txt").read_text(encoding="utf-8")
    d = Delivery(BOSS, [Report("scorecard", "Balanced scorecard", paths[0])])
    ctx = summary(table, d, MONTH, PREVIOUS, partial=NOTE)
    msg = _message(d, ctx, environment(folder))
    assert msg["Subject"] == "[partial data] Acme Support: October 2026"   # added in code
    (folder / "body.txt").write_text(body.split("{% endif %}", 1)[1], encoding="utf-8")
    with pytest.raises(MailError, match="body.txt does not show that the data is partial"):
        _message(d, ctx, environment(folder))


def test_an_agents_cut_workbook_keeps_no_name_of_a_removed_sheet(tmp_path_factory, tmp_path):
    _res, _table, paths = _month(str(tmp_path_factory.mktemp("p")), partial=NOTE)
    wb = openpyxl.load_workbook(paths[1])
    assert "kpi_xl_partial" in wb.defined_names
    agent = wb.worksheets[1]["A1"].value.removeprefix("QA: ")
    cut = agent_workbook(paths[1], agent, tmp_path / "a.xlsx")
    one = openpyxl.load_workbook(cut)
    assert one.sheetnames == [wb.worksheets[1].title]
    assert dict(one.defined_names) == {}
    assert one.worksheets[0]["A3"].value == f"partial data: {NOTE}"


def test_each_workbook_is_read_once_for_all_the_messages(tmp_path_factory, monkeypatch):
    """The messages read the attached workbooks' named cells (index, status, note,
    partial banner). Before, every name opened its workbook again: the demo's nine
    messages loaded its eight workbooks 50 times (5.5 of the run's 24 s). Now each file is
    read once, and a workbook written anew is read anew."""
    import openpyxl as opx

    _res, table, paths = _month(str(tmp_path_factory.mktemp("once")))
    opened = []
    real = opx.load_workbook
    monkeypatch.setattr(opx, "load_workbook",
                        lambda path, *a, **k: opened.append(str(path)) or real(path, *a, **k))
    board = [Report("scorecard", "Balanced scorecard", paths[0])]
    people = [Stakeholder(f"Boss {i}", f"boss{i}@example.com") for i in range(3)]
    first = [summary(table, Delivery(p, board), MONTH, PREVIOUS) for p in people]
    assert opened == [str(paths[0])]
    assert all(c["index"] == first[0]["index"] for c in first)
    # the same path written again (a rerun) is read again, and says what the new file says
    wb = real(paths[0])
    wb["Scorecard"]["E4"] = "leaves out Customer"
    tmp = paths[0].with_suffix(".new.xlsx")
    wb.save(tmp)
    tmp.replace(paths[0])
    again = summary(table, Delivery(people[0], board), MONTH, PREVIOUS)
    assert opened == [str(paths[0])] * 2
    assert again["index"]["note"] == "leaves out Customer"


def test_a_long_subject_reads_back_with_single_spaces(tmp_path_factory):
    """A subject longer than a header line is folded. With a '·' before the count of KPIs
    off target, the fold fell before the encoded word, so mail programs showed
    'October 2026  · 6 KPIs off target' (two spaces). The separator is now plain ASCII."""
    import email
    import email.policy

    _res, table, paths = _month(str(tmp_path_factory.mktemp("subj")))
    d = Delivery(BOSS, [Report("scorecard", "Balanced scorecard", paths[0])])
    msg = _message(d, summary(table, d, MONTH, PREVIOUS, partial=NOTE))
    raw = msg.as_bytes(policy=email.policy.SMTP)
    subject = email.message_from_bytes(raw, policy=email.policy.default)["Subject"]
    assert "off target" in subject and len("Subject: " + subject) > 78     # it is folded
    assert "  " not in subject
