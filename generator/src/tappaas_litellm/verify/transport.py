"""Ways to run a shell command on the machine that hosts the gateway.

A transport runs one bash command and returns ``CommandResult(rc, stdout, stderr)``.
It never raises for a failing, hanging or unreachable command: a timeout is exit code
124 with ``timed out after Ns`` in stderr, an SSH connection problem is exit code 255
with ssh's own message in stderr.

Three transports share the interface:

* :class:`SSHTransport` -- ``ssh -o BatchMode=yes`` to ``tappaas@HOST``; commands that
  need root run through ``sudo -n``.
* :class:`MachineTransport` -- a NixOS test-driver ``Machine`` (commands run as root).
* :class:`LocalTransport` -- this machine, for the CI stack (no systemd there).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from tappaas_litellm.common import shell

DEFAULT_TIMEOUT = 30.0
TIMEOUT_RC = 124
SSH_ERROR_RC = 255


class CommandResult(NamedTuple):
    """Exit code and output of one command (unpacks as ``rc, stdout, stderr``)."""

    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def why(self) -> str:
        """A one-line description of a failure: last stderr line, else last stdout line."""
        for text in (self.stderr, self.stdout):
            lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
            if lines:
                return lines[-1][:300]
        return f"exit code {self.rc}"


@runtime_checkable
class Transport(Protocol):
    """Runs bash commands on the gateway's machine."""

    #: A short human description such as ``ssh tappaas@litellm.srv.internal``.
    description: str
    #: True when the machine runs systemd/journald with the gateway's units.
    has_systemd: bool

    def run(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        stdin: str | None = None,
        root: bool = False,
    ) -> CommandResult:
        """Run ``command`` with bash; ``stdin`` is fed to it; ``root`` asks for root rights."""
        ...


def _run_subprocess(argv: Sequence[str], timeout: float, stdin: str | None) -> CommandResult:
    """Run argv in its own process group; kill the whole group on timeout."""
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(127, "", f"cannot start {argv[0]}: {exc}")
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return CommandResult(
            TIMEOUT_RC, out, (err + "\n" if err else "") + f"timed out after {timeout:g}s"
        )
    return CommandResult(proc.returncode, out, err)


class LocalTransport:
    """Runs commands on this machine with bash (``root`` is ignored: no sudo is used).

    The CI stack has no systemd units, so ``has_systemd`` is False and checks that
    need systemctl or journalctl report *skip*.
    """

    has_systemd = False

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.description = "this machine"
        self._env = env

    def run(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        stdin: str | None = None,
        root: bool = False,
    ) -> CommandResult:
        script = "set -o pipefail\n" + command
        if self._env:
            exports = "".join(
                f"export {name}={shell.quote(value)}\n" for name, value in self._env.items()
            )
            script = exports + script
        return _run_subprocess(["bash", "-c", script], timeout, stdin)


