"""Cross-centre proxy search: one man's face under two IDs at two centres, found by the office.

Descriptors come from real photos (``real_faces``): obama.jpg and obama2.jpg are the same man,
the hired proxy, sitting as two different candidates; the other people are other people, and
biden.jpg / biden2.jpg are one candidate (one ID) who sits at both centres, which is no fraud.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import sqlalchemy as sa

from biometrics.config import ORL_POINT
from examdesk.i18n import Catalog
from proctoring.models import CheckIn, IncidentKind, IncidentStatus, Severity
from proctoring.proxy_search import pair_incident_id, screen_district, screen_faces
from proctoring.review import IncidentQuery, decide, incident_file, list_incidents
from proctoring.store import Store
from proctoring.sync import local_centre, sync_once
from reports.incidents import Category, Period, collect_fraud
from tests.proctoring.helpers import photo

from .builders import admit, person, session_with_roster
from .conftest import DistrictEnv

PROXY_A, PROXY_B, PROXY_C = "obama/obama.jpg", "obama/obama2.jpg", "obama/obama3.jpg"

# These centres check people/ photos (Obama plays the proxy): the district screens with the
# review edge of an operating point calibrated on such faces (the ORL one, issue 14). The
# shipped default is calibrated on East Asian faces and is stricter: two of the proxy's photos
# are 0.27–0.33 apart, inside its review band, and would not be flagged.
THRESHOLD = ORL_POINT.review_low


def _sit(store: Store, code: str, sitters: list[tuple[tuple[str, str, date, str], str]],
         faces: dict[str, np.ndarray]) -> dict[str, CheckIn]:
    """One session where each candidate's check-in shows the face in the given photo."""
    session, entries = session_with_roster(store, code, [p for p, _ in sitters])
    out: dict[str, CheckIn] = {}
    for (who, picture), entry in zip(sitters, entries, strict=True):
        out[picture] = admit(store, session, entry, who[0], faces[picture],
                             frame=photo(picture)).checkin
    return out


