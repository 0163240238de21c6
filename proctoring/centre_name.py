"""A centre's full name, given once: a centre made by the first command that needed it is
named by its code ("local (local)" on a roster); `keys create --name` names it, audited.
A name already given is not changed here: printed rosters carry it in their signed facts."""

from __future__ import annotations

import unicodedata

from sqlmodel import select

from .models import Centre
from .store import Store


def name_centre(store: Store, code: str, name: str, *, actor: str) -> bool:
    """Give the centre ``code`` the full ``name`` when it still has only its code. True when
    it was named now."""
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if not text:
        return False
    with store.write() as tx:
        centre = tx.exec(select(Centre).where(Centre.code == code)).first()
        if centre is None or centre.name not in ("", centre.code) or text == centre.name:
            return False
        before, centre.name = centre.name, text
        tx.add(centre)
        tx.flush()
        store.audit.append(tx, centre_id=centre.id, actor=actor, action="centre.named",
                           subject_id=centre.id, payload={"from": before, "to": text},
                           at=store.now())
        return True
