"""Every reason key a check-in decision can carry: the vocabulary of a decision's "why".

A check-in's reasons (``CheckIn.reasons``) are message keys. The signed roster states them
(facts format 2, :mod:`reports.facts`) and prints each in words; ``roster verify`` names a
changed one in words and lists a key it does not know as unknown. That needs the whole list,
in one place: the keys the decision itself says (:mod:`proctoring.checkin`), the trust
findings' messages (:data:`reader.trust.policy.FINDINGS`), the liveness check's reasons, the
face capture's errors and the card faults a rejected card is recorded with.

The lists are spelled out rather than gathered at import time, so the roster's vocabulary does
not depend on which modules happen to be loaded. ``tests/reports/test_reason_words.py`` reads
them from the code (the literals of ``proctoring/checkin.py``, the error classes, the liveness
modules): a reason added there without being added here — and worded for the roster in
Vietnamese and English — fails it.
"""

from __future__ import annotations

from reader.trust.policy import FINDINGS

# Said by the decision itself (proctoring/checkin.py).
DECISION_KEYS: frozenset[str] = frozenset({
    "checkin.already_admitted",
    "checkin.already_admitted_no_desk",
    "checkin.not_on_roster",
    "checkin.no_consent",
    "checkin.card_rejected",
    "checkin.card_expired",
    "checkin.no_chip_portrait",
    "checkin.chip_portrait_unusable",
    "checkin.liveness_failed",
    "checkin.face_asnorm",
    "checkin.face_mismatch",
    "checkin.face_review",
    "checkin.face_already_admitted",
    # The face rules across desks (proctoring/face_rules.py, checkin_guard.py).
    "checkin.stage_face_mismatch",
    "checkin.stage_face_mismatch_no_desk",
    # A desk deciding while the centre is unreachable (proctoring/offline_rule.py).
    "checkin.offline_other_desks",
    "checkin.offline_earlier_stage",
})

# A failed liveness check's reason (biometrics/liveness.py, continuity.py, handover.py).
LIVENESS_KEYS: frozenset[str] = frozenset({
    "face.liveness.cut",
    "face.liveness.frozen",
    "face.liveness.too_fast",
    "face.liveness.other_person",
    "face.liveness.early",
    "face.liveness.handover_break",
    "face.liveness.handover_person",
    "face.liveness.no_blink",
    "face.liveness.no_turn",
    "face.liveness.no_face",
})

# The face capture stopped (a BiometricsError other than a lost camera, which stores nothing);
# also the ``problem`` of an unusable chip portrait.
FACE_KEYS: frozenset[str] = frozenset({
    "face.error",
    "face.image_unreadable",
    "face.no_face",
    "face.several_faces",
    "face.poor_image",
    "face.too_small",
    "face.cut_off",
    "face.too_dark",
    "face.too_bright",
    "face.blurred",
    "face.head_turned",
    "face.eyes_closed",
    "face.models_missing",
    "face.process_stopped",
    "face.embedder.error",
    "face.embedder.settings_invalid",
    "face.embedder.missing",
    "face.embedder.hash_mismatch",
    "face.embedder.unloadable",
    "face.dataset",
    "face.too_few_pairs",
    "face.population.too_few_impostor_pairs",
    "face.population.too_few_genuine_pairs",
    "face.population.no_calibration",
})

# A card whose own data failed (reader.errors.is_card_fault): recorded as a rejected check-in.
CARD_FAULT_KEYS: frozenset[str] = frozenset({
    "card.malformed",
    "card.over_limit",
    "card.unreadable",
    "card.check_digit",
    "card.inconsistent",
})

# The trust findings' messages (the card's verdict, one per finding that made it).
FINDING_KEYS: frozenset[str] = frozenset(message for _, message in FINDINGS.values())

# No longer given, but stored in earlier check-ins: a roster printed today still says them.
RETIRED_KEYS: frozenset[str] = frozenset({
    "checkin.face_changed_between_stages",  # before issue 17's checkin.stage_face_mismatch
})

REASON_KEYS: frozenset[str] = (DECISION_KEYS | LIVENESS_KEYS | FACE_KEYS | CARD_FAULT_KEYS
                               | FINDING_KEYS | RETIRED_KEYS)

# Context values a reason's words show (the rest of a reason's context is for logs): the
# facts carry these and no others, so a roster states what it prints.
CONTEXT_FIELDS: frozenset[str] = frozenset({
    "at", "date", "desk",  # already admitted: when and where
    "challenge",  # liveness: which challenge
    "distance", "likeness", "cohort",  # the face comparison's numbers
    "stage",  # the stage of the check-in (or, before issue 17, the earlier one)
    "earlier_stage",  # the earlier stage a face differs from
    "first",  # the session's first stage, out of reach for an offline desk
    "problem",  # an unusable chip portrait: what is wrong with it (a FACE_KEYS key)
})


def is_reason_key(key: str) -> bool:
    return key in REASON_KEYS
