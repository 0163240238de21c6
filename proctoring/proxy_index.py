"""The proxy screen through the face index: the district's stored faces in a file the office keeps.

The database stays the source of truth; the index file (:mod:`.face_index`, next to the
office's data, one per district) is a cache of it that must never hide a pair:

- every face in it is labelled with its evidence item, the check-in it belongs to and the
  identity of the sealed blob it was read from (its nonce and GCM tag: a blob re-sealed or
  replaced in the database has another);
- before each screen the file is opened (a file that is missing, altered, cut short, written
  with another key or for another district is rebuilt from the database) and compared with
  the database's list of stored faces (ids and blob identities only, no decryption): faces the
  database has and the file lacks (a screen that crashed before saving, another office machine's
  screen) are decrypted and added; a face whose blob changed, a face the database no longer
  has (purged, its decision overridden) or a count that does not add up rebuilds the index
  from the database. The index is also retrained when it has grown 16-fold since it was
  trained (its cells would be too long);
- the index only proposes candidates: each is re-read from the database, decrypted and
  compared exactly before it counts. New faces are compared with each other exactly.

``examdesk district reindex`` rebuilds the file from the database on demand.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlmodel import Session

from examdesk.paths import data_dir, file_stem

from . import face_index
from .district import Office
from .district_models import ProxyScreen
from .errors import ProctoringError
from .evidence import open_blob
from .face_index import Candidates, FaceIndex, IndexFileInvalid, exact_pairs
from .models import CheckIn, Decision, Evidence, EvidenceBlob, EvidenceKind

_CHUNK = 500
BLOCK = 50_000
"""Evidence items a rebuild decrypts at a time: ~40 MB of rows and their Python objects."""
RETRAIN_GROWTH = 16

# One row per stored face; the faiss label of a face is its row number here.
MANIFEST = np.dtype([("evidence", "V16"), ("checkin", "V16"), ("seal", "V28"), ("row", "<u2"),
                     ("live", "?")])


def default_path(office: Office) -> Path:
    """``<data dir>/district/<district code>-faces.index`` on the office's machine."""
    return data_dir() / "district" / f"{file_stem(office.district.code)}-faces.index"


@dataclass(frozen=True)
class StoredFace:
    evidence_id: uuid.UUID
    checkin_id: uuid.UUID
    seal: bytes  # nonce + GCM tag of its blob as the database holds it


@dataclass
class DistrictIndex:
    """The index and its label table, as loaded or built for one screen."""

    index: FaceIndex
    manifest: NDArray[Any]
    report: dict[str, Any] = field(default_factory=dict)

    def live(self) -> int:
        return int(self.manifest["live"].sum())

    def evidence_of(self, labels: NDArray[np.int64]) -> list[tuple[uuid.UUID, int]]:
        rows = self.manifest[labels]
        return [(uuid.UUID(bytes=bytes(r["evidence"])), int(r["row"])) for r in rows]

    def checkin_of(self, label: int) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(self.manifest[label]["checkin"]))


# --- what the database holds ------------------------------------------------------------------


def stored_faces(tx: Session) -> dict[uuid.UUID, StoredFace]:
    """Evidence id → its stored face item: the live embeddings (not purged) of admitted,
    screened check-ins. Ids and blob identities only: nothing is decrypted."""
    e, b, c = (Evidence.__table__.c, EvidenceBlob.__table__.c,  # type: ignore[attr-defined]
               CheckIn.__table__.c)  # type: ignore[attr-defined]
    p = ProxyScreen.__table__.c  # type: ignore[attr-defined]
    tag = sa.func.substr(b.ciphertext, sa.func.length(b.ciphertext) - 15, 16)
    rows = tx.connection().execute(
        sa.select(e.id, e.checkin_id, b.nonce, tag)
        .join(EvidenceBlob, b.id == e.id).join(CheckIn, c.id == e.checkin_id)
        .join(ProxyScreen, p.id == c.id)
        .where(c.decision == Decision.ADMIT.value)
        .where(e.kind == EvidenceKind.LIVE_EMBEDDING.value)
        .where(e.purged_at.is_(None)))
    return {r[0]: StoredFace(r[0], r[1], _seal(r[2], r[3])) for r in rows}


