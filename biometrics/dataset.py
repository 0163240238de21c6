"""A labelled photo folder: ``DIR/<identity>/<photo>``, one sub-folder per person."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".pgm", ".bmp", ".jp2", ".j2k", ".webp"})


@dataclass(frozen=True, slots=True)
class LabelledImages:
    root: Path
    labels: tuple[str, ...]
    paths: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def identities(self) -> int:
        return len(set(self.labels))

    @classmethod
    def scan(cls, root: str | Path) -> LabelledImages:
        """Every image one level down, sorted (so pair lists are the same from run to run)."""
        folder = Path(root)
        if not folder.is_dir():
            raise DatasetError(f"{folder} is not a folder", path=str(folder))
        labels: list[str] = []
        paths: list[Path] = []
        for person in sorted(p for p in folder.iterdir() if p.is_dir()):
            for photo in sorted(person.iterdir(), key=_natural):
                if photo.is_file() and photo.suffix.lower() in IMAGE_SUFFIXES:
                    labels.append(person.name)
                    paths.append(photo)
        if len(set(labels)) < 2:
            raise DatasetError(
                f"{folder} needs one sub-folder of photos per person, at least two people",
                path=str(folder), identities=len(set(labels)),
            )
        return cls(folder, tuple(labels), tuple(paths))


def _natural(path: Path) -> tuple[int, str]:
    # ORL names photos 1.png … 10.png: sort 2 before 10.
    stem = path.stem
    return (int(stem), "") if stem.isdigit() else (1 << 30, path.name)


GROUPS_FILE = "groups.csv"
_MAX_GROUPS_BYTES = 1 << 20


def read_groups(images: LabelledImages) -> dict[str, str]:
    """Each identity's group (population) from ``groups.csv`` beside the folders: rows of
    ``identity,group`` (a first row ``identity,group`` is a header). Without the file the whole
    folder is one group, named after it. Every identity must be listed; rows for folders that
    do not exist are refused too (a typo would silently move people between groups)."""
    path = images.root / GROUPS_FILE
    people = set(images.labels)
    if not path.is_file():
        return {p: images.root.name for p in people}
    if path.stat().st_size > _MAX_GROUPS_BYTES:
        raise DatasetError(f"{path} is larger than {_MAX_GROUPS_BYTES} bytes", path=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: {exc}", path=str(path)) from exc
    groups: dict[str, str] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise DatasetError(f"{path} line {n}: expected identity,group", path=str(path))
        identity, group = row[0].strip(), row[1].strip()
        if n == 1 and (identity, group) == ("identity", "group"):
            continue
        if identity in groups:
            raise DatasetError(f"{path} line {n}: {identity} listed twice", path=str(path))
        groups[identity] = group
    unknown = sorted(set(groups) - people)
    missing = sorted(people - set(groups))
    if unknown or missing:
        raise DatasetError(f"{path}: not folders here: {unknown[:3]}; folders not listed: "
                           f"{missing[:3]}", path=str(path))
    return groups
