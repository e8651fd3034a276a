"""`service-key --write-to` sends the key only to a consumer whose SSH host key is known.

Real OpenSSH on both ends: Debian's sshd on loopback plays the LiteLLM VM (as 127.0.0.1) and
the consumer VM (as openwebui.srvwork.internal, 127.0.0.2); a forced command stands in for the
VMs' shells, printing the stored key for `sudo cat` and recording what a consumer receives.
The client is the real ssh with the tool's own options; a wrapper only adds the port, the
identity and a known_hosts file of this test (`-F`), because ssh reads ~/.ssh from the password
database, not from $HOME. The tool runs in a private mount namespace whose /etc/hosts names the
consumer (and whose nsswitch.conf asks no DNS server), as TAPPaaS's DNS would.

TAPPaaS knows a new VM's key by address only (update-os.sh: `ssh-keyscan -H <ip> >>
~/.ssh/known_hosts`, port 22, so the entry carries no port); `recorded_by_tappaas` writes that
very entry from the real ssh-keyscan of this sshd (on its free port, then without the port).
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
CONSUMER = "openwebui.srvwork.internal"
CONSUMER_IP = "127.0.0.2"
HOSTS = f"127.0.0.1 localhost\n{CONSUMER_IP} {CONSUMER}\n"
# The tool's own view of names: the test's hosts file, no DNS.
NAMES = (
    'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/nsswitch.conf && shift 2 && exec "$@"'
)

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

    def recorded_by_tappaas(self, address: str, public_key: Path | None = None) -> None:
        """Append what `ssh-keyscan -H <address>` appends: hashed, every key the VM offers
        (or `public_key`, the key of another machine that once had the address)."""
        if public_key is None:
            scan = subprocess.run(
                ["ssh-keyscan", "-p", str(self.port), address],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout  # fmt: skip
            keys = [line.split()[1:3] for line in scan.splitlines() if line[:1] not in ("#", "")]
        else:
            keys = [public_key.read_text().split()[:2]]
        assert keys, "ssh-keyscan found no key"
        plain = self.folder / "scan"
        plain.write_text("".join(f"{address} {kind} {key}\n" for kind, key in keys))
        subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(plain)], check=True)
        hashed = plain.read_text()
        assert address not in hashed and hashed.startswith("|1|")
        with self.known_hosts.open("a") as out:
            out.write(hashed)

    def tool(self, *args: str, to: str = CONSUMER) -> subprocess.CompletedProcess[str]:
        hosts, nsswitch = self.folder / "hosts", self.folder / "nsswitch.conf"
        return subprocess.run(
            [*UNSHARE, "sh", "-c", NAMES, "sh", str(hosts), str(nsswitch),
             sys.executable, "-m", "tappaas_litellm", "service-key", "litellm", "openwebui",
             "--host", "root@127.0.0.1", "--write-to", f"root@{to}", *args],
            capture_output=True, text=True, timeout=60, env=self.env, check=False,
        )  # fmt: skip


# sshd wants its privilege separation folder /run/sshd, the tool its own /etc/hosts: a private
# mount namespace gives them without touching this machine (user namespace when not root).
UNSHARE = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-r", "--mount"]


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
        f"Port {port}\nListenAddress 127.0.0.1\nListenAddress {CONSUMER_IP}\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nPidFile {tmp_path / 'sshd.pid'}\n"
        "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        f"ForceCommand {shell}\n"
    )
    script = 'mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && exec "$0" -D -e -f "$1"'
    server = subprocess.Popen(
        [*UNSHARE, "sh", "-c", script, SSHD, str(tmp_path / "sshd_config")],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "sshd.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    (tmp_path / "hosts").write_text(HOSTS)
    (tmp_path / "nsswitch.conf").write_text("hosts: files\n")
    deadline = time.monotonic() + 15
    while True:
        try:
            for address in ("127.0.0.1", CONSUMER_IP):
                socket.create_connection((address, port), timeout=1).close()
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
    # Neither the name nor its address is in known_hosts (only the LiteLLM VM, 127.0.0.1).
    before = machines.known_hosts.read_text()
    result = machines.tool()
    assert result.returncode == 1, result.stderr
    assert _errors(result) == [
        "error: write /etc/secrets/litellm-svckey.env refused: known_hosts holds no host key "
        f"for {CONSUMER} nor for its address {CONSUMER_IP}, so the key is not sent to it"
    ]
    assert "--trust-new-host-key" in result.stderr
    assert not machines.received.exists()
    assert machines.known_hosts.read_text() == before  # nothing learnt about the impostor


def test_a_consumer_tappaas_knows_by_address_receives_it(machines: Machines) -> None:
    # What update-os.sh leaves before install-service.sh runs: the VM's keys, hashed, under its
    # address; the tool connects by name.
    machines.recorded_by_tappaas(CONSUMER_IP)
    before = machines.known_hosts.read_text()
    result = machines.tool()
    assert result.returncode == 0, result.stderr
    assert machines.received.read_text().startswith(f"LITELLM_API_KEY={KEY}\n")
    assert machines.known_hosts.read_text() == before


def test_another_machine_at_the_address_never_receives_it(machines: Machines) -> None:
    # known_hosts holds the VM's key for the address; the machine answering there has another.
    machines.recorded_by_tappaas(
        CONSUMER_IP, _keygen(machines.folder / "real_vm").with_suffix(".pub")
    )
    before = machines.known_hosts.read_text()
    result = machines.tool()
    assert result.returncode == 1, result.stderr
    assert _errors(result) == [
        f"error: write /etc/secrets/litellm-svckey.env refused: the host key of {CONSUMER} "
        f"differs from the one known_hosts holds for its address {CONSUMER_IP}, so the key is "
        "not sent to it"
    ]
    assert not machines.received.exists()
    assert machines.known_hosts.read_text() == before


def test_a_consumer_whose_name_does_not_resolve(machines: Machines) -> None:
    result = machines.tool(to="nowhere.srvwork.internal")
    assert result.returncode == 1, result.stderr
    assert _errors(result) == [
        "error: write /etc/secrets/litellm-svckey.env failed: nowhere.srvwork.internal does not "
        "resolve"
    ]
    assert ".vmname and .zone0" in result.stderr
    assert not machines.received.exists()


def test_a_consumer_with_another_key_never_receives_it(machines: Machines) -> None:
    # known_hosts has the real consumer's key under its name; the machine answering has another
    # key, which even the address's entry cannot make right: the name's entry decides.
    real = _keygen(machines.folder / "real_consumer_key")
    with machines.known_hosts.open("a") as out:
        out.write(machines.entry(CONSUMER, real.with_suffix(".pub")))
    machines.recorded_by_tappaas(CONSUMER_IP)
    for args in ((), ("--trust-new-host-key",)):
        result = machines.tool(*args)
        assert result.returncode == 1, result.stderr
        assert len(_errors(result)) == 1
        assert not machines.received.exists()
    assert _errors(machines.tool()) == [
        f"error: write /etc/secrets/litellm-svckey.env refused: the host key of {CONSUMER} "
        "differs from the one known_hosts holds for it, so the key is not sent to it"
    ]


def test_a_consumer_given_by_an_unknown_address_never_receives_it(machines: Machines) -> None:
    result = machines.tool(to=CONSUMER_IP)
    assert result.returncode == 1, result.stderr
    assert _errors(result) == [
        "error: write /etc/secrets/litellm-svckey.env refused: known_hosts holds no host key "
        f"for {CONSUMER_IP}, so the key is not sent to it"
    ]
    assert not machines.received.exists()


def test_a_known_consumer_receives_it(machines: Machines) -> None:
    with machines.known_hosts.open("a") as out:
        out.write(machines.entry(CONSUMER, machines.host_key.with_suffix(".pub")))
    result = machines.tool()
    assert result.returncode == 0, result.stderr
    assert machines.received.read_text().startswith(f"LITELLM_API_KEY={KEY}\n")


def test_trusting_a_new_host_key_is_an_explicit_choice(machines: Machines) -> None:
    result = machines.tool("--trust-new-host-key")
    assert result.returncode == 0, result.stderr
    assert machines.received.read_text().startswith(f"LITELLM_API_KEY={KEY}\n")
    assert f"[{CONSUMER}]" in machines.known_hosts.read_text()
