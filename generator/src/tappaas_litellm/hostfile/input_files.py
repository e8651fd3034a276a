"""Which module file and which zones file a command reads."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile.module_fields import DNS_LABEL
from tappaas_litellm.hostfile.zones import ZoneTable, load_zones

__all__ = [
    "DEFAULT_CONFIG_DIR",
    "ConfigChoice",
    "check_name",
    "config_dir",
    "find_config",
    "find_zones",
]

# Where the install guide tells admins to keep their edited copy of <name>.json.
DEFAULT_CONFIG_DIR = Path("/home/tappaas/config")
CONFIG_DIR_ENV = "TAPPAAS_CONFIG_DIR"


def _is_file(path: Path, option: str) -> bool:
    """Whether `path` is a file; a path that cannot be checked is an input error."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise InputError(
            f"{path}: cannot check it: {exc.strerror or exc}; allowed: a readable file, "
            f"or name one with {option}"
        ) from None


def config_dir() -> Path:
    return Path(os.environ.get(CONFIG_DIR_ENV) or DEFAULT_CONFIG_DIR)


def check_name(name: str) -> str:
    if not DNS_LABEL.fullmatch(name):
        raise InputError(
            f"NAME {name!r} is not a valid VM name; allowed: a DNS label, letters, digits "
            "and '-', starting with a letter (e.g. litellm)"
        )
    return name


@dataclass(frozen=True)
class ConfigChoice:
    path: Path
    reason: str  # why this file: "--config", "the TAPPaaS config folder", "the current folder"

    def describe(self) -> str:
        return f"using module file {self.path} (from {self.reason})"


def find_config(name: str, explicit: Path | None) -> ConfigChoice:
    """--config FILE, else <config dir>/<name>.json, else ./<name>.json."""
    if explicit is not None:
        if not _is_file(explicit, "--config"):
            raise InputError(f"--config {explicit}: no such file; allowed: an existing JSON file")
        return ConfigChoice(explicit, "--config")
    cluster = config_dir() / f"{name}.json"
    if _is_file(cluster, "--config"):
        return ConfigChoice(cluster, f"the TAPPaaS config folder {config_dir()}")
    local = Path(f"{name}.json")
    if _is_file(local, "--config"):
        return ConfigChoice(local, "the current folder")
    raise InputError(
        f"no module file for {name!r}: looked for {cluster} and ./{name}.json; "
        "allowed: one of those, or --config FILE"
    )


def find_zones(explicit: Path | None) -> ZoneTable:
    """--zones FILE, else <config dir>/zones.json if present, else the bundled copy."""
    if explicit is not None:
        if not _is_file(explicit, "--zones"):
            raise InputError(f"--zones {explicit}: no such file; allowed: an existing zones.json")
        return load_zones(explicit)
    cluster = config_dir() / "zones.json"
    if _is_file(cluster, "--zones"):
        return load_zones(cluster)
    return load_zones(None)
