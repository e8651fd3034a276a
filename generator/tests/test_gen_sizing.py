"""The sizing guide's tiers, the warning below the minimum, and the module's derived numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from tappaas_litellm.common.process import Runner
from tappaas_litellm.hostfile.sizing import derived_sizing, sizing_warnings, tier_for


@pytest.mark.parametrize(
    ("cores", "memory", "users"),
    [
        (4, 4096, "up to 100 users"),
        (6, 4096, "up to 100 users"),
        (6, 8192, "up to 250 users"),
        (8, 8192, "up to 250 users"),
        (8, 16384, "500+ users"),
        (32, 65536, "500+ users"),
        (3, 8192, None),
        (4, 4095, None),
    ],
)
def test_tiers(cores: int, memory: int, users: str | None) -> None:
    tier = tier_for(cores, memory)
    assert (tier.users if tier else None) == users
    assert bool(sizing_warnings(cores, memory)) == (users is None)


def test_derived_numbers_come_from_the_modules_sizing_nix(tmp_path: Path) -> None:
    sizing = tmp_path / "modules" / "litellm" / "lib" / "sizing.nix"
    sizing.parent.mkdir(parents=True)
    sizing.write_text(
        "{ cores, memoryMiB, workers ? null }:\n"
        '{ workers = cores; redis.maxMemory = "${toString (memoryMiB / 8)}mb"; }\n'
    )
    assert derived_sizing(tmp_path, 6, 8192, Runner()) == {
        "workers": 6,
        "redis": {"maxMemory": "1024mb"},
    }
    assert derived_sizing(tmp_path / "elsewhere", 6, 8192, Runner()) is None