def test_the_same_proxy_face_at_two_centres_is_one_cross_centre_incident(
        district: DistrictEnv, centres: dict[str, Store],
        real_faces: dict[str, np.ndarray]) -> None:
    hn, hp = centres["HN01"], centres["HP02"]
    same_person = person(7)  # biden sits at both centres under his own ID: not a proxy
    at_hn = _sit(hn, "S1", [(person(1), PROXY_A), (same_person, "biden/biden.jpg"),
                            (person(2), "person01/img26.jpg")], real_faces)
    at_hp = _sit(hp, "S1", [(person(3), PROXY_B), (same_person, "biden/biden2.jpg"),
                            (person(4), "person02/img1.jpg")], real_faces)
    for code, store in centres.items():
        assert sync_once(store, district.centre_urls[code]).ok

    with district.office() as office:
        first = screen_district(office, actor="office:screen", threshold=THRESHOLD)
        assert (first.screened, first.faces_new, first.faces_stored) == (6, 6, 0)
        assert len(first.incidents) == 1 and first.pairs == 1
        incident_id = first.incidents[0]
        a, b = at_hn[PROXY_A], at_hp[PROXY_B]
        assert incident_id == pair_incident_id(a.id, b.id)

        row = list_incidents(office, IncidentQuery(kind=IncidentKind.PROXY_SUSPECTED))
        assert [r.incident.id for r in row] == [incident_id]
        proxy = row[0]
        assert proxy.owner == "SGD-HN"  # the office's: it names another centre's candidate
        assert set(proxy.centres) == {"SGD-HN", "HN01", "HP02"}
        assert set(proxy.checkin_ids) == {a.id, b.id}
        assert proxy.incident.severity is Severity.CRITICAL
        details = proxy.incident.details
        assert details["scope"] == "cross_centre"
        assert details["centre_codes"] == ["HN01", "HP02"]
        assert set(details["centres"]) == {str(local_centre(hn).id), str(local_centre(hp).id)}
        assert 0 < details["distance"] < details["threshold"]
        # Found from either centre's side.
        for code in ("HN01", "HP02"):
            assert incident_id in {r.incident.id for r in list_incidents(
                office, IncidentQuery(centre=code, kind=IncidentKind.PROXY_SUSPECTED))}

        # Both check-ins' evidence side by side, decrypted with each centre's own key.
        dossier = incident_file(office, str(incident_id)[:8])
        assert [s.centre_code for s in dossier.sides] == ["HN01", "HP02"]
        assert [s.frame.data for s in dossier.sides if s.frame] == [photo(PROXY_A),
                                                                    photo(PROXY_B)]
        assert all(s.portrait and s.portrait.state == "ok" for s in dossier.sides)
        assert {s.checkin.id_number for s in dossier.sides} == {person(1)[0], person(3)[0]}

        # Screening again finds nothing new and opens nothing twice.
        again = screen_district(office, actor="office:screen", threshold=THRESHOLD)
        assert (again.screened, again.faces_stored, again.incidents) == (0, 6, ())

    # A centre's login does not see the office's proxy incident (it names HP02's candidate).
    engine = sa.create_engine(district.centre_urls["HN01"])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM incident WHERE id = :i"),
                            {"i": incident_id}).scalar_one() == 0
    engine.dispose()

    # The next day the proxy sits again at HN01 under a third ID: only the new check-in is
    # screened, against everything stored, and it links to both earlier appearances.
    later = _sit(hn, "S2", [(person(5), PROXY_C)], real_faces)
    assert sync_once(hn, district.centre_urls["HN01"]).ok
    with district.office() as office:
        day2 = screen_district(office, actor="office:screen", threshold=THRESHOLD)
        assert (day2.screened, day2.faces_new, day2.faces_stored) == (1, 1, 6)
        assert set(day2.incidents) == {pair_incident_id(later[PROXY_C].id, a.id),
                                       pair_incident_id(later[PROXY_C].id, b.id)}
        scopes = sorted(r.incident.details["scope"] for r in list_incidents(
            office, IncidentQuery(kind=IncidentKind.PROXY_SUSPECTED)))
        assert scopes == ["cross_centre", "cross_centre", "same_centre"]

        decide(office, str(incident_id), status=IncidentStatus.CONFIRMED,
               notes="Cùng một người thi hộ ở hai trung tâm", actor="office:reviewer")
        # The district-wide fraud report (reports/, unchanged) with both pictures decrypted.
        data = collect_fraud(office.store, Period(date(2020, 1, 1), date(2100, 1, 1)))
    proxies = [f for f in data.findings if f.category is Category.PROXY]
    assert len(proxies) == 3
    confirmed = next(f for f in proxies if f.id == incident_id)
    assert confirmed.status == "CONFIRMED" and confirmed.centre_code == "SGD-HN"
    assert [c.frame.state for c in confirmed.checkins if c.frame] == ["ok", "ok"]
    assert all(c.frame and c.frame.thumb for c in confirmed.checkins)
    # An office incident sends no notice to a centre.
    assert sync_once(hn, district.centre_urls["HN01"]).reviews_applied == 0


def _units(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 128)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_screen_faces_compares_new_with_new_and_stored_only() -> None:
    stored = _units(3000, 1)
    new = _units(500, 2)
    stored[10] = stored[2900]  # a pair among stored faces: screened earlier, not again
    new[7] = stored[1234] + 0.001 * _units(1, 3)[0]  # new vs stored
    new[7] /= np.linalg.norm(new[7])
    new[400] = new[3]  # new vs new
    found = {(p.new, p.other) for p in screen_faces(new, stored, 0.3)}
    assert found == {(7, 500 + 1234), (3, 400)}
    assert screen_faces(new[:0], stored, 0.3) == []
    assert {(p.new, p.other) for p in screen_faces(new, stored[:0], 0.3)} == {(3, 400)}


