"""No portrait, frame or embedding bytes in plain text in the database."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from proctoring.checkins import admitted_faces
from proctoring.models import Decision
from proctoring.store import Store, metadata

from .helpers import PEOPLE, add_roster, centre_and_session, checkin, embedding, photo, photos


def _leaks(secret: bytes, haystack: bytes, window: int = 24) -> bool:
    """Does any of 64 windows spread along ``secret`` occur in ``haystack``?

    JPEG headers (quantisation and Huffman tables) are the same in many photos, so for images
    only the compressed picture data after them counts.
    """
    start = 2048 if len(secret) > 8192 else 0
    step = max(1, (len(secret) - start - window) // 64)
    return any(secret[i:i + window] in haystack
               for i in range(start, max(start + 1, len(secret) - window), step))


def _rows_as_bytes(store: Store) -> bytes:
    """Every value of every table, as the database hands them out (bytea raw, rest as text)."""
    out = bytearray()
    with store.engine.connect() as conn:
        for table in metadata().sorted_tables:
            for row in conn.execute(sa.select(table)):
                for value in row:
                    out += value if isinstance(value, bytes) else str(value).encode()
    return bytes(out)


def _store_biometrics(store: Store) -> list[bytes]:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    portraits = photos(len(entries))
    for i, (entry, person) in enumerate(zip(entries, PEOPLE, strict=True)):
        checkin(store, session, entry, person[0], seed=100 + i, portrait=portraits[i],
                decision=Decision.ADMIT)
    faces = admitted_faces(store, session.id)
    assert len(faces) == len(entries)  # stored, and readable through the API
    embeddings = [embedding(100 + i).tobytes() for i in range(len(entries))]
    return [*portraits, photo("obama/obama2.jpg"), *embeddings]


def test_the_search_finds_plain_bytes() -> None:
    secret = photo()
    assert _leaks(secret, b"header" + secret[1000:5000] + b"trailer")
    assert _leaks(embedding(1).tobytes(), b"x" * 100 + embedding(1).tobytes())
    assert not _leaks(secret, photo("obama/obama2.jpg"))


def test_no_biometric_bytes_in_any_row(store: Store) -> None:
    secrets = _store_biometrics(store)
    dump = _rows_as_bytes(store)
    assert len(dump) > sum(len(s) for s in secrets)  # the ciphertexts are in there
    assert not [i for i, s in enumerate(secrets) if _leaks(s, dump)]


def test_no_biometric_bytes_in_the_sqlite_files(tmp_path: Path) -> None:
    from proctoring.crypto import KeyStore

    db = tmp_path / "examdesk.db"
    store = Store.open(f"sqlite:///{db}", keys=KeyStore(tmp_path / "keys", use_keyring=False))
    try:
        secrets = _store_biometrics(store)
        # Look at the files while the store is open too: the WAL holds the newest pages.
        files = b"".join(p.read_bytes() for p in tmp_path.glob("examdesk.db*"))
        assert not [i for i, s in enumerate(secrets) if _leaks(s, files)]
    finally:
        store.close()
    files = b"".join(p.read_bytes() for p in tmp_path.glob("examdesk.db*"))
    assert len(files) > sum(len(s) for s in secrets)
    assert not [i for i, s in enumerate(secrets) if _leaks(s, files)]
    keys = b"".join(p.read_bytes() for p in (tmp_path / "keys").iterdir())
    assert keys not in files  # and the key is not beside them in the database
