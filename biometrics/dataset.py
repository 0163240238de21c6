"""A labelled photo folder: ``DIR/<identity>/<photo>``, one sub-folder per person."""

from __future__ import annotations

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