class SSHTransport:
    """Runs commands over ``ssh -o BatchMode=yes`` (no password prompts, ever).

    ``root=True`` commands run through ``sudo -n`` unless the user is root; the
    TAPPaaS ``tappaas`` user has password-less sudo. Extra ``ssh`` arguments (an
    identity file, a known-hosts file, ...) go in ``ssh_options``. ``systemd=False``
    is for hosts whose services are not systemd units (checks needing it skip).
    """

    has_systemd = True

    def __init__(
        self,
        host: str,
        *,
        user: str = "tappaas",
        port: int | None = None,
        identity_file: str | None = None,
        connect_timeout: int = 10,
        ssh_options: Sequence[str] = (),
        ssh_binary: str = "ssh",
        systemd: bool = True,
    ) -> None:
        self.has_systemd = systemd
        self.host = host
        self.user = user
        self.port = port
        self.identity_file = identity_file
        self.connect_timeout = connect_timeout
        self.ssh_options = tuple(ssh_options)
        self.ssh_binary = ssh_binary
        where = f"{user}@{host}" + (f":{port}" if port else "")
        self.description = f"ssh {where}"

    def argv(self, remote_command: str) -> list[str]:
        """The full ssh command line for one remote command."""
        argv = [
            self.ssh_binary,
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={self.connect_timeout}",
            "-o",
            "ServerAliveInterval=10",
            "-o",
            "ServerAliveCountMax=3",
        ]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.identity_file:
            argv += ["-i", self.identity_file, "-o", "IdentitiesOnly=yes"]
        argv += list(self.ssh_options)
        # `--` before the host: no host name is ever read as an option of ssh.
        argv += ["-l", self.user, "--", self.host, remote_command]
        return argv

    def run(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        stdin: str | None = None,
        root: bool = False,
    ) -> CommandResult:
        script = shell.quote("set -o pipefail\n" + command)
        # `timeout` on the far side ends the command itself; the local limit also
        # covers connecting and is only a backstop.
        remote = f"timeout -k 5 {max(1, round(timeout))} bash -c {script}"
        if root and self.user != "root":
            # keep the login PATH (NixOS: /run/current-system/sw/bin) whatever sudoers says
            remote = 'sudo -n env "PATH=$PATH" ' + remote
        result = _run_subprocess(self.argv(remote), timeout + self.connect_timeout + 10, stdin)
        if result.rc == TIMEOUT_RC and "timed out" not in result.stderr:
            result = result._replace(
                stderr=(result.stderr + "\n" if result.stderr else "")
                + f"timed out after {timeout:g}s"
            )
        if result.rc == SSH_ERROR_RC and not result.stderr.strip():
            return result._replace(stderr=f"ssh to {self.host} failed (exit 255)")
        return result


class MachineLike(Protocol):
    """The part of the NixOS test driver's ``Machine`` that :class:`MachineTransport` uses.

    Matches ``nixos/lib/test-driver/src/test_driver/machine/__init__.py``:
    ``execute(command, check_return=True, check_output=True, timeout=900) -> (rc, stdout)``.
    """

    def execute(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, str]: ...


class MachineTransport:
    """Runs commands in a NixOS test VM through the driver's ``Machine.execute``.

    Commands already run as root. The driver captures stdout only, so stderr is
    collected into a temporary file and returned after a unique marker line; stdin
    is passed base64-encoded inside the command (test VMs hold throwaway secrets).
    """

    has_systemd = True

    def __init__(self, machine: MachineLike, name: str | None = None) -> None:
        self.machine = machine
        self.description = f"machine {name or getattr(machine, 'name', 'vm')}"

    def run(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        stdin: str | None = None,
        root: bool = False,
    ) -> CommandResult:
        marker = f"@@stderr-{uuid.uuid4().hex}@@"
        inner = f"bash -c {shell.quote('set -o pipefail' + chr(10) + command)}"
        if stdin is not None:
            encoded = base64.b64encode(stdin.encode()).decode()
            inner = f"printf %s {encoded} | base64 -d | {inner}"
        else:
            inner = f"{inner} </dev/null"
        wrapped = (
            "set +e\n"
            '__verify_err="$(mktemp)"\n'
            f'{inner} 2>"$__verify_err"\n'
            "__verify_rc=$?\n"
            f"printf '\\n%s\\n' {marker}\n"
            'cat "$__verify_err"; rm -f "$__verify_err"\n'
            'exit "$__verify_rc"\n'
        )
        try:
            rc, output = self.machine.execute(
                wrapped, check_return=True, check_output=True, timeout=max(1, int(timeout))
            )
        except Exception as exc:  # the driver raises on a broken VM connection
            return CommandResult(SSH_ERROR_RC, "", f"test driver error: {exc}")
        head, sep, tail = output.rpartition(f"\n{marker}\n")
        if not sep:
            # the wrapper was killed (timeout) before printing the marker
            stderr = f"timed out after {int(timeout)}s" if rc == TIMEOUT_RC else ""
            return CommandResult(rc, output, stderr)
        if rc == TIMEOUT_RC and not tail.strip():
            tail = f"timed out after {int(timeout)}s"
        return CommandResult(rc, head, tail)
