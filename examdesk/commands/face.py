"""`examdesk face …`: compare two photos, calibrate the threshold, evaluate against the baseline."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from biometrics import errors
from biometrics.config import FaceSettings
from biometrics.dataset import LabelledImages
from biometrics.decision import compare
from biometrics.engine import FaceEngine
from biometrics.evaluation import CalibrationReport, EvaluationReport, calibrate, evaluate
from biometrics.faces import capture, enrol
from biometrics.images import load
from examdesk.i18n import Catalog, default_language
from examdesk.settings import SettingsError, read_section, write_section

app = typer.Typer(help="Khuôn mặt — face verification: chip portrait against the candidate.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

SECTION = "face"
EXIT_BAD_INPUT = 2
EXIT_FACE = 3
EXIT_CODES: list[tuple[type[Exception], int]] = [
    (errors.ImageUnreadable, EXIT_BAD_INPUT),
    (errors.DatasetError, EXIT_BAD_INPUT),
    (errors.NoFace, EXIT_FACE),
    (errors.SeveralFaces, EXIT_FACE),
    (errors.PoorImage, EXIT_FACE),
]

JsonOpt = Annotated[bool, typer.Option("--json", help="JSON output")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, help="processes (default: cores)")]


class BadInput(Exception):
    key = "face.bad_input"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context: dict[str, object] = {}


def _fail(exc: errors.BiometricsError | SettingsError | BadInput, as_json: bool) -> NoReturn:
    catalog = Catalog.load()
    ctx: dict[str, Any] = {"detail": exc.detail, **exc.context}
    if as_json:
        print(json.dumps({"error": {
            "key": exc.key,
            "vi": catalog.text(exc.key, "vi", **ctx),
            "en": catalog.text(exc.key, "en", **ctx),
            "detail": exc.detail,
            "context": {k: _jsonable(v) for k, v in exc.context.items()},
        }}, ensure_ascii=False))
    print(catalog.both(exc.key, **ctx), file=sys.stderr)
    code = EXIT_BAD_INPUT if isinstance(exc, BadInput) else next(
        (c for t, c in EXIT_CODES if isinstance(exc, t)), 1)
    raise typer.Exit(code)


def _jsonable(value: object) -> object:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, int | str | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def load_settings() -> FaceSettings:
    return FaceSettings.from_dict(read_section(SECTION))


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Any]:
    if not sys.stderr.isatty():
        yield None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


# --- verify -----------------------------------------------------------------------------------


@app.command("verify")
def verify_cmd(
    image_a: Annotated[Path, typer.Argument(help="reference: the chip portrait (JPEG, JPEG 2000)")],
    image_b: Annotated[Path, typer.Argument(help="probe: the candidate's photo")],
    no_quality: Annotated[bool, typer.Option("--no-quality",
                                             help="skip the quality checks on IMAGE_B")] = False,
    as_json: JsonOpt = False,
    lang: Annotated[str, typer.Option("--lang", help="vi or en")] = default_language(),
) -> None:
    """So khớp hai ảnh — is the person in IMAGE_B the person in IMAGE_A?"""
    try:
        engine = FaceEngine(load_settings())
        try:
            reference = enrol(engine, load(image_a))
        except errors.BiometricsError as exc:
            exc.context.setdefault("image", str(image_a))
            raise
        try:
            probe = capture(engine, load(image_b), still=True, check_quality=not no_quality)
        except errors.BiometricsError as exc:
            exc.context.setdefault("image", str(image_b))
            raise
    except (errors.BiometricsError, SettingsError) as exc:
        _fail(exc, as_json)
    result = compare(reference.embedding, [probe.embedding], engine.settings.operating_point)
    catalog = Catalog.load()
    if as_json:
        print(json.dumps({**result.to_dict(),
                          "message": {"vi": catalog.text(result.decision.key, "vi"),
                                      "en": catalog.text(result.decision.key, "en")},
                          "quality": probe.quality.to_dict(),
                          "source": engine.settings.operating_point.source},
                         ensure_ascii=False))
        return
    point = result.point
    print(catalog.text(result.decision.key, lang))
    print(f"{catalog.text('face.label.distance', lang)}: {result.distance:.4f}   "
          f"{catalog.text('face.label.threshold', lang)}: {point.threshold:.4f}   "
          f"{catalog.text('face.label.review_band', lang)}: "
          f"[{point.review_low:.4f}, {point.review_high:.4f})")


# --- calibrate --------------------------------------------------------------------------------


@app.command("calibrate")
def calibrate_cmd(
    folder: Annotated[Path, typer.Argument(help="one sub-folder of photos per person")],
    far: Annotated[float, typer.Option("--far", help="target false match rate")] = 1e-3,
    save: Annotated[bool, typer.Option("--save/--no-save",
                                       help="store the threshold in the settings file")] = True,
    workers: WorkersOpt = 2,
    as_json: JsonOpt = False,
) -> None:
    """Hiệu chỉnh ngưỡng — choose the threshold and review band for a target FMR."""
    try:
        if not 0.0 < far <= 0.1:
            raise BadInput(f"--far must be in (0, 0.1], not {far:g}")
        settings = load_settings()
        images = LabelledImages.scan(folder)
        with _progress("calibrate") as progress:
            report = calibrate(images, settings, far, workers=workers, progress=progress)
        saved = None
        if save:
            section = read_section(SECTION)
            section["operating_point"] = report.point.to_dict()
            saved = write_section(SECTION, section)
    except (errors.BiometricsError, SettingsError, BadInput) as exc:
        _fail(exc, as_json)
    if as_json:
        print(json.dumps({**report.to_dict(), "saved": str(saved) if saved else None},
                         ensure_ascii=False))
        return
    _show_calibration(report)
    if saved:
        print(Catalog.load().both("face.saved", path=str(saved)))


def _console() -> Console:
    # Tables and report lines stay whole when piped to a file or another program.
    return Console(soft_wrap=True) if sys.stdout.isatty() else Console(soft_wrap=True, width=160)


def _pct(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value * 100:.3f} %"


def _show_calibration(report: CalibrationReport) -> None:
    d, p, r = report.data, report.point, report.rates
    console = _console()
    console.print(f"{d.images} photos, {d.identities} people: face found in {d.faces_found} "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(d.detectors.items()))}); "
                  f"{d.genuine_pairs} genuine / {d.impostor_pairs} impostor pairs")
    console.print(f"threshold {p.threshold:.4f} at FMR {p.target_fmr:g}: FNMR {_pct(r.fnmr)}, "
                  f"FMR {_pct(r.fmr)}; EER {_pct(r.eer)} at {r.eer_threshold:.4f}")
    console.print(f"review band [{p.review_low:.4f}, {p.review_high:.4f}): genuine "
                  f"{_pct(report.review['genuine_review'])} to review, "
                  f"{_pct(report.review['genuine_no_match'])} refused; impostors "
                  f"{_pct(report.review['impostor_review'])} to review, "
                  f"{_pct(report.review['impostor_match'])} accepted")
    for w in report.warnings:
        console.print(f"[yellow]! {w}[/yellow]")


# --- evaluate ---------------------------------------------------------------------------------


@app.command("evaluate")
def evaluate_cmd(
    folder: Annotated[Path, typer.Argument(help="one sub-folder of photos per person")],
    workers: WorkersOpt = 2,
    as_json: JsonOpt = False,
) -> None:
    """Đánh giá — error rates of our pipeline and of face_recognition's defaults."""
    try:
        settings = load_settings()
        images = LabelledImages.scan(folder)
        with _progress("evaluate") as progress:
            report = evaluate(images, settings, workers=workers, progress=progress)
    except (errors.BiometricsError, SettingsError) as exc:
        _fail(exc, as_json)
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    _show_evaluation(report)


