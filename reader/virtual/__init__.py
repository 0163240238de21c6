"""The virtual CCCD: a card-side implementation used by the demo and the tests.

It shares no protocol code with the reader side, so a reader bug is not mirrored here.

- ``profile``      card profiles (TOML in ``profiles/``): holder data, portrait, chip quirks,
                   security settings, ``[card] base`` inheritance, ``[attack]`` defects
- ``td1``          the MRZ derived from the holder data
- ``lds_builder``  EF.COM, DG1, DG2 (``portrait``), DG13, DG14, DG15, EF.SOD, EF.CardAccess
                   (``security_infos``), and the attack profiles' defects
- ``pki``          test CSCA → document signer chain, SOD signature
- ``applet``       the chip: SELECT / READ BINARY / BAC / PACE (``pace_responder``,
                   ``domain_params``) / active and chip authentication (``chip_keys``) /
                   3DES and AES secure messaging (``secure_channel``, ``sm_crypto``)
- ``vpcd``         puts a card into pcscd's "Virtual PCD" reader
"""

from .applet import EmrtdApplet, VirtualCccd
from .chip_keys import ChipKeys
from .faces import faces_dir
from .faults import CardPulled, CardStats, Faults
from .lds_builder import BuiltLds, build_files, build_lds
from .pace_responder import PaceResult
from .profile import ATTACK_KINDS, Attack, CardProfile, ProfileError, list_profiles, load_profile
from .vpcd import VpcdConnection

__all__ = [
    "ATTACK_KINDS",
    "Attack",
    "BuiltLds",
    "CardProfile",
    "CardPulled",
    "CardStats",
    "ChipKeys",
    "EmrtdApplet",
    "Faults",
    "PaceResult",
    "ProfileError",
    "VirtualCccd",
    "VpcdConnection",
    "build_files",
    "build_lds",
    "faces_dir",
    "list_profiles",
    "load_profile",
]
