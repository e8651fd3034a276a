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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile.module_fields import (
    ALLOWED,
    DEFAULTS,
    KNOWN_FIELDS,
    LITELLM_FIELDS,
    LITELLM_PORT,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    SERVICE_KEY,
    ModuleFile,
    disk_mib,
    jq_path,
    show,
)
from tappaas_litellm.hostfile.scale_out import Datastore, GatewayOf, scale_role
from tappaas_litellm.hostfile.zones import DEPLOYABLE_STATES, Zone, ZoneTable

__all__ = [
    "LoadedModule",
    "VmSpec",
    "flatten",
    "load_module_file",
    "parse_module",
]


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
            f"{jq_path('config')}: {show(config)} is not an object; "
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
                f"{where}: {show(block)} is not an object; allowed: an object of fields"
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
            f"{display}: key {show(exc.key)} appears twice in one object; allowed: each key once"
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
            f"{display}: the top level is {show(raw)}, not an object; "
            "allowed: a JSON object of module fields"
        )

    flat, origin, problems = flatten(raw)
    notes: list[str] = []
    if "vmname" not in flat:
        flat["vmname"] = default_name
        origin["vmname"] = jq_path("vmname") + " (missing; TAPPaaS uses the file name)"
        notes.append(f"{display}: .vmname not set; using the file name {show(default_name)}")
    for key, default in DEFAULTS.items():
        if key not in flat:
            notes.append(f"{display}: .{key} not set; using the TAPPaaS default {show(default)}")

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

    role = scale_role(flat, origin, spec_fields.vmname)
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
