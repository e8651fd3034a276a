"""The sizing guide of the LiteLLM module, as the generator applies it.

The formulas that turn a VM size into workers, PostgreSQL and Redis memory live in
one place only, the module's `lib/sizing.nix`; the generator sets
`tappaas.litellm.resources` and names the guide's tier for the admin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tappaas_litellm.common.process import CommandNotFoundError, Runner

__all__ = ["MINIMUM", "TIERS", "Tier", "derived_sizing", "sizing_warnings", "tier_for"]


@dataclass(frozen=True)
class Tier:
    users: str
    cores: int
    memory_mib: int

    def describe(self) -> str:
        return f"{self.users} ({self.cores} vCPU / {self.memory_mib // 1024} GB)"


# The sizing guide: users served, and the VM size the guide recommends for them.
TIERS = (
    Tier("up to 100 users", 4, 4096),
    Tier("up to 250 users", 6, 8192),
    Tier("500+ users", 8, 16384),
)
MINIMUM = TIERS[0]


def tier_for(cores: int, memory_mib: int) -> Tier | None:
    """The largest tier whose vCPU and memory the VM meets, or None below the minimum."""
    met = [t for t in TIERS if cores >= t.cores and memory_mib >= t.memory_mib]
    return met[-1] if met else None


def sizing_warnings(cores: int, memory_mib: int) -> list[str]:
    if tier_for(cores, memory_mib) is not None:
        return []
    return [
        f"{cores} vCPU / {memory_mib} MiB is below the sizing guide's minimum of "
        f"{MINIMUM.cores} vCPU / {MINIMUM.memory_mib} MiB ({MINIMUM.users}); "
        "LiteLLM, PostgreSQL and Redis may run short of memory"
    ]


def derived_sizing(
    flake_root: Path, cores: int, memory_mib: int, runner: Runner
) -> dict[str, object] | None:
    """What the module's lib/sizing.nix derives for this size, if Nix can tell us here."""
    sizing = flake_root / "modules" / "litellm" / "lib" / "sizing.nix"
    if not sizing.is_file():
        return None
    # nix-instantiate calls the function in the file with the --arg values.
    try:
        result = runner.run(
            [
                "nix-instantiate",
                "--eval",
                "--strict",
                "--json",
                str(sizing),
                "--arg",
                "cores",
                str(int(cores)),
                "--arg",
                "memoryMiB",
                str(int(memory_mib)),
            ],
            capture=True,
        )
    except CommandNotFoundError:
        return None
    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
