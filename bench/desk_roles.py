"""What the desk-login checks cost (issue 17): a check-in stored under a desk's own PostgreSQL
login, against the same desk (same station, same keys) storing through the owner's login,
which the triggers let through at once and row-level security does not apply to.

The checks a desk login adds to each check-in: row-level security on its chain's append, and at
commit one constraint trigger per inserted check-in and evidence row looking up the station's
event of the same transaction (through the subject index). Then the retention purge of every
check-in's evidence under the desk login, whose trigger checks each purged row.

A private PostgreSQL cluster (initdb in a temporary folder, as the sync tests' — login roles
are the cluster's, and the shared test cluster's role may not create them). The two logins
alternate in blocks of 5 check-ins, so drift in the machine's load hits both alike.

    .venv/bin/python bench/desk_roles.py [--quick] [--n 60]

Prints a few lines, then one JSON line (median ms per check-in, baseline: the owner's login).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BLOCK = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 check-ins per login")
    parser.add_argument("--n", type=int, default=60, help="check-ins per login")
    args = parser.parse_args(argv)
    n = 20 if args.quick else args.n

    from proctoring.centres import ensure_centre
    from proctoring.crypto import KeyStore
    from proctoring.desk_roles import add_desk_login
    from proctoring.evidence import purge_evidence
    from proctoring.stations import enrol
    from proctoring.store import Store
    from tests.sync.builders import ACTOR, CENTRES, admit, person, session_with_roster, unit
    from tests.sync.pgcluster import private_cluster

    with contextlib.contextmanager(private_cluster)() as cluster, \
            cluster.scratch_database("bench_roles_") as name, \
            tempfile.TemporaryDirectory() as root:
        owner_url = cluster.url(name)
        keys = KeyStore(Path(root) / "keys", use_keyring=False)
        Store.open(owner_url, keys=keys).close()  # the owner migrates
        login = add_desk_login(owner_url, "desk_bench", password="pw-bench")
        desk_url = cluster.url(name, login.role, login.password)
        # Retention 0: every check-in's evidence is due at once for the purge below.
        desk = Store.open(desk_url, keys=keys, retention=timedelta(0))
        owner = Store.open(owner_url, keys=keys, retention=timedelta(0))
        try:
            centre_id = ensure_centre(desk, "HN01", CENTRES["HN01"], actor=ACTOR).id
            session, entries = session_with_roster(desk, "S1", [person(i) for i in range(2 * n)])
            enrol(desk, centre_id=centre_id, name="Bàn 1", stages="", actor=ACTOR)
            times: dict[str, list[float]] = {"desk": [], "owner": []}
            for i in range(2 * n):
                which = "desk" if (i // BLOCK) % 2 == 0 else "owner"
                store = desk if which == "desk" else owner
                t0 = time.perf_counter()
                admit(store, session, entries[i], person(i)[0], unit(i))
                times[which].append((time.perf_counter() - t0) * 1000)
            load_checkins = os.getloadavg()
            t0 = time.perf_counter()
            purged = purge_evidence(desk, older_than=None, actor=ACTOR)
            purge_ms = (time.perf_counter() - t0) * 1000
        finally:
            desk.close()
            owner.close()
    ours, base = statistics.median(times["desk"]), statistics.median(times["owner"])
    load = " ".join(f"{x:.2f}" for x in load_checkins)
    print(f"check-in under the desk's own login: median {ours:.1f} ms ({n} check-ins)")
    print(f"check-in under the owner's login:    median {base:.1f} ms ({n} check-ins)")
    print(f"load average during the check-ins: {load}")
    print(f"purge under the desk login: {purged.purged} evidence rows in {purge_ms:.0f} ms "
          f"({purge_ms / max(purged.purged, 1):.2f} ms per row)")
    print(json.dumps({"metric": "checkin_median_under_desk_login", "unit": "ms",
                      "ours": round(ours, 2), "baseline": round(base, 2),
                      "ratio": round(base / ours, 3), "n": n, "load": load,
                      "purge_rows": purged.purged, "purge_ms": round(purge_ms, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
