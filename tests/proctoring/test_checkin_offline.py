"""A desk under a centre outage (issue 17): the check-in goes on from the desk's copy of the
roster, follows the offline rule for comparisons, waits in the desk's outbox, and arrives
when the centre answers again. The centre here is a real store; "unreachable" is a store
whose PostgreSQL port has nothing listening."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from biometrics import Challenge, FaceEngine
from examdesk.i18n import Catalog
from proctoring.checkin import CheckInService
from proctoring.desk_outbox import CentreOffline, DeskOutbox
from proctoring.models import CheckIn, Decision, SessionKind, Stage
from proctoring.offline_rule import EARLIER_STAGE, OTHER_DESKS
from proctoring.store import Store, create_engine, database_url

from .helpers import add_roster, centre_and_session
from .test_checkin_service import OWN_FACE, PEOPLE, camera, engine, read

__all__ = ["engine"]  # the module-scoped face engine fixture, shared


@pytest.fixture
def away(store: Store) -> Iterator[Store]:
    """The same desk's keys, a centre that does not answer (connection refused at once)."""
    gone = Store(create_engine(database_url("postgresql://desk:pw@127.0.0.1:9/centre")),
                 store.keys)
    yield gone
    gone.close()


def test_offline_checkins_follow_the_rule_wait_and_arrive(
        store: Store, away: Store, engine: FaceEngine, tmp_path: Path) -> None:
    session = centre_and_session(store, SessionKind.DRIVING_TEST, code="D1")
    add_roster(store, session, PEOPLE)
    outbox = DeskOutbox.for_desk(store.keys, tmp_path / "desk")
    outbox.remember(store, session)
    service = CheckInService(away, engine, outbox=outbox, desk="Sân 1")
    card, trust = read()
    theory = service.check_in(session, card, trust, camera(OWN_FACE), consent=True, actor="t",
                              stage=Stage.THEORY, challenge=Challenge.BLINK)
    # The first stage: nothing earlier to compare; other desks' faces could not be: said.
    assert theory.decision is Decision.ADMIT, theory.reasons
    assert OTHER_DESKS in {r.key for r in theory.reasons} and theory.waiting == 1
    yard = service.check_in(session, card, trust, camera(OWN_FACE), consent=True, actor="t",
                            stage=Stage.YARD, challenge=Challenge.BLINK)
    # A later stage offline: the theory face is out of reach, so a person decides, even for
    # the face that matches its chip.
    assert yard.decision is Decision.REVIEW
    assert EARLIER_STAGE in {r.key for r in yard.reasons} and yard.waiting == 2
    catalog = Catalog.load()
    for key in (EARLIER_STAGE, OTHER_DESKS):
        assert catalog.text(key, "vi", stage="yard", first="theory") != key
    assert [c.id for c in _checkins(store)] == []

    back = CheckInService(store, engine, outbox=outbox, desk="Sân 1")
    assert back.outbox is not None and back.outbox.deliver(store).delivered == 2
    rows = {c.id: (c.stage, c.decision) for c in _checkins(store)}
    assert rows == {theory.checkin_id: ("theory", "ADMIT"), yard.checkin_id: ("yard", "REVIEW")}


def test_offline_without_a_copy_of_the_roster_says_so(
        store: Store, away: Store, engine: FaceEngine, tmp_path: Path) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    outbox = DeskOutbox.for_desk(store.keys, tmp_path / "desk")
    card, trust = read()
    with pytest.raises(CentreOffline) as caught:
        CheckInService(away, engine, outbox=outbox).check_in(
            session, card, trust, camera(OWN_FACE), consent=True, actor="t",
            challenge=Challenge.BLINK)
    text = Catalog.load().text(caught.value.key, "vi", **caught.value.context)
    assert "trung tâm" in text and len(outbox) == 0


def _checkins(store: Store) -> list[CheckIn]:
    with store.read() as tx:
        return list(tx.exec(select(CheckIn)).all())



def test_an_offline_checkin_asks_the_centre_once(
        store: Store, away: Store, engine: FaceEngine, tmp_path: Path) -> None:
    """A pulled cable is not a refused connection: each attempt may wait for the connection
    timeout. Once the centre did not answer, the rest of the check-in does not ask again."""
    import sqlalchemy as sa

    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    outbox = DeskOutbox.for_desk(store.keys, tmp_path / "desk")
    outbox.remember(store, session)
    attempts: list[int] = []
    sa.event.listen(away.engine, "do_connect", lambda *_a: attempts.append(1))
    card, trust = read()
    done = CheckInService(away, engine, outbox=outbox).check_in(
        session, card, trust, camera(OWN_FACE), consent=True, actor="t",
        challenge=Challenge.BLINK)
    assert done.waiting == 1 and len(attempts) == 1
    second = CheckInService(away, engine, outbox=outbox).check_in(
        session, card, trust, camera(OWN_FACE), consent=True, actor="t",
        challenge=Challenge.BLINK)
    assert second.waiting == 2 and len(attempts) == 2  # the next check-in asks again, once
