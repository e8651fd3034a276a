"""The fields of a TAPPaaS module file this tool reads: names, bounds, defaults, validation.

Bounds and defaults follow TAPPaaS's module-fields.json; :class:`ModuleFile` validates the
fields the host file needs, and every message says what is allowed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from tappaas_litellm.hostfile.zones import DEPLOYABLE_STATES, ZoneTable

__all__ = [
    "ALLOWED",
    "DEFAULTS",
    "DNS_LABEL",
    "KNOWN_FIELDS",
    "ModuleFile",
    "disk_mib",
    "jq_path",
    "show",
]


# Field names defined by TAPPaaS module-fields.json.
KNOWN_FIELDS = frozenset(
    {
        "HANode", "aliasType", "aliases", "alwaysBackup", "appVersion", "autoInstall", "bios",
        "bridge0", "bridge1", "cloudInit", "config", "cores", "cputype", "dependsOn",
        "description", "discoveryMdns", "discoveryUdpRelay", "diskSize", "egress",
        "firewallType", "identity", "image", "imageLocation", "imageType", "ingress",
        "installTime", "ip", "location", "mac0", "mac1", "maintainer", "memory", "natRules",
        "node", "os", "ostype", "pbsStorageName", "ports", "provides", "proxyAllowedZones",
        "proxyDomain", "proxyPort", "proxyPreserveHost", "proxyTls", "proxyUpstreamHttp1",
        "proxyUpstreamTls", "releaseDate", "replicationSchedule", "sshAccess", "status",
        "storage", "trunks0", "trunks1", "updateTime", "variant", "version", "vmid", "vmname",
        "vmtag", "windows", "zone0", "zone1",
    }
)  # fmt: skip

# Fields this tool adds for the scale-out layout (see README "Several gateways").
LITELLM_FIELDS = frozenset({"datastoreGateways"})
DATASTORE_SERVICE = "datastore"
IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
                  r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])")  # fmt: skip
WORKERS_MAX = 128

VMID_MIN, VMID_MAX = 100, 999_999  # module-fields.json; install-module.sh refuses others
CORES_MIN, CORES_MAX = 1, 128  # module-fields.json
MEMORY_MIN_MIB = 512  # module-fields.json
# Proxmox's qemu-server refuses more than 4 TiB (PVE::QemuServer::Memory $MAX_MEM, in MiB).
# Everything derived from it stays inside its own limit there: PostgreSQL shared_buffers
# (memory / 4, at most 8 TiB), effective_cache_size (memory / 2), Redis maxmemory (memory / 8)
# and every Nix integer (64-bit).
MEMORY_MAX_MIB = 4_194_304
# 64 TiB: a bound far above any TAPPaaS node's storage that keeps the image size in MiB a
# small Nix integer.
DISK_MAX_MIB = 64 * 1024 * 1024
DISK_MIN_MIB = 1  # tappaas.vm.proxmox.diskSizeMiB is a positive integer
# The LiteLLM port of the module (tappaas.litellm.port); TAPPaaS's proxy forwards to proxyPort.
LITELLM_PORT = 4000
# Module files are a few kilobytes and a few levels deep; anything far beyond is refused.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64

# NixOS networking.hostName: at most 63 characters, not ending with '-'. TAPPaaS's vmname
# pattern (^[a-zA-Z][a-zA-Z0-9-]*$) is wider; a name outside both is refused.
DNS_LABEL = re.compile(r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
TAPPAAS_VMNAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
DISK_SIZE = re.compile(r"([0-9]{1,20})([GMK])")  # module-fields.json: ^[0-9]+[GMK]$
# A Proxmox bridge or SDN VNet name (a Linux interface name: at most 15 characters).
BRIDGE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,14}")
APP_VERSION_MAX = 200  # free-form (module-fields.json); only shown, never used
SERVICE_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*:[a-zA-Z][a-zA-Z0-9-]*")

# What each validated field allows, for error messages.
ALLOWED: dict[str, str] = {
    "vmname": "a DNS label: letters, digits and '-', starting with a letter, "
    "not ending with '-', at most 63 characters (e.g. \"litellm\")",
    "vmid": f"a whole number from {VMID_MIN} to {VMID_MAX} (a Proxmox VM id, e.g. 310)",
    "cores": f"a whole number of vCPUs from {CORES_MIN} to {CORES_MAX} (e.g. 4)",
    "memory": f"a whole number of MiB from {MEMORY_MIN_MIB} to {MEMORY_MAX_MIB} (4 TiB, "
    'Proxmox\'s limit), as a number or a string of digits (e.g. 4096 or "4096")',
    "diskSize": f"a size with unit G, M or K, above 0 and at most {DISK_MAX_MIB // 1024}G "
    '(e.g. "32G")',
    "proxyPort": f"{LITELLM_PORT}, the port LiteLLM listens on (or leave it out)",
    "bridge0": "a Proxmox bridge name: a letter, then letters, digits, '_', '.', '-', "
    'at most 15 characters (e.g. "lan")',
    "zone0": "a zone defined in zones.json",
    "appVersion": f'a string of at most {APP_VERSION_MAX} characters (e.g. "1.89.3")',
}

# Defaults TAPPaaS applies when a field is absent (module-fields.json).
DEFAULTS: dict[str, Any] = {
    "cores": 2,
    "memory": 4096,
    "diskSize": "8G",
    "zone0": "mgmt",
    "bridge0": "lan",
}


def show(value: object) -> str:
    """A value as JSON for a message, cut at 60 characters."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(text: str) -> PydanticCustomError:
    return PydanticCustomError("tappaas", "{problem}", {"problem": text})


