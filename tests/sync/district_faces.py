"""Many stored faces in a district database, fast: copies of one real screened check-in.

The rebuild of the district's face index (issue 16) has to be tested and measured on more
stored faces than check-ins made through the desk flow allow (~1 s each). Each copy is a new
admitted, screened check-in (its own ids) with one face, sealed anew under the centre's key for
its own evidence id, as a centre's sync would leave it; everything else is the real row's.
"""

from __future__ import annotations

import uuid

import numpy as np
import sqlalchemy as sa

from proctoring.store import Store

_TABLES = ("checkin", "proxy_screen", "evidence", "evidence_blob")


def _columns(conn: sa.Connection, table: str) -> list[str]:
    return list(conn.execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
        "AND table_schema = current_schema() ORDER BY ordinal_position"), {"t": table}).scalars())


def copy_faces(engine: sa.Engine, centre: Store, template: uuid.UUID, rows: np.ndarray,
               *, batch: int = 20_000) -> list[uuid.UUID]:
    """``len(rows)`` more screened check-ins like ``template`` (an admitted, screened check-in
    with one LIVE_EMBEDDING), each storing one row of ``rows`` (float32, n × 128) sealed with
    ``centre``'s data key. Returns the new evidence ids. ``engine``: the database's owner."""
    key = centre.data_key
    data = np.ascontiguousarray(rows, dtype="<f4")
    out: list[uuid.UUID] = []
    with engine.begin() as conn:
        cols = {t: _columns(conn, t) for t in _TABLES}
        source = conn.execute(sa.text(
            "SELECT id FROM evidence WHERE checkin_id = :c AND kind = 'LIVE_EMBEDDING'"),
            {"c": template}).scalar_one()

        def insert(table: str, replaced: dict[str, str], where: str) -> str:
            names = ", ".join(cols[table])
            values = ", ".join(replaced.get(c, f"t.{c}") for c in cols[table])
            return (f"INSERT INTO {table} ({names}) SELECT {values} FROM "
                    f"unnest(:checkins, :evidence, :nonces, :cts) AS m(checkin, evidence, nonce, "
                    f"ct) CROSS JOIN {table} t WHERE t.id = {where}")

        statements = [
            insert("checkin", {"id": "m.checkin"}, ":template"),
            insert("proxy_screen", {"id": "m.checkin"}, ":template"),
            insert("evidence", {"id": "m.evidence", "checkin_id": "m.checkin",
                                "size": str(data.shape[1] * 4)}, ":source"),
            insert("evidence_blob", {"id": "m.evidence", "nonce": "m.nonce",
                                     "ciphertext": "m.ct"}, ":source"),
        ]
        for start in range(0, len(data), batch):
            part = data[start:start + batch]
            checkins = [uuid.uuid4() for _ in range(len(part))]
            evidence = [uuid.uuid4() for _ in range(len(part))]
            sealed = [key.seal(row.tobytes(), row_id=e, kind="LIVE_EMBEDDING")
                      for row, e in zip(part, evidence, strict=True)]
            params = {"checkins": checkins, "evidence": evidence,
                      "nonces": [s.nonce for s in sealed], "cts": [s.ciphertext for s in sealed],
                      "template": template, "source": source}
            for statement in statements:
                conn.execute(sa.text(statement), params)
            out.extend(evidence)
    return out
