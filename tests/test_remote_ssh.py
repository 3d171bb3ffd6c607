"""Sharing over a real network remote: Debian's sshd on 127.0.0.1, with keys made here, and dvc-ssh.

The producer runs `make share` to it; a teammate's fresh clone at another path restores every stage from it; the
release is fetched from it with `dvc artifacts get`. The remote failing (stopped, a wrong key, a push killed midway,
a folder its user cannot write) gives one line naming the remote and the cause, and leaves it fit for the next push.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BIN, copy_reproduced, run

pytestmark = pytest.mark.slow
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
VENV = BIN.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SshServer:
    """sshd on 127.0.0.1 at a free port, in a folder of its own (host key, authorized key, config) that any user may
    traverse, so a login as another user (`nobody`) can read its authorized keys."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="sshd-"))
        self.folder.chmod(0o755)
        self.port = free_port()
        self.key, self.wrong_key = self.folder / "client_key", self.folder / "wrong_key"
        for key in (self.folder / "host_key", self.key, self.wrong_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        authorized = self.folder / "authorized_keys"
        shutil.copy(self.key.with_suffix(".pub"), authorized)
        authorized.chmod(0o644)
        (self.folder / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.folder / 'host_key'}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {self.folder / 'sshd.pid'}\nStrictModes no\nUsePAM no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start sshd in the foreground of a child process and wait until it accepts connections."""
        Path("/run/sshd").mkdir(exist_ok=True)  # its privilege-separation folder
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.folder / "sshd_config")],
                                        stdout=subprocess.DEVNULL, stderr=open(self.folder / "sshd.log", "wb"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.process.poll() is None, (self.folder / "sshd.log").read_text()
                time.sleep(0.05)
        raise AssertionError(f"sshd did not listen on port {self.port}")

    def stop(self) -> None:
        """Stop sshd (and wait for it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def url(self, path: Path) -> str:
        """The DVC remote URL of a folder on this server."""
        return f"ssh://127.0.0.1:{self.port}{path}"


@pytest.fixture
def sshd():
    """A running SshServer, stopped and removed at the end of the test."""
    server = SshServer()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


def add_remote(project: Path, sshd: SshServer, path: Path, key: Path, user: str | None = None) -> None:
    """The team's remote in the committed config; the login (user, key) in .dvc/config.local, never in git."""
    run(["dvc", "remote", "add", "-f", "-d", "team", sshd.url(path)], project)
    run(["dvc", "remote", "modify", "--local", "team", "keyfile", str(key)], project)
    run(["dvc", "remote", "modify", "--local", "team", "user", user or getpass.getuser()], project)


def share(project: Path) -> subprocess.CompletedProcess:
    """`make share REMOTE=team` with this virtual environment (already set up)."""
    return run(["make", "share", f"VENV={VENV}", "-o", f"{VENV}/.installed", "REMOTE=team"], project, check=False)


MAKE_LINE = re.compile(r"make(\[\d+\])?: ")  # make's own "Error 1" line, nested under `make test` in CI


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The failed share's message: it must have exited non-zero with one line and no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip() and not MAKE_LINE.match(line)]
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_teammate_restores_every_stage_and_the_release_over_ssh(reproduced_copy, sshd, tmp_path):
    producer, remote = reproduced_copy, tmp_path / "remote"
    add_remote(producer, sshd, remote, sshd.key)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "team remote"], producer)
    assert "Running stage" not in run(["dvc", "repro"], producer).stdout
    shared = share(producer)
    assert shared.returncode == 0, shared.stderr
    assert "keyfile" not in (producer / ".dvc" / "config").read_text()

    teammate = tmp_path / "teammate"
    run(["git", "clone", "-q", str(producer), str(teammate)], tmp_path)
    run(["dvc", "remote", "modify", "--local", "team", "keyfile", str(sshd.key)], teammate)
    restored = run(["dvc", "repro", "--pull"], teammate).stdout
    assert "Running stage" not in restored, restored
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], teammate).stdout
    metrics = [json.loads(run(["dvc", "metrics", "show", "--json"], checkout).stdout) for checkout in (producer, teammate)]
    assert metrics[0][""]["data"] == metrics[1][""]["data"]

    # The registry's release, as the README's registry block makes and fetches it, from the SSH remote.
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "complaint-classifier@v1.0.0", "-m", "v1"],
        producer)
    release = tmp_path / "release"
    run(["dvc", "artifacts", "get", str(producer), "complaint-classifier", "--rev", "v1.0.0", "-o", str(release),
         "--remote-config", f"keyfile={sshd.key}"], tmp_path)
    assert (release / "model.safetensors").is_file() and (release / "threshold.json").is_file()


