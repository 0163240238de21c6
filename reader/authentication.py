"""Running chip and active authentication over the channel, and what their outcome says.

The protocols themselves are pure (:mod:`reader.chip_auth`, :mod:`reader.active_auth`); the
keys are checked by the PKI (:mod:`reader.trust`). Here they meet the card: commands are sent,
the channel's session is re-keyed, broken or recovered through its methods, and every way the
card or the reader can answer becomes an :class:`~reader.trust.results.AuthResult`. A length or
transport refusal says nothing about cloning: UNCHECKED, never FAILED (issue 11, item 2b).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .active_auth import ActiveAuthInitiator, is_length_refusal
from .apdu import ResponseApdu, raise_for_status
from .chip_auth import ChipAuthInitiator, plan
from .errors import (
    CardRemoved,
    CardStatusError,
    MalformedData,
    PcscUnavailable,
    ReaderError,
    SecureMessagingError,
    TransportError,
    WrongLength,
)
from .files import Channel
from .security_infos import SecurityInfos
from .sm import UnprotectedResponse, wrapped_response_size
from .trust.active import dg15_public_key, signature_size, verify_active_authentication
from .trust.results import AuthResult, CheckStatus
from .trust.signatures import UnsupportedAlgorithm, load_public_key


def chip_authentication(channel: Channel, infos: SecurityInfos | None, *,
                        proven: int = 0) -> AuthResult:
    """Run CA and switch the channel to the new keys; confirm with one protected read.

    ``proven`` is the largest protected answer this chip has already sent: a length refusal of
    a smaller answer is a refusal, not a limit (a clone must not turn FORGED into "could not
    check" that way).

    On FAILED the channel's secure messaging is gone: the caller re-opens the card
    (``channel.recover()``) to go on reading without the proof.
    """
    chosen = plan(infos) if infos is not None else None
    if chosen is None:
        return AuthResult(CheckStatus.NOT_SUPPORTED, "trust.ca_absent",
                          "DG14 offers no usable chip authentication")
    algorithm = chosen.algorithm
    try:
        chip_key = load_public_key(chosen.key.subject_public_key_info)
    except (MalformedData, UnsupportedAlgorithm) as exc:
        return AuthResult(CheckStatus.ERROR, "trust.ca_key_unusable", exc.detail, algorithm)
    if chip_key.algorithm != "EC":
        return AuthResult(CheckStatus.NOT_SUPPORTED, "trust.ca_absent", "not an EC key", algorithm)
    ca = ChipAuthInitiator(chosen, chip_key.backend)
    refused = _send_key(channel, ca, proven)
    if refused is not None:
        return refused
    channel.rekey(ca.session())
    return _confirm(channel, ca)


def _send_key(channel: Channel, ca: ChipAuthInitiator, proven: int) -> AuthResult | None:
    """Hand the chip our ephemeral key; None when it took it."""
    algorithm = ca.algorithm
    try:
        for cmd in ca.commands():
            raise_for_status(channel.send(cmd), during="chip-authenticate")
    except (CardRemoved, PcscUnavailable):
        raise
    except (WrongLength, TransportError) as exc:
        # The answer did not fit what the chip or the reader carries: no verdict on the chip
        # (issue 11, item 2b). The chip may have counted an exchange we did not see.
        if not isinstance(exc, WrongLength):
            channel.mark_broken()
        # Its answer (7C 00, or nothing for MSE:Set KAT) is ~33 protected bytes at most.
        needed = wrapped_response_size(2, channel.sm.suite.block) if channel.sm else 0
        if isinstance(exc, WrongLength) and 0 < needed <= min(proven, 256):
            return AuthResult(CheckStatus.FAILED, "trust.ca_failed",
                              f"the chip answered {exc.sw:04X} to a {needed}-byte answer, "
                              f"though it has sent {proven} bytes at once", algorithm)
        return AuthResult(CheckStatus.UNCHECKED, "trust.ca_unchecked",
                          f"the chip's answer did not fit: {exc.detail}", algorithm)
    except UnprotectedResponse as exc:
        if is_length_refusal(exc.sw):
            return AuthResult(CheckStatus.UNCHECKED, "trust.ca_unchecked",
                              f"the chip's answer did not fit: {exc.detail}", algorithm)
        return AuthResult(CheckStatus.FAILED, "trust.ca_failed", f"card refused: {exc.detail}",
                          algorithm)
    except (CardStatusError, MalformedData) as exc:
        return AuthResult(CheckStatus.FAILED, "trust.ca_failed", f"card refused: {exc.detail}",
                          algorithm)
    return None


def _confirm(channel: Channel, ca: ChipAuthInitiator) -> AuthResult:
    """Implicit authentication: only the genuine chip can answer under the new keys."""
    try:
        channel.send(ca.probe())
    except (CardRemoved, PcscUnavailable):
        raise
    except TransportError as exc:
        channel.mark_broken()
        return AuthResult(CheckStatus.UNCHECKED, "trust.ca_unchecked",
                          f"the reader could not carry the chip's answer: {exc.detail}",
                          ca.algorithm)
    except SecureMessagingError as exc:
        channel.mark_broken()
        return AuthResult(CheckStatus.FAILED, "trust.ca_failed",
                          f"the chip cannot answer under the agreed keys ({exc.detail})",
                          ca.algorithm)
    return AuthResult(CheckStatus.PASSED, "", "", ca.algorithm)


def active_authentication(
    channel: Channel,
    dg15: bytes | None,
    infos: SecurityInfos | None,
    *,
    rng: Callable[[int], bytes] = os.urandom,
    extended: bool | None = None,
    part: int | None = None,
    proven: int = 0,
) -> AuthResult:
    """Challenge the chip and check its signature with the DG15 key.

    ``extended``, ``part`` and ``proven`` are what reading the files taught of this card and
    reader (see :class:`~reader.active_auth.ActiveAuthInitiator`). When the chip or the reader
    refuses an answer for its length (6700, 6Cxx, a reader limit), the next form is tried; when
    none fits the result is UNCHECKED ("could not check").
    """
    if dg15 is None:
        return AuthResult(CheckStatus.NOT_SUPPORTED, "trust.aa_absent", "the card has no DG15")
    try:
        public_key = dg15_public_key(dg15)
    except MalformedData as exc:
        return AuthResult(CheckStatus.ERROR, "trust.aa_key_unusable", exc.detail)
    aa = ActiveAuthInitiator(rng(8), signature_size(public_key),
                             cipher_block=channel.sm.suite.block if channel.sm else 0,
                             extended=extended, part=part, proven=proven)
    answer = _challenge(channel, aa)
    if isinstance(answer, AuthResult):
        return answer
    try:
        signature = aa.signature(answer)
    except ReaderError as exc:
        return AuthResult(CheckStatus.FAILED, "trust.aa_failed", f"card answered: {exc.detail}")
    hash_name = infos.active_authentication.hash_name if (
        infos is not None and infos.active_authentication is not None) else None
    return verify_active_authentication(public_key, aa.challenge, signature, hash_name)


def _challenge(channel: Channel, aa: ActiveAuthInitiator) -> ResponseApdu | AuthResult:
    """The chip's answer in the first form that fits, or the result that ends the check."""
    refusals: list[str] = []
    for form in aa.forms:
        if channel.broken:
            try:
                channel.recover()  # the last try closed the session
            except (CardRemoved, PcscUnavailable):
                raise
            except ReaderError as exc:
                refusals.append(f"re-opening the card failed: {exc.detail}")
                break
        try:
            answer = channel.send(aa.command(form), part=form.part)
        except (CardRemoved, PcscUnavailable):
            raise  # the card or the reader went away: not a verdict on the chip
        except TransportError as exc:
            # The reader could not carry the command or the answer (TransportLimit, or a
            # reader that just fails): the chip may have counted one more exchange than we
            # did, so the session must be re-opened before the next command.
            channel.mark_broken()
            refusals.append(f"{form}: {exc.detail}")
            continue
        except UnprotectedResponse as exc:
            if not is_length_refusal(exc.sw):
                return AuthResult(CheckStatus.FAILED, "trust.aa_failed",
                                  f"card answered: {exc.detail}")
            refusals.append(f"{form}: chip answered {exc.sw:04X} and closed the session")
            continue
        except ReaderError as exc:
            # A chip that announces DG15 but will not sign is not the chip that was issued.
            return AuthResult(CheckStatus.FAILED, "trust.aa_failed", f"card answered: {exc.detail}")
        if aa.refuses_without_cause(form, answer.sw):
            return AuthResult(CheckStatus.FAILED, "trust.aa_failed",
                              f"the chip answered {answer.sw:04X} to a {aa.needed}-byte "
                              f"answer, though it has sent {aa.proven} bytes at once")
        if is_length_refusal(answer.sw):
            refusals.append(f"{form}: chip answered {answer.sw:04X}")
            continue
        return answer
    return AuthResult(CheckStatus.UNCHECKED, "trust.aa_unchecked",
                      "no answer fitted what the chip and the reader can carry ("
                      + "; ".join(refusals) + ")")