def _seal(nonce: bytes | None, tag: bytes | None) -> bytes:
    out = bytes(nonce or b"")[:12].ljust(12, b"\0") + bytes(tag or b"")[:16].ljust(16, b"\0")
    return out


def read_faces(office: Office, ids: list[uuid.UUID]
               ) -> tuple[dict[uuid.UUID, list[NDArray[np.float32]]], dict[uuid.UUID, str]]:
    """Decrypted unit rows of these evidence items, and the ones that could not be read
    (evidence id → reason: "unreadable" or "malformed", with the detail after a colon)."""
    from .proxy_search import unit_rows

    out: dict[uuid.UUID, list[NDArray[np.float32]]] = {}
    bad: dict[uuid.UUID, str] = {}
    with office.store.read() as tx:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            rows = tx.exec(sa.select(Evidence, EvidenceBlob)  # type: ignore[call-overload]
                           .join(EvidenceBlob, EvidenceBlob.id == Evidence.id)  # type: ignore[arg-type]
                           .where(Evidence.id.in_(chunk)))  # type: ignore[attr-defined]
            for ev, blob in rows:
                try:
                    plain = open_blob(office.store, ev, blob)
                except (ProctoringError, ValueError, TypeError) as exc:
                    bad[ev.id] = f"unreadable:{type(exc).__name__}: {exc}"
                    continue
                try:
                    out[ev.id] = unit_rows(plain)
                except ValueError as exc:
                    bad[ev.id] = f"malformed:{exc}"
    for missing in set(ids) - set(out) - set(bad):
        bad[missing] = "unreadable:no blob"
    return out, bad


# --- opening, checking, building ---------------------------------------------------------------


def open_index(office: Office, path: Path, stored: dict[uuid.UUID, StoredFace]
               ) -> tuple[DistrictIndex, dict[uuid.UUID, str]]:
    """The index for these stored faces: loaded and checked, caught up, or rebuilt. Returns it
    with the stored faces that could not be read (evidence id → reason)."""
    key = _key(office)
    try:
        index, manifest_bytes, header = face_index.load(path, key)
        manifest = _manifest(manifest_bytes, len(index), header, office)
    except IndexFileInvalid as exc:
        return rebuild(office, path, stored, reason=f"file: {exc.detail}")
    have: dict[uuid.UUID, bytes] = {}
    for r in manifest[manifest["live"]]:
        have.setdefault(uuid.UUID(bytes=bytes(r["evidence"])), bytes(r["seal"]))
    changed = [i for i, s in have.items() if i in stored and stored[i].seal != s]
    if changed:  # a blob re-sealed under an id the index knows: nothing normal does that
        return rebuild(office, path, stored, reason=f"database: {len(changed)} face(s) changed")
    gone = {i.bytes for i in have if i not in stored}  # purged, or no longer admitted
    if gone:
        dead = np.flatnonzero(manifest["live"] & np.isin(
            manifest["evidence"].view("S16"), np.array(sorted(gone), dtype="S16")))
        index.remove(dead.astype(np.int64))
        manifest["live"][dead] = False
    if (~manifest["live"]).sum() > max(1024, manifest["live"].sum()):
        return rebuild(office, path, stored, reason="more removed faces than stored ones")
    if len(index) > RETRAIN_GROWTH * max(1, index.trained_on) \
            and index.params.nlist < face_index.IndexParams.for_size(len(index)).nlist:
        return rebuild(office, path, stored, reason=f"grown from {index.trained_on} "
                                                     f"to {len(index)} faces")
    found = DistrictIndex(index, manifest, {"loaded": True, "rebuilt": None})
    missing = [stored[i] for i in stored if i not in have]
    bad = add_faces(office, found, missing) if missing else {}
    found.report.update(caught_up=len(missing) - len(bad), removed=len(gone))
    if missing or gone:
        save_index(office, path, found)
    return found, bad


