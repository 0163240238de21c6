"""A district's population calibration reaches its centres through sync, audited at both ends,
and a centre can neither read another centre's point nor write one of its own in the district."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlmodel import select

from biometrics.config import OperatingPoint
from proctoring import audit
from proctoring.calibration_models import FaceCalibration
from proctoring.face_population import calibrate_district, point_in_force
from proctoring.models import AuditEvent
from proctoring.store import Store
from proctoring.sync import local_centre, sync_once
from tests.proctoring.population_data import population

from .builders import session_with_roster
from .conftest import DistrictEnv


def test_a_district_calibration_reaches_each_centre_by_sync_and_is_audited(
        district: DistrictEnv, centres: dict[str, Store]) -> None:
    for n, (code, store) in enumerate(centres.items()):
        session, _ = session_with_roster(store, "S1", [])
        population(store, session, 20, seed=10 + n, province=f"00{n + 1}")
        assert sync_once(store, district.centre_urls[code]).ok
    hn, hp = centres["HN01"], centres["HP02"]
    hn_id, hp_id = local_centre(hn).id, local_centre(hp).id

    with district.office() as office:
        result, rows = calibrate_district(office.store, office.centre_id, actor="office:lead",
                                          target_fmr=1e-2)
        assert {r.centre_id for r in rows} == {hn_id, hp_id}
        assert result.identities == 40 and result.fnmr.pairs == 40
        assert result.fmr.upper <= 1e-2
        with office.store.read() as tx:
            sent = tx.exec(select(AuditEvent).where(
                AuditEvent.centre_id == office.centre_id,
                AuditEvent.action == "face.calibration_sent")).all()
            assert audit.verify(tx, office.store.keys).ok
        assert {json.loads(e.payload)["centre_id"] for e in sent} == {str(hn_id), str(hp_id)}

    back = sync_once(hn, district.centre_urls["HN01"])
    assert back.ok and back.calibrations_applied == 1
    with hn.read() as tx:
        local = tx.exec(select(FaceCalibration)).all()
        received = tx.exec(select(AuditEvent).where(
            AuditEvent.action == "face.calibration_received")).all()
        assert audit.verify(tx, hn.keys).ok
    assert [(r.scope, r.centre_id, r.threshold) for r in local] == [
        ("district", hn_id, result.point.threshold)]
    assert len(received) == 1 and received[0].subject_id == local[0].id
    in_force = point_in_force(hn, hn_id, OperatingPoint())
    assert (in_force.origin, in_force.point.threshold) == ("district", result.point.threshold)
    # HP02 has not synced since: it still checks with its settings' point.
    assert point_in_force(hp, hp_id, OperatingPoint()).origin == "settings"

    # Exactly once; the receipt went up in the same run and the district's copy verifies.
    again = sync_once(hn, district.centre_urls["HN01"])
    assert again.ok and again.calibrations_applied == 0 and again.pushed_events == 0
    assert district.count("audit_event", f"centre_id = '{hn_id}' AND "
                          "action = 'face.calibration_received'") == 1
    assert sync_once(hp, district.centre_urls["HP02"]).calibrations_applied == 1

    # A calibration that cannot be real (written straight into the district database, a
    # threshold above its own NO_MATCH edge) is refused by the centre, and audited.
    admin = district.admin()
    t = FaceCalibration.__table__  # type: ignore[attr-defined]
    try:
        with admin.begin() as conn:
            good = conn.execute(sa.select(t).where(t.c.centre_id == hn_id)).mappings().one()
            conn.execute(sa.insert(t).values({**good, "id": uuid.uuid4(), "threshold": 1.9,
                                              "district_seq": good["district_seq"] + 1000}))
    finally:
        admin.dispose()
    lax = sync_once(hn, district.centre_urls["HN01"])
    assert lax.ok and lax.calibrations_applied == 0
    assert point_in_force(hn, hn_id, OperatingPoint()).point.threshold == result.point.threshold
    with hn.read() as tx:
        refused = tx.exec(select(AuditEvent).where(
            AuditEvent.action == "face.calibration_refused")).one()
    assert json.loads(refused.payload)["problem"] == "thresholds out of order or range"
    assert sync_once(hn, district.centre_urls["HN01"]).calibrations_applied == 0  # once



def test_a_centre_sees_only_its_own_calibration_and_cannot_write_one(
        district: DistrictEnv, centres: dict[str, Store]) -> None:
    for n, (code, store) in enumerate(centres.items()):
        session, _ = session_with_roster(store, "S1", [])
        population(store, session, 20, seed=20 + n, province=f"00{n + 1}")
        assert sync_once(store, district.centre_urls[code]).ok
    with district.office() as office:
        calibrate_district(office.store, office.centre_id, actor="office:lead", target_fmr=1e-2)
    hn_id = local_centre(centres["HN01"]).id
    engine = sa.create_engine(district.centre_urls["HN01"], poolclass=NullPool)
    t = FaceCalibration.__table__  # type: ignore[attr-defined]
    try:
        with engine.connect() as conn:
            seen = conn.execute(sa.select(t.c.centre_id)).scalars().all()
        assert seen == [hn_id]
        # A centre writing itself a laxer point in the district is refused by PostgreSQL.
        with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
            conn.execute(sa.update(t).values(threshold=1.9))
        with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
            row = conn.execute(sa.select(t)).mappings().one()
            conn.execute(sa.insert(t).values({**row, "id": uuid.uuid4(),
                                              "district_seq": 10_000, "threshold": 1.9}))
    finally:
        engine.dispose()
