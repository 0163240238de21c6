"""Active authentication, ICAO 9303-11 §6.1: the terminal's side, pure.

The chip signs our random challenge with the private key whose public half is in DG15, which a
copy of the data cannot do. This module builds the INTERNAL AUTHENTICATE commands and judges
the chip's length refusals; it sends nothing (:mod:`reader.authentication` runs it over a
channel) and checks no signature (that is PKI: :mod:`reader.trust.active`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .apdu import CommandApdu, ResponseApdu, raise_for_status
from .sm import wrapped_response_size


@dataclass(frozen=True)
class AnswerForm:
    """How the signature is asked for: short (Le=00), extended, or in parts of ``part`` bytes
    (61xx and GET RESPONSE, ISO 7816-4 §5.3.4)."""

    extended: bool = False
    part: int | None = None

    def __str__(self) -> str:
        return "extended" if self.extended else f"in parts of {self.part}" if self.part else "short"


def is_length_refusal(sw: int) -> bool:
    return sw == 0x6700 or sw >> 8 == 0x6C


class ActiveAuthInitiator:
    """One challenge, asked for in the forms the card and the reader may carry, in order:
    short first (real CCCDs send even a 2048-bit RSA signature, ~283 protected bytes, to it),
    extended where extended length may work, then in parts of ``part`` bytes.

    ``extended``: what is known of extended length here (``False``: never ask for it).
    ``part``: the largest answer known to pass. ``proven``: the largest protected answer this
    chip has already sent. ``signature_size``: the DG15 key's signature length (0: unknown);
    ``cipher_block``: the session's block size (0: no secure messaging).
    """

    def __init__(self, challenge: bytes, signature_size: int, *, cipher_block: int = 0,
                 extended: bool | None = None, part: int | None = None,
                 proven: int = 0) -> None:
        self.challenge = challenge
        self.proven = proven
        needed = signature_size
        if cipher_block and needed:
            needed = wrapped_response_size(needed, cipher_block)
        self.needed = needed
        forms = [AnswerForm()]
        if extended is not False:
            forms.append(AnswerForm(extended=True))
        if part is not None and part < 256:
            forms.append(AnswerForm(part=part))
        self.forms: tuple[AnswerForm, ...] = tuple(forms)

    def command(self, form: AnswerForm) -> CommandApdu:
        return CommandApdu(0x00, 0x88, 0x00, 0x00, self.challenge,
                           65536 if form.extended else 256, form.extended)

    def refuses_without_cause(self, form: AnswerForm, sw: int) -> bool:
        """A length refusal of a short answer no larger than one the chip has already sent is
        a refusal, not a limit: a clone must not turn FORGED into "could not check" that way."""
        return (is_length_refusal(sw) and form == AnswerForm()
                and 0 < self.needed <= min(self.proven, 256))

    @staticmethod
    def signature(answer: ResponseApdu) -> bytes:
        """The signature in the chip's answer; a typed error when the chip refused."""
        raise_for_status(answer, during="internal-authenticate")
        return answer.data
