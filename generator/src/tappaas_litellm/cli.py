"""The `tappaas-litellm` command line."""

from __future__ import annotations

import os
from pathlib import Path

import click

from tappaas_litellm import __version__
from tappaas_litellm.admin.create import CreateOptions
from tappaas_litellm.admin.datastore_service import tappaas_datastore
from tappaas_litellm.admin.deploy import DeployOptions, run_deploy
from tappaas_litellm.admin.generate import prepare, register_site_host
from tappaas_litellm.admin.handover_cli import service_key, tappaas_service
from tappaas_litellm.admin.master_key import read_master_key, ssh_target
from tappaas_litellm.admin.site import SITE_HOSTS
from tappaas_litellm.admin.upgrade_cli import upgrade
from tappaas_litellm.cli_options import (
    CONTEXT,
    build_host_option,
    config_option,
    flake_dir_option,
    other_vmname_option,
    port_option,
    target_host_option,
    wait_timeout_option,
    zones_option,
)
from tappaas_litellm.common import process
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.hostfile.input_files import check_name, find_config, find_zones
from tappaas_litellm.hostfile.module_file import load_module_file
from tappaas_litellm.hostfile.render import write_host_file
from tappaas_litellm.hostfile.sizing import derived_sizing
from tappaas_litellm.onvm.reconciler_cli import service_keys
from tappaas_litellm.verify.verify_cli import verify

__all__ = ["main"]


def _info(text: str) -> None:
    click.echo(text, err=True)


def _warn(text: str) -> None:
    click.echo(f"warning: {text}", err=True)


