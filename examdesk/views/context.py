"""What the screens are given and the window builds: who is signed in (:class:`Operator`), where
this run keeps things (:class:`Places`), the ``app`` settings (:class:`AppSettings`) and the
running services (:class:`Services`).

They live here, inside views/, so that the import goes one way: app.py builds them and imports the
views; a view imports them from its own package and never imports app.py at run time (it names
the window only for type checking).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biometrics.remote import ProcessFaceEngine
from examdesk.i18n import LANGUAGES, default_language
from examdesk.paths import config_dir, data_dir
from examdesk.services.trust import POLICY_FILE, TrustFiles
from examdesk.settings import desk_name, read_section
from proctoring.checkin import CheckInService
from proctoring.crypto import KeyStore
from proctoring.models import Role
from proctoring.stations import StationInfo
from proctoring.store import Store

from .cards import CardSource
from .frames import FrameHub

if TYPE_CHECKING:  # the demo's virtual-card code loads only with --demo
    from examdesk.demo import DemoDeck, DemoHome

APP_SECTION = "app"


@dataclass(frozen=True)
class Places:
    """Where this run keeps things: the user's folders, or the demo's own."""

    config: Path
    data: Path
    db_url: str | None  # None: EXAMDESK_DB_URL or the SQLite file in ``data``
    keyring: bool

    @classmethod
    def user(cls) -> Places:
        flag = os.environ.get("EXAMDESK_KEYRING", "1").strip().lower()
        return cls(config_dir(), data_dir(), None, flag not in ("0", "no", "off", "false"))

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def trust(self) -> TrustFiles:
        return TrustFiles(self.data / "trust", self.config / POLICY_FILE)

    @property
    def pdf_keys(self) -> Path:
        return self.config / "keys" / "pdf"

    @property
    def pdf_trust(self) -> Path:
        return self.config / "pdf-trust"

    @property
    def rosters(self) -> Path:
        return self.data / "rosters"

    def keys(self) -> KeyStore:
        return KeyStore(self.config / "keys", use_keyring=self.keyring)


@dataclass(frozen=True)
class AppSettings:
    """The ``app`` section of settings.json."""

    lang: str = "vi"
    reader: str | None = None  # None: the first reader with a card
    camera: str = "0"  # a device number, or a folder / files played as a camera
    desk: str | None = None  # this station's name ("Cửa 1"); None: the computer's name

    @classmethod
    def load(cls, places: Places) -> AppSettings:
        raw = read_section(APP_SECTION, places.settings_file)
        lang = str(raw.get("lang", default_language()))
        return cls(lang if lang in LANGUAGES else "vi", raw.get("reader") or None,
                   str(raw.get("camera", "0")), str(raw.get("desk") or "") or None)

    @property
    def desk_name(self) -> str:
        return desk_name({"desk": self.desk})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lang": self.lang, "reader": self.reader, "camera": self.camera}
        if self.desk:
            out["desk"] = self.desk
        return out


@dataclass(frozen=True)
class Operator:
    """Who is signed in at this desk (named in the audit log as ``app:<name>``)."""

    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"app:{self.name}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.CENTRE_ADMIN


@dataclass
class Services:
    places: Places
    settings: AppSettings
    store: Store
    engine: ProcessFaceEngine
    models_ready: threading.Event
    hub: FrameHub
    cards: CardSource
    checkins: CheckInService
    demo: DemoHome | None = None
    deck: DemoDeck | None = None
    camera_label: str = ""
    station: StationInfo | None = None  # this desk's station at the centre (issue 17)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.hub.close()
        if self.deck is not None:
            with contextlib.suppress(Exception):
                self.deck.close()
        with contextlib.suppress(Exception):
            self.engine.close()
        portrait = self.checkins.portrait_engine
        if portrait is not self.engine and isinstance(portrait, ProcessFaceEngine):
            with contextlib.suppress(Exception):
                portrait.close()
        with contextlib.suppress(Exception):
            self.store.close()