def rebuild(office: Office, path: Path, stored: dict[uuid.UUID, StoredFace], *,
            reason: str, block: int = BLOCK) -> tuple[DistrictIndex, dict[uuid.UUID, str]]:
    """A new index of every stored face, read and decrypted from the database, saved.

    Streamed, ``block`` evidence items decrypted at a time, so that memory stays bounded by the
    index (holding every decrypted face at once took ~3 kB a face: ~30 GB at 10^7 against the
    6 GB limit). Each item's rows are first counted from its recorded plaintext size (nothing
    decrypted); the rows :meth:`FaceIndex.training_rows` picks from that count are decrypted
    to train the cells; a pass decrypts every item, places its rows, finds the unreadable ones
    and sizes each list once (:meth:`FaceIndex.reserve`); a last pass decrypts again and adds
    the rows where they were placed (decrypting twice costs time, holding everything the
    memory). Labels and the manifest follow the items' sorted order and, when every face opens
    as recorded, the cells are those a train on every row gives, as when everything was read at
    once; only the order of the entries within a list follows the blocks."""
    if block < 1:
        raise ValueError(f"a block of {block} items")
    t0 = time.perf_counter()
    items = sorted(stored.values(), key=lambda s: s.evidence_id.bytes)
    bad: dict[uuid.UUID, str] = {}
    counts = _recorded_rows(office, items)
    sample = _training_sample(office, items, counts, block, bad) if counts.sum() else None
    if items and (sample is None or not len(sample)):
        # Sizes that say nothing, or only of faces that do not open: an empty index would hide
        # the faces that do, so their rows are counted as they open.
        for start, faces in _blocks(office, items, block, bad):
            for k, s in enumerate(items[start:start + block]):
                counts[start + k] = len(faces.get(s.evidence_id, ()))
        sample = _training_sample(office, items, counts, block, bad) if counts.sum() else None
    estimate = int(counts.sum())
    if sample is None or not len(sample):  # nothing stored, or nothing opens
        built = DistrictIndex(_empty(), np.zeros(0, MANIFEST), {"loaded": False, "rebuilt": reason})
    else:
        index = FaceIndex.train(sample, total=estimate)
        del sample
        places: list[face_index.Placement] = []
        for start, faces in _blocks(office, items, block, bad):
            for k, s in enumerate(items[start:start + block]):  # the rows as they open
                counts[start + k] = len(faces.get(s.evidence_id, ()))
            rows, _ = _block_rows(items, start, block, faces, counts, bad)
            places.append(index.placement(rows))
        total = int(counts.sum())
        index.trained_on = total
        built = DistrictIndex(index, np.zeros(total, MANIFEST), {"loaded": False,
                                                                  "rebuilt": reason})
        index.reserve(sum((p.counts(index.params.nlist) for p in places),
                          np.zeros(index.params.nlist, np.int64)))
        added = 0
        for k, (start, faces) in enumerate(_blocks(office, items, block, bad)):
            rows, held = _block_rows(items, start, block, faces, counts, bad)
            if not len(rows):
                continue
            built.manifest[added:added + len(rows)] = held
            # A block whose items changed between the passes (a blob that stopped opening)
            # was placed for other rows: placed again by the add.
            same = len(rows) == len(places[k].first)
            index.add(rows, np.arange(added, added + len(rows), dtype=np.int64),
                      places[k] if same else None)
            added += len(rows)
        if added < total:
            built.manifest = built.manifest[:added].copy()
    built.report["build_seconds"] = round(time.perf_counter() - t0, 3)
    save_index(office, path, built)
    return built, bad


def _blocks(office: Office, items: list[StoredFace], block: int, bad: dict[uuid.UUID, str]
            ) -> Iterator[tuple[int, dict[uuid.UUID, list[NDArray[np.float32]]]]]:
    """Each block's decrypted faces (its first item's position, evidence id → rows); items
    that do not open are added to ``bad`` (the first reason kept) and left out."""
    for start in range(0, len(items), block):
        faces, unread = read_faces(office, [s.evidence_id for s in items[start:start + block]])
        for evidence, why in unread.items():
            bad.setdefault(evidence, why)
        yield start, faces