def _show_evaluation(report: EvaluationReport) -> None:
    d = report.data
    console = _console()
    console.print(f"{d.images} photos, {d.identities} people, {d.genuine_pairs} genuine / "
                  f"{d.impostor_pairs} impostor pairs; operating point "
                  f"{report.point.threshold:.4f} ({report.point.source})")
    table = Table()
    for column in ("pipeline", "faces", "threshold", "FNMR", "FMR", "EER", "FNMR@FMR=1e-2",
                   "FNMR@FMR=1e-3", "ms/photo"):
        table.add_column(column, justify="right" if column != "pipeline" else "left")
    for p in (report.ours, report.baseline):
        r = p.rates
        table.add_row(p.name, f"{p.faces_found}/{d.images}", f"{r.threshold:.4f}", _pct(r.fnmr),
                      _pct(r.fmr), _pct(r.eer), _pct(r.fnmr_at_fmr_1e2), _pct(r.fnmr_at_fmr_1e3),
                      f"{p.ms_per_image:.0f}")
    console.print(table)
    for w in report.warnings:
        console.print(f"[yellow]! {w}[/yellow]")


# --- liveness-evaluate ------------------------------------------------------------------------


@app.command("liveness-evaluate")
def liveness_evaluate_cmd(
    folder: Annotated[Path | None, typer.Argument(
        help="the shared faces folder (orl/, people/, east-asian/, video/); default: "
             "../shared/faces")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="a small seeded subset")] = False,
    seed: Annotated[int, typer.Option("--seed", help="the subset's and pairs' seed")] = 15,
) -> None:
    """Đánh giá người thật — APCER per attack type and BPCER of the liveness check.

    Prints a table, then one JSON line (the last line of the output)."""
    from biometrics.liveness import LivenessCheck
    from biometrics.liveness_eval import evaluate as evaluate_liveness
    from biometrics.liveness_eval import presentations, table
    from reader.virtual.faces import faces_dir

    try:
        root = folder or faces_dir()
        if not (root / "orl").is_dir():
            raise errors.DatasetError(f"{root} has no orl/ folder", folder=str(root))
        items = presentations(root, quick=quick, seed=seed)
        check = LivenessCheck(FaceEngine(load_settings()))
        with _progress("liveness") as progress:
            report = evaluate_liveness(check, root, items, progress)
    except (errors.BiometricsError, SettingsError) as exc:
        _fail(exc, False)
    console = _console()
    for line in table(report):
        console.print(line, markup=False)
    for line in report.refused:
        console.print(f"  refused bona fide: {line}", markup=False)
    print(json.dumps({**report.to_dict(), "quick": quick, "seed": seed}, ensure_ascii=False))


if __name__ == "__main__":
    app()
