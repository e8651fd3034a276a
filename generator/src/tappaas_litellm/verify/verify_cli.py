"""``tappaas-litellm verify NAME``: run the checks against a deployed gateway.

The host defaults to ``NAME.<domain>``, where the domain is ``networking.domain`` in
``site/hosts/NAME/default.nix`` (else ``hosts/NAME/``) of the flake (found upwards from here,
or given with ``--flake``). Without a domain there, the host is ``NAME`` itself (so
an entry in ``~/.ssh/config`` or DNS search domain works). ``--host`` overrides both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from tappaas_litellm.admin import site
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.common.ssh_target import check_host, check_user
from tappaas_litellm.verify.checks import CHECKS, run_checks, select_checks
from tappaas_litellm.verify.report import format_result, format_summary, write_json, write_junit
from tappaas_litellm.verify.result import CheckResult
from tappaas_litellm.verify.target import Target
from tappaas_litellm.verify.transport import LocalTransport, SSHTransport, Transport

_DOMAIN = re.compile(r"""(?:networking\.)?domain\s*=\s*"([^"]+)"\s*;""")


def find_flake_dir(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` that has a ``flake.nix``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "flake.nix").is_file():
            return folder
    return None


def host_domain(name: str, flake_dir: Path | None = None) -> str | None:
    """``networking.domain`` from the host file (the site's, else upstream's sample)."""
    folder = flake_dir or find_flake_dir()
    if folder is None:
        return None
    host_file = site.host_dir(folder, name) / site.HOST_FILE
    try:
        text = host_file.read_text()
    except OSError:
        return None
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    match = _DOMAIN.search(text)
    return match.group(1) if match else None


def default_host(name: str, flake_dir: Path | None = None) -> str:
    domain = host_domain(name, flake_dir)
    return f"{name}.{domain}" if domain else name


def local_target(settings: dict[str, Any] | None = None) -> Target:
    """Defaults for the local stack: no database in the proxy, no owner checks."""
    target = Target(
        database=False,
        secrets_owner=None,
        backup_owners=None,
        pg_host="127.0.0.1",
    )
    if settings:
        target = target.with_settings(settings)
    return target


def run_verify(
    name: str,
    host: str | None = None,
    *,
    only: Sequence[str] | None = None,
    json_path: str | Path | None = None,
    junit_path: str | Path | None = None,
    verbose: bool = False,
    user: str = "tappaas",
    port: int | None = None,
    identity_file: str | None = None,
    ssh_options: Sequence[str] = (),
    flake_dir: Path | None = None,
    transport: Transport | None = None,
    target: Target | None = None,
    echo: Callable[[str], None] | None = None,
) -> int:
    """Run the checks against gateway ``name`` and print them; 0 when nothing failed.

    ``deploy`` calls this at its end. By default it connects with SSH to
    ``tappaas@HOST`` (HOST from ``host`` or :func:`default_host`); pass ``transport``
    and ``target`` to check something else (the local stack, a test VM).
    """
    say = echo or (lambda line: click.echo(line, color=None))
    if transport is None:
        transport = SSHTransport(
            check_host(host or default_host(name, flake_dir), "--host"),
            user=user,
            port=port,
            identity_file=identity_file,
            ssh_options=ssh_options,
        )
    target = target or Target()
    say(click.style(f"Verifying {name} ({transport.description})", bold=True))

    def show(result: CheckResult) -> None:
        say(format_result(result, verbose=verbose))

    results = run_checks(transport, target, only=only, on_result=show)
    say(format_summary(results, transport.description))
    if json_path:
        write_json(json_path, results, transport.description)
    if junit_path:
        write_junit(junit_path, results, transport.description)
    return 1 if any(result.failed for result in results) else 0


def _parse_settings(values: Sequence[str], settings_file: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if settings_file:
        try:
            data = json.loads(Path(settings_file).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"--settings {settings_file}: cannot read it as JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InputError(f"--settings {settings_file}: must hold a JSON object")
        settings.update(data)
    for item in values:
        field, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set {item!r}: not NAME=VALUE")
        settings[field.strip()] = value
    return settings


@click.command("verify")
@click.argument("name")
@click.option("--host", help="Host name or address (default: NAME.<networking.domain>).")
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="CHECK",
    help="Run only these checks (repeat, or comma-separate). See --list.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write results as JSON.")
@click.option(
    "--junit", "junit_path", type=click.Path(dir_okay=False), help="Write results as JUnit XML."
)
@click.option("-v", "--verbose", is_flag=True, help="Show the evidence of every check.")
@click.option("--user", default="tappaas", show_default=True, help="SSH user (needs sudo).")
@click.option("--port", type=int, help="SSH port.")
@click.option("--identity", "identity_file", type=click.Path(), help="SSH private key.")
@click.option("--ssh-option", "ssh_options", multiple=True, help="Extra ssh argument, e.g. -v.")
@click.option(
    "--flake",
    "flake_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Flake directory with site/hosts/NAME (default: found from the current directory).",
)
@click.option(
    "--local",
    is_flag=True,
    help="Check services on this machine (the CI stack) instead of over SSH.",
)
@click.option(
    "--set",
    "set_values",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Override a target setting (base_url, redis_port, backup_root, ...).",
)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON file with target settings.",
)
@click.option("--list", "list_checks", is_flag=True, help="List the checks and exit.")
def verify(
    name: str,
    host: str | None,
    only: tuple[str, ...],
    json_path: str | None,
    junit_path: str | None,
    verbose: bool,
    user: str,
    port: int | None,
    identity_file: str | None,
    ssh_options: tuple[str, ...],
    flake_dir: Path | None,
    local: bool,
    set_values: tuple[str, ...],
    settings_file: str | None,
    list_checks: bool,
) -> None:
    """Check that the LiteLLM gateway NAME works: services, API, database, Redis,
    keys, a real request, backups, logs and resources.

    Exit status 0 when no check failed (skipped checks do not count as failures).

    \b
    Example:
      tappaas-litellm verify litellm --only health,auth,request-flow
    """
    if list_checks:
        for item in CHECKS.values():
            guide = f" [{item.guide}]" if item.guide else ""
            click.echo(f"{item.name:<16} {item.title}{guide}")
        return
    try:
        select_checks(only)
    except ValueError as exc:
        raise InputError(f"--only: {exc}") from None
    if host is not None:
        check_host(host, "--host")
    check_user(user, "--user")
    settings = _parse_settings(set_values, settings_file)
    try:
        target = local_target(settings) if local else Target().with_settings(settings)
    except ValueError as exc:
        raise InputError(f"--set/--settings: {exc}") from None
    transport: Transport | None = LocalTransport() if local else None
    code = run_verify(
        name,
        host,
        only=only,
        json_path=json_path,
        junit_path=junit_path,
        verbose=verbose,
        user=user,
        port=port,
        identity_file=identity_file,
        ssh_options=ssh_options,
        flake_dir=flake_dir,
        transport=transport,
        target=target,
    )
    raise SystemExit(code)
