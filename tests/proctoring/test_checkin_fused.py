"""A check-in with the site's second face model fused in: the decision is made on the fused
score at the fused operating point, and without a fitted fusion nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from biometrics import Challenge, FaceEngine, FaceOutcome
from biometrics.config import ORL_POINT, OperatingPoint
from biometrics.fused_check import SecondModel
from biometrics.onnx_embedder import EmbedderHashMismatch, Fusion, ScoreNorm
from proctoring.checkin import CheckInService
from proctoring.models import Decision
from proctoring.store import Store
from tests.biometrics.test_onnx_embedder import tiny_model

from .helpers import add_roster, centre_and_session
from .test_checkin_service import OTHER_FACE, OWN_FACE, PEOPLE, camera, engine, read

__all__ = ["engine"]  # the module-scoped fixture, shared


def _section(tmp_path: Path, weight: float, point: OperatingPoint) -> dict[str, object]:
    model = tmp_path / "second.onnx"
    fusion = Fusion(ScoreNorm(0.0, 1.0), ScoreNorm(1.0, 0.25), weight)
    return {"model": str(model), "sha256": tiny_model(model), "fusion": fusion.to_dict(),
            "operating_point": point.to_dict()}


def test_the_fused_score_decides_and_weight_zero_is_dlib_alone(
        store: Store, engine: FaceEngine, tmp_path: Path) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    card, trust = read()
    # The point the shared engine runs on (these ORL / people photos' own calibration), so that
    # weight 0 must give exactly its decisions.
    dlib_point = ORL_POINT
    plain = CheckInService(store, engine).check_in(
        session, card, trust, camera(OWN_FACE), consent=True, actor="t",
        challenge=Challenge.BLINK)
    assert plain.face is not None and plain.decision is Decision.ADMIT

    # Not yet fitted (no fusion saved): the site's model changes nothing.
    assert SecondModel.from_settings({"model": "/x.onnx", "sha256": "0" * 64}) is None

    # Weight 0 with dlib's own scale: the fused score is dlib's distance, same decisions.
    same = SecondModel.from_settings(_section(tmp_path, 0.0, OperatingPoint(
        dlib_point.threshold, dlib_point.review_low, dlib_point.review_high, 1e-3,
        "fused: test")))
    assert same is not None
    desk = CheckInService(store, engine, second=same)
    own = desk.check_in(session, card, trust, camera(OWN_FACE), consent=True, actor="t",
                        challenge=Challenge.BLINK)
    assert own.face is not None and own.face.point.source == "fused: test"
    assert own.face.distance == pytest.approx(plain.face.distance, abs=1e-9)
    # The face decides as before; the check-in itself is a later attempt on an admitted
    # candidate (issue 13: REVIEW, "already admitted"), so the face outcome is what is compared.
    assert own.face.decision is plain.face.decision is FaceOutcome.MATCH
    other = desk.check_in(session, card, trust, camera(OTHER_FACE), consent=True, actor="t",
                          challenge=Challenge.BLINK)
    assert other.decision is not Decision.ADMIT
    assert other.face is not None and other.face.decision is not FaceOutcome.MATCH

    # Weight ½: the second model's distance enters as the fusion says it does.
    half = SecondModel.from_settings(_section(tmp_path, 0.5, OperatingPoint(
        1.0, 0.9, 1.1, 1e-3, "fused: test")))
    assert half is not None
    fused = CheckInService(store, engine, second=half).check_in(
        session, card, trust, camera(OWN_FACE), consent=True, actor="t",
        challenge=Challenge.BLINK)
    assert fused.face is not None
    d2 = (fused.face.distance - 0.5 * plain.face.distance) / 0.5 * 0.25 + 1.0
    assert 0.0 <= d2 <= 2.0  # a real distance of the second model, chip against live
    assert fused.face.distance != pytest.approx(plain.face.distance)


def test_a_second_model_with_a_wrong_hash_stops_the_desk(tmp_path: Path) -> None:
    section = _section(tmp_path, 0.5, OperatingPoint())
    section["sha256"] = "f" * 64
    with pytest.raises(EmbedderHashMismatch):
        SecondModel.from_settings(section)


def test_the_checkin_command_refuses_a_second_model_that_is_not_the_pinned_one(
        tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from examdesk.cli import app
    from examdesk.settings import write_section

    section = _section(tmp_path, 0.5, OperatingPoint())
    section["sha256"] = "f" * 64
    write_section("face_embedder", section)  # the isolated home's settings file
    result = CliRunner().invoke(app, ["checkin", "--session", "S1", "--camera", "0"])
    # Stopped before any card is read or the database is opened.
    assert result.exit_code == 2
    assert "Không dùng mô hình khuôn mặt" in result.stderr and "f" * 64 in result.stderr
