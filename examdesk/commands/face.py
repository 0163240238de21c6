"""`examdesk face …`: compare two photos, calibrate the threshold, evaluate against the baseline."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from biometrics import errors
from biometrics.config import FaceSettings
from biometrics.dataset import LabelledImages, read_groups
from biometrics.decision import compare
from biometrics.engine import FaceEngine
from biometrics.evaluation import CalibrationReport, EvaluationReport, calibrate, evaluate
from biometrics.faces import capture, enrol
from biometrics.images import load
from biometrics.protocol import CheckinReport
from examdesk.commands.common import LangOption
from examdesk.commands.errors import BadOption, handles_errors
from examdesk.i18n import Catalog, Words, default_language
from examdesk.settings import read_section, write_section

app = typer.Typer(help="Khuôn mặt — face verification: chip portrait against the candidate.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

SECTION = "face"

JsonOpt = Annotated[bool, typer.Option("--json", help="JSON output")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, help="processes (default: cores)")]
CacheOpt = Annotated[Path | None, typer.Option(
    "--cache", help="folder that keeps each photo's descriptors between runs (keyed by the "
                    "photo's SHA-256 and the pipeline's settings and model files)")]


class BadInput(BadOption):
    """An option of a face command that cannot be used (exit 2)."""

    key = "face.bad_input"


def load_settings() -> FaceSettings:
    return FaceSettings.from_dict(read_section(SECTION))


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Any]:
    """Progress of a long run on stderr, in words: a bar on a terminal; elsewhere (a log, a
    pipe) a plain line at every tenth of the way, so a 13-minute run is never silent."""
    words = Catalog.load().text(f"face.progress.{label}", default_language())
    if not sys.stderr.isatty():
        shown = [-1]

        def plain(done: int, total: int) -> None:
            tenth = done * 10 // total if total else 0
            if tenth != shown[0]:
                shown[0] = tenth
                print(f"{words}: {done}/{total}", file=sys.stderr, flush=True)

        yield plain
        return
    with Progress(TextColumn(words), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(words, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@contextlib.contextmanager
def _about(image: Path, role: str = "") -> Iterator[None]:
    """A face error in the body names the photo it is about; with a ``role`` (reference,
    probe) the message starts with which photo it is, in words."""
    try:
        yield
    except errors.BiometricsError as exc:
        exc.context.setdefault("image", str(image))
        if role:
            exc.context.setdefault("about", Words(f"face.about.{role}"))
        raise


# --- verify -----------------------------------------------------------------------------------


@app.command("verify")
@handles_errors()
def verify_cmd(
    image_a: Annotated[Path, typer.Argument(help="reference: the chip portrait (JPEG, JPEG 2000)")],
    image_b: Annotated[Path, typer.Argument(help="probe: the candidate's photo")],
    no_quality: Annotated[bool, typer.Option("--no-quality",
                                             help="skip the quality checks on IMAGE_B")] = False,
    as_json: JsonOpt = False,
    lang: LangOption = None,
) -> None:
    """So khớp hai ảnh — is the person in IMAGE_B the person in IMAGE_A?"""
    lang = lang or default_language()
    engine = FaceEngine(load_settings())
    with _about(image_a, "reference"):
        reference = enrol(engine, load(image_a))
    with _about(image_b, "probe"):
        probe = capture(engine, load(image_b), still=True, check_quality=not no_quality)
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
@handles_errors()
def calibrate_cmd(
    folder: Annotated[Path | None, typer.Argument(
        help="one sub-folder of photos per person (not with --population)")] = None,
    far: Annotated[float, typer.Option("--far", help="target false match rate")] = 1e-3,
    save: Annotated[bool, typer.Option("--save/--no-save",
                                       help="store the threshold in the settings file")] = True,
    population: Annotated[bool, typer.Option(
        "--population", help="calibrate on the centre's own check-ins in the store (the "
        "95 % upper bound of the FMR meets --far)")] = False,
    district: Annotated[bool, typer.Option(
        "--district", help="with --population: the whole district, sent to every centre")]
    = False,
    central: Annotated[str | None, typer.Option(
        "--central", help="with --district: the district database URL")] = None,
    centre: Annotated[str | None, typer.Option(
        "--centre", help="centre code, when the database holds several")] = None,
    workers: WorkersOpt = 2,
    cache: CacheOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hiệu chỉnh ngưỡng — choose the threshold and review band for a target FMR."""
    if population or district:
        _calibrate_population(far, save=save, district=district, central=central,
                              centre=centre, as_json=as_json)
        return
    if not 0.0 < far <= 0.1:
        raise BadInput(f"--far must be in (0, 0.1], not {far:g}")
    if folder is None:
        raise BadInput("give a folder of photos, or --population")
    settings = load_settings()
    images = LabelledImages.scan(folder)
    with _progress("calibrate") as progress:
        report = calibrate(images, settings, far, workers=workers, progress=progress,
                           cache=cache)
    saved = None
    if save:
        section = read_section(SECTION)
        section["operating_point"] = report.point.to_dict()
        saved = write_section(SECTION, section)
    if as_json:
        print(json.dumps({**report.to_dict(), "saved": str(saved) if saved else None},
                         ensure_ascii=False))
        return
    _show_calibration(report)
    if saved:
        print(Catalog.load().both("face.saved", path=str(saved)))


