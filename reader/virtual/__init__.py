"""The virtual CCCD: a card-side implementation used by the demo and the tests.

It shares no protocol code with the reader side, so a reader bug is not mirrored here.

- ``profile``      card profiles (TOML in ``profiles/``): holder data, portrait, chip quirks
- ``td1``          the MRZ derived from the holder data
- ``lds_builder``  EF.COM, DG1, DG2 (``portrait``), DG13, DG14, DG15, EF.SOD, EF.CardAccess
- ``pki``          test CSCA → document signer chain, SOD signature
- ``applet``       the chip: SELECT / READ BINARY / BAC / secure messaging (``secure_channel``)
- ``vpcd``         puts a card into pcscd's "Virtual PCD" reader
"""

from .applet import EmrtdApplet, VirtualCccd
from .faces import faces_dir
from .faults import CardPulled, CardStats, Faults
from .lds_builder import BuiltLds, build_files, build_lds
from .profile import CardProfile, ProfileError, list_profiles, load_profile
from .vpcd import VpcdConnection

__all__ = [
    "BuiltLds",
    "CardProfile",
    "CardPulled",
    "CardStats",
    "EmrtdApplet",
    "Faults",
    "ProfileError",
    "VirtualCccd",
    "VpcdConnection",
    "build_files",
    "build_lds",
    "faces_dir",
    "list_profiles",
    "load_profile",
]
