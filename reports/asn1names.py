"""Keep asn1crypto's name→OID tables in step with the names pyHanko registers.

asn1crypto builds each ``ObjectIdentifier`` subclass's reverse map (name → dotted OID) once, on
first use, from ``_map``. Modules such as ``asn1crypto.tsp`` (imported by pyHanko) add names to
``_map`` later — ``signing_certificate_v2`` among them. When the chip code has already used CMS
attribute names (it builds and parses SODs), the cached reverse map misses them and pyHanko fails
with "invalid literal for int() … 'signing_certificate_v2'", depending only on import order.
"""

from __future__ import annotations

from asn1crypto import core
from asn1crypto import tsp as _tsp  # noqa: F401  registers the signing-certificate attributes


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    pending = [cls]
    while pending:
        subs: list[type] = pending.pop().__subclasses__()
        for sub in subs:
            found.append(sub)
            pending.append(sub)
    return found


def refresh_oid_names() -> int:
    """Add the missing names to every reverse map already built; returns how many were added.

    The maps are completed in place (as pyHanko itself does for its own OIDs): asn1crypto only
    builds a map once per class, so replacing it would leave the class without one.
    """
    added = 0
    for cls in _subclasses(core.ObjectIdentifier):
        names = cls.__dict__.get("_reverse_map")
        mapping = cls.__dict__.get("_map")
        if names is None or mapping is None:
            continue
        for dotted, name in mapping.items():
            if name not in names:
                names[name] = dotted
                added += 1
    return added