def _calibrate_population(far: float, *, save: bool, district: bool, central: str | None,
                          centre: str | None, as_json: bool) -> None:
    from examdesk.commands.session import actor, stored
    from examdesk.commands.sync import office_login
    from proctoring.face_population import calibrate_centre, calibrate_district
    from proctoring.sync import local_centre

    if not 0.0 < far <= 0.1:
        raise BadInput(f"--far must be in (0, 0.1], not {far:g}")
    sent = 0
    if district:
        with office_login(central) as office:
            result, rows = calibrate_district(office.store, office.centre_id,
                                              actor=actor(), target_fmr=far, save=save)
            sent = len(rows)
    else:
        with stored() as store:
            where = local_centre(store, code=centre)
            result, _row = calibrate_centre(store, where.id, actor=actor(), target_fmr=far,
                                            save=save)
    catalog = Catalog.load()
    if as_json:
        print(json.dumps({**result.to_dict(), "saved": save, "sent_to_centres": sent},
                         ensure_ascii=False))
        return
    p, fmr, fnmr = result.point, result.fmr, result.fnmr
    console = _console()
    console.print(f"{p.source}")
    console.print(f"threshold {p.threshold:.4f}: FMR {fmr.errors}/{fmr.pairs} = {_pct(fmr.rate)}"
                  f" (95 % upper bound {_pct(fmr.upper)}, target {p.target_fmr:g}); "
                  f"FNMR {fnmr.errors}/{fnmr.pairs} = {_pct(fnmr.rate)} "
                  f"(95 % upper bound {_pct(fnmr.upper)})")
    console.print(f"review band [{p.review_low:.4f}, {p.review_high:.4f})")
    if result.left_out:
        console.print(f"[yellow]! {result.left_out} stored descriptors could not be opened "
                      "and were left out (another data key, or altered)[/yellow]")
    table = Table(title="target FMR → cost on this population")
    for column in ("target FMR", "threshold", "genuine to REVIEW", "genuine refused",
                   "impostors admitted", "FMR 95 % bound"):
        table.add_column(column, justify="right")
    for t in result.tradeoff:
        if t.threshold is None:
            table.add_row(f"{t.target_fmr:g}", "—", f"needs {t.needed} pairs" if t.needed
                          else "—", "—", "—", "—")
        else:
            table.add_row(f"{t.target_fmr:g}", f"{t.threshold:.4f}", _pct(t.genuine_review),
                          _pct(t.genuine_refused), _pct(t.impostor_admitted),
                          _pct(t.fmr_upper))
    console.print(table)
    if save and district:
        print(catalog.both("face.population.sent", count=sent))
    elif save:
        print(catalog.both("face.population.saved"))


EXIT_DRIFTED = 4