def test_a_stopped_server_is_one_line_naming_the_remote(reproduced_copy, sshd, tmp_path):
    add_remote(reproduced_copy, sshd, tmp_path / "remote", sshd.key)
    sshd.stop()
    message = one_line_error(share(reproduced_copy))
    assert "remote 'team'" in message and "unreachable" in message and str(sshd.port) in message


def test_a_wrong_key_is_one_line_saying_the_login_was_refused(reproduced_copy, sshd, tmp_path):
    add_remote(reproduced_copy, sshd, tmp_path / "remote", sshd.wrong_key)
    message = one_line_error(share(reproduced_copy))
    assert "remote 'team'" in message and "refused the login" in message and "keyfile" in message
    assert not (tmp_path / "remote").exists()


def test_a_folder_the_remote_user_cannot_write_is_one_line_and_left_untouched(reproduced_copy, sshd):
    # Logged in as `nobody` under a folder root owns: writable by no one but root.
    parent = Path(tempfile.mkdtemp(prefix="remote-"))
    parent.chmod(0o755)
    try:
        add_remote(reproduced_copy, sshd, parent / "remote", sshd.key, user="nobody")
        message = one_line_error(share(reproduced_copy))
        assert "remote 'team'" in message and "not writable" in message
        assert list(parent.iterdir()) == []
    finally:
        shutil.rmtree(parent)


def md5_of(path: Path) -> str:
    """A file's MD5, DVC's name for it in a remote."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_push_killed_midway_leaves_whole_files_and_the_next_push_completes(tiny_project, sshd, tmp_path):
    producer, remote = copy_reproduced(tiny_project, tmp_path / "producer", own_cache=True), tmp_path / "remote"
    add_remote(producer, sshd, remote, sshd.key)
    (producer / "large.bin").write_bytes(os.urandom(128 * 2**20))  # long enough to be cut midway
    run(["dvc", "add", "large.bin"], producer)
    run(["git", "add", "large.bin.dvc", ".gitignore"], producer)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "large file, team remote"], producer)

    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    pushing = subprocess.Popen([sys.executable, "-m", "complaints.release.sharing", "-r", "team"], cwd=producer,
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    objects = remote / "files" / "md5"
    deadline = time.monotonic() + 120
    while not (objects.is_dir() and any(path.is_file() for path in objects.rglob("*"))):
        assert pushing.poll() is None and time.monotonic() < deadline, "the push ended before any file arrived"
        time.sleep(0.005)
    assert pushing.poll() is None, "the push finished before it could be killed"
    os.killpg(pushing.pid, signal.SIGKILL)
    pushing.wait()

    large = md5_of(producer / "large.bin")
    finished = {f"{path.parent.name}{path.name}": path for path in objects.rglob("*")
                if path.is_file() and len(path.parent.name) == 2 and len(path.name.removesuffix(".dir")) == 30}
    assert f"{large[:2]}{large[2:]}" not in finished, "the large file was not cut midway"
    for name, path in finished.items():
        assert md5_of(path) == name.removesuffix(".dir"), f"{path} is half-written under its final name"

    again = share(producer)
    assert again.returncode == 0, again.stderr
    teammate = tmp_path / "teammate"
    run(["git", "clone", "-q", str(producer), str(teammate)], tmp_path)
    run(["dvc", "remote", "modify", "--local", "team", "keyfile", str(sshd.key)], teammate)
    run(["dvc", "pull", "--allow-missing"], teammate)
    assert md5_of(teammate / "large.bin") == large
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], teammate).stdout


def test_the_dvc_internals_make_share_uses_keep_their_shape():
    from complaints.release.sharing import internals_changed

    changed = internals_changed()
    assert not changed, ("DVC changed what `make share` reaches into; recheck complaints.release.sharing.push_run_cache "
                         "against DVC's run-cache push (docs/pipeline.md, 'Sharing'): " + "; ".join(changed))
