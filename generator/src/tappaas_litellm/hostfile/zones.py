"""The TAPPaaS network zones: which `zone0` values exist and their VLAN tags."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile import bundled

__all__ = ["BUNDLED_ZONES", "DEPLOYABLE_STATES", "Zone", "ZoneTable", "load_zones"]

BUNDLED_ZONES = "the bundled zones.json"

# Zone states install-module.sh deploys into (validate_zone_active); in any other state
# (Inactive, Disabled, ...) a VM would have no network, and TAPPaaS refuses the install.
DEPLOYABLE_STATES = frozenset({"Active", "Manual", "Mandatory"})


@dataclass(frozen=True)
class Zone:
    name: str
    type: str
    state: str
    vlantag: int
    description: str

    @property
    def domain(self) -> str:
        """DNS domain of hosts in this zone, as TAPPaaS names them."""
        return f"{self.name.lower()}.internal"


@dataclass(frozen=True)
class ZoneTable:
    zones: dict[str, Zone]
    source: str

    def names(self) -> list[str]:
        return list(self.zones)

    def get(self, name: str) -> Zone | None:
        return self.zones.get(name)

    def suggest(self, name: str) -> str | None:
        """A known zone that differs from `name` only in letter case."""
        for known in self.zones:
            if known.lower() == name.lower():
                return known
        return None


def _parse(data: object, source: str) -> ZoneTable:
    if not isinstance(data, dict):
        raise InputError(f"{source}: the top level must be a JSON object of zones")
    zones: dict[str, Zone] = {}
    problems: list[str] = []
    for name, entry in data.items():
        # Keys beginning with '_' are documentation, not zones (TAPPaaS convention).
        if name.startswith("_") or not isinstance(entry, dict):
            continue
        # An overlay such as NetBird has no VLAN and no interface: not a place for a VM.
        if entry.get("type") == "Overlay":
            continue
        vlantag = entry.get("vlantag")
        shown = json.dumps(vlantag)[:40]
        if vlantag is None:
            problem = "missing"
        elif isinstance(vlantag, bool) or not isinstance(vlantag, int):
            problem = f"{shown} is not a number"
        elif not 0 <= vlantag <= 4094:
            problem = f"{shown} is not a VLAN tag"
        else:
            problem = ""
        if problem:
            problems.append(
                f"{source}: {json.dumps(name)[:80]}.vlantag: {problem}; allowed: a VLAN tag "
                "from 0 (untagged) to 4094"
            )
            continue
        zones[name] = Zone(
            name=name,
            type=str(entry.get("type", "")),
            state=str(entry.get("state", "")),
            vlantag=vlantag,
            description=str(entry.get("description", "")),
        )
    if problems:
        raise InputError(problems)
    if not zones:
        raise InputError(f"{source}: no zones found (expected entries with a vlantag)")
    return ZoneTable(zones=zones, source=source)


def load_zones(path: Path | None = None) -> ZoneTable:
    """Read a zones file; without `path`, the copy shipped with this tool."""
    if path is None:
        return _parse(bundled.read_json("data/zones.json"), BUNDLED_ZONES)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read zones file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the zones file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}:{exc.colno}: malformed JSON in zones file: {exc.msg}"
        ) from None
    except (RecursionError, ValueError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InputError(f"{path}: malformed zones file: {reason}") from None
    return _parse(data, str(path))
