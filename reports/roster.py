"""The roster PDF of a session: who sat it, with the evidence, totals and a place to sign.

A4 landscape, one row per candidate (number, chip portrait and live capture thumbnails, name
and registration number, 12-digit ID, date of birth, check-in time in Vietnam time, decision with
face distance and chip verdict, override reason, a box for the candidate's signature; under it,
when the decision has reasons, a line with every one of them in words), the
column header repeated on every page, "page n/N" on every page, totals, the invigilators'
signature boxes, and an empty signature field where the digital signature will appear.

A driving test gets **one section per stage**, each starting on a new page with its own header,
totals and signatures: the stages happen at different times and places (classroom, simulator,
yard, road) before different examiners, and the candidate signs at each one. Per-stage columns
would need four thumbnail pairs, times and decisions per row — unreadable on A4 — and would put
an examiner's signature under decisions taken by another.

Every page states the content hash (QR code and text); the canonical facts it hashes are
embedded in the file (see :mod:`.pdfmeta`), so ``roster verify`` can compare them with the local
database field by field.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from PIL import Image as PilImage
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    LongTable,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from proctoring.models import EvidenceKind, RosterStatus, SessionKind, Stage
from proctoring.store import Store

from .audit_head import head_document
from .facts import (
    FORMAT,
    RosterCheckIn,
    RosterFacts,
    RosterReason,
    RosterRow,
    RosterSection,
    collect_facts,
)
from .fonts import PdfFonts, find_fonts
from .images import Fit, Thumbnail, ThumbSpec, thumbnail
from .layout import (
    FACE_OUTCOMES,
    GREY,
    LIGHT,
    RULE,
    STATUSES,
    VERDICTS,
    BoxPosition,
    SignatureBox,
    Styles,
    Words,
    binary_streams,
    decimal,
    label,
    markup,
    nfc,
    numbered_canvas,
    qr_drawing,
    styles,
    vn_date,
    vn_time,
)
from .pdfmeta import SIGNATURE_FIELD, finish_pdf, qr_payload
from .reason_words import reason_text

PAGE = landscape(A4)
MARGIN = 10 * mm
THUMB_W, THUMB_H = 30.0, 40.0  # points: a 3 × 4 portrait cell, the shape of a chip portrait
# ~230 dpi in that cell: sharp on a laser printer, ~4 KB per picture.
ROSTER_THUMB = ThumbSpec(96, 128, Fit.COVER, quality=80)
SIGNATURE_BOX = (230.0, 64.0)
_IN_FLIGHT = 32  # decrypted pictures waiting for their thumbnail


@dataclass(frozen=True)
class RosterOptions:
    """How to print, outside the signed facts: the room line and when it was printed."""

    lang: str = "vi"  # decimal comma in Vietnamese
    room: str | None = None  # room or vehicle line of the header ("—" when not given)
    printed_at: datetime | None = None  # default: now


@dataclass(frozen=True)
class Roster:
    """The facts of a roster plus the pictures to print (thumbnails by evidence id)."""

    facts: RosterFacts
    canonical: bytes
    content_hash: str
    pictures: Mapping[uuid.UUID, Thumbnail] = field(default_factory=dict)

    @property
    def qr_payload(self) -> str:
        return qr_payload(self.facts.session_id, self.content_hash)


@dataclass(frozen=True)
class RenderedRoster:
    pdf: bytes  # reportlab's output, before the facts and the signature field are added
    signature_box: BoxPosition
    pages: int


def build_roster(store: Store, session_ref: str, *, stages: Sequence[Stage] | None = None,
                 thumbs: ThumbSpec | None = ROSTER_THUMB) -> Roster:
    """Read the facts and make the thumbnails. ``thumbs=None`` keeps every picture at full size
    (the benchmark's baseline; only JPEG can be embedded as is)."""
    pending: dict[uuid.UUID, Future[Thumbnail | None]] = {}
    # Pillow decodes without the GIL: thumbnails are made on every core while the next
    # pictures are decrypted. The semaphore bounds the decrypted pictures waiting in memory.
    room = threading.BoundedSemaphore(_IN_FLIGHT)

    def make(data: bytes) -> Thumbnail | None:
        try:
            return thumbnail(data, thumbs) if thumbs is not None else _as_is(data)
        finally:
            room.release()

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:

        def visit(evidence_id: uuid.UUID, _kind: EvidenceKind, data: bytes) -> None:
            room.acquire()
            pending[evidence_id] = pool.submit(make, data)

        facts = collect_facts(store, session_ref, stages=stages, visit=visit)
        pictures = {k: t for k, f in pending.items() if (t := f.result()) is not None}
    canonical = facts.canonical()
    return Roster(facts, canonical, facts.content_hash(), pictures)


def _as_is(data: bytes) -> Thumbnail | None:
    try:
        with PilImage.open(io.BytesIO(data)) as im:
            return Thumbnail(data, im.width, im.height) if im.format == "JPEG" else None
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class RosterPdf:
    data: bytes
    content_hash: str
    session_id: uuid.UUID
    session_code: str
    pages: int
    candidates: int  # roster lines (per section for a driving test: the largest section)


def roster_pdf(store: Store, session_ref: str, words: Words, *,
               stages: Sequence[Stage] | None = None, options: RosterOptions | None = None,
               fonts: PdfFonts | None = None,
               thumbs: ThumbSpec | None = ROSTER_THUMB) -> RosterPdf:
    """The finished, unsigned roster: rendered, with its facts embedded and an empty signature
    field (``reports.signing.sign_pdf`` fills it)."""
    roster = build_roster(store, session_ref, stages=stages, thumbs=thumbs)
    rendered = render_roster(roster, words, options=options, fonts=fonts)
    data = finish_pdf(rendered.pdf, canonical=roster.canonical, content_hash=roster.content_hash,
                      signature_page=rendered.signature_box.page - 1,
                      signature_rect=rendered.signature_box.rect,
                      audit_head=head_document(store, roster.facts.session_id))
    facts = roster.facts
    return RosterPdf(data, roster.content_hash, facts.session_id, facts.session_code,
                     rendered.pages, max((len(s.rows) for s in facts.sections), default=0))


# --- rendering ------------------------------------------------------------------------------


class _RunningHeader:
    """The small line at the top of every page names the section being printed; a marker
    flowable at each section start updates it (per render, never global)."""

    def __init__(self) -> None:
        self.text = ""


class _SectionMark(Flowable):
    def __init__(self, header: _RunningHeader, text: str) -> None:
        super().__init__()
        self.header, self.text = header, text
        self.width = self.height = 0

    def draw(self) -> None:
        self.header.text = self.text


def render_roster(roster: Roster, words: Words, *, options: RosterOptions | None = None,
                  fonts: PdfFonts | None = None) -> RenderedRoster:
    """Lay the roster out with reportlab; returns the PDF and where the signature box is."""
    options = options or RosterOptions()
    fonts = fonts or find_fonts()
    st = styles(fonts)
    facts = roster.facts
    printed = options.printed_at or datetime.now(UTC)
    header = _RunningHeader()
    out = io.BytesIO()
    doc = BaseDocTemplate(
        out, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 8,
        bottomMargin=MARGIN + 8, title=words("roster.pdf.doc_title", session=facts.session_code),
        author=facts.centre_name, creator="examdesk",
        subject=f"{FORMAT} sha256:{roster.content_hash}",
        keywords=roster.qr_payload)
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)

    def page_end(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 7)
        canvas.setFillColor(GREY)
        canvas.drawString(MARGIN, PAGE[1] - MARGIN, header.text)
        canvas.restoreState()

    def footer(canvas: Canvas, number: int, total: int) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 7)
        canvas.setFillColor(GREY)
        y = MARGIN - 2
        canvas.drawString(MARGIN, y, words("roster.pdf.printed", when=vn_time(printed)))
        canvas.drawCentredString(PAGE[0] / 2, y, f"SHA-256 {roster.content_hash}")
        canvas.drawRightString(PAGE[0] - MARGIN, y,
                               words("reports.page", page=number, pages=total))
        canvas.restoreState()

    doc.addPageTemplates([PageTemplate(id="roster", frames=[frame], onPageEnd=page_end)])
    box = SignatureBox(*SIGNATURE_BOX, words("roster.pdf.digital_signature"), fonts.regular)
    box.hAlign = "RIGHT"
    story: list[Flowable] = []
    for i, section in enumerate(facts.sections):
        if i:
            story.append(PageBreak())
        story += _section(roster, section, st, words, options, header,
                          last=i == len(facts.sections) - 1, box=box)
    with binary_streams():
        doc.build(story, canvasmaker=numbered_canvas(footer))
    return RenderedRoster(out.getvalue(), box.where, doc.page)