def _whole_number(value: object, *, digits_string: bool) -> int:
    if isinstance(value, bool):
        raise _problem(f"{show(value)} is not a number")
    if isinstance(value, int):
        return value
    if digits_string and isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        if len(value.lstrip("0")) > 18:  # beyond every bound here; int() would be slow
            raise _problem(f"{show(value)} is out of range")
        return int(value)
    if isinstance(value, float):
        raise _problem(f"{show(value)} is not a whole number")
    raise _problem(f"{show(value)} is not a whole number")


class ModuleFile(BaseModel):
    """The validated fields of a (flattened) module file; other fields are kept as extras."""

    model_config = ConfigDict(extra="allow", frozen=True, validate_default=True)

    vmname: str
    vmid: int
    cores: int = DEFAULTS["cores"]
    memory: int = DEFAULTS["memory"]
    disk_size: str = Field(default=DEFAULTS["diskSize"], alias="diskSize")
    zone0: str = DEFAULTS["zone0"]
    bridge0: str = DEFAULTS["bridge0"]
    app_version: str | None = Field(default=None, alias="appVersion")
    proxy_port: int | None = Field(default=None, alias="proxyPort")

    @field_validator("vmname", mode="before")
    @classmethod
    def _vmname(cls, value: object) -> str:
        if not isinstance(value, str):
            raise _problem(f"{show(value)} is not a string")
        if TAPPAAS_VMNAME.fullmatch(value) and not DNS_LABEL.fullmatch(value):
            raise _problem(
                f"{show(value)} is a TAPPaaS vmname but not a host name NixOS accepts "
                "(networking.hostName: at most 63 characters, not ending with '-')"
            )
        if not DNS_LABEL.fullmatch(value):
            raise _problem(f"{show(value)} is not a DNS label")
        return value

    @field_validator("vmid", mode="before")
    @classmethod
    def _vmid(cls, value: object) -> int:
        return _in_range(value, VMID_MIN, VMID_MAX)

    @field_validator("cores", mode="before")
    @classmethod
    def _cores(cls, value: object) -> int:
        return _in_range(value, CORES_MIN, CORES_MAX)

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: object) -> int:
        number = _whole_number(value, digits_string=True)
        if number < MEMORY_MIN_MIB:
            raise _problem(f"{number} MiB is too small")
        if number > MEMORY_MAX_MIB:
            raise _problem(f"{number} MiB is out of range")
        return number

    @field_validator("disk_size", mode="before")
    @classmethod
    def _disk_size(cls, value: object) -> str:
        match = DISK_SIZE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise _problem(f"{show(value)} is not a disk size")
        mib = disk_mib(int(match[1]), match[2])
        if mib < DISK_MIN_MIB:
            raise _problem(f"{show(value)} is too small")
        if mib > DISK_MAX_MIB:
            raise _problem(f"{show(value)} is out of range")
        return f"{int(match[1])}{match[2]}"  # "032G" is 32G, as Proxmox reads it

    @field_validator("proxy_port", mode="before")
    @classmethod
    def _proxy_port(cls, value: object) -> int | None:
        if value is None:
            return None
        number = _whole_number(value, digits_string=True)
        if number != LITELLM_PORT:
            raise _problem(
                f"{number} is not the port LiteLLM listens on; TAPPaaS's proxy would forward "
                "to a closed port"
            )
        return number

    @field_validator("bridge0", mode="before")
    @classmethod
    def _bridge0(cls, value: object) -> str:
        if not isinstance(value, str) or not BRIDGE.fullmatch(value):
            raise _problem(f"{show(value)} is not a bridge name")
        return value

    @field_validator("zone0", mode="before")
    @classmethod
    def _zone0(cls, value: object, info: ValidationInfo) -> str:
        if not isinstance(value, str):
            raise _problem(f"{show(value)} is not a string")
        zones: ZoneTable | None = (info.context or {}).get("zones")
        if zones is None:
            return value
        zone = zones.get(value)
        if zone is None:
            hint = zones.suggest(value)
            also = f" (did you mean {show(hint)}?)" if hint else ""
            raise _problem(f"{show(value)} is not a known zone{also}")
        if zone.state not in DEPLOYABLE_STATES:
            raise _problem(
                f"zone {show(value)} is {zone.state or 'without a state'} in {zones.source}, "
                "so install-module.sh refuses it (the VM would have no network); activate it "
                f"first (zone-state.sh enable {value}) or choose another zone"
            )
        return value

    @field_validator("app_version", mode="before")
    @classmethod
    def _app_version(cls, value: object) -> str | None:
        # Informational and free-form in TAPPaaS; a number is read as jq prints it.
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = json.dumps(value)
        if not isinstance(value, str):
            raise _problem(f"{show(value)} is not a string")
        if len(value) > APP_VERSION_MAX:
            raise _problem(f"{len(value)} characters is too long")
        return value


def _in_range(value: object, low: int, high: int) -> int:
    """A whole number (or a string of digits) from `low` to `high`."""
    number = _whole_number(value, digits_string=True)
    if not low <= number <= high:
        raise _problem(f"{number} is out of range")
    return number


def disk_mib(number: int, unit: str) -> int:
    """A TAPPaaS disk size in MiB, as Proxmox reads it (G = GiB, M = MiB, K = KiB, rounded up)."""
    kib = number * {"G": 1024 * 1024, "M": 1024, "K": 1}[unit]
    return -(-kib // 1024)


def jq_path(*keys: str) -> str:
    """A jq-style path for messages: .vmid, .config."cluster:vm".cores"""
    return "".join(
        f".{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f".{json.dumps(key)}"
        for key in keys
    )