def test_a_centre_cannot_hide_its_own_proxy_case_by_taking_the_incident_id(
        district: DistrictEnv, centres: dict[str, Store],
        real_faces: dict[str, np.ndarray]) -> None:
    """A pair's incident id is computed from the two check-in ids, which the centre knows for
    its own check-ins: a row it files under that id first must not count as the office's
    incident (issue 11, item 6: primary keys across centres)."""
    hn = centres["HN01"]
    a = _sit(hn, "S1", [(person(1), PROXY_A)], real_faces)[PROXY_A]
    b = _sit(hn, "S2", [(person(2), PROXY_B)], real_faces)[PROXY_B]
    assert sync_once(hn, district.centre_urls["HN01"]).ok
    squat = pair_incident_id(a.id, b.id)
    engine = sa.create_engine(district.centre_urls["HN01"])
    with engine.begin() as conn:  # raw SQL under the centre's own login
        conn.execute(sa.text(
            "INSERT INTO incident (id, centre_id, session_id, kind, severity, status, "
            "message_key, details, started_at, created_at, updated_at) VALUES (:i, :c, :s, "
            "'OTHER', 'LOW', 'OPEN', 'incident.other', '{}', now(), now(), now())"),
            {"i": squat, "c": local_centre(hn).id, "s": a.session_id})
    engine.dispose()
    with district.office() as office:
        found = screen_district(office, actor="office:screen", threshold=THRESHOLD)
        assert found.pairs == 1 and found.known == 0 and len(found.incidents) == 1
        [row] = list_incidents(office, IncidentQuery(kind=IncidentKind.PROXY_SUSPECTED))
        assert row.incident.id != squat and set(row.checkin_ids) == {a.id, b.id}
        assert row.incident.details["pair_id_taken_by"] == "HN01"
        assert screen_district(office, actor="office:screen", threshold=THRESHOLD).incidents == ()


def _spoil_embedding(store: Store, checkin_id: object, *, reseal: bytes | None) -> object:
    """The centre's insider, with its own key: the embedding of one check-in re-sealed as
    bytes that are no embedding (``reseal``), or its ciphertext flipped (None). Returns the
    evidence id."""
    from proctoring.models import Evidence, EvidenceBlob, EvidenceKind

    with store.write() as tx:
        ev = tx.exec(sa.select(Evidence).where(Evidence.checkin_id == checkin_id)
                     .where(Evidence.kind == EvidenceKind.LIVE_EMBEDDING)).scalar_one()
        blob = tx.get(EvidenceBlob, ev.id)
        assert blob is not None
        if reseal is None:
            blob.ciphertext = bytes([blob.ciphertext[0] ^ 1]) + blob.ciphertext[1:]
        else:
            sealed = store.data_key.seal(reseal, row_id=ev.id, kind=ev.kind.value)
            blob.nonce, blob.ciphertext = sealed.nonce, sealed.ciphertext
        tx.add(blob)
        return ev.id


def test_one_bad_stored_face_does_not_stop_the_screen(
        district: DistrictEnv, centres: dict[str, Store],
        real_faces: dict[str, np.ndarray]) -> None:
    hn, hp = centres["HN01"], centres["HP02"]
    at_hn = _sit(hn, "S1", [(person(1), PROXY_A), (person(2), "person01/img26.jpg"),
                            (person(8), "person02/img1.jpg")], real_faces)
    at_hp = _sit(hp, "S1", [(person(3), PROXY_B)], real_faces)
    malformed = _spoil_embedding(hn, at_hn["person01/img26.jpg"].id, reseal=b"\x00" * 100)
    unreadable = _spoil_embedding(hn, at_hn["person02/img1.jpg"].id, reseal=None)
    for code, store in centres.items():
        assert sync_once(store, district.centre_urls[code]).ok

    with district.office() as office:
        first = screen_district(office, actor="office:screen", threshold=THRESHOLD)
        # The proxy pair is still found: the two bad rows were left out, not fatal.
        assert first.incidents == (pair_incident_id(at_hn[PROXY_A].id, at_hp[PROXY_B].id),)
        assert {(u.evidence_id, u.reason) for u in first.unscreenable} == {
            (malformed, "malformed"), (unreadable, "unreadable")}
        assert first.screened == 2 and first.faces_new == 2  # the bad two are not "screened"
        flagged = list_incidents(office, IncidentQuery(kind=IncidentKind.FACE_UNSCREENABLE))
        assert {r.incident.details["evidence_id"] for r in flagged} == {str(malformed),
                                                                       str(unreadable)}
        assert set(first.unscreenable_incidents) == {r.incident.id for r in flagged}
        words = {r.incident.message_key: Catalog.load().text(
            r.incident.message_key, "en", **r.incident.details) for r in flagged}
        assert words["incident.face_malformed"].startswith(
            f"The stored face data of candidate {person(2)[0]} (centre HN01) is damaged")
        assert person(8)[0] in words["incident.face_unreadable"]
        assert all(r.incident.severity is Severity.HIGH for r in flagged)

        # Screening again tries the two again, and opens nothing twice.
        again = screen_district(office, actor="office:screen", threshold=THRESHOLD)
        assert again.incidents == () and again.unscreenable_incidents == ()
        assert len(again.unscreenable) == 2 and again.screened == 0
