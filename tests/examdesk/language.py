"""Is there English inside a Vietnamese text? The heuristic the one-language tests share.

Vietnamese is written in syllables, and a syllable written without diacritics still has the
shape onset + vowels + coda (``thi``, ``trong``, ``nghiêng`` → ``nghieng``). A Latin word that
cannot be such a syllable (``the``... aside) is a foreign word: ``file``, ``digits``, ``Stage``,
``empty``. A few English words do look like syllables (``the``, ``not``, ``got``): those are
listed. What a Vietnamese sentence legitimately carries is stripped first: placeholders, quoted
values the user typed, options (``--dob``), paths and file names, acronyms (CCCD, PDF, MRZ, CAN)
and a short allow-list of names and loan words (examdesk, camera, …).
"""

from __future__ import annotations

import re

# onset? vowels{1,3} coda? — every Vietnamese syllable once its diacritics are gone.
_SYLLABLE = re.compile(
    r"^(ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnprstvx])?[aeiouy]{1,3}(ng|nh|ch|[cmnpt])?$")
# English words of syllable shape; none is a Vietnamese word written without its marks.
_ENGLISH_LOOKALIKES = frozenset({
    "the", "not", "got", "but", "get", "set", "let", "then", "than", "when", "yet", "per",
    "ten", "pen", "hit", "bit", "nut", "cut", "hot", "top", "tip", "net", "pet",
})
# Names, products and loan words a Vietnamese sentence uses as they are.
ALLOWED = frozenset({
    "examdesk", "camera", "webcam", "video", "demo", "online", "keyring", "pcscd", "vpcd",
    "postgresql", "sqlite", "excel", "opencv", "dlib", "onnx", "pyhanko", "python", "windows",
    "linux", "email", "emrtd", "icao", "barcode", "chip", "applet", "ngrok", "admin", "sha",
    "hash", "csca", "ocsp", "crl", "pkcs", "x509", "asn", "der", "pem", "json", "csv", "xlsx",
    "pdf", "toml", "utf", "jpeg", "png", "ctrl", "enter", "esc", "tab", "alt", "shift", "space",
    "delete",  # the key, as its cap reads
    "faiss", "mrz", "cmnd", "cccd", "id", "sbd", "gpu", "cpu", "ram", "url", "ip", "dns", "ssl",
    "tls", "log", "logo", "token", "mode", "ok", "vs", "usb", "mb", "kb", "gb", "ms", "byte",
    "local",  # the default centre's code
    "xvfb", "pades", "pdftoppm", "truetype", "px", "yyyy", "mm", "dd", "ddmmyyyy", "hh",
})
# Messages whose Vietnamese text is bilingual on purpose: shown alone (a PDF signature stamp),
# it carries both languages itself.
BILINGUAL_BY_DESIGN = frozenset({"signing.stamp.title"})

# Vietnamese texts that show an error's ``detail``. What is left may show it because the detail
# is not our English but a value or another system's own words:
SYSTEM_WORDS_DETAIL = frozenset({
    # system_error(exc): Vietnamese words for the usual causes (no such file, permission, disk
    # full, read-only, ...), the operating system's own text for a rare errno.
    "io.output", "roster.unreadable", "trust.import_unreadable", "trust.store_write",
    "reports.output", "reports.key_unreadable", "settings.unreadable", "settings.unwritable",
    "card.emulate_refused", "proctoring.key_unavailable.os",
    # The words of another program, shown as it gave them: Tk's reason for a display it cannot
    # open; PostgreSQL's (or its driver's) message for a refused login or a lost server, and
    # SQLite's or the driver's for a database that cannot be opened (its URL is worded); the
    # OS keyring backend's error (its type and first line: KeyringLocked, a D-Bus error).
    "app.display_unreachable", "sync.central_unavailable", "sync.access_refused", "sync.error",
    "proctoring.keyring_unavailable", "proctoring.database_unavailable",
    # A bug: Python's own name and text for an exception nobody expected, for the report.
    "app.unexpected",
})
VALUE_DETAIL = frozenset({
    # The data groups themselves (DG3, DG14; EF.COM / EF.SOD): names, not sentences.
    "verdict.com_sod_mismatch", "verdict.signed_group_unreadable",
})
# The debt left by issue 13: English detail still inside a Vietnamese text. Paid off (verify13:
# `roster verify`'s content findings are worded); a new text must not show {detail} in
# Vietnamese, so this stays empty.
DETAIL_DEBT: frozenset[str] = frozenset()
DETAIL_IN_VIETNAMESE = SYSTEM_WORDS_DETAIL | VALUE_DETAIL | DETAIL_DEBT

_STRIP = [
    re.compile(r"examdesk(?:\s+[a-z][a-z-]*)+"),  # a command to type: examdesk keys create
    re.compile(r"apt-get install"),
    re.compile(r"\{[^}]*\}"),                   # placeholders
    re.compile(r"«[^»]*»|“[^”]*”|\"[^\"]*\"|'[^']*'|`[^`]*`"),  # values quoted
    re.compile(r"(?<!\w)--?[\w-]+"),            # options
    re.compile(r"\S*[/\\.]\S*\w\S*"),            # paths, file names, dotted keys, URLs
    re.compile(r"\S*\d\S*"),                     # codes with digits (DG13, A4, 0600)
]
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def english_words(text: str) -> list[str]:
    """The Latin-script words of *text* that are not Vietnamese (nor allowed names)."""
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    found = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        # A run of ASCII letters glued to a letter with diacritics is part of a Vietnamese word.
        if (start and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha()):
            continue
        word = match.group()
        if word.isupper():
            continue  # an acronym (CCCD, PDF, MRZ, CAN, QR) or a key (F3, A–Z)
        lower = word.lower()
        if lower in ALLOWED:
            continue
        if lower in _ENGLISH_LOOKALIKES or not _SYLLABLE.match(lower):
            found.append(word)
    return found
