"""`tappaas-datastore`: the `datastore` service, as TAPPaaS's service scripts call it.

A gateway declares `"dependsOn": ["<datastore VM>:datastore"]`, so TAPPaaS's
install-module.sh calls the datastore's services/datastore/install-service.sh for it, after
the gateway's VM exists and before its deploy. That is the moment the gateway needs the
datastore's secrets (README "Several gateways on one datastore"): they are copied from the
datastore's /etc/secrets over SSH, through this machine's memory only, never onto a disk or a
command line, and only to a gateway that has none (a gateway's secrets are never replaced).
"""

from __future__ import annotations

import subprocess

import click

from tappaas_litellm.cli_options import CONTEXT
from tappaas_litellm.common import shell
from tappaas_litellm.common.errors import InputError, StepError
from tappaas_litellm.common.ssh_target import SshTarget, parse_target
from tappaas_litellm.hostfile.input_files import find_config, find_zones
from tappaas_litellm.hostfile.module_file import VmSpec, load_module_file
from tappaas_litellm.hostfile.scale_out import Datastore, GatewayOf

__all__ = ["tappaas_datastore"]

SECRETS = "/etc/secrets/litellm.env"
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new")


def _spec(module: str) -> VmSpec:
    return load_module_file(find_config(module, None).path, find_zones(None)).spec


def _ssh(target: SshTarget, words: list[str], stdin: bytes | None = None) -> tuple[int, bytes]:
    argv = ["ssh", *SSH_OPTIONS, "--", str(target), shell.join(words)]
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, timeout=120, check=False)
    except FileNotFoundError:
        raise StepError("ssh not found", exit_code=127) from None
    except subprocess.TimeoutExpired:
        raise StepError(f"{shell.join(words)} on {target}: no answer in 120 s") from None
    if result.returncode not in (0, 1):
        detail = " ".join(result.stderr.decode("utf-8", "replace").split())
        raise StepError(f"{shell.join(words)} on {target}: {detail or result.returncode}")
    return result.returncode, result.stdout


def _checked(target: SshTarget, words: list[str], stdin: bytes | None = None) -> bytes:
    status, out = _ssh(target, words, stdin)
    if status != 0:
        raise StepError(f"{shell.join(words)} on {target} failed")
    return out


@click.command("tappaas-datastore", context_settings=CONTEXT)
@click.argument("action", type=click.Choice(["install", "update", "delete", "test"]))
@click.argument("module")
@click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")
def tappaas_datastore(action: str, module: str, dry_run: bool) -> None:
    """The `datastore` service for gateway MODULE (its `<datastore>:datastore` dependency).

    \b
      install, update  the gateway is one of the datastore's datastoreGateways; the
                       datastore's /etc/secrets is copied to it when it has none
      test             the gateway holds the datastore's secrets file
      delete           nothing on the VMs (remove the gateway from datastoreGateways)

    Exit 1 when anything fails, as TAPPaaS's service scripts do.

    \b
    Example:
      tappaas-litellm tappaas-datastore install litellm1 --dry-run
    """
    try:
        _service(action, module, dry_run)
    except InputError as exc:
        exc.exit_code = 1
        raise


def _service(action: str, module: str, dry_run: bool) -> None:
    gateway = _spec(module)
    if not isinstance(gateway.role, GatewayOf):
        raise InputError(f"{module}: no '<datastore VM>:datastore' in its dependsOn")
    store = _spec(gateway.role.datastore)
    if not isinstance(store.role, Datastore):
        raise InputError(f"{gateway.role.datastore}: not a datastore (provides no datastore)")
    listed = [g.name for g in store.role.gateways]
    if gateway.name not in listed:
        raise StepError(
            f"{gateway.name} is not in {store.name}'s datastoreGateways ({', '.join(listed)}): "
            f"add it there and run update-module.sh {store.name} first"
        )
    source = parse_target(store.fqdn, f"{store.name}.json .vmname and .zone0")
    target = parse_target(gateway.fqdn, f"{module}.json .vmname and .zone0")
    say = lambda text: click.echo(text, err=True)  # noqa: E731
    if action == "delete":
        say(
            f"datastore: nothing to remove for {module}; take {gateway.name} out of "
            f"{store.name}'s datastoreGateways and update it"
        )
        return
    if dry_run:
        say(f"Dry run: {action} of datastore {store.name} for {gateway.name}; nothing is run")
        return
    if action == "test":
        sums = [
            _checked(t, ["sudo", "sha256sum", "--", SECRETS]).split()[:1] for t in (source, target)
        ]
        if sums[0] != sums[1]:
            raise StepError(f"{SECRETS} on {target} is not the datastore's; copy it again")
        say(f"PASS  {target} holds the secrets of datastore {store.name}")
        return
    has, _ = _ssh(target, ["sudo", "test", "-f", SECRETS])
    if has == 0:
        say(f"{target} has {SECRETS}: kept")
        return
    archive = _checked(source, ["sudo", "tar", "-C", "/etc", "-czf", "-", "secrets"])
    _checked(target, ["sudo", "tar", "-C", "/etc", "-xzf", "-"], stdin=archive)
    say(f"copied /etc/secrets of {store.name} to {target}")
