"""`tappaas-litellm service-keys`: the VM side of service keys (run as root on the LiteLLM VM).

The NixOS module runs `service-keys reconcile` in `litellm-service-keys.service` and installs
`litellm-service-keys`, this command with the VM's paths filled in.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from tappaas_litellm.admin.master_key import KEY_NAME, master_key_from_env
from tappaas_litellm.cli_options import CONTEXT
from tappaas_litellm.common.errors import InputError, StepError
from tappaas_litellm.onvm.key_reconciler import (
    Action,
    DesiredState,
    KeyStore,
    LiteLLMApi,
    ServiceKeyError,
    check,
    check_consumer,
    ensure,
    load_state,
    reconcile,
    revoke,
)

__all__ = ["service_keys"]


@dataclass(frozen=True)
class _Setup:
    state_file: Path
    secrets_file: Path
    url: str
    store: KeyStore
    attempts: int
    interval: float
    database: str

    def connect(self) -> tuple[LiteLLMApi, DesiredState]:
        state = load_state(self.state_file)
        try:
            text = self.secrets_file.read_text("utf-8")
        except OSError as exc:
            raise ServiceKeyError(
                f"{self.secrets_file}: cannot read the master key: {exc.strerror or exc}"
            ) from None
        master = master_key_from_env(text)
        if master is None:
            raise ServiceKeyError(f"{self.secrets_file} has no {KEY_NAME}")
        api = LiteLLMApi(self.url, master)
        api.wait_ready(self.attempts, self.interval, log=lambda t: click.echo(t, err=True))
        return api, state


def _report(actions: list[Action]) -> None:
    for action in actions:
        click.echo(action.line())


def _run(step: Callable[[], None]) -> None:
    try:
        step()
    except ServiceKeyError as exc:
        raise StepError(str(exc)) from None


@click.group(context_settings=CONTEXT)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Desired state (JSON) rendered by the NixOS module from tappaas.litellm.serviceKeys.",
)
@click.option(
    "--secrets",
    "secrets_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("/etc/secrets/litellm.env"),
    show_default=True,
    help="Env file holding LITELLM_MASTER_KEY.",
)
@click.option("--url", default="http://127.0.0.1:4000", show_default=True, help="LiteLLM's URL.")
@click.option(
    "--key-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("/etc/secrets"),
    show_default=True,
    help="Where litellm-svc-<consumer>.key files live (0600 root).",
)
@click.option(
    "--attempts",
    type=click.IntRange(1, 10000),
    default=180,
    show_default=True,
    help="Tries of /health/readiness before giving up (LiteLLM's first start migrates its "
    "database and can take minutes).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0, 600),
    default=5.0,
    show_default=True,
    help="Seconds between tries.",
)
@click.option(
    "--database",
    default="litellm",
    show_default=True,
    help="LiteLLM's PostgreSQL database on this VM (test: the models stored there).",
)
@click.pass_context
def service_keys(
    ctx: click.Context,
    state_file: Path,
    secrets_file: Path,
    url: str,
    key_dir: Path,
    attempts: int,
    interval: float,
    database: str,
) -> None:
    """Reconcile, create or revoke service keys on the LiteLLM VM (as root).

    On the VM use `litellm-service-keys`, which fills in the options.

    \b
    Examples:
      sudo litellm-service-keys reconcile
      sudo litellm-service-keys ensure openwebui
      sudo litellm-service-keys revoke openwebui
      sudo litellm-service-keys test openwebui
    """
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--url {url!r}: allowed: an http:// or https:// URL")
    ctx.obj = _Setup(state_file, secrets_file, url, KeyStore(key_dir), attempts, interval, database)


@service_keys.command("reconcile", context_settings=CONTEXT)
@click.pass_obj
def reconcile_command(setup: _Setup) -> None:
    """Make LiteLLM's litellm-svc-* keys match the desired state."""

    def step() -> None:
        api, state = setup.connect()
        _report(reconcile(api, setup.store, state))

    _run(step)


def _consumer(value: str) -> str:
    try:
        return check_consumer(value)
    except ServiceKeyError as exc:
        raise InputError(str(exc)) from None


@service_keys.command("ensure", context_settings=CONTEXT)
@click.argument("consumer")
@click.pass_obj
def ensure_command(setup: _Setup, consumer: str) -> None:
    """Make sure CONSUMER has a key (declared limits, else none); never replaces one."""
    _consumer(consumer)

    def step() -> None:
        api, state = setup.connect()
        _report([ensure(api, setup.store, state, consumer)])

    _run(step)


@service_keys.command("revoke", context_settings=CONTEXT)
@click.argument("consumer")
@click.pass_obj
def revoke_command(setup: _Setup, consumer: str) -> None:
    """Delete CONSUMER's key in LiteLLM and its key file."""
    _consumer(consumer)

    def step() -> None:
        api, state = setup.connect()
        _report([revoke(api, setup.store, state, consumer)])

    _run(step)


MARKS = {True: "PASS", False: "FAIL", None: "SKIP"}

# Each model stored in LiteLLM's database, and whether it has a key of its own (its
# litellm_params are JSON; values encrypted, names not).
STORED_MODELS_SQL = (
    "SELECT model_name, (litellm_params::jsonb ? 'api_key' "
    "OR litellm_params::jsonb ? 'litellm_credential_name') "
    'FROM "LiteLLM_ProxyModelTable" ORDER BY model_name;'
)


def stored_models(database: str) -> list[tuple[str, bool]] | None:
    """The models in the local PostgreSQL's `database`; None when there is none (a gateway)."""
    argv = ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-tA", "-F", "|"]
    try:
        result = subprocess.run(
            [*argv, "-d", database, "-c", STORED_MODELS_SQL],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    rows = [line.rpartition("|") for line in result.stdout.splitlines() if "|" in line]
    return [(name, has == "t") for name, _, has in rows]


@service_keys.command("test", context_settings=CONTEXT)
@click.argument("consumer")
@click.pass_obj
def test_command(setup: _Setup, consumer: str) -> None:
    """Check CONSUMER's key: it exists with its file, reaches a model, and every model
    stored in the database has its own api_key. Exit 1 when a check fails."""
    _consumer(consumer)

    def step() -> None:
        api, _ = setup.connect()
        results = check(api, setup.store, consumer, stored_models(setup.database))
        for passed, what in results:
            click.echo(f"{ {True: 'PASS', False: 'FAIL', None: 'SKIP'}[passed] }  {what}")
        failed = sum(1 for passed, _ in results if passed is False)
        if failed:
            raise StepError(f"{failed} of {len(results)} check(s) of {consumer}'s key failed")

    _run(step)
