"""Fuzzing what a chip (or a card's printed key) hands the station: hypothesis strategies that
mutate every virtual profile's files, and one target per chip-facing parser.

Each target feeds one generated input to the real code and classifies the outcome: it returned,
or it raised one of the typed errors its contract allows (``ALLOWED``), or it *escaped* (any
other exception: a bug). Time is measured per input. ``run`` drives hypothesis over the targets
and never stops at a failure: it collects them, with the input, for a report.

Used by ``bench/fuzz_chip.py`` (≥ 10^5 inputs) and, with a small seeded budget, by
``tests/reader/test_chip_fuzz.py``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from asn1crypto import keys as asn1_keys
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from biometrics.errors import BiometricsError
from biometrics.images import decode
from examdesk.views.pictures import open_picture
from reader import lds, tlv
from reader.apdu import ResponseApdu
from reader.atr import parse_atr
from reader.chip_auth import commands as ca_commands
from reader.chip_auth import plan
from reader.crypto import AesSuite, Des3Suite
from reader.dg13 import parse_dg13
from reader.errors import ReaderError
from reader.keys import BacKey, parse_card_key, parse_qr
from reader.mrz import parse_td1
from reader.security_infos import parse_dg14, parse_security_infos
from reader.session import read_card
from reader.sm import SecureMessaging
from reader.transport import LoopbackTransport
from reader.trust.active import dg15_public_key, verify_active_authentication
from reader.trust.passive import passive_authentication
from reader.trust.policy import Policy
from reader.trust.report import assess
from reader.trust.signatures import load_public_key
from reader.trust.sod import parse_sod
from reader.trust.store import TrustStore
from reader.virtual import BuiltLds, CardProfile, build_lds, list_profiles, load_profile
from reader.virtual.applet import EmrtdApplet
from reader.virtual.pki import test_csca_pem

ALLOWED: tuple[type[BaseException], ...] = (ReaderError, BiometricsError)
SLOW_SECONDS = 0.5  # the acceptance bound for one input
HANG_SECONDS = 10  # an input still running then is interrupted and counted as a hang
TODAY = date(2026, 12, 1)

# --- the genuine material ---------------------------------------------------------------------


@dataclass(frozen=True)
class Genuine:
    profile: CardProfile
    built: BuiltLds
    mrz: str
    qr: str


@functools.cache
def genuine_cards() -> tuple[Genuine, ...]:
    """Every shipped profile (genuine and attack), built once."""
    out = []
    for name in list_profiles():
        profile = load_profile(name)
        data = profile.access_data()
        out.append(Genuine(profile, build_lds(profile), data["mrz"], data["qr"]))
    return tuple(out)


@functools.cache
def trust_store() -> TrustStore:
    return TrustStore.from_files({"csca.pem": test_csca_pem()})


# --- mutations ----------------------------------------------------------------------------------

# What a hostile chip likes to put where the parsers look: lengths that lie, whole objects
# (huge and negative integers, OIDs with endless arcs, keys of absurd sizes) and contents.
INTERESTING_LENGTHS = (b"\x00", b"\x7f", b"\x80", b"\x81\xff", b"\x82\xff\xff",
                       b"\x83\xff\xff\xff", b"\x84\xff\xff\xff\xff", b"\x85\x01\x00\x00\x00\x00")
INTERESTING_CONTENTS = (b"", b"\x00", b"\xff", b"\x80", b"\xfb", b"\x7f" * 3,
                        b"\x80" + b"\x00" * 7, b"\x81" * 2500 + b"\x01", b"\xff" * 300)


def _rsa_spki(n: int, e: int) -> bytes:
    return asn1_keys.PublicKeyInfo({
        "algorithm": {"algorithm": "rsa"},
        "public_key": asn1_keys.RSAPublicKey({"modulus": n, "public_exponent": e}),
    }).dump()


def _explicit_ec_spki(p_bits: int) -> bytes:
    p = next(p for p in range((1 << (p_bits - 1)) + 1, 1 << p_bits, 2) if math.gcd(p, 2310) == 1)
    size = (p_bits + 7) // 8
    return asn1_keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": asn1_keys.ECDomainParameters(
            name="specified", value={
                "version": "ecdpVer1",
                "field_id": {"field_type": "prime_field", "parameters": p},
                "curve": {"a": b"\x01", "b": b"\x07"},
                "base": b"\x04" + b"\x01" * (2 * size), "order": p, "cofactor": 1})},
        "public_key": b"\x04" + b"\x02" * (2 * size),
    }).dump()


@functools.cache
def interesting_objects() -> tuple[bytes, ...]:
    dense = random.Random(8192).getrandbits(8192) | (1 << 8191) | 1
    return (
        b"\x02\x01\xff",  # INTEGER -1
        b"\x02\x82\x01\x00" + b"\xff" * 256,  # a 2048-bit negative INTEGER
        tlv.encode(0x06, b"\x2a" + b"\x81" * 2499 + b"\x01"),  # an OID arc of 2.5 KB
        b"\x30\x80\x00\x00",  # indefinite length
        b"\x04\x84\xff\xff\xff\xff",  # an OCTET STRING claiming 4 GiB
        _rsa_spki(251, 3),  # a one-byte modulus
        _rsa_spki(dense, dense - 2),  # RSA-8192 with an 8192-bit exponent
        _explicit_ec_spki(8192),
        _explicit_ec_spki(16400),
    )


@dataclass
class Node:
    tag: int
    value: bytes
    children: list[Node] | None  # None: primitive (or not decodable as TLV)
    prefix: bytes = b""  # a BIT STRING's unused-bits byte before what it encapsulates

    def encode(self) -> bytes:
        if self.children is None:
            return tlv.encode(self.tag, self.value)
        return tlv.encode(self.tag, self.prefix + b"".join(c.encode() for c in self.children))


def parse_tree(data: bytes, depth: int = 0) -> list[Node] | None:
    """The file as a TLV tree, or None where it is not TLV (then mutated as bytes). OCTET and
    BIT STRINGs that hold DER (a SOD's content, a key in its SubjectPublicKeyInfo) are opened."""
    try:
        objs = tlv.decode_all(data)
    except ReaderError:
        return None
    out = []
    for obj in objs:
        children = None
        prefix = b""
        if depth < 12:
            if obj.constructed:
                children = parse_tree(obj.value, depth + 1)
            elif obj.tag in (0x03, 0x04) and len(obj.value) > 2:
                prefix = obj.value[:1] if obj.tag == 0x03 else b""
                inner = obj.value[len(prefix):]
                if inner[:1] in (b"\x30", b"\x31", b"\x02"):
                    children = parse_tree(inner, depth + 1)
                if children is None:
                    prefix = b""
        out.append(Node(obj.tag, obj.value, children, prefix))
    return out


def all_nodes(nodes: list[Node]) -> list[Node]:
    out: list[Node] = []
    for n in nodes:
        out.append(n)
        if n.children:
            out.extend(all_nodes(n.children))
    return out


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Blind byte-level damage: flips, inserts, deletes, truncation, a lying length."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("flip", "insert", "delete", "truncate", "length",
                                     "interesting", "repeat")))
        at = draw(st.integers(0, max(0, len(buf) - 1)))
        if kind == "flip" and buf:
            buf[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            buf[at:at] = draw(st.binary(max_size=48))
        elif kind == "delete":
            del buf[at:at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del buf[at:]
        elif kind == "length":
            buf[at:at + draw(st.integers(1, 5))] = draw(st.sampled_from(INTERESTING_LENGTHS))
        elif kind == "interesting":
            buf[at:at] = draw(st.sampled_from(interesting_objects()))
        elif kind == "repeat":
            chunk = bytes(buf[at:at + draw(st.integers(1, 32))])
            buf[at:at] = chunk * draw(st.integers(1, 64))
    return bytes(buf)


@st.composite
def tlv_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Structure-aware damage: one TLV node's value replaced, its enclosing lengths kept
    consistent, so the input gets past the outer parsers into the inner ones."""
    tree = parse_tree(data)
    if not tree:
        return draw(byte_mutation(data))
    nodes = all_nodes(tree)
    for _ in range(draw(st.integers(1, 3))):
        node = draw(st.sampled_from(nodes))
        kind = draw(st.sampled_from(("value", "content", "object", "tag", "drop",
                                     "duplicate")))
        if kind == "value":
            node.value = draw(byte_mutation(node.value)) if node.value else draw(st.binary(
                max_size=16))
            node.children = None
        elif kind == "content":
            node.value, node.children = draw(st.sampled_from(INTERESTING_CONTENTS)), None
        elif kind == "object":
            # The whole object replaced: a key where a key was, an integer, an OID, ...
            raw = draw(st.sampled_from(interesting_objects()))
            try:
                obj = tlv.decode_one(raw)[0]
                node.tag, node.value = obj.tag, obj.value
            except ReaderError:  # a lying header: it goes in as the node's content
                node.value = raw
            node.children, node.prefix = None, b""
        elif kind == "tag":
            node.tag = draw(st.sampled_from((0x02, 0x04, 0x06, 0x0C, 0x13, 0x30, 0x31, 0x5F1F,
                                             0x7F61, 0x7F60, 0x5F2E, 0xA0, 0x80)))
        elif node.children:
            child = draw(st.integers(0, len(node.children) - 1))
            if kind == "drop":
                del node.children[child]
            else:
                node.children.insert(child, node.children[child])
    return b"".join(n.encode() for n in tree)


def spliced(data: bytes, limit: int = 60) -> list[bytes]:
    """Deterministic hostile variants of ``data``: each node replaced by each interesting
    object of the same kind (an INTEGER by integers, an OID by OIDs, a SEQUENCE by keys)."""
    out: list[bytes] = []
    tree = parse_tree(data)
    if not tree:
        return out
    for index in range(len(all_nodes(tree))):
        for raw in interesting_objects():
            obj = tlv.decode_one(raw)[0] if raw[1] != 0x84 and raw[1] != 0x80 else None
            fresh = parse_tree(data)
            assert fresh is not None
            node = all_nodes(fresh)[index]
            if obj is None or obj.tag != node.tag:
                continue
            node.tag, node.value, node.children, node.prefix = obj.tag, obj.value, None, b""
            out.append(b"".join(n.encode() for n in fresh))
            if len(out) >= limit:
                return out
    return out


def mutation(data: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(tlv_mutation(data), byte_mutation(data))


@st.composite
def mutated_file(draw: st.DrawFn, name: str) -> tuple[Genuine, bytes]:
    card = draw(st.sampled_from([g for g in genuine_cards() if name in g.built.files]))
    return card, draw(mutation(card.built.files[name]))


@st.composite
def mutated_text(draw: st.DrawFn, texts: list[str]) -> str:
    text = list(draw(st.sampled_from(texts)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(text) - 1)))
        kind = draw(st.sampled_from(("replace", "insert", "delete", "repeat")))
        char = draw(st.one_of(st.sampled_from("0123456789<|ABCXYZ \n\r\t/-"), st.characters()))
        if kind == "replace" and text:
            text[at] = char
        elif kind == "insert":
            text[at:at] = [char]
        elif kind == "delete":
            del text[at:at + draw(st.integers(1, 8))]
        else:
            text[at:at] = text[at:at + 8] * draw(st.integers(1, 200))
    return "".join(text)


# --- the targets --------------------------------------------------------------------------------


def _tlv(data: bytes) -> None:
    tlv.decode_all(data)
    tlv.header_length(data)
    tlv.decode_file(data)


def _dg2(data: bytes) -> None:
    for portrait in lds.parse_dg2(data):
        open_picture(portrait.data)
        decode(portrait.data)


def _dg14(data: bytes) -> None:
    infos = parse_dg14(data)
    chosen = plan(infos)
    if chosen is not None:  # the commands chip authentication would send with this DG14
        ca_commands(chosen.info, chosen.key.key_id, b"\x04" + bytes(64))
    for key in infos.chip_public_keys:
        load_public_key(key.subject_public_key_info)


def _dg15(data: bytes) -> None:
    spki = dg15_public_key(data)
    verify_active_authentication(spki, b"\x01" * 8, hashlib.sha512(data).digest() * 4, None)
    verify_active_authentication(spki, b"\x01" * 8, hashlib.sha256(data).digest() * 2,
                                 "sha256")


def _sod(card: Genuine, data: bytes) -> None:
    parse_sod(data)


def _passive(card: Genuine, data: bytes) -> None:
    files = {**card.built.files, "EF.SOD": data}
    passive_authentication(files, trust_store(), issue_date=TODAY)


def _sm_unwrap(args: tuple[str, bytes, bytes, bytes]) -> None:
    suite_name, value, sw, raw = args
    suite = AesSuite(b"\x01" * 16, b"\x02" * 16) if suite_name == "AES" else Des3Suite(
        b"\x01" * 16, b"\x02" * 16)
    ssc = bytes(suite.block)
    sm = SecureMessaging.start(suite, ssc)
    # A well-MACed answer around damaged content (reaches decryption and unpadding) ...
    macced = tlv.encode(0x87, value) + tlv.encode(0x99, sw)
    mac = suite.mac((1).to_bytes(suite.block, "big") + macced)
    sm.unwrap(ResponseApdu(macced + tlv.encode(0x8E, mac), 0x9000))
    # ... and raw damage (TLV, DO order, MAC).
    SecureMessaging.start(suite, ssc).unwrap(ResponseApdu(raw, 0x9000))


def _key_field(text: str) -> None:
    parse_card_key(text)


def _read_card(card: Genuine, name: str, data: bytes) -> None:
    files = {**card.built.files, name: data}
    chip = EmrtdApplet(files, card.profile.mrz_information, can=card.profile.holder.can,
                       keys=card.built.keys, chip=card.profile.chip)
    read = read_card(LoopbackTransport(chip), [BacKey.from_mrz(card.mrz)], use_pace=False)
    assess(read, trust_store(), Policy(), today=TODAY)


@st.composite
def _read_card_input(draw: st.DrawFn) -> tuple[Genuine, str, bytes]:
    name = draw(st.sampled_from(("EF.COM", "DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD")))
    card, data = draw(mutated_file(name))
    return card, name, data


def _file(name: str) -> st.SearchStrategy[bytes]:
    return mutated_file(name).map(lambda pair: pair[1])


@dataclass(frozen=True)
class Target:
    name: str
    strategy: Callable[[], st.SearchStrategy[Any]]
    call: Callable[[Any], object]
    weight: int = 1  # share of the inputs
    file: str | None = None  # the card file whose spliced variants form its fixed corpus

    def corpus(self) -> list[Any]:
        """Fixed hostile inputs (``spliced``) shaped as this target takes them."""
        if self.file is None:
            return []
        card = next(g for g in genuine_cards() if g.profile.name == "nguyen-van-an")
        variants = spliced(card.built.files[self.file])
        if self.name in ("sod", "passive"):
            return [(card, v) for v in variants]
        if self.name == "read_card":
            return [(card, self.file, v) for v in variants[:12]]
        return variants


def _any_file() -> st.SearchStrategy[bytes]:
    return st.sampled_from(("EF.COM", "DG1", "DG13", "DG14", "DG15", "EF.SOD",
                            "EF.CardAccess")).flatmap(_file)


def _sm_input() -> st.SearchStrategy[tuple[str, bytes, bytes, bytes]]:
    return st.tuples(st.sampled_from(("AES", "3DES")), st.binary(max_size=80),
                     st.binary(max_size=3), st.binary(max_size=80))


TARGETS: tuple[Target, ...] = (
    Target("tlv", _any_file, _tlv, 2),
    Target("ef_com", lambda: _file("EF.COM"), lds.parse_com, file="EF.COM"),
    Target("dg1", lambda: _file("DG1"), lds.parse_dg1, file="DG1"),
    Target("dg2_facial_image", lambda: _file("DG2"), _dg2, 1),
    Target("dg13", lambda: _file("DG13"), parse_dg13, file="DG13"),
    Target("dg14", lambda: _file("DG14"), _dg14, file="DG14"),
    Target("dg15", lambda: _file("DG15"), _dg15, file="DG15"),
    Target("sod", lambda: mutated_file("EF.SOD"), lambda a: _sod(*a), file="EF.SOD"),
    Target("passive", lambda: mutated_file("EF.SOD"), lambda a: _passive(*a), file="EF.SOD"),
    Target("card_access", lambda: _file("EF.CardAccess"), parse_security_infos,
           file="EF.CardAccess"),
    Target("atr", lambda: st.binary(max_size=40), parse_atr),
    Target("sm_unwrap", _sm_input, _sm_unwrap),
    Target("mrz", lambda: mutated_text([g.mrz for g in genuine_cards()]),
           lambda t: parse_td1(t, today=TODAY)),
    Target("qr", lambda: mutated_text([g.qr for g in genuine_cards()]),
           lambda t: parse_qr(t, today=TODAY)),
    Target("key_field", lambda: mutated_text([g.mrz for g in genuine_cards()]
                                             + [g.qr for g in genuine_cards()]
                                             + [g.profile.holder.id_number
                                                for g in genuine_cards()]), _key_field),
    Target("read_card", _read_card_input, lambda a: _read_card(*a), 1, file="DG14"),
)


# --- running ------------------------------------------------------------------------------------


class Hang(Exception):
    """An input ran past HANG_SECONDS."""


@contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Escape:
    target: str
    error: str
    input_repr: str


@dataclass
class Tally:
    target: str
    inputs: int = 0
    typed: int = 0  # ended in an allowed typed error
    escaped: list[Escape] = field(default_factory=list)
    slow: int = 0  # inputs over SLOW_SECONDS
    slowest: float = 0.0
    slowest_input: str = ""
    seconds: float = 0.0


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return value[:200].hex() + (f"…(+{len(value) - 200} bytes)" if len(value) > 200 else "")
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    if isinstance(value, Genuine):
        return value.profile.name
    text = repr(value)
    return text[:300]


def _once(target: Target, value: Any) -> tuple[str | None, float]:
    """(the escaped error or None, seconds); seconds are negative when the call returned
    normally rather than in a typed error."""
    started = time.perf_counter()
    try:
        with _alarm(HANG_SECONDS):
            target.call(value)
    except ALLOWED:
        return None, time.perf_counter() - started
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300], time.perf_counter() - started
    return None, -(time.perf_counter() - started)


def run_target(target: Target, inputs: int, seed: int) -> Tally:
    """Feed ``inputs`` generated inputs to ``target``; never raises for what the target does."""
    tally = Tally(target.name)

    def check(value: Any) -> None:
        outcome, spent = _once(target, value)
        if outcome is not None:
            tally.escaped.append(Escape(target.name, outcome, _short(value)))
        elif spent >= 0:
            tally.typed += 1
        spent = abs(spent)
        if spent > SLOW_SECONDS:
            # The machine is shared: a garbage collection or another process can stall one
            # run. Slow means slow again: the fastest of three runs counts.
            spent = min([spent] + [abs(_once(target, value)[1]) for _ in range(2)])
        tally.inputs += 1
        tally.seconds += spent
        if spent > SLOW_SECONDS:
            tally.slow += 1
        if spent > tally.slowest:
            tally.slowest, tally.slowest_input = spent, _short(value)

    @hypothesis_seed(seed)
    @settings(max_examples=inputs, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(target.strategy())
    def feed(value: Any) -> None:
        check(value)

    for value in target.corpus():  # the fixed hostile corpus, then generated inputs
        check(value)
    feed()
    return tally


def run(total: int, seed: int, only: tuple[str, ...] = (),
        on_tally: Callable[[Tally], None] | None = None) -> list[Tally]:
    """``total`` inputs shared among the targets by weight (each gets at least 1)."""
    chosen = [t for t in TARGETS if not only or t.name in only]
    weights = sum(t.weight for t in chosen)
    out = []
    for i, target in enumerate(chosen):
        tally = run_target(target, max(1, total * target.weight // weights), seed + i)
        if on_tally is not None:
            on_tally(tally)
        out.append(tally)
    return out
