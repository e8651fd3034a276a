"""The `upgrade` command's options (the steps are in :mod:`tappaas_litellm.admin.upgrade`)."""

from __future__ import annotations

from pathlib import Path

import click

from tappaas_litellm.admin.upgrade_over_ssh import UpgradeOptions, run_upgrade
from tappaas_litellm.cli_options import (
    CONTEXT,
    build_host_option,
    config_option,
    flake_dir_option,
    port_option,
    target_host_option,
    wait_timeout_option,
    zones_option,
)
from tappaas_litellm.common import process
from tappaas_litellm.hostfile.input_files import check_name

__all__ = ["upgrade"]


@click.command(context_settings=CONTEXT)
@click.argument("name")
@click.option("--image", metavar="TAG", help="Upgrade LiteLLM to this tag of the pinned image.")
@click.option(
    "--digest",
    metavar="sha256:HEX",
    help="The tag's digest, when nix-prefetch-docker ran elsewhere (with --hash).",
)
@click.option(
    "--hash",
    "nix_hash",
    metavar="SRI",
    help="The image's Nix hash (sha256-...=, or Nix base32), with --digest.",
)
@click.option(
    "--postgresql",
    is_flag=True,
    help="Move the database to the PostgreSQL major version the host now sets "
    "(tappaas.litellm.database.package), by dump and restore.",
)
@click.option("--dry-run", is_flag=True, help="Print every step and command; run nothing.")
@target_host_option("The VM")
@build_host_option
@config_option
@zones_option
@flake_dir_option("site/hosts/NAME is in it; its image.json pins this site's image")
@port_option
@wait_timeout_option
def upgrade(
    name: str,
    image: str | None,
    digest: str | None,
    nix_hash: str | None,
    postgresql: bool,
    dry_run: bool,
    target_host: str | None,
    build_host: str | None,
    config: Path | None,
    zones_file: Path | None,
    flake_dir: Path,
    port: int,
    wait_timeout: float,
) -> None:
    """Upgrade VM NAME to a new LiteLLM image or PostgreSQL major version, or roll back.

    \b
    Steps (--image TAG):
      1. resolve TAG to a digest and Nix hash (nix-prefetch-docker)
      2. read the VM's state: generation, keys, schema migrations
      3. stop LiteLLM; back up PostgreSQL, Redis and the secrets
      4. check the dump restores into a scratch database
      5. write site/hosts/NAME/image.json, this site's pin (digest and hash together;
         never committed, so `git pull` keeps it; upstream's modules/litellm/image.json
         is never written)
      6. nixos-rebuild switch; 7. wait for /health/readiness; 8. verify
    With --postgresql (after setting tappaas.litellm.database.package): steps 2-4,
    then the guard lets the new version start empty next to the old data, switch,
    restore the dump into it, wait, verify; the old data directory is kept.
    On any failure after step 3 it restores the dump if the schema migrations
    changed, switches back to the previous generation, starts LiteLLM and reports.

    \b
    Examples:
      tappaas-litellm upgrade litellm --image v1.90.0 --dry-run
      tappaas-litellm upgrade litellm --image v1.90.0
      tappaas-litellm upgrade litellm --postgresql
    """
    check_name(name)
    options = UpgradeOptions(
        name=name,
        image=image,
        digest=digest,
        hash=nix_hash,
        postgresql=postgresql,
        config=config,
        zones_file=zones_file,
        flake_dir=flake_dir,
        target_host=target_host,
        build_host=build_host,
        port=port,
        wait_timeout=wait_timeout,
        dry_run=dry_run,
    )
    run_upgrade(options, process.get_runner())
