"""`service-key --write-to` sends the key only to a consumer whose SSH host key is known.

Real OpenSSH on both ends: Debian's sshd on loopback plays the LiteLLM VM (as 127.0.0.1) and
the consumer VM (as localhost); a forced command stands in for the VMs' shells, printing the
stored key for `sudo cat` and recording what a consumer receives. The client is the real ssh
with the tool's own options; a wrapper only adds the port, the identity and a known_hosts file
of this test (`-F`), because ssh reads ~/.ssh from the password database, not from $HOME.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

KEY = "sk-" + "7" * 40
SSHD = "/usr/sbin/sshd"

CONSUMER_SHELL = """#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  *"cat /etc/secrets/litellm-svc-openwebui.key"*) printf '%s\\n' "{key}" ;;
  *"sh -c"*) cat > "{received}" ;;
  *) echo "unexpected: $SSH_ORIGINAL_COMMAND" >&2; exit 1 ;;
esac
"""


@dataclass
class Machines:
    folder: Path
    port: int
    known_hosts: Path
    received: Path
    host_key: Path
    env: dict[str, str]

    def entry(self, name: str, public_key: Path) -> str:
        return f"[{name}]:{self.port} {' '.join(public_key.read_text().split()[:2])}\n"

    def tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tappaas_litellm", "service-key", "litellm", "openwebui",
             "--host", "root@127.0.0.1", "--write-to", "root@localhost", *args],
            capture_output=True, text=True, timeout=60, env=self.env, check=False,
        )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[Machines]:
    host_key = _keygen(tmp_path / "host_key")
    user_key = _keygen(tmp_path / "user_key")
    (tmp_path / "authorized_keys").write_text(user_key.with_suffix(".pub").read_text())
    received = tmp_path / "received.env"
    shell = tmp_path / "vm-shell"
    shell.write_text(CONSUMER_SHELL.format(key=KEY, received=received))
    shell.chmod(0o755)
    port = _free_port()
    (tmp_path / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nPidFile {tmp_path / 'sshd.pid'}\n"
        "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        f"ForceCommand {shell}\n"
    )
    # sshd wants its privilege separation folder /run/sshd: a private mount namespace gives
    # it one without touching this machine (user namespace when not root).
    unshare = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-r", "--mount"]
    script = 'mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && exec "$0" -D -e -f "$1"'
    server = subprocess.Popen(
        [*unshare, "sh", "-c", script, SSHD, str(tmp_path / "sshd_config")],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "sshd.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.poll() is None, (tmp_path / "sshd.log").read_text()
            assert time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.1)
    known_hosts = tmp_path / "known_hosts"
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host *\n  Port {port}\n  IdentityFile {user_key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F "{config}" "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TAPPAAS_CONFIG_DIR": str(tmp_path / "no-config"),
    }
    machines = Machines(tmp_path, port, known_hosts, received, host_key, env)
    # The LiteLLM VM is known (deploy met it); the consumer is not, yet.
    known_hosts.write_text(machines.entry("127.0.0.1", host_key.with_suffix(".pub")))
    try:
        yield machines
    finally:
        server.terminate()
        server.wait(timeout=10)


def _errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_a_first_seen_consumer_never_receives_the_key(machines: Machines) -> None:
    before = machines.known_hosts.read_text()
    result = machines.tool()
    assert result.returncode == 1, result.stderr
    assert _errors(result) == [
        "error: write /etc/secrets/litellm-svckey.env refused: the host key of root@localhost "
        "is not in known_hosts (or differs), so the key is not sent to it"
    ]
    assert "--trust-new-host-key" in result.stderr
    assert not machines.received.exists()
    assert machines.known_hosts.read_text() == before  # nothing learnt about the impostor


def test_a_consumer_with_another_key_never_receives_it(machines: Machines) -> None:
    # known_hosts has the real consumer's key; the machine answering has another one.
    real = _keygen(machines.folder / "real_consumer_key")
    with machines.known_hosts.open("a") as out:
        out.write(machines.entry("localhost", real.with_suffix(".pub")))
    for args in ((), ("--trust-new-host-key",)):
        result = machines.tool(*args)
        assert result.returncode == 1, result.stderr
        assert len(_errors(result)) == 1
        assert not machines.received.exists()


def test_a_known_consumer_receives_it(machines: Machines) -> None:
    with machines.known_hosts.open("a") as out:
        out.write(machines.entry("localhost", machines.host_key.with_suffix(".pub")))
    result = machines.tool()
    assert result.returncode == 0, result.stderr
    assert machines.received.read_text().startswith(f"LITELLM_API_KEY={KEY}\n")


def test_trusting_a_new_host_key_is_an_explicit_choice(machines: Machines) -> None:
    result = machines.tool("--trust-new-host-key")
    assert result.returncode == 0, result.stderr
    assert machines.received.read_text().startswith(f"LITELLM_API_KEY={KEY}\n")
    assert "[localhost]" in machines.known_hosts.read_text()