def _block_rows(items: list[StoredFace], start: int, block: int,
                faces: dict[uuid.UUID, list[NDArray[np.float32]]], counts: NDArray[np.int64],
                bad: dict[uuid.UUID, str]) -> tuple[NDArray[np.float32], NDArray[Any]]:
    """A block's rows and their manifest rows, in the items' order. An item whose row count
    is not the placing pass's (its blob replaced or unreadable since) is reported and left out:
    the index stays a subset of the database, which the screen checks against anyway."""
    keep: list[tuple[StoredFace, list[NDArray[np.float32]]]] = []
    for k, s in enumerate(items[start:start + block]):
        vs = faces.get(s.evidence_id)
        if vs is None or s.evidence_id in bad:
            continue
        if len(vs) != counts[start + k]:
            bad[s.evidence_id] = "unreadable:changed during the rebuild"
            continue
        keep.append((s, vs))
    return _stack(keep)


def _stack(items: list[tuple[StoredFace, list[NDArray[np.float32]]]]
           ) -> tuple[NDArray[np.float32], NDArray[Any]]:
    """The items' rows as one array, and a manifest row for each (evidence, check-in, seal,
    position in its evidence, live), in the items' order."""
    n = sum(len(vs) for _, vs in items)
    rows = np.empty((n, face_index.DIM), np.float32)
    held = np.zeros(n, MANIFEST)
    k = 0
    for s, vs in items:
        for j, v in enumerate(vs):
            held[k] = (s.evidence_id.bytes, s.checkin_id.bytes, s.seal, j, True)
            rows[k] = v
            k += 1
    return rows, held


def _recorded_rows(office: Office, items: list[StoredFace]) -> NDArray[np.int64]:
    """Each item's rows as its recorded plaintext size gives them (128 float32 a row), without
    decrypting: what picks the training rows. The passes that decrypt count what opens."""
    e = Evidence.__table__.c  # type: ignore[attr-defined]
    counts = np.zeros(len(items), np.int64)
    with office.store.read() as tx:
        for start in range(0, len(items), _CHUNK):
            chunk = items[start:start + _CHUNK]
            rows = tx.connection().execute(sa.select(e.id, e.size).where(
                e.id.in_([s.evidence_id for s in chunk])))
            sizes: dict[uuid.UUID, int] = {r[0]: r[1] for r in rows}
            counts[start:start + len(chunk)] = [max(0, int(sizes.get(s.evidence_id) or 0))
                                                for s in chunk]
    return counts // (4 * face_index.DIM)


def _training_sample(office: Office, items: list[StoredFace], counts: NDArray[np.int64],
                     block: int, bad: dict[uuid.UUID, str]) -> NDArray[np.float32]:
    """The rows :meth:`FaceIndex.train` would pick from all ``counts.sum()`` rows, decrypting
    only the items that hold them (at most ~164 000 rows at 4096 cells)."""
    total = int(counts.sum())
    pick = FaceIndex.training_rows(total, face_index.IndexParams.for_size(total))
    if pick is None:
        pick = np.arange(total, dtype=np.int64)
    ends = np.cumsum(counts)
    owner = np.searchsorted(ends, pick, side="right")
    offset = pick - (ends[owner] - counts[owner])
    wanted = np.unique(owner)
    sample = np.zeros((len(pick), face_index.DIM), np.float32)
    got = np.zeros(len(pick), bool)
    for lo in range(0, len(wanted), block):
        part = wanted[lo:lo + block]
        faces, unread = read_faces(office, [items[int(i)].evidence_id for i in part])
        for evidence, why in unread.items():
            bad.setdefault(evidence, why)
        first = np.searchsorted(owner, part[0], side="left")
        last = np.searchsorted(owner, part[-1], side="right")
        for r in range(int(first), int(last)):
            vs = faces.get(items[int(owner[r])].evidence_id)
            if vs is not None and offset[r] < len(vs):
                sample[r] = vs[int(offset[r])]
                got[r] = True
    # A face that does not open (or holds fewer rows than its size says) is reported by the
    # passes that follow; the cells are trained without it.
    return sample if got.all() else sample[got]


