"""How large anything a chip hands us may be, checked before any work that grows with it.

A card is hostile input: it chooses its own file lengths, key sizes, curve parameters, OIDs and
image dimensions. Every limit here comes from what the standards let a genuine document carry,
with a margin, so a genuine CCCD never comes near one while a hostile card cannot make the
station decode gigabytes or run an exponentiation for minutes.
"""

from __future__ import annotations

# --- files -----------------------------------------------------------------------------------
# ICAO 9303-10 (LDS) portraits are typically 15–20 KB; the other LDS1 files are a few hundred
# bytes to a few KB (the SOD with its document signer certificate: 2–5 KB). The CCCD's
# DG2 carries a two-byte length (75 82 LLLL, research notes §4: at most 64 KiB), and eMRTD
# chips hold 80–180 KB of user memory in all, so no one file can be larger than that.
MAX_PORTRAIT_FILE = 160 * 1024  # DG2 (and DG3/DG4/DG5/DG7 images, were they read)
MAX_OTHER_FILE = 32 * 1024  # EF.COM, DG1, DG11–DG16, EF.SOD, EF.CardAccess
_IMAGE_FILES = frozenset({"DG2", "DG3", "DG4", "DG5", "DG6", "DG7"})


def max_file_size(name: str) -> int:
    """The largest total size (header + value) we accept for the file ``name``."""
    return MAX_PORTRAIT_FILE if name in _IMAGE_FILES else MAX_OTHER_FILE


# --- object identifiers ----------------------------------------------------------------------
# The longest OIDs in ICAO 9303-11 / BSI TR-03110 are ~12 bytes; the largest arcs in use are
# UUID arcs under 2.25 (ITU-T X.667: 128 bits, 19 bytes in base 128).
MAX_OID_BYTES = 64
MAX_OID_ARC_BYTES = 19

# --- keys ------------------------------------------------------------------------------------
# RSA: ICAO 9303-12 (PKI) and BSI TR-03116-2 ask for at least 2048-bit document signers and
# 3072-bit CSCAs (1024 was allowed for early active authentication keys); no profile goes above
# 4096. 8192 leaves room for any real key.
MIN_RSA_BITS = 1024
MAX_RSA_BITS = 8192
# The public exponent: FIPS 186-4 §B.3.1 (to which BSI TR-03116-2 defers): 2^16 < e < 2^256.
# A small e is what keeps verification cheap; a card-chosen 16384-bit e made one AA check take
# 15 seconds. We accept e = 3 too (older chips), nothing above 256 bits.
MAX_RSA_EXPONENT_BITS = 256
# EC: the largest curves ICAO 9303-11 (standardized domain parameters) and BSI TR-03111 name
# are P-521 and brainpoolP512r1.
MAX_EC_FIELD_BITS = 521
# The cofactor of every curve those documents name is 1; a small one is tolerated.
MAX_EC_COFACTOR = 4

# --- images ----------------------------------------------------------------------------------
# ISO/IEC 19794-5 stores width and height as 16-bit fields, which bounds nothing useful; the
# portrait ICAO 9303 asks for is ~420×525 pixels (19794-5 token image at 300 dpi), and a 64 KiB
# JPEG or JPEG 2000 codestream of a genuine photo is never larger than a few megapixels. 16 Mpx
# (4096 × 4096) is a generous bound that keeps one decoded RGB portrait under 50 MB.
MAX_PORTRAIT_PIXELS = 4096 * 4096
MAX_PORTRAIT_SIDE = 8192
