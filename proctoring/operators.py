"""The person signed in at a desk, as a user row of the centre: check-ins and overrides name
them (``operator_id``), so a roster prints who was on duty instead of "—".

The desk's sign-in is a name and a role (no password: the station is the centre's); the row is
made the first time that name signs in with that role, audited like any user, and found again
afterwards."""

from __future__ import annotations

import unicodedata
import uuid

from sqlmodel import select

from .centres import add_user
from .errors import InvalidInput
from .models import Role, User
from .store import Store

PREFIX = "desk:"


def desk_username(centre_id: uuid.UUID, full_name: str, role: Role) -> str:
    """Unique per centre, role and name (a user name is unique across a district's database)."""
    name = " ".join(unicodedata.normalize("NFC", full_name).split())
    if not name:
        raise InvalidInput("an operator needs a name", field="name")
    return f"{PREFIX}{centre_id.hex[:8]}:{Role(role).value}:{name.casefold()}"[:64]


def operator_user(store: Store, *, centre_id: uuid.UUID, full_name: str, role: Role,
                  actor: str) -> uuid.UUID:
    """The id of the user row for this name and role at this centre (made when new)."""
    username = desk_username(centre_id, full_name, role)
    with store.read() as tx:
        found = tx.exec(select(User).where(User.username == username)
                        .where(User.centre_id == centre_id)).first()
        if found is not None:
            return found.id
    name = " ".join(unicodedata.normalize("NFC", full_name).split())
    try:
        return add_user(store, centre_id=centre_id, username=username, full_name=name,
                        role=Role(role), actor=actor).id
    except InvalidInput:
        # Another desk of the centre made it meanwhile (usernames are unique): that one.
        with store.read() as tx:
            again = tx.exec(select(User).where(User.username == username)).first()
            if again is None:
                raise
            return again.id
