"""The first look without the teacher: `release.recipe: bert` needs no teacher, so `teacher_tokenize` leaves a record
that it skipped instead of its outputs, each stage with a skipped input skips too (in seconds), and the stages that
score every model leave the skipped ones out.

A skipped folder output holds `skipped.json`; a skipped JSON file is `{"skipped": reason}`; another skipped file is
the line `skipped` and the reason (a one-column CSV). A file inside a skipped folder is skipped too.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from complaints.core.config import require
from complaints.core.io import atomic_dir, atomic_path, read_json, write_json

logger = logging.getLogger(__name__)

SKIPPED_FILE = "skipped.json"
SKIPPED_HEADER = "skipped"
# The recipes whose refit can be served and released, and those distilled from the teacher.
RECIPES = ("bert", "student")
TEACHER_RECIPES = ("student",)


@dataclass(frozen=True)
class ReleaseParams:
    """The `release` section: the recipe whose refit is served and released."""

    recipe: str = "student"

    def __post_init__(self) -> None:
        require(self.recipe in RECIPES, "release.recipe", self.recipe, f"one of {', '.join(RECIPES)}")

    def teacher_skipped_reason(self) -> str | None:
        """Why the teacher's stages skip, or None when the recipe is distilled from the teacher."""
        if self.recipe in TEACHER_RECIPES:
            return None
        return f"release.recipe is {self.recipe}, which needs no teacher"


def skipped_reason(path: Path) -> str | None:
    """Why the stage that writes `path` skipped, or None when it ran."""
    path = Path(path)
    if path.is_dir():
        record = path / SKIPPED_FILE
        return read_json(record)["skipped"] if record.is_file() else None
    if not path.is_file():
        return skipped_reason(path.parent) if path.parent.is_dir() else None
    if path.suffix == ".json":
        record = read_json(path)
        return record["skipped"] if isinstance(record, dict) and list(record) == ["skipped"] else None
    with open(path, encoding="utf-8", errors="replace") as stream:
        header, reason = stream.readline(), stream.readline()
    return reason.rstrip("\n") if header == f"{SKIPPED_HEADER}\n" else None


def write_skipped(reason: str, outputs: Sequence[Path]) -> None:
    """Leave the skipped record in place of each output, atomically (a path without a suffix is a folder)."""
    for output in map(Path, outputs):
        if not output.suffix:
            with atomic_dir(output) as staging:
                write_json({"skipped": reason}, staging / SKIPPED_FILE)
        elif output.suffix == ".json":
            write_json({"skipped": reason}, output)
        else:
            with atomic_path(output) as tmp:
                tmp.write_text(f"{SKIPPED_HEADER}\n{reason}\n", encoding="utf-8")
        logger.info("%s: skipped (%s)", output, reason)


def skipped_upstream(inputs: Sequence[Path], outputs: Sequence[Path]) -> bool:
    """When an input was skipped, record the same reason in each output and say so (the stage then stops)."""
    for path in inputs:
        if (reason := skipped_reason(path)) is not None:
            write_skipped(reason, outputs)
            return True
    return False