def _shown(path: Path) -> str:
    """A path relative to the current folder when it is below it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="tappaas-litellm")
def main() -> None:
    """Generate, deploy and check the TAPPaaS LiteLLM VM from its module file.

    The module file NAME.json is taken from --config FILE, else
    /home/tappaas/config/NAME.json (override the folder with TAPPAAS_CONFIG_DIR),
    else ./NAME.json.

    \b
    Examples:
      tappaas-litellm generate litellm
      tappaas-litellm deploy litellm --dry-run
      tappaas-litellm deploy litellm
      tappaas-litellm key litellm
      tappaas-litellm upgrade litellm --image v1.90.0 --dry-run
    """


@main.command(context_settings=CONTEXT)
@click.argument("name")
@config_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=SITE_HOSTS,
    show_default=True,
    help="Folder of host configurations; the file goes to OUT/<vmname>/default.nix. "
    "site/hosts is this site's, never tracked upstream (hosts/ holds upstream's samples).",
)
@zones_option
@other_vmname_option
def generate(
    name: str, config: Path | None, out: Path, zones_file: Path | None, other_vmname: bool
) -> None:
    """Write site/hosts/NAME/default.nix from the module file NAME.json.

    Reads the flat or the nested (config."cluster:vm") shape, validates it and
    writes the NixOS host configuration to OUT/<vmname>/, the folder named by
    the file's vmname; a file whose vmname is not NAME is refused unless
    --other-vmname is given. In a git clone the site's files are registered
    with `git add --intent-to-add --force` (the flake sees them; nothing is
    committed, and `git pull` never conflicts with them). Bad input is reported
    one line per problem with exit status 2, and nothing is written.

    \b
    Example:
      tappaas-litellm generate litellm --config litellm.json
      tappaas-litellm generate litellm --config litellm.json --out hosts   # upstream's sample
    """
    check_name(name)
    generated = prepare(
        name,
        config=config,
        zones_file=zones_file,
        out_dir=out,
        info=_info,
        warn=_warn,
        other_vmname=other_vmname,
    )
    host = generated.host
    state = write_host_file(host)
    register_site_host(host, process.get_runner(), info=_info, warn=_warn)
    if host.flake_root is not None:
        spec = generated.module.spec
        derived = derived_sizing(host.flake_root, spec.cores, spec.memory_mib, process.get_runner())
        if derived is not None:
            _info(f"the module derives: {_describe_derived(derived)}")
    verb = {"new": "wrote", "changed": "updated", "unchanged": "unchanged:"}[state]
    click.echo(f"{verb} {_shown(host.path)}")


def _describe_derived(derived: dict[str, object]) -> str:
    pg = derived.get("postgresql")
    redis = derived.get("redis")
    parts = [f"{derived.get('workers')} LiteLLM workers"]
    if isinstance(pg, dict):
        parts.append(
            f"PostgreSQL shared_buffers {pg.get('sharedBuffers')}, "
            f"max_connections {pg.get('maxConnections')}"
        )
    if isinstance(redis, dict):
        parts.append(f"Redis maxmemory {redis.get('maxMemory')}")
    return "; ".join(parts)


@main.command(context_settings=CONTEXT)
@click.argument("name")
@target_host_option("Where to switch the configuration")
@build_host_option
@click.option("--dry-run", is_flag=True, help="Print every step and command; run nothing.")
@config_option
@flake_dir_option("the host file goes to FLAKE_DIR/hosts")
@zones_option
@port_option
@wait_timeout_option
@other_vmname_option
@click.option(
    "--create",
    is_flag=True,
    help="When no VM has the module file's vmid on its Proxmox node: create it from the "
    "host's image first (an existing VM is never touched).",
)
@click.option(
    "--node-host",
    metavar="[USER@]HOST",
    help="With --create: the Proxmox node (default: root@<node>.mgmt.internal from the "
    "module file; a bare HOST means root@HOST).",
)
@click.option(
    "--ssh-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --create: public key for tappaas on the new VM "
    "(default: ~/.ssh/id_ed25519.pub, else ~/.ssh/id_rsa.pub).",
)
@click.option(
    "--boot-timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="With --create: seconds to wait for SSH on the new VM.",
)
def deploy(
    name: str,
    target_host: str | None,
    build_host: str | None,
    dry_run: bool,
    config: Path | None,
    flake_dir: Path,
    zones_file: Path | None,
    port: int,
    wait_timeout: float,
    other_vmname: bool,
    create: bool,
    node_host: str | None,
    ssh_key: Path | None,
    boot_timeout: float,
) -> None:
    """Generate NAME's host file and switch the VM to it with nixos-rebuild.

    \b
    Steps:
      1. generate site/hosts/NAME/default.nix (as `generate`)
      2. git add --intent-to-add --force it (and local.nix, image.json there), so the
         flake sees them; site/ is never tracked upstream, so `git pull` never conflicts
      3. nixos-rebuild switch --flake .#NAME --target-host tappaas@NAME.<zone>.internal --sudo
      4. wait until http://HOST:4000/health/readiness answers
      5. verify the VM (as `verify`)
    Then read the master key with `tappaas-litellm key NAME`.

    With --create, when no VM has the file's vmid on the Proxmox node named in
    the file: build the image (nix build .#NAME-proxmox), copy it to the node,
    qmrestore it with the file's vmid and storage, qm set tags, the SSH key
    for tappaas (cloud-init) and an EFI disk, start it and wait for SSH; then
    the steps above. A VM with that id and another name stops it before
    anything is written or run; a VM with that id and this name is left as it is.

    \b
    Examples:
      tappaas-litellm deploy litellm --dry-run
      tappaas-litellm deploy litellm --target-host tappaas@10.2.20.15
      tappaas-litellm deploy litellm --create --dry-run
      tappaas-litellm deploy litellm --create
    """
    check_name(name)
    if not create and (node_host is not None or ssh_key is not None):
        raise InputError("--node-host and --ssh-key go with --create; allowed: add --create")
    options = DeployOptions(
        name=name,
        config=config,
        zones_file=zones_file,
        flake_dir=flake_dir,
        target_host=target_host,
        build_host=build_host,
        port=port,
        wait_timeout=wait_timeout,
        dry_run=dry_run,
        other_vmname=other_vmname,
        create=CreateOptions(node_host, ssh_key, boot_timeout) if create else None,
    )
    run_deploy(options, process.get_runner())


@main.command(context_settings=CONTEXT)
@click.argument("name")
@click.option(
    "--host",
    metavar="[USER@]HOST",
    help="The VM to ask (default: tappaas@NAME.<zone0>.internal from the module file).",
)
@config_option
@zones_option
def key(name: str, host: str | None, config: Path | None, zones_file: Path | None) -> None:
    """Print the LiteLLM master key of VM NAME.

    Runs `ssh -- tappaas@HOST sudo cat /etc/secrets/litellm.env` and prints only
    the value of LITELLM_MASTER_KEY.

    \b
    Examples:
      tappaas-litellm key litellm
      tappaas-litellm key litellm --host 10.2.20.15
    """
    check_name(name)
    if host is not None:
        target = ssh_target(host)  # a bad --host stops before the module file is read
    else:
        choice = find_config(name, config)
        _info(choice.describe())
        spec = load_module_file(choice.path, find_zones(zones_file)).spec
        target = ssh_target(spec.fqdn, "the module file's VM name and zone")
    click.echo(read_master_key(target, process.get_runner()))


main.add_command(verify)
main.add_command(service_keys)
main.add_command(service_key)
main.add_command(tappaas_service)
main.add_command(tappaas_datastore)
main.add_command(upgrade)
