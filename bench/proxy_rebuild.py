"""Peak memory and time of the district index rebuild (issue 16): streamed in blocks against
every stored face decrypted at once (the rebuild before it streamed, branch ram16 7457c48).

A private PostgreSQL cluster (as the sync tests'), a district with one centre, one real
check-in screened, then ``--faces`` stored faces copied from it (tests/sync/district_faces.py:
each its own admitted, screened check-in with one random unit face sealed under the centre's
key). Each rebuild runs alone in a fresh process (``--child``) so that its peak (VmHWM) is its
own; the process's resident size just before the rebuild (imports, the database's list of
stored faces) is reported too, and bytes per face are the peak over it.

    flock /tmp/examdesk-bench.lock .venv/bin/python bench/proxy_rebuild.py [--quick] [--faces N]

Prints a line per rebuild, then one JSON line (peak bytes over the process before the rebuild;
baseline: the one-shot rebuild).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proctoring.proxy_index import BLOCK


def status(field: str) -> int:
    """VmHWM / VmRSS of this process in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def one_shot(office: Any, path: Path, stored: dict[uuid.UUID, Any]) -> int:
    """The rebuild as it was (ram16 7457c48), the baseline; returns the faces indexed."""
    from proctoring import face_index
    from proctoring.face_index import FaceIndex
    from proctoring.proxy_index import MANIFEST, DistrictIndex, _add, _empty, read_faces, save_index

    items = sorted(stored.values(), key=lambda s: s.evidence_id.bytes)
    faces, _ = read_faces(office, [s.evidence_id for s in items])
    vectors = [v for s in items for v in faces.get(s.evidence_id, [])]
    sample = np.vstack(vectors) if vectors else np.zeros((0, face_index.DIM), np.float32)
    built = DistrictIndex(FaceIndex.train(sample) if len(sample) else _empty(),
                          np.zeros(0, MANIFEST), {})
    _add(built, [(s, faces[s.evidence_id]) for s in items if s.evidence_id in faces])
    save_index(office, path, built)
    return built.live()


def child(args: argparse.Namespace) -> int:
    from proctoring.crypto import KeyStore
    from proctoring.district import open_office
    from proctoring.proxy_index import rebuild, stored_faces

    office = open_office(args.url, keys=KeyStore(Path(args.keys), use_keyring=False))
    try:
        with office.store.read() as tx:
            stored = stored_faces(tx)
        before = status("VmRSS")
        t0, c0 = time.perf_counter(), time.process_time()
        if args.child == "old":
            indexed = one_shot(office, Path(args.path), stored)
        else:
            indexed = rebuild(office, Path(args.path), stored, reason="asked",
                              block=args.block)[0].live()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        office.close()
    print(json.dumps({"indexed": indexed, "before": before, "peak": status("VmHWM"),
                      "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}))
    return 0


def fill(cluster: Any, name: str, root: Path, faces: int) -> tuple[str, Path]:
    """The district with ``faces`` stored faces; returns the office's URL and key folder."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from proctoring.crypto import KeyStore
    from proctoring.district import add_centre, init_district, open_office
    from proctoring.proxy_search import screen_district
    from proctoring.sync import sync_once
    from tests.sync.builders import CENTRES, admit, open_centre, person, session_with_roster, unit
    from tests.sync.district_faces import copy_faces

    admin = cluster.url(name)
    keys = root / "office-keys"
    init_district(admin, code="SGD-HN", name="Sở GD&ĐT Hà Nội",
                  keys=KeyStore(keys, use_keyring=False), actor="bench:office",
                  office_role="office_bench", office_password="office-pass-1")
    creds = add_centre(admin, "HN01", password="pw-hn01")
    centre = open_centre(root / "HN01", "HN01", CENTRES["HN01"])
    try:
        session, entries = session_with_roster(centre, "S1", [person(1)])
        template = admit(centre, session, entries[0], person(1)[0], unit(1)).checkin.id
        if not sync_once(centre, cluster.url(name, creds.role, creds.password)).ok:
            raise RuntimeError("the centre's sync failed")
        office_url = cluster.url(name, "office_bench", "office-pass-1")
        with contextlib.closing(open_office(office_url,
                                            keys=KeyStore(keys, use_keyring=False))) as office:
            screen_district(office, actor="bench:screen", threshold=0.5,
                            index=root / "first.index")
        rng = np.random.default_rng(16)
        engine = sa.create_engine(admin, poolclass=NullPool)
        try:
            for start in range(0, faces, 100_000):
                rows = rng.standard_normal((min(100_000, faces - start), 128)).astype(np.float32)
                rows /= np.linalg.norm(rows, axis=1, keepdims=True)
                copy_faces(engine, centre, template, rows)
        finally:
            engine.dispose()
    finally:
        centre.close()
    return office_url, keys


def run(which: str, url: str, keys: Path, path: Path, block: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", which, "--url", url,
                          "--keys", str(keys), "--path", str(path), "--block", str(block)],
                         check=True, capture_output=True, text=True, env=os.environ.copy())
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10^4 stored faces")
    parser.add_argument("--faces", type=int, default=100_000, help="stored faces")
    parser.add_argument("--block", type=int, default=BLOCK,
                        help=f"evidence items the streamed rebuild decrypts at a time ({BLOCK})")
    parser.add_argument("--child", choices=("old", "new"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    faces = 10_000 if args.quick else args.faces

    from tests.sync.pgcluster import private_cluster

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Nothing touches the real data folder or keyring (the children inherit this).
        os.environ.update(EXAMDESK_HOME=str(root / "home"), EXAMDESK_KEYRING="0")
        with contextlib.contextmanager(private_cluster)() as cluster, \
                cluster.scratch_database("bench_rebuild_") as name:
            t0 = time.perf_counter()
            url, keys = fill(cluster, name, root, faces)
            print(f"district with {faces + 1:,} stored faces made in "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            results = {}
            for which in ("old", "new"):  # the same store, each in a fresh process
                results[which] = r = run(which, url, keys, root / f"{which}.index", args.block)
                print(f"{which}: {r['indexed']:,} faces, peak {r['peak'] / 1e6:.0f} MB "
                      f"({r['before'] / 1e6:.0f} MB before the rebuild), {r['wall_s']} s wall, "
                      f"{r['cpu_s']} CPU s, load {r['load']}", flush=True)
    old, new = results["old"], results["new"]
    if old["indexed"] != new["indexed"]:
        raise RuntimeError(f"indexed {old['indexed']} against {new['indexed']}")
    ours, base = new["peak"] - new["before"], old["peak"] - old["before"]
    n = new["indexed"]
    # Not an extrapolation: the streamed peak holds a fixed part (a block in flight, the
    # training sample) next to the index; two sizes' difference gives the bytes a face.
    print(f"over the process before the rebuild: {base / n:.0f} bytes a face one-shot, "
          f"{ours / n:.0f} streamed ({args.block} items a block)")
    print(json.dumps({"metric": "rebuild_peak_bytes_over_start", "unit": "bytes",
                      "ours": ours, "baseline": base, "ratio": round(base / ours, 3),
                      "faces": n, "ours_s": new["wall_s"], "baseline_s": old["wall_s"],
                      "ours_cpu_s": new["cpu_s"], "baseline_cpu_s": old["cpu_s"],
                      "block": args.block, "load": new["load"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
