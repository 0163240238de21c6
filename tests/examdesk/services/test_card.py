"""Read a card with the trust files (examdesk.services.card / .trust): the use case behind
``examdesk card read`` and the check-in's assessment, against the virtual card in process."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import pytest

from examdesk.services.card import CardReading, read_and_verify, save_card
from examdesk.services.trust import TrustFiles
from reader.errors import MalformedData, WrongCardKey
from reader.keys import Can
from reader.transport import LoopbackTransport
from reader.trust.policy import Verdict
from reader.trust.results import CheckStatus
from reader.trust.store import TrustStore
from reader.virtual import VirtualCccd, load_profile
from reader.virtual.pki import test_csca_pem

DAY = date(2026, 6, 1)


class Opened:
    """Opens the loopback connection to ``card`` and remembers whether it was closed."""

    def __init__(self, card: VirtualCccd) -> None:
        self.transport = LoopbackTransport(card)
        self.closed = False

    def __call__(self) -> LoopbackTransport:
        return self

    # the transport's protocol, passed through
    @property
    def name(self) -> str:
        return self.transport.name

    @property
    def atr(self) -> bytes:
        return self.transport.atr

    def transmit(self, apdu: bytes) -> bytes:
        return self.transport.transmit(apdu)

    def close(self) -> None:
        self.closed = True
        self.transport.close()


@pytest.fixture
def card() -> VirtualCccd:
    return VirtualCccd(load_profile("nguyen-van-an"))


@pytest.fixture
def trusted(tmp_path: Path) -> TrustFiles:
    """A centre that imported the test CSCA and keeps the default policy."""
    csca = tmp_path / "csca.pem"
    csca.write_bytes(test_csca_pem())
    TrustStore.load(tmp_path / "trust").import_file(csca)
    return TrustFiles(tmp_path / "trust", tmp_path / "no-policy.toml")


def _can(card: VirtualCccd) -> list[Can]:
    return [Can(card.access_data()["can"])]


def test_a_genuine_card_with_the_centres_csca_is_trusted(card: VirtualCccd,
                                                         trusted: TrustFiles) -> None:
    opened = Opened(card)
    reading = read_and_verify(opened, _can(card), trust=trusted, today=DAY)
    assert reading.trust is not None
    assert reading.trust.verdict.level is Verdict.TRUSTED
    assert reading.trust.active.status is CheckStatus.PASSED
    assert opened.closed
    doc = reading.to_dict()
    assert doc["verdict"]["verdict"] == "TRUSTED" and doc["expired"] is False


def test_without_the_csca_the_same_card_is_only_suspicious(card: VirtualCccd,
                                                           tmp_path: Path) -> None:
    # No trust store folder at all: an unknown issuer, not a failure.
    paths = TrustFiles(tmp_path / "never-imported", tmp_path / "no-policy.toml")
    reading = read_and_verify(Opened(card), _can(card), trust=paths, today=DAY)
    assert reading.trust is not None
    assert reading.trust.verdict.level is Verdict.SUSPICIOUS
    assert "passive.no_csca" in {f.name for f in reading.trust.verdict.reasons}


def test_the_policy_file_decides_a_finding(card: VirtualCccd, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[verdicts]\n"passive.no_csca" = "trusted"\n', "utf-8")
    reading = read_and_verify(Opened(card), _can(card),
                              trust=TrustFiles(tmp_path / "none", policy), today=DAY)
    assert reading.trust is not None and reading.trust.verdict.level is Verdict.TRUSTED


def test_without_trust_nothing_is_proved(card: VirtualCccd) -> None:
    reading = read_and_verify(Opened(card), _can(card), trust=None, today=DAY)
    assert reading.trust is None
    assert reading.card.dg13 is not None
    assert "verdict" not in reading.to_dict()


def test_the_connection_is_closed_when_the_card_refuses_the_key(card: VirtualCccd,
                                                                trusted: TrustFiles) -> None:
    opened = Opened(card)
    with pytest.raises(WrongCardKey):
        read_and_verify(opened, [Can("000000")], trust=trusted, today=DAY)
    assert opened.closed


@pytest.mark.parametrize("text", ["not toml [", '[verdicts]\n"no.such" = "trusted"\n',
                                  '[verdicts]\n"passive.no_csca" = "fine"\n'])
def test_a_bad_policy_file_is_the_typed_card_error(card: VirtualCccd, tmp_path: Path,
                                                   text: str) -> None:
    # The command line always said this; the check-in uses the same function (issue 12).
    policy = tmp_path / "policy.toml"
    policy.write_text(text, "utf-8")
    with pytest.raises(MalformedData) as caught:
        TrustFiles(tmp_path / "trust", policy).policy()
    assert caught.value.detail.startswith("trust policy: ")
    read = read_and_verify(Opened(card), _can(card), trust=None, today=DAY).card
    with pytest.raises(MalformedData):
        TrustFiles(tmp_path / "trust", policy).assess(read, today=DAY)


def test_save_card_writes_owner_only_files(card: VirtualCccd, trusted: TrustFiles,
                                           tmp_path: Path) -> None:
    reading = read_and_verify(Opened(card), _can(card), trust=trusted, today=DAY)
    out = tmp_path / "out"
    save_card(out, reading)
    names = {p.name for p in out.iterdir()}
    assert {"card.json", "DG1.bin", "DG13.bin"} <= names
    assert any(n.startswith("portrait.") for n in names)
    assert not any(n.startswith(".examdesk-") for n in names)  # the temporary folder went
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads((out / "card.json").read_text("utf-8")) == reading.to_dict()


def test_a_reading_is_a_value(card: VirtualCccd) -> None:
    reading = read_and_verify(Opened(card), _can(card), trust=None, today=DAY)
    with pytest.raises(AttributeError):
        reading.trust = None  # type: ignore[misc]
    assert isinstance(reading, CardReading)
