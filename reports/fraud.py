"""The fraud report for the education office: PDF (to read and file) and CSV (to process).

PDF, A4 portrait: the period and totals per category; statistics per centre and per session;
then every finding grouped by category, each with its evidence side by side — the chip portrait
next to the live capture of every check-in it concerns (for a proxy: every ID the same face
used), and the frames an online-exam monitor recorded.

CSV: one row per finding, UTF-8 with BOM (Excel), ISO 8601 times in Vietnam time, evidence by
id (no pictures: the CSV travels by e-mail). Column names are fixed English identifiers
(:data:`CSV_COLUMNS`) so that the office's scripts do not depend on the language.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from examdesk.timezone import VIETNAM  # Asia/Ho_Chi_Minh: UTC+7 all year
from proctoring.csvfile import Cell, csv_bytes

from .findings import findings_sentence
from .fonts import PdfFonts, find_fonts
from .incidents import Category, CheckInEvidence, Finding, FraudData, Picture, Stats
from .layout import (
    FACE_OUTCOMES,
    GREY,
    LIGHT,
    RULE,
    STATUSES,
    VERDICTS,
    Styles,
    Words,
    binary_streams,
    decimal,
    label,
    markup,
    numbered_canvas,
    styles,
)
from .layout import vn_time as _vn

PAGE = A4
MARGIN = 14 * mm
WIDTH = PAGE[0] - 2 * MARGIN
PICTURE = 104.0  # points: one evidence picture
# The order of the report: the gravest first.
CATEGORIES = (Category.PROXY, Category.FACE_MISMATCH, Category.FORGED_CARD, Category.OVERRIDE,
              Category.ABSENCE, Category.SEVERAL_FACES, Category.CAMERA_LOST,
              Category.CAMERA_COVERED, Category.NOT_ON_ROSTER, Category.OTHER)
STAT_CATEGORIES = (Category.PROXY, Category.FACE_MISMATCH, Category.FORGED_CARD,
                   Category.OVERRIDE, Category.ABSENCE)
CSV_COLUMNS = ("finding_id", "source", "category", "incident_kind", "severity", "status",
               "started_at", "ended_at", "duration_s", "centre", "session", "session_title",
               "id_number", "full_name", "registration_number", "checkin_ids", "id_numbers",
               "decisions", "face_distances", "trust_verdicts", "override_reason",
               "reviewer_notes", "details", "evidence_ids")


# --- CSV ------------------------------------------------------------------------------------


def _iso_vn(when: datetime | None) -> str:
    return "" if when is None else when.astimezone(VIETNAM).isoformat(timespec="seconds")


def fraud_csv(data: FraudData) -> bytes:
    """One row per finding; cells neutralised against formula injection (names, reasons and
    notes are text from outside): :func:`proctoring.csvfile.csv_bytes`."""
    return csv_bytes(CSV_COLUMNS, (_csv_row(f) for f in data.findings))


def _csv_row(f: Finding) -> list[Cell]:
    duration = (int((f.ended_at - f.started_at).total_seconds())
                if f.ended_at is not None else "")
    evidence = [str(p.evidence_id) for c in f.checkins for p in (c.portrait, c.frame)
                if p is not None] + [str(i) for i in f.frame_ids]
    return [
        str(f.id), f.source, f.category.value, f.kind or "", f.severity or "",
        f.status or "", _iso_vn(f.started_at), _iso_vn(f.ended_at), duration,
        f.centre_code, f.session_code, f.session_title, f.id_number or "",
        f.full_name or "", f.registration_number or "",
        " ".join(str(c.checkin_id) for c in f.checkins),
        " ".join(c.id_number for c in f.checkins),
        " ".join(c.decision for c in f.checkins),
        " ".join("" if c.face_distance is None else f"{c.face_distance:.4f}"
                 for c in f.checkins),
        " ".join(c.trust_verdict or "" for c in f.checkins),
        str(f.details.get("reason", "")) if f.category is Category.OVERRIDE else "",
        f.reviewer_notes or "",
        json.dumps(f.details, ensure_ascii=False, sort_keys=True, default=str),
        " ".join(evidence)]


# --- PDF ------------------------------------------------------------------------------------


def fraud_pdf(data: FraudData, words: Words, *, lang: str = "vi",
              fonts: PdfFonts | None = None) -> bytes:
    fonts = fonts or find_fonts()
    st = styles(fonts)
    out = io.BytesIO()
    doc = BaseDocTemplate(out, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN,
                          topMargin=MARGIN, bottomMargin=MARGIN + 6,
                          title=words("fraud.pdf.title"), author="examdesk", creator="examdesk")
    frame = Frame(MARGIN, MARGIN + 6, WIDTH, doc.height, id="body", leftPadding=0,
                  rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="fraud", frames=[frame])])

    def footer(canvas: Canvas, number: int, total: int) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 7)
        canvas.setFillColor(GREY)
        canvas.drawString(MARGIN, MARGIN - 4, words(
            "fraud.pdf.footer", start=data.period.start.strftime("%d/%m/%Y"),
            end=data.period.end.strftime("%d/%m/%Y"), when=_vn(data.generated_at)))
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN - 4,
                               words("reports.page", page=number, pages=total))
        canvas.restoreState()

    story: list[Flowable] = _summary(data, st, words)
    story += _stats_section(data, st, words)
    story += _details(data, st, words, lang)
    with binary_streams():
        doc.build(story, canvasmaker=numbered_canvas(footer))
    return out.getvalue()


def _category(words: Words, category: Category) -> str:
    return words(f"fraud.category.{category.value}")


def _summary(data: FraudData, st: Styles, words: Words) -> list[Flowable]:
    period = words("fraud.pdf.period", start=data.period.start.strftime("%d/%m/%Y"),
                   end=data.period.end.strftime("%d/%m/%Y"))
    flow: list[Flowable] = [
        Paragraph(markup(words("fraud.pdf.title")), st.title),
        Paragraph(markup(words("fraud.pdf.to")), st.body),
        Paragraph(markup(period), st.bold),
        Paragraph(markup(words("fraud.pdf.scope", centre=data.centre)
                         if data.centre else words("fraud.pdf.scope_all")), st.body),
        Paragraph(markup(words("fraud.pdf.generated", when=_vn(data.generated_at))), st.small),
        Spacer(1, 8),
        Paragraph(markup(words("fraud.pdf.by_category")), st.heading),
    ]
    counts = data.by_category()
    status: dict[Category, Counter[str]] = {c: Counter() for c in CATEGORIES}
    for f in data.findings:
        status[f.category][f.status or "OPEN"] += 1
    head = [Paragraph(markup(words(k)), st.head_cell) for k in (
        "fraud.col.category", "fraud.col.count", "fraud.col.open", "fraud.col.confirmed",
        "fraud.col.dismissed")]
    rows: list[list[Any]] = [head]
    for cat in CATEGORIES:
        rows.append([Paragraph(markup(_category(words, cat)), st.cell), counts.get(cat, 0),
                     status[cat]["OPEN"], status[cat]["CONFIRMED"], status[cat]["DISMISSED"]])
    rows.append([Paragraph(markup(words("fraud.col.total")), st.cell_bold),
                 len(data.findings), sum(s["OPEN"] for s in status.values()),
                 sum(s["CONFIRMED"] for s in status.values()),
                 sum(s["DISMISSED"] for s in status.values())])
    table = Table(rows, colWidths=[WIDTH - 4 * 70, 70, 70, 70, 70], hAlign="LEFT")
    table.setStyle(_grid(st, numeric_from=1, total_row=True))
    flow += [table, Spacer(1, 6)]
    if not data.findings:
        flow.append(Paragraph(markup(words("fraud.pdf.none")), st.bold))
    return flow


def _grid(st: Styles, *, numeric_from: int, total_row: bool = False) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE), ("BACKGROUND", (0, 0), (-1, 0), LIGHT),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("FONT", (0, 0), (-1, -1), st.cell.fontName, 8),
        ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if total_row:
        commands += [("FONT", (0, -1), (-1, -1), st.cell_bold.fontName, 8),
                     ("BACKGROUND", (0, -1), (-1, -1), LIGHT)]
    return TableStyle(commands)


def _stats_row(line: Stats, label: Paragraph) -> list[Any]:
    other = line.findings - sum(line.by_category.get(c, 0) for c in STAT_CATEGORIES)
    return [label, line.rostered, line.checked_in,
            *[line.by_category.get(c, 0) for c in STAT_CATEGORIES], other, line.findings,
            line.open]


def _stats_table(lines: Sequence[Stats], labels: list[Paragraph], st: Styles, words: Words,
                 first: str) -> Table:
    keys = [first, "fraud.col.rostered", "fraud.col.checked_in",
            *[f"fraud.short.{c.value}" for c in STAT_CATEGORIES], "fraud.short.other",
            "fraud.col.total", "fraud.col.open"]
    head = [Paragraph(markup(words(k)), st.head_cell) for k in keys]
    rows = [head] + [_stats_row(line, label) for line, label in zip(lines, labels, strict=True)]
    numeric = 41.0
    table = Table(rows, colWidths=[WIDTH - 10 * numeric] + [numeric] * 10, repeatRows=1,
                  hAlign="LEFT")
    table.setStyle(_grid(st, numeric_from=1))
    return table


def _stats_section(data: FraudData, st: Styles, words: Words) -> list[Flowable]:
    if not data.sessions:
        return []
    centre_labels = [Paragraph(f"<b>{markup(c.centre_code)}</b> · {markup(c.session_title)}"
                               "<br/><font size='7'>"
                               f"{markup(words('fraud.pdf.sessions', n=c.sessions))}</font>",
                               st.cell) for c in data.centres]
    session_labels = [Paragraph(f"<b>{markup(s.session_code)}</b> · {markup(s.centre_code)}"
                                f"<br/><font size='7'>{_vn(s.starts_at, '%d/%m/%Y')} · "
                                f"{markup(s.session_title)}</font>", st.cell)
                      for s in data.sessions]
    return [Paragraph(markup(words("fraud.pdf.by_centre")), st.heading),
            _stats_table(data.centres, centre_labels, st, words, "fraud.col.centre"),
            Spacer(1, 6),
            Paragraph(markup(words("fraud.pdf.by_session")), st.heading),
            _stats_table(data.sessions, session_labels, st, words, "fraud.col.session"),
            Spacer(1, 4),
            Paragraph(markup(words("fraud.pdf.stats_note")), st.small)]


def _details(data: FraudData, st: Styles, words: Words, lang: str) -> list[Flowable]:
    """The cases on pages of their own; a heading never ends a page alone (it is kept with
    the first case under it)."""
    flow: list[Flowable] = []
    number = 0
    for cat in CATEGORIES:
        group = [f for f in data.findings if f.category is cat]
        if not group:
            continue
        heading: list[Flowable] = []
        if not flow:  # the page break stays outside KeepTogether, or it adds a blank page
            flow.append(PageBreak())
            heading.append(Paragraph(markup(words("fraud.pdf.details")), st.title))
        heading.append(Paragraph(markup(f"{_category(words, cat)} ({len(group)})"),
                                 st.heading))
        for i, f in enumerate(group):
            number += 1
            block = [*_finding(number, f, st, words, lang), Spacer(1, 8)]
            flow.append(KeepTogether([*heading, *block] if i == 0 else block))
    return flow


def _finding(number: int, f: Finding, st: Styles, words: Words, lang: str) -> list[Flowable]:
    title = (f"#{number} · {_vn(f.started_at)} · {f.centre_code} · {f.session_code} — "
             f"{f.session_title}")
    state = [words("fraud.pdf.source_" + f.source)]
    if f.severity:
        state.append(words("fraud.pdf.severity", value=words(f"fraud.severity.{f.severity}")))
    if f.status:
        state.append(words("fraud.pdf.status", value=words(f"fraud.status.{f.status}")))
    who = ""
    if f.id_number:
        who = words("fraud.pdf.candidate", name=f.full_name or "—", id=f.id_number,
                    reg=f.registration_number or "—")
    flow: list[Flowable] = [
        Paragraph(markup(title), st.bold),
        Paragraph(markup(" · ".join(state)), st.small),
    ]
    if who:
        flow.append(Paragraph(markup(who), st.body))
    what = _what(f, words, lang)
    if f.details.get("seat"):  # an online-exam incident raised by a seat agent: where
        what += " " + words("fraud.pdf.seat", seat=str(f.details["seat"]))
    flow.append(Paragraph(markup(what), st.body))
    if f.reviewer_notes:
        flow.append(Paragraph(markup(words("fraud.pdf.notes", notes=f.reviewer_notes)),
                              st.body))
    if f.checkins:
        flow += [Spacer(1, 3), _pairs(f.checkins, st, words, lang)]
    if f.frames:
        flow += [Spacer(1, 3), _frames(f, st, words)]
    return flow


def _what(f: Finding, words: Words, lang: str) -> str:
    d = f.details
    if f.category is Category.PROXY:
        ids = ", ".join(dict.fromkeys(c.id_number for c in f.checkins)) or "—"
        return words("fraud.what.proxy", n=len({c.id_number for c in f.checkins}), ids=ids)
    if f.category is Category.FACE_MISMATCH:
        distance = next((c.face_distance for c in f.checkins if c.face_distance is not None),
                        d.get("distance"))
        return words("fraud.what.face_mismatch",
                     distance=decimal(float(distance), lang) if distance is not None else "—")
    if f.category is Category.FORGED_CARD:
        # The check-in workflow writes "findings"; a check-in's own list is in trust_findings.
        findings = sorted({x for c in f.checkins for x in c.trust_findings}
                          | {str(x) for x in d.get("findings", d.get("trust_findings", []))})
        # In words: which checks failed and what that means, then which passed (issue 13:
        # "active.passed, chip.passed, passive.invalid" listed passes as failures).
        return words("fraud.what.forged_card_words", checks=findings_sentence(findings, words))
    if f.category is Category.OVERRIDE:
        before, after = str(d.get("from", "?")), str(d.get("to", "?"))
        return words("fraud.what.override",
                     before=label(words, "roster.status", before, STATUSES),
                     after=label(words, "roster.status", after, STATUSES),
                     reason=d.get("reason", "—"))
    if f.category in (Category.ABSENCE, Category.SEVERAL_FACES, Category.CAMERA_LOST,
                      Category.CAMERA_COVERED):
        seconds = (int((f.ended_at - f.started_at).total_seconds()) if f.ended_at
                   else int(d.get("seconds", 0)))
        return words(f"fraud.what.{f.category.value}", minutes=seconds // 60,
                     seconds=seconds % 60, start=_vn(f.started_at, "%H:%M:%S"),
                     end=_vn(f.ended_at, "%H:%M:%S"))
    if f.category is Category.NOT_ON_ROSTER:
        return words("fraud.what.not_on_roster")
    # The incident's own words (e.g. "a stored face could not be screened"), not its key.
    return words("fraud.what.other",
                 key=words(f.message_key, **f.details) if f.message_key else "—")


def _image(picture: Picture | None, st: Styles, words: Words, size: float = PICTURE) -> Any:
    if picture is None:
        return Paragraph(markup(words("fraud.pdf.no_picture")), st.cell_small)
    if picture.thumb is None:
        key = "roster.pdf.purged" if picture.state == "purged" else "roster.pdf.unreadable"
        return Paragraph(markup(words(key)), st.cell_small)
    t = picture.thumb
    scale = min(size / t.width, size / t.height)
    return Image(io.BytesIO(t.jpeg), width=t.width * scale, height=t.height * scale)


def _pairs(checkins: Sequence[CheckInEvidence], st: Styles, words: Words, lang: str) -> Table:
    head = [Paragraph(markup(words(k)), st.head_cell)
            for k in ("fraud.col.chip", "fraud.col.live", "fraud.col.checkin")]
    rows: list[list[Any]] = [head]
    for c in checkins:
        info = [f"<b>{markup(c.full_name or words('fraud.pdf.not_on_roster'))}</b>",
                markup(words("fraud.pdf.id", id=c.id_number, reg=c.registration_number or "—")),
                markup(words("fraud.pdf.at", when=_vn(c.decided_at, "%d/%m/%Y %H:%M:%S"))),
                markup(words("fraud.pdf.decision",
                             value=label(words, "roster.status", c.decision, STATUSES)))]
        if c.decision != c.machine_decision:
            info.append(markup(words("fraud.pdf.machine", value=label(
                words, "roster.status", c.machine_decision, STATUSES))))
        if c.face_distance is not None:
            info.append(markup(words("fraud.pdf.distance",
                                     value=decimal(c.face_distance, lang),
                                     outcome=label(words, "roster.face", c.face_outcome,
                                                   FACE_OUTCOMES))))
        if c.trust_verdict:
            info.append(markup(words("fraud.pdf.trust", value=label(
                words, "roster.trust", c.trust_verdict, VERDICTS))))
        rows.append([_image(c.portrait, st, words), _image(c.frame, st, words),
                     Paragraph("<br/>".join(info), st.cell)])
    cell = PICTURE + 8
    table = Table(rows, colWidths=[cell, cell, WIDTH - 2 * cell], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, RULE), ("BACKGROUND", (0, 0), (-1, 0), LIGHT),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 1), (1, -1), "CENTER")]))
    return table


def _frames(f: Finding, st: Styles, words: Words) -> Table:
    size = 90.0
    cells = [_image(p, st, words, size) for p in f.frames]
    caption = Paragraph(markup(words("fraud.pdf.frames", n=len(f.frame_ids))), st.cell_small)
    table = Table([[caption, *cells]], colWidths=[2 * PICTURE + 16 - len(cells) * (size + 8)
                                                  if len(cells) < 2 else 110]
                  + [size + 8] * len(cells), hAlign="LEFT")
    table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.4, RULE),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("ALIGN", (1, 0), (-1, -1), "CENTER")]))
    return table
