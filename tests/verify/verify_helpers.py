"""Test helpers: a throwaway OpenSSH server on a free loopback port, and a stand-in for the
NixOS test driver's Machine."""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SSHServer:
    port: int
    user: str
    identity: Path
    known_hosts: Path
    process: subprocess.Popen[bytes]
    log: Path

    def ssh_options(self) -> list[str]:
        return [
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-F",
            "/dev/null",
        ]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_sshd(folder: Path) -> SSHServer:
    """Start sshd -D on 127.0.0.1:<free port> accepting one fresh client key."""
    folder.mkdir(parents=True, exist_ok=True)
    host_key = folder / "host_ed25519"
    client_key = folder / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "verify-test", "-f", str(key)],
            check=True,
        )
    authorized = folder / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    known_hosts = folder / "known_hosts"
    host_pub = Path(f"{host_key}.pub").read_text().split()
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    user = getpass.getuser()
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {folder / 'sshd.pid'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "StrictModes no",
                "UsePAM no",
                f"AllowUsers {user}",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    log = folder / "sshd.log"
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError(f"sshd did not listen on {port}: {log.read_text()}")
    return SSHServer(port, user, client_key, known_hosts, process, log)


class FakeMachine:
    """Runs commands the way the NixOS test driver's Machine.execute does, on this host.

    The driver prefixes ``set -euo pipefail``, runs ``timeout T bash -c CMD`` in the VM and
    returns ``(exit code, stdout)``; stderr goes to the VM console, not to the caller.
    """

    name = "fakevm"

    def __init__(self) -> None:
        self.commands: list[str] = []

    def execute(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, str]:
        self.commands.append(command)
        command = f"set -euo pipefail; {command}"
        prefix = f"timeout {timeout} " if timeout is not None else ""
        proc = subprocess.run(
            ["bash", "-c", f"{prefix}bash -c {shlex.quote(command)}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            check=False,
        )
        return (proc.returncode if check_return else -1), proc.stdout
