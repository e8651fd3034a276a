"""Hosts given on the command line: checked before they reach ssh or nixos-rebuild.

A value such as ``-oProxyCommand=...`` must never become an option of ``ssh``: hosts are
``[USER@]HOST`` with HOST a DNS name or an IP address and USER a plain login name, and
every ``ssh`` call puts ``--`` before the destination.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from tappaas_litellm.common.errors import InputError

__all__ = [
    "DEFAULT_USER",
    "SshTarget",
    "check_destination",
    "check_host",
    "check_user",
    "parse_target",
]

DEFAULT_USER = "tappaas"

_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

_ALLOWED_HOST = "allowed: a DNS name (letters, digits, '-', '.') or an IP address"
_ALLOWED_USER = "allowed: a login name (letters, digits, '_', '.', '-'; not starting with '-')"


def _is_dns_name(host: str) -> bool:
    labels = host.split(".")
    return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def _is_ip(host: str) -> bool:
    if "%" in host:  # an IPv6 zone index could carry anything
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_host(value: str, option: str) -> str:
    """`value` when it is a DNS name or an IP address; else exit 2 with one line."""
    if not (_is_ip(value) or _is_dns_name(value)):
        raise InputError(f"{option} {value!r}: not a host name or address; {_ALLOWED_HOST}")
    return value


def check_user(value: str, option: str) -> str:
    """`value` when it is a plain login name; else exit 2 with one line."""
    if not _USER.fullmatch(value):
        raise InputError(f"{option} {value!r}: not a user name; {_ALLOWED_USER}")
    return value


@dataclass(frozen=True)
class SshTarget:
    """A checked ``USER@HOST``."""

    user: str
    host: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host}"


def parse_target(value: str, option: str, default_user: str = DEFAULT_USER) -> SshTarget:
    """``[USER@]HOST`` checked; a bare HOST means ``default_user@HOST``."""
    user, sep, host = value.rpartition("@")
    if not sep:
        user = default_user
    if not _USER.fullmatch(user):
        raise InputError(f"{option} {value!r}: not [USER@]HOST; {_ALLOWED_USER} before '@'")
    if not (_is_ip(host) or _is_dns_name(host)):
        raise InputError(f"{option} {value!r}: not [USER@]HOST; after '@' {_ALLOWED_HOST}")
    return SshTarget(user, host)


def check_destination(value: str, option: str) -> str:
    """``[USER@]HOST`` checked, returned as given (a bare HOST keeps ssh's own default user)."""
    if "@" in value:
        parse_target(value, option)
    else:
        check_host(value, option)
    return value
