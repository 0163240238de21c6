"""Centres and the people who operate them."""

from __future__ import annotations

import unicodedata
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from .errors import InvalidInput, NotFound
from .models import Centre, Role, User
from .store import Store

# Which centre this desk or command works for, when none is named (the environment variable),
# and the code of the one centre a fresh installation creates.
CENTRE_ENV = "EXAMDESK_CENTRE"
DEFAULT_CENTRE = "local"


def _nfc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def ensure_centre(store: Store, code: str, name: str | None = None, *, actor: str) -> Centre:
    """The centre with this code, created (with its audit chain) when it does not exist yet."""
    code = _nfc(code)
    if not code:
        raise InvalidInput("a centre needs a code", field="centre")
    for _attempt in range(2):
        try:
            with store.write() as tx:
                found = tx.exec(select(Centre).where(Centre.code == code)).first()
                if found is not None:
                    return found
                centre = Centre(code=code, name=_nfc(name or code))
                tx.add(centre)
                tx.flush()
                store.audit.start_chain(tx, centre.id)
                store.audit.append(tx, centre_id=centre.id, actor=actor, action="centre.created",
                                   subject_id=centre.id,
                                   payload={"code": centre.code, "name": centre.name},
                                   at=store.now())
                return centre
        except IntegrityError:
            continue  # another process created it between our read and our insert
    raise InvalidInput(f"centre {code!r} could not be created", field="centre")


def get_centre(tx: Session, centre_id: uuid.UUID) -> Centre:
    centre = tx.get(Centre, centre_id)
    if centre is None:
        raise NotFound(f"no centre {centre_id}", what="centre", ref=str(centre_id))
    return centre


def list_centres(store: Store) -> list[Centre]:
    with store.read() as tx:
        return list(tx.exec(select(Centre).order_by(col(Centre.code))).all())


def add_user(store: Store, *, centre_id: uuid.UUID, username: str, full_name: str, role: Role,
             actor: str) -> User:
    """Register an operator or reviewer. ``centre_id`` is the centre that registers them (its
    audit chain records it); education-office reviewers keep it too, for the record."""
    username = _nfc(username)
    if not username:
        raise InvalidInput("a user needs a username", field="username")
    with store.write() as tx:
        get_centre(tx, centre_id)
        if tx.exec(select(User).where(User.username == username)).first() is not None:
            raise InvalidInput(f"username {username!r} is taken", field="username")
        user = User(centre_id=centre_id, username=username, full_name=_nfc(full_name),
                    role=Role(role))
        tx.add(user)
        tx.flush()
        store.audit.append(tx, centre_id=centre_id, actor=actor, action="user.created",
                           subject_id=user.id,
                           payload={"username": user.username, "role": user.role},
                           at=store.now())
        return user
