"""Running external commands: every subprocess of the tool goes through :class:`Runner`.

Tests replace the runner (see `get_runner`) to assert the exact argv, or keep it and
put stand-in executables on PATH to run the real thing.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tappaas_litellm.common import shell

__all__ = ["Command", "CommandNotFoundError", "Runner", "get_runner"]

log = logging.getLogger(__name__)


class CommandNotFoundError(Exception):
    def __init__(self, program: str) -> None:
        super().__init__(program)
        self.program = program


@dataclass(frozen=True)
class Command:
    """A command to run: argv, working directory and extra environment."""

    argv: tuple[str, ...]
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def display(self) -> str:
        """The command as a shell line, environment first: NIX_SSHOPTS='-o …' nixos-rebuild …"""
        prefix = [f"{key}={shell.quote(value)}" for key, value in sorted(self.env.items())]
        return " ".join([*prefix, shell.join(self.argv)])


class Runner:
    """Runs commands with subprocess.run; output is captured or passed through."""

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        capture: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`input`, when given, is the command's stdin (secrets go there, never into argv)."""
        log.debug("running %s", shell.join(argv))
        full_env = {**os.environ, **env} if env else None
        try:
            return subprocess.run(
                list(argv),
                cwd=cwd,
                env=full_env,
                capture_output=capture,
                text=True,
                check=False,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL if capture else None,
            )
        except FileNotFoundError:
            raise CommandNotFoundError(argv[0]) from None

    def run_command(
        self, command: Command, *, capture: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return self.run(command.argv, cwd=command.cwd, env=command.env, capture=capture)


_runner = Runner()


def get_runner() -> Runner:
    """The runner the commands use (tests may replace it)."""
    return _runner
