"""The scale-out layout: a datastore VM (PostgreSQL, Redis) and the gateways that use it.

A datastore says `"provides": ["datastore"]`, its address in `ip` and its gateways in
`datastoreGateways`; a gateway depends on one: `"dependsOn": ["<datastore VM>:datastore"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tappaas_litellm.hostfile.module_fields import (
    ALLOWED,
    DATASTORE_SERVICE,
    DNS_LABEL,
    IPV4,
    SERVICE_KEY,
    WORKERS_MAX,
    jq_path,
    show,
)

__all__ = ["Datastore", "GatewayEntry", "GatewayOf", "scale_role"]


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


def _gateway_entry(value: object, where: str) -> GatewayEntry | list[str]:
    allowed = 'allowed: {"vmname": "<gateway VM>", "ip": "<its IPv4 address>", "workers": <1-128>}'
    if not isinstance(value, dict):
        return [f"{where}: {show(value)} is not an object; {allowed}"]
    problems: list[str] = []
    extra = sorted(set(value) - {"vmname", "ip", "workers"})
    if extra:
        problems.append(f"{where}: unknown key(s) {', '.join(extra)}; {allowed}")
    name, address, workers = value.get("vmname"), value.get("ip"), value.get("workers")
    if not isinstance(name, str) or not DNS_LABEL.fullmatch(name):
        problems.append(
            f"{where}.vmname: {show(name)} is not a VM name; allowed: {ALLOWED['vmname']}"
        )
    if not isinstance(address, str) or not IPV4.fullmatch(address):
        problems.append(
            f"{where}.ip: {show(address)} is not an IPv4 address; "
            'allowed: the gateway\'s static address in the zone, e.g. "10.2.20.21"'
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= WORKERS_MAX:
        problems.append(
            f"{where}.workers: {show(workers)} is not a worker count; allowed: a whole number "
            f"from 1 to {WORKERS_MAX}, the workers `generate` prints for that gateway"
        )
    if problems:
        return problems
    assert isinstance(name, str) and isinstance(address, str) and isinstance(workers, int)
    return GatewayEntry(name=name, address=address, workers=workers)


def scale_role(
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
            f'{where_ip}: {show(address)} is not an IPv4 address; allowed: e.g. "10.2.20.20"'
        )
    entries: list[GatewayEntry] = []
    if not isinstance(gateways_field, list) or not gateways_field:
        problems.append(
            f"{where_gateways}: {'missing' if gateways_field is None else show(gateways_field)}; "
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
                        f"{where_gateways}: {label} {show(key)} appears twice; "
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