@app.command("drift")
@handles_errors()
def drift_cmd(
    centre: Annotated[str | None, typer.Option(
        "--centre", help="centre code, when the database holds several")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Kiểm tra trôi ngưỡng — re-estimate the FMR of the centre's calibration on today's
    check-ins; exit 4 (and a warning for the office) when its 95 % bound misses the target.
    The check is recorded in the audit log, which the next sync takes to the district."""
    from examdesk.commands.session import actor, stored
    from proctoring.face_population import drift
    from proctoring.sync import local_centre

    with stored() as store:
        where = local_centre(store, code=centre)
        check = drift(store, where.id, actor=actor())
    key = "face.population.drifted" if check.drifted else "face.population.holds"
    text = Catalog.load().both(key, threshold=f"{check.threshold:.4f}",
                               upper=f"{check.fmr.upper:.2e}", target=f"{check.target_fmr:g}")
    if as_json:
        print(json.dumps({**check.to_dict(), "message": text}, ensure_ascii=False))
    else:
        print(text)
        print(f"FMR {check.fmr.errors}/{check.fmr.pairs}, FNMR {check.fnmr.errors}/"
              f"{check.fnmr.pairs} (95 % upper bound {_pct(check.fnmr.upper)})")
    if check.drifted:
        raise typer.Exit(EXIT_DRIFTED)


# --- the site's second embedder --------------------------------------------------------------


def _embedder_spec() -> Any:
    from biometrics.onnx_embedder import SECTION as EMBEDDER
    from biometrics.onnx_embedder import EmbedderSettingsInvalid, EmbedderSpec

    spec = EmbedderSpec.from_dict(read_section(EMBEDDER))
    if spec is None:
        raise EmbedderSettingsInvalid("no model in the face_embedder section", field="model")
    return spec


@app.command("embedder")
@handles_errors()
def embedder_cmd(as_json: JsonOpt = False) -> None:
    """Kiểm tra mô hình thứ hai — load the ONNX model the settings name, check its pinned
    SHA-256, run it once."""
    from biometrics.onnx_embedder import OnnxEmbedder

    spec = _embedder_spec()
    embedder = OnnxEmbedder(spec)
    try:
        dim = len(embedder.embed_crop(np.full((112, 112, 3), 128, np.uint8)))
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    if as_json:
        print(json.dumps({"model": str(spec.model), "sha256": spec.sha256, "dimensions": dim,
                          "fused": spec.fusion is not None}, ensure_ascii=False))
        return
    print(Catalog.load().both("face.embedder.ok", path=str(spec.model), sha256=spec.sha256,
                              dim=dim))


@app.command("fuse")
@handles_errors()
def fuse_cmd(
    folder: Annotated[Path, typer.Argument(help="one sub-folder of photos per person")],
    far: Annotated[float, typer.Option("--far", help="target false match rate")] = 1e-3,
    weight: Annotated[float, typer.Option("--weight", min=0.0, max=1.0,
                                          help="the ONNX model's share of the fused score")]
    = 0.5,
    save: Annotated[bool, typer.Option("--save/--no-save",
                                       help="store the fusion in the settings file")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Hợp nhất điểm — fit dlib + ONNX fusion on half the people, measure both on the other."""
    from biometrics.fused_eval import calibrate_fusion, encode_both
    from biometrics.onnx_embedder import SECTION as EMBEDDER

    if not 0.0 < far <= 0.1:
        raise BadInput(f"--far must be in (0, 0.1], not {far:g}")
    spec = _embedder_spec()
    images = LabelledImages.scan(folder)
    with _progress("fuse") as progress:
        data = encode_both(images, load_settings(), spec, progress=progress)
    report = calibrate_fusion(data, far, weight=weight)
    saved = None
    if save:
        section = read_section(EMBEDDER)
        section["fusion"] = report.fusion.to_dict()
        section["operating_point"] = report.fused_point.to_dict()
        saved = write_section(EMBEDDER, section)
    if as_json:
        print(json.dumps({**report.to_dict(), "saved": str(saved) if saved else None},
                         ensure_ascii=False))
        return
    console = _console()
    for m in (report.dlib, report.fused):
        console.print(f"{m.name}: threshold {m.point.threshold:.4f} (fitted on half the people,"
                      f" FMR 95 % bound ≤ {m.point.target_fmr:g}); on the other half FMR "
                      f"{m.false_matches}/{m.impostor_pairs} = {_pct(m.fmr)} (95 % upper bound "
                      f"{_pct(m.fmr_upper)}), FNMR {m.false_non_matches}/{m.genuine_pairs} = "
                      f"{_pct(m.fnmr)} (95 % upper bound {_pct(m.fnmr_upper)})")
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
@handles_errors()
def evaluate_cmd(
    folder: Annotated[Path, typer.Argument(help="one sub-folder of photos per person")],
    workers: WorkersOpt = 2,
    cache: CacheOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Đánh giá — error rates of our pipeline and of face_recognition's defaults, per photo
    pair and per check-in (a groups.csv beside the folders splits the people by population)."""
    settings = load_settings()
    images = LabelledImages.scan(folder)
    groups = read_groups(images)
    with _progress("evaluate") as progress:
        report = evaluate(images, settings, workers=workers, progress=progress, cache=cache,
                          groups=groups)
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
    points = Table(title="operating points on these pairs (upper 95 % bounds, Clopper–Pearson)")
    for column in ("point", "threshold", "review band", "FMR", "FMR ≤ (95 %)", "FNMR",
                   "FNMR ≤ (95 %)", "source"):
        points.add_column(column, justify="left" if column in ("point", "source") else "right")
    for pr in report.points:
        points.add_row(pr.name, f"{pr.point.threshold:.4f}",
                       f"[{pr.point.review_low:.4f}, {pr.point.review_high:.4f})",
                       f"{_pct(pr.fmr)} ({pr.false_matches}/{pr.impostor_pairs})",
                       _pct(pr.fmr_upper),
                       f"{_pct(pr.fnmr)} ({pr.false_non_matches}/{pr.genuine_pairs})",
                       _pct(pr.fnmr_upper), pr.point.source)
    console.print(points)
    if report.asnorm is not None:
        _show_heldout(console, report.asnorm)
    if report.checkin is not None:
        _show_checkin(console, report.checkin)
    for w in report.warnings:
        console.print(f"[yellow]! {w}[/yellow]")


def _show_heldout(console: Console, heldout: Any) -> None:
    table = Table(title=f"fitted on one half of the people, measured on the other (both ways, "
                        f"seed {heldout.seed}; threshold: FMR 95 % bound ≤ "
                        f"{heldout.target_fmr:g} on the fitting half)")
    for column in ("method", "thresholds", "FMR", "FMR ≤ (95 %)", "FNMR", "FNMR ≤ (95 %)",
                   "genuine to REVIEW"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for row in heldout.rows:
        d = row.to_dict()
        table.add_row(d["method"], " / ".join(f"{t:.4f}" for t in d["thresholds"]),
                      f"{_pct(d['fmr'])} ({d['false_matches']}/{d['impostor_pairs']})",
                      _pct(d["fmr_upper95"]),
                      f"{_pct(d['fnmr'])} ({d['false_non_matches']}/{d['genuine_pairs']})",
                      _pct(d["fnmr_upper95"]), f"{d['genuine_review']}/{d['genuine_pairs']}")
    console.print(table)
    if heldout.note:
        console.print(f"[yellow]! {heldout.note}[/yellow]")


def _show_checkin(console: Console, checkin: CheckinReport) -> None:
    table = Table(title=f"check-ins: chip portrait against up to {checkin.frames} fused frames "
                        f"(other photos of the person); failures to acquire go to REVIEW")
    for column in ("group", "pipeline", "attempts", "ADMIT", "REVIEW", "REJECT",
                   "no usable face", "ADMIT ≤ (95 %)"):
        table.add_column(column, justify="left" if column in ("group", "pipeline") else "right")
    for g in checkin.groups:
        for pipeline, side, o in (
                ("examdesk", "genuine", g.genuine), ("examdesk", "impostor", g.impostor),
                ("face_recognition 0.6", "genuine", g.baseline_genuine),
                ("face_recognition 0.6", "impostor", g.baseline_impostor)):
            r = o.rates()
            table.add_row(f"{g.group} ({g.identities} people)", f"{pipeline}, {side}",
                          str(o.attempts), _pct(r["admit"]), _pct(r["review"]),
                          _pct(r["reject"]), _pct(r["fta"]), _pct(r["admit_upper95"]))
    console.print(table)


# --- liveness-evaluate ------------------------------------------------------------------------


@app.command("liveness-evaluate")
@handles_errors()
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

    root = folder or faces_dir()
    if not (root / "orl").is_dir():
        raise errors.DatasetError(f"{root} has no orl/ folder", folder=str(root))
    items = presentations(root, quick=quick, seed=seed)
    check = LivenessCheck(FaceEngine(load_settings()))
    with _progress("liveness") as progress:
        report = evaluate_liveness(check, root, items, progress)
    console = _console()
    for line in table(report):
        console.print(line, markup=False)
    for line in report.refused:
        console.print(f"  refused bona fide: {line}", markup=False)
    print(json.dumps({**report.to_dict(), "quick": quick, "seed": seed}, ensure_ascii=False))


if __name__ == "__main__":
    app()
