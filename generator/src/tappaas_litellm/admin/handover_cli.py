"""`service-key` and `tappaas-service`: service keys from the TAPPaaS CI/CD machine."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import click

from tappaas_litellm.admin.service_key_handover import (
    ServiceKeyPlan,
    check_consumer,
    run_service_key,
)
from tappaas_litellm.cli_options import CONTEXT, config_option, port_option, zones_option
from tappaas_litellm.common import process
from tappaas_litellm.common.errors import InputError
from tappaas_litellm.common.ssh_target import SshTarget, parse_target
from tappaas_litellm.hostfile.input_files import check_name, config_dir, find_config, find_zones
from tappaas_litellm.hostfile.module_file import flatten, load_module_file

__all__ = ["service_key", "tappaas_service"]

DEFAULT_PORT = 4000


def _info(text: str) -> None:
    click.echo(text, err=True)


def _base_url(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}/v1"


def _provider(
    name: str, host: str | None, config: Path | None, zones_file: Path | None
) -> SshTarget:
    if host is not None:
        return parse_target(host, "--host")
    choice = find_config(name, config)
    _info(choice.describe())
    spec = load_module_file(choice.path, find_zones(zones_file)).spec
    return parse_target(spec.fqdn, "the module file's VM name and zone")


@click.command("service-key", context_settings=CONTEXT)
@click.argument("name")
@click.argument("consumer")
@click.option(
    "--host",
    metavar="[USER@]HOST",
    help="The LiteLLM VM (default: tappaas@NAME.<zone0>.internal from the module file).",
)
@click.option(
    "--write-to",
    metavar="USER@HOST",
    help="The consumer VM: write /etc/secrets/litellm-svckey.env there instead of printing "
    "the key (with --revoke: remove it; with --test: check it).",
)
@click.option("--ensure", is_flag=True, help="Make the key on the VM first if it is missing.")
@click.option("--revoke", is_flag=True, help="Delete the key (and, with --write-to, the file).")
@click.option(
    "--test", is_flag=True, help="Check that the key exists and reaches at least one model."
)
@port_option
@click.option(
    "--trust-new-host-key",
    is_flag=True,
    help="With --write-to: accept the consumer VM's SSH host key on first contact. Without it "
    "the key goes only to a host whose key is in ~/.ssh/known_hosts already (under its name, "
    "or under the address the name resolves to).",
)
@click.option("--dry-run", is_flag=True, help="Print the commands; run nothing.")
@config_option
@zones_option
def service_key(
    name: str,
    consumer: str,
    host: str | None,
    write_to: str | None,
    ensure: bool,
    revoke: bool,
    test: bool,
    port: int,
    trust_new_host_key: bool,
    dry_run: bool,
    config: Path | None,
    zones_file: Path | None,
) -> None:
    """Print CONSUMER's LiteLLM key from VM NAME, or hand it to the consumer VM.

    The key is the one `tappaas.litellm.serviceKeys.CONSUMER` declares (alias
    litellm-svc-CONSUMER), kept root-only on the LiteLLM VM at
    /etc/secrets/litellm-svc-CONSUMER.key. With --write-to it is written to the
    consumer as /etc/secrets/litellm-svckey.env (LITELLM_API_KEY,
    LITELLM_BASE_URL; 0600 root), sent over SSH on stdin, never on a command line,
    and only to a consumer whose SSH host key ~/.ssh/known_hosts holds already,
    under its name or, as TAPPaaS records VMs, under the address the name
    resolves to (--trust-new-host-key accepts a first-seen one).

    \b
    Examples:
      tappaas-litellm service-key litellm openwebui
      tappaas-litellm service-key litellm openwebui --write-to tappaas@openwebui.srvwork.internal
      tappaas-litellm service-key litellm n8n --ensure --write-to tappaas@n8n.srvwork.internal
      tappaas-litellm service-key litellm n8n --test --write-to tappaas@n8n.srvwork.internal
      tappaas-litellm service-key litellm n8n --revoke --write-to tappaas@n8n.srvwork.internal
    """
    check_name(name)
    check_consumer(consumer)
    if revoke and (ensure or test):
        raise InputError("--revoke cannot be combined with --ensure or --test")
    if trust_new_host_key and write_to is None:
        raise InputError("--trust-new-host-key goes with --write-to; allowed: add --write-to")
    consumer_vm = parse_target(write_to, "--write-to") if write_to is not None else None
    provider = _provider(name, host, config, zones_file)
    plan = ServiceKeyPlan(
        provider=provider,
        consumer=consumer,
        base_url=_base_url(provider.host, port),
        write_to=consumer_vm,
        ensure=ensure,
        revoke=revoke,
        test=test,
        trust_new_host_key=trust_new_host_key,
    )
    key = run_service_key(plan, process.get_runner(), _info, dry_run=dry_run)
    if key is not None:
        click.echo(key)


def _consumer_module(module: str) -> tuple[str, str, str]:
    """(vmname, zone0, variant) of an installed consuming module, from the config folder."""
    path = config_dir() / f"{module}.json"
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(f"consuming module config not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the top level is not an object")
    flat, _, problems = flatten(raw)
    if problems:
        raise InputError([f"{path}: {p}" for p in problems])
    vmname = flat.get("vmname", module)
    zone0 = flat.get("zone0")
    variant = flat.get("variant") or ""
    if not isinstance(vmname, str) or not isinstance(zone0, str) or not isinstance(variant, str):
        raise InputError(f"{path}: .vmname, .zone0 and .variant must be strings (.zone0 is needed)")
    # TAPPaaS's vmname pattern allows capitals; DNS names and key aliases are lower case.
    return vmname.lower(), zone0, variant


@click.command("tappaas-service", context_settings=CONTEXT)
@click.argument("action", type=click.Choice(["install", "update", "delete", "test"]))
@click.argument("module")
@click.option(
    "--provider",
    default="litellm",
    show_default=True,
    help="The LiteLLM module; a consumer with .variant V uses PROVIDER-V when that is installed.",
)
@port_option
@click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")
def tappaas_service(action: str, module: str, provider: str, port: int, dry_run: bool) -> None:
    """The `models` service for consuming MODULE, as TAPPaaS's service scripts call it.

    Reads MODULE.json from the TAPPaaS config folder (its .vmname, .zone0, .variant),
    then, for the consumer's VM:

    \b
      install, update  make its key if missing (service-key --ensure --write-to)
      delete           revoke its key and remove the env file (--revoke --write-to)
      test             check the key and the env file (--test --write-to)

    \b
    Exit 1 when anything fails, a consumer's missing or unusable module file too: TAPPaaS
    reads 2 from a test as fatal and rolls the consumer back, which its own LiteLLM
    module never asks for.

    \b
    Example:
      tappaas-litellm tappaas-service install openwebui --dry-run
    """
    try:
        _tappaas_service(action, module, provider, port, dry_run)
    except InputError as exc:
        exc.exit_code = 1
        raise


def _tappaas_service(action: str, module: str, provider: str, port: int, dry_run: bool) -> None:
    check_name(provider)
    vmname, zone0, variant = _consumer_module(module)
    check_consumer(vmname, f"{module}.json .vmname")
    if variant and (config_dir() / f"{provider}-{variant}.json").is_file():
        provider = f"{provider}-{variant}"
    consumer_host = parse_target(
        f"{vmname}.{zone0.lower()}.internal", f"{module}.json .vmname and .zone0"
    )
    choice = find_config(provider, None)
    _info(f"litellm:models {action} for {module}: provider {provider} ({choice.describe()})")
    spec = load_module_file(choice.path, find_zones(None)).spec
    target = parse_target(spec.fqdn, f"{provider}.json .vmname and .zone0")
    plan = ServiceKeyPlan(
        provider=target,
        consumer=vmname,
        base_url=_base_url(target.host, port),
        write_to=consumer_host,
        ensure=action in ("install", "update"),
        revoke=action == "delete",
        test=action == "test",
    )
    run_service_key(plan, process.get_runner(), _info, dry_run=dry_run)