def _stage_label(words: Words, facts: RosterFacts, stage: Stage | None) -> str:
    kind = words(f"session.kind.{facts.kind.value}")
    return kind if stage is None else f"{kind} — {words(f'session.stage.{stage.value}')}"


def _section(roster: Roster, section: RosterSection, st: Styles, words: Words,
             options: RosterOptions, header: _RunningHeader, *, last: bool,
             box: SignatureBox) -> list[Flowable]:
    facts = roster.facts
    stage = _stage_label(words, facts, section.stage)
    title_key = ("roster.pdf.title_online" if facts.kind is SessionKind.ONLINE_EXAM
                 else "roster.pdf.title_driving")
    flow: list[Flowable] = [_SectionMark(header, f"{facts.centre_name} · {facts.session_code}"
                                                 f" · {stage}")]
    who = ", ".join(section.invigilators) or "—"
    info = [
        Paragraph(markup(words(title_key)), st.title),
        _pair(st, words("roster.pdf.centre"), f"{facts.centre_name} ({facts.centre_code})"),
        _pair(st, words("roster.pdf.session"), f"{facts.title} — {facts.session_code}"),
        _pair(st, words("roster.pdf.kind"), stage),
        _pair(st, words("roster.pdf.date"),
              f"{vn_time(facts.starts_at, '%d/%m/%Y')} · {vn_time(facts.starts_at, '%H:%M')}"),
        _pair(st, words("roster.pdf.room"), options.room or "—"),
        _pair(st, words("roster.pdf.examiners" if facts.kind is SessionKind.DRIVING_TEST
                        else "roster.pdf.invigilators"), who),
    ]
    qr = Table([[qr_drawing(roster.qr_payload, 74)],
                [Paragraph(markup(words("roster.pdf.qr_caption")), st.small)]],
               colWidths=[96], style=[("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                      ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                      ("RIGHTPADDING", (0, 0), (-1, -1), 0)])
    top = Table([[info, qr]], colWidths=[TABLE_WIDTH - 100, 100],
                style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    flow += [top, Spacer(1, 4)]
    # The last rows go with the totals and the signatures: those never stand alone on a page
    # (issue 13: with 8 candidates they fell onto page 2 by themselves).
    rows = section.rows
    closing: list[Flowable] = [Spacer(1, 6), _totals(section, st, words),
                               Spacer(1, 8), _handwritten(st, words, facts.kind)]
    if last:
        closing += [Spacer(1, 6), box]
    tail = rows[-_tail_size(roster, rows, st, words, options, closing):] if rows else ()
    body = rows[:len(rows) - len(tail)]
    if body:
        flow.append(_table(roster, body, st, words, options, header=True))
    if tail:
        closing.insert(0, _TailRows(
            _table(roster, tail, st, words, options, header=True),
            _table(roster, tail, st, words, options, header=False), always_header=not body))
    flow.append(KeepTogether(closing))
    return flow


TAIL_ROWS = 2  # table rows kept on the page of the totals and signatures
FRAME_HEIGHT = PAGE[1] - 2 * (MARGIN + 8)


def _tail_size(roster: Roster, rows: Sequence[RosterRow], st: Styles, words: Words,
               options: RosterOptions, closing: Sequence[Flowable]) -> int:
    """How many rows go with the totals: two, or one when two (with long reason lists) and
    the totals would not fit on one page together — never none."""
    rest = sum(f.wrap(TABLE_WIDTH, FRAME_HEIGHT)[1] for f in closing)
    for k in range(min(TAIL_ROWS, len(rows)), 1, -1):
        _, h = _table(roster, rows[-k:], st, words, options,
                      header=True).wrap(TABLE_WIDTH, FRAME_HEIGHT)
        if h + rest <= FRAME_HEIGHT:
            return k
    return 1


class _TailRows(Flowable):
    """The table's last rows: under the rows before them, without the column header; at the
    top of a new page (moved there with the totals), with it."""

    def __init__(self, headed: Flowable, bare: Flowable, *, always_header: bool) -> None:
        super().__init__()
        self.headed, self.bare, self.always_header = headed, bare, always_header
        self.chosen = headed

    def wrap(self, aW: float, aH: float) -> tuple[float, float]:
        frame = getattr(self, "_frame", None)
        at_top = bool(getattr(frame, "_atTop", False))
        self.chosen = self.headed if self.always_header or at_top else self.bare
        w, h = self.chosen.wrap(aW, aH)
        self.width, self.height = w, h
        return w, h

    def draw(self) -> None:
        self.chosen.drawOn(self.canv, 0, 0)


def _pair(st: Styles, label: str, value: str) -> Paragraph:
    return Paragraph(f"<font name='{st.bold.fontName}'>{markup(label)}:</font> {markup(value)}",
                     st.body)


def _table(roster: Roster, lines: Sequence[RosterRow], st: Styles, words: Words,
           options: RosterOptions, *, header: bool) -> LongTable:
    head = [Paragraph(markup(words(f"roster.col.{c.key}")), st.head_cell) for c in COLUMNS]
    rows: list[list[Any]] = [head] if header else []
    starts: list[tuple[RosterRow, int, int]] = []  # a candidate's first and last table row
    for row in lines:
        cell = _Cell(roster, row, st, words, options)
        top = len(rows)
        rows.append([c.value(cell) for c in COLUMNS])
        said = _reasons_line(row, st, words, options)
        if said is not None:
            under: list[Any] = [""] * len(COLUMNS)
            under[_REASONS_FROM] = said
            rows.append(under)
        starts.append((row, top, len(rows) - 1))
    first = 1 if header else 0  # the first candidate's row
    table = LongTable(rows, colWidths=[c.width for c in COLUMNS], repeatRows=first)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("FONT", (0, first), (-1, -1), st.cell.fontName, st.cell.fontSize, st.cell.leading),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), LIGHT))
    style += [("ALIGN", (i, first), (i, -1), "CENTER") for i, c in enumerate(COLUMNS)
              if c.centred]
    for row, top, bottom in starts:
        if row.status == RosterStatus.ABSENT:
            style.append(("TEXTCOLOR", (0, top), (-1, bottom), GREY))
        if bottom > top:
            # The reasons' line spans the name to the override; the number, the pictures and
            # the signature box span both lines, which keeps them on one page together.
            style.append(("SPAN", (_REASONS_FROM, bottom), (_REASONS_TO, bottom)))
            style += [("SPAN", (i, top), (i, bottom)) for i in _BOTH_LINES]
    table.setStyle(TableStyle(style))
    return table


@dataclass(frozen=True)
class _Cell:
    """What a column's value is drawn from: one row of the roster, and how to print it."""

    roster: Roster
    row: RosterRow
    st: Styles
    words: Words
    options: RosterOptions


@dataclass(frozen=True)
class Column:
    """One column of the roster table: its header (``roster.col.<key>`` in the catalogue), its
    width in points and its cell for a row. Adding a column is one line of :data:`COLUMNS`."""

    key: str
    width: float
    value: Callable[[_Cell], Any]
    centred: bool = False


def _name(c: _Cell) -> Paragraph:
    row, st, words = c.row, c.st, c.words
    place = row.seat or row.vehicle
    reg, prefix = row.registration_number, words("roster.pdf.reg")
    # "SBD001" already says it is an SBD: not "SBD SBD001" (issue 13).
    shown = reg if reg.casefold().startswith(prefix.casefold()) else f"{prefix} {reg}"
    return Paragraph(
        f"<font name='{st.cell_bold.fontName}' size='8.5'>{markup(row.full_name)}</font><br/>"
        f"<font size='7' color='#555555'>{markup(shown)}"
        + (f" · {markup(place)}" if place else "") + "</font>", st.cell)


def _override_cell(c: _Cell) -> Any:
    done = c.row.checkin
    return (Paragraph(_override(done, c.words), c.st.cell_small)
            if done and done.overridden_at else "")


# Plain strings where no markup is needed: a Table draws them without the Paragraph
# line-breaking machinery (a third of the layout time of a 500-candidate roster).
COLUMNS: tuple[Column, ...] = (
    Column("number", 40, lambda c: str(c.row.position), centred=True),
    Column("chip", 37, lambda c: _picture(c.roster, c.row.checkin, "portrait", c.st, c.words),
           centred=True),
    Column("live", 37, lambda c: _picture(c.roster, c.row.checkin, "frame", c.st, c.words),
           centred=True),
    Column("name", 150, _name),
    Column("id", 74, lambda c: nfc(c.row.id_number)),
    Column("dob", 54, lambda c: vn_date(c.row.date_of_birth)),
    Column("time", 60, lambda c: _when(c.row.checkin)),
    Column("result", 110,
           lambda c: Paragraph(_result(c.row, c.st, c.words, c.options), c.st.cell)),
    Column("override", 136, _override_cell),
    Column("signature", 88, lambda _c: ""),  # the candidate signs here, by hand
)
TABLE_WIDTH = sum(c.width for c in COLUMNS)  # 786 pt: the 785.2 pt between the margins
_KEYS = [c.key for c in COLUMNS]
_REASONS_FROM, _REASONS_TO = _KEYS.index("name"), _KEYS.index("override")
_BOTH_LINES = tuple(i for i, k in enumerate(_KEYS) if k in ("number", "chip", "live",
                                                              "signature"))


def _picture(roster: Roster, c: RosterCheckIn | None, which: str, st: Styles,
             words: Words) -> Any:
    ref = None if c is None else (c.portrait if which == "portrait" else c.frame)
    if ref is None:
        return Paragraph("—", st.cell)
    picture = roster.pictures.get(ref.id)
    if picture is None:
        key = "roster.pdf.purged" if ref.sha256 is None else "roster.pdf.unreadable"
        return Paragraph(markup(words(key)), st.cell_small)
    scale = min(THUMB_W / picture.width, THUMB_H / picture.height)
    return Image(io.BytesIO(picture.jpeg), width=picture.width * scale,
                 height=picture.height * scale)


def _when(c: RosterCheckIn | None) -> str:
    if c is None:
        return ""
    return f"{vn_time(c.decided_at, '%H:%M:%S')}\n{vn_time(c.decided_at, '%d/%m/%Y')}"


def _result(row: RosterRow, st: Styles, words: Words, options: RosterOptions) -> str:
    status = markup(label(words, "roster.status", row.status, STATUSES))
    colour = "#B00020" if row.status in (RosterStatus.REJECT, RosterStatus.REVIEW) else "#000000"
    text = f"<font name='{st.cell_bold.fontName}' color='{colour}'>{status}</font>"
    c = row.checkin
    if c is None:
        return text
    if c.face_outcome or c.face_distance is not None:
        face = label(words, "roster.face", c.face_outcome, FACE_OUTCOMES)
        text += (f"<br/><font size='7'>{markup(words('roster.pdf.face'))}: {markup(face)}"
                 f" ({decimal(c.face_distance, options.lang)})</font>")
    elif c.trust_verdict and c.trust_verdict != "FORGED":
        # No face compared (no consent, or stopped before the camera): said, not left out.
        text += (f"<br/><font size='7'>{markup(words('roster.pdf.face'))}: "
                 f"{markup(words('roster.pdf.face_not_compared'))}</font>")
    if c.liveness:
        # Every finding behind the decision (issue 13: a REVIEW for a failed liveness check
        # printed only a matching face and a genuine card).
        passed = c.liveness.lower() == "passed"
        colour = "#000000" if passed else "#B00020"
        said = words("roster.liveness.passed" if passed else "roster.liveness.failed")
        text += (f"<br/><font size='7' color='{colour}'>"
                 f"{markup(words('roster.pdf.liveness'))}: {markup(said)}</font>")
    if c.trust_verdict:
        text += (f"<br/><font size='7'>{markup(words('roster.pdf.chip'))}: "
                 f"{markup(label(words, 'roster.trust', c.trust_verdict, VERDICTS))}</font>")
    return text + _history(row, words)


def _reasons_line(row: RosterRow, st: Styles, words: Words,
                  options: RosterOptions) -> Paragraph | None:
    """Every reason behind the decision, in words (issue 13: a REVIEW for a failed liveness
    check printed only a matching face and a genuine card), then those of the other attempts.
    Drawn on a line of its own under the candidate's, across the columns from the name to the
    override: a long list wraps there in a few lines instead of a narrow cell's many."""
    c = row.checkin
    if c is None:
        return None
    parts = []
    said = _reasons(c.reasons, words, options.lang)
    if said:
        parts.append(f"<font name='{st.cell_bold.fontName}'>"
                     f"{markup(words('roster.pdf.reasons'))}:</font> "
                     + " ".join(f"• {markup(line)}" for line in said))
    for a in row.history:
        said = _reasons(a.reasons, words, options.lang)
        if said:
            decision = label(words, "roster.status", a.decision, STATUSES)
            title = words(f"roster.pdf.{a.when}_attempt", at=vn_time(a.decided_at, "%H:%M"),
                          decision=decision)
            parts.append(f"<font color='#333333'>{markup(title)} — "
                         + " ".join(f"• {markup(line)}" for line in said) + "</font>")
    return Paragraph("<br/>".join(parts), st.cell_small) if parts else None


def _reasons(reasons: Sequence[RosterReason], words: Words, lang: str) -> list[str]:
    """Each reason's words once, in the order found (a clone fails two chip checks: one
    sentence)."""
    return list(dict.fromkeys(reason_text(words, r.key, dict(r.context), lang)
                              for r in reasons))


def _history(row: RosterRow, words: Words) -> str:
    """The candidate's other attempts under the state: when the admission was, then each
    refusal before it and each card presented after it (the state never follows them)."""
    if not row.history or row.checkin is None:
        return ""
    lines = []
    if row.status == RosterStatus.ADMIT:
        lines.append(words("roster.pdf.first_admission",
                           at=vn_time(row.checkin.decided_at, "%H:%M"))
                     + _desk(row.checkin.desk, words))
    for a in row.history:
        decision = label(words, "roster.status", a.decision, STATUSES)
        if a.trust_verdict and a.trust_verdict != "TRUSTED":
            decision += f" – {words('roster.pdf.chip')}: " + label(
                words, "roster.trust", a.trust_verdict, VERDICTS)
        lines.append(words(f"roster.pdf.{a.when}_attempt",
                           at=vn_time(a.decided_at, "%H:%M"), decision=decision)
                     + _desk(a.desk, words))
    return "".join(f"<br/><font size='6.5' color='#333333'>{markup(line)}</font>"
                   for line in lines)


def _desk(desk: str | None, words: Words) -> str:
    return f" ({words('roster.pdf.at_desk', desk=desk)})" if desk else ""


def _override(c: RosterCheckIn | None, words: Words) -> str:
    if c is None or c.overridden_at is None:
        return ""
    change = (f"{label(words, 'roster.status', c.machine_decision, STATUSES)} → "
              f"{label(words, 'roster.status', c.decision, STATUSES)}")
    forged = ""
    if c.trust_verdict == "FORGED" and str(c.decision) == "ADMIT":
        # Admitted on a forged card: the centre admin's decision, said on the signed roster.
        forged = f"<font color='#B00020'>{markup(words('roster.pdf.forged_admitted'))}</font><br/>"
    return (f"{forged}<font color='#B00020'>{markup(change)}</font> "
            f"({vn_time(c.overridden_at)})<br/>{markup(c.override_reason)}")


def _totals(section: RosterSection, st: Styles, words: Words) -> Table:
    t = section.totals
    cells = [(words("roster.total.rostered"), t.rostered),
             (words("roster.total.admitted"), t.admitted),
             (words("roster.total.rejected"), t.rejected),
             (words("roster.total.review"), t.review),
             (words("roster.total.absent"), t.absent),
             (words("roster.total.not_on_roster"), t.not_on_roster)]
    head = [Paragraph(markup(label), st.head_cell) for label, _ in cells]
    values = [Paragraph(f"<font name='{st.bold.fontName}' size='11'>{n}</font>", st.body)
              for _, n in cells]
    table = Table([[Paragraph(markup(words("roster.pdf.totals")), st.bold), *head],
                   ["", *values]], colWidths=[90] + [96] * len(cells), hAlign="LEFT")
    table.setStyle(TableStyle([("GRID", (1, 0), (-1, -1), 0.4, RULE),
                               ("BACKGROUND", (1, 0), (-1, 0), LIGHT),
                               ("SPAN", (0, 0), (0, 1)), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("ALIGN", (1, 1), (-1, 1), "CENTER")]))
    return table


def _handwritten(st: Styles, words: Words, kind: SessionKind) -> Table:
    """Two boxes for the people on duty to sign by hand (the paper copy's signatures)."""
    key = "roster.pdf.examiner" if kind is SessionKind.DRIVING_TEST else "roster.pdf.invigilator"
    cells = [Paragraph(markup(words(key, n=n)) + "<br/><font size='7' color='#666666'>"
                       + markup(words("roster.pdf.sign_hint")) + "</font>", st.body)
             for n in (1, 2)]
    table = Table([cells, ["", ""]], colWidths=[250, 250], rowHeights=[None, 44],
                  hAlign="LEFT")
    table.setStyle(TableStyle([("BOX", (0, 0), (0, -1), 0.4, RULE),
                               ("BOX", (1, 0), (1, -1), 0.4, RULE),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


__all__ = ["ROSTER_THUMB", "SIGNATURE_FIELD", "Roster", "RosterOptions", "RosterPdf",
           "build_roster", "render_roster", "roster_pdf"]
