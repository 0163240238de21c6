"""The face threshold's trade-off on the settings screen (issue 14): a centre admin opens it
with the keyboard (Ctrl+T), reads for each target false match rate what it costs on the
centre's own people, with the 95 % bound and the pairs behind each figure, in Vietnamese first
and in English, and goes back to the rules with Esc. An invigilator cannot open it."""

from __future__ import annotations

import pytest

from biometrics.bounds import min_pairs
from proctoring.face_population import centre_tradeoff
from proctoring.models import Role
from tests.examdesk.gui.conftest import Desk, settle
from tests.proctoring.population_data import population

AS_ADMIN = pytest.mark.desk_state(role=Role.CENTRE_ADMIN, screen="settings")


def _seed(desk: Desk, people: int) -> None:
    app = desk.app
    session = app.session
    done: list[object] = []
    app.run_job(lambda: population(app.services.store, session, people, first=7000),
                done=done.append)
    settle(desk)
    assert done


@AS_ADMIN
def test_an_admin_reads_the_trade_off_by_keyboard(desk: Desk) -> None:
    app = desk.app
    settings = app.views["settings"]
    _seed(desk, 80)
    assert settings.rules.winfo_ismapped() and not settings.tradeoff.winfo_ismapped()

    desk.press("Control-t")
    desk.wait_until(lambda: settings.tradeoff.result is not None, "the trade-off table")
    desk.pump(0.2)
    panel = settings.tradeoff
    assert panel.winfo_ismapped() and not settings.rules.winfo_ismapped()
    assert desk.fits(panel) and desk.fits(settings.save_button)
    expected = centre_tradeoff(app.services.store, app.session.centre_id)
    assert panel.result == expected
    summary = str(panel.summary.cget("text"))
    assert f"{expected.identities} số định danh" in summary
    assert "cặp ảnh của hai người khác nhau" in summary and "Esc" in summary
    assert str(panel.headers[0].cget("text")) == "Mức nhận nhầm mục tiêu"

    rows = panel.rows_text()
    assert len(rows) == len(expected.rows) == 5
    by_target = {r.target_fmr: (r, cells) for r, cells in zip(expected.rows, rows, strict=True)}
    # 1 in 10 000 cannot be shown on ~9 000 pairs: the row says how many it needs, in words.
    row, cells = by_target[1e-4]
    assert row.threshold is None and len(cells) == 2
    assert cells[0] == "1 / 10.000 (0,01 %)"
    needed = f"{min_pairs(1e-4):,}".replace(",", ".")
    assert cells[1].startswith("Chưa đủ dữ liệu") and needed in cells[1]
    # The default target: every figure with the pairs behind it, in Vietnamese numbers.
    row, cells = by_target[1e-3]
    assert row.threshold is not None and row.fmr_upper is not None
    assert row.fmr_upper <= 1e-3 and row.genuine_pairs == expected.genuine_pairs > 0
    assert cells[0] == "1 / 1.000 (0,1 %)"
    assert cells[1] == f"{row.threshold:.4f}".replace(".", ",")
    assert cells[5].endswith(f"{row.false_matches} trên "
                             f"{row.impostor_pairs:,}".replace(",", ".") + " cặp")
    desk.shot("20-settings-tradeoff-vi")

    app.set_language("en")
    desk.pump(0.2)
    assert str(panel.headers[0].cget("text")) == "Target false match rate"
    assert panel.rows_text()[2][0] == "1 / 1,000 (0.1 %)"
    assert "pairs of photos of two different people" in str(panel.summary.cget("text"))
    desk.shot("21-settings-tradeoff-en")
    app.set_language("vi")
    desk.pump(0.1)

    desk.press("Escape")
    assert not panel.winfo_ismapped() and settings.rules.winfo_ismapped()
    assert settings.district_panel.winfo_ismapped()
    assert desk.fits(settings.rules) and desk.fits(settings.save_button)


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="settings")
def test_an_invigilator_cannot_open_it(desk: Desk) -> None:
    settings = desk.app.views["settings"]
    assert settings.tradeoff_button.cget("state") == "disabled"
    desk.press("Control-t")
    settle(desk)
    assert not settings.tradeoff.winfo_ismapped()
