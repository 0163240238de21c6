"""`examdesk face embedder` and `examdesk face fuse`: a site checks the model it installed, then
fits the fusion on half its photos and sees both pipelines measured on the other half."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examdesk.commands.face import app
from examdesk.settings import read_section, write_section
from reader.virtual import faces_dir
from tests.biometrics.test_onnx_embedder import tiny_model

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"


def test_the_installed_model_is_checked_and_a_wrong_pin_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["embedder"])
    assert result.exit_code == 1 and "face_embedder" in result.stderr
    model = tmp_path / "sface.onnx"
    digest = tiny_model(model)
    write_section("face_embedder", {"model": str(model), "sha256": digest})
    result = runner.invoke(app, ["embedder", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"model": str(model), "sha256": digest,
                                         "dimensions": 32, "fused": False}
    write_section("face_embedder", {"model": str(model), "sha256": "ab" * 32})
    result = runner.invoke(app, ["embedder"])
    assert result.exit_code == 1
    assert "Không dùng mô hình khuôn mặt" in result.stderr and "is not used" in result.stderr
    assert digest in result.stderr


def test_fuse_fits_on_half_the_people_and_saves_the_fusion(tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    # ORL's 92×112 photos, not people/'s of up to 1024 px: the same counts of people, photos
    # and pairs through the same encoding and fitting, with less picture to search for faces.
    people = faces_dir() / "orl"

    def link(persons: tuple[str, ...]) -> None:
        for person in persons:
            (folder / person).mkdir(parents=True, exist_ok=True)
            for src in sorted((people / person).glob("*.png"))[:3]:
                (folder / person / src.name).symlink_to(src)

    model = tmp_path / "sface.onnx"
    write_section("face_embedder", {"model": str(model), "sha256": tiny_model(model)})
    write_section("face", {"portrait_jitters": 0})  # test time: the fusion is what is tested
    # Four people: 9 impostor pairs on the fitting half cannot prove FMR ≤ 0.1 at the 95 %
    # bound (29 are needed): refused, saying so, nothing saved. (Before the bound rule this
    # folder was fitted on point estimates.)
    link(("s11", "s12", "s13", "s14"))
    result = runner.invoke(app, ["fuse", str(folder), "--far", "0.1", "--save", "--json"])
    assert result.exit_code == 1 and "at least 29 are needed" in result.stderr
    assert "fusion" not in read_section("face_embedder")
    link(("s15", "s16", "s17", "s18"))
    result = runner.invoke(app, ["fuse", str(folder), "--far", "0.1", "--save", "--json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    # Four people (twelve photos) held out: 12 genuine and 54 impostor pairs measured on them.
    for name in ("dlib", "fused"):
        assert (out[name]["genuine_pairs"], out[name]["impostor_pairs"]) == (12, 54)
        assert out[name]["fmr_upper"] >= out[name]["fmr"]
    saved = read_section("face_embedder")
    assert saved["fusion"] == out["fusion"] and saved["sha256"]
    assert saved["operating_point"]["threshold"] == out["operating_point"]["threshold"]
