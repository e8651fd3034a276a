"""The TAPPaaS module file (`<name>.json`) as the generator reads it.

Two shapes exist in the field and both are accepted:

* flat: every field at the top level (`cores`, `memory`, `zone0`, ...);
* nested: per-dependency blocks under `config`, e.g. `config."cluster:vm".cores`.

The nested shape is flattened first, following TAPPaaS's own rules (every block must
be a declared dependency; a field may be set in one place only), so both shapes of
the same VM give the same result. Only the fields the host file needs are validated;
every other field is kept, and fields TAPPaaS does not define are reported once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile.zones import DEPLOYABLE_STATES, Zone, ZoneTable

__all__ = [
    "KNOWN_FIELDS",
    "Datastore",
    "GatewayEntry",
    "GatewayOf",
    "LoadedModule",
    "ModuleFile",
    "VmSpec",
    "flatten",
    "jq_path",
    "load_module_file",
    "parse_module",
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


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(text: str) -> PydanticCustomError:
    return PydanticCustomError("tappaas", "{problem}", {"problem": text})


def _whole_number(value: object, *, digits_string: bool) -> int:
    if isinstance(value, bool):
        raise _problem(f"{_show(value)} is not a number")
    if isinstance(value, int):
        return value
    if digits_string and isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        if len(value.lstrip("0")) > 18:  # beyond every bound here; int() would be slow
            raise _problem(f"{_show(value)} is out of range")
        return int(value)
    if isinstance(value, float):
        raise _problem(f"{_show(value)} is not a whole number")
    raise _problem(f"{_show(value)} is not a whole number")


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
            raise _problem(f"{_show(value)} is not a string")
        if TAPPAAS_VMNAME.fullmatch(value) and not DNS_LABEL.fullmatch(value):
            raise _problem(
                f"{_show(value)} is a TAPPaaS vmname but not a host name NixOS accepts "
                "(networking.hostName: at most 63 characters, not ending with '-')"
            )
        if not DNS_LABEL.fullmatch(value):
            raise _problem(f"{_show(value)} is not a DNS label")
        return value

    @field_validator("vmid", mode="before")
    @classmethod
    def _vmid(cls, value: object) -> int:
        number = _whole_number(value, digits_string=True)
        if not VMID_MIN <= number <= VMID_MAX:
            raise _problem(f"{number} is out of range")
        return number

    @field_validator("cores", mode="before")
    @classmethod
    def _cores(cls, value: object) -> int:
        number = _whole_number(value, digits_string=True)
        if not CORES_MIN <= number <= CORES_MAX:
            raise _problem(f"{number} is out of range")
        return number

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
            raise _problem(f"{_show(value)} is not a disk size")
        mib = disk_mib(int(match[1]), match[2])
        if mib < DISK_MIN_MIB:
            raise _problem(f"{_show(value)} is too small")
        if mib > DISK_MAX_MIB:
            raise _problem(f"{_show(value)} is out of range")
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
            raise _problem(f"{_show(value)} is not a bridge name")
        return value

    @field_validator("zone0", mode="before")
    @classmethod
    def _zone0(cls, value: object, info: ValidationInfo) -> str:
        if not isinstance(value, str):
            raise _problem(f"{_show(value)} is not a string")
        zones: ZoneTable | None = (info.context or {}).get("zones")
        if zones is None:
            return value
        zone = zones.get(value)
        if zone is None:
            hint = zones.suggest(value)
            also = f" (did you mean {_show(hint)}?)" if hint else ""
            raise _problem(f"{_show(value)} is not a known zone{also}")
        if zone.state not in DEPLOYABLE_STATES:
            raise _problem(
                f"zone {_show(value)} is {zone.state or 'without a state'} in {zones.source}, "
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
            raise _problem(f"{_show(value)} is not a string")
        if len(value) > APP_VERSION_MAX:
            raise _problem(f"{len(value)} characters is too long")
        return value


def disk_mib(number: int, unit: str) -> int:
    """A TAPPaaS disk size in MiB, as Proxmox reads it (G = GiB, M = MiB, K = KiB, rounded up)."""
    kib = number * {"G": 1024 * 1024, "M": 1024, "K": 1}[unit]
    return -(-kib // 1024)


@dataclass(frozen=True)
class GatewayEntry:
    """A gateway as its datastore lists it."""

    name: str
    address: str
    workers: int


@dataclass(frozen=True)
class Datastore:
    """This VM is the datastore: PostgreSQL and Redis for the gateways listed."""

    address: str
    gateways: tuple[GatewayEntry, ...]


@dataclass(frozen=True)
class GatewayOf:
    """This VM is a gateway using the datastore VM of that name (same zone)."""

    datastore: str


@dataclass(frozen=True)
class VmSpec:
    """Everything the host file is made from."""

    name: str
    vmid: int
    cores: int
    memory_mib: int
    disk_size: str
    zone: Zone
    app_version: str | None
    bridge: str = DEFAULTS["bridge0"]
    role: Datastore | GatewayOf | None = None

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.zone.domain}"

    @property
    def disk_size_mib(self) -> int:
        """`disk_size` in MiB, as Proxmox reads it (G = GiB, M = MiB, K = KiB, rounded up)."""
        return disk_mib(int(self.disk_size[:-1]), self.disk_size[-1])


@dataclass
class LoadedModule:
    spec: VmSpec
    source: Path
    fields: dict[str, Any]  # the flattened module file, unknown fields included
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def jq_path(*keys: str) -> str:
    """A jq-style path for messages: .vmid, .config."cluster:vm".cores"""
    return "".join(
        f".{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f".{json.dumps(key)}"
        for key in keys
    )


def flatten(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Flatten `config` blocks into the top level.

    Returns the flat fields, where each field came from (a jq path), and problems.
    """
    flat: dict[str, Any] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key != "config":
            flat[key] = value
            origin[key] = jq_path(key)
    config = raw.get("config")
    if config is None:
        return flat, origin, problems
    if not isinstance(config, dict):
        problems.append(
            f"{jq_path('config')}: {_show(config)} is not an object; "
            'allowed: an object of "module:service" blocks, e.g. {"cluster:vm": {"cores": 4}}'
        )
        return flat, origin, problems
    depends = raw.get("dependsOn", [])
    declared = {d for d in depends if isinstance(d, str)} if isinstance(depends, list) else set()
    for service, block in config.items():
        where = jq_path("config", service)
        if not SERVICE_KEY.fullmatch(service):
            problems.append(f'{where}: not a dependency name; allowed: "module:service" keys')
            continue
        if service not in declared:
            problems.append(
                f"{where}: block for a dependency that .dependsOn does not list; "
                "allowed: blocks for the services listed in .dependsOn"
            )
            continue
        if not isinstance(block, dict):
            problems.append(
                f"{where}: {_show(block)} is not an object; allowed: an object of fields"
            )
            continue
        for key, value in block.items():
            path = jq_path("config", service, key)
            if key in origin:
                problems.append(
                    f"{path}: also set at {origin[key]}; allowed: each field in one place only"
                )
                continue
            flat[key] = value
            origin[key] = path
    return flat, origin, problems


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _deeper_than(value: object, limit: int) -> bool:
    """Whether objects and lists nest more than `limit` levels (checked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = list(item.values()) if isinstance(item, dict) else item
        for child in children if isinstance(children, list) else ():
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse_module(
    text: str, zones: ZoneTable, *, display: str, default_name: str
) -> tuple[VmSpec, dict[str, Any], list[str], list[str]]:
    """Validate the text of a module file. Returns (spec, flat fields, warnings, notes)."""
    try:
        raw = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
        deep = _deeper_than(raw, MAX_DEPTH)
    except RecursionError:
        deep = True
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{display}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}; "
            "allowed: a JSON object (check quotes, commas and brackets)"
        ) from None
    except _DuplicateKeyError as exc:
        raise InputError(
            f"{display}: key {_show(exc.key)} appears twice in one object; allowed: each key once"
        ) from None
    except ValueError as exc:
        raise InputError(f"{display}: malformed JSON: {exc}") from None
    if deep:
        raise InputError(
            f"{display}: nested more than {MAX_DEPTH} levels deep; allowed: a module file of "
            "objects and lists a few levels deep"
        )
    if not isinstance(raw, dict):
        raise InputError(
            f"{display}: the top level is {_show(raw)}, not an object; "
            "allowed: a JSON object of module fields"
        )

    flat, origin, problems = flatten(raw)
    notes: list[str] = []
    if "vmname" not in flat:
        flat["vmname"] = default_name
        origin["vmname"] = jq_path("vmname") + " (missing; TAPPaaS uses the file name)"
        notes.append(f"{display}: .vmname not set; using the file name {_show(default_name)}")
    for key, default in DEFAULTS.items():
        if key not in flat:
            notes.append(f"{display}: .{key} not set; using the TAPPaaS default {_show(default)}")

    spec_fields: ModuleFile | None = None
    try:
        spec_fields = ModuleFile.model_validate(flat, context={"zones": zones})
    except ValidationError as exc:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else ""
            path = origin.get(key, jq_path(key))
            problem = "missing" if error["type"] == "missing" else error["msg"]
            allowed = ALLOWED.get(key, "see module-fields.json")
            if key == "zone0":
                usable = [z.name for z in zones.zones.values() if z.state in DEPLOYABLE_STATES]
                allowed = f"an active zone in {zones.source}: {', '.join(usable) or 'none is'}"
            problems.append(f"{path}: {problem}; allowed: {allowed}")
    if problems or spec_fields is None:
        raise InputError([f"{display}: {problem}" for problem in problems])

    role = _scale_role(flat, origin, spec_fields.vmname)
    if isinstance(role, list):
        raise InputError([f"{display}: {problem}" for problem in role])

    warnings: list[str] = []
    unknown = [origin[key] for key in flat if key not in KNOWN_FIELDS | LITELLM_FIELDS]
    if unknown:
        warnings.append(
            f"{display}: unknown field(s) kept but not used: {', '.join(unknown)} "
            "(not defined by TAPPaaS module-fields.json)"
        )
    zone = zones.zones[spec_fields.zone0]
    depends = flat.get("dependsOn")
    if spec_fields.proxy_port is None and isinstance(depends, list) and "firewall:proxy" in depends:
        warnings.append(
            f"{display}: .proxyPort not set: TAPPaaS's firewall:proxy forwards to port 80 by "
            f'default, where nothing listens; set "proxyPort": {LITELLM_PORT}'
        )
    spec = VmSpec(
        name=spec_fields.vmname,
        vmid=spec_fields.vmid,
        cores=spec_fields.cores,
        memory_mib=spec_fields.memory,
        disk_size=spec_fields.disk_size,
        zone=zone,
        app_version=spec_fields.app_version,
        bridge=spec_fields.bridge0,
        role=role,
    )
    return spec, flat, warnings, notes


def _gateway_entry(value: object, where: str) -> GatewayEntry | list[str]:
    allowed = 'allowed: {"vmname": "<gateway VM>", "ip": "<its IPv4 address>", "workers": <1-128>}'
    if not isinstance(value, dict):
        return [f"{where}: {_show(value)} is not an object; {allowed}"]
    problems: list[str] = []
    extra = sorted(set(value) - {"vmname", "ip", "workers"})
    if extra:
        problems.append(f"{where}: unknown key(s) {', '.join(extra)}; {allowed}")
    name, address, workers = value.get("vmname"), value.get("ip"), value.get("workers")
    if not isinstance(name, str) or not DNS_LABEL.fullmatch(name):
        problems.append(
            f"{where}.vmname: {_show(name)} is not a VM name; allowed: {ALLOWED['vmname']}"
        )
    if not isinstance(address, str) or not IPV4.fullmatch(address):
        problems.append(
            f"{where}.ip: {_show(address)} is not an IPv4 address; "
            'allowed: the gateway\'s static address in the zone, e.g. "10.2.20.21"'
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= WORKERS_MAX:
        problems.append(
            f"{where}.workers: {_show(workers)} is not a worker count; allowed: a whole number "
            f"from 1 to {WORKERS_MAX}, the workers `generate` prints for that gateway"
        )
    if problems:
        return problems
    assert isinstance(name, str) and isinstance(address, str) and isinstance(workers, int)
    return GatewayEntry(name=name, address=address, workers=workers)


def _scale_role(
    flat: dict[str, Any], origin: dict[str, str], vmname: str
) -> Datastore | GatewayOf | list[str] | None:
    """The VM's part in a scale-out layout, or the problems (one line each).

    A datastore says `"provides": ["datastore"]`, its address in `ip` (TAPPaaS's field,
    usually in `config."firewall:dns"`) and its gateways in `datastoreGateways`. A gateway
    depends on one: `"dependsOn": ["<datastore VM>:datastore"]`.
    """
    provides = flat.get("provides", [])
    depends = flat.get("dependsOn", [])
    is_datastore = isinstance(provides, list) and DATASTORE_SERVICE in provides
    datastores = (
        [d.split(":", 1)[0] for d in depends if isinstance(d, str) and SERVICE_KEY.fullmatch(d)
         and d.split(":", 1)[1] == DATASTORE_SERVICE]
        if isinstance(depends, list)
        else []
    )  # fmt: skip
    problems: list[str] = []
    where_depends = origin.get("dependsOn", jq_path("dependsOn"))
    if is_datastore and datastores:
        problems.append(
            f"{where_depends}: a datastore cannot itself use a datastore; allowed: either "
            '"provides": ["datastore"] or a "<datastore VM>:datastore" dependency'
        )
    if len(datastores) > 1:
        problems.append(
            f"{where_depends}: {len(datastores)} datastores ({', '.join(datastores)}); "
            'allowed: one "<datastore VM>:datastore" entry'
        )
    if vmname in datastores:
        problems.append(
            f"{where_depends}: the VM names itself as its datastore; allowed: another VM's name"
        )
    gateways_field = flat.get("datastoreGateways")
    where_gateways = origin.get("datastoreGateways", jq_path("datastoreGateways"))
    if not is_datastore:
        if gateways_field is not None:
            problems.append(
                f'{where_gateways}: only a datastore lists gateways; allowed: add "datastore" '
                "to .provides, or remove this field"
            )
        if problems:
            return problems
        return GatewayOf(datastores[0]) if datastores else None

    address = flat.get("ip")
    where_ip = origin.get("ip", jq_path("config", "firewall:dns", "ip"))
    if address is None:
        problems.append(
            f"{where_ip}: missing; allowed: the datastore's static IPv4 address in its zone, "
            'which PostgreSQL and Redis listen on, e.g. "10.2.20.20"'
        )
    elif not isinstance(address, str) or not IPV4.fullmatch(address):
        problems.append(
            f'{where_ip}: {_show(address)} is not an IPv4 address; allowed: e.g. "10.2.20.20"'
        )
    entries: list[GatewayEntry] = []
    if not isinstance(gateways_field, list) or not gateways_field:
        problems.append(
            f"{where_gateways}: {'missing' if gateways_field is None else _show(gateways_field)}; "
            'allowed: a non-empty list of {"vmname", "ip", "workers"} objects, one per gateway'
        )
    else:
        for index, value in enumerate(gateways_field):
            entry = _gateway_entry(value, f"{where_gateways}[{index}]")
            if isinstance(entry, list):
                problems.extend(entry)
            else:
                entries.append(entry)
        for attribute, label in (("name", "vmname"), ("address", "ip")):
            seen: set[str] = set()
            for entry in entries:
                key = getattr(entry, attribute)
                if key in seen:
                    problems.append(
                        f"{where_gateways}: {label} {_show(key)} appears twice; "
                        "allowed: each gateway once"
                    )
                seen.add(key)
        if isinstance(address, str) and any(entry.address == address for entry in entries):
            problems.append(
                f"{where_gateways}: a gateway has the datastore's own address {address}; "
                "allowed: the gateways' addresses"
            )
    if problems:
        return problems
    assert isinstance(address, str)
    return Datastore(address=address, gateways=tuple(sorted(entries, key=lambda e: e.name)))


def load_module_file(path: Path, zones: ZoneTable, *, display: str | None = None) -> LoadedModule:
    """Read and validate a module file."""
    shown = display or str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(
            f"{shown}: larger than {MAX_FILE_BYTES // 1024} KiB; allowed: a module file "
            "(a few kilobytes of JSON)"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{shown}: not UTF-8 text; allowed: a UTF-8 JSON file") from None
    stem = path.name.removesuffix(".json")
    spec, flat, warnings, notes = parse_module(text, zones, display=shown, default_name=stem)
    return LoadedModule(spec=spec, source=path, fields=flat, warnings=warnings, notes=notes)
