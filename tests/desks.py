"""Several desks on one centre database, each with its own key folder (a machine of its own),
for the tests of stations and of what one desk sees of another's work."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from proctoring.crypto import KeyStore
from proctoring.store import Store


class Desks:
    """``desks("a")`` opens desk a's Store once (keys in ``root/desk-a/keys``); leaving the
    ``with`` block closes every desk opened."""

    def __init__(self, url: str, root: Path) -> None:
        self.url, self.root = url, root
        self.open: dict[str, Store] = {}

    def keys(self, name: str) -> KeyStore:
        return KeyStore(self.root / f"desk-{name}" / "keys", use_keyring=False)

    def __call__(self, name: str) -> Store:
        if name not in self.open:
            self.open[name] = Store.open(self.url, keys=self.keys(name))
        return self.open[name]

    def close(self) -> None:
        for s in self.open.values():
            s.close()

    def __enter__(self) -> Desks:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