def reindex(office: Office, path: Path | None = None) -> dict[str, Any]:
    """Rebuild the index file from the database (``examdesk district reindex``)."""
    path = path or default_path(office)
    with office.store.read() as tx:
        stored = stored_faces(tx)
    found, bad = rebuild(office, path, stored, reason="asked")
    return {**found.report, "indexed": found.live(), "unreadable": len(bad), "path": str(path)}


def add_faces(office: Office, found: DistrictIndex, items: list[StoredFace]
              ) -> dict[uuid.UUID, str]:
    faces, bad = read_faces(office, [s.evidence_id for s in items])
    _add(found, [(s, faces[s.evidence_id]) for s in items if s.evidence_id in faces])
    return bad


def add_read(found: DistrictIndex, items: list[tuple[StoredFace, list[NDArray[np.float32]]]]
             ) -> None:
    """Faces already decrypted (the screen's new ones) into the index."""
    _add(found, items)


def _add(found: DistrictIndex, items: list[tuple[StoredFace, list[NDArray[np.float32]]]]) -> None:
    vectors, more = _stack(items)
    rows = len(vectors)
    if not rows:
        return
    start = len(found.manifest)
    found.manifest = np.concatenate([found.manifest, more])
    found.index.add(vectors, np.arange(start, start + rows, dtype=np.int64))


def save_index(office: Office, path: Path, found: DistrictIndex) -> None:
    face_index.save(path, found.index, found.manifest.tobytes(), _key(office),
                    {"district": str(office.district.id), "format": 1,
                     "manifest_rows": len(found.manifest)})


def exact_candidates(office: Office, found: DistrictIndex, new: NDArray[np.float32],
                     threshold: float) -> tuple[list[tuple[int, int, float]], Candidates,
                                                dict[uuid.UUID, str]]:
    """(new row, label, exact distance) within the threshold, the index's candidates, and the
    candidates' evidence that could not be read again (evidence id → reason)."""
    cands = found.index.candidates(new, threshold)
    live = found.manifest["live"][cands.labels] if len(cands.labels) else np.zeros(0, bool)
    cands = Candidates(cands.queries[live], cands.labels[live], cands.approx[live])
    where = found.evidence_of(np.unique(cands.labels))
    faces, bad = read_faces(office, sorted({e for e, _ in where}))
    readable = np.array([uuid.UUID(bytes=bytes(found.manifest[label]["evidence"])) in faces
                         for label in cands.labels], dtype=bool)
    cands = Candidates(cands.queries[readable], cands.labels[readable], cands.approx[readable])

    def rows_of(labels: NDArray[np.int64]) -> NDArray[np.float32]:
        out = np.empty((len(labels), face_index.DIM), np.float32)
        for k, (evidence, row) in enumerate(found.evidence_of(labels)):
            vs = faces[evidence]
            out[k] = vs[row] if row < len(vs) else np.zeros(face_index.DIM, np.float32)
        return out

    return exact_pairs(new, cands, rows_of, threshold), cands, bad


def _manifest(raw: bytes, ntotal: int, header: dict[str, Any], office: Office) -> NDArray[Any]:
    if header.get("district") != str(office.district.id) or header.get("format") != 1:
        raise IndexFileInvalid("another district's or another format's index")
    if len(raw) % MANIFEST.itemsize:
        raise IndexFileInvalid("label table of the wrong size")
    manifest = np.frombuffer(raw, MANIFEST).copy()
    if int(manifest["live"].sum()) != ntotal or header.get("manifest_rows") != len(manifest):
        raise IndexFileInvalid(f"{ntotal} faces indexed, {int(manifest['live'].sum())} labelled")
    return manifest


def _key(office: Office) -> bytes:
    return face_index.file_key(office.store.data_key.key, str(office.district.id))


def _empty() -> FaceIndex:
    # Nothing stored yet: a one-cell index, trained on one row, that the first adds fill.
    return FaceIndex.train(np.eye(1, face_index.DIM, dtype=np.float32),
                           face_index.IndexParams(1, 1, 0.03))
