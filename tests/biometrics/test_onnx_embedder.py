"""The site-installed ONNX embedder: pinned by hash, aligned like SFace, fused with dlib.

The model is made here, in the test (a tiny graph built with the ``onnx`` package: pooling and
a fixed random projection to 32 numbers). It recognises nobody; it exercises the real loading,
alignment, embedding and fusion code on real photos, as a real model would run through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from biometrics import FaceEngine
from biometrics.calibration import operating_point, pair_scores
from biometrics.images import RgbImage
from biometrics.onnx_embedder import (
    CROP_SIZE,
    REFERENCE_POINTS,
    EmbedderHashMismatch,
    EmbedderMissing,
    EmbedderSettingsInvalid,
    EmbedderSpec,
    EmbedderUnloadable,
    Fusion,
    OnnxEmbedder,
    align,
    five_points,
    fused_pair_scores,
)
from examdesk.i18n import Catalog

onnx = pytest.importorskip("onnx", reason="the onnx package (a dev dependency) is not installed")

PHOTOS = ("people/obama/obama.jpg", "people/obama/obama2.jpg", "people/obama/obama3.jpg",
          "people/biden/biden.jpg", "people/biden/biden2.jpg", "people/person01/img26.jpg",
          "people/person02/img1.jpg")


def tiny_model(path: Path, dim: int = 32, seed: int = 0) -> str:
    """A 1×3×112×112 → 1×dim ONNX graph (8×8 average pooling, a fixed projection); returns
    its SHA-256."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(seed).standard_normal((3 * 14 * 14, dim)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["data"], ["pooled"], kernel_shape=[8, 8],
                          strides=[8, 8]),
         helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "w"], ["fc1"])],
        "tiny_embedder",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, dim])],
        initializer=[numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def model(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "tiny.onnx"
    return path, tiny_model(path)


def _landmarks(engine: FaceEngine, image: RgbImage) -> np.ndarray:
    faces = engine.detect(image, engine.settings.still)
    return engine.landmarks(image, faces[0])


def test_the_pinned_model_loads_and_embeds_a_real_face(
        model: tuple[Path, str], engine: FaceEngine,
        photo: Callable[[str], RgbImage]) -> None:
    path, digest = model
    spec = EmbedderSpec.from_dict({"model": str(path), "sha256": digest.upper()})
    assert spec is not None and spec.sha256 == digest
    embedder = OnnxEmbedder(spec)
    image = photo(PHOTOS[0])
    v = embedder.embed(image, _landmarks(engine, image))
    assert v.shape == (32,) and v.dtype == np.float32
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(v, embedder.embed(image, _landmarks(engine, image)))


def test_a_wrong_hash_is_refused_in_both_languages_and_nothing_is_loaded(
        model: tuple[Path, str]) -> None:
    path, digest = model
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    with pytest.raises(EmbedderHashMismatch) as caught:
        OnnxEmbedder(EmbedderSpec(path, wrong))
    assert caught.value.context == {"path": str(path), "expected": wrong, "found": digest}
    text = caught.value.both(Catalog.load())
    assert "SHA-256" in text and wrong in text and digest in text
    assert "Không dùng" in text and "not used" in text
    # The file swapped for another model after it was pinned: refused the same way.
    tiny_model(path, seed=1)
    with pytest.raises(EmbedderHashMismatch):
        OnnxEmbedder(EmbedderSpec(path, digest))


def test_settings_without_a_valid_pin_missing_files_and_non_models_are_typed_errors(
        tmp_path: Path) -> None:
    assert EmbedderSpec.from_dict({}) is None
    assert EmbedderSpec.from_dict({"model": ""}) is None
    for pin in (None, "", "abc", "g" * 64):
        with pytest.raises(EmbedderSettingsInvalid):
            EmbedderSpec.from_dict({"model": "/x.onnx", "sha256": pin})
    with pytest.raises(EmbedderMissing):
        OnnxEmbedder(EmbedderSpec(tmp_path / "absent.onnx", "0" * 64))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model " * 100)
    with pytest.raises(EmbedderUnloadable):
        OnnxEmbedder(EmbedderSpec(junk, hashlib.sha256(junk.read_bytes()).hexdigest()))
    catalog = Catalog.load()
    for key in ("face.embedder.error", "face.embedder.settings_invalid",
                "face.embedder.missing", "face.embedder.hash_mismatch",
                "face.embedder.unloadable"):
        entry = catalog.messages.get(key)
        assert entry is not None and entry.get("vi") and entry.get("en"), key


def test_alignment_puts_the_five_points_where_sface_expects_them_whatever_the_pose(
        engine: FaceEngine, photo: Callable[[str], RgbImage], tmp_path: Path) -> None:
    image = photo(PHOTOS[0])
    points = five_points(_landmarks(engine, image))
    crop, matrix = align(image, points)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    moved = np.hstack([points, np.ones((5, 1))]) @ matrix.T
    assert np.abs(moved - REFERENCE_POINTS).mean() < 4.0  # px, in the 112 px crop
    # The same photo turned 15° and shrunk: the aligned crop is (nearly) the same picture.
    h, w = image.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 15.0, 0.8)
    turned = np.ascontiguousarray(cv2.warpAffine(image, turn, (w, h),
                                                 borderMode=cv2.BORDER_REPLICATE),
                                  dtype=np.uint8)
    crop2, _ = align(turned, five_points(_landmarks(engine, turned)))
    diff = np.abs(crop.astype(np.int16) - crop2.astype(np.int16)).mean()
    assert diff < 20.0, diff
    # OpenCV's own SFace alignment (FaceRecognizerSF.alignCrop, BGR in, BGR out) agrees.
    path = tmp_path / "tiny.onnx"
    tiny_model(path)
    recognizer = cv2.FaceRecognizerSF.create(str(path), "")
    box = np.zeros((1, 15), np.float32)
    box[0, 4:14] = points.reshape(-1)
    theirs = recognizer.alignCrop(np.ascontiguousarray(image[:, :, ::-1]), box)[:, :, ::-1]
    assert np.abs(theirs.astype(np.int16) - crop.astype(np.int16)).mean() < 12.0


def test_fused_scores_calibrate_and_evaluate_like_distances(
        model: tuple[Path, str], engine: FaceEngine,
        photo: Callable[[str], RgbImage]) -> None:
    path, digest = model
    embedder = OnnxEmbedder(EmbedderSpec(path, digest))
    labels, dlib_vecs, onnx_vecs = [], [], []
    for name in PHOTOS:
        image = photo(name)
        face = engine.detect(image, engine.settings.still)[0]
        labels.append(name.split("/")[1])
        dlib_vecs.append(engine.encode(image, face).plain)
        onnx_vecs.append(embedder.embed(image, engine.landmarks(image, face)))
    d1, d2 = np.vstack(dlib_vecs), np.vstack(onnx_vecs)
    found = np.ones(len(labels), bool)
    plain1 = pair_scores(labels, d1, d1, found)
    plain2 = pair_scores(labels, d2, d2, found)
    fusion = Fusion.fit(plain1.impostor, plain2.impostor, weight=0.4)
    fused = fused_pair_scores(labels, (d1, d1), (d2, d2), found, fusion)
    assert fused.counts == plain1.counts == (4, 17)
    # Each fused score is the weighted sum of the two z-normalised distances.
    i, j = 0, 3  # obama.jpg against biden.jpg: an impostor pair
    expected = (0.6 * (np.linalg.norm(d1[i] - d1[j]) - fusion.first.mean) / fusion.first.std
                + 0.4 * (np.linalg.norm(d2[i] - d2[j]) - fusion.second.mean) / fusion.second.std)
    assert np.isclose(fused.impostor, expected, atol=1e-9).any()
    # Normalised on its impostors: their fused mean is 0.
    assert float(np.mean(fused.impostor)) == pytest.approx(0.0, abs=1e-9)
    # Weight 0 is dlib alone, in z units: same order, same decisions.
    alone = fused_pair_scores(labels, (d1, d1), (d2, d2), found, Fusion(
        fusion.first, fusion.second, 0.0))
    np.testing.assert_allclose(alone.genuine, fusion.first.apply(plain1.genuine), atol=1e-9)
    # The operating point is set on fused scores exactly as on distances.
    point = operating_point(fused, 0.1, "fused")
    assert point.review_low <= point.threshold <= point.review_high
    # A face missing on either side is a non-match, never a silent pass.
    missing = found.copy()
    missing[1] = False
    assert np.isinf(fused_pair_scores(labels, (d1, d1), (d2, d2), missing, fusion).genuine).any()
    # The fusion survives the settings file.
    spec = EmbedderSpec.from_dict({"model": str(path), "sha256": digest,
                                   "fusion": fusion.to_dict()})
    assert spec is not None and spec.fusion == fusion
