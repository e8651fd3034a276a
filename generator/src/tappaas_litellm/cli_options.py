"""Command-line options several commands share (deploy, upgrade, key, generate, ...)."""

from __future__ import annotations

from pathlib import Path

import click

from tappaas_litellm.admin.deploy import DEFAULT_PORT

__all__ = [
    "CONTEXT",
    "build_host_option",
    "config_option",
    "flake_dir_option",
    "other_vmname_option",
    "port_option",
    "target_host_option",
    "wait_timeout_option",
    "zones_option",
]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

config_option = click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Module file to read (default: /home/tappaas/config/NAME.json, else ./NAME.json).",
)
other_vmname_option = click.option(
    "--other-vmname",
    is_flag=True,
    help="Accept a module file whose vmname is not NAME: the host written is "
    "hosts/<its vmname>/ (without this, such a file is refused, so a copy of another VM's file "
    "never overwrites that VM's host).",
)
zones_option = click.option(
    "--zones",
    "zones_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The cluster's zones.json (default: /home/tappaas/config/zones.json if present, "
    "else the copy shipped with the tool).",
)
build_host_option = click.option(
    "--build-host", metavar="HOST", help="Build on HOST instead of this machine."
)
port_option = click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="LiteLLM's port on the VM (tappaas.litellm.port).",
)
wait_timeout_option = click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds to wait for /health/readiness after switching.",
)


def target_host_option(what: str) -> click.Option:
    """--target-host USER@HOST; `what` says what the host is for."""
    return click.option(
        "--target-host",
        metavar="USER@HOST",
        help=f"{what} (default: tappaas@NAME.<zone0>.internal; a bare HOST means tappaas@HOST).",
    )


def flake_dir_option(what: str) -> click.Option:
    """--flake-dir, the flake's folder; `what` says what the command uses in it."""
    return click.option(
        "--flake-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("."),
        show_default=True,
        help=f"The flake (a git work tree); {what}.",
    )
