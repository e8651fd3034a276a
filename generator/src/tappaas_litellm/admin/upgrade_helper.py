"""The VM's side of `upgrade`: `litellm-upgrade-helper` run as root through a transport.

The helper is `modules/litellm/scripts/litellm-upgrade-helper.sh` of the flake: its text goes
to the VM on stdin and runs as ``sudo -n bash -c "$(cat)" litellm-upgrade-helper ARGS``, so a
VM deployed before the helper existed runs it too. Arguments are quoted with
:mod:`tappaas_litellm.common.shell`; the helper answers ``KEY=VALUE`` lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from tappaas_litellm.common import shell
from tappaas_litellm.verify.transport import CommandResult, Transport

__all__ = [
    "DUMP_PLACEHOLDER",
    "HELPER_FILE",
    "LONG",
    "PG_STATE_DIR",
    "Remote",
    "RemoteError",
    "VmState",
]

HELPER_FILE = "modules/litellm/scripts/litellm-upgrade-helper.sh"
HELPER_NAME = "litellm-upgrade-helper"
PG_STATE_DIR = "/var/lib/postgresql"
LONG = 3600.0  # backups, the scratch restore and the restore itself
DUMP_PLACEHOLDER = "/var/backup/postgresql/litellm-YYYYmmddTHHMMSSZ.dump"  # dry run: not taken yet


class RemoteError(Exception):
    """A helper call failed; `result` holds its exit status and output."""

    def __init__(self, args: tuple[str, ...], result: CommandResult) -> None:
        super().__init__(f"{HELPER_NAME} {' '.join(args)}: {result.why()}")
        self.result = result


@dataclass(frozen=True)
class VmState:
    """What `litellm-upgrade-helper state` reports."""

    generation: str  # the system profile's generation number, "" when unknown
    keys: str  # SHA-256 of the master and salt keys, "missing" without them
    pg_major: str  # "" when PostgreSQL does not answer
    migrations: str  # "<count> <sha256>", "none" or "unknown"
    service: str

    @classmethod
    def parse(cls, values: dict[str, str]) -> VmState:
        return cls(
            generation=values.get("generation", ""),
            keys=values.get("keys", "missing"),
            pg_major=values.get("pg_major", ""),
            migrations=values.get("migrations", "unknown"),
            service=values.get("service", ""),
        )

    def migration_count(self) -> str:
        return self.migrations.split(" ", 1)[0] if self.migrations[:1].isdigit() else "?"


class Remote:
    """Runs the helper on the VM; `shown` is the ssh destination for the printed commands."""

    def __init__(self, transport: Transport, helper_source: str, shown: str) -> None:
        self.transport = transport
        self.helper_source = helper_source
        self.shown = shown

    @staticmethod
    def command(args: tuple[str, ...]) -> str:
        """The remote command line: the helper's text comes on stdin."""
        return 'bash -c "$(cat)" ' + shell.join((HELPER_NAME, *args))

    def display(self, *args: str) -> str:
        """The same call as an admin would type it on the CI/CD machine."""
        remote = "sudo -n " + self.command(args)
        return f"ssh -- {self.shown} {shell.quote(remote)} < {HELPER_FILE}"

    def call(self, *args: str, timeout: float = 120.0) -> dict[str, str]:
        result = self.transport.run(
            self.command(args), timeout=timeout, stdin=self.helper_source, root=True
        )
        if not result.ok:
            raise RemoteError(args, result)
        values: dict[str, str] = {}
        for line in result.stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.isidentifier():
                values[key] = value.strip()
        return values

    def state(self) -> VmState:
        return VmState.parse(self.call("state", timeout=60))
